"""Reads of opportunities, contact roles and tasks, restricted to what the user may see."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import MAX_PREC, ROUND_HALF_UP, Context, Decimal
from typing import Any

from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
)
from django.utils import timezone

from dealflow.accounts.models import Account, Contact
from dealflow.core import ids, rows
from dealflow.core.access import readable
from dealflow.core.cache import ConfigurationCache
from dealflow.core.fields import ExactSum
from dealflow.core.matching import fold
from dealflow.core.models import AuditEvent
from dealflow.core.selectors import ListSpec, Page, page_of, picklist_spelling, record_get
from dealflow.leads.selectors import NO_LEAD_SOURCE
from dealflow.sales.models import (
    Opportunity,
    OpportunityContactRole,
    OpportunityHistory,
    OpportunityStage,
    Task,
)

_COMMON_FILTERS = {
    "owner": "owner",
    "created_after": "created_at__gte",
    "created_before": "created_at__lt",
    "modified_after": "updated_at__gte",
    "modified_before": "updated_at__lt",
}
OPPORTUNITY_LIST = ListSpec(
    filters={
        **_COMMON_FILTERS,
        "stage": "stage_id",
        "account": "account",
        "lead_source": "lead_source",
        "type": "type",
        "is_closed": "is_closed",
        "is_won": "is_won",
        "close_date_from": "close_date__gte",
        "close_date_to": "close_date__lte",
        # Salesforce's ForecastCategoryName (Pipeline, Best Case, Commit, Closed, Omitted):
        # the forecast report's segments (docs/reports.md).
        "forecast_category": "forecast_category",
    },
    search=("name_key",),
    orderings={
        "created_date": "created_at",
        "last_modified_date": "updated_at",
        "close_date": "close_date",
        "name": "name_key",
    },
    default_order="close_date",
    picklists={"lead_source": "lead_source", "type": "opportunity_type"},
)
# The opportunity list with the stalled filter, on stalled_queryset() only (the alias
# is not a column: the pages parse `stalled` themselves).
_STALLED_LIST = dataclasses.replace(
    OPPORTUNITY_LIST, filters={**OPPORTUNITY_LIST.filters, "stalled": "is_stalled"}
)
CONTACT_ROLE_LIST = ListSpec(
    filters={"opportunity": "opportunity", "contact": "contact", "is_primary": "is_primary"},
    search=("role_key",),
    orderings={"created_date": "created_at"},
    default_order="created_date",
)
TASK_LIST = ListSpec(
    filters={
        **_COMMON_FILTERS,
        "status": "status",
        "type": "type",
        "lead": "lead",
        "contact": "contact",
        "account": "account",
        "opportunity": "opportunity",
        "due_from": "due_date__gte",
        "due_to": "due_date__lte",
    },
    search=("subject_key",),
    orderings={
        "created_date": "created_at",
        "last_modified_date": "updated_at",
        "subject": "subject_key",
    },
    default_order="-created_date",
)


# Stages are read by every new deal and shown with every deal; see core/cache.py.
stages: ConfigurationCache[list[OpportunityStage]] = ConfigurationCache(
    lambda: list(OpportunityStage.objects.all())
)


def stage_name(stage_id: int) -> str:
    """A stage's name by id, from the cache."""
    stage = stages.find(lambda stage: stage.pk == stage_id)
    if stage is None:
        raise LookupError(f"no opportunity stage {stage_id}")
    return stage.name


def _stage_id(name: str) -> int:
    """A stage's id by name matched case-insensitively (core/matching.py), from the
    cache; 0, which no row has, for an unknown name."""
    wanted = fold(name)
    stage = stages.find(lambda stage: fold(stage.name) == wanted)
    return stage.pk if stage else 0


def opportunity_queryset() -> QuerySet[Opportunity]:
    return Opportunity.objects.all()


def opportunity_get(*, actor: Any, opportunity_id: str) -> Opportunity:
    return record_get(actor, Opportunity, opportunity_id)


