"""The lead list: its views (mine, today's, open, a queue's, converted), filters, search,
sort and keyset pages, and the bulk actions on the checked leads.

Without a `view` in the address the list opens the view this user chose last (kept in
the session) when the address has no other parameter either, else the role's default:
My open leads, or All open leads for an admin or manager who owns no open lead (they
oversee others' leads). When that default is not My open leads, the page's links (sort,
pages, CSV download) name it (`view=...`), so they keep showing it.

Every read goes through `leads.selectors` (access applies), every write through
`leads.services`; the filters are LEAD_LIST's, the ListSpec the API uses too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import formats, timezone
from django.views.decorators.http import require_POST

from dealflow.core import ids
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.metadata import get_object
from dealflow.leads import services
from dealflow.leads.models import Lead
from dealflow.leads.selectors import (
    LEAD_LIST,
    NO_LEAD_SOURCE,
    lead_page,
    lead_status,
    lead_statuses,
    lead_visible,
)
from dealflow.leads.service_levels import OVERDUE_LIST
from dealflow.people.models import Role
from dealflow.web.forms import picklist_choices, posted_data
from dealflow.web.leads import open_statuses
from dealflow.web.pages import (
    WIDE_ONLY,
    Cell,
    Column,
    FilterInput,
    ListQuery,
    Pager,
    Table,
    TableRow,
    as_rows,
    list_query,
    midnight_as_day,
    owner_names,
    page_view,
    person_name,
    safe_next,
    signed_in_user,
    sort_headers,
)
from dealflow.web.records import owner_choices, resolver

PAGE_SIZE = 50
# The session key of the list view a user chose last.
SESSION_VIEW = "dealflow:lead-list-view"
# The filters OVERDUE_LIST adds to LEAD_LIST (the API's `overdue=true|false`): a flag the
# selector computes, not a column, so it is read here rather than by list_query's types.
FLAG_FILTERS = tuple(name for name in OVERDUE_LIST.filters if name not in LEAD_LIST.filters)
# LEAD_LIST's filters the form has no input for, with their labels: a link (a dashboard
# bar's) may set them; the page shows each as a chip and keeps it as a hidden input, so
# "Apply filters" does not drop it.
HIDDEN_FILTERS = {
    "is_converted": "Converted",
    "is_closed": "Closed status",
    "converted_after": "Converted from",
    "converted_before": "Converted to",
    "modified_after": "Modified from",
    "modified_before": "Modified before",
}
# Every filter a view may set, as the query string names them (owner_id: user or queue).
VIEW_FILTERS = (
    "owner_id",
    *(name for name in LEAD_LIST.filters if name not in ("owner", "owner_queue")),
    *FLAG_FILTERS,
)


def _lead_key(public_id: str) -> int:
    """A lead's primary key from its public id (INVALID_ID, a 404 page, otherwise)."""
    try:
        return ids.decode(public_id, "Lead")[1]
    except ids.InvalidIdError:
        raise DomainError(ErrorCode.INVALID_ID, f"{public_id!r} is not a lead id", []) from None


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

    An open lead is neither converted nor in a closed status. One query (my queues).
    """
    user = signed_in_user(request)
    today = timezone.localdate().isoformat()
    views = [
        ListView(
            "mine",
            "My open leads",
            {"owner_id": user.public_id or "", "is_converted": "false", "is_closed": "false"},
        ),
        ListView("today", "Today's leads", {"created_after": today}),
        ListView("open", "All open leads", {"is_converted": "false", "is_closed": "false"}),
    ]
    for queue in user.queues.order_by("name"):
        views.append(
            ListView(
                f"queue-{queue.public_id}",
                f"Queue: {queue.name}",
                {"owner_id": queue.public_id or "", "is_converted": "false", "is_closed": "false"},
            )
        )
    views.append(ListView("converted", "Converted", {"is_converted": "true"}))
    return views


def _owns_open_leads(user: Any) -> bool:
    """Whether the user owns a lead that is open (not converted, status not closed)."""
    closed = [status.pk for status in lead_statuses.get() if status.is_closed]
    return (
        lead_visible(actor=user)
        .filter(owner_user_id=user.pk, is_converted=False)
        .exclude(status_id__in=closed)
        .exists()
    )


def default_view(request: HttpRequest, views: list[ListView]) -> ListView:
    """The view a list address without `view` shows (one query at most).

    A bare `/leads/` opens the view this user chose last (SESSION_VIEW), while it still
    exists (a queue view lasts as long as the membership). Otherwise, and for an address
    with filters but no view: My open leads, except for an admin or manager (or
    superuser) who owns no open lead, who would see an empty list: All open leads.
    """
    by_key = {view.key: view for view in views}
    if not request.GET:
        remembered = by_key.get(request.session.get(SESSION_VIEW, ""))
        if remembered is not None:
            return remembered
    user = signed_in_user(request)
    overseer = user.is_superuser or user.role in (Role.ADMIN, Role.MANAGER)
    if overseer and not _owns_open_leads(user):
        return by_key["open"]
    return views[0]


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


def _list_url(base: QueryDict, **changes: str | None) -> str:
    """This list's address with some parameters changed (None removes one).

    Built from the query string itself (`base`: the request's, with the view it fell back
    to), blanks included: a filter the user cleared must stay cleared on the next page
    instead of falling back to the view's default.
    """
    parameters: QueryDict = base.copy()
    for name, value in changes.items():
        if value is None:
            parameters.pop(name, None)
        else:
            parameters[name] = value
    return "?" + parameters.urlencode()


# The columns and the LEAD_LIST orderings they sort by. Below 992 px Email, Lead Source and
# Rating give way, so a tablet (768 px) shows the rest without scrolling sideways or
# breaking names into pieces (the email is one click away, on the lead).
LIST_COLUMNS = (
    Column("Name", "last_name"),
    Column("Company", "company"),
    Column("Email", "email", WIDE_ONLY),
    Column("Phone", classes="text-nowrap"),
    Column("Status"),
    Column("Lead Source", classes=WIDE_ONLY),
    Column("Rating", classes=WIDE_ONLY),
    Column("Owner"),
    Column("Created", "created_date", "text-nowrap"),
)


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
        for cell, column in zip(cells, LIST_COLUMNS, strict=True):
            cell.classes = column.classes
        table_rows.append(TableRow(cells, row.public_id, f"Select {name}"))
    return table_rows


def _effective(request: HttpRequest, view: ListView) -> dict[str, str]:
    """Each filter's text as the list applies it: the query string's (even blank), else
    the view's default."""
    return {
        name: request.GET.get(name, view.defaults.get(name, "")).strip() for name in VIEW_FILTERS
    }


