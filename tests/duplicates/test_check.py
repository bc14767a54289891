"""The duplicate check on create, through the services, and the keys it keeps."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealflow.accounts.models import Account, Contact
from dealflow.accounts.services import account_create, contact_create, contact_update
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import Access
from dealflow.core.services import sharing_default_set
from dealflow.duplicates.models import DuplicateKey
from dealflow.duplicates.selectors import duplicates_find
from dealflow.duplicates.services import (
    DuplicatesDetected,
    duplicate_keys_refresh,
    duplicate_rules_set,
)
from dealflow.leads.models import Lead
from dealflow.leads.services import lead_convert, lead_create, lead_update
from dealflow.people.models import Role
from tests.factories import AccountFactory, LeadFactory, UserFactory

ADA = {"first_name": "Ada", "last_name": "Lovelace", "company": "Analytical Engines Ltd"}


def keys_of(object_name, record):
    return set(
        DuplicateKey.objects.filter(object_type=object_name, record_id=record.pk).values_list(
            "kind", "value"
        )
    )


def test_a_created_lead_is_filed_under_its_keys(actor):
    lead = lead_create(
        actor=actor, data={**ADA, "email": "Ada@Engines.example", "phone": "415 555 0100"}
    )
    assert keys_of("Lead", lead) == {
        ("email", "ada@engines.example"),
        ("phone", "+14155550100"),
        ("name", "lovelace|a"),
        ("company_person", "analytical engines|a"),
    }


def test_a_similar_lead_is_refused_with_the_matches_and_nothing_is_written(actor):
    first = lead_create(actor=actor, data={**ADA, "email": "ada@engines.example"})
    leads, keys = Lead.objects.count(), DuplicateKey.objects.count()
    with pytest.raises(DuplicatesDetected) as refused:
        lead_create(
            actor=actor,
            data={"first_name": "Ada", "last_name": "Lovelace", "company": "Analytical Engines"},
        )
    error = refused.value
    assert error.code == ErrorCode.DUPLICATES_DETECTED
    assert error.as_dict() == {
        "code": "DUPLICATES_DETECTED",
        "message": "This lead looks like 1 existing record: Ada Lovelace "
        "(Analytical Engines Ltd). Save anyway to create it.",
        "fields": [],
        "matches": [
            {
                "object": "Lead",
                "id": first.public_id,
                "name": "Ada Lovelace (Analytical Engines Ltd)",
                "visible": True,
                "rule": "Name and company",
                "score": 100.0,
                "scores": {"first_name": 100.0, "last_name": 100.0, "company": 100.0},
            }
        ],
    }
    assert (Lead.objects.count(), DuplicateKey.objects.count()) == (leads, keys)


def test_allow_duplicates_saves_anyway(actor):
    lead_create(actor=actor, data=ADA)
    second = lead_create(actor=actor, data=ADA, allow_duplicates=True)
    assert Lead.objects.filter(last_name="Lovelace").count() == 2
    assert keys_of("Lead", second) == {
        ("name", "lovelace|a"),
        ("company_person", "analytical engines|a"),
    }


def test_the_same_email_is_left_to_the_unique_email_rule(actor):
    lead_create(actor=actor, data={**ADA, "email": "ada@engines.example"})
    with pytest.raises(DomainError) as refused:
        lead_create(
            actor=actor, data={"last_name": "Other", "company": "X", "email": "ADA@engines.example"}
        )
    assert refused.value.code == ErrorCode.DUPLICATE_VALUE


def test_a_converted_lead_is_never_offered(actor):
    lead = lead_create(actor=actor, data={**ADA, "email": "ada@engines.example"})
    result = lead_convert(actor=actor, lead=lead)
    assert keys_of("Lead", lead) == set()
    # the new lead with the same name is not refused because of the converted one
    assert duplicates_find(object_name="Lead", values=ADA, actor=actor) == []
    # its account and contact are filed
    assert keys_of("Account", Account(pk=result.account_id)) == {("company", "analytical engines")}
    assert keys_of("Contact", Contact(pk=result.contact_id)) == {
        ("email", "ada@engines.example"),
        ("name", "lovelace|a"),
        ("company_person", "analytical engines|a"),
    }


def test_invisible_records_are_not_counted_nor_revealed(actor):
    sharing_default_set(actor=None, object_name="Lead", access=Access.PRIVATE)
    other = UserFactory(role=Role.REP)
    lead_create(actor=other, data=ADA)
    # Enforce sharing rules (the default): the actor's lead is created.
    mine = lead_create(actor=actor, data=ADA)
    assert mine.owner_user == actor
    # Bypass: counted, but reported without id, name or field scores.
    duplicate_rules_set(actor=None, rules={"Lead": {"record_level_security": "bypass"}})
    with pytest.raises(DuplicatesDetected) as refused:
        lead_create(actor=UserFactory(role=Role.REP), data=ADA)
    assert (
        refused.value.message
        == "This lead looks like 2 existing records. Save anyway to create it."
    )
    assert [match.as_dict() for match in refused.value.matches] == [
        {
            "object": "Lead",
            "id": None,
            "name": None,
            "visible": False,
            "rule": "Name and company",
            "score": 100.0,
        },
        {
            "object": "Lead",
            "id": None,
            "name": None,
            "visible": False,
            "rule": "Name and company",
            "score": 100.0,
        },
    ]
    # who may see one of them gets it named
    with pytest.raises(DuplicatesDetected) as refused:
        lead_create(actor=actor, data=ADA)
    visible = [match.as_dict()["id"] for match in refused.value.matches]
    assert visible == [mine.public_id, None]


def test_inactive_rules_check_nothing(actor):
    lead_create(actor=actor, data=ADA)
    duplicate_rules_set(actor=None, rules={"Lead": {"active": False}})
    lead_create(actor=actor, data=ADA)
    assert Lead.objects.filter(last_name="Lovelace").count() == 2


def test_rules_are_set_by_admins_only(actor):
    with pytest.raises(DomainError) as refused:
        duplicate_rules_set(actor=actor, rules={"Lead": {"active": False}})
    assert refused.value.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY


def test_an_update_refiles_the_lead(actor):
    lead = lead_create(actor=actor, data=ADA)
    lead_update(actor=actor, lead=lead, data={"last_name": "Byron", "phone": "+44 20 7946 0958"})
    assert keys_of("Lead", lead) == {
        ("name", "byron|a"),
        ("company_person", "analytical engines|a"),
        ("phone", "+442079460958"),
    }
    keys = DuplicateKey.objects.count()
    lead_update(actor=actor, lead=lead, data={"title": "Countess"})  # no key changes
    assert DuplicateKey.objects.count() == keys


def test_create_costs_one_query_to_check_and_one_to_file(actor):
    lead_create(actor=actor, data={"last_name": "Warm", "company": "Up"})  # warm caches
    with CaptureQueriesContext(connection) as captured:
        lead_create(actor=actor, data={"last_name": "Ng", "company": "Acme", "email": "a@b.co"})
    statements = [query["sql"].split()[0] for query in captured.captured_queries]
    assert statements == ["SELECT", "SAVEPOINT", "INSERT", "INSERT", "INSERT", "RELEASE"]


def test_contacts_match_on_their_accounts_name(actor):
    acme = account_create(actor=actor, data={"name": "Acme, Inc."}, allow_duplicates=True)
    first = contact_create(
        actor=actor, data={"first_name": "Jon", "last_name": "Snow", "account": acme}
    )
    other_acme = AccountFactory(name="ACME GmbH", owner=actor)
    with pytest.raises(DuplicatesDetected) as refused:
        contact_create(
            actor=actor, data={"first_name": "Jonathan", "last_name": "Snow", "account": other_acme}
        )
    assert [(match.record_id, match.rule, match.score) for match in refused.value.matches] == [
        (first.pk, "Name and company", 85.42)
    ]
    assert Contact.objects.count() == 1
    # moving a contact to another account refiles it
    contact_update(actor=actor, contact=first, data={"account": None})
    assert keys_of("Contact", first) == {("name", "snow|j")}


def test_accounts_match_on_the_company_key(actor):
    acme = account_create(actor=actor, data={"name": "Acme, Inc.", "billing_city": "Berlin"})
    with pytest.raises(DuplicatesDetected) as refused:
        account_create(actor=actor, data={"name": "ACME GmbH"})
    assert [(match.record_id, match.rule) for match in refused.value.matches] == [
        (acme.pk, "Company")
    ]
    # "acme" / "acne": ratio 75 < 90, so no match on the name in the same city
    account_create(actor=actor, data={"name": "Acne", "billing_city": "berlin"})
    account_create(actor=actor, data={"name": "Wonka Bars", "billing_city": "Berlin"})
    with pytest.raises(DuplicatesDetected) as refused:
        account_create(actor=actor, data={"name": "Wonka Barz", "billing_city": "BERLIN"})
    assert [(match.rule, match.score) for match in refused.value.matches] == [
        ("Company and city", 90.0)
    ]
    assert Account.objects.count() == 3


def test_keys_refresh_is_set_based_and_skips_converted_leads(actor, django_assert_max_num_queries):
    leads = [
        LeadFactory(first_name="Ada", last_name=f"L{number}", company="Acme") for number in range(5)
    ]
    converted = LeadFactory(first_name="Ada", last_name="Gone", company="Acme", is_converted=True)
    with django_assert_max_num_queries(6):  # read, delete, insert (+ savepoint pair)
        written = duplicate_keys_refresh(
            object_name="Lead", record_ids=[lead.pk for lead in leads] + [converted.pk]
        )
    assert written == 15
    assert keys_of("Lead", leads[0]) == {
        ("email", leads[0].email),
        ("name", "l0|a"),
        ("company_person", "acme|a"),
    }
    assert keys_of("Lead", converted) == set()
    # all of them, again: the same keys, none doubled
    assert duplicate_keys_refresh(object_name="Lead") == 15
    assert DuplicateKey.objects.filter(object_type="Lead").count() == 15


def test_the_convert_page_suggests_what_the_duplicate_rules_match(actor):
    from dealflow.leads.selectors import (
        conversion_account_candidates,
        conversion_contact_candidates,
    )

    lead = lead_create(
        actor=actor,
        data={"first_name": "Jonathan", "last_name": "Snow", "company": "Acme, Inc."},
    )
    acme = AccountFactory(name="ACME GmbH", owner=actor)
    AccountFactory(name="Acne", owner=actor)
    jon = Contact.objects.create(first_name="Jon", last_name="Snow", account=acme, owner=actor)
    elsewhere = AccountFactory(name="Other", owner=actor)
    Contact.objects.create(first_name="Jon", last_name="Snow", account=elsewhere, owner=actor)
    for object_name in ("Account", "Contact"):
        duplicate_keys_refresh(object_name=object_name)

    assert conversion_account_candidates(actor=actor, lead=lead) == [acme]
    # "Jonathan" and "Jon": Jaro-Winkler 85.42; the one at another account is not offered
    assert conversion_contact_candidates(actor=actor, account=acme, lead=lead) == [jon]
