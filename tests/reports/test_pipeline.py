"""Pipeline by stage and the forecast now, against figures worked out by hand on the
`deals` fixture (tests/reports/conftest.py)."""

from decimal import Decimal as D

import pytest

from tests.reports.conftest import run

pytestmark = pytest.mark.django_db

ZERO = D("0.00")


def test_pipeline_by_stage_counts_open_deals(team, deals):
    # Value Proposition: D5 10000.00 and D7 999.99 at 50% = 5499.995, rounded once: 5500.00.
    assert run("pipeline_by_stage", team.admin) == [
        {
            "stage": "Value Proposition",
            "deals": 2,
            "amount": D("10999.99"),
            "weighted_amount": D("5500.00"),
        },
        {
            "stage": "Negotiation/Review",
            "deals": 1,
            "amount": D("400.00"),
            "weighted_amount": D("360.00"),
        },
    ]


def test_pipeline_by_stage_access_and_filters(team, deals):
    assert run("pipeline_by_stage", team.alice) == [
        {
            "stage": "Value Proposition",
            "deals": 1,
            "amount": D("10000.00"),
            "weighted_amount": D("5000.00"),
        }
    ]
    assert [row["stage"] for row in run("pipeline_by_stage", team.manny)] == [
        "Value Proposition",
        "Negotiation/Review",
    ]
    # The period filters on the close date.
    april = run("pipeline_by_stage", team.admin, period_start="2026-04-01", period_end="2026-04-15")
    assert april == [
        {
            "stage": "Value Proposition",
            "deals": 1,
            "amount": D("999.99"),
            "weighted_amount": D("500.00"),
        }
    ]
    assert (
        run("pipeline_by_stage", team.admin, owner_id=team.bob.pk)[0]["stage"]
        == "Negotiation/Review"
    )
    assert run("pipeline_by_stage", team.admin, team_id=team.south.pk)[0]["amount"] == D("999.99")
    assert run("pipeline_by_stage", team.admin, lead_source="Partner Referral") == []


def test_pipeline_by_stage_without_an_amount(team):
    from tests.reports.conftest import create

    create(team.alice, "No amount", "Prospecting", None, "2026-06-30")
    assert run("pipeline_by_stage", team.alice) == [
        {"stage": "Prospecting", "deals": 1, "amount": ZERO, "weighted_amount": ZERO}
    ]


def forecast_row(month, pipeline=ZERO, best_case=ZERO, commit=ZERO, closed=ZERO):
    return {
        "close_month": month,
        "pipeline": pipeline,
        "best_case": best_case,
        "commit": commit,
        "closed": closed,
        "commit_forecast": commit + closed,
        "best_case_forecast": best_case + commit + closed,
        "open_pipeline": pipeline + best_case + commit,
    }


def test_forecast_by_close_month_and_category_with_the_rollups(team, deals):
    assert run("forecast", team.admin) == [
        forecast_row("2026-01", closed=D("2000.00")),
        # D2 was lost: Omitted counts nowhere.
        forecast_row("2026-02", closed=D("1000.00")),
        forecast_row("2026-03", commit=D("400.00"), closed=D("500.50")),
        forecast_row("2026-04", pipeline=D("10000.00"), best_case=D("999.99")),
    ]
    # The rollups written out once: Commit = Commit + Closed; Best Case = Best Case +
    # Commit + Closed; Open Pipeline = Pipeline + Best Case + Commit.
    march = run("forecast", team.admin)[2]
    assert (march["commit_forecast"], march["best_case_forecast"], march["open_pipeline"]) == (
        D("900.50"),
        D("900.50"),
        D("400.00"),
    )


def test_forecast_access_and_filters(team, deals):
    assert run("forecast", team.alice) == [
        forecast_row("2026-02", closed=D("1000.00")),
        forecast_row("2026-04", pipeline=D("10000.00")),
    ]
    assert run("forecast", team.admin, period_start="2026-03-01", period_end="2026-03-31") == [
        forecast_row("2026-03", commit=D("400.00"), closed=D("500.50"))
    ]
    assert run("forecast", team.admin, team_id=team.south.pk) == [
        forecast_row("2026-01", closed=D("2000.00")),
        forecast_row("2026-04", best_case=D("999.99")),
    ]
    assert run("forecast", team.admin, lead_source="Partner Referral") == [
        forecast_row("2026-03", closed=D("500.50"))
    ]


def test_a_forecast_row_lists_its_deals(team, deals):
    from dealflow.reports.definitions import ReportFilters, report_run

    rows = report_run("forecast", user=team.admin, filters=ReportFilters()).rows
    assert rows[1]["drilldown"] == {
        "object": "Opportunity",
        "filters": {"close_date_from": "2026-02-01", "close_date_to": "2026-02-28"},
    }


def test_a_forecast_rows_deals_are_those_closing_in_the_period(team, deals):
    """A month cut by the period lists only its deals within the period, as it counts."""
    from dealflow.reports.definitions import report_filters_parse, report_run

    filters = report_filters_parse({"period_start": "2026-02-10", "period_end": "2026-04-15"})
    rows = report_run("forecast", user=team.admin, filters=filters).rows

    assert [(row["close_month"], row["drilldown"]["filters"]) for row in rows] == [
        ("2026-03", {"close_date_from": "2026-03-01", "close_date_to": "2026-03-31"}),
        ("2026-04", {"close_date_from": "2026-04-01", "close_date_to": "2026-04-15"}),
    ]
    filters = report_filters_parse({"period_start": "2026-03-02", "period_end": "2026-04-30"})
    rows = report_run("forecast", user=team.admin, filters=filters).rows
    assert rows[0]["drilldown"]["filters"] == {
        "close_date_from": "2026-03-02",
        "close_date_to": "2026-03-31",
    }
