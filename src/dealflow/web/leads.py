"""Lead pages: the list with its views, filters and bulk actions, the detail with its timeline, create, edit, delete and the guided conversion.

Every read goes through `leads.selectors` (access rules apply: a lead a rep may not see
is a 404), every write through `leads.services`; the list takes its filters from
LEAD_LIST, the ListSpec the API uses too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.views.decorators.http import require_POST

from dealflow.core import ids
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.metadata import get_object
from dealflow.leads import services
from dealflow.leads.models import Lead
from dealflow.leads.selectors import LEAD_LIST, lead_get, lead_page, lead_status, lead_statuses
from dealflow.people.models import User
from dealflow.web.forms import (
    RecordForm,
    initial_values,
    picklist_choices,
    posted_data,
    posted_values,
)
from dealflow.web.pages import (
    FilterInput,
    as_rows,
    list_query,
    owner_names,
    page_view,
    person_name,
    safe_next,
)
from dealflow.web.recent import remember
from dealflow.web.records import owner_choices, record_get, resolver
from dealflow.web.timeline import record_timeline

PAGE_SIZE = 50

# The lead's page layout, grouped as Salesforce's default lead layout groups it.
LAYOUT: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Lead Information",
        (
            "salutation",
            "first_name",
            "last_name",
            "title",
            "company",
            "email",
            "phone",
            "mobile_phone",
            "website",
            "lead_source",
            "status",
            "rating",
            "industry",
            "annual_revenue",
            "number_of_employees",
            "owner",
            "do_not_call",
            "has_opted_out_of_email",
        ),
    ),
    ("Address Information", ("street", "city", "state", "postal_code", "country")),
    ("Description", ("description",)),
)
FIELD_NAMES = [name for _title, names in LAYOUT for name in names]


# ---------------------------------------------------------------------------------------
# Shared helpers


def _actor(request: HttpRequest) -> User:
    """The signed-in user (page_view has required the login)."""
    return cast(User, request.user)


def _lead_key(public_id: str) -> int:
    """A lead's primary key from its public id (INVALID_ID, a 404 page, otherwise)."""
    try:
        return ids.decode(public_id, "Lead")[1]
    except ids.InvalidIdError:
        raise DomainError(ErrorCode.INVALID_ID, f"{public_id!r} is not a lead id", []) from None


def _open_statuses(current: str = "") -> list[tuple[str, str]]:
    """(name, name) of the active statuses a lead may be set to: converted ones are
    conversion's (the service refuses them); a retired current status stays selectable."""
    names = [
        status.name
        for status in lead_statuses.get()
        if status.is_active and not status.is_converted
    ]
    if current and current not in names:
        names.append(current)
    return [(name, name) for name in names]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


# ---------------------------------------------------------------------------------------
# The list


@dataclass(frozen=True)
class ListView:
    """A named list view: a label and the filters it starts from (all overridable)."""

    key: str
    label: str
    defaults: Mapping[str, str]


def list_views(request: HttpRequest) -> list[ListView]:
    """My open leads (the default), today's, all open, one per queue of mine, converted.

    "Open" is "not converted", the one state LEAD_LIST filters on. One query (my queues).
    """
    user = _actor(request)
    today = timezone.localdate().isoformat()
    views = [
        ListView(
            "mine", "My open leads", {"owner_id": user.public_id or "", "is_converted": "false"}
        ),
        ListView("today", "Today's leads", {"created_after": today}),
        ListView("open", "All open leads", {"is_converted": "false"}),
    ]
    for queue in user.queues.order_by("name"):
        views.append(
            ListView(
                f"queue-{queue.public_id}",
                f"Queue: {queue.name}",
                {"owner_id": queue.public_id or "", "is_converted": "false"},
            )
        )
    views.append(ListView("converted", "Converted", {"is_converted": "true"}))
    return views


def _owner_filter(request: HttpRequest, defaults: Mapping[str, str]) -> dict[str, str]:
    """The view's defaults with `owner_id` (a user or a queue, as the API's filter of that
    name) turned into LEAD_LIST's `owner` or `owner_queue`; the query string's `owner_id`,
    even blank, replaces the view's."""
    result = {name: value for name, value in defaults.items() if name != "owner_id"}
    text = request.GET.get("owner_id", defaults.get("owner_id", "")).strip()
    if text:
        try:
            is_queue = ids.decode(text)[0] == "Queue"
        except ids.InvalidIdError:
            is_queue = False  # list_query then reports "expected a User id"
        result["owner_queue" if is_queue else "owner"] = text
    return result


