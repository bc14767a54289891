"""Pipeline snapshots and the pipeline as of a past day (DOMAIN.md section 9, issue 9).

A daily job (`take_pipeline_snapshot`, reports/tasks.py) stores, for each opportunity
that is open, or closed with a close date in the snapshot day's month or later, its
stage, amount, probability, forecast category, close date and owner. The pipeline as of
a day D is read from D's snapshot when one was taken; otherwise it is replayed from
OpportunityHistory: each opportunity created by the end of D takes the values of its
last history row on or before D (DOMAIN.md section 4: every change of amount,
probability, stage or close date appends one). Opportunities without a history row by
then are left out of the replay. Both answer the same (tests/reports/test_as_of.py)
except for the owner: a snapshot keeps the owner of the day, a replay knows only the
current owner (history does not record owner changes).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import F, OuterRef, Q, Subquery, Value
from django.utils import timezone

from dealflow.reports.models import PipelineSnapshot
from dealflow.reports.selectors.common import among, end_of, people, queryset_sql, start_of, visible
from dealflow.sales.models import Opportunity, OpportunityHistory
from dealflow.sales.selectors import stages

# Columns a snapshot row copies from its opportunity, in the INSERT's order.
_COPIED = ("stage_id", "amount", "probability", "forecast_category", "close_date", "owner_id")


def first_of_month(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def _kept(day: datetime.date) -> Q:
    """What a snapshot (and a replay) of `day` keeps: open deals, and closed deals whose
    close date is in the day's month or later (the months a forecast of that day covers)."""
    return Q(is_closed=False) | Q(close_date__gte=first_of_month(day))


def pipeline_snapshot_take(*, day: datetime.date | None = None) -> int:
    """Store the snapshot of `day` (default: today in the organisation's time zone) from
    the opportunities' current values; return how many rows it holds. One INSERT ...
    SELECT; taking the same day again replaces its rows (idempotent). System job: no
    access rules apply (reports apply them when they read)."""
    day = day or timezone.localdate()
    now = timezone.now()
    source = (
        Opportunity.objects.filter(_kept(day))
        .order_by()
        .annotate(
            snapshot_date_value=Value(day),
            created_value=Value(now),
        )
        .values_list("snapshot_date_value", "pk", *_COPIED, "created_value", "created_value")
    )
    select_sql, params = source.query.sql_with_params()
    table = connection.ops.quote_name(PipelineSnapshot._meta.db_table)
    columns = ", ".join(
        connection.ops.quote_name(name)
        for name in (
            "snapshot_date",
            "opportunity_id",
            *_COPIED,
            "created_at",
            "updated_at",
        )
    )
    with transaction.atomic(), connection.cursor() as cursor:
        PipelineSnapshot.objects.filter(snapshot_date=day).delete()
        cursor.execute(f"INSERT INTO {table} ({columns}) {select_sql}", params)
        return max(cursor.rowcount, 0)


def snapshot_exists(day: datetime.date) -> bool:
    return PipelineSnapshot.objects.filter(snapshot_date=day).exists()


def pipeline_as_of(user: Any, filters: Any, day: datetime.date) -> tuple[Any, str]:
    """The pipeline of `day` that the user may see (its opportunities visible now), as a
    queryset with the columns `stage_name`, `amount`, `probability`, `forecast_category`,
    `close_date`, and a word saying where it came from: "snapshot", "history" (SQLite's
    replay, a queryset too) or "replay" (PostgreSQL's, a ReplaySQL).

    Owner and team filter on the snapshot's owner, or on the current owner in a replay;
    the lead source is the opportunity's. One query to look for the snapshot."""
    opportunities = visible(user, Opportunity.objects.all())
    if snapshot_exists(day):
        rows = (
            PipelineSnapshot.objects.filter(among("opportunity", opportunities), snapshot_date=day)
            .filter(people(filters, "owner", "opportunity__lead_source"))
            .annotate(stage_name=F("stage__name"))
            .order_by()
        )
        return rows, "snapshot"
    end = end_of(day)
    deals = opportunities.filter(people(filters, "owner"))
    if connection.vendor == "postgresql":
        # Each deal's last row by DISTINCT ON, one pass over opportunity_history_idx,
        # aggregated straight from it (ReplaySQL).
        last_rows = (
            OpportunityHistory.objects.filter(
                among("opportunity", deals), created_at__lt=end, opportunity__created_at__lt=end
            )
            .order_by("opportunity_id", "-created_at", "-id")
            .distinct("opportunity_id")
            .values("stage_name", "amount", "probability", "forecast_category", "close_date")
        )
        return ReplaySQL(*queryset_sql(last_rows)), "replay"
    last_row = (
        OpportunityHistory.objects.filter(opportunity_id=OuterRef("pk"), created_at__lt=end)
        .order_by("-created_at", "-id")
        .values("pk")[:1]
    )
    replayed = (
        deals.filter(created_at__lt=end)
        .annotate(last_row=Subquery(last_row))
        .filter(last_row__isnull=False)
        .values("last_row")
    )
    closed_names = [stage.name for stage in stages.get() if stage.is_closed]
    history = OpportunityHistory.objects.filter(pk__in=replayed).order_by()
    history = history.filter(
        ~Q(stage_name__in=closed_names) | Q(close_date__gte=first_of_month(day))
    )
    return history, "history"


@dataclass(frozen=True)
class ReplaySQL:
    """PostgreSQL's replay: the SQL of each deal's last history row by the day (columns
    stage_name, amount, probability, forecast_category, close_date), aggregated by the
    reports with `aggregate` (its parameters bound, never spliced)."""

    sql: str
    params: tuple[Any, ...]

    def aggregate(
        self, select: str, group: str, conditions: list[tuple[str, list[Any]]]
    ) -> list[tuple[Any, ...]]:
        where = " AND ".join(condition for condition, _params in conditions)
        params = [value for _condition, values in conditions for value in values]
        sql = (
            f"SELECT {select} FROM ({self.sql}) AS replayed"
            f"{f' WHERE {where}' if where else ''} GROUP BY {group}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*self.params, *params])
            return cursor.fetchall()


def replay_conditions(filters: Any, *, open_only: bool = False) -> list[tuple[str, list[Any]]]:
    """The replay's conditions as SQL with parameters: open deals only, and the close
    date within the period."""
    conditions: list[tuple[str, list[Any]]] = []
    closed_names = [stage.name for stage in stages.get() if stage.is_closed]
    if open_only and closed_names:
        conditions.append(
            (f"stage_name NOT IN ({', '.join(['%s'] * len(closed_names))})", closed_names)
        )
    if filters.period_start:
        conditions.append(("close_date >= %s", [filters.period_start]))
    if filters.period_end:
        conditions.append(("close_date <= %s", [filters.period_end]))
    return conditions


def open_stage_condition(source: str) -> Q:
    """Rows of an as-of pipeline that are open deals."""
    if source == "snapshot":
        return Q(stage__is_closed=False)
    closed_names = [stage.name for stage in stages.get() if stage.is_closed]
    return ~Q(stage_name__in=closed_names)


__all__ = [
    "first_of_month",
    "open_stage_condition",
    "pipeline_as_of",
    "pipeline_snapshot_take",
    "snapshot_exists",
    "start_of",
]
