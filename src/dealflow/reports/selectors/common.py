"""What every report shares: filters applied as ORM conditions, rounding, medians, names."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterable, Sequence
from decimal import MAX_PREC, ROUND_HALF_UP, Context, Decimal
from typing import Any

from django.conf import settings
from django.db.models import DateField, DateTimeField, F, Func, IntegerField, Q, QuerySet
from django.db.models.functions import TruncDate, TruncMonth
from django.utils import timezone

from dealflow.core import ids
from dealflow.core.access import readable
from dealflow.core.fields import native_sums
from dealflow.core.selectors import picklist_spelling
from dealflow.core.sqlite.base import exact_sum_sql, exact_sum_total
from dealflow.core.sqlite.zones import fixed_offset, local_time_sql
from dealflow.people.models import User
from dealflow.reports.definitions import Column, ReportFilters

EXACT = Context(prec=MAX_PREC)
# A quotient that does not end (1000 / 3) needs a bound: 60 digits, far beyond any rounding.
DIVISION = Context(prec=60)
CENT = Decimal("0.01")
TENTH = Decimal("0.1")
FRACTION = Decimal("0.0001")
SECONDS_PER_DAY = 86400

PERIOD = frozenset({"period_start", "period_end"})
PEOPLE = frozenset({"owner_id", "team_id", "lead_source"})
STANDARD = PERIOD | PEOPLE


# -- values -------------------------------------------------------------------------------


def money(value: Decimal | int | None) -> Decimal:
    """Money as Decimal with 2 places (0.00 for none), rounded half up."""
    if value is None:
        return Decimal("0.00")
    rounded = Decimal(value).quantize(CENT, ROUND_HALF_UP, context=EXACT)
    return rounded if rounded else abs(rounded)


def fraction(part: Decimal | int, whole: Decimal | int | None) -> Decimal | None:
    """part / whole as a fraction rounded half up to 4 places; None when whole is 0 or None."""
    if not whole:
        return None
    quotient = DIVISION.divide(Decimal(part), Decimal(whole))
    return quotient.quantize(FRACTION, ROUND_HALF_UP, context=EXACT)


def days(value: Decimal | float | int | None) -> Decimal | None:
    """Days as Decimal with 1 place, rounded half up; None for none."""
    if value is None:
        return None
    return Decimal(str(value)).quantize(TENTH, ROUND_HALF_UP, context=EXACT)


def month_text(day: datetime.date | None) -> str | None:
    """`2026-03` for any day of March 2026."""
    return f"{day.year:04d}-{day.month:02d}" if day else None


# -- dates in the organisation's time zone --------------------------------------------------


def start_of(day: datetime.date) -> datetime.datetime:
    """The first moment of a day in the organisation's time zone (settings.TIME_ZONE)."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def end_of(day: datetime.date) -> datetime.datetime:
    """The first moment after a day (exclusive bound) in the organisation's time zone."""
    return start_of(day + datetime.timedelta(days=1))


def created_in_period(filters: ReportFilters, field: str = "created_at") -> Q:
    """Records created (a datetime field) on the period's days, bounds inclusive."""
    condition = Q()
    if filters.period_start:
        condition &= Q(**{f"{field}__gte": start_of(filters.period_start)})
    if filters.period_end:
        condition &= Q(**{f"{field}__lt": end_of(filters.period_end)})
    return condition


def dated_in_period(filters: ReportFilters, field: str) -> Q:
    """Records whose date field falls in the period, bounds inclusive."""
    condition = Q()
    if filters.period_start:
        condition &= Q(**{f"{field}__gte": filters.period_start})
    if filters.period_end:
        condition &= Q(**{f"{field}__lte": filters.period_end})
    return condition


def people(filters: ReportFilters, owner_field: str, source_field: str = "lead_source") -> Q:
    """The owner, team (the owner's team) and lead-source filters as one condition."""
    condition = Q()
    if filters.owner_id is not None:
        condition &= Q(**{f"{owner_field}_id": filters.owner_id})
    if filters.team_id is not None:
        condition &= Q(**{f"{owner_field}__team_id": filters.team_id})
    if filters.lead_source is not None:
        condition &= Q(**{source_field: picklist_spelling("lead_source", filters.lead_source)})
    return condition


def visible(user: Any, queryset: QuerySet) -> QuerySet:
    """The records of the queryset the user may see (core/access.py), without ordering."""
    return readable(user, queryset).order_by()


