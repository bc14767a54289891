"""Opportunity pages: the list, the detail page (fields, stage path, stage history,
contact roles, activity), create, edit and delete, and contact roles.

Every read goes through `sales.selectors` (access applies), every write through
`sales.services`. The pipeline board and the stage moves the detail page's path posts
are in web/pipeline.py.
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from dealflow.core import ids
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.metadata import get_object
from dealflow.leads.selectors import NO_LEAD_SOURCE
from dealflow.sales.models import ForecastCategory, Opportunity, OpportunityStage
from dealflow.sales.selectors import (
    OPPORTUNITY_LIST,
    account_names,
    board_stages,
    contact_role_get,
    opportunity_contact_roles,
    opportunity_get,
    opportunity_page,
    opportunity_stage_history,
    stages,
    stalled_flags,
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
    layout_names,
    picklist_choices,
    posted_data,
    posted_values,
)
from dealflow.web.pages import (
    Column,
    FilterInput,
    ListQuery,
    ShownField,
    ShownSection,
    as_rows,
    list_query,
    owner_names,
    page_view,
    sort_headers,
)
from dealflow.web.recent import remember
from dealflow.web.record_pages import money
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
LIST_COLUMNS = [
    Column("Name", "name"),
    Column("Account"),
    Column("Amount"),
    Column("Close Date", "close_date"),
    Column("Stage"),
    Column("Probability"),
    Column("Owner"),
]


def refusal_status(error: DomainError) -> int:
    """403 for a refused write, 409 for a conflict with the deal's state, else 400."""
    if error.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY:
        return 403
    if error.code == ErrorCode.FIELD_INTEGRITY_EXCEPTION:
        return 409
    return 400


def _stage_of(opportunity: Opportunity) -> OpportunityStage:
    stage = stages.find(lambda stage: stage.pk == opportunity.stage_id)
    assert stage is not None
    return stage


# ---------------------------------------------------------------------------------------
# The list


def _list_filters(query: ListQuery) -> dict[str, FilterInput]:
    """The list's filter inputs by name, each filled with what was typed and its error
    (the search and "Open or closed", which has no "Any", are the template's own)."""
    object_def = get_object("Opportunity")

    def shown(name: str, label: str, **options: Any) -> FilterInput:
        given, error = query.given.get(name, ""), query.errors.get(name, "")
        return FilterInput(name, label, given, error, **options)

    picklist = {name: picklist_choices(object_def.field(name)) for name in ("lead_source", "type")}
    inputs = [
        shown("stage", "Stage", choices=[(stage.name, stage.name) for stage in board_stages()]),
        shown("owner", "Owner", choices=user_choices()),
        shown(
            "lead_source",
            "Lead Source",
            choices=[*picklist["lead_source"], (NO_LEAD_SOURCE, "(none)")],
        ),
        shown("type", "Type", choices=picklist["type"]),
        shown("is_won", "Won or lost", choices=[("true", "Won"), ("false", "Not won")]),
        shown(
            "forecast_category",
            "Forecast Category",
            choices=[(value, label) for value, label in ForecastCategory.choices],
        ),
        shown("close_date_from", "Close Date from", input_type="date"),
        shown("close_date_to", "Close Date to", input_type="date"),
        shown("stalled", "Stalled", choices=[("true", "Stalled"), ("false", "Not stalled")]),
    ]
    return {filter_input.name: filter_input for filter_input in inputs}


def _read_stalled(request: HttpRequest, query: ListQuery) -> None:
    """The `stalled` filter (true or false), which is no column the ListSpec can type:
    the selector turns it into its query condition (sales.selectors.stalled_condition)."""
    text = (request.GET.get("stalled") or "").strip()
    if not text:
        return
    query.given["stalled"] = text
    if text in ("true", "false"):
        query.filters["stalled"] = text == "true"
    else:
        query.errors["stalled"] = "expected true or false"


def opportunity_list_query(request: HttpRequest) -> ListQuery:
    """The list's filters, search and order from the query string (its CSV download
    too, web/downloads.py): open deals unless `is_closed` or a stage says otherwise."""
    open_only = {} if request.GET.get("stage") else {"is_closed": "false"}
    query = list_query(request, OPPORTUNITY_LIST, Opportunity, defaults=open_only)
    if request.GET.get("is_closed") == "any":
        query.filters.pop("is_closed", None)
        query.errors.pop("is_closed", None)
    _read_stalled(request, query)
    return query


