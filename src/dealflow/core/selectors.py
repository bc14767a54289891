"""Reads shared by every domain: one record, or a filtered, ordered page of records.

Every read starts from `readable(actor, ...)`, so no adapter can show a record its user
may not see. Pages use keyset pagination (an opaque cursor holding the last row's sort
value and id), which costs the same on page 1 and page 20,000.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import models
from django.db.models import Q, QuerySet

from dealflow.core import ids, rows
from dealflow.core.access import can_read, readable
from dealflow.core.cache import ConfigurationCache
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.fields import MatchKeyField
from dealflow.core.matching import NORMALISERS, fold, prefix_range
from dealflow.core.models import PicklistValue

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
    """What a list of one object may be filtered, searched and ordered by.

    Names are the public ones (core/metadata.py `public_name`); the adapter has already
    turned public ids into primary keys.
    """

    # query parameter -> ORM lookup (values arrive already typed by the adapter)
    filters: Mapping[str, str]
    # matching keys `q` searches by prefix (MatchKeyField columns, see core/matching.py)
    search: Sequence[str]
    # order name -> indexed column; "-name" sorts descending
    orderings: Mapping[str, str]
    default_order: str
    # filter name -> picklist whose values it takes, matched case-insensitively
    picklists: Mapping[str, str] = field(default_factory=dict)


# Every picklist value, for matching a filter's value to the stored spelling.
_picklist_values: ConfigurationCache[list[tuple[str, str]]] = ConfigurationCache(
    lambda: list(PicklistValue.objects.values_list("picklist", "value"))
)


def picklist_spelling(picklist: str, value: str) -> str:
    """The stored spelling of a picklist value matched after folding (`web` -> `Web`).

    A value no picklist entry matches is returned as given: it may still be stored on
    records (imported, or retired from the picklist).
    """
    wanted = fold(value)
    found = _picklist_values.find(lambda item: item[0] == picklist and fold(item[1]) == wanted)
    return found[1] if found else value


def _fingerprint(order: str, conditions: Mapping[str, Any], search: str | None) -> str:
    """What a cursor was made under: its order, filters and search (8 hex digits)."""
    described = json.dumps([order, sorted(conditions.items()), search or ""], default=str)
    return hashlib.sha256(described.encode()).hexdigest()[:8]


def _encode_cursor(value: Any, primary_key: int, fingerprint: str) -> str:
    if isinstance(value, datetime.datetime | datetime.date):
        value = value.isoformat()
    raw = json.dumps([value, primary_key, fingerprint], default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, column: models.Field, fingerprint: str) -> tuple[Any, int]:
    """(sort value, primary key) of a cursor made under the same order, filters and search."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, primary_key, made_under = json.loads(raw)
        if not isinstance(primary_key, int) or not 0 < primary_key <= rows.MAX_PRIMARY_KEY:
            raise ValueError("bad key")
        if value is None:  # orderings are never null
            raise ValueError("bad value")
        value = column.to_python(value)
        if isinstance(value, datetime.datetime):
            value.astimezone(datetime.UTC)  # a moment outside years 1 to 9999 in UTC fails
    except Exception:
        raise DomainError(
            ErrorCode.INVALID_FIELD, "cursor: not a cursor this list returned", ["cursor"]
        ) from None
    if made_under != fingerprint:
        raise DomainError(
            ErrorCode.INVALID_FIELD,
            "cursor: it was made for another order_by, filters or q; "
            "repeat the request that returned it, or start again without a cursor",
            ["cursor"],
        )
    return value, primary_key


def _search_term(key_field: MatchKeyField, search: str) -> str:
    """The search text normalised as the key is; "" when the key cannot match it (a phone
    key and text with letters: `alert(1)` is not a phone number starting with 1)."""
    if key_field.normaliser == "digits" and any(character.isalpha() for character in search):
        return ""
    return NORMALISERS[key_field.normaliser](search)


def _key_range(column: str, term: str) -> Q:
    low, high = prefix_range(term)
    return Q(**{f"{column}__gte": low, f"{column}__lt": high})


def _full_name_condition(spec: ListSpec, search: str) -> Q | None:
    """ "Aisha Par" as a first name starting "aisha" and a last name starting "par", for
    objects with both name keys (a range scan of the first name key, then a filter)."""
    first, _space, rest = search.strip().partition(" ")
    if not rest.strip() or not {"first_name_key", "last_name_key"} <= set(spec.search):
        return None
    return _key_range("first_name_key", fold(first)) & _key_range("last_name_key", fold(rest))