def opportunity_page(*, actor: Any, filters: dict[str, Any], **options: Any) -> Page:
    """A page of the opportunities the actor may see (a stage is matched by id: no join).

    `stalled` (True or False) keeps the deals that are, or are not, stalled now
    (stalled_condition: a condition in the query, so paging stays keyset on the order's
    index, and a cursor holds only under the same `stalled`)."""
    if filters.get("stage") is not None:
        filters = {**filters, "stage": _stage_id(filters["stage"])}
    if filters.get("lead_source") == NO_LEAD_SOURCE:  # deals without a lead source
        filters = {**filters, "lead_source": ""}
    if filters.get("stalled") is not None:
        return page_of(actor, stalled_queryset(), _STALLED_LIST, filters=filters, **options)
    return page_of(actor, opportunity_queryset(), OPPORTUNITY_LIST, filters=filters, **options)


def contact_role_get(*, actor: Any, contact_role_id: str) -> OpportunityContactRole:
    return record_get(actor, OpportunityContactRole, contact_role_id)


def contact_role_page(*, actor: Any, filters: dict[str, Any], **options: Any) -> Page:
    return page_of(
        actor, OpportunityContactRole.objects.all(), CONTACT_ROLE_LIST, filters=filters, **options
    )


def task_get(*, actor: Any, task_id: str) -> Task:
    return record_get(actor, Task, task_id)


def task_page(*, actor: Any, filters: dict[str, Any], **options: Any) -> Page:
    return page_of(actor, Task.objects.all(), TASK_LIST, filters=filters, **options)


def stage_list() -> QuerySet[OpportunityStage]:
    return OpportunityStage.objects.all()


# ---------------------------------------------------------------------------------------
# The pipeline board (web/pipeline.py) and a deal's stage history (web/sales.py)

# The board's filters: the opportunity list's, plus the owner's team (a Team's primary key).
BOARD_LIST = ListSpec(
    filters={**OPPORTUNITY_LIST.filters, "team": "owner__team_id"},
    search=OPPORTUNITY_LIST.search,
    orderings={"close_date": "close_date"},
    default_order="close_date",
    picklists=OPPORTUNITY_LIST.picklists,
)
BOARD_PAGE_SIZE = 50
# Without a close-date filter the closed columns show the deals closed in the last 90
# days: all-time won and lost deals (most of 300,000) are history, not pipeline, and
# summing them would read most of the table (opportunity_close_totals_idx reads only
# open deals and recently closed ones).
CLOSED_WINDOW_DAYS = 90
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class BoardColumn:
    """One stage's column: its deals' count, total amount and weighted amount.

    `total` is the exact sum of the amounts (deals without one count as nothing);
    `weighted` the exact sum of amount x probability / 100, rounded half up to cents once.
    """

    stage: OpportunityStage
    count: int
    total: Decimal
    weighted: Decimal
    # A closed column's first close date counted when no close-date filter is given.
    closed_since: datetime.date | None = None


@dataclass
class BoardCard:
    """What a card shows of one deal. `account_name` is blank when the deal has no account
    or the actor may not see it; `days_in_stage` counts whole days since the deal entered
    its stage."""

    id: int
    public_id: str
    name: str
    stage_id: int
    amount: Decimal | None
    probability: int
    close_date: datetime.date
    owner_id: int
    account_id: int | None
    account_public_id: str = ""
    account_name: str = ""
    days_in_stage: int = 0
    # Why the deal is stalled, in words (stall_reasons); empty when it is not.
    stalled_reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CardPage:
    cards: list[BoardCard]
    next_cursor: str | None


def _board_conditions(filters: Mapping[str, Any]) -> dict[str, Any]:
    """ORM conditions of the board's filters (as core.selectors.page_of reads a ListSpec)."""
    conditions = {}
    for name, value in filters.items():
        if value is None or name not in BOARD_LIST.filters:
            continue
        if name in BOARD_LIST.picklists and isinstance(value, str):
            value = picklist_spelling(BOARD_LIST.picklists[name], value)
        conditions[BOARD_LIST.filters[name]] = value
    return conditions


