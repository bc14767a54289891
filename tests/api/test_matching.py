"""Search, filters, sort and duplicate keys match text the same way on SQLite and PostgreSQL."""

import unicodedata

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealflow.core.matching import email_key, fold, phone_digits
from dealflow.core.models import Access
from dealflow.core.services import sharing_default_set
from dealflow.leads.models import Lead
from dealflow.people.models import Role
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

NFD = "NFD"


def _names(response, field="last_name"):
    assert response.status_code == 200, response.content
    return sorted(record[field] for record in response.json()["records"])


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Борис", "борис"),
        ("ЁЛКИН", "ёлкин"),
        ("Straße", "strasse"),
        ("STRASSE", "strasse"),
        ("ΣΊΣΥΦΟΣ", "σίσυφοσ"),  # final and middle sigma fold alike
        ("σίσυφος", "σίσυφοσ"),
        (unicodedata.normalize(NFD, "Ägypten"), "ägypten"),  # decomposed input composes
        ("  Ägypten ", "ägypten"),
    ],
)
def test_fold_is_nfc_and_full_case_folding(text, key):
    assert fold(text) == key


@pytest.mark.parametrize(
    "spelling",
    [
        "ana@münchen.example",
        "Ana@MÜNCHEN.example",
        "ana@xn--mnchen-3ya.example",
        unicodedata.normalize(NFD, "ana@münchen.example"),
        " ANA@München.Example ",
    ],
)
def test_one_mailbox_has_one_email_key(spelling):
    assert email_key(spelling) == "ana@münchen.example"


def test_email_key_keeps_a_domain_idna_refuses_and_no_at():
    assert email_key("Bo@Exa_Mple.com") == "bo@exa_mple.com"
    assert email_key("not an address") == "not an address"
    assert email_key("") == ""


def test_phone_digits_reads_any_script_as_ascii_digits():
    assert phone_digits("+1 (555) 010-2000") == "15550102000"
    assert phone_digits("٠١٢ ٣") == "0123"
    assert phone_digits("x²") == ""  # a superscript is no decimal digit


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Борис", ["Ёлкин"]),
        ("борис", ["Ёлкин"]),
        ("ёлкин", ["Ёлкин"]),
        ("ЁЛК", ["Ёлкин"]),
        ("ägy", ["Ёлкин"]),  # company Ägypten Reisen
        ("ÄGYPTEN R", ["Ёлкин"]),
        (unicodedata.normalize(NFD, "ägy"), ["Ёлкин"]),
        ("σίσυφ", ["Σίσυφος"]),
        ("ΣΊΣΥΦΟΣ", ["Σίσυφος"]),
        ("strasse", ["Straße"]),
        ("STRAß", ["Straße"]),
        ("ana@xn--mnchen-3ya", ["Straße"]),  # a whole A-label is read as its U-label
        ("ana@münchen", ["Straße"]),
        ("ANA@MÜNCHEN.EXAMPLE", ["Straße"]),
        ("zz", []),
        ("%", []),  # no wildcard
        ("_", []),
    ],
)
def test_lead_search_folds_case_and_normalises_on_both_databases(api, actor, query, expected):
    LeadFactory(
        owner_user=actor, first_name="Борис", last_name="Ёлкин", company="Ägypten Reisen", email=""
    )
    LeadFactory(
        owner_user=actor, first_name="Νίκος", last_name="Σίσυφος", company="Korinth", email=""
    )
    LeadFactory(
        owner_user=actor,
        first_name="Jörg",
        last_name="Straße",
        company="Weg AG",
        email="Ana@München.example",
    )
    assert _names(api.get("/leads", q=query)) == expected


def test_search_of_every_list_folds_case(api, actor):
    AccountFactory(owner=actor, name="Ägypten Reisen")
    ContactFactory(owner=actor, first_name="Борис", last_name="Ёлкин")
    OpportunityFactory(owner=actor, name="Straße 2027")
    assert _names(api.get("/accounts", q="ÄGY"), "name") == ["Ägypten Reisen"]
    assert _names(api.get("/contacts", q="борис")) == ["Ёлкин"]
    assert _names(api.get("/opportunities", q="strasse"), "name") == ["Straße 2027"]