def _list_url(request: HttpRequest, **changes: str | None) -> str:
    """This list's address with some parameters changed (None removes one).

    Built from the query string itself, blanks included: a filter the user cleared must
    stay cleared on the next page instead of falling back to the view's default.
    """
    parameters: QueryDict = request.GET.copy()
    for name, value in changes.items():
        if value is None:
            parameters.pop(name, None)
        else:
            parameters[name] = value
    return "?" + parameters.urlencode()


@dataclass
class Column:
    """A table column; `sort_url` when it sorts, `sorted` "ascending"/"descending",
    `classes` for its header and cells (Bootstrap utilities: hide on narrow screens)."""

    label: str
    sort_url: str = ""
    sorted: str = ""
    classes: str = ""


@dataclass
class Cell:
    text: Any
    url: str = ""
    classes: str = ""


@dataclass
class TableRow:
    """One row: its check box value (a public id) and label, and its cells."""

    select_value: str
    select_label: str
    cells: list[Cell]


@dataclass
class Table:
    """What web/components/_list_table.html renders."""

    caption: str
    columns: list[Column]
    rows: list[TableRow]
    select_name: str = ""
    empty_text: str = "Nothing to show."


@dataclass
class Pager:
    """What web/components/_pager.html renders: first page and next page links."""

    first_url: str = ""
    next_url: str = ""
    shown: int = 0


# (column label, LEAD_LIST ordering or "", classes). Below 992 px Lead Source and Rating
# give way, so a tablet (768 px) shows the rest without scrolling sideways.
NARROW_HIDDEN = "d-none d-lg-table-cell"
LIST_COLUMNS = (
    ("Name", "last_name", ""),
    ("Company", "company", ""),
    ("Email", "email", ""),
    ("Phone", "", "text-nowrap"),
    ("Status", "", ""),
    ("Lead Source", "", NARROW_HIDDEN),
    ("Rating", "", NARROW_HIDDEN),
    ("Owner", "", ""),
    ("Created", "created_date", "text-nowrap"),
)


def _columns(request: HttpRequest, order: str) -> list[Column]:
    """The headers; a sortable one links to its order, ascending first, then toggled."""
    columns = []
    for label, name, classes in LIST_COLUMNS:
        if not name:
            columns.append(Column(label, classes=classes))
            continue
        current = {name: "ascending", f"-{name}": "descending"}.get(order, "")
        next_order = f"-{name}" if current == "ascending" else name
        url = _list_url(request, order_by=next_order, cursor=None)
        columns.append(Column(label, url, current, classes))
    return columns


def _table_rows(records: list[Any]) -> list[TableRow]:
    names = owner_names(
        (row.owner_user_id for row in records), (row.owner_queue_id for row in records)
    )
    table_rows = []
    for row in records:
        name = person_name(row)
        owner = (
            names.get(("User", row.owner_user_id), "")
            if row.owner_user_id
            else names.get(("Queue", row.owner_queue_id), "")
        )
        created = formats.date_format(timezone.localtime(row.created_at), "Y-m-d")
        cells = [
            Cell(name, reverse("lead_detail", args=[row.public_id])),
            Cell(row.company),
            Cell(row.email, f"mailto:{row.email}" if row.email else ""),
            Cell(row.phone),
            Cell(lead_status(row.status_id).name),
            Cell(row.lead_source),
            Cell(row.rating),
            Cell(owner),
            Cell(created),
        ]
        for cell, (_label, _name, classes) in zip(cells, LIST_COLUMNS, strict=True):
            cell.classes = classes
        table_rows.append(TableRow(row.public_id, f"Select {name}", cells))
    return table_rows


def _with_current(choices: Sequence[tuple[str, str]], value: str) -> list[tuple[str, str]]:
    """The choices plus the value given when none has it (a link's `status=working -
    contacted`): the filter stays shown as applied instead of reading "Any"."""
    if value and value not in (choice for choice, _label in choices):
        return [*choices, (value, value)]
    return list(choices)


