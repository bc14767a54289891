"""Deal reports: win rate, deal size, sales cycle, stage duration, stalled deals and the
leaderboard (DOMAIN.md sections 4 and 9)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from dealflow.core import ids
from dealflow.core.fields import ExactSum
from dealflow.core.sqlite.base import from_smallest_unit
from dealflow.reports.definitions import Column, ReportFilters, ReportResult
from dealflow.reports.selectors.common import (
    OWNER_COLUMNS,
    SECONDS_PER_DAY,
    WholeDaysSince,
    averages_and_medians,
    close_days,
    dated_in_period,
    days,
    drilldown,
    end_of,
    fetch_all,
    fraction,
    money,
    owner_cells,
    owner_public_id,
    people,
    queryset_sql,
    start_of,
    user_names,
    visible,
)
from dealflow.sales.models import Opportunity, OpportunityHistory
from dealflow.sales.selectors import (
    IDLE_REASON,
    close_date_reason,
    idle_condition,
    stage_name,
    stage_stall_reason,
    stages,
    stalled_condition,
)

ALL = "All"  # the owner cell of an overall row


def _closed(user: Any, filters: ReportFilters, **conditions: Any) -> QuerySet[Opportunity]:
    """Closed opportunities the user may see, closed (close date) in the period."""
    return visible(user, Opportunity.objects.filter(is_closed=True, **conditions)).filter(
        people(filters, "owner"), dated_in_period(filters, "close_date")
    )


def _grouping_columns(filters: ReportFilters) -> list[Column]:
    return OWNER_COLUMNS if filters.group_by == "owner" else []


def _grouped(
    queryset: QuerySet, filters: ReportFilters, sums: dict[str, Any]
) -> list[tuple[int | None, dict[str, Any]]]:
    """[(owner id or None for overall, sums)] ordered by owner name (one query)."""
    if filters.group_by != "owner":
        return [(None, queryset.aggregate(**sums))]
    found = list(queryset.values("owner_id").annotate(**sums))
    names = user_names(row["owner_id"] for row in found)
    found.sort(key=lambda row: (names.get(row["owner_id"], "").casefold(), row["owner_id"]))
    return [(row["owner_id"], row) for row in found]


def _owner_cells(owner_id: int | None, names: dict[int, str]) -> dict[str, Any]:
    return {
        "owner": names.get(owner_id, "") if owner_id else ALL,
        "owner_id": owner_public_id(owner_id),
    }


def _with_owner(
    filters: ReportFilters, grouped: list[tuple[int | None, dict[str, Any]]], cells: Callable
) -> list[dict[str, Any]]:
    names = user_names(owner_id for owner_id, _sums in grouped)
    rows = []
    for owner_id, sums in grouped:
        row = cells(sums, owner_id)
        if row is None:
            continue
        if filters.group_by == "owner":
            row = {**_owner_cells(owner_id, names), **row}
        rows.append(row)
    return rows


# -- win_rate -------------------------------------------------------------------------------


def win_rate_columns(filters: ReportFilters) -> list[Column]:
    return [
        *_grouping_columns(filters),
        Column("closed", "Closed deals", "integer"),
        Column("won", "Won deals", "integer"),
        Column("win_rate", "Win rate (count)", "fraction"),
        Column("closed_amount", "Closed amount", "money"),
        Column("won_amount", "Won amount", "money"),
        Column("win_rate_amount", "Win rate (amount)", "fraction"),
    ]


def win_rate(*, user: Any, filters: ReportFilters) -> list[dict[str, Any]]:
    """Closed won / all closed opportunities (close date in the period) the user may
    see, by count and by amount (fractions, 4 places), overall (the default) or by owner.
    DOMAIN.md section 9. One query (and one for owner names)."""
    sums = {
        "closed": Count("id"),
        "won": Count("id", filter=Q(is_won=True)),
        "closed_amount": ExactSum("amount"),
        "won_amount": ExactSum("amount", filter=Q(is_won=True)),
    }

    def cells(found: dict[str, Any], owner_id: int | None) -> dict[str, Any] | None:
        if not found["closed"]:
            return None
        closed_amount, won_amount = money(found["closed_amount"]), money(found["won_amount"])
        return {
            "closed": found["closed"],
            "won": found["won"],
            "win_rate": fraction(found["won"], found["closed"]),
            "closed_amount": closed_amount,
            "won_amount": won_amount,
            "win_rate_amount": fraction(won_amount, closed_amount),
            "drilldown": drilldown(
                "Opportunity",
                filters,
                owner=owner_public_id(owner_id),
                is_closed=True,
                close_date_from=filters.period_start,
                close_date_to=filters.period_end,
            ),
        }

    return _with_owner(filters, _grouped(_closed(user, filters), filters, sums), cells)


# -- deal_size and sales_cycle: average and median over won deals ----------------------------


def _won_values(
    user: Any, filters: ReportFilters, column: Any, *, stored_places: int = 0
) -> list[tuple[int | None, dict[str, Any]]]:
    """[(owner id, or None overall, {"deals", "mean", "median"})] of a column's non-null
    values over won deals, ordered by owner name (one query, and one for names)."""
    key = F("owner_id") if filters.group_by == "owner" else Value(0)
    won = (
        _closed(user, filters, is_won=True)
        .annotate(group_key=key, value=column)
        .values_list("group_key", "value")
    )
    found = averages_and_medians(
        *queryset_sql(won), stored_places=stored_places, grouped=filters.group_by == "owner"
    )
    grouped = [
        (owner_id or None, {"deals": deals, "mean": mean, "median": middle})
        for owner_id, (deals, mean, middle) in found.items()
    ]
    names = user_names(owner_id for owner_id, _found in grouped)
    return sorted(grouped, key=lambda item: (names.get(item[0] or 0, "").casefold(), item[0] or 0))


def deal_size_columns(filters: ReportFilters) -> list[Column]:
    return [
        *_grouping_columns(filters),
        Column("deals", "Won deals", "integer"),
        Column("total_amount", "Total amount", "money"),
        Column("average_amount", "Average amount", "money"),
        Column("median_amount", "Median amount", "money"),
    ]


def _won_drilldown(filters: ReportFilters, owner_id: int | None) -> dict[str, Any]:
    return drilldown(
        "Opportunity",
        filters,
        owner=owner_public_id(owner_id),
        is_won=True,
        close_date_from=filters.period_start,
        close_date_to=filters.period_end,
    )


def deal_size(*, user: Any, filters: ReportFilters) -> list[dict[str, Any]]:
    """Average and median amount of won opportunities (close date in the period) the
    user may see, overall or by owner; deals without an amount are not counted. Money
    exact, rounded half up to cents. DOMAIN.md section 9. One query (and one for names)."""
    amount = Opportunity._meta.get_field("amount")
    grouped = _won_values(user, filters, F("amount"), stored_places=amount.decimal_places)
    return _with_owner(
        filters,
        grouped,
        lambda found, owner_id: {
            "deals": found["deals"],
            "total_amount": money(found["mean"] * found["deals"]),
            "average_amount": money(found["mean"]),
            "median_amount": money(found["median"]),
            "drilldown": _won_drilldown(filters, owner_id),
        },
    )


def sales_cycle_columns(filters: ReportFilters) -> list[Column]:
    return [
        *_grouping_columns(filters),
        Column("deals", "Won deals", "integer"),
        Column("average_days", "Average days", "days"),
        Column("median_days", "Median days", "days"),
    ]


def sales_cycle(*, user: Any, filters: ReportFilters) -> list[dict[str, Any]]:
    """Days from created (its date in the organisation's time zone) to the close date of
    won opportunities (close date in the period) the user may see: average and median,
    1 place; overall or by owner. Salesforce's Age of a closed opportunity. One query
    (and one for names)."""
    grouped = _won_values(user, filters, close_days())
    return _with_owner(
        filters,
        grouped,
        lambda found, owner_id: {
            "deals": found["deals"],
            "average_days": days(found["mean"]),
            "median_days": days(found["median"]),
            "drilldown": _won_drilldown(filters, owner_id),
        },
    )


# -- stage_duration -------------------------------------------------------------------------


def stage_duration_columns(filters: ReportFilters) -> list[Column]:
    return [
        Column("stage", "Stage", "text"),
        Column("entries", "Times entered", "integer"),
        Column("average_days", "Average days", "days"),
        Column("median_days", "Median days", "days"),
    ]


def stage_duration(*, user: Any, filters: ReportFilters) -> list[dict[str, Any]]:
    """Average and median days spent in each open stage, from the stage history
    (DOMAIN.md section 4): a stay starts with a history row whose stage differs from the
    one before it (or a deal's first row) and ends at the next such row, or now for the
    deal's current stage. Closed stages are ends, not stays, and are not listed. The
    period filters on the day a stay started; owner, team and lead source are the
    opportunity's. One query over the stage-change rows of the visible deals, each with
    its stored end (OpportunityHistory.stage_left_at, kept as stages change): no walk
    of the history."""
    opportunities = visible(user, Opportunity.objects.all()).filter(people(filters, "owner"))
    found = averages_and_medians(*_stays_sql(opportunities, filters))
    order = {stage.name: (stage.sort_order, stage.name) for stage in stages.get()}
    rows = []
    for name in sorted(found, key=lambda name: order.get(name, (10**9, name))):
        entries, mean, middle = found[name]
        rows.append(
            {
                "stage": name,
                "entries": entries,
                "average_days": days(mean / SECONDS_PER_DAY),
                "median_days": days(middle / SECONDS_PER_DAY),
                "drilldown": drilldown("Opportunity", filters, stage=name),
            }
        )
    return rows


def _stays_sql(opportunities: QuerySet, filters: ReportFilters) -> tuple[str, list[Any]]:
    """SQL selecting (group_key: stage name, value: whole seconds) of each stay in an
    open stage of the given opportunities begun in the period: a stage-change row, from
    its created_at to its stored stage_left_at (the deal's next stage change), or now."""
    ids_sql, ids_params = "", ()
    if opportunities.query.where:  # else every deal: no subquery to join
        ids_sql, ids_params = queryset_sql(opportunities.values("pk"))
    history = connection.ops.quote_name(OpportunityHistory._meta.db_table)
    now = _db_datetime(timezone.now())
    if connection.vendor == "postgresql":
        seconds = "ROUND(EXTRACT(EPOCH FROM (COALESCE(stage_left_at, %s) - created_at)))"
    else:
        seconds = (
            "CAST(ROUND((julianday(COALESCE(stage_left_at, %s)) - julianday(created_at))"
            " * 86400) AS INTEGER)"
        )
    conditions = ["stage_name <> previous_stage_name"]
    params: list[Any] = []
    if ids_sql:
        conditions.append(f"opportunity_id IN ({ids_sql})")
        params.extend(ids_params)
    closed = [stage.name for stage in stages.get() if stage.is_closed]
    if closed:
        conditions.append(f"stage_name NOT IN ({', '.join(['%s'] * len(closed))})")
        params.extend(closed)
    if filters.period_start:
        conditions.append("created_at >= %s")
        params.append(_db_datetime(start_of(filters.period_start)))
    if filters.period_end:
        conditions.append("created_at < %s")
        params.append(_db_datetime(end_of(filters.period_end)))
    sql = (
        f"SELECT stage_name AS group_key, {seconds} AS value "
        f"FROM {history} WHERE {' AND '.join(conditions)}"
    )
    # In the order of the placeholders: now (in the SELECT), then the conditions.
    return sql, [now, *params]


def _db_datetime(moment: Any) -> Any:
    """A datetime as the database compares it with a stored one."""
    return connection.ops.adapt_datetimefield_value(moment)


# -- stalled_deals --------------------------------------------------------------------------


def stalled_deals_columns(filters: ReportFilters) -> list[Column]:
    return [
        Column("opportunity_id", "Opportunity id", "id"),
        Column("opportunity", "Opportunity", "text"),
        Column("stage", "Stage", "text"),
        Column("amount", "Amount", "money"),
        Column("close_date", "Close date", "date"),
        *OWNER_COLUMNS,
        Column("reasons", "Why stalled", "text"),
    ]


def stalled_deals(*, user: Any, filters: ReportFilters) -> list[dict[str, Any]]:
    """Open opportunities the user may see that are stalled now, with the reasons (issue
    7's rule, sales.selectors.stalled_condition: no stage change for the stage's
    `stall_days`, no activity for IDLE_DAYS, or a close date passed), by close date. The
    period filters on the close date. One query (and one for the owners' names): when
    each deal entered its stage and whether it is idle are read with it, and the
    reasons worded by sales.selectors.stall_reasons."""
    now = timezone.now()
    return _stalled_rows(fetch_all(_stalled_values(_stalled(user, filters, now), now)), now)


def stalled_deals_first(
    *, user: Any, filters: ReportFilters, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """(the first `limit` rows of stalled_deals, how many stalled deals there are): the
    dashboard's table and its "N more", without the reasons of the deals it does not
    show. Three queries: the count, the rows (by close date off its index, stopping at
    `limit`), the owners' names."""
    now = timezone.now()
    stalled = _stalled(user, filters, now)
    total = stalled.count()
    if not total:
        return [], 0
    return _stalled_rows(fetch_all(_stalled_values(stalled, now)[:limit]), now), total


def _stalled(user: Any, filters: ReportFilters, now: datetime.datetime) -> QuerySet[Opportunity]:
    return visible(user, Opportunity.objects.filter(stalled_condition(now))).filter(
        people(filters, "owner"), dated_in_period(filters, "close_date")
    )


def _stalled_values(stalled: QuerySet[Opportunity], now: datetime.datetime) -> QuerySet:
    """The deals with the whole days since they entered their stage and whether they are
    idle, by close date."""
    # The last stage change: read backwards off opportunity_history_idx (opportunity,
    # created_at), stopping at the first row that changes the stage, rather than
    # aggregating every row of the deal (1.7 s of the 2.7 s at 300k deals); its days to
    # now counted by the database (WholeDaysSince), not parsed and counted per row here.
    entered = (
        OpportunityHistory.objects.filter(opportunity_id=OuterRef("pk"))
        .exclude(stage_name=F("previous_stage_name"))
        .order_by("-created_at")
        .values(days=WholeDaysSince("created_at", now))[:1]
    )
    return (
        stalled.annotate(
            days_in_stage=Coalesce(Subquery(entered), WholeDaysSince("created_at", now)),
            idle=ExpressionWrapper(idle_condition(now), output_field=BooleanField()),
        )
        .order_by("close_date", "id")
        .values_list(
            "id", "name", "stage_id", "amount", "close_date", "owner_id", "days_in_stage", "idle"
        )
    )


class _StallReasons:
    """sales.selectors.stall_reasons joined by "; ", from its three rules' words, each
    worded once per distinct input: the stage rule per (stage, whole days in it) past the
    stage's limit, the close-date rule per passed close date, the idle rule's constant,
    and each combination of the three joined once. A deal 0 days in its stage (stall_days
    is never negative), closing today and not idle meets none of them
    (tests/reports/test_deals.py checks the words against stall_reasons'). Stages come
    from the stage cache, which reloads once for an unknown id. At 1M leads, 31k stalled
    deals have 29k distinct combinations of the four, but a few thousand of each part."""

    def __init__(self, today: datetime.date) -> None:
        self.today = today
        self.stages = {stage.pk: stage for stage in stages.get()}
        self.stage_parts: dict[tuple[int, int], str] = {}
        self.close_parts: dict[datetime.date, str] = {}
        self.joined: dict[tuple[str, str, bool], str] = {}

    def __call__(self, stage_id: int, close_date: datetime.date, days: int, idle: bool) -> str:
        # Called for each of many rows: lookups first, the words only for a new input.
        stage = self.stages.get(stage_id) or self._stage(stage_id)
        limit = stage.stall_days if stage is not None else None
        stage_part = ""
        if limit is not None and days > limit:
            stage_part = self.stage_parts.get((stage_id, days)) or self._stage_part(stage, days)
        close_part = ""
        if close_date < self.today:
            close_part = self.close_parts.get(close_date) or self._close_part(close_date)
        key = (stage_part, close_part, bool(idle))
        return self.joined.get(key) or self._join(key)

    def _stage(self, stage_id: int) -> Any:
        stage = self.stages[stage_id] = stages.find(lambda found: found.pk == stage_id)
        return stage

    def _stage_part(self, stage: Any, days: int) -> str:
        part = self.stage_parts[stage.pk, days] = stage_stall_reason(stage, days) or ""
        return part

    def _close_part(self, close_date: datetime.date) -> str:
        part = self.close_parts[close_date] = close_date_reason(close_date, self.today) or ""
        return part

    def _join(self, key: tuple[str, str, bool]) -> str:
        stage_part, close_part, idle = key
        parts = (stage_part, close_part, IDLE_REASON if idle else "")
        joined = self.joined[key] = "; ".join(part for part in parts if part)
        return joined


def _stalled_rows(deals: list[tuple], now: datetime.datetime) -> list[dict[str, Any]]:
    """The report's rows of (id, name, stage id, amount, close date, owner id, whole days
    in the stage, idle) tuples as the driver reads them (fetch_all: on SQLite the amount
    in cents, idle 0 or 1), with the reasons in words."""
    today = timezone.localdate(now)
    owner_names, owner_public_ids = owner_cells(deal[5] for deal in deals)
    stage_names = {stage.pk: stage.name for stage in stages.get()}
    stage_label = stage_names.get
    reasons_of = _StallReasons(today)
    encode = ids.encoder("Opportunity")
    # On SQLite, as Django's converters would read the amount (core/sqlite); the close
    # date, a column declared date, comes parsed by the driver.
    amount_of = _SqliteAmounts() if connection.vendor == "sqlite" else _money_or_none
    # One comprehension: 31k rows at 1M leads.
    return [
        {
            "opportunity_id": encode(pk),
            "opportunity": name,
            "stage": stage_label(stage_id) or stage_name(stage_id),
            "amount": amount_of(amount),
            "close_date": close_date,
            "owner": owner_names[owner_id],
            "owner_id": owner_public_ids[owner_id],
            "reasons": reasons_of(stage_id, close_date, max(0, days_in_stage), idle),
        }
        for pk, name, stage_id, amount, close_date, owner_id, days_in_stage, idle in deals
    ]


def _money_or_none(amount: Decimal | None) -> Decimal | None:
    return money(amount) if amount is not None else None


class _SqliteAmounts:
    """SQLite's stored integers of smallest units as exact decimals (from_smallest_unit),
    each distinct amount converted once (a long list repeats its round amounts)."""

    def __init__(self) -> None:
        self.places = Opportunity._meta.get_field("amount").decimal_places
        self.amounts: dict[Any, Decimal | None] = {}

    def __call__(self, value: Any) -> Decimal | None:
        try:
            return self.amounts[value]
        except KeyError:
            found = self.amounts[value] = from_smallest_unit(value, self.places)
            return found


# -- leaderboard ----------------------------------------------------------------------------


def leaderboard_columns(filters: ReportFilters) -> list[Column]:
    return [
        Column("rank", "Rank", "integer"),
        *OWNER_COLUMNS,
        Column("won_amount", "Won amount", "money"),
        Column("won", "Won deals", "integer"),
    ]


def leaderboard(*, user: Any, filters: ReportFilters) -> list[dict[str, Any]]:
    """Closed-won amount and count by owner, opportunities closed (close date) in the
    period that the user may see, highest amount first (then most deals, then name);
    owners with equal amount and count share a rank. DOMAIN.md section 9. Two queries."""
    found = list(
        _closed(user, filters, is_won=True)
        .values("owner_id")
        .annotate(won=Count("id"), won_amount=ExactSum("amount"))
    )
    names = user_names(row["owner_id"] for row in found)
    found.sort(
        key=lambda row: (
            -money(row["won_amount"]),
            -row["won"],
            names.get(row["owner_id"], "").casefold(),
            row["owner_id"],
        )
    )
    rows: list[dict[str, Any]] = []
    for position, row in enumerate(found, 1):
        amount = money(row["won_amount"])
        rank = position
        if rows and (rows[-1]["won_amount"], rows[-1]["won"]) == (amount, row["won"]):
            rank = rows[-1]["rank"]
        rows.append(
            {
                "rank": rank,
                "owner": names.get(row["owner_id"], ""),
                "owner_id": owner_public_id(row["owner_id"]),
                "won_amount": amount,
                "won": row["won"],
                "drilldown": _won_drilldown(filters, row["owner_id"]),
            }
        )
    return rows


# -- the records behind a whole report (ReportDefinition.records) ------------------------


def stage_duration_records(result: ReportResult) -> None:
    """None: the opportunity list has no filter on the stages a deal passed through."""
    return None


def stalled_deals_records(result: ReportResult) -> dict[str, Any]:
    """The opportunity list's stalled deals under the report's filters (the period on
    the close date, as in the report; the team has no list filter)."""
    given = result.filters
    return drilldown(
        "Opportunity",
        given,
        stalled="true",
        is_closed="false",
        close_date_from=given.period_start,
        close_date_to=given.period_end,
    )