def board_stages(stage_ids_in_use: Iterable[int] = ()) -> list[OpportunityStage]:
    """The board's stages in column order: open stages by sort order, then won, then lost.

    A retired (inactive) stage is shown only while some deal in `stage_ids_in_use` is in
    it, so no deal drops off the board. From the stage cache: no query once loaded.
    """
    in_use = set(stage_ids_in_use)
    shown = [stage for stage in stages.get() if stage.is_active or stage.pk in in_use]

    def group(stage: OpportunityStage) -> int:
        return 2 if stage.is_lost else 1 if stage.is_won else 0

    return sorted(shown, key=lambda stage: (group(stage), stage.sort_order, stage.name))


def closed_since(filters: Mapping[str, Any]) -> datetime.date | None:
    """The first close date the closed columns count: CLOSED_WINDOW_DAYS ago (in the
    site's time zone), or None when the filters bound the close date themselves."""
    if filters.get("close_date_from") or filters.get("close_date_to"):
        return None
    return timezone.localdate() - datetime.timedelta(days=CLOSED_WINDOW_DAYS)


def board_columns(*, actor: Any, filters: Mapping[str, Any]) -> list[BoardColumn]:
    """One column per board stage (see board_stages) with the count, total amount and
    weighted amount of the deals the actor may see that meet `filters` (BOARD_LIST
    names; `stage` is ignored).

    Closed deals count only from `closed_since(filters)` on. One statement, grouped by
    stage and probability (open deals, UNION ALL recently closed ones when the window
    applies: each an index-only scan on PostgreSQL): amounts are summed exactly by the
    database (ExactSum) and weighted here, exactly, as Decimal. Multiplying in SQL would
    overflow SQLite's 64-bit integers (cents x percent) on large amounts.
    """
    conditions = _board_conditions({**filters, "stage": None})
    visible = readable(actor, Opportunity.objects.all()).filter(**conditions)
    since = closed_since(filters)

    def sums_of(deals: QuerySet[Opportunity]) -> QuerySet:
        return (
            deals.order_by()
            .values_list("stage_id", "probability")
            .annotate(count=Count("*"), total=ExactSum("amount"))
        )

    if since is None:
        grouped = sums_of(visible)
    else:
        grouped = sums_of(visible.filter(is_closed=False)).union(
            sums_of(visible.filter(is_closed=True, close_date__gte=since)), all=True
        )
    exact = Context(prec=MAX_PREC)
    sums: dict[int, list[Any]] = {}  # stage id -> [count, total, amount x probability]
    for stage_id, probability, count, total in grouped:
        stage_sums = sums.setdefault(stage_id, [0, Decimal(0), Decimal(0)])
        stage_sums[0] += count
        if total is not None:
            stage_sums[1] = exact.add(stage_sums[1], total)
            stage_sums[2] = exact.add(stage_sums[2], exact.multiply(total, probability))
    columns = []
    for stage in board_stages(sums):
        count, total, weighted = sums.get(stage.pk, (0, Decimal(0), Decimal(0)))
        weighted = exact.divide(weighted, 100).quantize(_CENT, ROUND_HALF_UP, context=exact)
        columns.append(
            BoardColumn(
                stage=stage,
                count=count,
                total=total.quantize(_CENT, context=exact),
                weighted=weighted or Decimal("0.00"),
                closed_since=since if stage.is_closed else None,
            )
        )
    return columns


def _days_since(moment: datetime.datetime, now: datetime.datetime) -> int:
    """Whole days from `moment` to `now` (0 on the day itself, never negative)."""
    return max(0, (now - moment).days)


def stage_entered_at(opportunity_ids: Iterable[int]) -> dict[int, datetime.datetime]:
    """{opportunity id: when it entered its current stage}, from the stage history (one
    query): the newest history row whose stage differs from the one before it (the
    first row of a deal has none before it). Deals without history are left out."""
    wanted = list(set(opportunity_ids))
    if not wanted:
        return {}
    entries = (
        OpportunityHistory.objects.filter(opportunity_id__in=wanted)
        .exclude(stage_name=F("previous_stage_name"))
        .order_by()
        .values("opportunity_id")
        .annotate(entered=Max("created_at"))
    )
    return {entry["opportunity_id"]: entry["entered"] for entry in entries}


