"""Service levels for leads (issue 7, Build item 3): an open lead left untouched for more
working hours than the organisation's limit is overdue; its owner and their team's
managers are told (leads/tasks.py, `dealflow service-levels --notify`), and the
assignment rules may re-route it (`--reroute`, or the setting).

- The setting (ServiceLevelSetting, one row, cached per process like every configuration
  table, see core/cache.py): `response_hours` (default 8; None: no limit), the working
  days (Monday to Friday) and hours (09:00-17:00) in the site's time zone (TIME_ZONE), and
  `reroute_when_breached` (default off). Admins change it (`service_levels_set`, audited).
- The last touch of a lead is the latest of: its creation, an audit event on it naming
  `status`, `owner_user` or `owner_queue`, a task about it created or completed.
- A lead is overdue when it is open (not converted, its status not flagged closed) and
  the working hours from its last touch to now exceed the limit (`working_hours_between`,
  exact to the second, across nights, weekends and daylight-saving changes).

`overdue_leads` narrows in SQL first: a lead touched after the moment exactly `limit`
working hours ago (`overdue_cutoff`) cannot be overdue. The few leads left are then
measured exactly in Python, in batches, for the hours their reason tells. The same SQL
condition filters the lead list (`overdue_queryset`, `GET /leads?overdue=true`).
"""

from __future__ import annotations

import dataclasses
import datetime
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings as django_settings
from django.db import transaction
from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.utils import timezone

from dealflow.core.access import readable, require_admin
from dealflow.core.audit import audit_event, changes_since, snapshot
from dealflow.core.cache import ConfigurationCache, configuration_changed
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import AuditAction, AuditEvent
from dealflow.leads.models import Lead, ServiceLevelSetting
from dealflow.leads.selectors import LEAD_LIST, lead_statuses
from dealflow.sales.models import Task

# Audit event keys that touch a lead: a status or an owner change.
TOUCH_FIELDS = ("status", "owner_user", "owner_queue")
BATCH_SIZE = 500  # candidates measured per query
MOST_HOURS = 10_000  # the largest limit accepted (over a working year)
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
UNSET: Any = object()
# The lead list with the overdue filter, on overdue_queryset() only (the alias is not a
# column).
OVERDUE_LIST = dataclasses.replace(
    LEAD_LIST, filters={**LEAD_LIST.filters, "overdue": "is_overdue"}
)


@dataclass(frozen=True)
class ServiceLevels:
    """The setting as the rules read it. `working_days`: Python weekday numbers (Monday
    is 0); `day_start`/`day_end`: local wall times in `time_zone` (an IANA name)."""

    response_hours: int | None = 8
    working_days: tuple[int, ...] = (0, 1, 2, 3, 4)
    day_start: datetime.time = datetime.time(9)
    day_end: datetime.time = datetime.time(17)
    reroute_when_breached: bool = False
    time_zone: str = "UTC"

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


def _levels_of(row: ServiceLevelSetting | None) -> ServiceLevels:
    zone = django_settings.TIME_ZONE
    if row is None:
        return ServiceLevels(time_zone=zone)
    return ServiceLevels(
        response_hours=row.response_hours,
        working_days=tuple(sorted(row.working_days)),
        day_start=row.day_start,
        day_end=row.day_end,
        reroute_when_breached=row.reroute_when_breached,
        time_zone=zone,
    )


def _load() -> ServiceLevels:
    """The setting row (one query); the defaults when a flushed database has none."""
    return _levels_of(ServiceLevelSetting.objects.order_by("pk").first())


service_levels: ConfigurationCache[ServiceLevels] = ConfigurationCache(_load)


# ---------------------------------------------------------------------------------------
# Working hours (pure)


def _window(day: datetime.date, levels: ServiceLevels) -> tuple[datetime.datetime, ...]:
    """A working day's window as two UTC moments (local wall times in the site's zone)."""
    zone = levels.zone
    start = datetime.datetime.combine(day, levels.day_start, zone)
    end = datetime.datetime.combine(day, levels.day_end, zone)
    return start.astimezone(datetime.UTC), end.astimezone(datetime.UTC)


def _local_day(moment: datetime.datetime, levels: ServiceLevels) -> datetime.date:
    return moment.astimezone(levels.zone).date()


