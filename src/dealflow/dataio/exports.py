"""CSV exports of leads, accounts, contacts and opportunities (DOMAIN.md section 8,
docs/export.md): the records the acting user may see, streamed in keyset-paged batches.

- Columns are the metadata registry's fields of the object, in its order; headers are
  their native (public) names (`last_name`, `owner_id`, `stage_name`) or, with
  `headers="salesforce"`, their Salesforce API names (`LastName`, `OwnerId`,
  `StageName`), which Data Loader maps by name.
- Values as the API writes them: references as public ids (a lead's owner is a user or a
  queue), statuses and stages by name, money with 2 decimals, booleans `true`/`false`,
  dates ISO 8601, times ISO 8601 in UTC with milliseconds (`2026-12-07T11:20:00.000Z`).
- Text that a spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`, a tab
  or a carriage return) is neutralised by a leading single quote (OWASP's "CSV
  injection" rule). Numbers, dates and ids are written by dealflow itself and left as
  they are (a negative amount stays a number).
- Reads go through the list selectors (`lead_page`, ...), so the access rules, filters,
  search and order are exactly the list's: one query per batch of BATCH_SIZE rows, and
  memory bounded by one batch whatever the number of rows.
"""

from __future__ import annotations

import csv
import datetime
import io
import itertools
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from functools import cache
from typing import Any

from dealflow.accounts.selectors import account_page, contact_page
from dealflow.core import ids, rows
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.metadata import (
    LEAD_STATUS_PICKLIST,
    OPPORTUNITY_STAGE_PICKLIST,
    FieldDef,
    ObjectDef,
    get_object,
)
from dealflow.core.selectors import MAX_PAGE_SIZE, Page
from dealflow.leads.selectors import lead_page, lead_statuses
from dealflow.people.models import Role, User
from dealflow.sales.models import expected_revenue
from dealflow.sales.selectors import opportunity_page, stages

# What `dealflow export` takes -> the object.
EXPORT_OBJECTS = {
    "leads": "Lead",
    "accounts": "Account",
    "contacts": "Contact",
    "opportunities": "Opportunity",
}
HEADERS = ("native", "salesforce")
PageReader = Callable[..., Page]
PAGE_READERS: dict[str, PageReader] = {
    "Lead": lead_page,
    "Account": account_page,
    "Contact": contact_page,
    "Opportunity": opportunity_page,
}
# Rows per query: the most one list page may hold.
BATCH_SIZE = MAX_PAGE_SIZE
# The first characters that make a spreadsheet evaluate a cell (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_TEXT_TYPES = {"string", "textarea", "email", "phone", "url", "picklist"}


def neutralised(text: str) -> str:
    """Text a spreadsheet shows as text: a leading quote before a formula's first character."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def default_actor() -> User:
    """Who an export acts as when no user is named: the first active admin (NOT_FOUND
    when there is none)."""
    admin = (
        User.objects.filter(is_active=True, role=Role.ADMIN).order_by("pk").first()
        or User.objects.filter(is_active=True, is_superuser=True).order_by("pk").first()
    )
    if admin is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no active admin to act as; name a user", ["user"])
    return admin


def _object(object_name: str) -> ObjectDef:
    if object_name not in PAGE_READERS:
        allowed = ", ".join(EXPORT_OBJECTS)
        raise DomainError(
            ErrorCode.INVALID_FIELD, f"object: {object_name!r} is not one of {allowed}", ["object"]
        )
    return get_object(object_name)


def export_headers(object_name: str, headers: str = "native") -> list[str]:
    """The header row: public names, or Salesforce API names (`headers="salesforce"`)."""
    if headers not in HEADERS:
        raise DomainError(
            ErrorCode.INVALID_FIELD,
            f"headers: {headers!r} is not one of {', '.join(HEADERS)}",
            ["headers"],
        )
    fields = _object(object_name).fields
    if headers == "salesforce":
        return [field.api_name for field in fields]
    return [field.public_name for field in fields]


# ---------------------------------------------------------------------------------------
# Values

# Names by id of the table picklists (lead statuses, opportunity stages), read once per
# batch: the configuration cache checks its version on every read, a query outside a request.
Names = Mapping[str, Mapping[int, str]]
Reader = Callable[[tuple[Any, ...], Names], str]


def _public_id(object_name: str, primary_key: int | None) -> str:
    return ids.encode(object_name, primary_key) if primary_key else ""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, datetime.datetime):
        moment = value.astimezone(datetime.UTC).isoformat(timespec="milliseconds")
        return moment.replace("+00:00", "Z")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def _reader(object_def: ObjectDef, field_def: FieldDef, position: Mapping[str, int]) -> Reader:
    """How one column's text is made from a row (of `rows.attnames`), with no query."""
    name = field_def.name
    if name == "id":
        at = position["id"]
        return lambda row, names: _public_id(object_def.name, row[at])
    if object_def.name == "Lead" and name == "owner":
        user_at, queue_at = position["owner_user_id"], position["owner_queue_id"]
        return lambda row, names: (
            _public_id("User", row[user_at]) or _public_id("Queue", row[queue_at])
        )
    if object_def.name == "Opportunity" and name == "expected_revenue":
        amount_at, probability_at = position["amount"], position["probability"]
        return lambda row, names: _text(expected_revenue(row[amount_at], row[probability_at]))
    if field_def.picklist in (LEAD_STATUS_PICKLIST, OPPORTUNITY_STAGE_PICKLIST):
        at, picklist = position[f"{name}_id"], field_def.picklist
        return lambda row, names: names[picklist][row[at]]
    if field_def.type == "reference":
        at, target = position[f"{name}_id"], field_def.reference_to[0]
        return lambda row, names: _public_id(target, row[at])
    at = position[name]
    if field_def.type in _TEXT_TYPES:
        return lambda row, names: neutralised(row[at] or "")
    return lambda row, names: _text(row[at])