def _search_ranges(model: type[models.Model], spec: ListSpec, search: str) -> list[tuple[str, Q]]:
    """(key, condition) of each way the search text can match: each key that starts with
    it, normalised as the key is (an index range), and a full name "first last"."""
    ranges = []
    for column in spec.search:
        key_field = model._meta.get_field(column)
        assert isinstance(key_field, MatchKeyField), f"{column} is not a matching key"
        term = _search_term(key_field, search)
        if term:
            ranges.append((column, _key_range(column, term)))
    full_name = _full_name_condition(spec, search)
    if full_name is not None:
        ranges.append(("first_name_key", full_name))
    return ranges


def _search_condition(model: type[models.Model], spec: ListSpec, search: str) -> Q | None:
    """Rows any of the search's ranges matches (None: the text can match nothing)."""
    condition = Q()
    for _column, matching in _search_ranges(model, spec, search):
        condition |= matching
    return condition or None


def _conditions(spec: ListSpec, filters: Mapping[str, Any]) -> dict[str, Any]:
    conditions = {}
    for name, value in filters.items():
        if value is None or name not in spec.filters:
            continue
        if name in spec.picklists and isinstance(value, str):
            value = picklist_spelling(spec.picklists[name], value)
        conditions[spec.filters[name]] = value
    return conditions


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
    """One page of the records the actor may see, filtered, searched and ordered.

    `search` matches the start of any of the spec's matching keys after Unicode
    normalisation and case folding (core/matching.py), off their indexes. A cursor is
    honoured only under the order, filters and search it was made with (INVALID_FIELD).
    """
    queryset = readable(actor, queryset)
    conditions = _conditions(spec, filters)
    queryset = queryset.filter(**conditions)
    if search:
        text_match = _search_condition(queryset.model, spec, search)
        queryset = queryset.filter(text_match) if text_match else queryset.none()
    order = order_by or spec.default_order
    descending = order.startswith("-")
    order_name = order.removeprefix("-")
    if order_name not in spec.orderings:
        allowed = ", ".join(sorted(spec.orderings))
        raise DomainError(
            ErrorCode.INVALID_FIELD,
            f"order_by: {order_name!r} is not one of {allowed} (prefix - to sort descending)",
            ["order_by"],
        )
    column = spec.orderings[order_name]
    sign = "-" if descending else ""
    fingerprint = _fingerprint(order, conditions, search)
    total = queryset.count() if include_total else None
    if cursor:
        value, last_id = _decode_cursor(cursor, queryset.model._meta.get_field(column), fingerprint)
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
            fingerprint,
        )
    return Page(records=records, next_cursor=next_cursor, total=total)


def picklist_value_list() -> QuerySet:
    """Every configurable picklist value, active or retired."""
    return PicklistValue.objects.all()


def search_records(
    actor: Any, queryset: QuerySet[Record], spec: ListSpec, search: str, *, limit: int = 5
) -> list[tuple[Any, ...]]:
    """Up to `limit` rows the actor may see whose matching keys start with `search`.

    The global search box's read (and the reference pickers'). One query per key, each a
    range scan of that key's index in key order that stops after `limit` rows, so a
    prefix that matches nothing or a million rows costs the same; the rows are merged by
    key. The keys and their normalising are the same as the lists' `q` (`_search_condition`).
    """
    model = queryset.model
    visible = readable(actor, queryset)
    found: dict[int, tuple[str, tuple[Any, ...]]] = {}
    position = {name: index for index, name in enumerate(rows.attnames(model))}
    for column, condition in _search_ranges(model, spec, search):
        for record in rows.fetch(visible.filter(condition).order_by(column, "pk")[:limit]):
            primary_key = record[position["id"]]
            found.setdefault(primary_key, (record[position[column]], record))
    ordered = sorted(found.values(), key=lambda item: item[0])
    return [record for _key, record in ordered[:limit]]


def audit_event_list(actor: Any, record: models.Model, *, limit: int = 50) -> list[Any]:
    """The newest `limit` audit events of a record the actor may see, newest first, with
    their actors (one query). Raises NOT_FOUND when the actor may not see the record."""
    from dealflow.core.models import AuditEvent

    object_name = record.object_name  # type: ignore[attr-defined]
    if not can_read(actor, record):
        raise _not_found(object_name, getattr(record, "public_id", ""))
    events = AuditEvent.objects.filter(object_name=object_name, record_id=record.pk)
    return list(events.select_related("actor").order_by("-created_at", "-id")[:limit])
