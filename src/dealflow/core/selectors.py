"""Reads shared by every domain: one record, or a filtered, ordered page of records.

Every read starts from `readable(actor, ...)`, so no adapter can show a record its user
may not see. Pages use keyset pagination (an opaque cursor holding the last row's sort
value and id), which costs the same on page 1 and page 20,000.
"""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import models
from django.db.models import Q, QuerySet

from dealflow.core import ids, rows
from dealflow.core.access import can_read, readable
from dealflow.core.errors import DomainError, ErrorCode

Record = TypeVar("Record", bound=models.Model)
MAX_PAGE_SIZE = 200


def _primary_key(public_id: str, object_name: str) -> int | None:
    """The primary key a public id of this object names, or None if it names none."""
    try:
        _object, primary_key = ids.decode(public_id, object_name)
    except ids.InvalidIdError:
        return None
    return primary_key


def _not_found(object_name: str, public_id: str) -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, f"no {object_name} with id {public_id!r}", ["id"])


def record_by_id(queryset: QuerySet[Record], public_id: str) -> Record:
    """The record of the queryset with this public id; NOT_FOUND otherwise."""
    object_name = queryset.model.object_name  # type: ignore[attr-defined]
    primary_key = _primary_key(public_id, object_name)
    record = queryset.filter(pk=primary_key).first() if primary_key else None
    if record is None:
        raise _not_found(object_name, public_id)
    return record


def record_get(actor: Any, model: type[Record], public_id: str) -> Record:
    """The record with this public id if the actor may see it; NOT_FOUND otherwise.

    Read by primary key without compiling a query (see core/rows.py), then checked
    against the access rules, which cost a query only when the object is private.
    """
    object_name = model.object_name  # type: ignore[attr-defined]
    primary_key = _primary_key(public_id, object_name)
    record = rows.by_primary_key(model, primary_key) if primary_key else None
    if record is None or not can_read(actor, record):
        raise _not_found(object_name, public_id)
    return record


@dataclass(frozen=True)
class Page:
    """Records as rows: tuples of `rows.attnames(model)`, cheaper than model instances."""

    records: list[tuple[Any, ...]]
    next_cursor: str | None
    total: int | None


@dataclass(frozen=True)
class ListSpec:
    """What a list of one object may be filtered, searched and ordered by."""

    # query parameter -> ORM lookup (values arrive already typed by the adapter)
    filters: Mapping[str, str]
    # columns `q` searches (case-insensitive prefix)
    search: Sequence[str]
    # order name -> model field; "-name" sorts descending
    orderings: Mapping[str, str]
    default_order: str


def _encode_cursor(value: Any, primary_key: int) -> str:
    if isinstance(value, datetime.datetime | datetime.date):
        value = value.isoformat()
    raw = json.dumps([value, primary_key], default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, field: models.Field) -> tuple[Any, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, primary_key = json.loads(raw)
        if not isinstance(primary_key, int) or value is None:  # orderings are never null
            raise ValueError("bad cursor")
        return field.to_python(value), primary_key
    except Exception:
        raise DomainError(
            ErrorCode.INVALID_FIELD, "cursor: not a cursor this list returned", ["cursor"]
        ) from None


def page_of(
    actor: Any,
    queryset: QuerySet[Record],
    spec: ListSpec,
    *,
    filters: Mapping[str, Any],
    search: str | None = None,
    order_by: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    include_total: bool = False,
) -> Page:
    """One page of the records the actor may see, filtered and ordered."""
    queryset = readable(actor, queryset)
    conditions = {
        spec.filters[name]: value
        for name, value in filters.items()
        if value is not None and name in spec.filters
    }
    queryset = queryset.filter(**conditions)
    if search:
        text_match = Q()
        for column in spec.search:
            text_match |= Q(**{f"{column}__istartswith": search.strip()})
        queryset = queryset.filter(text_match)
    order = order_by or spec.default_order
    descending = order.startswith("-")
    order_name = order.lstrip("-")
    if order_name not in spec.orderings:
        allowed = ", ".join(sorted(spec.orderings))
        raise DomainError(
            ErrorCode.INVALID_FIELD,
            f"order_by: {order_name!r} is not one of {allowed} (prefix - to sort descending)",
            ["order_by"],
        )
    column = spec.orderings[order_name]
    sign = "-" if descending else ""
    total = queryset.count() if include_total else None
    if cursor:
        value, last_id = _decode_cursor(cursor, queryset.model._meta.get_field(column))
        after = "lt" if descending else "gt"
        next_rows = Q(**{f"{column}__{after}": value}) | Q(
            **{column: value, f"pk__{after}": last_id}
        )
        # The same rows, plus a bound the database can start an index scan from:
        # without it, page 2,000 reads the 100,000 rows before it.
        next_rows &= Q(**{f"{column}__{after}e": value})
        queryset = queryset.filter(next_rows)
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    records = rows.fetch(queryset.order_by(f"{sign}{column}", f"{sign}pk")[: limit + 1])
    next_cursor = None
    if len(records) > limit:
        records = records[:limit]
        attnames = rows.attnames(queryset.model)
        options = queryset.model._meta
        last = records[-1]
        next_cursor = _encode_cursor(
            last[attnames.index(options.get_field(column).attname)],
            last[attnames.index(options.pk.attname)],
        )
    return Page(records=records, next_cursor=next_cursor, total=total)


def picklist_value_list() -> QuerySet:
    """Every configurable picklist value, active or retired."""
    from dealflow.core.models import PicklistValue

    return PicklistValue.objects.all()
