"""What every page view shares: refusals as 404/403 pages, records as template rows, the
names of the users and queues rows refer to, a detail page's fields, a list's table and
pager as the components render them, and list filters read from the query string by the
same ListSpec the API uses.

Pages read through the selectors and write through the services (DESIGN.md); nothing here
holds a business rule.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme

from dealflow.core import ids, rows
from dealflow.core.access import is_admin
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.selectors import ListSpec, Page
from dealflow.people.models import Queue, User

View = Callable[..., HttpResponse]


def page_view(view: View) -> View:
    """A signed-in page whose refusals are pages: a record the user may not see (or that
    does not exist) is a 404, a refused action a 403; neither says which it was."""

    @login_required
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except DomainError as error:
            if error.code in (ErrorCode.NOT_FOUND, ErrorCode.INVALID_ID):
                raise Http404(error.message) from None
            if error.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY:
                return refused(request, error.message)
            raise
        except PermissionDenied as error:
            return refused(request, str(error))

    return wrapped


def refused(request: HttpRequest, message: str) -> HttpResponse:
    """The 403 page. Rendered rather than raised: Django logs a raised PermissionDenied
    with its traceback, and a refusal is an everyday answer, not a fault (the response
    is still logged, in one line, as every 4xx is)."""
    return render(request, "403.html", {"exception": message}, status=403)


def signed_in_user(request: HttpRequest) -> User:
    """The signed-in user, typed as ours (page_view has required the login)."""
    return cast(User, request.user)


def admin_view(view: View) -> View:
    """A page only admins may open (Settings); everybody else gets 403."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_admin(request.user):
            return refused(request, "Settings are for admins")
        return view(request, *args, **kwargs)

    return page_view(wrapped)


def safe_next(request: HttpRequest, fallback: str) -> str:
    """The `next` URL of a form if it stays on this site, else `fallback`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


# ---------------------------------------------------------------------------------------
# Rows


def person_name(record: Any) -> str:
    """A contact's or lead's name as Salesforce shows it: first and last name."""
    return " ".join(part for part in (record.first_name, record.last_name) if part)


def as_rows(page: Page, model: type[models.Model]) -> list[SimpleNamespace]:
    """A page's records as objects templates can read (`row.last_name`, `row.public_id`)."""
    names = rows.attnames(model)
    object_name = model.object_name  # type: ignore[attr-defined]
    result = []
    for record in page.records:
        row = SimpleNamespace(**dict(zip(names, record, strict=True)))
        row.public_id = ids.encode(object_name, row.id)
        result.append(row)
    return result


def owner_names(user_ids: Iterable[int | None], queue_ids: Iterable[int | None] = ()) -> dict:
    """{("User", pk) or ("Queue", pk): display name} in at most two queries."""
    names: dict[tuple[str, int], str] = {}
    wanted_users = {pk for pk in user_ids if pk}
    if wanted_users:
        for user in User.objects.filter(pk__in=wanted_users).only(
            "first_name", "last_name", "username"
        ):
            names["User", user.pk] = user.get_full_name() or user.username
    wanted_queues = {pk for pk in queue_ids if pk}
    if wanted_queues:
        for pk, name in Queue.objects.filter(pk__in=wanted_queues).values_list("pk", "name"):
            names["Queue", pk] = name
    return names


# ---------------------------------------------------------------------------------------
# Detail pages


@dataclass
class ShownField:
    """One field on a detail page: its label, its value as shown and, for a link, its URL."""

    label: str
    value: Any
    url: str = ""


@dataclass
class ShownSection:
    """A group of fields on a detail page, as the object's layout groups them."""

    title: str
    fields: list[ShownField] = field(default_factory=list)


# ---------------------------------------------------------------------------------------
# List tables: what web/components/_list_table.html and _pager.html render

# Classes of a column a list hides below 992 px, so it stays readable at tablet width.
WIDE_ONLY = "d-none d-lg-table-cell"


@dataclass(frozen=True)
class Column:
    """A list column: its heading, the order name it sorts by (None: not sortable) and
    the classes of its header and cells (WIDE_ONLY for the less needed ones)."""

    label: str
    order: str | None = None
    classes: str = ""


@dataclass
class Header:
    """A column's header as the table shows it: `sort_url` when it sorts, `sorted`
    "ascending" or "descending" when the list is in its order."""

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
    """One row: its cells and, in a table with check boxes, the box's value (a public id)
    and label."""

    cells: list[Cell]
    select_value: str = ""
    select_label: str = ""


@dataclass
class Table:
    caption: str
    columns: list[Header]
    rows: list[TableRow]
    select_name: str = ""  # the check boxes' name; "" for none
    empty_text: str = "Nothing to show."


@dataclass
class Pager:
    """Keyset pages: links to the first page and to the next one ("" for none)."""

    first_url: str = ""
    next_url: str = ""
    shown: int = 0


