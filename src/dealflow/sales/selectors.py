"""Reads of opportunities, contact roles and tasks, restricted to what the user may see."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import MAX_PREC, ROUND_HALF_UP, Context, Decimal
from typing import Any

from django.db.models import Count, F, Max, QuerySet
from django.utils import timezone

from dealflow.accounts.models import Account, Contact
from dealflow.core import ids, rows
from dealflow.core.access import readable
from dealflow.core.cache import ConfigurationCache
from dealflow.core.fields import ExactSum
from dealflow.core.matching import fold
from dealflow.core.selectors import ListSpec, Page, page_of, picklist_spelling, record_get
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
    """A page of the opportunities the actor may see (a stage is matched by id: no join)."""
    if filters.get("stage") is not None:
        filters = {**filters, "stage": _stage_id(filters["stage"])}
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
    """Cards of opportunity rows (core.rows tuples) with their account names and days in
    stage: two queries for any number of rows."""
    position = {name: index for index, name in enumerate(rows.attnames(Opportunity))}
    records = list(records)
    if not records:
        return []
    entered = stage_entered_at(record[position["id"]] for record in records)
    account_ids = [record[position["account_id"]] for record in records]
    accounts = account_names(actor=actor, account_ids=account_ids)
    now = timezone.now()
    cards = []
    for record in records:
        values = {name: record[index] for name, index in position.items()}
        account_id = values["account_id"]
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
                days_in_stage=_days_since(entered.get(values["id"], values["created_at"]), now),
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
    Three queries for any page size. Raises INVALID_FIELD for a cursor made under other
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
    then two for the cards of every column together."""
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
