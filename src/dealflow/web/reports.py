"""The dashboard (/reports/) and each report's CSV download (/reports/<name>.csv).

Every figure comes from `reports.definitions.report_run` as the signed-in user (a rep's
charts count only what the rep may see); this module only lays the rows out as charts,
tables and links. Each report runs once per request; its rows feed both the chart (JSON
for web/static/web/reports.js, through json_script: the CSP runs no inline script) and
the table beside it. A row's `drilldown` (the list page's filters of the records behind
it, from the selectors) becomes the link a bar opens.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince
from django.views.decorators.http import require_POST

from dealflow.core.errors import DomainError
from dealflow.core.metadata import get_object
from dealflow.leads.selectors import NO_LEAD_SOURCE
from dealflow.people.selectors import team_list
from dealflow.reports.dashboard import DashboardRunner
from dealflow.reports.definitions import (
    Column,
    ReportFilters,
    ReportResult,
    report_filters_parse,
    report_get,
    report_records,
    report_run,
    rows_drilldown,
)
from dealflow.web.forms import picklist_choices
from dealflow.web.pages import FilterInput, midnight_as_day, page_view, signed_in_user
from dealflow.web.records import user_choices

# The page's filters, shared by every panel (each report takes those it accepts).
PAGE_FILTERS = ("period_start", "period_end", "owner_id", "team_id", "lead_source")
FILTER_LABELS = {
    "period_start": "Period from",
    "period_end": "Period to",
    "owner_id": "Owner",
    "team_id": "Team",
    "lead_source": "Lead Source",
}
RIGHT_ALIGNED = frozenset({"integer", "money", "fraction", "days"})


@dataclass(frozen=True)
class PanelSpec:
    """One panel of the dashboard: a report drawn as a chart (or only a table).

    `category` is the column naming the bars; `series` the columns drawn; `chart` one of
    "bar", "hbar" (horizontal), "stacked" (the series stacked), "funnel" (the
    series summed over every row, one step each) or "" (table only).
    """

    key: str
    title: str
    report: str
    chart: str
    category: str = ""
    series: tuple[str, ...] = ()
    group_by: str | None = None
    note: str = ""
    # A list rather than figures: the table shows the first rows (the CSV has them all).
    shown_rows: int | None = None
    # Whether a bar opens the list of its records (False where no list shows them exactly).
    linked: bool = True


PANELS = (
    PanelSpec(
        "funnel",
        "Conversion funnel",
        "lead_conversion",
        "funnel",
        series=("leads", "qualified", "converted", "won"),
        group_by="source",  # as the conversion chart's, so the rows are computed once
        note="Leads created in the period, and how many of them reached each step "
        "(click a step to list its leads).",
    ),
    PanelSpec(
        "pipeline",
        "Pipeline by stage",
        "pipeline_by_stage",
        "bar",
        category="stage",
        series=("amount", "weighted_amount"),
        note="Open opportunities per stage, by close date in the period: how many, their "
        "amount and their weighted amount (amount x the stage's probability).",
    ),
    PanelSpec(
        "forecast",
        "Forecast by close month and category",
        "forecast",
        "stacked",
        category="close_month",
        series=("closed", "commit", "best_case", "pipeline"),
        note="Opportunities by close month and forecast category (Closed is closed won; "
        "Omitted and lost deals count nowhere). Click a segment to list its deals; "
        '"List the records" lists every deal closing in these months, lost ones too.',
    ),
    PanelSpec(
        "conversion",
        "Conversion by lead source",
        "lead_conversion",
        "bar",
        category="lead_source",
        series=("leads", "converted"),
        group_by="source",
        note="Leads created in the period by lead source, and how many of them are converted now.",
    ),
    PanelSpec(
        "stage_duration",
        "Days in each stage",
        "stage_duration",
        "hbar",
        category="stage",
        series=("average_days", "median_days"),
        note="Average and median days deals spent in each open stage, over the stays "
        "that began in the period (a deal's current stage counts until now). No list "
        "opens from here: the opportunity list shows deals by their stage now, not by "
        "the stages they passed through.",
        linked=False,
    ),
    PanelSpec(
        "leaderboard",
        "Leaderboard: closed won by owner",
        "leaderboard",
        "hbar",
        category="owner",
        series=("won_amount",),
        note="Closed-won amount and count by owner, deals closed in the period.",
    ),
    PanelSpec(
        "stalled",
        "Stalled deals",
        "stalled_deals",
        "",
        note="Open deals stalled now: longer in their stage than the stage allows, no "
        "activity for 30 days, or a close date that has passed.",
        shown_rows=50,
    ),
)

# Steps of the funnel the lead list can show exactly: the list's filters added to the
# report's (the other steps are drawn without a link).
FUNNEL_STEP_FILTERS: dict[str, dict[str, str]] = {
    "leads": {},
    "converted": {"is_converted": "true"},
}


# ---------------------------------------------------------------------------------------
# Values and links


def cell_text(value: Any, kind: str) -> str:
    """A value as the table shows it: money with separators, fractions as percentages."""
    if value is None:
        return ""
    if kind == "money" and isinstance(value, Decimal | int):
        return f"{Decimal(value):,.2f}"
    if kind == "fraction" and isinstance(value, Decimal | float | int):
        return f"{Decimal(str(value)) * 100:.1f}%"
    if kind == "integer" and isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def chart_number(value: Any) -> float | int | None:
    """A value for drawing (the table beside the chart shows it exactly)."""
    if value is None or isinstance(value, int):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def list_url(drilldown: Mapping[str, Any] | None, **extra: str) -> str:
    """The lead or opportunity list filtered to the records behind a row.

    Filters the list pages' default view would add are cleared (the lead list's "My open
    leads", the opportunity list's open-only default), so the list shows those records
    and no others. Values are written as the list's own filter form writes them: a
    created-date bound at midnight as the day (`created_after=2026-09-01`), a blank lead
    source as NO_LEAD_SOURCE (a blank value would be no filter at all).
    """
    if not drilldown:
        return ""
    given = {**drilldown.get("filters", {}), **extra}
    if "lead_source" in given and not given["lead_source"]:
        given["lead_source"] = NO_LEAD_SOURCE
    if drilldown.get("object") == "Lead":
        query = {"owner_id": "", "is_converted": "", "is_closed": ""}
        for name, value in given.items():
            query["owner_id" if name == "owner" else name] = _query_value(value)
        return f"{reverse('lead_list')}?{urlencode(query)}"
    if drilldown.get("object") == "Opportunity":
        query = {name: _query_value(value) for name, value in given.items()}
        if "is_closed" not in query and "stage" not in query:
            query["is_closed"] = "any"
        return f"{reverse('opportunity_list')}?{urlencode(query)}"
    return ""


def _query_value(value: Any) -> str:
    """A filter's value as the list pages read it (booleans as true/false, a moment at
    midnight in the organisation's time zone as its day, YYYY-MM-DD)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return midnight_as_day(str(value))