def among(field: str, queryset: QuerySet) -> Q:
    """`field` among the queryset's primary keys; Q() (no condition, no subquery for the
    database to join) when the queryset is every row: an admin's unfiltered report."""
    if not queryset.query.where:
        return Q()
    return Q(**{f"{field}__in": queryset.values("pk")})


class DaysBetween(Func):
    """Whole days from one date to another (end - start), an integer on both databases."""

    output_field = IntegerField()

    def __init__(self, start: Any, end: Any) -> None:
        super().__init__(start, end)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        start, end = (compiler.compile(expression) for expression in self.source_expressions)
        sql = f"CAST(ROUND(julianday({end[0]}) - julianday({start[0]})) AS INTEGER)"
        return sql, (*end[1], *start[1])

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        start, end = (compiler.compile(expression) for expression in self.source_expressions)
        return f"(({end[0]})::date - ({start[0]})::date)", (*end[1], *start[1])


class WholeDaysSince(Func):
    """Whole days from a datetime column to `now`, as Python's timedelta counts them
    ((now - moment).days: floored), an integer on both databases, for a column read once
    per row (a Subquery's value costs nothing more). PostgreSQL: the day field of the
    interval between two timestamptz, which subtraction gives in whole days and hours
    under 24 (a moment after now may give 0 where Python gives -1: callers clamp at 0).
    SQLite: Django's stored text "YYYY-MM-DD HH:MM:SS[.ffffff]" read without parsing:
    the days between the two dates (julianday of a date is exact), one less when the
    moment's time of day is after now's (times of day of that form compare as text)."""

    output_field = IntegerField()

    def __init__(self, moment: Any, now: datetime.datetime) -> None:
        super().__init__(moment)
        self.now = now

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        column, params = compiler.compile(self.source_expressions[0])
        stored = str(connection.ops.adapt_datetimefield_value(self.now))
        sql = (
            f"(CAST(julianday(%s) - julianday(substr({column}, 1, 10)) AS INTEGER)"
            f" - (substr({column}, 12) > %s))"
        )
        return sql, (stored[:10], *params, *params, stored[11:])

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        column, params = compiler.compile(self.source_expressions[0])
        return f"CAST(EXTRACT(DAY FROM (%s - {column})) AS integer)", (self.now, *params)


def _local_on_sqlite(
    expression: Any, compiler: Any, connection: Any, function: str, fallback: Any
) -> tuple[str, tuple[Any, ...]] | None:
    """SQLite SQL of `function` (a local_time_sql prefix) over the local time of
    `expression`'s datetime field, in C (core/sqlite/zones.py), with `fallback` (SQL,
    params) for the rows outside its window; None when that does not apply (a field
    SQL with parameters, a connection zone other than UTC): Django's own SQL then."""
    column, params = compiler.compile(expression.lhs)
    fallback_sql, fallback_params = fallback
    if params or connection.timezone_name != "UTC" or not settings.USE_TZ:
        return None
    zone = expression.tzinfo or timezone.get_current_timezone()
    # A zone with one offset at every instant has no fallback in its SQL, nor its params.
    used = tuple(fallback_params) if fixed_offset(zone) is None else ()
    return local_time_sql(function, column, zone, fallback_sql), used


class LocalDate(TruncDate):
    """The date of a datetime field in the organisation's time zone (a date).

    PostgreSQL: TruncDate (`(created_at AT TIME ZONE 'zone')::date`). SQLite: SQLite's
    `date()` shifted by the zone's offset at each instant, chosen in SQL
    (core/sqlite/zones.py), instead of Django's Python function called once per row;
    the same dates (tests/reports/test_local_dates.py)."""

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        fallback = super().as_sql(compiler, connection, **extra)
        found = _local_on_sqlite(self, compiler, connection, "date(", fallback)
        return found or fallback


