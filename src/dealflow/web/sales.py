"""Opportunity pages and the pipeline board.

Every read goes through `sales.selectors` (access applies), every write through
`sales.services`: a move on the board or on the stage path is `opportunity_update` with
the new stage (and the loss reason a lost stage needs), so the board, the path, the
edit form and the API refuse the same moves with the same messages.
"""

from __future__ import annotations

import contextlib
from html import escape
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from dealflow.core import ids
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.metadata import get_object
from dealflow.people.selectors import team_list
from dealflow.sales.models import Opportunity, OpportunityStage
from dealflow.sales.selectors import (
    CLOSED_WINDOW_DAYS,
    OPPORTUNITY_LIST,
    BoardCard,
    account_names,
    board_card,
    board_cards,
    board_columns,
    board_first_cards,
    board_stages,
    closed_since,
    contact_role_get,
    opportunity_contact_roles,
    opportunity_get,
    opportunity_page,
    opportunity_stage_history,
    stages,
)
from dealflow.sales.services import (
    contact_role_delete as contact_role_delete_service,
)
from dealflow.sales.services import (
    contact_role_set,
    contact_role_update,
    first_open_stage,
    opportunity_create,
    opportunity_update,
)
from dealflow.sales.services import (
    opportunity_delete as opportunity_delete_service,
)
from dealflow.web.forms import (
    RecordForm,
    initial_values,
    picklist_choices,
    posted_data,
    posted_values,
)
from dealflow.web.pages import ListQuery, as_rows, list_query, owner_names, page_view, safe_next
from dealflow.web.recent import remember
from dealflow.web.records import account_label, record_get, resolver, user_choices
from dealflow.web.timeline import record_timeline

# The fields of the opportunity form and detail page, grouped as Salesforce groups them.
INFORMATION = [
    "name",
    "account",
    "type",
    "lead_source",
    "amount",
    "close_date",
    "next_step",
    "stage",
    "probability",
    "forecast_category",
    "loss_reason",
    "owner",
]
LAYOUT = [("Opportunity Information", INFORMATION), ("Description Information", ["description"])]
CONTACT_ROLE_FIELDS = ["contact", "role", "is_primary"]
# Filters the board reads from its query string (the opportunity list's, but the stage,
# which is the column), besides `team`.
BOARD_FILTERS = ("owner", "close_date_from", "close_date_to", "account", "lead_source", "type")
# A public id's place in a reversed URL, replaced per card (reversing 500 URLs is slow).
_ID = "__id__"
LIST_COLUMNS = [
    ("Name", "name"),
    ("Account", ""),
    ("Amount", ""),
    ("Close Date", "close_date"),
    ("Stage", ""),
    ("Probability", ""),
    ("Owner", ""),
]


def _refusal_status(error: DomainError) -> int:
    """403 for a refused write, 409 for a conflict with the deal's state, else 400."""
    if error.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY:
        return 403
    if error.code == ErrorCode.FIELD_INTEGRITY_EXCEPTION:
        return 409
    return 400


def _stage_named(name: str) -> OpportunityStage | None:
    return stages.find(lambda stage: stage.name == name)


def _stage_of(opportunity: Opportunity) -> OpportunityStage:
    stage = stages.find(lambda stage: stage.pk == opportunity.stage_id)
    assert stage is not None
    return stage


# ---------------------------------------------------------------------------------------
# The pipeline board