@page_view
def opportunity_list(request: HttpRequest) -> HttpResponse:
    """Opportunities the user may see: filters, search, sort and keyset pages of 50.

    Open ones unless `is_closed` or a stage says otherwise ("any" for both): open deals
    come off the (is_closed, close_date) index, while every deal by close date is a sort
    of the whole table.
    """
    query = opportunity_list_query(request)
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
    flags = stalled_flags(records)
    for row in records:
        row.stalled_reasons = flags.get(row.id, [])
        row.owner_name = names.get(("User", row.owner_id), "")
        row.account_name = accounts.get(row.account_id, "")
        row.account_public_id = ids.encode("Account", row.account_id) if row.account_name else ""
        stage = stages.find(lambda stage, row=row: stage.pk == row.stage_id)
        row.stage_name = stage.name if stage else ""
    order = query.order_by or OPPORTUNITY_LIST.default_order
    columns = sort_headers(
        LIST_COLUMNS, order, lambda target: query.url(order_by=target, cursor=None)
    )
    context = {
        "rows": records,
        "columns": columns,
        "query": query,
        "error": error,
        "next_url": query.url(cursor=page.next_cursor) if page.next_cursor else "",
        "first_url": query.url(cursor=None) if query.cursor else "",
        "filters": _list_filters(query),
    }
    return render(request, "web/sales/list.html", context)


# ---------------------------------------------------------------------------------------
# Create, edit, delete


# What opportunity_create puts in the fields a new opportunity's form leaves blank.
FILLED_WHEN_BLANK = {
    "probability": "From the stage when left blank.",
    "forecast_category": "From the stage when left blank.",
    "owner": "You, when left blank.",
}


def _form(
    values: dict[str, Any], labels: dict[str, str] | None = None, *, new: bool = False
) -> RecordForm:
    return RecordForm(
        "Opportunity",
        LAYOUT,
        values=values,
        choices={"owner": user_choices()},
        reference_labels=labels or {},
        filled_when_blank=FILLED_WHEN_BLANK if new else {},
    )


def _without_blanks(data: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """Leave out blank fields a service fills in itself (owner, probability, category)."""
    return {name: value for name, value in data.items() if name not in names or value}


@page_view
@require_http_methods(["GET", "POST"])
def opportunity_new(request: HttpRequest) -> HttpResponse:
    """Create an opportunity (`?account=<id>` preselects its account)."""
    names = layout_names(LAYOUT)
    if request.method == "POST":
        values = posted_values(request.POST, "Opportunity", names)
        labels = {"account": account_label(request.user, values.get("account_id", ""))}
        form = _form(values, labels, new=True)
        try:
            data = posted_data(request.POST, "Opportunity", names, resolver(request.user))
            data = _without_blanks(data, tuple(FILLED_WHEN_BLANK))
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
    form = _form(values, {"account": account_label(request.user, account)}, new=True)
    return render(request, "web/sales/form.html", {"form": form})


@page_view
@require_http_methods(["GET", "POST"])
def opportunity_edit(request: HttpRequest, opportunity_id: str) -> HttpResponse:
    """Edit an opportunity. Probability and forecast category are sent to the service
    only when changed here, so a new stage sets them as it does everywhere else."""
    opportunity = opportunity_get(actor=request.user, opportunity_id=opportunity_id)
    names = layout_names(LAYOUT)
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
            return render(request, "web/sales/delete.html", context, status=refusal_status(error))
        messages.success(request, f"Opportunity {opportunity.name} was deleted.")
        return redirect("opportunity_list")
    return render(request, "web/sales/delete.html", context)


# ---------------------------------------------------------------------------------------
# The detail page


def _shown_sections(request: HttpRequest, opportunity: Opportunity) -> list[ShownSection]:
    """The detail page's sections as LAYOUT groups them, with Expected Revenue after
    Amount and Loss Reason only on a lost deal (or one that has a reason)."""
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
    special = {
        "account": (account, account_url),
        "stage": (stage.name, ""),
        "owner": (owner, ""),
        "amount": (money(opportunity.amount), ""),
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
            fields.append(ShownField(definition.label, value, url))
            if name == "amount":
                fields.append(ShownField("Expected Revenue", money(opportunity.expected_revenue)))
        sections.append(ShownSection(title, fields))
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
        "sections": _shown_sections(request, opportunity),
        "path": _path(opportunity),
        "history": history,
        "contact_roles": opportunity_contact_roles(actor=request.user, opportunity=opportunity),
        "role_form": role_form or _role_form(),
        "timeline": record_timeline(request.user, opportunity),
        "detail_url": reverse("opportunity_detail", args=[opportunity.public_id]),
        "stalled_reasons": stalled_flags([opportunity]).get(opportunity.pk, []),
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