def _filter_fields(query: Any, owners: Sequence[tuple[str, str]]) -> list[FilterInput]:
    """The filter form's inputs, each filled with what was typed and its error; the owner
    select offers users and queues (LEAD_LIST's `owner` or `owner_queue`)."""
    lead = get_object("Lead")
    given, errors = query.given, query.errors

    def shown(name: str, label: str, **options: Any) -> FilterInput:
        return FilterInput(name, label, given.get(name, ""), errors.get(name, ""), **options)

    def picklist(name: str) -> list[tuple[str, str]]:
        return picklist_choices(lead.field(name), given.get(name, ""))  # type: ignore[arg-type]

    statuses = [(status.name, status.name) for status in lead_statuses.get() if status.is_active]
    owner_value = given.get("owner") or given.get("owner_queue") or ""
    owner_error = errors.get("owner") or errors.get("owner_queue") or ""
    return [
        shown("status", "Status", choices=_with_current(statuses, given.get("status", ""))),
        shown("lead_source", "Lead Source", choices=picklist("lead_source")),
        FilterInput(
            "owner_id",
            "Owner or queue",
            owner_value,
            owner_error,
            _with_current(owners, owner_value),
        ),
        shown("rating", "Rating", choices=picklist("rating")),
        shown("industry", "Industry", choices=picklist("industry")),
        shown("created_after", "Created from", input_type="date"),
        shown("created_before", "Created before", input_type="date"),
    ]


def _read_page(request: HttpRequest, query: Any) -> tuple[Any, str]:
    """The page of leads and a message when the sort or the cursor could not be used: an
    unknown sort falls back to the default order, a stale cursor to the first page."""
    message = ""
    for _attempt in range(3):  # at most: the sort refused, then the cursor
        try:
            page = lead_page(
                actor=_actor(request),
                filters=query.filters,
                search=query.search,
                order_by=query.order_by,
                cursor=query.cursor,
                limit=PAGE_SIZE,
            )
            return page, message
        except DomainError as error:
            if "order_by" in error.fields and query.order_by:
                query.order_by = None
            elif "cursor" in error.fields and query.cursor:
                query.cursor = None
            else:
                raise
            message = message or error.message
    raise AssertionError("unreachable: each retry drops an option")


@page_view
def lead_list(request: HttpRequest) -> HttpResponse:
    """The leads the user may see, in a list view, filtered, searched, sorted and paged.

    Query string: `view` (a ListView key), LEAD_LIST's filters (`owner_id` for a user or a
    queue), `q`, `order_by` (an ordering, `-` for descending) and `cursor`. Queries do not
    grow with the rows shown (owner names in two queries, statuses from the cache).
    """
    views = list_views(request)
    view = next((item for item in views if item.key == request.GET.get("view")), views[0])
    query = list_query(request, LEAD_LIST, Lead, defaults=_owner_filter(request, view.defaults))
    page, list_error = _read_page(request, query)
    records = as_rows(page, Lead)
    order = query.order_by or LEAD_LIST.default_order
    owners = owner_choices()
    table = Table(
        caption=view.label,
        columns=_columns(request, order),
        rows=_table_rows(records),
        select_name="lead_ids",
        empty_text="No leads match this view and these filters.",
    )
    pager = Pager(
        first_url=_list_url(request, cursor=None) if query.cursor else "",
        next_url=_list_url(request, cursor=page.next_cursor) if page.next_cursor else "",
        shown=len(records),
    )
    context = {
        "views": [(item, _view_url(item)) for item in views],
        "view": view,
        "query": query,
        "filters": _filter_fields(query, owners),
        "list_error": list_error,
        "table": table,
        "pager": pager,
        "owner_choices": owners,
        "status_choices": _open_statuses(),
        "reset_url": _view_url(view),
    }
    return render(request, "web/leads/list.html", context)


def _view_url(view: ListView) -> str:
    return "?" + QueryDict.fromkeys(["view"], view.key).urlencode()


# ---------------------------------------------------------------------------------------
# Bulk actions


def _bulk_data(request: HttpRequest, action: str) -> tuple[dict[str, Any], str]:
    """(service data, what the success message says changed) of a bulk action."""
    if action == "owner":
        data = posted_data(request.POST, "Lead", ["owner"], resolver(_actor(request)))
        owner = data.get("owner")
        if owner is None:
            raise DomainError(
                ErrorCode.REQUIRED_FIELD_MISSING, "choose the new owner", ["owner_id"]
            )
        if hasattr(owner, "username"):  # a user; else a queue
            return data, f"Owner changed to {owner.get_full_name() or owner.username}"
        return data, f"Owner changed to queue {owner.name}"
    if action == "status":
        data = posted_data(request.POST, "Lead", ["status"], resolver(_actor(request)))
        if not data.get("status"):
            raise DomainError(ErrorCode.REQUIRED_FIELD_MISSING, "choose the new status", ["status"])
        return data, f"Status changed to {data['status']}"
    raise DomainError(ErrorCode.INVALID_FIELD, "choose Change owner or Change status", ["action"])