class BoardQuery:
    """The board's filters as read from the query string: the opportunity list's
    filters (one definition with the API) plus `team` by name."""

    def __init__(self, request: HttpRequest) -> None:
        self.list_query: ListQuery = list_query(request, OPPORTUNITY_LIST, Opportunity)
        self.filters: dict[str, Any] = {
            name: value for name, value in self.list_query.filters.items() if name in BOARD_FILTERS
        }
        self.given = {
            name: text for name, text in self.list_query.given.items() if name in BOARD_FILTERS
        }
        self.errors = self.list_query.errors
        self.teams = list(team_list().order_by("name").values_list("pk", "name"))
        team_name = (request.GET.get("team") or "").strip()
        if team_name:
            self.given["team"] = team_name
            team = next((pk for pk, name in self.teams if name == team_name), None)
            if team is None:
                self.errors["team"] = "no team of that name"
            else:
                self.filters["team"] = team

    def url(self, **changes: Any) -> str:
        """This board's query string with some parameters changed (None removes one)."""
        parameters = {**self.given, **changes}
        text = ListQuery(given={name: value for name, value in parameters.items() if value}).url()
        return "" if text == "?" else text


def _stage_options(stages_shown: list[OpportunityStage], selected: int) -> str:
    """The <option>s of a card's "Move to" select, its own stage selected (escaped)."""
    return format_html_join(
        "",
        "<option{}>{}</option>",
        ((" selected" if stage.pk == selected else "", stage.name) for stage in stages_shown),
    )


# One deal on the board. Built here rather than in a template: the board shows up to 500
# cards, and the template engine took half of the page's time on them (bench/pages.py).
# _dress_cards escapes every value (`options` and `account` are escaped HTML already).
# The "Move to" form moves the deal without a mouse or script.
CARD_HTML = (
    '<li class="card board-card" data-stage-url="{stage_url}"><div class="card-body p-2">'
    '<a class="board-card-name fw-bold" href="{detail_url}">{name}</a>{account}'
    '<dl class="board-card-facts small mb-1">'
    "<div><dt>Amount</dt><dd>{amount}</dd></div>"
    "<div><dt>Close Date</dt><dd>{close_date}</dd></div>"
    "<div><dt>Owner</dt><dd>{owner}</dd></div>"
    "<div><dt>In stage</dt><dd>{days}</dd></div></dl>"
    '<form class="board-move d-flex gap-1 align-items-center" method="post"'
    ' action="{stage_url}">'
    '<input type="hidden" name="csrfmiddlewaretoken" value="{csrf_token}">'
    '<input type="hidden" name="next" value="{next}">'
    '<label class="small text-secondary text-nowrap" for="move-{id}">'
    'Move <span class="visually-hidden">{name} </span>to</label>'
    '<select class="form-select form-select-sm" id="move-{id}" name="stage">{options}</select>'
    '<button class="btn btn-sm" type="submit">Move'
    '<span class="visually-hidden"> {name}</span></button>'
    "</form></div></li>"
)
ACCOUNT_HTML = '<div class="text-secondary small text-truncate">{}</div>'


def _dress_cards(
    request: HttpRequest,
    cards: list[BoardCard],
    stages_shown: list[OpportunityStage],
    board_url: str,
) -> None:
    """Set each card's `html` (CARD_HTML) and `owner_name` (one query for all owners)."""
    names = owner_names(card.owner_id for card in cards)
    detail_url = reverse("opportunity_detail", args=[_ID])
    stage_url = reverse("opportunity_stage", args=[_ID])
    token = get_token(request)
    options: dict[int, str] = {}
    for card in cards:
        card.owner_name = names.get(("User", card.owner_id), "")
        if card.stage_id not in options:
            options[card.stage_id] = _stage_options(stages_shown, card.stage_id)
        days = card.days_in_stage
        account = card.account_name
        # Python's own escape: Django's (format_html, conditional_escape) costs several
        # times as much per value, which 500 cards of 12 values make felt.
        card.html = mark_safe(
            CARD_HTML.format(
                id=escape(card.public_id),
                name=escape(card.name),
                detail_url=escape(detail_url.replace(_ID, card.public_id)),
                stage_url=escape(stage_url.replace(_ID, card.public_id)),
                account=ACCOUNT_HTML.format(escape(account)) if account else "",
                amount="—" if card.amount is None else f"{card.amount:,.2f}",
                close_date=card.close_date.isoformat(),
                owner=escape(card.owner_name),
                days=f"{days} day{'' if days == 1 else 's'}",
                csrf_token=escape(token),
                next=escape(board_url),
                options=options[card.stage_id],
            )
        )