def _cards(actor: Any, records: Iterable[tuple[Any, ...]]) -> list[BoardCard]:
    """Cards of opportunity rows (core.rows tuples) with their account names, days in
    stage and stall reasons: three queries for any number of rows."""
    position = {name: index for index, name in enumerate(rows.attnames(Opportunity))}
    records = list(records)
    if not records:
        return []
    entered = stage_entered_at(record[position["id"]] for record in records)
    idle = idle_opportunity_ids(
        record[position["id"]] for record in records if not record[position["is_closed"]]
    )
    account_ids = [record[position["account_id"]] for record in records]
    accounts = account_names(actor=actor, account_ids=account_ids)
    now = timezone.now()
    today = timezone.localdate(now)
    cards = []
    for record in records:
        values = {name: record[index] for name, index in position.items()}
        account_id = values["account_id"]
        days_in_stage = _days_since(entered.get(values["id"], values["created_at"]), now)
        cards.append(
            BoardCard(
                id=values["id"],
                public_id=ids.encode("Opportunity", values["id"]),
                name=values["name"],
                stage_id=values["stage_id"],
                amount=values["amount"],
                probability=values["probability"],
                close_date=values["close_date"],
                owner_id=values["owner_id"],
                account_id=account_id,
                account_public_id=ids.encode("Account", account_id)
                if account_id in accounts
                else "",
                account_name=accounts.get(account_id, ""),
                days_in_stage=days_in_stage,
                stalled_reasons=stall_reasons(
                    stage_id=values["stage_id"],
                    close_date=values["close_date"],
                    is_closed=values["is_closed"],
                    days_in_stage=days_in_stage,
                    idle=values["id"] in idle,
                    today=today,
                ),
            )
        )
    return cards


def _card_page(
    actor: Any, stage: OpportunityStage, filters: Mapping[str, Any], **options: Any
) -> Page:
    """A page of a column's deals by close date: an open column's soonest first (what
    needs work), a closed column's latest first and from `closed_since` on (what was
    just won or lost)."""
    filters = {**filters, "stage": stage.pk}
    since = closed_since(filters)
    if stage.is_closed and since is not None:
        filters["close_date_from"] = since
    return page_of(
        actor,
        Opportunity.objects.all(),
        BOARD_LIST,
        filters=filters,
        order_by="-close_date" if stage.is_closed else "close_date",
        **options,
    )


def board_cards(
    *,
    actor: Any,
    stage: OpportunityStage,
    filters: Mapping[str, Any],
    limit: int = BOARD_PAGE_SIZE,
    cursor: str | None = None,
) -> CardPage:
    """A column's cards: the deals in `stage` the actor may see that meet `filters`,
    by close date, `limit` at a time; `cursor` (from the previous CardPage) continues.
    Four queries for any page size. Raises INVALID_FIELD for a cursor made under other
    filters."""
    page = _card_page(actor, stage, filters, limit=limit, cursor=cursor)
    return CardPage(cards=_cards(actor, page.records), next_cursor=page.next_cursor)


def board_first_cards(
    *,
    actor: Any,
    stages_shown: Iterable[OpportunityStage],
    filters: Mapping[str, Any],
    limit: int = BOARD_PAGE_SIZE,
) -> dict[int, CardPage]:
    """{stage id: its column's first CardPage} for the whole board: one query a column,
    then three for the cards of every column together."""
    pages = {stage.pk: _card_page(actor, stage, filters, limit=limit) for stage in stages_shown}
    cards = _cards(actor, [record for page in pages.values() for record in page.records])
    by_stage: dict[int, list[BoardCard]] = {stage_id: [] for stage_id in pages}
    for card in cards:
        by_stage[card.stage_id].append(card)
    return {
        stage_id: CardPage(cards=by_stage[stage_id], next_cursor=page.next_cursor)
        for stage_id, page in pages.items()
    }


