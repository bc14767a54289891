"""CSV exports (issue 8, item 3): headers both ways, values, formula neutralising, access,
streaming in bounded batches, the `dealflow export` command and the list pages' download."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealflow.core.errors import DomainError
from dealflow.core.services import sharing_default_set
from dealflow.dataio.exports import FORMULA_STARTS, export_csv, export_headers, neutralised
from dealflow.leads.models import Lead
from dealflow.people.models import Role
from dealflow.sales.models import OpportunityStage
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
def admin():
    return UserFactory(username="ada", role=Role.ADMIN)


def parsed(chunks) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO("".join(chunks))))


def lead_rows(actor, **options) -> list[dict[str, str]]:
    return parsed(export_csv(actor=actor, object_name="Lead", **options))


# ---------------------------------------------------------------------------------------
# Values and headers


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_each_formula_start_is_neutralised_by_a_quote(admin, start):
    text = f'{start}HYPERLINK("http://evil.test")'
    LeadFactory(owner_user=admin, last_name=text, company="Safe Co", email="")

    row = lead_rows(admin)[0]

    assert row["last_name"] == "'" + text
    assert row["company"] == "Safe Co"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=1+2", "'=1+2"),
        ("+1 555 0100", "'+1 555 0100"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=b", "a=b"),
        ("'=already", "'=already"),
        ("", ""),
    ],
)
def test_neutralised(text, expected):
    assert neutralised(text) == expected


def test_numbers_dates_and_ids_are_written_as_they_are(admin):
    account = AccountFactory(owner=admin, name="Acme")
    opportunity = OpportunityFactory(
        owner=admin,
        account=account,
        name="Big deal",
        amount=Decimal("-1250.5"),
        probability=10,
        close_date=datetime.date(2026, 12, 31),
        stage=OpportunityStage.objects.get(name="Prospecting"),
    )

    [row] = parsed(export_csv(actor=admin, object_name="Opportunity", filters={}))

    assert {name: row[name] for name in ("id", "account_id", "amount", "close_date")} == {
        "id": opportunity.public_id,
        "account_id": account.public_id,
        "amount": "-1250.50",
        "close_date": "2026-12-31",
    }
    assert (row["stage_name"], row["expected_revenue"], row["owner_id"]) == (
        "Prospecting",
        "-125.05",
        admin.public_id,
    )
    assert row["is_closed"] == "false"
    created = datetime.datetime.fromisoformat(row["created_date"].replace("Z", "+00:00"))
    assert created == opportunity.created_at.replace(microsecond=created.microsecond)
    assert row["created_date"].endswith("Z")


def test_native_headers_and_a_lead_row(admin):
    queue = QueueFactory(name="Inbound")
    lead = LeadFactory(
        owner_user=None,
        owner_queue=queue,
        first_name="Ana",
        last_name="Lima",
        company='Lima, "Labs"',
        email="ana@lima.test",
        annual_revenue=Decimal("1000"),
        number_of_employees=12,
        do_not_call=True,
        description="two\nlines",
    )

    text = "".join(export_csv(actor=admin, object_name="Lead"))
    [row] = list(csv.DictReader(io.StringIO(text)))

    assert text.splitlines()[0] == ",".join(export_headers("Lead"))
    assert text.startswith("id,created_date,last_modified_date,salutation,first_name,last_name,")
    assert {
        name: row[name] for name in row if name not in ("created_date", "last_modified_date")
    } == {
        "id": lead.public_id,
        "salutation": "",
        "first_name": "Ana",
        "last_name": "Lima",
        "title": "",
        "company": 'Lima, "Labs"',
        "email": "ana@lima.test",
        "phone": "",
        "mobile_phone": "",
        "website": "",
        "street": "",
        "city": "",
        "state": "",
        "postal_code": "",
        "country": "",
        "lead_source": "",
        "status": "Open - Not Contacted",
        "rating": "",
        "industry": "",
        "annual_revenue": "1000.00",
        "number_of_employees": "12",
        "description": "two\nlines",
        "do_not_call": "true",
        "has_opted_out_of_email": "false",
        "is_converted": "false",
        "converted_date": "",
        "converted_account_id": "",
        "converted_contact_id": "",
        "converted_opportunity_id": "",
        "owner_id": queue.public_id,
    }


def test_salesforce_headers_are_the_api_names(admin):
    ContactFactory(owner=admin, last_name="Lima")

    text = "".join(export_csv(actor=admin, object_name="Contact", headers="salesforce"))

    header = text.splitlines()[0].split(",")
    assert header[:7] == [
        "Id",
        "CreatedDate",
        "LastModifiedDate",
        "Salutation",
        "FirstName",
        "LastName",
        "AccountId",
    ]
    assert header[-1] == "OwnerId"
    [row] = csv.DictReader(io.StringIO(text))
    assert row["LastName"] == "Lima"


def test_an_unknown_object_or_headers_is_refused_before_anything_is_read(admin):
    with pytest.raises(DomainError) as unknown_object:
        export_csv(actor=admin, object_name="Task")
    with pytest.raises(DomainError) as unknown_headers:
        export_csv(actor=admin, object_name="Lead", headers="excel")

    assert unknown_object.value.fields == ["object"]
    assert unknown_headers.value.fields == ["headers"]


# ---------------------------------------------------------------------------------------
# Access and streaming


def test_a_reps_export_leaves_out_others_private_records(admin):
    rep, other = UserFactory(username="rep"), UserFactory(username="other")
    sharing_default_set(actor=admin, object_name="Lead", access="private")
    mine = LeadFactory(owner_user=rep, last_name="Mine")
    LeadFactory(owner_user=other, last_name="Theirs")

    assert [row["id"] for row in lead_rows(rep)] == [mine.public_id]
    assert len(lead_rows(admin)) == 2


def test_batches_cost_one_query_each_and_every_row_comes_once(admin):
    leads = [LeadFactory(owner_user=admin) for _ in range(7)]
    lead_rows(admin, batch_size=3)  # the configuration caches, read once per process

    with CaptureQueriesContext(connection) as seven:
        rows = lead_rows(admin, batch_size=3)
    for _ in range(5):
        LeadFactory(owner_user=admin)
    with CaptureQueriesContext(connection) as twelve:
        more = lead_rows(admin, batch_size=3)

    assert sorted(row["id"] for row in rows) == sorted(lead.public_id for lead in leads)
    assert len(more) == 12 and len({row["id"] for row in more}) == 12
    assert (len(seven), len(twelve)) == (3, 4)  # ceil(7 / 3) and ceil(12 / 3) batches


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_outside_a_transaction_queries_do_not_grow_with_the_rows_of_a_batch():
    """As the command runs (autocommit): each configuration read checks its version, so
    the statuses are read once per batch, not once per row."""
    admin = UserFactory(username="ada", role=Role.ADMIN)
    for _ in range(6):
        LeadFactory(owner_user=admin)
    lead_rows(admin, batch_size=20)
    with CaptureQueriesContext(connection) as six:
        lead_rows(admin, batch_size=20)
    for _ in range(12):
        LeadFactory(owner_user=admin)
    with CaptureQueriesContext(connection) as eighteen:
        rows = lead_rows(admin, batch_size=20)

    assert len(rows) == 18
    assert len(eighteen) == len(six) <= 4


def test_the_export_is_lazy_after_its_first_batch(admin):
    for _ in range(5):
        LeadFactory(owner_user=admin)
    lead_rows(admin, batch_size=2)

    with CaptureQueriesContext(connection) as started:
        chunks = export_csv(actor=admin, object_name="Lead", batch_size=2)
    header = next(chunks)
    first = next(chunks)

    assert len(started) == 1  # only the first batch, to refuse a bad filter early
    assert header.startswith("id,")
    assert first.count("\r\n") == 2


# ---------------------------------------------------------------------------------------
# The command


def test_the_command_writes_a_file_as_the_first_admin(admin, tmp_path):
    rep = UserFactory(username="rep")
    sharing_default_set(actor=admin, object_name="Account", access="private")
    AccountFactory(owner=admin, name="=Admin's")
    AccountFactory(owner=rep, name="Rep's")
    output = tmp_path / "accounts.csv"

    call_command("export", "accounts", "--headers", "salesforce", "--output", str(output))

    text = output.read_bytes().decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(row["Name"] for row in rows) == ["'=Admin's", "Rep's"]
    assert text.split("\r\n")[0].startswith("Id,CreatedDate,LastModifiedDate,Name,")


def test_the_command_acts_as_the_user_named(admin):
    rep = UserFactory(username="rep")
    sharing_default_set(actor=admin, object_name="Contact", access="private")
    ContactFactory(owner=rep, last_name="Mine")
    ContactFactory(owner=admin, last_name="Theirs")
    output = io.StringIO()

    call_command("export", "contacts", "--user", "rep", stdout=output)

    assert [row["last_name"] for row in csv.DictReader(io.StringIO(output.getvalue()))] == ["Mine"]


def test_the_command_refuses_an_unknown_user(admin):
    with pytest.raises(CommandError, match="no active user 'nobody'"):
        call_command("export", "leads", "--user", "nobody")


# ---------------------------------------------------------------------------------------
# The list pages' download


@pytest.fixture
def signed_in_rep(client):
    rep = UserFactory(username="rep")
    client.force_login(rep)
    return client, rep


def downloaded(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    return parsed(chunk.decode() for chunk in response.streaming_content)


def test_the_lead_download_applies_the_lists_view_and_filters(signed_in_rep):
    client, rep = signed_in_rep
    LeadFactory(owner_user=rep, last_name="Web", lead_source="Web")
    LeadFactory(owner_user=rep, last_name="Show", lead_source="Trade Show")
    LeadFactory(owner_user=UserFactory(), last_name="Other", lead_source="Web")

    mine = downloaded(client.get("/leads/download/"))  # the default view: my open leads
    web = downloaded(client.get("/leads/download/", {"view": "open", "lead_source": "web"}))
    searched = downloaded(
        client.get("/leads/download/", {"view": "open", "q": "sho", "cursor": "stale"})
    )

    assert sorted(row["last_name"] for row in mine) == ["Show", "Web"]
    assert sorted(row["last_name"] for row in web) == ["Other", "Web"]
    assert [row["last_name"] for row in searched] == ["Show"]


def test_the_download_excludes_what_the_rep_may_not_see(signed_in_rep, admin):
    client, rep = signed_in_rep
    sharing_default_set(actor=admin, object_name="Account", access="private")
    AccountFactory(owner=rep, name="Mine")
    AccountFactory(owner=admin, name="Private")

    rows = downloaded(client.get("/accounts/download/", {"headers": "salesforce"}))

    assert [row["Name"] for row in rows] == ["Mine"]


def test_the_contact_download_applies_the_search(signed_in_rep):
    client, rep = signed_in_rep
    ContactFactory(owner=rep, last_name="Lima")
    ContactFactory(owner=rep, last_name="Costa")

    rows = downloaded(client.get("/contacts/download/", {"q": "lim", "order_by": "nonsense"}))

    assert [row["last_name"] for row in rows] == ["Lima"]


def test_the_opportunity_download_takes_open_deals_unless_asked(signed_in_rep):
    client, rep = signed_in_rep
    OpportunityFactory(owner=rep, name="Open deal")
    won = OpportunityStage.objects.get(name="Closed Won")
    OpportunityFactory(owner=rep, name="Won deal", stage=won, is_closed=True, is_won=True)

    open_only = downloaded(client.get("/opportunities/download/"))
    every = downloaded(client.get("/opportunities/download/", {"is_closed": "any"}))

    assert [row["name"] for row in open_only] == ["Open deal"]
    assert sorted(row["name"] for row in every) == ["Open deal", "Won deal"]


@pytest.mark.parametrize(
    ("path", "link"),
    [
        ("/leads/?view=open&lead_source=Web", "/leads/download/?view=open&amp;lead_source=Web"),
        ("/accounts/?q=ac", "/accounts/download/?q=ac"),
        ("/contacts/", 'href="/contacts/download/"'),
        ("/opportunities/?is_closed=any", "/opportunities/download/?is_closed=any"),
    ],
)
def test_every_list_links_its_download_with_its_filters(signed_in_rep, path, link):
    client, _rep = signed_in_rep

    content = client.get(path).content.decode()

    assert "Download CSV" in content
    assert link in content


def test_the_download_needs_a_sign_in(client):
    response = client.get("/leads/download/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert Lead.objects.count() == 0
