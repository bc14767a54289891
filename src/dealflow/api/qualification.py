"""Qualification (DOMAIN.md section 6, docs/qualification.md): a lead's checklist and the
organisation's settings.

- `GET /leads/{id}/qualification[?framework=CHAMP]` and `PUT` with
  `{"framework": "BANT", "items": {"budget": {"met": true, "note": "..."}}}`: the
  checklist with `satisfied`, `missing` and each item's `set_by` / `set_at`. Reading
  follows the lead's access (404 for a lead the caller may not see), writing needs edit
  access (403).
- `GET /settings/qualification` (everyone) and `PATCH` (admins):
  `{"required_framework": "BANT" | null, "minimum_items": 4 | null}`, with the
  frameworks and their items.
- `POST /settings/qualification/items` (admins): rename, reorder, retire or add an item,
  `{"framework": "BANT", "key": "budget", "label": "...", "sort_order": 1, "is_active": true}`.
"""

from __future__ import annotations

from typing import Any

from ninja import Router

from dealflow.api import docs
from dealflow.api.support import json_response, request_body, run
from dealflow.core import ids
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.leads.qualification import (
    UNSET,
    LeadQualification,
    QualificationConfiguration,
    lead_qualification_get,
    lead_qualification_set,
    qualification_configuration,
    qualification_item_set,
    qualification_settings_set,
)
from dealflow.leads.selectors import lead_get

router = Router(tags=["Qualification"])

_ITEM_STATE = {
    "type": "object",
    "properties": {
        "label": {"type": "string"},
        "met": {"type": "boolean"},
        "note": {"type": "string"},
        "set_by": {"type": ["string", "null"], "description": "User id"},
        "set_at": {"type": ["string", "null"], "format": "date-time"},
    },
}
QUALIFICATION_SCHEMA = {
    "type": "object",
    "properties": {
        "lead_id": {"type": "string"},
        "framework": {"type": "string"},
        "items": {"type": "object", "additionalProperties": _ITEM_STATE},
        "satisfied": {"type": "boolean"},
        "met": {"type": "integer"},
        "needed": {"type": "integer"},
        "missing": {"type": "array", "items": {"type": "string"}},
        "required": {"type": "boolean", "description": "The framework conversion requires"},
        "override": {"type": ["object", "null"]},
    },
}
SETTINGS_SCHEMA = {
    "type": "object",
    "properties": {
        "required_framework": {"type": ["string", "null"]},
        "minimum_items": {"type": ["integer", "null"], "description": "null: all items"},
        "frameworks": {"type": "object"},
    },
}


def qualification_json(lead_id: str, result: LeadQualification) -> dict[str, Any]:
    """A lead's checklist as the API shows it (items in checklist order)."""
    override = result.override
    return {
        "lead_id": lead_id,
        "framework": result.framework,
        "items": {
            item.key: {
                "label": item.label,
                "met": item.met,
                "note": item.note,
                "set_by": item.set_by.public_id if item.set_by else None,
                "set_at": item.set_at,
            }
            for item in result.items
        },
        "satisfied": result.satisfied,
        "met": result.met,
        "needed": result.needed,
        "missing": list(result.missing),
        "required": result.required,
        "override": None
        if override is None
        else {
            "framework": override.framework,
            "missing": override.missing,
            "reason": override.reason,
            "overridden_by": (
                ids.encode("User", override.overridden_by_id) if override.overridden_by_id else None
            ),
            "overridden_at": override.overridden_at,
        },
    }


def settings_json(configuration: QualificationConfiguration) -> dict[str, Any]:
    return {
        "required_framework": configuration.required_framework,
        "minimum_items": configuration.minimum_items,
        "frameworks": {
            framework.name: {
                "items": [
                    {
                        "key": item.key,
                        "label": item.label,
                        "sort_order": item.sort_order,
                        "is_active": item.is_active,
                    }
                    for item in framework.items
                ]
            }
            for framework in configuration.frameworks
        },
    }


