"""The convert page's reads: suggested accounts and contacts, and the preview
(leads/selectors.py conversion_account_candidates, conversion_contact_candidates,
conversion_preview)."""

import unicodedata
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealflow.core.services import sharing_default_set
from dealflow.leads.selectors import (
    conversion_account_candidates,
    conversion_contact_candidates,
    conversion_preview,
)
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def names(records):
    return [record.name for record in records]


# ---------------------------------------------------------------------------------------
# Accounts


def test_an_account_of_the_same_name_comes_first_then_names_that_start_with_it(actor):
    AccountFactory(name="Acme Industries", owner=actor)
    AccountFactory(name="Acme Corp", owner=actor)
    AccountFactory(name="acme", owner=actor)
    AccountFactory(name="Zeta Acme", owner=actor)
    AccountFactory(name="Beta", website="acme.example", owner=actor)
    lead = LeadFactory(company="ACME", owner_user=actor)

    found = conversion_account_candidates(actor=actor, lead=lead)

    # Exact first; then prefixes of the name or website, in key order ("acme corp" <
    # "acme industries" < "acme.example").
    assert names(found) == ["acme", "Acme Corp", "Acme Industries", "Beta"]


@pytest.mark.parametrize(
    ("company", "account_name"),
    [
        ("STRASSE GmbH", "Straße GmbH"),  # full case folding
        ("ЁЛКИН и сыновья", "Ёлкин И Сыновья"),  # Cyrillic
        (unicodedata.normalize("NFD", "Café Crème"), "CAFÉ CRÈME"),  # decomposed accents
        ("  Acme  ", "acme"),  # surrounding spaces
    ],
)
def test_the_company_matches_after_normalisation_and_case_folding(actor, company, account_name):
    account = AccountFactory(name=account_name, owner=actor)
    AccountFactory(name="Unrelated", owner=actor)
    lead = LeadFactory(company=company, owner_user=actor)

    assert conversion_account_candidates(actor=actor, lead=lead) == [account]


def test_private_accounts_of_another_rep_are_not_suggested(actor):
    sharing_default_set(actor=None, object_name="Account", access="private")
    other_rep = UserFactory(username="other")
    AccountFactory(name="Acme", owner=other_rep)
    AccountFactory(name="Acme Two", owner=other_rep)
    mine = AccountFactory(name="Acme Mine", owner=actor)
    lead = LeadFactory(company="Acme", owner_user=actor)

    assert conversion_account_candidates(actor=actor, lead=lead) == [mine]


def test_at_most_limit_accounts_are_suggested_exact_ones_first(actor):
    for number in range(4):
        AccountFactory(name=f"Acme {number}", owner=actor)
    exact = AccountFactory(name="ACME", owner=actor)
    lead = LeadFactory(company="Acme", owner_user=actor)

    found = conversion_account_candidates(actor=actor, lead=lead, limit=3)

    assert names(found) == ["ACME", "Acme 0", "Acme 1"]
    assert found[0] == exact


def _account_queries(actor, lead):
    with CaptureQueriesContext(connection) as queries:
        conversion_account_candidates(actor=actor, lead=lead)
    return len(queries)


def test_account_suggestions_cost_the_same_for_5_and_50_matches(actor):
    sharing_default_set(actor=None, object_name="Account", access="private")
    lead = LeadFactory(company="Acme", owner_user=actor)
    for number in range(5):
        AccountFactory(name=f"Acme {number:02}", owner=actor)
    AccountFactory(name="Acme", owner=actor)
    _account_queries(actor, lead)  # warm the sharing defaults cache
    with_five = _account_queries(actor, lead)
    for number in range(5, 50):
        AccountFactory(name=f"Acme {number:02}", owner=actor)

    # the exact name, the duplicate rules' candidates, the name and website prefixes
    assert _account_queries(actor, lead) == with_five <= 4


def test_no_account_is_suggested_when_none_matches(actor):
    lead = LeadFactory(company="Nothing Like It", owner_user=actor)
    for number in range(20):
        AccountFactory(name=f"Acme {number}", owner=actor)

    assert conversion_account_candidates(actor=actor, lead=lead) == []


# ---------------------------------------------------------------------------------------
# Contacts


def test_contacts_of_the_account_match_by_email_or_name_email_first(actor):
    account = AccountFactory(name="Acme", owner=actor)
    by_name = ContactFactory(
        first_name="ADA",
        last_name="lovelace",
        email="other@acme.test",
        account=account,
        owner=actor,
    )
    by_email = ContactFactory(
        first_name="Augusta", last_name="King", email="Ada@ACME.test", account=account, owner=actor
    )
    ContactFactory(first_name="Ada", last_name="Byron", account=account, owner=actor)
    ContactFactory(first_name="Charles", last_name="Lovelace", account=account, owner=actor)
    ContactFactory(  # the same person at another account is not this account's contact
        first_name="Ada", last_name="Lovelace", email="ada@acme.test", owner=actor
    )
    lead = LeadFactory(
        first_name="Ada", last_name="Lovelace", email="ada@acme.test", owner_user=actor
    )

    found = conversion_contact_candidates(actor=actor, account=account, lead=lead)

    assert found == [by_email, by_name]


