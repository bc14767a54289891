"""`dealflow report`: the list of reports, a report as a table, CSV or JSON, bad options.

(The command is reportui's adapter in reports/management/commands/report.py.)
"""

from __future__ import annotations

import datetime
import io
import json

import pytest
from django.core.management import CommandError, call_command

from dealflow.core.models import Access
from dealflow.core.services import sharing_default_set
from dealflow.people.models import Role
from dealflow.sales.models import OpportunityStage
from tests.factories import LeadFactory, OpportunityFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    admin = UserFactory(username="ada", role=Role.ADMIN)
    robin = UserFactory(username="robin", first_name="Robin", last_name="Rep")
    olive = UserFactory(username="olive")
    for owner, source, converted in (
        (robin, "Web", True),
        (robin, "Web", False),
        (olive, "Trade Show", False),
    ):
        LeadFactory(owner_user=owner, lead_source=source, is_converted=converted)
    OpportunityFactory(
        owner=robin,
        stage=OpportunityStage.objects.get(name="Prospecting"),
        amount="1234.50",
        close_date=datetime.date(2026, 12, 31),
    )
    for object_name in ("Lead", "Opportunity", "Account"):
        sharing_default_set(actor=None, object_name=object_name, access=Access.PRIVATE)
    return {"admin": admin, "robin": robin}


def run(*arguments: str) -> str:
    output = io.StringIO()
    call_command("report", *arguments, stdout=output)
    return output.getvalue()


def test_without_a_name_it_lists_the_reports(people):
    listed = run()

    assert "lead_conversion" in listed and "premature_conversions" in listed
    assert "source, owner, month" in listed


def test_the_table_is_for_people_money_and_rates_readable(people):
    table = run("pipeline_by_stage")

    assert "Prospecting" in table and "1,234.50" in table and "123.45" in table
    assert table.rstrip().endswith("1 row")
    rates = run("lead_conversion")
    assert "50.00%" in rates and "0.00%" in rates


def test_csv_and_json_as_the_api_writes_them(people):
    assert run("lead_conversion", "--format", "csv").splitlines() == [
        "lead_source,leads,converted,conversion_rate",
        "Trade Show,1,0,0.0000",
        "Web,2,1,0.5000",
    ]
    body = json.loads(run("pipeline_by_stage", "--format", "json"))
    assert body["rows"] == [
        {"stage": "Prospecting", "deals": 1, "amount": "1234.50", "weighted_amount": "123.45"}
    ]
    assert body["filters"]["owner_id"] is None


def test_the_default_user_is_the_first_active_admin_and_user_narrows(people):
    assert run("lead_conversion", "--format", "csv").count("\n") == 3
    as_robin = run("lead_conversion", "--format", "csv", "--user", "robin")
    assert as_robin.splitlines() == [
        "lead_source,leads,converted,conversion_rate",
        "Web,2,1,0.5000",
    ]


def test_options_set_the_filters(people):
    by_owner = run("lead_conversion", "--format", "json", "--owner", "robin", "--group-by", "owner")
    body = json.loads(by_owner)
    assert body["filters"]["owner_id"] == people["robin"].public_id
    assert [row["leads"] for row in body["rows"]] == [2]
    empty = run(
        "lead_conversion",
        "--format",
        "csv",
        "--period-start",
        "2001-01-01",
        "--period-end",
        "2001-01-31",
    )
    assert empty.splitlines() == ["lead_source,leads,converted,conversion_rate"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("nonsense",), "no report named 'nonsense'"),
        (("lead_conversion", "--period-start", "someday"), "--period-start: expected a date"),
        (("lead_conversion", "--group-by", "planet"), "--group-by: expected one of"),
        (("lead_conversion", "--as-of", "2026-01-01"), "--as-of:"),
        (("lead_conversion", "--user", "nobody"), "--user: no user 'nobody'"),
    ],
)
def test_bad_options_are_refused_naming_them(people, arguments, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        run(*arguments)


def test_without_an_admin_it_asks_for_a_user(db):
    with pytest.raises(CommandError, match="--user"):
        run("lead_conversion")