def _only(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = [name for name in body if name not in allowed]
    if unknown:
        raise DomainError(
            ErrorCode.INVALID_FIELD,
            f"unknown {', '.join(unknown)} (accepted: {', '.join(allowed)})",
            unknown,
        )


@router.get(
    "/leads/{lead_id}/qualification",
    operation_id="lead_qualification_get",
    summary="A lead's qualification checklist, and whether it satisfies the organisation's rule",
    openapi_extra={
        "responses": {
            200: docs._json(QUALIFICATION_SCHEMA, "The checklist"),
            **docs.error_responses(400, 401, 404),
        }
    },
)
def get_qualification(request, lead_id: str, framework: str | None = None):
    def operation():
        lead = lead_get(actor=request.auth, lead_id=lead_id)
        result = lead_qualification_get(lead=lead, framework=framework)
        return json_response(qualification_json(lead.public_id, result))

    return run(operation, atomic=False)


@router.put(
    "/leads/{lead_id}/qualification",
    operation_id="lead_qualification_set",
    summary="Set items of a lead's checklist (items not named stay as they are)",
    openapi_extra={
        "responses": {
            200: docs._json(QUALIFICATION_SCHEMA, "The checklist"),
            **docs.error_responses(400, 401, 403, 404),
        }
    },
)
def put_qualification(request, lead_id: str):
    def operation():
        lead = lead_get(actor=request.auth, lead_id=lead_id)
        body = request_body(request)
        _only(body, ("framework", "items"))
        if "framework" not in body:
            raise DomainError(
                ErrorCode.REQUIRED_FIELD_MISSING, "framework: name the checklist", ["framework"]
            )
        result = lead_qualification_set(
            actor=request.auth, lead=lead, framework=body["framework"], items=body.get("items", {})
        )
        return json_response(qualification_json(lead.public_id, result))

    return run(operation, atomic=False)


@router.get(
    "/settings/qualification",
    operation_id="qualification_settings_get",
    summary="The framework conversion requires, how many items, and every framework's items",
    openapi_extra={
        "responses": {200: docs._json(SETTINGS_SCHEMA, "The settings"), **docs.error_responses(401)}
    },
)
def get_settings(request):
    return json_response(settings_json(qualification_configuration.get()))


@router.patch(
    "/settings/qualification",
    operation_id="qualification_settings_set",
    summary="Require a framework before conversion, and how many of its items (admins)",
    openapi_extra={
        "responses": {
            200: docs._json(SETTINGS_SCHEMA, "The settings"),
            **docs.error_responses(400, 401, 403),
        }
    },
)
def patch_settings(request):
    def operation():
        body = request_body(request)
        _only(body, ("required_framework", "minimum_items"))
        configuration = qualification_settings_set(
            actor=request.auth,
            required_framework=body.get("required_framework", UNSET),
            minimum_items=body.get("minimum_items", UNSET),
        )
        return json_response(settings_json(configuration))

    return run(operation)


@router.post(
    "/settings/qualification/items",
    operation_id="qualification_item_set",
    summary="Rename, reorder, retire or add an item of a framework's checklist (admins)",
    openapi_extra={
        "responses": {
            200: docs._json(SETTINGS_SCHEMA, "The settings"),
            **docs.error_responses(400, 401, 403),
        }
    },
)
def set_item(request):
    def operation():
        body = request_body(request)
        _only(body, ("framework", "key", "label", "sort_order", "is_active"))
        qualification_item_set(
            actor=request.auth,
            framework=body.get("framework"),  # type: ignore[arg-type]
            key=body.get("key"),  # type: ignore[arg-type]
            label=body.get("label"),
            sort_order=body.get("sort_order"),
            is_active=body.get("is_active"),
        )
        return json_response(settings_json(qualification_configuration.get()))

    return run(operation)