RECORD_PAGES = {"006": "opportunity_detail", "00Q": "lead_detail", "001": "account_detail"}


def record_url(public_id: Any) -> str:
    page = RECORD_PAGES.get(str(public_id or "")[:3])
    return reverse(page, args=[public_id]) if page else ""


# ---------------------------------------------------------------------------------------
# Panels


@dataclass
class TableCell:
    text: str
    url: str = ""
    numeric: bool = False
    css: str = ""  # the column's classes (column_css)


# Columns that must not wrap (a date broken after its month, a figure over two lines);
# long sentences get a width of their own so the others keep theirs on a narrow screen.
NOWRAP_KINDS = frozenset({"date", "month", "money", "integer", "fraction", "days"})
WIDE_TEXT_COLUMNS = frozenset({"reasons", "reason"})
# Short names kept on one line (a stage, an owner): the sentence column wraps instead.
NOWRAP_COLUMNS = frozenset({"stage", "owner", "status", "lead_source"})


def column_css(column: Column) -> str:
    """The classes of a column's cells and header: right-aligned figures, unbroken dates
    and figures, a minimum width for sentences (report-wide-text, reports.css)."""
    classes = []
    if column.kind in RIGHT_ALIGNED:
        classes.append("text-end")
    if column.kind in NOWRAP_KINDS or column.name in NOWRAP_COLUMNS:
        classes.append("text-nowrap")
    if column.name in WIDE_TEXT_COLUMNS:
        classes.append("report-wide-text")
    return " ".join(classes)