@page_view
@require_POST
def lead_bulk(request: HttpRequest) -> HttpResponse:
    """Change the owner (a user or a queue) or the status of the checked leads at once.

    All or nothing through `lead_bulk_update`; back to the list (`next`) with a message
    saying how many changed, or why nothing did. A lead id the user may not see is a 404.
    """
    back = safe_next(request, reverse("lead_list"))
    lead_ids = [_lead_key(public_id) for public_id in request.POST.getlist("lead_ids")]
    if not lead_ids:
        messages.error(request, "Nothing was changed: select at least one lead.")
        return HttpResponseRedirect(back)
    try:
        data, done = _bulk_data(request, request.POST.get("action", ""))
        updated = services.lead_bulk_update(actor=_actor(request), lead_ids=lead_ids, data=data)
    except DomainError as error:
        if error.code == ErrorCode.NOT_FOUND and error.fields == ["lead_ids"]:
            raise  # a lead this user may not see: the 404 page, as when opening it
        messages.error(request, f"Nothing was changed: {error.message}")
        return HttpResponseRedirect(back)
    messages.success(request, f"{done} on {_plural(len(updated), 'lead')}.")
    return HttpResponseRedirect(back)


# ---------------------------------------------------------------------------------------
# The detail


@dataclass
class ShownField:
    label: str
    value: Any
    url: str = ""


@dataclass
class ShownSection:
    title: str
    fields: list[ShownField] = field(default_factory=list)


def _website_url(text: str) -> str:
    """A link for a website as typed ("example.com"); never another scheme than http(s)."""
    lowered = text.lower()
    return text if lowered.startswith(("http://", "https://")) else f"https://{text}"


def _shown_value(lead: Lead, name: str, owner: str) -> ShownField:
    definition = get_object("Lead").field(name)
    assert definition is not None
    label = definition.label
    if name == "owner":
        return ShownField(label, owner)
    if name == "status":
        return ShownField(label, lead.status.name)
    value = getattr(lead, name)
    if isinstance(value, bool):
        return ShownField(label, "Yes" if value else "No")
    if isinstance(value, Decimal):
        return ShownField(label, formats.number_format(value, 2, force_grouping=True))
    if value is None:
        return ShownField(label, "")
    if value and name == "email":
        return ShownField(label, value, f"mailto:{value}")
    if value and name in ("phone", "mobile_phone"):
        return ShownField(label, value, f"tel:{value}")
    if value and name == "website":
        return ShownField(label, value, _website_url(value))
    return ShownField(label, value)


def lead_owner_name(lead: Lead) -> str:
    """The name of the lead's owner: a user or a queue (at most two queries)."""
    names = owner_names([lead.owner_user_id], [lead.owner_queue_id])
    if lead.owner_user_id:
        return names.get(("User", lead.owner_user_id), "")
    return names.get(("Queue", lead.owner_queue_id), "")


def _converted_links(request: HttpRequest, lead: Lead) -> list[ShownField]:
    """The records a converted lead became, each linked when the user may see it."""
    targets = (
        ("Converted Account", "Account", lead.converted_account_id, "account_detail"),
        ("Converted Contact", "Contact", lead.converted_contact_id, "contact_detail"),
        (
            "Converted Opportunity",
            "Opportunity",
            lead.converted_opportunity_id,
            "opportunity_detail",
        ),
    )
    links = []
    for label, object_name, primary_key, url_name in targets:
        if not primary_key:
            links.append(ShownField(label, "None"))
            continue
        public_id = ids.encode(object_name, primary_key)
        try:
            record = record_get(_actor(request), object_name, public_id)
        except DomainError:
            links.append(ShownField(label, "A record you cannot see"))
            continue
        name = getattr(record, "name", None) or person_name(record)
        links.append(ShownField(label, name, reverse(url_name, args=[public_id])))
    return links


def _status_path(lead: Lead) -> list[tuple[str, bool]]:
    """(status name, is the lead's) of the active statuses in order: the "path"."""
    return [
        (status.name, status.pk == lead.status_id)
        for status in lead_statuses.get()
        if status.is_active or status.pk == lead.status_id
    ]