def working_hours_between(
    start: datetime.datetime, end: datetime.datetime, levels: ServiceLevels
) -> float:
    """Working hours (a float, exact to the second) from `start` to `end` (aware moments):
    the time inside the working days' windows, read in `levels.time_zone`. 0 when `end`
    is not after `start`. One step a calendar day between them, no query.

    Moments are compared in UTC: aware datetimes sharing a tzinfo compare by wall time,
    which is wrong across a daylight-saving change.
    """
    start, end = start.astimezone(datetime.UTC), end.astimezone(datetime.UTC)
    if end <= start:
        return 0.0
    seconds = 0.0
    day = _local_day(start, levels)
    last = _local_day(end, levels)
    while day <= last:
        if day.weekday() in levels.working_days:
            opens, closes = _window(day, levels)
            overlap = min(closes, end) - max(opens, start)
            if overlap > datetime.timedelta(0):
                seconds += overlap.total_seconds()
        day += datetime.timedelta(days=1)
    return seconds / 3600


def working_hours_before(
    end: datetime.datetime, hours: float, levels: ServiceLevels
) -> datetime.datetime | None:
    """The latest moment with exactly `hours` working hours from it to `end`: a lead
    touched after it cannot have more. None when the week has no working time."""
    if not levels.working_days or levels.day_end <= levels.day_start:
        return None
    end = end.astimezone(datetime.UTC)
    left = datetime.timedelta(hours=hours)
    day = _local_day(end, levels)
    while True:
        if day.weekday() in levels.working_days:
            opens, closes = _window(day, levels)
            closes = min(closes, end)
            if closes > opens:
                if closes - opens >= left:
                    return closes - left
                left -= closes - opens
        day -= datetime.timedelta(days=1)


def hours_text(hours: float) -> str:
    """Whole hours as `12`, others with one decimal (`8.5`), never rounded up to a limit."""
    tenths = int(hours * 10) / 10
    return str(int(tenths)) if tenths == int(tenths) else f"{tenths:.1f}"


def overdue_reason(hours: float, limit: int) -> str:
    return f"Untouched for {hours_text(hours)} working hours (limit {limit})"


# ---------------------------------------------------------------------------------------
# Settings (admins)


def _row() -> ServiceLevelSetting:
    """The setting row, locked (made when a flushed database has none)."""
    row = ServiceLevelSetting.objects.select_for_update().order_by("pk").first()
    return row or ServiceLevelSetting.objects.create()


def _invalid(name: str, message: str, code: ErrorCode = ErrorCode.INVALID_TYPE) -> DomainError:
    return DomainError(code, f"{name}: {message}", [name])