def test_search_reads_an_index_on_postgresql(api, actor, is_postgres):
    """A prefix that matches nothing must not scan the table: each key is range-scanned."""
    LeadFactory(owner_user=actor, last_name="Ng")
    with CaptureQueriesContext(connection) as context:
        assert _names(api.get("/leads", q="zzz")) == []
    (statement,) = [
        query["sql"] for query in context.captured_queries if "leads_lead" in query["sql"]
    ]
    for key in ("last_name_key", "first_name_key", "company_key", "email_key"):
        assert f'"leads_lead"."{key}" >= ' in statement
        assert f'"leads_lead"."{key}" < ' in statement
    if is_postgres:
        with connection.cursor() as cursor:
            cursor.execute("SET enable_seqscan = off")
            cursor.execute("EXPLAIN " + context.captured_queries[-1]["sql"])
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "Seq Scan on leads_lead" not in plan
        assert "lead_last_name_key_idx" in plan


def test_filters_match_picklist_values_case_insensitively(api, actor):
    LeadFactory(owner_user=actor, last_name="Web", lead_source="Web", rating="Hot")
    LeadFactory(owner_user=actor, last_name="Show", lead_source="Trade Show", rating="Cold")
    assert _names(api.get("/leads", lead_source="web")) == ["Web"]
    assert _names(api.get("/leads", lead_source="TRADE SHOW")) == ["Show"]
    assert _names(api.get("/leads", rating="hot")) == ["Web"]
    assert _names(api.get("/leads", status="open - not contacted")) == ["Show", "Web"]
    assert _names(api.get("/leads", lead_source="Nope")) == []


def test_names_sort_case_insensitively_by_their_keys(api, actor):
    for name in ("beta", "Alpha", "Gamma", "ÄRGER"):
        LeadFactory(owner_user=actor, last_name=name)
    records = api.get("/leads", order_by="last_name").json()["records"]
    # Code point order of the folded names: a, b, g, then ä (U+00E4).
    assert [record["last_name"] for record in records] == ["Alpha", "beta", "Gamma", "ÄRGER"]
    records = api.get("/leads", order_by="-last_name", limit=2).json()
    assert [record["last_name"] for record in records["records"]] == ["ÄRGER", "Gamma"]
    page = api.get("/leads", order_by="-last_name", limit=2, cursor=records["next_cursor"])
    assert [record["last_name"] for record in page.json()["records"]] == ["beta", "Alpha"]


@pytest.mark.parametrize(
    "spelling",
    [
        "ANA@münchen.example",
        "ana@xn--mnchen-3ya.example",
        unicodedata.normalize(NFD, "ana@münchen.example"),
    ],
)
def test_one_mailbox_makes_one_lead(api, actor, spelling):
    first = api.post("/leads", {"last_name": "A", "company": "C", "email": "ana@münchen.example"})
    assert first.status_code == 201, first.content
    second = api.post("/leads", {"last_name": "B", "company": "C", "email": spelling})
    assert second.status_code == 409, second.content
    error = second.json()["errors"][0]
    assert (error["code"], error["fields"]) == ("DUPLICATE_VALUE", ["email"])
    assert first.json()["id"] in error["message"]  # the actor may see it: named
    assert Lead.objects.count() == 1
    assert Lead.objects.get().email == "ana@münchen.example"  # stored as typed


def test_a_conflict_names_the_other_lead_only_to_who_may_see_it(api_as):
    sharing_default_set(actor=None, object_name="Lead", access=Access.PRIVATE)
    owner, rep = UserFactory(role=Role.REP), UserFactory(role=Role.REP)
    hidden = LeadFactory(owner_user=owner, email="kim@hidden.example")
    client = api_as(rep)
    assert client.get(f"/leads/{hidden.public_id}").status_code == 404

    created = client.post(
        "/leads", {"last_name": "K", "company": "C", "email": "KIM@hidden.example"}
    )
    assert created.status_code == 409
    error = created.json()["errors"][0]
    assert error["code"] == "DUPLICATE_VALUE"
    assert hidden.public_id not in created.content.decode()
    assert "an unconverted lead you cannot see" in error["message"]

    mine = client.post("/leads", {"last_name": "K", "company": "C"}).json()
    changed = client.patch(f"/leads/{mine['id']}", {"email": "kim@HIDDEN.example"})
    assert changed.status_code == 409
    assert hidden.public_id not in changed.content.decode()
    assert Lead.objects.filter(email_key="kim@hidden.example").count() == 1

    visible = api_as(owner).post(
        "/leads", {"last_name": "K", "company": "C", "email": "kim@hidden.example"}
    )
    assert visible.status_code == 409
    assert hidden.public_id in visible.json()["errors"][0]["message"]
