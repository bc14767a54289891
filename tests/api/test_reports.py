"""GET /api/v1/reports and /reports/{name}: the list, JSON and CSV rows, bad input, access.

The small fixture (`sales_floor`): Robin (a rep) and Olive (another rep) own leads and
deals; with private sharing Robin's reports count only Robin's records, an admin's all.
"""

from __future__ import annotations

import csv
import datetime
import io

import pytest

from dealflow.core.models import Access
from dealflow.core.services import sharing_default_set
from dealflow.people.models import Role
from dealflow.sales.models import OpportunityStage
from tests.api.conftest import ApiClient
from tests.factories import LeadFactory, OpportunityFactory, UserFactory

pytestmark = pytest.mark.django_db

REPORT_NAMES = [
    "lead_conversion",
    "leads_by_status",
    "pipeline_by_stage",
    "forecast",
    "forecast_accuracy",
    "win_rate",
    "deal_size",
    "sales_cycle",
    "stage_duration",
    "stalled_deals",
    "leaderboard",
    "premature_conversions",
]


@pytest.fixture
def sales_floor():
    """Robin: Web x2 (one converted), Phone Inquiry; deals Prospecting 1000.00 and
    Negotiation/Review 2500.50. Olive: Web (converted), Trade Show; Prospecting 4000.00."""
    robin = UserFactory(username="robin", first_name="Robin", last_name="Rep")
    olive = UserFactory(username="olive", first_name="Olive", last_name="Other")
    admin = UserFactory(username="ada", role=Role.ADMIN, first_name="Ada", last_name="Admin")
    for owner, source, converted in (
        (robin, "Web", True),
        (robin, "Web", False),
        (robin, "Phone Inquiry", False),
        (olive, "Web", True),
        (olive, "Trade Show", False),
    ):
        LeadFactory(owner_user=owner, lead_source=source, is_converted=converted)
    prospecting = OpportunityStage.objects.get(name="Prospecting")
    negotiation = OpportunityStage.objects.get(name="Negotiation/Review")
    close = datetime.date(2026, 12, 31)
    OpportunityFactory(owner=robin, stage=prospecting, amount="1000.00", close_date=close)
    OpportunityFactory(owner=robin, stage=negotiation, amount="2500.50", close_date=close)
    OpportunityFactory(owner=olive, stage=prospecting, amount="4000.00", close_date=close)
    for object_name in ("Lead", "Opportunity", "Account"):
        sharing_default_set(actor=None, object_name=object_name, access=Access.PRIVATE)
    return {"robin": robin, "olive": olive, "admin": admin}


def test_the_list_names_every_report_with_its_filters_and_groupings(api):
    response = api.get("/reports")

    assert response.status_code == 200
    reports = response.json()["reports"]
    assert [report["name"] for report in reports] == REPORT_NAMES
    conversion = reports[0]
    assert conversion["title"] == "Lead conversion"
    assert conversion["filters"] == [
        "period_start",
        "period_end",
        "owner_id",
        "team_id",
        "lead_source",
        "group_by",
    ]
    assert conversion["group_by"] == ["source", "owner", "month"]
    pipeline = reports[2]
    assert "as_of" in pipeline["filters"] and pipeline["group_by"] == []
    assert all(report["description"] for report in reports)


def test_lead_conversion_counts_what_the_user_sees_exactly(sales_floor):
    as_admin = ApiClient(sales_floor["admin"]).get("/reports/lead_conversion")
    as_robin = ApiClient(sales_floor["robin"]).get("/reports/lead_conversion")

    assert as_admin.status_code == 200
    body = as_admin.json()
    assert body["name"] == "lead_conversion"
    assert body["filters"] == {
        "period_start": None,
        "period_end": None,
        "owner_id": None,
        "team_id": None,
        "lead_source": None,
        "group_by": "source",
        "as_of": None,
    }
    assert body["columns"] == [
        {"name": "lead_source", "label": "Lead source", "kind": "text"},
        {"name": "leads", "label": "Leads", "kind": "integer"},
        {"name": "converted", "label": "Converted", "kind": "integer"},
        {"name": "conversion_rate", "label": "Conversion rate", "kind": "fraction"},
    ]
    assert body["rows"] == [
        {"lead_source": "Phone Inquiry", "leads": 1, "converted": 0, "conversion_rate": 0.0},
        {"lead_source": "Trade Show", "leads": 1, "converted": 0, "conversion_rate": 0.0},
        {"lead_source": "Web", "leads": 3, "converted": 2, "conversion_rate": 0.6667},
    ]
    assert as_robin.json()["rows"] == [
        {"lead_source": "Phone Inquiry", "leads": 1, "converted": 0, "conversion_rate": 0.0},
        {"lead_source": "Web", "leads": 2, "converted": 1, "conversion_rate": 0.5},
    ]