def board_card(*, actor: Any, opportunity: Opportunity) -> BoardCard:
    """The card of one deal the actor has read (after a move on the board)."""
    record = tuple(getattr(opportunity, name) for name in rows.attnames(Opportunity))
    return _cards(actor, [record])[0]


@dataclass(frozen=True)
class HistoryRow:
    """One row of a deal's stage history, as Salesforce's Stage History list shows it.

    `days_in_stage` is set on the row where the deal entered a stage: whole days until it
    entered the next one (or until now for the current stage); None on rows that changed
    only the amount, probability or close date. `pushed` when the close date moved into
    a later month than it was in.
    """

    stage_name: str
    amount: Decimal | None
    probability: int
    forecast_category: str
    close_date: datetime.date
    changed_by: str
    changed_on: datetime.datetime
    days_in_stage: int | None
    pushed: bool


@dataclass(frozen=True)
class StageHistory:
    rows: list[HistoryRow]  # newest first
    push_count: int


def _pushed(previous: datetime.date | None, current: datetime.date) -> bool:
    """Whether the close date moved into a later month (Salesforce's Push Count;
    DOMAIN.md section 4: "moved out by a month or more")."""
    return previous is not None and (current.year, current.month) > (
        previous.year,
        previous.month,
    )


def opportunity_stage_history(*, actor: Any, opportunity: Opportunity) -> StageHistory:
    """Every history row of a deal the actor may see, newest first, with the days spent
    in each stage and how many times the close date was pushed (one query; none of it
    when the actor may not see the deal)."""
    visible = readable(actor, Opportunity.objects.filter(pk=opportunity.pk)).values("pk")
    history = list(
        OpportunityHistory.objects.filter(opportunity__in=visible)
        .select_related("created_by")
        .order_by("created_at", "id")
    )
    now = timezone.now()
    entries = [
        index
        for index, row in enumerate(history)
        if index == 0 or row.stage_name != row.previous_stage_name
    ]
    days: dict[int, int] = {}
    for position, index in enumerate(entries):
        left = history[entries[position + 1]].created_at if position + 1 < len(entries) else now
        days[index] = _days_since(history[index].created_at, left)
    result = []
    for index, row in enumerate(history):
        user = row.created_by
        result.append(
            HistoryRow(
                stage_name=row.stage_name,
                amount=row.amount,
                probability=row.probability,
                forecast_category=row.forecast_category,
                close_date=row.close_date,
                changed_by=(user.get_full_name() or user.username) if user else "System",
                changed_on=row.created_at,
                days_in_stage=days.get(index),
                pushed=_pushed(row.previous_close_date, row.close_date),
            )
        )
    result.reverse()
    return StageHistory(rows=result, push_count=sum(row.pushed for row in result))


@dataclass(frozen=True)
class ContactRoleRow:
    """A contact's role on a deal; the contact's name only when the actor may see it."""

    public_id: str
    contact_public_id: str
    contact_name: str
    role: str
    is_primary: bool


def opportunity_contact_roles(
    *, actor: Any, opportunity: Opportunity, limit: int = 200
) -> list[ContactRoleRow]:
    """A deal's contact roles, primary first, with their contacts' names (two queries)."""
    roles = list(
        readable(actor, OpportunityContactRole.objects.filter(opportunity_id=opportunity.pk))
        .order_by("-is_primary", "id")
        .values_list("pk", "contact_id", "role", "is_primary")[:limit]
    )
    contact_ids = {contact_id for _pk, contact_id, _role, _primary in roles}
    names = {}
    if contact_ids:
        visible = readable(actor, Contact.objects.filter(pk__in=contact_ids))
        names = {
            pk: " ".join(part for part in (first, last) if part)
            for pk, first, last in visible.values_list("pk", "first_name", "last_name")
        }
    return [
        ContactRoleRow(
            public_id=ids.encode("OpportunityContactRole", pk),
            contact_public_id=ids.encode("Contact", contact_id) if contact_id in names else "",
            contact_name=names.get(contact_id, ""),
            role=role,
            is_primary=is_primary,
        )
        for pk, contact_id, role, is_primary in roles
    ]