def differs_from_view(request: HttpRequest, view: ListView) -> bool:
    """Whether the query string's filters change the view's (the list is then titled
    plainly "Leads", not with a view's name it does not show)."""
    effective = _effective(request, view)
    return any(effective[name] != view.defaults.get(name, "").strip() for name in VIEW_FILTERS)


@dataclass(frozen=True)
class HiddenFilter:
    """A filter without an input in the form: kept as a hidden input, shown as a chip
    (blank: kept only, clearing the view's default) with a link removing it."""

    name: str
    label: str
    value: str
    text: str
    remove_url: str


def _hidden_filters(request: HttpRequest, view: ListView, base: QueryDict) -> list[HiddenFilter]:
    effective = _effective(request, view)
    found = []
    for name, label in HIDDEN_FILTERS.items():
        value = effective[name]
        if name not in request.GET and not value:
            continue
        text = {"true": "yes", "false": "no"}.get(value, midnight_as_day(value))
        found.append(
            HiddenFilter(name, label, value, text, _list_url(base, cursor=None, **{name: ""}))
        )
    return found


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
        value = given.get(name, "")
        if options.get("input_type") == "date":
            value = midnight_as_day(value)
        return FilterInput(name, label, value, errors.get(name, ""), **options)

    def picklist(name: str) -> list[tuple[str, str]]:
        return picklist_choices(lead.field(name), given.get(name, ""))  # type: ignore[arg-type]

    statuses = [(status.name, status.name) for status in lead_statuses.get() if status.is_active]
    owner_value = given.get("owner") or given.get("owner_queue") or ""
    owner_error = errors.get("owner") or errors.get("owner_queue") or ""
    return [
        shown("status", "Status", choices=_with_current(statuses, given.get("status", ""))),
        shown(
            "lead_source",
            "Lead Source",
            choices=[*picklist("lead_source"), (NO_LEAD_SOURCE, "(none)")],
        ),
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
        shown("overdue", "Service level", choices=[("true", "Overdue"), ("false", "Not overdue")]),
    ]


def _flag_filters(request: HttpRequest, query: Any) -> None:
    """Read FLAG_FILTERS (`overdue`: true or false) into the query, as list_query reads a
    boolean column's filter: the text kept as typed, an error for anything else."""
    for name in FLAG_FILTERS:
        text = (request.GET.get(name) or "").strip()
        if not text:
            continue
        query.given[name] = text
        if text in ("true", "false"):
            query.filters[name] = text == "true"
        else:
            query.errors[name] = "expected true or false"