def test_pipeline_by_stage_money_is_an_exact_decimal_string(sales_floor):
    as_admin = ApiClient(sales_floor["admin"]).get("/reports/pipeline_by_stage")
    as_robin = ApiClient(sales_floor["robin"]).get("/reports/pipeline_by_stage")

    assert as_admin.json()["rows"] == [
        {"stage": "Prospecting", "deals": 2, "amount": "5000.00", "weighted_amount": "500.00"},
        {
            "stage": "Negotiation/Review",
            "deals": 1,
            "amount": "2500.50",
            "weighted_amount": "2250.45",
        },
    ]
    assert as_robin.json()["rows"] == [
        {"stage": "Prospecting", "deals": 1, "amount": "1000.00", "weighted_amount": "100.00"},
        {
            "stage": "Negotiation/Review",
            "deals": 1,
            "amount": "2500.50",
            "weighted_amount": "2250.45",
        },
    ]


def test_filters_narrow_the_rows_and_are_echoed_with_public_ids(sales_floor):
    robin = sales_floor["robin"]
    response = ApiClient(sales_floor["admin"]).get(
        "/reports/lead_conversion", owner_id=robin.public_id, lead_source="Web", group_by="owner"
    )

    assert response.status_code == 200
    body = response.json()
    assert body["filters"]["owner_id"] == robin.public_id
    assert body["filters"]["group_by"] == "owner"
    assert body["rows"] == [
        {
            "owner": "Robin Rep",
            "owner_id": robin.public_id,
            "leads": 2,
            "converted": 1,
            "conversion_rate": 0.5,
        }
    ]


def test_a_period_outside_every_record_leaves_no_rows(sales_floor):
    response = ApiClient(sales_floor["admin"]).get(
        "/reports/lead_conversion", period_start="2001-01-01", period_end="2001-12-31"
    )

    assert response.status_code == 200
    assert response.json()["rows"] == []


@pytest.mark.parametrize("name", REPORT_NAMES)
def test_every_report_answers_rows_keyed_by_its_columns(sales_floor, name):
    response = ApiClient(sales_floor["admin"]).get(f"/reports/{name}")

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"name", "filters", "columns", "rows"}
    assert body["name"] == name
    names = [column["name"] for column in body["columns"]]
    for row in body["rows"]:
        assert list(row) == names
        for column in body["columns"]:
            value = row[column["name"]]
            if value is None:
                continue
            if column["kind"] == "money":
                assert isinstance(value, str) and value.replace("-", "").count(".") == 1
                assert len(value.split(".")[1]) == 2
            elif column["kind"] in ("fraction", "days"):
                assert isinstance(value, int | float)
            elif column["kind"] == "integer":
                assert isinstance(value, int)
            elif column["kind"] == "date":
                datetime.date.fromisoformat(value)


def test_csv_has_the_column_names_then_exact_values(sales_floor):
    response = ApiClient(sales_floor["admin"]).get("/reports/pipeline_by_stage", format="csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="pipeline_by_stage.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [
        ["stage", "deals", "amount", "weighted_amount"],
        ["Prospecting", "2", "5000.00", "500.00"],
        ["Negotiation/Review", "1", "2500.50", "2250.45"],
    ]


def test_csv_of_rates_keeps_four_places(sales_floor):
    response = ApiClient(sales_floor["robin"]).get("/reports/lead_conversion", format="csv")

    assert response.content.decode().splitlines() == [
        "lead_source,leads,converted,conversion_rate",
        "Phone Inquiry,1,0,0.0000",
        "Web,2,1,0.5000",
    ]


def test_an_unknown_report_is_a_404(api):
    response = api.get("/reports/pipeline_by_mood")

    assert response.status_code == 404
    error = response.json()["errors"][0]
    assert error["code"] == "NOT_FOUND"
    assert "pipeline_by_mood" in error["message"]


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ({"period_start": "2026-13-01"}, "period_start", "YYYY-MM-DD"),
        ({"period_end": "yesterday"}, "period_end", "YYYY-MM-DD"),
        ({"period_start": "2026-03-01", "period_end": "2026-02-01"}, "period_end", "on or after"),
        ({"owner_id": "00Q000000000001AAA"}, "owner_id", "user id"),
        ({"team_id": "No Such Team"}, "team_id", "team"),
        ({"group_by": "planet"}, "group_by", "source, owner, month"),
        ({"as_of": "2026-01-01"}, "as_of", "does not take"),
        ({"format": "xlsx"}, "format", "json or csv"),
        ({"colour": "red"}, "colour", "unknown"),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter(api, query, field, words):
    response = api.get("/reports/lead_conversion", **query)

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["code"] == "INVALID_FIELD"
    assert error["fields"] == [field]
    assert words in error["message"]


def test_reports_need_a_token(client):
    assert client.get("/api/v1/reports").status_code == 401
    assert client.get("/api/v1/reports/lead_conversion").status_code == 401


def test_the_openapi_document_describes_the_reports():
    from django.test import Client

    schema = Client().get("/api/v1/openapi.json").json()
    operation = schema["paths"]["/api/v1/reports/{name}"]["get"]
    assert operation["operationId"] == "report_get"
    parameters = {parameter["name"] for parameter in operation["parameters"]}
    assert parameters == {
        "name",
        "period_start",
        "period_end",
        "owner_id",
        "team_id",
        "lead_source",
        "group_by",
        "as_of",
        "format",
    }
    assert "text/csv" in operation["responses"]["200"]["content"]
    assert schema["paths"]["/api/v1/reports"]["get"]["operationId"] == "report_list"
