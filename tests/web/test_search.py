"""The global search box and the reference pickers' suggestions (web/search.py)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealflow.core.selectors import search_records
from dealflow.core.services import sharing_default_set
from dealflow.leads.models import Lead
from dealflow.leads.selectors import LEAD_LIST
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    QueueFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep(client):
    user = UserFactory(username="rep")
    client.force_login(user)
    return user


def _names(response, label):
    """The result names the page shows under one object's heading, in order."""
    groups = dict((searched.label, found) for searched, found in response.context["groups"])
    return [row.heading for row in groups.get(label, [])]


def test_search_groups_matches_by_object(client, rep):
    LeadFactory(first_name="Ana", last_name="Acme", company="Zeta", owner_user=rep)
    AccountFactory(name="Acme Corp", owner=rep)
    ContactFactory(first_name="Jo", last_name="Acmeson", owner=rep)
    OpportunityFactory(name="Acme renewal", owner=rep)
    LeadFactory(last_name="Other", company="Nothing", owner_user=rep)

    response = client.get("/search/", {"q": "acme"})

    assert response.status_code == 200
    assert [searched.label for searched, _found in response.context["groups"]] == [
        "Leads",
        "Accounts",
        "Contacts",
        "Opportunities",
    ]
    assert _names(response, "Leads") == ["Ana Acme"]
    assert _names(response, "Accounts") == ["Acme Corp"]
    assert _names(response, "Contacts") == ["Jo Acmeson"]
    assert _names(response, "Opportunities") == ["Acme renewal"]


def test_search_matches_company_email_and_phone_folded(client, rep):
    LeadFactory(last_name="Weiß", company="Straße AG", email="x@ex.test", owner_user=rep)
    LeadFactory(last_name="Phone", company="P", phone="+1 (415) 555-0100", owner_user=rep)
    ContactFactory(last_name="Dial", phone="415-555-0199", owner=rep)

    assert _names(client.get("/search/", {"q": "STRASSE"}), "Leads") == ["Robin Weiß"]
    assert _names(client.get("/search/", {"q": "X@EX"}), "Leads") == ["Robin Weiß"]
    by_phone = client.get("/search/", {"q": "1415555"})
    assert _names(by_phone, "Leads") == ["Robin Phone"]
    assert _names(client.get("/search/", {"q": "415 555"}), "Contacts") == ["Alex Dial"]


def test_search_shows_only_what_the_rep_may_see(client, rep):
    sharing_default_set(actor=None, object_name="Lead", access="private")
    other = UserFactory(username="other")
    LeadFactory(last_name="Hidden", company="Secret", owner_user=other)
    LeadFactory(last_name="Hiddenmine", company="Mine", owner_user=rep)

    response = client.get("/search/", {"q": "hidden"})

    assert _names(response, "Leads") == ["Robin Hiddenmine"]
    assert b"Secret" not in response.content


def test_search_leaves_out_converted_leads(client, rep):
    LeadFactory(last_name="Converted", owner_user=rep, is_converted=True)

    response = client.get("/search/", {"q": "converted"})

    assert response.context["groups"] == []
    assert "Nothing you can see starts with" in response.content.decode()


def test_search_escapes_names(client, rep):
    LeadFactory(last_name="<script>alert(1)</script>", company="Evil", owner_user=rep)

    content = client.get("/search/", {"q": "<script"}).content.decode()

    assert "<script>alert(1)</script>" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content


def test_search_needs_a_login(client):
    response = client.get("/search/", {"q": "a"})
    assert (response.status_code, response["Location"]) == (302, "/login/?next=/search/%3Fq%3Da")


@pytest.mark.parametrize("rows", [5, 50])
def test_search_runs_the_same_queries_however_many_match(client, rep, rows):
    for number in range(rows):
        LeadFactory(last_name=f"Many{number}", company=f"Many Co {number}", owner_user=rep)
        AccountFactory(name=f"Many Account {number}", owner=rep)
    client.get("/search/", {"q": "warm"})  # the configuration caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/search/", {"q": "many"})
    assert len(_names(response, "Leads")) == 5
    # The session, the user, the configuration version; one query per key of each object
    # (a prefix without digits skips the phone keys: leads 4, accounts 2, contacts 3,
    # opportunities 1); the lead statuses, cached once the first lead is shown.
    assert len(queries) == 3 + 4 + 2 + 3 + 1 + 1


