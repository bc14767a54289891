"""Records as the native API shows and takes them, driven by the metadata registry.

JSON names are the snake_case of the Salesforce API names (`LastName` -> `last_name`,
`OwnerId` -> `owner_id`, `StageName` -> `stage_name`); references are public ids;
amounts are decimal strings (exact); dates ISO 8601.
"""

from __future__ import annotations

import datetime
import operator
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import cache
from typing import Any

import orjson
from django.db import models

from dealflow.core import ids, rows
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.metadata import FieldDef, ObjectDef, get_object
from dealflow.leads.selectors import lead_status_name
from dealflow.sales.models import expected_revenue
from dealflow.sales.selectors import stage_name


def json_name(field_def: FieldDef) -> str:
    """The native API name of a field: snake_case of its API name."""
    return field_def.public_name


def _public_id(object_name: str, primary_key: int | None) -> str | None:
    return ids.encode(object_name, primary_key) if primary_key else None


Reader = Callable[[Any], Any]


def _getter(object_def: ObjectDef, field_def: FieldDef, read: Callable[[str], Reader]) -> Reader:
    """How to make one field's JSON value from a record, without extra queries.

    `read(attname)` gives the function that reads a column off a record: an attribute of
    a model instance, or a position in a row (see core/rows.py).
    """
    name = field_def.name
    if name == "id":
        return _public_id_of(object_def.name, read("id"))
    if object_def.name == "Lead" and name == "owner":
        return _first_public_id_of(
            ("User", read("owner_user_id")), ("Queue", read("owner_queue_id"))
        )
    if object_def.name == "Task" and name == "who":
        return _first_public_id_of(("Lead", read("lead_id")), ("Contact", read("contact_id")))
    if object_def.name == "Task" and name == "what":
        return _first_public_id_of(
            ("Opportunity", read("opportunity_id")), ("Account", read("account_id"))
        )
    if object_def.name == "Opportunity" and name == "expected_revenue":
        amount_of, probability_of = read("amount"), read("probability")
        return lambda record: _decimal_text(
            expected_revenue(amount_of(record), probability_of(record))
        )
    if field_def.type == "reference":
        return _public_id_of(field_def.reference_to[0], read(f"{name}_id"))
    if field_def.picklist == "lead_status":
        status_of = read(f"{name}_id")
        return lambda record: lead_status_name(status_of(record))
    if field_def.picklist == "opportunity_stage":
        stage_of = read(f"{name}_id")
        return lambda record: stage_name(stage_of(record))
    value_of = read(name)
    if field_def.type == "currency":
        return lambda record: _decimal_text(value_of(record))
    return value_of


def _public_id_of(object_name: str, key_of: Reader) -> Reader:
    return lambda record: _public_id(object_name, key_of(record))


def _first_public_id_of(*choices: tuple[str, Reader]) -> Reader:
    """The public id of the first of several references that is set (owner, who, what)."""

    def first(record: Any) -> str | None:
        for object_name, key_of in choices:
            public_id = _public_id(object_name, key_of(record))
            if public_id:
                return public_id
        return None

    return first


def _decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


@cache
def _record_getters(object_name: str) -> tuple[tuple[str, Reader], ...]:
    object_def = get_object(object_name)
    return tuple(
        (json_name(field), _getter(object_def, field, operator.attrgetter))
        for field in object_def.fields
    )


@cache
def _row_getters(object_name: str) -> tuple[tuple[str, Reader], ...]:
    object_def = get_object(object_name)
    positions = {attname: index for index, attname in enumerate(rows.attnames(object_def.model))}

    def row_reader(attname: str) -> Reader:
        return operator.itemgetter(positions[attname])

    return tuple(
        (json_name(field), _getter(object_def, field, row_reader)) for field in object_def.fields
    )


def to_json(object_name: str, record: models.Model) -> dict[str, Any]:
    """A record as a JSON-ready dict, in registry field order."""
    return {name: getter(record) for name, getter in _record_getters(object_name)}


def row_to_json(object_name: str, row: tuple[Any, ...]) -> dict[str, Any]:
    """A row of `rows.attnames(model)` columns as the same dict `to_json` makes."""
    return {name: getter(row) for name, getter in _row_getters(object_name)}


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def dumps(payload: Any) -> bytes:
    """JSON bytes; orjson writes dates and times as ISO 8601, as `isoformat()` does."""
    return orjson.dumps(payload, default=_json_default)


@cache
def _fields_by_json_name(object_name: str) -> dict[str, FieldDef]:
    return {json_name(field): field for field in get_object(object_name).fields}


Resolver = Callable[[str, str, str], models.Model]


def from_json(
    object_name: str, body: Mapping[str, Any], *, creating: bool, resolve: Resolver
) -> dict[str, Any]:
    """Turn a request body into service data (native names, references as records).

    `resolve(field, object_name, primary_key_text)` loads a referenced record the caller
    may see, or raises NOT_FOUND. Unknown names get INVALID_FIELD; read-only ones
    INVALID_FIELD_FOR_INSERT_UPDATE (the services check everything else).
    """
    fields = _fields_by_json_name(object_name)
    data: dict[str, Any] = {}
    for key, value in body.items():
        field_def = fields.get(key)
        if field_def is None:
            raise DomainError(ErrorCode.INVALID_FIELD, f"{object_name} has no field {key!r}", [key])
        writable = field_def.createable if creating else field_def.updateable
        if not writable:
            verb = "set" if creating else "changed"
            raise DomainError(
                ErrorCode.INVALID_FIELD_FOR_INSERT_UPDATE,
                f"{object_name}.{key} cannot be {verb}",
                [key],
            )
        if field_def.type == "reference" and value is not None:
            value = resolve_reference(key, value, field_def.reference_to, resolve)
        data[field_def.name] = value
    return data


