"""Pipeline reports: pipeline by stage, forecast, forecast accuracy (DOMAIN.md sections 4, 9)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count

from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.fields import ExactSum
from dealflow.leads.services import end_of_fiscal_quarter

# A module import: snapshots imports selectors.common, which loads this package.
from dealflow.reports import snapshots
from dealflow.reports.definitions import Column, ReportFilters, ReportResult
from dealflow.reports.selectors.common import (
    EXACT,
    dated_in_period,
    drilldown,
    fraction,
    money,
    month_of,
    month_text,
    people,
    visible,
)
from dealflow.sales.models import ForecastCategory, Opportunity
from dealflow.sales.selectors import stages

# -- pipeline_by_stage ----------------------------------------------------------------------


def pipeline_by_stage_columns(filters: ReportFilters) -> list[Column]:
    return [
        Column("stage", "Stage", "text"),
        Column("deals", "Deals", "integer"),
        Column("amount", "Amount", "money"),
        Column("weighted_amount", "Weighted amount", "money"),
    ]


def _stage_order() -> dict[str, tuple[int, str]]:
    return {stage.name: (stage.sort_order, stage.name) for stage in stages.get()}


def _weighted_rows(grouped: Any, filters: ReportFilters) -> list[dict[str, Any]]:
    """Rows per stage from (stage name, probability, deals, amount) groups: the amount
    summed exactly, weighted exactly (amount x probability / 100, DOMAIN.md section 4)
    and rounded once per stage, as the board's columns are."""
    sums: dict[str, list[Any]] = {}
    for stage_name, probability, deals, total in grouped:
        found = sums.setdefault(stage_name, [0, Decimal(0), Decimal(0)])
        found[0] += deals
        if total is not None:
            found[1] = EXACT.add(found[1], total)
            found[2] = EXACT.add(found[2], EXACT.multiply(total, probability))
    order = _stage_order()
    rows = []
    for stage_name in sorted(sums, key=lambda name: order.get(name, (10**9, name))):
        deals, total, weighted = sums[stage_name]
        rows.append(
            {
                "stage": stage_name,
                "deals": deals,
                "amount": money(total),
                "weighted_amount": money(EXACT.divide(weighted, 100)),
                "drilldown": drilldown(
                    "Opportunity",
                    filters,
                    stage=stage_name,
                    is_closed=False,
                    close_date_from=filters.period_start,
                    close_date_to=filters.period_end,
                ),
            }
        )
    return rows


def pipeline_by_stage(*, user: Any, filters: ReportFilters) -> list[dict[str, Any]]:
    """Open opportunities the user may see, per stage (in stage order): how many, their
    amount and their weighted amount (amount x probability / 100). The period filters
    on the close date. With `as_of`, the pipeline of that day (reports/snapshots.py).
    DOMAIN.md section 9. One query (two with as_of)."""
    if filters.as_of is not None:
        rows, source = snapshots.pipeline_as_of(user, filters, filters.as_of)
        if source == "replay":
            grouped = rows.aggregate(
                "stage_name, probability, COUNT(*), SUM(amount)",
                "stage_name, probability",
                snapshots.replay_conditions(filters, open_only=True),
            )
            return _weighted_rows(grouped, filters)
        grouped = (
            rows.filter(
                snapshots.open_stage_condition(source), dated_in_period(filters, "close_date")
            )
            .values_list("stage_name", "probability")
            .annotate(deals=Count("*"), total=ExactSum("amount"))
        )
        return _weighted_rows(grouped, filters)
    grouped = (
        visible(user, Opportunity.objects.filter(is_closed=False))
        .filter(people(filters, "owner"), dated_in_period(filters, "close_date"))
        .values_list("stage__name", "probability")
        .annotate(deals=Count("*"), total=ExactSum("amount"))
    )
    return _weighted_rows(grouped, filters)


# -- forecast -------------------------------------------------------------------------------

CATEGORIES = (
    ForecastCategory.PIPELINE,
    ForecastCategory.BEST_CASE,
    ForecastCategory.COMMIT,
    ForecastCategory.CLOSED,
)


def forecast_columns(filters: ReportFilters) -> list[Column]:
    return [
        Column("close_month", "Close month", "month"),
        Column("pipeline", "Pipeline", "money"),
        Column("best_case", "Best Case", "money"),
        Column("commit", "Commit", "money"),
        Column("closed", "Closed", "money"),
        Column("commit_forecast", "Commit forecast", "money"),
        Column("best_case_forecast", "Best Case forecast", "money"),
        Column("open_pipeline", "Open Pipeline", "money"),
    ]