def test_search_records_merges_keys_in_key_order(rep):
    LeadFactory(first_name="Bea", last_name="Zed", company="Bzz", owner_user=rep)
    LeadFactory(first_name="Zoe", last_name="Bar", company="Co", owner_user=rep)
    LeadFactory(first_name="Al", last_name="Bb", company="Co", owner_user=rep)

    found = search_records(rep, Lead.objects.all(), LEAD_LIST, "b", limit=2)

    position = [field.attname for field in Lead._meta.concrete_fields].index("last_name")
    last_names = [row[position] for row in found]
    assert last_names == ["Bar", "Bb"]


def test_lookup_suggests_visible_accounts_and_users(client, rep):
    sharing_default_set(actor=None, object_name="Account", access="private")
    AccountFactory(name="Globex Mine", owner=rep)
    AccountFactory(name="Globex Theirs", owner=UserFactory(username="x"))
    UserFactory(username="gloria", first_name="Gloria", last_name="Sales")
    QueueFactory(name="Global queue")

    response = client.get(
        "/lookup/",
        {"objects": "Account,User,Queue", "field": "owner_id", "owner_id__text": "glo"},
    )

    assert [name for _label, _id, name in response.context["choices"]] == [
        "Globex Mine",
        "Gloria Sales",
        "Global queue",
    ]


def test_lookup_of_an_account_suggests_its_contacts_only(client, rep):
    """The convert page's "Another contact of <account>" passes the account: contacts of
    other accounts, or of none, are not offered; an id that is not an account's offers
    no contact."""
    bank = AccountFactory(name="Copperline Bank", owner=rep)
    ContactFactory(account=bank, owner=rep, first_name="Vera", last_name="Stone")
    ContactFactory(
        account=AccountFactory(owner=rep), owner=rep, first_name="Vera", last_name="Parker"
    )
    ContactFactory(account=None, owner=rep, first_name="Vera", last_name="Loose")
    asked = {"objects": "Contact", "field": "contact_other", "contact_other__text": "vera"}

    within = client.get("/lookup/", {**asked, "account": bank.public_id})
    anywhere = client.get("/lookup/", asked)
    not_an_account = client.get("/lookup/", {**asked, "account": rep.public_id})

    assert [name for _label, _id, name in within.context["choices"]] == ["Vera Stone"]
    assert sorted(name for _label, _id, name in anywhere.context["choices"]) == [
        "Vera Loose",
        "Vera Parker",
        "Vera Stone",
    ]
    assert not_an_account.context["choices"] == []


def test_each_search_query_reads_an_index_on_postgresql(client, rep, is_postgres):
    """A prefix that matches nothing must not scan a table: every key is range-scanned off
    its index in key order (the phone keys' indexes are partial: non-blank numbers)."""
    LeadFactory(owner_user=rep, last_name="Ng", phone="555 0100")
    ContactFactory(owner=rep, last_name="Ng", phone="555 0101")
    with CaptureQueriesContext(connection) as context:
        response = client.get("/search/", {"q": "999"})
    assert response.context["groups"] == []
    searches = [query["sql"] for query in context.captured_queries if " >= " in query["sql"]]
    assert len(searches) == 5 + 2 + 4 + 1  # digits only: the phone keys are searched too
    if not is_postgres:
        return
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        for statement in searches:
            cursor.execute("EXPLAIN " + statement)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "Seq Scan" not in plan, plan
            assert "Index" in plan, plan


def test_a_full_name_finds_the_person(client, rep):
    LeadFactory(first_name="Aisha", last_name="Parker", company="Copperbridge", owner_user=rep)
    LeadFactory(first_name="Aisha", last_name="Other", owner_user=rep)
    ContactFactory(first_name="Aisha", last_name="Parkinson", owner=rep)

    response = client.get("/search/", {"q": "aisha par"})

    assert _names(response, "Leads") == ["Aisha Parker"]
    assert _names(response, "Contacts") == ["Aisha Parkinson"]


def test_text_with_letters_does_not_search_phones(client, rep):
    LeadFactory(last_name="Dialled", phone="1 555 0100", owner_user=rep)

    assert _names(client.get("/search/", {"q": "alert(1)"}), "Leads") == []
    assert _names(client.get("/search/", {"q": "(1) 555"}), "Leads") == ["Robin Dialled"]


def test_a_full_group_links_to_the_list_with_every_match(client, rep):
    for number in range(6):
        LeadFactory(last_name=f"Many{number}", owner_user=rep)
    LeadFactory(last_name="Once", owner_user=rep)

    content = client.get("/search/", {"q": "many"}).content.decode()
    once = client.get("/search/", {"q": "once"}).content.decode()

    assert '<a href="/leads/?view=open&amp;q=many">All leads starting with “many”</a>' in content
    assert "All leads starting with" not in once
    listed = client.get("/leads/", {"view": "open", "q": "many"}).content.decode()
    assert all(f"Robin Many{number}" in listed for number in range(6))