def _column_context(
    request: HttpRequest, columns: list, pages: dict, query: BoardQuery
) -> list[dict[str, Any]]:
    """Each column with its cards and its "Load more" address."""
    shown = [column.stage for column in columns]
    cards = [card for page in pages.values() for card in page.cards]
    _dress_cards(request, cards, shown, reverse("pipeline") + query.url())
    result = []
    for column in columns:
        page = pages[column.stage.pk]
        result.append(
            {
                "column": column,
                "cards": page.cards,
                "more_url": _more_url(column.stage, query, page.next_cursor),
            }
        )
    return result


def _more_url(stage: OpportunityStage, query: BoardQuery, cursor: str | None) -> str:
    if not cursor:
        return ""
    return reverse("pipeline_column", args=[stage.pk]) + query.url(cursor=cursor)


@page_view
def pipeline(request: HttpRequest) -> HttpResponse:
    """The board: a column per stage with its count and totals, its first cards by close
    date, and the filters (mine, owner, team, close date range)."""
    query = BoardQuery(request)
    columns = board_columns(actor=request.user, filters=query.filters)
    shown = [column.stage for column in columns]
    pages = board_first_cards(actor=request.user, stages_shown=shown, filters=query.filters)
    me = request.user.public_id
    owner_given = query.given.get("owner", "")
    context = {
        "columns": _column_context(request, columns, pages, query),
        "query": query,
        "board_url": reverse("pipeline") + query.url(),
        "all_url": reverse("pipeline") + query.url(owner=None),
        "mine_url": reverse("pipeline") + query.url(owner=me),
        "mine": owner_given == me,
        "owners": user_choices(),
        "teams": [name for _pk, name in query.teams],
        "loss_reasons": picklist_choices(get_object("Opportunity").field("loss_reason")),
        "closed_since": closed_since(query.filters),
        "closed_window_days": CLOSED_WINDOW_DAYS,
    }
    return render(request, "web/sales/pipeline.html", context)


@page_view
def pipeline_column(request: HttpRequest, stage_id: str) -> HttpResponse:
    """More cards of one column (htmx "Load more"): the next page after `cursor`, and
    the column's "Load more" button for the page after it (swapped out of band)."""
    stage = stages.find(lambda stage: str(stage.pk) == stage_id)
    if stage is None:
        raise Http404("no such stage")
    query = BoardQuery(request)
    try:
        page = board_cards(
            actor=request.user,
            stage=stage,
            filters=query.filters,
            cursor=request.GET.get("cursor") or None,
        )
    except DomainError as error:
        return HttpResponse(error.message, status=400, content_type="text/plain")
    board_url = reverse("pipeline") + query.url()
    _dress_cards(request, page.cards, board_stages([stage.pk]), board_url)
    context = {
        "cards": page.cards,
        "stage": stage,
        "more_url": _more_url(stage, query, page.next_cursor),
    }
    return render(request, "web/sales/_more_cards.html", context)


# ---------------------------------------------------------------------------------------
# Changing a deal's stage: the board (drag and drop, "Move to"), the stage path


def _wants_json(request: HttpRequest) -> bool:
    """The board's script asks for JSON; a plain form post gets pages."""
    return "application/json" in request.headers.get("Accept", "")