@dataclass
class Panel:
    """A panel as the template draws it: the chart's JSON, the table, the links."""

    spec: PanelSpec
    title: str
    description: str
    columns: list[Column] = field(default_factory=list)
    rows: list[list[TableCell]] = field(default_factory=list)
    chart: dict[str, Any] | None = None
    csv_url: str = ""
    list_url: str = ""
    ignored: list[str] = field(default_factory=list)
    error: str = ""
    more: int = 0  # rows not shown (shown_rows)

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def wide_table(self) -> bool:
        """More columns than fit beside the chart: the table goes under it."""
        return len(self.columns) > 5

    @property
    def chart_id(self) -> str:
        return f"chart-{self.spec.key}-data"


def _table(result: ReportResult, panel: Panel) -> None:
    """The table view: id columns become links on the row's first text column."""
    shown = [column for column in result.columns if column.kind != "id"]
    id_columns = [column.name for column in result.columns if column.kind == "id"]
    panel.columns = shown
    rows = result.rows
    if panel.spec.shown_rows is not None:
        rows = rows[: panel.spec.shown_rows]
        panel.more = max(
            0, (len(result.rows) if result.total is None else result.total) - len(rows)
        )
    for row in rows:
        target = next(
            (record_url(row.get(name)) for name in id_columns if record_url(row.get(name))), ""
        )
        cells = []
        for column in shown:
            text = cell_text(row.get(column.name), column.kind)
            if column.name == panel.spec.category and not text:
                text = "(none)"  # as the chart names the group of records without one
            url = ""
            if column.kind == "text" and target and not any(cell.url for cell in cells):
                url = target
            cells.append(TableCell(text, url, column.kind in RIGHT_ALIGNED, column_css(column)))
        panel.rows.append(cells)


def _label(columns: Mapping[str, Column], name: str) -> str:
    return columns[name].label if name in columns else name


def _chart(spec: PanelSpec, result: ReportResult) -> dict[str, Any] | None:
    """The chart's JSON: categories, series of numbers, and each point's link."""
    columns = {column.name: column for column in result.columns}
    drawn = [name for name in spec.series if name in columns]
    if not spec.chart or not drawn or not result.rows:
        return None  # nothing to draw: the table says so
    kind = columns[drawn[0]].kind
    if spec.chart == "funnel":
        steps = drawn
        totals = [sum(row.get(name) or 0 for row in result.rows) for name in steps]
        whole = rows_drilldown(result)
        links = [
            list_url(whole, **FUNNEL_STEP_FILTERS[name]) if name in FUNNEL_STEP_FILTERS else ""
            for name in steps
        ]
        return {
            "chart": "funnel",
            "value_kind": kind,
            "categories": [_label(columns, name) for name in steps],
            "series": [{"name": result.name, "values": [chart_number(v) for v in totals]}],
            "links": links,
        }
    categories = [cell_text(row.get(spec.category), "text") or "(none)" for row in result.rows]
    series = []
    for name in drawn:
        extra = FUNNEL_STEP_FILTERS.get(name, {}) if result.name == "lead_conversion" else {}
        if result.name == "forecast":
            extra = {"forecast_category": FORECAST_SEGMENTS[name]}
        links = [
            list_url(row.get("drilldown"), **extra) if spec.linked else "" for row in result.rows
        ]
        series.append(
            {
                "name": _label(columns, name),
                "values": [chart_number(row.get(name)) for row in result.rows],
                "links": links,
            }
        )
    return {
        "chart": "bar" if spec.chart == "stacked" else spec.chart,
        "stacked": spec.chart == "stacked",
        "value_kind": kind,
        "categories": categories,
        "series": series,
    }