def account_names(*, actor: Any, account_ids: Iterable[int | None]) -> dict[int, str]:
    """{account id: name} of those accounts the actor may see (one query, none for none):
    a deal names its account only to who may read it."""
    wanted = {pk for pk in account_ids if pk}
    if not wanted:
        return {}
    visible = readable(actor, Account.objects.filter(pk__in=wanted))
    return dict(visible.values_list("pk", "name"))


# ---------------------------------------------------------------------------------------
# Stalled deals (issue 7, Stalled deals)

# An open deal with no task created or completed and no audit event for this many days
# is stalled, whatever its stage.
IDLE_DAYS = 30


def _entered_by(stage_ids: list[int], since: datetime.datetime) -> Q:
    """Deals in one of `stage_ids` that entered it on or before `since`: created by then,
    and no stage change in their history after it (the opportunity_history_idx range)."""
    entered_later = OpportunityHistory.objects.filter(
        opportunity_id=OuterRef("pk"), created_at__gt=since
    ).exclude(stage_name=F("previous_stage_name"))
    return Q(stage_id__in=stage_ids, created_at__lte=since) & ~Exists(entered_later)


def idle_condition(now: datetime.datetime) -> Q:
    """Deals created IDLE_DAYS or more ago with no task created or completed and no audit
    event of theirs since then."""
    since = now - datetime.timedelta(days=IDLE_DAYS)
    task_since = Task.objects.filter(opportunity_id=OuterRef("pk")).filter(
        Q(created_at__gt=since) | Q(completed_at__gt=since)
    )
    event_since = AuditEvent.objects.filter(
        object_name=Opportunity.object_name, record_id=OuterRef("pk"), created_at__gt=since
    )
    return Q(created_at__lte=since) & ~Exists(task_since) & ~Exists(event_since)


def stalled_condition(now: datetime.datetime | None = None) -> Q:
    """The ORM condition of a stalled deal at `now` (default: the clock), for a queryset
    of Opportunity: open, and (a) in a stage with `stall_days` for more than that many
    whole days (one date threshold per stage, from the stage cache), or (b) past its close
    date (in the site's time zone), or (c) idle for IDLE_DAYS (no task created or
    completed, no audit event). Stages of the same limit share one threshold. Each part
    is an index range or an indexed EXISTS, so a list filtered by it keeps its keyset
    paging off the close-date index."""
    now = now or timezone.now()
    condition = Q(close_date__lt=timezone.localdate(now)) | idle_condition(now)
    stage_ids_by_limit: dict[int, list[int]] = {}
    for stage in stages.get():
        if stage.stall_days is not None and not stage.is_closed:
            stage_ids_by_limit.setdefault(stage.stall_days, []).append(stage.pk)
    for stall_days, stage_ids in sorted(stage_ids_by_limit.items()):
        # More than N whole days in the stage: entered N + 1 days ago or earlier.
        since = now - datetime.timedelta(days=stall_days + 1)
        condition |= _entered_by(stage_ids, since)
    return Q(is_closed=False) & condition


def stalled_queryset(now: datetime.datetime | None = None) -> QuerySet[Opportunity]:
    """Opportunities with `is_stalled` (a boolean alias of stalled_condition) to filter by."""
    return Opportunity.objects.alias(
        is_stalled=ExpressionWrapper(stalled_condition(now), output_field=BooleanField())
    )