def _read_page(request: HttpRequest, query: Any) -> tuple[Any, str]:
    """The page of leads and a message when the sort or the cursor could not be used: an
    unknown sort falls back to the default order, a stale cursor to the first page."""
    message = ""
    for _attempt in range(3):  # at most: the sort refused, then the cursor
        try:
            page = lead_page(
                actor=signed_in_user(request),
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


def lead_list_query(
    request: HttpRequest, views: list[ListView] | None = None, view: ListView | None = None
) -> tuple[ListView, ListQuery]:
    """The list view the query string names (else `view`, else the first: My open leads)
    and its filters, search and order, as the list reads them (its CSV download too,
    web/downloads.py)."""
    views = views or list_views(request)
    named = next((item for item in views if item.key == request.GET.get("view")), None)
    view = named or view or views[0]
    query = list_query(request, LEAD_LIST, Lead, defaults=_owner_filter(request, view.defaults))
    _flag_filters(request, query)
    return view, query


@page_view
def lead_list(request: HttpRequest) -> HttpResponse:
    """The leads the user may see, in a list view, filtered, searched, sorted and paged.

    Query string: `view` (a ListView key; without it, `default_view`, remembered when
    given), LEAD_LIST's filters (`owner_id` for a user or a
    queue), `q`, `order_by` (an ordering, `-` for descending) and `cursor`. Queries do not
    grow with the rows shown (owner names in two queries, statuses from the cache).
    """
    views = list_views(request)
    given = request.GET.get("view")
    base: QueryDict = request.GET.copy()
    fallback = None
    if given is None:
        fallback = default_view(request, views)
        if fallback.key != views[0].key:
            base["view"] = fallback.key  # the links keep the view shown
    elif given in (item.key for item in views) and request.session.get(SESSION_VIEW) != given:
        request.session[SESSION_VIEW] = given  # the view to open next time
    view, query = lead_list_query(request, views, fallback)
    page, list_error = _read_page(request, query)
    records = as_rows(page, Lead)
    owners = owner_choices()
    custom = differs_from_view(request, view)
    hidden = _hidden_filters(request, view, base)
    title = "Leads" if custom else view.label
    table = Table(
        caption=title,
        columns=sort_headers(
            LIST_COLUMNS,
            query.order_by or LEAD_LIST.default_order,
            lambda order: _list_url(base, order_by=order, cursor=None),
        ),
        rows=_table_rows(records),
        select_name="lead_ids",
        empty_text="No leads match this view and these filters.",
    )
    pager = Pager(
        first_url=_list_url(base, cursor=None) if query.cursor else "",
        next_url=_list_url(base, cursor=page.next_cursor) if page.next_cursor else "",
        shown=len(records),
    )
    context = {
        "views": [(item, _view_url(item)) for item in views],
        "view": view,
        "title": title,
        "custom": custom,
        "hidden_filters": hidden,
        "chips": [item for item in hidden if item.value],
        "query": query,
        "filters": _filter_fields(query, owners),
        "list_error": list_error,
        "table": table,
        "pager": pager,
        "owner_choices": owners,
        "status_choices": open_statuses(),
        "reset_url": _view_url(view),
        "download_query": f"?{base.urlencode()}" if base else "",
    }
    return render(request, "web/leads/list.html", context)


def _view_url(view: ListView) -> str:
    return "?" + QueryDict.fromkeys(["view"], view.key).urlencode()


# ---------------------------------------------------------------------------------------
# Bulk actions


def _bulk_data(request: HttpRequest, action: str) -> tuple[dict[str, Any], str]:
    """(service data, what the success message says changed) of a bulk action."""
    if action == "owner":
        data = posted_data(request.POST, "Lead", ["owner"], resolver(signed_in_user(request)))
        owner = data.get("owner")
        if owner is None:
            raise DomainError(
                ErrorCode.REQUIRED_FIELD_MISSING, "choose the new owner", ["owner_id"]
            )
        if hasattr(owner, "username"):  # a user; else a queue
            return data, f"Owner changed to {owner.get_full_name() or owner.username}"
        return data, f"Owner changed to queue {owner.name}"
    if action == "status":
        data = posted_data(request.POST, "Lead", ["status"], resolver(signed_in_user(request)))
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
        updated = services.lead_bulk_update(
            actor=signed_in_user(request), lead_ids=lead_ids, data=data
        )
    except DomainError as error:
        if error.code == ErrorCode.NOT_FOUND and error.fields == ["lead_ids"]:
            raise  # a lead this user may not see: the 404 page, as when opening it
        messages.error(request, f"Nothing was changed: {_bulk_refusal(error)}")
        return HttpResponseRedirect(back)
    messages.success(request, f"{done} on {_plural(len(updated), 'lead')}.")
    return HttpResponseRedirect(back)


def _bulk_refusal(error: DomainError) -> str:
    """A bulk change's refusal for the page: a converted lead by its name and the day,
    in words ("Grace Hopper was converted on 3 Feb 2026 and can no longer be changed."),
    rather than the service's "lead 00Q…: lead 00Q… was converted on 2026-02-03 and is
    read-only" (leads.services.lead_bulk_update prefixes the lead's id for API clients);
    any other refusal as the service words it."""
    if error.code != ErrorCode.CANNOT_UPDATE_CONVERTED_LEAD:
        return error.message
    public_id = error.message.removeprefix("lead ").split(":", 1)[0]
    try:
        lead = Lead.objects.get(pk=ids.decode(public_id, "Lead")[1], is_converted=True)
    except (ids.InvalidIdError, Lead.DoesNotExist):
        return error.message
    name = " ".join(part for part in (lead.first_name, lead.last_name) if part)
    if lead.converted_date is None:
        return f"{name} was converted and can no longer be changed."
    day = formats.date_format(lead.converted_date, "j M Y")
    return f"{name} was converted on {day} and can no longer be changed."