# The forecast's segments and the forecast category of the deals behind each (the report
# sums each category's amount, Salesforce's Closed being the closed-won deals' category).
FORECAST_SEGMENTS = {
    "closed": "Closed",
    "commit": "Commit",
    "best_case": "Best Case",
    "pipeline": "Pipeline",
}


def _panel_filters(spec: PanelSpec, accepted: frozenset[str], filters: ReportFilters):
    """The page's filters the report accepts, and the labels of those it ignores."""
    values = {item.name: getattr(filters, item.name) for item in fields(filters)}
    kept = {name: value for name, value in values.items() if name in accepted and value is not None}
    ignored = [
        FILTER_LABELS[name]
        for name in PAGE_FILTERS
        if values.get(name) is not None and name not in accepted
    ]
    if spec.group_by:
        kept["group_by"] = spec.group_by
    return ReportFilters(**kept), ignored


def _query_string(filters: ReportFilters) -> str:
    given = {name: value for name, value in filters.as_json().items() if value}
    return urlencode(given)


Runner = Callable[..., ReportResult]


def build_panel(spec: PanelSpec, run: Runner, filters: ReportFilters) -> Panel:
    try:
        definition = report_get(spec.report)
    except DomainError as error:  # a report not built yet leaves its panel empty
        return Panel(spec, spec.title, "", error=error.message)
    panel = Panel(spec, spec.title, spec.note or definition.description)
    report_filters, panel.ignored = _panel_filters(spec, definition.filters, filters)
    try:
        result = run(spec.report, report_filters, spec.shown_rows)
    except DomainError as error:
        panel.error = error.message
        return panel
    query = _query_string(result.filters)
    panel.csv_url = reverse("report_csv", args=[spec.report]) + (f"?{query}" if query else "")
    panel.chart = _chart(spec, result)
    if spec.chart == "funnel" and panel.chart:
        _funnel_table(panel.chart, panel)
    else:
        _table(result, panel)
    panel.list_url = list_url(report_records(result))
    return panel


def _funnel_table(chart: dict[str, Any], panel: Panel) -> None:
    """The funnel's steps: how many records reached each, and their share of the first."""
    panel.columns = [
        Column("step", "Step", "text"),
        Column("records", "Leads", "integer"),
        Column("share", "Share of leads created", "fraction"),
    ]
    values = chart["series"][0]["values"]
    first = values[0] if values else 0
    for label, value, link in zip(chart["categories"], values, chart["links"], strict=True):
        share = Decimal(value) / Decimal(first) if first else None
        panel.rows.append(
            [
                TableCell(label, link),
                TableCell(cell_text(value, "integer"), numeric=True),
                TableCell(cell_text(share, "fraction"), numeric=True),
            ]
        )


# ---------------------------------------------------------------------------------------
# Views


def _filter_inputs(values: Mapping[str, str], errors: Mapping[str, str]) -> list[FilterInput]:
    lead_source = get_object("Lead").field("lead_source")
    teams = [(str(team.pk), team.name) for team in team_list().order_by("name")]

    def shown(name: str, **options: Any) -> FilterInput:
        return FilterInput(
            name, FILTER_LABELS[name], values.get(name, ""), errors.get(name, ""), **options
        )

    return [
        shown("period_start", input_type="date"),
        shown("period_end", input_type="date"),
        shown("owner_id", choices=user_choices()),
        shown("team_id", choices=teams),
        shown("lead_source", choices=picklist_choices(lead_source, values.get("lead_source", ""))),  # type: ignore[arg-type]
    ]