def _forecast_source(user: Any, filters: ReportFilters) -> Any:
    """Rows with close_date, forecast_category and amount: the current opportunities,
    or the pipeline as of `filters.as_of` from its month on (a queryset, or PostgreSQL's
    ReplaySQL)."""
    if filters.as_of is not None:
        rows, source = snapshots.pipeline_as_of(user, filters, filters.as_of)
        if source == "replay":
            return rows
        return rows.filter(close_date__gte=snapshots.first_of_month(filters.as_of))
    return visible(user, Opportunity.objects.all()).filter(people(filters, "owner"))


def _by_month(rows: Any, filters: ReportFilters) -> dict[str, dict[str, Decimal]]:
    """{close month: {forecast category: amount}} (one query)."""
    if isinstance(rows, snapshots.ReplaySQL):
        assert filters.as_of is not None
        categories = list(CATEGORIES)
        grouped = rows.aggregate(
            "date_trunc('month', close_date)::date, forecast_category, SUM(amount)",
            "1, 2",
            [
                ("close_date >= %s", [snapshots.first_of_month(filters.as_of)]),
                (f"forecast_category IN ({', '.join(['%s'] * len(categories))})", categories),
                *snapshots.replay_conditions(filters),
            ],
        )
    else:
        grouped = (
            rows.filter(
                dated_in_period(filters, "close_date"), forecast_category__in=list(CATEGORIES)
            )
            .annotate(close_month=month_of("close_date"))
            .values_list("close_month", "forecast_category")
            .annotate(total=ExactSum("amount"))
        )
    months: dict[str, dict[str, Decimal]] = {}
    for close_month, category, total in grouped:
        month = months.setdefault(month_text(close_month) or "", {})
        month[category] = EXACT.add(month.get(category, Decimal(0)), total or Decimal(0))
    return months


def rollups(amounts: dict[str, Decimal]) -> dict[str, Decimal]:
    """One month's amounts per category with Salesforce's cumulative forecast rollups:
    Commit forecast = Commit + Closed; Best Case forecast = Best Case + Commit + Closed;
    Open Pipeline = Pipeline + Best Case + Commit (Omitted counts nowhere)."""
    pipeline, best_case, commit, closed = (
        amounts.get(category, Decimal(0)) for category in CATEGORIES
    )
    return {
        "pipeline": money(pipeline),
        "best_case": money(best_case),
        "commit": money(commit),
        "closed": money(closed),
        "commit_forecast": money(commit + closed),
        "best_case_forecast": money(best_case + commit + closed),
        "open_pipeline": money(pipeline + best_case + commit),
    }


def forecast(*, user: Any, filters: ReportFilters) -> list[dict[str, Any]]:
    """Opportunities the user may see by close month and forecast category, with the
    cumulative rollups (see `rollups`; DOMAIN.md section 9, Salesforce's forecast
    categories). The period filters on the close date. With `as_of`, the pipeline of
    that day from its month on (reports/snapshots.py). One query (two with as_of)."""
    months = _by_month(_forecast_source(user, filters), filters)
    rows = []
    for month in sorted(months):
        year, number = (int(part) for part in month.split("-"))
        first = datetime.date(year, number, 1)
        last = (first + datetime.timedelta(days=32)).replace(day=1) - datetime.timedelta(days=1)
        # The month's deals the report counts: those closing within the period too.
        if filters.period_start:
            first = max(first, filters.period_start)
        if filters.period_end:
            last = min(last, filters.period_end)
        rows.append(
            {
                "close_month": month,
                **rollups(months[month]),
                "drilldown": drilldown(
                    "Opportunity", filters, close_date_from=first, close_date_to=last
                ),
            }
        )
    return rows


# -- forecast_accuracy ----------------------------------------------------------------------