def test_contact_email_matches_across_idna_spellings(actor):
    account = AccountFactory(name="Acme", owner=actor)
    contact = ContactFactory(
        last_name="Müller", email="ana@xn--mnchen-3ya.example", account=account, owner=actor
    )
    lead = LeadFactory(last_name="Other", email="ANA@münchen.example", owner_user=actor)

    assert conversion_contact_candidates(actor=actor, account=account, lead=lead) == [contact]


def test_a_lead_without_first_name_matches_contacts_by_last_name(actor):
    account = AccountFactory(name="Acme", owner=actor)
    contact = ContactFactory(first_name="Jo", last_name="Smith", account=account, owner=actor)
    lead = LeadFactory(first_name="", last_name="SMITH", email="", owner_user=actor)

    assert conversion_contact_candidates(actor=actor, account=account, lead=lead) == [contact]


def test_private_contacts_of_another_rep_are_not_suggested(actor):
    sharing_default_set(actor=None, object_name="Contact", access="private")
    account = AccountFactory(name="Acme", owner=actor)
    ContactFactory(
        last_name="Lovelace", first_name="Ada", account=account, owner=UserFactory(username="o")
    )
    mine = ContactFactory(
        last_name="Lovelace", first_name="Ada", email="x@acme.test", account=account, owner=actor
    )
    lead = LeadFactory(first_name="Ada", last_name="Lovelace", owner_user=actor)

    assert conversion_contact_candidates(actor=actor, account=account, lead=lead) == [mine]


def test_no_account_no_contact_suggestions(actor, django_assert_num_queries):
    lead = LeadFactory(owner_user=actor)

    with django_assert_num_queries(0):
        assert conversion_contact_candidates(actor=actor, account=None, lead=lead) == []


def test_contact_suggestions_are_limited_and_two_queries(actor, django_assert_num_queries):
    account = AccountFactory(name="Acme", owner=actor)
    for _number in range(12):
        ContactFactory(first_name="Ada", last_name="Lovelace", account=account, owner=actor)
    lead = LeadFactory(first_name="Ada", last_name="Lovelace", owner_user=actor)
    conversion_contact_candidates(actor=actor, account=account, lead=lead)  # warm caches

    # the contacts matching by email or name, and the duplicate rules' candidates
    with django_assert_num_queries(2):
        found = conversion_contact_candidates(actor=actor, account=account, lead=lead, limit=10)

    assert len(found) == 10


# ---------------------------------------------------------------------------------------
# Preview


def _lead(actor, **values):
    defaults = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "company": "Engines",
        "email": "ada@engines.test",
        "website": "engines.test",
        "industry": "Technology",
        "city": "London",
        "lead_source": "Web",
        "annual_revenue": Decimal("1000.00"),
        "do_not_call": True,
        "owner_user": actor,
    }
    return LeadFactory(**{**defaults, **values})


def test_preview_of_new_records(actor, django_assert_num_queries):
    lead = _lead(actor)

    with django_assert_num_queries(0):
        preview = conversion_preview(
            lead=lead,
            account=None,
            contact=None,
            opportunity=None,
            create_opportunity=True,
            opportunity_name="  ",
        )

    assert (preview.account.object_name, preview.account.name) == ("Account", "Engines")
    assert preview.account.created and preview.account.filled == ()
    assert (preview.contact.name, preview.contact.created) == ("Ada Lovelace", True)
    # A blank name means the service's default, the Company.
    assert (preview.opportunity.name, preview.opportunity.created) == ("Engines", True)


def test_preview_lists_only_blank_fields_of_existing_records_and_changes_nothing(
    actor, django_assert_num_queries
):
    lead = _lead(actor)
    account = AccountFactory(name="Engines Ltd", industry="Finance", owner=actor)
    contact = ContactFactory(
        first_name="Ada", last_name="Lovelace", email="", lead_source="Phone", account=account
    )
    opportunity = OpportunityFactory(name="Engines renewal", account=None, lead_source="")

    with django_assert_num_queries(0):
        preview = conversion_preview(
            lead=lead,
            account=account,
            contact=contact,
            opportunity=opportunity,
            create_opportunity=True,
            opportunity_name=None,
        )

    # Industry is kept (not blank); Name is never blank. In the mapping's order.
    assert preview.account.filled == (
        ("website", "engines.test"),
        ("annual_revenue", Decimal("1000.00")),
        ("account_source", "Web"),
        ("billing_city", "London"),
    )
    assert not preview.account.created
    assert preview.contact.filled == (
        ("email", "ada@engines.test"),
        ("do_not_call", True),
        ("mailing_city", "London"),
    )
    assert preview.opportunity.filled == (("account", "Engines Ltd"), ("lead_source", "Web"))
    assert (account.website, contact.email, account.billing_city) == ("", "", "")


def test_preview_with_overwrite_lead_source_and_no_opportunity(actor):
    lead = _lead(actor)
    account = AccountFactory(name="Engines", owner=actor)
    contact = ContactFactory(
        first_name="Ada",
        last_name="Lovelace",
        email="ada@engines.test",
        mailing_city="Paris",
        do_not_call=True,
        lead_source="Phone",
        account=account,
    )

    preview = conversion_preview(
        lead=lead,
        account=account,
        contact=contact,
        opportunity=None,
        create_opportunity=False,
        opportunity_name=None,
        overwrite_lead_source=True,
    )

    assert preview.contact.filled == (("lead_source", "Web"),)
    assert preview.opportunity is None