def read_filters(
    values: Mapping[str, str],
) -> tuple[ReportFilters | None, dict[str, str], dict[str, str]]:
    """The page's filters from the query string (or the Refresh form): (filters or None,
    given, errors)."""
    given = {name: (values.get(name) or "").strip() for name in PAGE_FILTERS}
    given = {name: value for name, value in given.items() if value}
    try:
        return report_filters_parse(given), given, {}
    except DomainError as error:
        name = error.fields[0] if error.fields else "period_start"
        return None, given, {name: _page_error(name, error)}


def _page_error(name: str, error: DomainError) -> str:
    """A filter's refusal in the page's words: the inputs' labels, not the parameters'
    names ("Expected a date on or after Period from (2026-12-31), got '2026-01-01'")."""
    message = error.detail(name)
    for parameter, label in FILTER_LABELS.items():
        message = message.replace(parameter, label)
    return message[:1].upper() + message[1:]


@page_view
def dashboard(request: HttpRequest) -> HttpResponse:
    """The charts, tables and drill-down links of the reports, under one set of filters.

    Query string: period_start, period_end (YYYY-MM-DD, inclusive), owner_id (a user
    id), team_id, lead_source. A bad value is shown beside its input and no report runs.
    The figures are those of the last refresh for this viewer and these filters, if it
    is younger than DEALFLOW_DASHBOARD_MAX_AGE (reports/dashboard.py); the page says when.
    """
    return _dashboard_page(request)


@require_POST
@page_view
def dashboard_refresh(request: HttpRequest) -> HttpResponse:
    """Refresh: compute the dashboard's figures again now, under the posted filters (the
    page's filters, as hidden inputs), keep them, and go back to the page, which shows
    them. Bad filters compute nothing (the page then shows the error beside its input)."""
    filters, given, _errors = read_filters(request.POST)
    if filters is not None:
        run = DashboardRunner(signed_in_user(request), filters, refresh=True)
        for spec in PANELS:
            build_panel(spec, run, filters)
        run.keep()
    query = urlencode(given)
    return redirect(reverse("reports") + (f"?{query}" if query else ""))


def _dashboard_page(request: HttpRequest) -> HttpResponse:
    filters, given, errors = read_filters(request.GET)
    panels: list[Panel] = []
    run = None
    if filters is not None:
        run = DashboardRunner(signed_in_user(request), filters)
        panels = [build_panel(spec, run, filters) for spec in PANELS]
        run.keep()
    context = {
        "filters": _filter_inputs(given, errors),
        "given": given,
        "errors": errors,
        "error_labels": [FILTER_LABELS[name] for name in errors],
        "panels": panels,
        "team_given": bool(given.get("team_id")),
        "refreshed_at": run.refreshed_at if run and run.max_age else None,
        "age": _age(run.refreshed_at) if run else "",
        "max_age_minutes": (run.max_age + 59) // 60 if run else 0,
    }
    return render(request, "web/reports/dashboard.html", context)


def _age(moment: datetime.datetime) -> str:
    """How long ago `moment` was, in words ("just now", "3 minutes ago")."""
    now = timezone.now()
    if now - moment < datetime.timedelta(minutes=1):
        return "just now"
    return f"{timesince(moment, now=now)} ago"


@page_view
def report_csv(request: HttpRequest, name: str) -> HttpResponse:
    """A report's rows as CSV (the column names, then a line per row), under the query
    string's filters (those of GET /api/v1/reports/<name>); 404 for an unknown report,
    400 naming the filter for a bad one."""
    report_get(name)
    try:
        values = {key: value for key, value in request.GET.items() if value.strip()}
        result = report_run(
            name, user=signed_in_user(request), filters=report_filters_parse(values)
        )
    except DomainError as error:
        return HttpResponse(error.message, status=400, content_type="text/plain; charset=utf-8")
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(result.csv_rows())
    return HttpResponse(
        buffer.getvalue(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{result.name}.csv"'},
    )
