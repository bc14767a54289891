"""The report contract: filters, columns, results and the registry of reports.

Every report is a `ReportDefinition` registered in `REPORTS` by `reports/selectors.py`
(imported on first use). Adapters (API, CLI, CSV, dashboard) call `report_filters_parse`
on their query parameters / options and `report_run` with the acting user; they hold no
rule of their own. Rows are dicts keyed by the column names; rates are fractions 0-1
(Decimal, 4 places), money is Decimal with 2 places, days Decimal with 1 place.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dealflow.core import ids
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.fields import exact_sums_run

if TYPE_CHECKING:
    from dealflow.people.models import User

COLUMN_KINDS = frozenset({"text", "integer", "money", "fraction", "days", "date", "month", "id"})


@dataclass(frozen=True)
class ReportFilters:
    """What a report counts: period, owner, team, lead source, grouping, as-of date.

    Dates are inclusive and in the organisation time zone (settings.TIME_ZONE); owner_id
    and team_id are primary keys (adapters decode the public ids).
    """

    period_start: datetime.date | None = None
    period_end: datetime.date | None = None
    owner_id: int | None = None
    team_id: int | None = None
    lead_source: str | None = None
    group_by: str | None = None
    as_of: datetime.date | None = None

    def given(self) -> frozenset[str]:
        """The names of the filters that are set."""
        return frozenset(item.name for item in fields(self) if getattr(self, item.name) is not None)

    def as_json(self) -> dict[str, str | None]:
        """Every filter as text: ISO dates, the owner's public id (005...), the team's id."""
        return {
            "period_start": self.period_start.isoformat() if self.period_start else None,
            "period_end": self.period_end.isoformat() if self.period_end else None,
            "owner_id": ids.encode("User", self.owner_id) if self.owner_id else None,
            "team_id": str(self.team_id) if self.team_id else None,
            "lead_source": self.lead_source,
            "group_by": self.group_by,
            "as_of": self.as_of.isoformat() if self.as_of else None,
        }


@dataclass(frozen=True)
class Column:
    """One column of a report: its row key, its label, and the kind of its values."""

    name: str
    label: str
    kind: str  # "text" | "integer" | "money" | "fraction" | "days" | "date" | "month" | "id"


@dataclass(frozen=True)
class ReportResult:
    """A report's rows under the filters it ran with."""

    name: str
    filters: ReportFilters
    columns: list[Column]
    rows: list[dict[str, Any]]
    # How many rows the report has when `rows` holds only the first of them
    # (report_run's `limit`); None when `rows` is every row.
    total: int | None = None

    def as_json(self) -> dict[str, Any]:
        """{"name", "filters", "columns": [{"name", "label", "kind"}], "rows"}: what the
        API answers and `dealflow report --format json` prints (see json_value)."""
        return {
            "name": self.name,
            "filters": self.filters.as_json(),
            "columns": [
                {"name": column.name, "label": column.label, "kind": column.kind}
                for column in self.columns
            ],
            "rows": [
                {
                    column.name: json_value(row.get(column.name), column.kind)
                    for column in self.columns
                }
                for row in self.rows
            ],
        }

    def csv_rows(self) -> Iterator[list[str]]:
        """The column names, then each row's cells as text (see csv_value): what every
        CSV of a report holds (API, dashboard download, `dealflow report --format csv`)."""
        yield [column.name for column in self.columns]
        for row in self.rows:
            yield [csv_value(row.get(column.name)) for column in self.columns]


# Kinds written as JSON numbers; money stays an exact decimal string.
NUMBER_KINDS = frozenset({"fraction", "days"})