def decode_id(name: str, value: Any, object_names: tuple[str, ...]) -> tuple[str, int]:
    """(object, primary key) of a public id sent as `name`; INVALID_ID unless one of them."""
    expected = " or ".join(object_names)
    if not isinstance(value, str):
        raise DomainError(ErrorCode.INVALID_ID, f"{name}: expected a {expected} id", [name])
    try:
        found_object, primary_key = ids.decode(value)
    except ids.InvalidIdError as error:
        raise DomainError(ErrorCode.INVALID_ID, f"{name}: {error}", [name]) from None
    if found_object not in object_names:
        raise DomainError(
            ErrorCode.INVALID_ID,
            f"{name}: {value} is a {found_object} id, not a {expected} id",
            [name],
        )
    return found_object, primary_key


def resolve_reference(
    name: str, value: Any, object_names: tuple[str, ...], resolve: Resolver
) -> Any:
    """The record a reference names, loaded through `resolve` (which applies access)."""
    found_object, _primary_key = decode_id(name, value, object_names)
    return resolve(name, found_object, value)


def etag(record: models.Model) -> str:
    """A strong validator that changes with every write of the record."""
    updated_at: datetime.datetime = record.updated_at  # type: ignore[attr-defined]
    return f'"{record.public_id}-{int(updated_at.timestamp() * 1_000_000)}"'  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------
# JSON Schemas for the OpenAPI document

_JSON_TYPES: dict[str, dict[str, Any]] = {
    "id": {"type": "string", "minLength": 15, "maxLength": 18},
    "reference": {"type": "string", "minLength": 15, "maxLength": 18},
    "string": {"type": "string"},
    "textarea": {"type": "string"},
    "email": {"type": "string", "format": "email"},
    "phone": {"type": "string"},
    "url": {"type": "string"},
    "picklist": {"type": "string"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
    "currency": {"type": "string", "format": "decimal", "pattern": r"^-?\d{1,16}(\.\d{1,2})?$"},
    "int": {"type": "integer", "minimum": 0, "maximum": 2_000_000_000},
    "percent": {"type": "integer", "minimum": 0, "maximum": 100},
}


def _field_schema(field_def: FieldDef, *, for_input: bool) -> dict[str, Any]:
    schema = dict(_JSON_TYPES[field_def.type])
    if (
        field_def.length
        and schema["type"] == "string"
        and field_def.type not in ("id", "reference")
    ):
        schema["maxLength"] = field_def.length
    if field_def.choices:
        # A blank field is stored (and shown) as "", and "" is how a client clears one.
        schema["enum"] = [*field_def.choices, *([""] if field_def.nullable else [])]
    if field_def.type == "email":
        # Stored addresses were checked on the way in (or are ""); only input is validated.
        del schema["format"]
        if for_input:
            schema["anyOf"] = [{"format": "email"}, {"maxLength": 0}]
    if field_def.type == "currency" and for_input:
        # More decimals are taken and rounded half up (docs/api.md); the range is checked.
        text = {**schema, "pattern": r"^-?\d{1,16}(\.\d+)?$"}
        schema = {"anyOf": [text, {"type": "number"}]}
    if field_def.type == "percent" and for_input:
        schema = {**schema, "type": "number"}  # decimals round half up to a whole percent
    if field_def.nullable or not for_input:
        schema = _nullable(schema)
    description = field_def.label
    if field_def.reference_to:
        description += f" ({' or '.join(field_def.reference_to)} id)"
    if field_def.picklist:
        description += f"; values from the {field_def.picklist} picklist"
    schema["description"] = description
    return schema


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema that also allows null (OpenAPI 3.1: a type list, not `nullable`)."""
    if "type" not in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    schema = {**schema, "type": [schema["type"], "null"]}
    if "enum" in schema:
        schema["enum"] = [*schema["enum"], None]
    return schema


def object_schemas(object_name: str) -> dict[str, dict[str, Any]]:
    """{Name, NameCreate, NameUpdate} JSON Schemas of one object."""
    object_def = get_object(object_name)
    output = {
        json_name(field): _field_schema(field, for_input=False) for field in object_def.fields
    }
    creatable = {
        json_name(field): _field_schema(field, for_input=True)
        for field in object_def.fields
        if field.createable
    }
    updatable = {
        json_name(field): _field_schema(field, for_input=True)
        for field in object_def.fields
        if field.updateable
    }
    required = [json_name(field) for field in object_def.fields if field.required]
    return {
        object_name: {"type": "object", "properties": output, "required": list(output)},
        f"{object_name}Create": {
            "type": "object",
            "properties": creatable,
            "required": required,
            "additionalProperties": False,
        },
        f"{object_name}Update": {
            "type": "object",
            "properties": updatable,
            "additionalProperties": False,
        },
    }