def fiscal_quarter(day: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The first and last day of the fiscal quarter containing `day`
    (settings.DEALFLOW_FISCAL_YEAR_START_MONTH)."""
    last = end_of_fiscal_quarter(day, settings.DEALFLOW_FISCAL_YEAR_START_MONTH)
    start_index = last.year * 12 + last.month - 1 - 2
    return datetime.date(start_index // 12, start_index % 12 + 1, 1), last


def quarter_name(first: datetime.date) -> str:
    """`FY2026 Q1`: the fiscal year is named after the calendar year it ends in, as
    Salesforce's standard fiscal years are."""
    start_month = settings.DEALFLOW_FISCAL_YEAR_START_MONTH
    months_in = (first.month - start_month) % 12
    fiscal_year = first.year + (1 if start_month > 1 and first.month >= start_month else 0)
    return f"FY{fiscal_year} Q{months_in // 3 + 1}"


def _quarter_of(
    filters: ReportFilters, today: datetime.date
) -> tuple[datetime.date, datetime.date]:
    """The quarter the period names: period_start its first day (default: the current
    quarter's), period_end, if given, its last."""
    first, last = fiscal_quarter(filters.period_start or today)
    if filters.period_start is not None and filters.period_start != first:
        raise DomainError(
            ErrorCode.INVALID_FIELD,
            f"period_start: expected the first day of a fiscal quarter ({first}), "
            f"got {filters.period_start}",
            ["period_start"],
        )
    if filters.period_end is not None and filters.period_end != last:
        raise DomainError(
            ErrorCode.INVALID_FIELD,
            f"period_end: expected the last day of the quarter starting {first} ({last}), "
            f"got {filters.period_end}",
            ["period_end"],
        )
    return first, last


def forecast_accuracy_columns(filters: ReportFilters) -> list[Column]:
    return [
        Column("quarter", "Quarter", "text"),
        Column("as_of", "Forecast as of", "date"),
        Column("commit_forecast", "Commit forecast", "money"),
        Column("best_case_forecast", "Best Case forecast", "money"),
        Column("open_pipeline", "Open Pipeline", "money"),
        Column("won", "Won", "money"),
        Column("commit_ratio", "Won / Commit", "fraction"),
        Column("best_case_ratio", "Won / Best Case", "fraction"),
        Column("pipeline_ratio", "Won / (Closed + Open Pipeline)", "fraction"),
    ]


def forecast_accuracy(*, user: Any, filters: ReportFilters) -> list[dict[str, Any]]:
    """The forecast of a fiscal quarter as of its first day (the pipeline of that day,
    reports/snapshots.py, for deals closing in the quarter: Commit forecast, Best Case
    forecast, Open Pipeline) against the amount won by its end (deals closed won with a
    close date in the quarter, as they stand now), with won / forecast as fractions
    (4 places; None when the forecast is 0). The period names the quarter (default: the
    current one). Issue 9, Salesforce's forecast rollups. One row; three queries."""
    from django.utils import timezone

    first, last = _quarter_of(filters, timezone.localdate())
    quarter = ReportFilters(
        period_start=first,
        period_end=last,
        owner_id=filters.owner_id,
        team_id=filters.team_id,
        lead_source=filters.lead_source,
        as_of=first,
    )
    months = _by_month(_forecast_source(user, quarter), quarter)
    totals: dict[str, Decimal] = {}
    for amounts in months.values():
        for category, amount in amounts.items():
            totals[category] = totals.get(category, Decimal(0)) + amount
    forecast_then = rollups(totals)
    won = (
        visible(user, Opportunity.objects.filter(is_won=True))
        .filter(people(quarter, "owner"), dated_in_period(quarter, "close_date"))
        .aggregate(total=ExactSum("amount"))["total"]
    )
    won = money(won)
    pipeline_total = forecast_then["closed"] + forecast_then["open_pipeline"]
    return [
        {
            "quarter": quarter_name(first),
            "as_of": first,
            "commit_forecast": forecast_then["commit_forecast"],
            "best_case_forecast": forecast_then["best_case_forecast"],
            "open_pipeline": forecast_then["open_pipeline"],
            "won": won,
            "commit_ratio": fraction(won, forecast_then["commit_forecast"]),
            "best_case_ratio": fraction(won, forecast_then["best_case_forecast"]),
            "pipeline_ratio": fraction(won, pipeline_total),
            "drilldown": drilldown(
                "Opportunity", filters, is_won=True, close_date_from=first, close_date_to=last
            ),
        }
    ]


# -- the records behind a whole report (ReportDefinition.records) ------------------------


def pipeline_by_stage_records(result: ReportResult) -> dict[str, Any]:
    """The open opportunities under the report's filters (the period on the close date)."""
    given = result.filters
    return drilldown(
        "Opportunity",
        given,
        is_closed=False,
        close_date_from=given.period_start,
        close_date_to=given.period_end,
    )


def forecast_records(result: ReportResult) -> dict[str, Any]:
    """The opportunities closing in the months the forecast shows: from its first row's
    first day to its last row's last day (the rows' drill-downs bound them), else the
    period."""
    given = result.filters
    bounds = [(row.get("drilldown") or {}).get("filters", {}) for row in result.rows]
    return drilldown(
        "Opportunity",
        given,
        close_date_from=bounds[0].get("close_date_from") if bounds else given.period_start,
        close_date_to=bounds[-1].get("close_date_to") if bounds else given.period_end,
    )
