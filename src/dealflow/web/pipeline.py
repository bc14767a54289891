"""The pipeline board and a deal's moves between stages.

The board is a column per stage with its count and totals, cards by close date (built as
HTML here, see CARD_HTML) and the opportunity list's filters plus `team`. A move, on the
board (drag and drop, "Move to") or on an opportunity's stage path, is `opportunity_update`
with the new stage (and the loss reason a lost stage needs), so the board, the path, the
edit form and the API refuse the same moves with the same messages. The opportunity list,
detail and forms are in web/sales.py.
"""

from __future__ import annotations

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
from django.views.decorators.http import require_http_methods

from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.metadata import get_object
from dealflow.people.selectors import team_list
from dealflow.sales.models import Opportunity, OpportunityStage
from dealflow.sales.selectors import (
    CLOSED_WINDOW_DAYS,
    OPPORTUNITY_LIST,
    BoardCard,
    board_card,
    board_cards,
    board_columns,
    board_first_cards,
    board_stages,
    closed_since,
    opportunity_get,
    stages,
)
from dealflow.sales.services import opportunity_update
from dealflow.web.forms import field_message, picklist_choices
from dealflow.web.pages import FilterInput, ListQuery, list_query, owner_names, page_view, safe_next
from dealflow.web.records import user_choices
from dealflow.web.sales import refusal_status

# Filters the board reads from its query string (the opportunity list's, but the stage,
# which is the column), besides `team`.
BOARD_FILTERS = ("owner", "close_date_from", "close_date_to", "account", "lead_source", "type")
# A public id's place in a reversed URL, replaced per card (reversing 500 URLs is slow).
_ID = "__id__"


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
    '<a class="board-card-name fw-bold" href="{detail_url}">{name}</a>{account}{stalled}'
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
# A stalled deal's badge and its reasons (sales.selectors.stall_reasons), each escaped.
STALLED_HTML = (
    '<div class="board-card-stalled small mt-1"><span class="badge bg-orange-lt">Stalled</span>'
    "{}</div>"
)
# No <li> inside a card: the card itself is the board list's <li>.
STALLED_REASON_HTML = '<div class="text-secondary">{}</div>'


def _stalled_html(reasons: list[str]) -> str:
    if not reasons:
        return ""
    return STALLED_HTML.format(
        "".join(STALLED_REASON_HTML.format(escape(reason)) for reason in reasons)
    )


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
                stalled=_stalled_html(card.stalled_reasons),
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


def _board_filters(query: BoardQuery) -> dict[str, FilterInput]:
    """The board's filter inputs by name, each filled with what was typed and its error."""

    def shown(name: str, label: str, **options: Any) -> FilterInput:
        given, error = query.given.get(name, ""), query.errors.get(name, "")
        return FilterInput(name, label, given, error, **options)

    inputs = [
        shown("owner", "Owner", choices=user_choices()),
        shown("team", "Team", choices=[(name, name) for _pk, name in query.teams]),
        shown("close_date_from", "Close Date from", input_type="date"),
        shown("close_date_to", "Close Date to", input_type="date"),
    ]
    return {filter_input.name: filter_input for filter_input in inputs}


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
        "filters": _board_filters(query),
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


def _stage_named(name: str) -> OpportunityStage | None:
    return stages.find(lambda stage: stage.name == name)


def _wants_json(request: HttpRequest) -> bool:
    """The board's script asks for JSON; a plain form post gets pages."""
    return "application/json" in request.headers.get("Accept", "")


def _stage_form(
    request: HttpRequest,
    opportunity: Opportunity,
    stage_name: str,
    *,
    error: DomainError | None = None,
    status: int = 200,
) -> HttpResponse:
    """The small form that moves a deal to a stage and asks a lost stage's loss reason.

    A refusal shows beside the field it names, in the words the edit form uses
    ("Required when moving to the lost stage 'Closed Lost'"), with "Not saved: correct
    Loss Reason." above; one naming neither field shows above the form as it is. Asked
    for a lost stage without a reason (the board's "Move to" sends the deal here), the
    page says why it is asked: "Closed Lost needs a Loss Reason.".
    """
    field_errors: dict[str, str] = {}
    others: list[str] = []
    for each in error.every() if error else []:
        named = [name for name in each.fields if name in STAGE_FORM_FIELDS]
        for name in named[:1]:
            field_errors.setdefault(name, field_message(each, name, STAGE_FORM_FIELDS[name][0]))
        if not named:
            others.append(each.message)
    stage = _stage_named(stage_name)
    context = {
        "opportunity": opportunity,
        "stages": board_stages([opportunity.stage_id]),
        "stage_name": stage_name,
        "loss_reason": request.POST.get("loss_reason", opportunity.loss_reason),
        "loss_reasons": picklist_choices(
            get_object("Opportunity").field("loss_reason"), opportunity.loss_reason
        ),
        "error": " ".join(others),
        "field_errors": field_errors,
        "error_fields": [
            (label, input_id)
            for name, (label, input_id) in STAGE_FORM_FIELDS.items()
            if name in field_errors
        ],
        "needs_reason": (
            f"{stage_name} needs a Loss Reason."
            if error is None and stage is not None and stage.is_lost
            else ""
        ),
        "next": safe_next(request, reverse("opportunity_detail", args=[opportunity.public_id])),
    }
    return render(request, "web/sales/stage.html", context, status=status)


# The stage form's fields a refusal can name: (label, input id) by the service's name.
STAGE_FORM_FIELDS = {
    "stage_name": ("Stage", "id_stage_name"),
    "loss_reason": ("Loss Reason", "id_loss_reason"),
}


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
        status = refusal_status(error)
        if _wants_json(request):
            return JsonResponse({"message": error.message, "fields": error.fields}, status=status)
        return _stage_form(request, opportunity, stage_name, error=error, status=status)
    if _wants_json(request):
        return JsonResponse(_moved(request, opportunity))
    messages.success(request, f"{opportunity.name} is now in {stage_name}.")
    return redirect(safe_next(request, reverse("opportunity_detail", args=[opportunity.public_id])))