def stall_reasons(
    *,
    stage_id: int,
    close_date: datetime.date,
    is_closed: bool,
    days_in_stage: int,
    idle: bool,
    today: datetime.date,
) -> list[str]:
    """Why one deal is stalled, in words, in the order of the rules; [] when it is not
    (a closed deal never is). `days_in_stage` as the board counts it; `idle` whether it
    met the IDLE_DAYS rule (see idle_opportunity_ids). No query once stages are cached."""
    if is_closed:
        return []
    stage = stages.find(lambda stage: stage.pk == stage_id)
    reasons = [
        stage_stall_reason(stage, days_in_stage) if stage is not None else None,
        close_date_reason(close_date, today),
        IDLE_REASON if idle else None,
    ]
    return [reason for reason in reasons if reason]


# stall_reasons' three rules, each in words (None when it is not met), for a caller that
# words many deals: the list reports word each distinct input once.
IDLE_REASON = f"No activity for {IDLE_DAYS} days"


def stage_stall_reason(stage: Any, days_in_stage: int) -> str | None:
    """The stage rule: more than the stage's `stall_days` whole days in it."""
    if stage.stall_days is None or days_in_stage <= stage.stall_days:
        return None
    return f"No stage change for {days_in_stage} days (limit {stage.stall_days} in {stage.name})"


def close_date_reason(close_date: datetime.date, today: datetime.date) -> str | None:
    """The close-date rule: an open deal's close date before today."""
    return f"Close date {close_date.isoformat()} has passed" if close_date < today else None


def idle_opportunity_ids(
    opportunity_ids: Iterable[int], now: datetime.datetime | None = None
) -> set[int]:
    """Those of the open deals among `opportunity_ids` idle for IDLE_DAYS (one query,
    none for none)."""
    wanted = list(set(opportunity_ids))
    if not wanted:
        return set()
    idle = Opportunity.objects.filter(pk__in=wanted, is_closed=False).filter(
        idle_condition(now or timezone.now())
    )
    return set(idle.values_list("pk", flat=True))


def stalled_flags(opportunities: Iterable[Any]) -> dict[int, list[str]]:
    """{opportunity id: its stall reasons} for each given deal that is stalled (two
    queries for any number of deals: stage entries and idleness). A deal is anything
    with Opportunity's `id`, `stage_id`, `close_date`, `is_closed` and `created_at`."""
    deals = list(opportunities)
    if not deals:
        return {}
    now = timezone.now()
    today = timezone.localdate(now)
    entered = stage_entered_at(deal.id for deal in deals)
    idle = idle_opportunity_ids((deal.id for deal in deals if not deal.is_closed), now)
    flags = {}
    for deal in deals:
        reasons = stall_reasons(
            stage_id=deal.stage_id,
            close_date=deal.close_date,
            is_closed=deal.is_closed,
            days_in_stage=_days_since(entered.get(deal.id, deal.created_at), now),
            idle=deal.id in idle,
            today=today,
        )
        if reasons:
            flags[deal.id] = reasons
    return flags


@dataclass(frozen=True)
class StalledDeal:
    """A stalled deal as the `dealflow stalled` command lists it and its email tells."""

    id: int
    public_id: str
    name: str
    stage_name: str
    close_date: datetime.date
    owner_id: int
    owner_name: str
    owner_email: str
    reasons: list[str]


def stalled_deals(
    *, owner_ids: Iterable[int] | None = None, limit: int | None = None
) -> list[StalledDeal]:
    """Every stalled deal (of `owner_ids` when given), by owner then close date: what a
    system job reads, without an actor's access rules. Three queries."""
    deals = (
        Opportunity.objects.filter(stalled_condition())
        .select_related("owner")
        .order_by("owner_id", "close_date", "id")
    )
    if owner_ids is not None:
        deals = deals.filter(owner_id__in=list(owner_ids))
    found = list(deals[:limit] if limit else deals)
    flags = stalled_flags(found)
    return [
        StalledDeal(
            id=deal.pk,
            public_id=deal.public_id,
            name=deal.name,
            stage_name=stage_name(deal.stage_id),
            close_date=deal.close_date,
            owner_id=deal.owner_id,
            owner_name=deal.owner.get_full_name() or deal.owner.username,
            owner_email=deal.owner.email,
            reasons=flags.get(deal.pk, []),
        )
        for deal in found
    ]