@page_view
def lead_detail(request: HttpRequest, lead_id: str) -> HttpResponse:
    """A lead's fields in Salesforce's groups, its conversion, its timeline and the "Add a
    task / Log a call" form (web/components/_task_form.html, posting to task_new)."""
    lead = lead_get(actor=_actor(request), lead_id=lead_id)
    lead.status = lead_status(lead.status_id)  # from the cache, not a query
    remember(request, lead)
    owner = lead_owner_name(lead)
    sections = [
        ShownSection(title, [_shown_value(lead, name, owner) for name in names])
        for title, names in LAYOUT
    ]
    context = {
        "lead": lead,
        "name": " ".join(part for part in (lead.salutation, person_name(lead)) if part),
        "owner": owner,
        "sections": sections,
        "converted": _converted_links(request, lead) if lead.is_converted else [],
        "status_path": _status_path(lead),
        "timeline": record_timeline(_actor(request), lead),
    }
    return render(request, "web/leads/detail.html", context)


# ---------------------------------------------------------------------------------------
# Create and edit


def _form(values: Mapping[str, Any]) -> RecordForm:
    """The lead form; the owner is chosen among users and queues, the status among the
    statuses a lead may be set to."""
    return RecordForm(
        "Lead",
        LAYOUT,
        values=values,
        choices={"owner": owner_choices(), "status": _open_statuses(values.get("status", ""))},
    )


def _form_page(
    request: HttpRequest, form: RecordForm, *, lead: Lead | None, status: int = 200
) -> HttpResponse:
    context = {"form": form, "lead": lead, "name": person_name(lead) if lead else ""}
    return render(request, "web/leads/form.html", context, status=status)


def _refused_form(request: HttpRequest, error: DomainError, lead: Lead | None) -> HttpResponse:
    """The form again with the service's refusal beside its fields (400)."""
    if error.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY:
        raise error  # the 403 page (page_view)
    form = _form(posted_values(request.POST, "Lead", FIELD_NAMES))
    form.fail(error)
    return _form_page(request, form, lead=lead, status=400)


@page_view
def lead_new(request: HttpRequest) -> HttpResponse:
    """Create a lead; a refusal (a missing Company, say) shows beside its field."""
    if request.method == "POST":
        try:
            data = posted_data(request.POST, "Lead", FIELD_NAMES, resolver(_actor(request)))
            lead = services.lead_create(actor=_actor(request), data=data)
        except DomainError as error:
            return _refused_form(request, error, None)
        messages.success(request, f"Lead “{person_name(lead)}” was created.")
        return redirect("lead_detail", lead.public_id)
    default = next((status.name for status in lead_statuses.get() if status.is_default), "")
    values = {"owner_id": _actor(request).public_id, "status": default}
    return _form_page(request, _form(values), lead=None)


@page_view
def lead_edit(request: HttpRequest, lead_id: str) -> HttpResponse:
    """Change a lead; a converted lead is read-only (the service refuses, the page says so)."""
    lead = lead_get(actor=_actor(request), lead_id=lead_id)
    lead.status = lead_status(lead.status_id)
    if request.method == "POST":
        try:
            data = posted_data(request.POST, "Lead", FIELD_NAMES, resolver(_actor(request)))
            services.lead_update(actor=_actor(request), lead=lead, data=data)
        except DomainError as error:
            return _refused_form(request, error, lead)
        messages.success(request, f"Lead “{person_name(lead)}” was saved.")
        return redirect("lead_detail", lead.public_id)
    form = _form(initial_values(lead, "Lead", FIELD_NAMES))
    if lead.is_converted:
        form.message = f"This lead was converted on {lead.converted_date} and is read-only."
    return _form_page(request, form, lead=lead)


# ---------------------------------------------------------------------------------------
# Delete


@page_view
def lead_delete(request: HttpRequest, lead_id: str) -> HttpResponse:
    """GET asks "Delete lead X?"; POST deletes through `lead_delete` and goes to the list."""
    lead = lead_get(actor=_actor(request), lead_id=lead_id)
    name = person_name(lead)
    error = ""
    if request.method == "POST":
        try:
            services.lead_delete(actor=_actor(request), lead=lead)
        except DomainError as refusal:
            if refusal.code != ErrorCode.CANNOT_UPDATE_CONVERTED_LEAD:
                raise
            error = refusal.message
        else:
            messages.success(request, f"Lead “{name}” was deleted.")
            return redirect("lead_list")
    context = {"lead": lead, "name": name, "error": error}
    return render(request, "web/leads/delete.html", context, status=400 if error else 200)