def _picklist_names() -> dict[str, dict[int, str]]:
    """The names of lead statuses and stages by id, as configured now (cached)."""
    return {
        LEAD_STATUS_PICKLIST: {status.pk: status.name for status in lead_statuses.get()},
        OPPORTUNITY_STAGE_PICKLIST: {stage.pk: stage.name for stage in stages.get()},
    }


@cache
def _readers(object_name: str) -> tuple[Reader, ...]:
    object_def = get_object(object_name)
    position = {attname: index for index, attname in enumerate(rows.attnames(object_def.model))}
    return tuple(_reader(object_def, field_def, position) for field_def in object_def.fields)


def export_values(object_name: str, row: tuple[Any, ...], names: Names | None = None) -> list[str]:
    """One record's CSV values, in header order (`row`: a selector's page row; `names`:
    `_picklist_names()`, read once for many rows)."""
    names = names if names is not None else _picklist_names()
    return [read(row, names) for read in _readers(object_name)]


# ---------------------------------------------------------------------------------------
# Streaming


class _Lines:
    """A file-like object whose write() returns what was written (for csv.writer)."""

    def write(self, text: str) -> str:
        return text


def export_batches(
    *,
    actor: Any,
    object_name: str,
    filters: Mapping[str, Any] | None = None,
    search: str | None = None,
    order_by: str | None = None,
    batch_size: int = BATCH_SIZE,
) -> Iterator[list[tuple[Any, ...]]]:
    """The rows the actor may see, batch after batch (one query each), in the list's
    order (or `order_by`), through the list's selector (`filters` as it takes them)."""
    _object(object_name)
    read = PAGE_READERS[object_name]
    cursor = None
    while True:
        page = read(
            actor=actor,
            filters=dict(filters or {}),
            search=search,
            order_by=order_by,
            cursor=cursor,
            limit=batch_size,
        )
        if page.records:
            yield page.records
        if not page.next_cursor:
            return
        cursor = page.next_cursor


def export_csv(
    *,
    actor: Any,
    object_name: str,
    headers: str = "native",
    filters: Mapping[str, Any] | None = None,
    search: str | None = None,
    order_by: str | None = None,
    batch_size: int = BATCH_SIZE,
) -> Iterator[str]:
    """The CSV text of an export, a chunk per batch, the header row first (RFC 4180:
    CRLF line ends, fields quoted when needed). The object, headers, filters and order
    are checked (and the first batch read) before it returns, so a refusal
    (INVALID_FIELD naming the option) comes before anything is sent."""
    header_row = export_headers(object_name, headers)
    batches = export_batches(
        actor=actor,
        object_name=object_name,
        filters=filters,
        search=search,
        order_by=order_by,
        batch_size=batch_size,
    )
    # The first batch now: a refused filter or order is raised before anything is sent.
    first = next(batches, None)
    return _csv_chunks(object_name, header_row, itertools.chain([first] if first else [], batches))


def _csv_chunks(
    object_name: str, header_row: list[str], batches: Iterator[list[tuple[Any, ...]]]
) -> Iterator[str]:
    yield csv.writer(_Lines()).writerow(header_row)
    readers = _readers(object_name)
    for batch in batches:
        names = _picklist_names()
        chunk = io.StringIO()
        writer = csv.writer(chunk)
        writer.writerows([read(row, names) for read in readers] for row in batch)
        yield chunk.getvalue()