class LocalMonth(TruncMonth):
    """The first day of the month (a date) of a date field, or of a datetime field in
    the organisation's time zone.

    PostgreSQL: TruncMonth (`date_trunc('month', ...)`). SQLite: `strftime('%Y-%m-01',
    ...)` in C, for a datetime field shifted by the zone's offset (core/sqlite/zones.py),
    instead of Django's Python function called once per row."""

    output_field = DateField()

    def __init__(self, expression: Any, **extra: Any) -> None:
        super().__init__(expression, output_field=DateField(), **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        if not isinstance(self.lhs.output_field, DateTimeField):
            column, params = compiler.compile(self.lhs)
            return f"strftime('%%Y-%%m-01', {column})", params
        cast_sql, cast_params = LocalDate(self.lhs, tzinfo=self.tzinfo).as_sql(compiler, connection)
        fallback = (f"strftime('%%Y-%%m-01', {cast_sql})", cast_params)
        found = _local_on_sqlite(self, compiler, connection, "strftime('%%Y-%%m-01', ", fallback)
        return found or fallback


def local_date(field: str) -> LocalDate:
    """The date of a datetime field in the organisation's time zone."""
    return LocalDate(field, tzinfo=timezone.get_current_timezone())


def local_month(field: str) -> LocalMonth:
    """The first day of the month (a date) of a datetime field in the organisation's
    time zone."""
    return LocalMonth(field, tzinfo=timezone.get_current_timezone())


def month_of(field: str) -> LocalMonth:
    """The first day of the month of a date field."""
    return LocalMonth(field)


def close_days() -> DaysBetween:
    """Days from an opportunity's creation (its local date) to its close date."""
    return DaysBetween(local_date("created_at"), F("close_date"))


# -- people ---------------------------------------------------------------------------------


def user_names(user_ids: Iterable[int | None]) -> dict[int, str]:
    """{user id: full name or username} (one query; none for none)."""
    wanted = {pk for pk in user_ids if pk}
    if not wanted:
        return {}
    found = User.objects.filter(pk__in=wanted).values_list(
        "pk", "first_name", "last_name", "username"
    )
    return {
        pk: " ".join(part for part in (first, last) if part) or username
        for pk, first, last, username in found
    }


def owner_cells(owner_ids: Iterable[int | None]) -> tuple[dict[Any, str], dict[Any, str | None]]:
    """({owner id: name}, {owner id: public id}) for every given owner ("" and None for
    no owner): a long list's owner cells by two lookups a row (one query)."""
    wanted = set(owner_ids)
    names = user_names(wanted)
    return (
        {owner_id: names.get(owner_id, "") for owner_id in wanted},
        {owner_id: owner_public_id(owner_id) for owner_id in wanted},
    )


@functools.lru_cache(maxsize=4096)
def owner_public_id(owner_id: int | None) -> str | None:
    """A user's public id (cached: a list report names the same few owners on every row)."""
    return ids.encode("User", owner_id) if owner_id else None


OWNER_COLUMNS = [Column("owner", "Owner", "text"), Column("owner_id", "Owner id", "id")]


def period_drilldown(filters: ReportFilters, prefix: str, *, dated: bool) -> dict[str, str]:
    """The period as a list page's filters: `<prefix>_after`/`_before` (created, datetimes)
    or `close_date_from`/`_to` (dates)."""
    found: dict[str, str] = {}
    if dated:
        if filters.period_start:
            found[f"{prefix}_from"] = filters.period_start.isoformat()
        if filters.period_end:
            found[f"{prefix}_to"] = filters.period_end.isoformat()
        return found
    if filters.period_start:
        found[f"{prefix}_after"] = start_of(filters.period_start).isoformat()
    if filters.period_end:
        found[f"{prefix}_before"] = end_of(filters.period_end).isoformat()
    return found


def drilldown(object_name: str, filters: ReportFilters, **conditions: Any) -> dict[str, Any]:
    """What lists the records behind a row: the object and the list page's filters
    (OPPORTUNITY_LIST / LEAD_LIST names, owners as public ids). The team filter has no
    list equivalent and is left out."""
    found: dict[str, Any] = {}
    if filters.owner_id is not None and conditions.get("owner") is None:
        found["owner"] = owner_public_id(filters.owner_id)
    if filters.lead_source is not None:
        found["lead_source"] = picklist_spelling("lead_source", filters.lead_source)
    for name, value in conditions.items():
        if value is None:
            continue
        if isinstance(value, datetime.date):
            value = value.isoformat()
        found[name] = value
    return {"object": object_name, "filters": found}


# -- averages and medians in the database -----------------------------------------------------


def _ranked_sql(inner_sql: str, *, grouped: bool = True) -> str:
    """SQLite: per group of `inner_sql`'s (group_key, value) rows: the count, the total,
    and the total and count of the middle one or two values by ROW_NUMBER (their mean
    is the median). Sums, not AVG: SQLite's AVG is a float, inexact beyond 2**53; and
    exact sums (core/sqlite's exact_sum_sql, in C), or SQLite's SUM inside
    core.fields.exact_sums_run (report_run), which runs again split if SUM overflows.
    Not `grouped` (every row's group_key the same): one row numbering and no GROUP BY,
    which SQLite would otherwise sort for (about a third of deal_size's time); the
    group_key is then 0, and the count 0 when there are no values."""
    middle = "position IN ((entries + 1) / 2, (entries + 2) / 2)"
    total = (lambda argument: f"SUM({argument})") if native_sums() else exact_sum_sql
    partition, key, group = (
        ("PARTITION BY group_key ", "group_key", " GROUP BY group_key")
        if grouped
        else ("", "0", "")
    )
    return (
        f"SELECT {key}, COUNT(*), {total('value')}, "
        f"{total(f'CASE WHEN {middle} THEN value END')}, "
        f"COUNT(CASE WHEN {middle} THEN 1 END) "
        f"FROM (SELECT {key} AS group_key, value, "
        f"ROW_NUMBER() OVER ({partition}ORDER BY value) AS position, "
        f"COUNT(*) OVER ({partition.strip()}) AS entries "
        f"FROM ({inner_sql}) AS grouped_values WHERE value IS NOT NULL) AS ranked{group}"
    )


# The lower and the upper middle of n sorted values: percentile_disc(f) is the value at
# position ceil(f x n), so 0.5 gives n/2 (even n) or (n + 1)/2 (odd n), and 0.5 + 1e-12
# gives n/2 + 1 or (n + 1)/2, for any n below 5 x 10**11.
_MIDDLES = "ARRAY[0.5, 0.500000000001]"


def _ordered_sql(inner_sql: str, *, grouped: bool = True) -> str:
    """PostgreSQL: the same figures by one ordered-set aggregate, without numbering rows:
    the lower and upper middle values in one sort (percentile_disc, exact for NUMERIC,
    unlike percentile_cont's float). Not `grouped`: one aggregate, no GROUP BY."""
    key, group = ("group_key, ", " GROUP BY group_key") if grouped else ("", "")
    return (
        f"SELECT {key or '0, '}entries, total, middles[1] + middles[2], 2 FROM ("
        f"SELECT {key}COUNT(*) AS entries, SUM(value) AS total, "
        f"percentile_disc({_MIDDLES}) WITHIN GROUP (ORDER BY value) AS middles "
        f"FROM ({inner_sql}) AS grouped_values WHERE value IS NOT NULL{group}"
        ") AS grouped"
    )


def averages_and_medians(
    inner_sql: str, params: Sequence[Any], *, stored_places: int = 0, grouped: bool = True
) -> dict[Any, tuple[int, Decimal, Decimal]]:
    """{group key: (count, mean, median)} of the non-null values of a query selecting
    `group_key` and `value`, exact as Decimal (one query; groups without values are
    left out). The total is summed exactly (NUMERIC on PostgreSQL, core/sqlite's
    exact_sum_sql on SQLite) and the mean is total / count here; the median is the middle
    value or the mean of the middle two, on both databases. `stored_places`: the
    decimal places of a decimal column's value, which SQLite stores in smallest units.
    `grouped=False`: every row has the same group_key (an overall figure): keyed 0,
    computed without a GROUP BY."""
    from django.db import connection

    if connection.vendor == "postgresql":
        sql, scale = _ordered_sql(inner_sql, grouped=grouped), 0
    else:
        sql, scale = _ranked_sql(inner_sql, grouped=grouped), stored_places
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        found = cursor.fetchall()
    result = {}
    for key, count, summed, middle_summed, middle_count in found:
        if not count:  # no values at all (an ungrouped aggregate's one row)
            continue
        summed_value = Decimal(str(exact_sum_total(summed))).scaleb(-scale)
        middle_value = Decimal(str(exact_sum_total(middle_summed))).scaleb(-scale)
        result[key] = (
            count,
            DIVISION.divide(summed_value, count),
            DIVISION.divide(middle_value, middle_count),
        )
    return result


def fetch_all(queryset: QuerySet) -> list[tuple[Any, ...]]:
    """Every row of a values_list queryset, fetched in one go by the driver: without
    Django's iteration in chunks of 100 and its converters (0.5 s of 198k rows on
    PostgreSQL). Values come as the driver reads them: on SQLite, dates and datetimes
    are text and decimals integers of smallest units; the caller converts those."""
    from django.db import connection

    sql, params = queryset_sql(queryset)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def queryset_sql(queryset: QuerySet) -> tuple[str, tuple[Any, ...]]:
    """The SQL and parameters of a queryset, to nest in hand-written SQL (values bound
    as parameters, never spliced)."""
    sql, params = queryset.query.sql_with_params()
    return sql, tuple(params)