def _stage_form(
    request: HttpRequest,
    opportunity: Opportunity,
    stage_name: str,
    *,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    """The small form that moves a deal to a stage and asks a lost stage's loss reason."""
    context = {
        "opportunity": opportunity,
        "stages": board_stages([opportunity.stage_id]),
        "stage_name": stage_name,
        "loss_reason": request.POST.get("loss_reason", opportunity.loss_reason),
        "loss_reasons": picklist_choices(
            get_object("Opportunity").field("loss_reason"), opportunity.loss_reason
        ),
        "error": error,
        "next": safe_next(request, reverse("opportunity_detail", args=[opportunity.public_id])),
    }
    return render(request, "web/sales/stage.html", context, status=status)


def _moved(request: HttpRequest, opportunity: Opportunity) -> dict[str, Any]:
    """What the board updates after a move: every column header (counts and totals under
    the board's filters, sent on the post's query string) and the moved card."""
    query = BoardQuery(request)
    columns = board_columns(actor=request.user, filters=query.filters)
    card = board_card(actor=request.user, opportunity=opportunity)
    _dress_cards(
        request, [card], [column.stage for column in columns], reverse("pipeline") + query.url()
    )
    return {
        "stage_id": opportunity.stage_id,
        "headers": {
            str(column.stage.pk): render_to_string(
                "web/sales/_column_header.html", {"column": column}, request=request
            )
            for column in columns
        },
        "card": str(card.html),
    }


@page_view
@require_http_methods(["GET", "POST"])
def opportunity_stage(request: HttpRequest, opportunity_id: str) -> HttpResponse:
    """Move a deal to the posted `stage` (by name) through opportunity_update.

    A lost stage needs `loss_reason`: a plain form post without one gets the small form
    asking for it (GET shows that form too). The board's script (Accept: JSON) gets the
    column headers and the moved card, or `{message, fields}` with 400/403/409 when the
    move is refused; a refused form post shows the form again with the reason. A refused
    move changes nothing.
    """
    opportunity = opportunity_get(actor=request.user, opportunity_id=opportunity_id)
    stage_name = (request.POST if request.method == "POST" else request.GET).get("stage", "")
    stage = _stage_named(stage_name)
    if request.method == "GET":
        return _stage_form(request, opportunity, stage_name)
    lost = stage is not None and stage.is_lost
    if lost and "loss_reason" not in request.POST and not _wants_json(request):
        return _stage_form(request, opportunity, stage_name)
    data: dict[str, Any] = {"stage": stage_name}
    if lost:
        data["loss_reason"] = request.POST.get("loss_reason", "").strip()
    try:
        opportunity = opportunity_update(actor=request.user, opportunity=opportunity, data=data)
    except DomainError as error:
        if error.code in (ErrorCode.NOT_FOUND, ErrorCode.INVALID_ID):
            raise
        status = _refusal_status(error)
        if _wants_json(request):
            return JsonResponse({"message": error.message, "fields": error.fields}, status=status)
        return _stage_form(request, opportunity, stage_name, error=error.message, status=status)
    if _wants_json(request):
        return JsonResponse(_moved(request, opportunity))
    messages.success(request, f"{opportunity.name} is now in {stage_name}.")
    return redirect(safe_next(request, reverse("opportunity_detail", args=[opportunity.public_id])))


# ---------------------------------------------------------------------------------------
# The list


def _sort_url(query: ListQuery, order: str) -> tuple[str, str]:
    """(link, aria-sort) of a sortable column: ascending first, then descending."""
    current = query.order_by or OPPORTUNITY_LIST.default_order
    if current == order:
        return query.url(order_by=f"-{order}", cursor=None), "ascending"
    if current == f"-{order}":
        return query.url(order_by=order, cursor=None), "descending"
    return query.url(order_by=order, cursor=None), ""


@page_view
def opportunity_list(request: HttpRequest) -> HttpResponse:
    """Opportunities the user may see: filters, search, sort and keyset pages of 50.

    Open ones unless `is_closed` or a stage says otherwise ("any" for both): open deals
    come off the (is_closed, close_date) index, while every deal by close date is a sort
    of the whole table.
    """
    open_only = {} if request.GET.get("stage") else {"is_closed": "false"}
    query = list_query(request, OPPORTUNITY_LIST, Opportunity, defaults=open_only)
    if request.GET.get("is_closed") == "any":
        query.filters.pop("is_closed", None)
        query.errors.pop("is_closed", None)
    error = ""
    try:
        page = opportunity_page(
            actor=request.user,
            filters=query.filters,
            search=query.search,
            order_by=query.order_by,
            cursor=query.cursor,
            limit=50,
        )
    except DomainError as refusal:
        error = refusal.message
        page = opportunity_page(actor=request.user, filters={}, limit=50)
    records = as_rows(page, Opportunity)
    names = owner_names(row.owner_id for row in records)
    accounts = account_names(actor=request.user, account_ids=(row.account_id for row in records))
    for row in records:
        row.owner_name = names.get(("User", row.owner_id), "")
        row.account_name = accounts.get(row.account_id, "")
        row.account_public_id = ids.encode("Account", row.account_id) if row.account_name else ""
        stage = stages.find(lambda stage, row=row: stage.pk == row.stage_id)
        row.stage_name = stage.name if stage else ""
    columns = []
    for label, order in LIST_COLUMNS:
        link, sorted_as = _sort_url(query, order) if order else ("", "")
        columns.append({"label": label, "url": link, "sorted": sorted_as})
    object_def = get_object("Opportunity")
    context = {
        "rows": records,
        "columns": columns,
        "query": query,
        "error": error,
        "next_url": query.url(cursor=page.next_cursor) if page.next_cursor else "",
        "first_url": query.url(cursor=None) if query.cursor else "",
        "stages": board_stages(),
        "owners": user_choices(),
        "lead_sources": picklist_choices(object_def.field("lead_source")),
        "types": picklist_choices(object_def.field("type")),
    }
    return render(request, "web/sales/list.html", context)


# ---------------------------------------------------------------------------------------
# Create, edit, delete


def _form(values: dict[str, Any], labels: dict[str, str] | None = None) -> RecordForm:
    return RecordForm(
        "Opportunity",
        LAYOUT,
        values=values,
        choices={"owner": user_choices()},
        reference_labels=labels or {},
    )


def _without_blanks(data: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """Leave out blank fields a service fills in itself (owner, probability, category)."""
    return {name: value for name, value in data.items() if name not in names or value}


@page_view
@require_http_methods(["GET", "POST"])
def opportunity_new(request: HttpRequest) -> HttpResponse:
    """Create an opportunity (`?account=<id>` preselects its account)."""
    names = [name for _title, fields in LAYOUT for name in fields]
    if request.method == "POST":
        values = posted_values(request.POST, "Opportunity", names)
        form = _form(values, {"account": account_label(request.user, values.get("account_id", ""))})
        try:
            data = posted_data(request.POST, "Opportunity", names, resolver(request.user))
            data = _without_blanks(data, ("owner", "probability", "forecast_category"))
            opportunity = opportunity_create(actor=request.user, data=data)
        except DomainError as error:
            form.fail(error)
            return render(request, "web/sales/form.html", {"form": form}, status=400)
        messages.success(request, f"Opportunity {opportunity.name} was created.")
        return redirect("opportunity_detail", opportunity.public_id)
    account = request.GET.get("account", "")
    values = {
        "stage_name": first_open_stage().name,
        "owner_id": request.user.public_id,
        "account_id": account if account_label(request.user, account) else "",
    }
    form = _form(values, {"account": account_label(request.user, account)})
    return render(request, "web/sales/form.html", {"form": form})


@page_view
@require_http_methods(["GET", "POST"])
def opportunity_edit(request: HttpRequest, opportunity_id: str) -> HttpResponse:
    """Edit an opportunity. Probability and forecast category are sent to the service
    only when changed here, so a new stage sets them as it does everywhere else."""
    opportunity = opportunity_get(actor=request.user, opportunity_id=opportunity_id)
    names = [name for _title, fields in LAYOUT for name in fields]
    initial = initial_values(opportunity, "Opportunity", names)
    context: dict[str, Any] = {"opportunity": opportunity}
    if request.method == "POST":
        values = posted_values(request.POST, "Opportunity", names)
        form = _form(values, {"account": account_label(request.user, values.get("account_id", ""))})
        try:
            data = posted_data(request.POST, "Opportunity", names, resolver(request.user))
            for name, public_name in (
                ("probability", "probability"),
                ("forecast_category", "forecast_category_name"),
            ):
                if str(values.get(public_name, "")) == str(initial.get(public_name, "")):
                    data.pop(name, None)
            opportunity = opportunity_update(actor=request.user, opportunity=opportunity, data=data)
        except DomainError as error:
            form.fail(error)
            return render(request, "web/sales/form.html", {**context, "form": form}, status=400)
        messages.success(request, f"Opportunity {opportunity.name} was saved.")
        return redirect("opportunity_detail", opportunity.public_id)
    form = _form(initial, {"account": account_label(request.user, initial.get("account_id", ""))})
    return render(request, "web/sales/form.html", {**context, "form": form})


@page_view
@require_http_methods(["GET", "POST"])
def opportunity_delete(request: HttpRequest, opportunity_id: str) -> HttpResponse:
    """Ask, then delete an opportunity with its history and contact roles."""
    opportunity = opportunity_get(actor=request.user, opportunity_id=opportunity_id)
    context: dict[str, Any] = {"opportunity": opportunity}
    if request.method == "POST":
        try:
            opportunity_delete_service(actor=request.user, opportunity=opportunity)
        except DomainError as error:
            if error.code in (ErrorCode.NOT_FOUND, ErrorCode.INVALID_ID):
                raise
            context["error"] = error.message
            return render(request, "web/sales/delete.html", context, status=_refusal_status(error))
        messages.success(request, f"Opportunity {opportunity.name} was deleted.")
        return redirect("opportunity_list")
    return render(request, "web/sales/delete.html", context)


# ---------------------------------------------------------------------------------------
# The detail page


def _shown_fields(request: HttpRequest, opportunity: Opportunity) -> list[dict[str, Any]]:
    """The detail page's sections: [{title, fields: [{label, value, url}]}]."""
    object_def = get_object("Opportunity")
    stage = _stage_of(opportunity)
    account = ""
    account_url = ""
    if opportunity.account_id:
        names = account_names(actor=request.user, account_ids=[opportunity.account_id])
        account = names.get(opportunity.account_id, "")
        if account:
            account_url = reverse(
                "account_detail", args=[ids.encode("Account", opportunity.account_id)]
            )
    owner = owner_names([opportunity.owner_id]).get(("User", opportunity.owner_id), "")
    amount = opportunity.amount
    revenue = opportunity.expected_revenue
    special = {
        "account": (account, account_url),
        "stage": (stage.name, ""),
        "owner": (owner, ""),
        "amount": ("" if amount is None else f"{amount:,.2f}", ""),
        "probability": (f"{opportunity.probability}%", ""),
        "close_date": (opportunity.close_date.isoformat(), ""),
    }
    sections = []
    for title, names in LAYOUT:
        fields = []
        for name in names:
            if name == "loss_reason" and not stage.is_lost and not opportunity.loss_reason:
                continue
            definition = object_def.field(name)
            assert definition is not None
            value, url = special.get(name, (getattr(opportunity, name, ""), ""))
            fields.append({"label": definition.label, "value": value, "url": url})
            if name == "amount":
                fields.append(
                    {
                        "label": "Expected Revenue",
                        "value": "" if revenue is None else f"{revenue:,.2f}",
                        "url": "",
                    }
                )
        sections.append({"title": title, "fields": fields})
    return sections


def _path(opportunity: Opportunity) -> list[dict[str, Any]]:
    """The stage path: every stage in board order, those before the current one done."""
    path = []
    reached = False
    current = _stage_of(opportunity)
    for stage in board_stages([opportunity.stage_id]):
        is_current = stage.pk == current.pk
        reached = reached or is_current
        path.append(
            {
                "stage": stage,
                "current": is_current,
                "done": not reached and not current.is_lost,
            }
        )
    return path


def _role_form(values: dict[str, Any] | None = None) -> RecordForm:
    return RecordForm(
        "OpportunityContactRole",
        [("Add a contact role", CONTACT_ROLE_FIELDS)],
        values=values or {},
    )


def _detail(
    request: HttpRequest,
    opportunity: Opportunity,
    *,
    role_form: RecordForm | None = None,
    status: int = 200,
) -> HttpResponse:
    remember(request, opportunity)
    history = opportunity_stage_history(actor=request.user, opportunity=opportunity)
    context = {
        "opportunity": opportunity,
        "stage": _stage_of(opportunity),
        "sections": _shown_fields(request, opportunity),
        "path": _path(opportunity),
        "history": history,
        "contact_roles": opportunity_contact_roles(actor=request.user, opportunity=opportunity),
        "role_form": role_form or _role_form(),
        "timeline": record_timeline(request.user, opportunity),
        "detail_url": reverse("opportunity_detail", args=[opportunity.public_id]),
    }
    return render(request, "web/sales/detail.html", context, status=status)


@page_view
def opportunity_detail(request: HttpRequest, opportunity_id: str) -> HttpResponse:
    """An opportunity's fields, stage path, stage history, contact roles and activity."""
    opportunity = opportunity_get(actor=request.user, opportunity_id=opportunity_id)
    return _detail(request, opportunity)


# ---------------------------------------------------------------------------------------
# Contact roles


@page_view
@require_POST
def contact_role_add(request: HttpRequest, opportunity_id: str) -> HttpResponse:
    """Give a contact a role on the deal (a new primary replaces the old one)."""
    opportunity = opportunity_get(actor=request.user, opportunity_id=opportunity_id)
    values = posted_values(request.POST, "OpportunityContactRole", CONTACT_ROLE_FIELDS)
    form = _role_form(values)
    contact_id = values.get("contact_id", "")
    if contact_id:
        with contextlib.suppress(DomainError):  # an unknown contact: the service says so
            form.reference_labels = {
                "contact": str(record_get(request.user, "Contact", contact_id))
            }
    try:
        data = posted_data(
            request.POST, "OpportunityContactRole", CONTACT_ROLE_FIELDS, resolver(request.user)
        )
        contact_role_set(
            actor=request.user,
            opportunity=opportunity,
            contact=data.get("contact"),  # type: ignore[arg-type]
            role=data.get("role") or "",
            is_primary=bool(data.get("is_primary")),
        )
    except DomainError as error:
        if error.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY:
            raise
        form.fail(error)
        return _detail(request, opportunity, role_form=form, status=400)
    messages.success(request, "The contact role was added.")
    return redirect("opportunity_detail", opportunity.public_id)


@page_view
@require_POST
def contact_role_primary(request: HttpRequest, contact_role_id: str) -> HttpResponse:
    """Make a contact role the deal's primary one."""
    contact_role = contact_role_get(actor=request.user, contact_role_id=contact_role_id)
    try:
        contact_role_update(
            actor=request.user, contact_role=contact_role, data={"is_primary": True}
        )
    except DomainError as error:
        if error.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY:
            raise
        messages.error(request, error.message)
    else:
        messages.success(request, "The primary contact was changed.")
    return redirect("opportunity_detail", ids.encode("Opportunity", contact_role.opportunity_id))


@page_view
@require_POST
def contact_role_delete(request: HttpRequest, contact_role_id: str) -> HttpResponse:
    """Remove a contact's role on the deal."""
    contact_role = contact_role_get(actor=request.user, contact_role_id=contact_role_id)
    contact_role_delete_service(actor=request.user, contact_role=contact_role)
    messages.success(request, "The contact role was removed.")
    return redirect("opportunity_detail", ids.encode("Opportunity", contact_role.opportunity_id))