def _clean_hours(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid("response_hours", "expected a whole number of working hours or null (off)")
    if not 1 <= value <= MOST_HOURS:
        raise _invalid(
            "response_hours",
            f"1 to {MOST_HOURS} working hours, or null (off)",
            ErrorCode.NUMBER_OUTSIDE_VALID_RANGE,
        )
    return value


def _clean_days(value: Any) -> list[int]:
    if not isinstance(value, list) or not value:
        raise _invalid("working_days", f"expected a list of day names ({', '.join(DAY_NAMES)})")
    days = set()
    for item in value:
        if not isinstance(item, str) or item.capitalize() not in DAY_NAMES:
            raise _invalid(
                "working_days",
                f"{item!r} is not a day ({', '.join(DAY_NAMES)})",
                ErrorCode.INVALID_FIELD,
            )
        days.add(DAY_NAMES.index(item.capitalize()))
    return sorted(days)


def _clean_time(name: str, value: Any) -> datetime.time:
    if isinstance(value, str):
        try:
            moment = datetime.time.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is None:
            return moment
    raise _invalid(name, "expected a local time as HH:MM (24-hour)")


def _clean_flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _invalid("reroute_when_breached", "expected true or false")
    return value


def service_levels_set(
    *,
    actor: Any,
    response_hours: Any = UNSET,
    working_days: Any = UNSET,
    day_start: Any = UNSET,
    day_end: Any = UNSET,
    reroute_when_breached: Any = UNSET,
) -> ServiceLevels:
    """Change the service-level setting (admins only; what is not given stays).

    `response_hours`: 1 to MOST_HOURS, or None (off); `working_days`: day names
    ("Monday"); `day_start`/`day_end`: "HH:MM" local times, start before end;
    `reroute_when_breached`: a boolean. INVALID_TYPE / INVALID_FIELD /
    NUMBER_OUTSIDE_VALID_RANGE naming the field otherwise. Audited on the setting; every
    process sees the change on its next request.
    """
    require_admin(actor, "the service levels")
    with transaction.atomic():
        row = _row()
        names = ["response_hours", "working_days", "day_start", "day_end", "reroute_when_breached"]
        before = snapshot(row, names)
        if response_hours is not UNSET:
            row.response_hours = _clean_hours(response_hours)
        if working_days is not UNSET:
            row.working_days = _clean_days(working_days)
        if day_start is not UNSET:
            row.day_start = _clean_time("day_start", day_start)
        if day_end is not UNSET:
            row.day_end = _clean_time("day_end", day_end)
        if reroute_when_breached is not UNSET:
            row.reroute_when_breached = _clean_flag(reroute_when_breached)
        if row.day_end <= row.day_start:
            raise DomainError(
                ErrorCode.INVALID_FIELD,
                "day_end: the working day must end after it starts",
                ["day_start", "day_end"],
            )
        changes = changes_since(before, row)
        if changes:
            row.save()
            changes = {
                name: [
                    value.isoformat("minutes") if isinstance(value, datetime.time) else value
                    for value in values
                ]
                for name, values in changes.items()
            }
            audit_event(actor, row, AuditAction.UPDATE, changes).save()
            configuration_changed()
    return service_levels.get()


# ---------------------------------------------------------------------------------------
# The rule


@dataclass(frozen=True)
class OverdueLead:
    """An overdue lead as the command lists it, its email tells and the page shows."""

    id: int
    public_id: str
    name: str
    company: str
    owner_user_id: int | None
    owner_queue_id: int | None
    last_touch: datetime.datetime
    hours: float
    limit: int

    @property
    def reason(self) -> str:
        return overdue_reason(self.hours, self.limit)


def _touch_events() -> QuerySet[AuditEvent]:
    touched = Q()
    for name in TOUCH_FIELDS:
        touched |= Q(changes__has_key=name)
    return AuditEvent.objects.filter(
        touched, object_name=Lead.object_name, record_id=OuterRef("pk")
    )


def _open_leads() -> QuerySet[Lead]:
    closed = [status.pk for status in lead_statuses.get() if status.is_closed]
    return Lead.objects.filter(is_converted=False).exclude(status_id__in=closed)


def overdue_cutoff(now: datetime.datetime, levels: ServiceLevels) -> datetime.datetime | None:
    """The moment an open lead's last touch must be before to be overdue at `now` (None:
    the limit is off, or the week has no working time).

    It is `limit` working hours before `now` (working_hours_before), except that when
    that falls on a window's opening, the free time before the opening adds nothing: the
    touch must then be before the previous window's close. So "last touch < cutoff" is
    exactly "more than `limit` working hours since the last touch".
    """
    limit = levels.response_hours
    since = None if limit is None else working_hours_before(now, limit, levels)
    if since is None:
        return None
    if since == _window(_local_day(since, levels), levels)[0]:
        return working_hours_before(since, 0, levels)
    return since


def untouched_before_condition(cutoff: datetime.datetime) -> Q:
    """Leads with no touch at or after `cutoff` (an index range on created_at and indexed
    EXISTS on the audit events and tasks of the lead)."""
    events = _touch_events().filter(created_at__gte=cutoff)
    tasks = Task.objects.filter(lead_id=OuterRef("pk")).filter(
        Q(created_at__gte=cutoff) | Q(completed_at__gte=cutoff)
    )
    return Q(created_at__lt=cutoff) & ~Exists(events) & ~Exists(tasks)


def overdue_queryset(now: datetime.datetime | None = None) -> QuerySet[Lead]:
    """Leads with `is_overdue` (a boolean alias: open and untouched since the cutoff) to
    filter by; a condition in the query, so a list filtered by it keeps its keyset paging."""
    cutoff = overdue_cutoff(now or timezone.now(), service_levels.get())
    if cutoff is None:
        return Lead.objects.alias(is_overdue=Value(False, output_field=BooleanField()))
    closed = [status.pk for status in lead_statuses.get() if status.is_closed]
    condition = (
        Q(is_converted=False) & ~Q(status_id__in=closed) & untouched_before_condition(cutoff)
    )
    return Lead.objects.alias(is_overdue=ExpressionWrapper(condition, output_field=BooleanField()))


def last_touches(leads: QuerySet[Lead]) -> Iterator[tuple[Lead, datetime.datetime]]:
    """(lead, its last touch) for each lead of the queryset: one query."""
    latest_event = _touch_events().order_by("-created_at").values("created_at")[:1]
    latest_task = (
        Task.objects.filter(lead_id=OuterRef("pk")).order_by("-created_at").values("created_at")[:1]
    )
    latest_done = (
        Task.objects.filter(lead_id=OuterRef("pk"), completed_at__isnull=False)
        .order_by("-completed_at")
        .values("completed_at")[:1]
    )
    annotated = leads.annotate(
        touch_event=Subquery(latest_event),
        touch_task=Subquery(latest_task),
        touch_done=Subquery(latest_done),
    )
    for lead in annotated:
        moments = [lead.created_at, lead.touch_event, lead.touch_task, lead.touch_done]
        yield lead, max(moment for moment in moments if moment is not None)


def _measured(
    leads: QuerySet[Lead], levels: ServiceLevels, now: datetime.datetime
) -> Iterator[OverdueLead]:
    limit = levels.response_hours
    assert limit is not None
    for lead, touched in last_touches(leads):
        hours = working_hours_between(touched, now, levels)
        if hours > limit:
            yield OverdueLead(
                id=lead.pk,
                public_id=str(lead.public_id),
                name=" ".join(part for part in (lead.first_name, lead.last_name) if part),
                company=lead.company,
                owner_user_id=lead.owner_user_id,
                owner_queue_id=lead.owner_queue_id,
                last_touch=touched,
                hours=hours,
                limit=limit,
            )


def overdue_leads(
    *, actor: Any, now: datetime.datetime | None = None, lead_ids: Iterable[int] | None = None
) -> list[OverdueLead]:
    """The overdue leads the actor may see (None: the system, every lead), by id; only
    among `lead_ids` when given. [] when the limit is off.

    SQL keeps the open leads untouched since `overdue_cutoff(now)`; those are
    then measured exactly (working_hours_between) BATCH_SIZE at a time: one query per
    batch, plus one for the candidates' ids.
    """
    levels = service_levels.get()
    now = now or timezone.now()
    cutoff = overdue_cutoff(now, levels)
    if cutoff is None:
        return []
    candidates = _open_leads().filter(untouched_before_condition(cutoff))
    if actor is not None:
        candidates = readable(actor, candidates)
    if lead_ids is not None:
        candidates = candidates.filter(pk__in=list(lead_ids))
    found: list[OverdueLead] = []
    ids = list(candidates.order_by("pk").values_list("pk", flat=True))
    for first in range(0, len(ids), BATCH_SIZE):
        batch = Lead.objects.filter(pk__in=ids[first : first + BATCH_SIZE]).order_by("pk")
        found.extend(_measured(batch, levels, now))
    return found


def lead_overdue(lead: Lead, now: datetime.datetime | None = None) -> OverdueLead | None:
    """Whether one lead the caller already shows is overdue (for its page): no query for
    a converted or closed lead or when the limit is off, else one."""
    levels = service_levels.get()
    if levels.response_hours is None or lead.is_converted:
        return None
    status = lead_statuses.find(lambda status: status.pk == lead.status_id)
    if status is not None and status.is_closed:
        return None
    return next(_measured(Lead.objects.filter(pk=lead.pk), levels, now or timezone.now()), None)


# ---------------------------------------------------------------------------------------
# Re-routing


@dataclass(frozen=True)
class Rerouted:
    lead_public_id: str
    reason: str  # what the rules decided and why, or why nothing was done


def overdue_reroute(*, leads: Iterable[OverdueLead]) -> list[Rerouted]:
    """Run the assignment rules' on-demand service (automation.services.lead_assign) on
    each overdue lead, as the system; its decision is recorded with the breach first in
    its reason ("Service level: untouched for 9 working hours (limit 8); entry 1 ...").
    A lead the rules refuse (no active rules, converted since) is reported, not raised.
    When the rules give the lead the owner it has, nothing is kept (no decision, no turn of
    a round-robin used): re-recording it every run would bury the lead's history."""
    from dealflow.automation.services import lead_assign  # automation imports leads

    results = []
    for lead in leads:
        try:
            with transaction.atomic():
                decision = lead_assign(actor=None, lead=lead.id)
                owner = (decision.owner_user_id, decision.owner_queue_id)
                if owner == (lead.owner_user_id, lead.owner_queue_id):
                    raise _SameOwner
                decision.reason = f"Service level: {lead.reason.lower()}; {decision.reason}"
                decision.save(update_fields=["reason"])
        except _SameOwner:
            results.append(Rerouted(lead.public_id, "not re-routed: the rules give its owner"))
            continue
        except DomainError as error:
            results.append(Rerouted(lead.public_id, f"not re-routed: {error.message}"))
            continue
        results.append(Rerouted(lead.public_id, decision.reason))
    return results


class _SameOwner(Exception):
    """Raised inside a re-route's transaction to roll back a decision that changes nothing."""