def sort_headers(
    columns: Sequence[Column], order: str, url_of: Callable[[str], str]
) -> list[Header]:
    """The headers of a list in `order` ("-name" for descending). A sortable one links to
    `url_of(order)`: ascending first, descending when the list is ascending by it now."""
    headers = []
    for column in columns:
        if not column.order:
            headers.append(Header(column.label, classes=column.classes))
            continue
        now = {column.order: "ascending", f"-{column.order}": "descending"}.get(order, "")
        target = f"-{column.order}" if now == "ascending" else column.order
        headers.append(Header(column.label, url_of(target), now, column.classes))
    return headers


# ---------------------------------------------------------------------------------------
# List filters: the same ListSpec as the API, read from a query string


@dataclass
class ListQuery:
    """A list page's filters, search, order and cursor as read from the query string.

    `filters` holds typed values keyed by the ListSpec's filter names (what the selector
    takes); `given` the text as typed, to fill the filter form again; `errors` a message
    per filter whose text could not be read (that filter is then not applied).
    """

    filters: dict[str, Any] = field(default_factory=dict)
    given: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    search: str | None = None
    order_by: str | None = None
    cursor: str | None = None

    def url(self, **changes: Any) -> str:
        """The query string of this list with some parameters changed (None removes one)."""
        parameters: dict[str, Any] = dict(self.given)
        for name, value in (("q", self.search), ("order_by", self.order_by)):
            if value:
                parameters[name] = value
        parameters.update(changes)
        return "?" + urlencode({name: value for name, value in parameters.items() if value})


@dataclass(frozen=True)
class FilterInput:
    """One input of a list's filter form (web/components/_filter_input.html), named as the
    ListSpec's filter: a select when it has `choices`, else an input of `input_type`."""

    name: str
    label: str
    value: str = ""
    error: str = ""
    choices: Sequence[tuple[str, str]] | None = None
    input_type: str = "text"

    @property
    def input_id(self) -> str:
        return f"filter_{self.name}"


def _typed(model: type[models.Model], lookup: str, text: str) -> Any:
    """The filter value `text` as the type of the field `lookup` starts with.

    Raises ValueError with the expected form. A foreign key takes the record's public id;
    a lookup on `<field>_id` takes text (a status or stage by name, see the selectors).
    """
    base = lookup.split("__", 1)[0]
    model_field = model._meta.get_field(base)
    if base.endswith("_id") or isinstance(model_field, models.CharField | models.TextField):
        return text
    if isinstance(model_field, models.ForeignKey):
        related = model_field.related_model.object_name  # type: ignore[union-attr]
        try:
            return ids.decode(text, related)[1]
        except ids.InvalidIdError:
            raise ValueError(f"expected a {related} id") from None
    if isinstance(model_field, models.BooleanField):
        if text not in ("true", "false"):
            raise ValueError("expected true or false")
        return text == "true"
    if isinstance(model_field, models.DateTimeField):
        moment = parse_datetime(text)
        if moment is None and (day := parse_date(text)) is not None:
            moment = datetime.datetime.combine(day, datetime.time())
        if moment is None:
            raise ValueError("expected a date YYYY-MM-DD")
        return timezone.make_aware(moment) if timezone.is_naive(moment) else moment
    if isinstance(model_field, models.DateField):
        day = parse_date(text)
        if day is None:
            raise ValueError("expected a date YYYY-MM-DD")
        return day
    return text


def list_query(
    request: HttpRequest,
    spec: ListSpec,
    model: type[models.Model],
    *,
    defaults: Mapping[str, str] | None = None,
) -> ListQuery:
    """Read a list's filters from the query string by its ListSpec (one definition with
    the API); `defaults` fill filters the query string does not name (a list view)."""
    query = ListQuery(
        search=(request.GET.get("q") or "").strip() or None,
        order_by=request.GET.get("order_by") or None,
        cursor=request.GET.get("cursor") or None,
    )
    values = {**(defaults or {}), **request.GET.dict()}
    for name, lookup in spec.filters.items():
        text = (values.get(name) or "").strip()
        if not text:
            continue
        query.given[name] = text
        try:
            query.filters[name] = _typed(model, lookup, text)
        except (ValueError, OverflowError) as error:
            query.errors[name] = str(error) if str(error) else "not a valid value"
    return query


def midnight_as_day(text: str) -> str:
    """A date-time filter's text as the list forms' date inputs write it (YYYY-MM-DD)
    when it is a midnight in the organisation's time zone (`2026-09-01T00:00:00+02:00`
    -> `2026-09-01`); any other text as it is."""
    moment = parse_datetime(text) if "T" in text else None
    if moment is not None and timezone.is_aware(moment):
        local = timezone.localtime(moment)
        if local.time() == datetime.time.min:
            return local.date().isoformat()
    return text
