"""The report contract: the registry, filters parsed from text, and refusals naming the
parameter (reports/definitions.py)."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealflow.core.errors import DomainError, ErrorCode
from dealflow.reports.definitions import (
    COLUMN_KINDS,
    ReportFilters,
    report_filters_parse,
    report_list,
    report_run,
)

pytestmark = pytest.mark.django_db

NAMES = [
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


def refusal(call, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_every_report_of_the_issue_is_listed_in_order():
    assert [definition.name for definition in report_list()] == NAMES
    for definition in report_list():
        assert definition.title and definition.description
        columns = definition.columns(ReportFilters(group_by=(definition.group_by or (None,))[0]))
        assert all(column.kind in COLUMN_KINDS for column in columns)
        assert len({column.name for column in columns}) == len(columns)


@pytest.mark.parametrize("name", NAMES)
def test_every_report_on_an_empty_database(name, actor):
    result = report_run(name, user=actor, filters=ReportFilters())
    if name == "forecast_accuracy":
        assert [row["won"] for row in result.rows] == [0]
        assert result.rows[0]["commit_ratio"] is None
    else:
        assert result.rows == []
    assert result.name == name


def test_filters_are_parsed_from_text(actor):
    from dealflow.people.models import Team

    north = Team.objects.create(name="North")
    filters = report_filters_parse(
        {
            "period_start": "2026-01-01",
            "period_end": "2026-03-31",
            "owner_id": actor.public_id,
            "team_id": "North",
            "lead_source": "Web",
            "group_by": "owner",
            "as_of": "",
        }
    )
    assert filters == ReportFilters(
        period_start=datetime.date(2026, 1, 1),
        period_end=datetime.date(2026, 3, 31),
        owner_id=actor.pk,
        team_id=north.pk,
        lead_source="Web",
        group_by="owner",
    )
    assert filters.as_json() == {
        "period_start": "2026-01-01",
        "period_end": "2026-03-31",
        "owner_id": actor.public_id,
        "team_id": str(north.pk),
        "lead_source": "Web",
        "group_by": "owner",
        "as_of": None,
    }
    assert report_filters_parse({"team_id": str(north.pk)}).team_id == north.pk


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"period_start": "2026-13-01"}, "period_start", "expected a date YYYY-MM-DD"),
        ({"as_of": "yesterday"}, "as_of", "expected a date YYYY-MM-DD"),
        ({"owner_id": "00Q000000000001AAA"}, "owner_id", "expected a user id"),
        ({"owner_id": "nobody"}, "owner_id", "expected a user id"),
        ({"team_id": "Nowhere"}, "team_id", "expected a team's id or name"),
        ({"colour": "red"}, "colour", "unknown report filter"),
        (
            {"period_start": "2026-02-01", "period_end": "2026-01-31"},
            "period_end",
            "on or after period_start",
        ),
    ],
)
def test_bad_filters_are_refused_naming_the_parameter(values, field, words):
    error = refusal(report_filters_parse, values)
    assert (error.code, error.fields) == (ErrorCode.INVALID_FIELD, [field])
    assert words in error.message


def test_an_unknown_report_is_not_found(actor):
    error = refusal(report_run, "pipeline", user=actor, filters=ReportFilters())
    assert error.code == ErrorCode.NOT_FOUND
    assert "pipeline_by_stage" in error.message


@pytest.mark.parametrize(
    ("name", "filters", "field"),
    [
        ("win_rate", ReportFilters(as_of=datetime.date(2026, 1, 1)), "as_of"),
        ("leaderboard", ReportFilters(group_by="owner"), "group_by"),
        ("lead_conversion", ReportFilters(group_by="stage"), "group_by"),
        (
            "forecast_accuracy",
            ReportFilters(period_start=datetime.date(2026, 2, 1)),
            "period_start",
        ),
        (
            "forecast_accuracy",
            ReportFilters(
                period_start=datetime.date(2026, 1, 1), period_end=datetime.date(2026, 2, 1)
            ),
            "period_end",
        ),
    ],
)
def test_a_filter_a_report_does_not_take_is_refused(name, filters, field, actor):
    error = refusal(report_run, name, user=actor, filters=filters)
    assert (error.code, error.fields) == (ErrorCode.INVALID_FIELD, [field])
    assert error.message.startswith(f"{field}: ")


def test_the_default_grouping_is_in_the_result(actor):
    result = report_run("lead_conversion", user=actor, filters=ReportFilters())
    assert result.filters.group_by == "source"
    assert [column.name for column in result.columns] == [
        "lead_source",
        "leads",
        "converted",
        "conversion_rate",
    ]


def queries_of(name, user, **filters) -> int:
    with CaptureQueriesContext(connection) as captured:
        report_run(name, user=user, filters=ReportFilters(**filters))
    return len(captured)


@pytest.mark.parametrize(
    ("name", "filters"),
    [(name, {}) for name in NAMES]
    + [
        ("lead_conversion", {"group_by": "owner"}),
        ("lead_conversion", {"group_by": "month"}),
        ("win_rate", {"group_by": "owner"}),
        ("deal_size", {"group_by": "owner"}),
        ("sales_cycle", {"group_by": "owner"}),
        ("pipeline_by_stage", {"as_of": datetime.date(2026, 2, 1)}),
        ("forecast", {"as_of": datetime.date(2026, 2, 1)}),
    ],
)
def test_query_counts_do_not_grow_with_the_rows(name, filters, team, deals, leads, freeze_clock):
    from tests.factories import LeadFactory
    from tests.reports.conftest import NOW, at, create, update

    report_run(name, user=team.manny, filters=ReportFilters(**filters))  # warm the caches
    before = queries_of(name, team.manny, **filters)
    freeze_clock(at(1, 7))
    for number in range(6):
        owner = (team.alice, team.bob)[number % 2]
        deal = create(owner, f"More {number}", "Prospecting", "100.00", "2026-02-20")
        if number % 3 == 0:
            update(owner, deal, stage="Closed Won")
        LeadFactory(owner_user=owner, lead_source=f"Source {number}")
    freeze_clock(NOW)
    assert queries_of(name, team.manny, **filters) == before


def test_the_records_behind_each_whole_report(actor):
    """report_records: the list page showing every record a report counts under its
    filters, decided with each report's definition (None where no list shows them)."""
    from dealflow.reports.definitions import ReportResult, report_records

    period = {"period_start": "2026-01-01", "period_end": "2026-03-31", "owner_id": actor.public_id}
    filters = report_filters_parse(period)
    owner = {"owner": actor.public_id}
    dates = {"close_date_from": "2026-01-01", "close_date_to": "2026-03-31"}

    def records(name, rows=()):
        return report_records(ReportResult(name, filters, [], list(rows)))

    assert records("pipeline_by_stage") == {
        "object": "Opportunity",
        "filters": {**owner, "is_closed": False, **dates},
    }
    assert records("stalled_deals") == {
        "object": "Opportunity",
        "filters": {**owner, "stalled": "true", "is_closed": "false", **dates},
    }
    assert records("stage_duration") is None
    # Forecast: the months its rows show bound the close dates.
    months = [
        {
            "drilldown": {
                "filters": {"close_date_from": "2026-02-01", "close_date_to": "2026-02-28"}
            }
        },
        {
            "drilldown": {
                "filters": {"close_date_from": "2026-03-01", "close_date_to": "2026-03-31"}
            }
        },
    ]
    assert records("forecast", months) == {
        "object": "Opportunity",
        "filters": {**owner, "close_date_from": "2026-02-01", "close_date_to": "2026-03-31"},
    }
    # Others: the rows' drill-down without what singles out a row's group, except a
    # group the filters set (the owner here), and None without rows.
    row = {
        "drilldown": {
            "object": "Lead",
            "filters": {"owner": actor.public_id, "lead_source": "Web", "created_from": "x"},
        }
    }
    assert records("lead_conversion", [row]) == {
        "object": "Lead",
        "filters": {"owner": actor.public_id, "created_from": "x"},
    }
    assert records("lead_conversion") is None