def json_value(value: Any, kind: str) -> Any:
    """A cell as JSON: money a decimal string, fractions and days numbers, dates ISO."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return float(value) if kind in NUMBER_KINDS else str(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def csv_value(value: Any) -> str:
    """A cell as CSV text: decimals exactly as computed, dates ISO, blank for none."""
    if value is None:
        return ""
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class ReportDefinition:
    """A named report: what it accepts, its columns, and the selector that computes it."""

    name: str
    title: str
    description: str
    filters: frozenset[str]
    group_by: tuple[str, ...]
    columns: Callable[[ReportFilters], list[Column]]
    run: Callable[..., list[dict[str, Any]]]
    # A list report's first rows and its row count without computing every row:
    # first_rows(user=, filters=, limit=) -> (rows, total). None: run() then slice.
    first_rows: Callable[..., tuple[list[dict[str, Any]], int]] | None = None
    # What lists every record the report counts under its filters ("List the records"):
    # records(result) -> {"object", "filters"} as a row's drill-down, or None where no
    # list shows them. None: the rows' drill-downs without what singles out their group
    # (rows_drilldown).
    records: Callable[[ReportResult], dict[str, Any] | None] | None = None


REPORTS: dict[str, ReportDefinition] = {}


def report_register(definition: ReportDefinition) -> ReportDefinition:
    """Add a report to the registry (display order is registration order)."""
    REPORTS[definition.name] = definition
    return definition


def _load() -> None:
    # The selectors register the reports on import; imported here, lazily, so that this
    # module stays importable from models and settings without touching the ORM.
    from dealflow.reports import selectors  # noqa: F401


def report_list() -> list[ReportDefinition]:
    """Every report, in display order."""
    _load()
    return list(REPORTS.values())


def report_get(name: str) -> ReportDefinition:
    """The definition of a report; DomainError(NOT_FOUND) for an unknown name."""
    _load()
    definition = REPORTS.get(name)
    if definition is None:
        known = ", ".join(REPORTS)
        raise DomainError(
            ErrorCode.NOT_FOUND, f"no report named {name!r}; reports: {known}", ["name"]
        )
    return definition


def report_records(result: ReportResult) -> dict[str, Any] | None:
    """The drill-down of a whole report's result: {"object": "Lead" | "Opportunity",
    "filters": {list filter: value}} for the list page showing every record it counts
    (the dashboard's "List the records"), or None where no list shows them exactly."""
    definition = report_get(result.name)
    if definition.records is not None:
        return definition.records(result)
    return rows_drilldown(result)


# A row's own group in its drill-down: dropped for the whole report's records unless the
# page's filters set it.
_GROUP_FILTERS = frozenset({"lead_source", "owner", "owner_queue"})


def rows_drilldown(result: ReportResult) -> dict[str, Any] | None:
    """The drill-down of every row at once: the first row's, without what singles its
    group out (its lead source, owner or queue, unless a filter of the report set it);
    None when the rows carry none."""
    given = result.filters
    for row in result.rows:
        found = row.get("drilldown")
        if found:
            keep = {
                name: value
                for name, value in found.get("filters", {}).items()
                if name not in _GROUP_FILTERS
                or (name == "lead_source" and given.lead_source)
                or (name == "owner" and given.owner_id)
            }
            return {"object": found.get("object"), "filters": keep}
    return None


def _check_filters(definition: ReportDefinition, filters: ReportFilters) -> ReportFilters:
    """Refuse filters the report does not accept; fill in the default group_by."""
    for name in sorted(filters.given() - definition.filters):
        accepted = ", ".join(sorted(definition.filters)) or "none"
        raise DomainError(
            ErrorCode.INVALID_FIELD,
            f"{name}: the {definition.name} report does not take this filter (it takes: {accepted})",
            [name],
        )
    if filters.group_by is not None and filters.group_by not in definition.group_by:
        allowed = ", ".join(definition.group_by) or "no grouping"
        raise DomainError(
            ErrorCode.INVALID_FIELD,
            f"group_by: expected one of {allowed} for the {definition.name} report, "
            f"got {filters.group_by!r}",
            ["group_by"],
        )
    if filters.period_start and filters.period_end and filters.period_start > filters.period_end:
        raise DomainError(
            ErrorCode.INVALID_FIELD,
            f"period_end: expected a date on or after period_start ({filters.period_start}), "
            f"got {filters.period_end}",
            ["period_end"],
        )
    if filters.group_by is None and definition.group_by:
        values = {item.name: getattr(filters, item.name) for item in fields(filters)}
        values["group_by"] = definition.group_by[0]
        filters = ReportFilters(**values)
    return filters


def report_run(
    name: str, *, user: User | None, filters: ReportFilters, limit: int | None = None
) -> ReportResult:
    """Run a report as `user` (records the user may not see are not counted).

    With `limit` (a positive number of rows), only the first `limit` rows are returned
    and `total` says how many there are: a list report with `first_rows` (stalled_deals)
    computes those rows only, as the dashboard's table shows them; other reports are
    run whole and cut. Without it, every row (the API, the CSV, the command line).
    Raises DomainError(NOT_FOUND) for an unknown report, DomainError(INVALID_FIELD) naming
    the filter for a filter the report does not accept or a group_by it does not offer.
    The result's filters carry the default group_by when none was given.
    """
    from django.db import transaction

    definition = report_get(name)
    filters = _check_filters(definition, filters)
    # One transaction: the configuration caches (stages, statuses, sharing defaults) read
    # their version once for the whole report, not once per use (core/cache.py), also
    # outside a request (the command line, a job).
    if limit is not None and limit < 1:
        raise ValueError(f"limit: expected a positive number of rows, got {limit!r}")

    def run() -> tuple[list[dict[str, Any]], int | None]:
        if limit is not None and definition.first_rows is not None:
            return definition.first_rows(user=user, filters=filters, limit=limit)
        rows = definition.run(user=user, filters=filters)
        if limit is not None:
            return rows[:limit], len(rows)
        return rows, None

    with transaction.atomic():
        _tune_connection()
        # Money sums: SQLite's own SUM, and the report again with exact split sums in
        # the rare case a total passes 2**63 - 1 cents (core.fields.exact_sums_run).
        rows, total = exact_sums_run(run)
    return ReportResult(
        name=definition.name,
        filters=filters,
        columns=definition.columns(filters),
        rows=rows,
        total=total,
    )


def _tune_connection() -> None:
    """PostgreSQL, for this transaction only: no JIT compilation. The reports' statements
    run for 0.1 to a few seconds, where compiling costs more than it saves (100 to 200 ms
    of "JIT: Timing" in their plans at 1M leads, docs/benchmarks.md)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")


# -- parsing (query parameters, CLI options) ----------------------------------------------

FILTER_NAMES = tuple(item.name for item in fields(ReportFilters))


def _invalid(name: str, expected: str, value: str) -> DomainError:
    return DomainError(
        ErrorCode.INVALID_FIELD, f"{name}: expected {expected}, got {value!r}", [name]
    )


def _parse_date(name: str, value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise _invalid(name, "a date YYYY-MM-DD", value) from None


def _parse_owner(value: str) -> int:
    if value.isdigit() and int(value) > 0:
        return int(value)
    try:
        return ids.decode(value, "User")[1]
    except ids.InvalidIdError:
        raise _invalid("owner_id", "a user id (005...)", value) from None


def _parse_team(value: str) -> int:
    """A team by its primary key or, as the directory API names teams, by its name."""
    if value.isdigit() and int(value) > 0:
        return int(value)
    from dealflow.people.models import Team

    team_id = Team.objects.filter(name=value).values_list("pk", flat=True).first()
    if team_id is None:
        raise _invalid("team_id", "a team's id or name", value)
    return team_id


def report_filters_parse(values: Mapping[str, str]) -> ReportFilters:
    """Filters from query parameters or CLI options (all strings; blank means unset).

    owner_id is a user's public id (005...) or primary key; team_id a team's primary key
    or name. Raises DomainError(INVALID_FIELD, fields=[name]) naming the parameter and what
    was expected, for a bad value and for an unknown parameter.
    """
    parsed: dict[str, Any] = {}
    for name, raw in values.items():
        if name not in FILTER_NAMES:
            raise DomainError(
                ErrorCode.INVALID_FIELD,
                f"{name}: unknown report filter; filters: {', '.join(FILTER_NAMES)}",
                [name],
            )
        value = (raw or "").strip()
        if not value:
            continue
        if name in ("period_start", "period_end", "as_of"):
            parsed[name] = _parse_date(name, value)
        elif name == "owner_id":
            parsed[name] = _parse_owner(value)
        elif name == "team_id":
            parsed[name] = _parse_team(value)
        else:
            parsed[name] = value
    filters = ReportFilters(**parsed)
    if filters.period_start and filters.period_end and filters.period_start > filters.period_end:
        raise _invalid(
            "period_end",
            f"a date on or after period_start ({filters.period_start})",
            values["period_end"],
        )
    return filters
