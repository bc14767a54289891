"""OpenAPI fragments for endpoints that render their own JSON (see support.py)."""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "fields": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["code", "message", "fields"],
            },
        }
    },
    "required": ["errors"],
}
ERROR_TEXT = {
    400: "Bad input: the errors name the field and what was expected",
    401: "Missing, unknown or revoked token",
    403: "The record is visible but you may not change it",
    404: "No such record, or not one you may see",
    409: "Duplicate value, or an Idempotency-Key reused for another request",
    412: "If-Match names an older version of the record",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def error_responses(*statuses: int) -> dict[int, Any]:
    return {
        status: {
            "description": ERROR_TEXT[status],
            "content": {"application/json": {"schema": _ref("Errors")}},
        }
        for status in statuses
    }


def _header(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "in": "header",
        "name": name,
        "required": False,
        "description": description,
        "schema": {"type": "string", **schema},
    }


IF_NONE_MATCH = _header("If-None-Match", "ETags the client holds: 304 when one is current")
IF_MATCH = _header("If-Match", "ETags the change is based on (`*`: any): 412 when none is current")
IDEMPOTENCY_KEY = _header(
    "Idempotency-Key",
    "Repeating a request with the same key and body replays the first answer",
    minLength=1,
    maxLength=255,
)


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(schema_name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema_name)}}}


def page_schema(object_name: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "records": {"type": "array", "items": _ref(object_name)},
            "next_cursor": {"type": ["string", "null"]},
            "total": {"type": "integer"},
        },
        "required": ["records", "next_cursor"],
    }


def list_doc(object_name: str) -> dict[str, Any]:
    return {
        "responses": {200: _json(page_schema(object_name), "One page"), **error_responses(400, 401)}
    }


def get_doc(object_name: str) -> dict[str, Any]:
    return {
        "parameters": [IF_NONE_MATCH],
        "responses": {
            200: _json(_ref(object_name), f"The {object_name}; ETag header for If-Match"),
            304: {"description": "Not modified (If-None-Match)"},
            **error_responses(401, 404),
        },
    }


def create_doc(object_name: str, body: str | None = None) -> dict[str, Any]:
    return {
        "parameters": [IDEMPOTENCY_KEY],
        "requestBody": _body(body or f"{object_name}Create"),
        "responses": {
            201: _json(_ref(object_name), f"The new {object_name}"),
            **error_responses(400, 401, 403, 404, 409),
        },
    }


def update_doc(object_name: str, body: str | None = None) -> dict[str, Any]:
    return {
        "parameters": [IF_MATCH],
        "requestBody": _body(body or f"{object_name}Update"),
        "responses": {
            200: _json(_ref(object_name), f"The changed {object_name}"),
            **error_responses(400, 401, 403, 404, 409, 412),
        },
    }


def delete_doc() -> dict[str, Any]:
    return {
        "parameters": [IF_MATCH],
        "responses": {204: {"description": "Deleted"}, **error_responses(400, 401, 403, 404, 412)},
    }


def action_doc(
    result_schema: dict[str, Any], body: str | None = None, *, idempotent: bool = False
) -> dict[str, Any]:
    extra: dict[str, Any] = {
        "responses": {200: _json(result_schema, "Done"), **error_responses(400, 401, 403, 404, 409)}
    }
    if idempotent:
        extra["parameters"] = [IDEMPOTENCY_KEY]
    if body:
        extra["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": _ref(body)}},
        }
    return extra


def plain_list_doc(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "responses": {
            200: _json(
                {
                    "type": "object",
                    "properties": {"records": {"type": "array", "items": schema}},
                    "required": ["records"],
                },
                "All of them",
            ),
            **error_responses(401),
        }
    }
