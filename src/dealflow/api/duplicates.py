"""Duplicate control (docs/duplicates.md): the matching rules and the review queue.

- `GET /duplicates/rules` (everyone): the matching rules of Lead, Contact and Account.
- `PUT /duplicates/rules` (admins): replace them; objects left out get their defaults;
  400 INVALID_FIELD naming the bad key (`Lead.rules[0].conditions[1].threshold`).
- `GET /duplicates/groups` (admins and managers): the scan's groups, newest first,
  `status` (open, dismissed, merged; default open), `object` (Lead, Contact, Account),
  `limit` (1-100, default 25), `cursor` (the `next_cursor` of the previous page).
- `POST /duplicates/groups/{id}/dismiss` (admins and managers): not duplicates.

Creating a lead, contact or account that the rules match answers 409
DUPLICATES_DETECTED with `matches`, unless the body has `"allow_duplicates": true` or
the request has Salesforce's header `Sforce-Duplicate-Rule-Header: allowSave=true`.
"""

from __future__ import annotations

from typing import Any

from ninja import Router

from dealflow.api import docs
from dealflow.api.support import json_response, request_body, run
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.duplicates.keys import OBJECT_NAMES
from dealflow.duplicates.models import DuplicateGroupStatus
from dealflow.duplicates.selectors import GroupView, duplicate_groups, matching_rules
from dealflow.duplicates.services import duplicate_group_dismiss, duplicate_rules_set

router = Router(tags=["Duplicates"])

ALLOW_DUPLICATES_SCHEMA = {
    "type": "boolean",
    "default": False,
    "description": "true: save even when the duplicate rules match existing records "
    "(else 409 DUPLICATES_DETECTED with the matches; docs/duplicates.md)",
}
_CONDITION = {
    "type": "object",
    "properties": {
        "field": {"type": "string"},
        "method": {
            "type": "string",
            "enum": ["exact", "ratio", "jaro_winkler", "token_sort_ratio", "wratio"],
        },
        "threshold": {"type": "number", "minimum": 0, "maximum": 100},
    },
    "required": ["field", "method"],
}
_OBJECT_RULES = {
    "type": "object",
    "properties": {
        "active": {"type": "boolean"},
        "record_level_security": {"type": "string", "enum": ["enforce", "bypass"]},
        "rules": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "conditions": {"type": "array", "items": _CONDITION},
                },
            },
        },
    },
}
RULES_SCHEMA = {"type": "object", "properties": {name: _OBJECT_RULES for name in OBJECT_NAMES}}
_MEMBER = {
    "type": "object",
    "properties": {
        "id": {"type": ["string", "null"]},
        "name": {"type": ["string", "null"]},
        "visible": {"type": "boolean"},
    },
}
GROUP_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "object": {"type": "string"},
        "status": {"type": "string", "enum": list(DuplicateGroupStatus.values)},
        "rule": {"type": "string"},
        "score": {"type": "string", "description": "The lowest pair score, 0-100"},
        "record_count": {"type": "integer"},
        "last_found_at": {"type": "string", "format": "date-time"},
        "members": {"type": "array", "items": _MEMBER},
    },
}
PAGE_LIMIT = 100


def group_json(view: GroupView) -> dict[str, Any]:
    group = view.group
    return {
        "id": group.pk,
        "object": group.object_type,
        "status": group.status,
        "rule": group.rule,
        "score": str(group.score),
        "record_count": group.record_count,
        "last_found_at": group.last_found_at.isoformat(),
        "members": [
            {"id": member.public_id, "name": member.name, "visible": member.record is not None}
            for member in view.members
        ],
    }


@router.get(
    "/duplicates/rules",
    operation_id="duplicate_rules_get",
    summary="The matching rules of leads, contacts and accounts",
    openapi_extra={
        "responses": {200: docs._json(RULES_SCHEMA, "The rules"), **docs.error_responses(401)}
    },
)
def get_rules(request):
    return json_response(matching_rules())


@router.put(
    "/duplicates/rules",
    operation_id="duplicate_rules_set",
    summary="Replace the matching rules (admins)",
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": RULES_SCHEMA}}},
        "responses": {
            200: docs._json(RULES_SCHEMA, "The rules"),
            **docs.error_responses(400, 401, 403),
        },
    },
)
def put_rules(request):
    def operation():
        rules = duplicate_rules_set(actor=request.auth, rules=request_body(request))
        return json_response(rules)

    return run(operation)


@router.get(
    "/duplicates/groups",
    operation_id="duplicate_groups_list",
    summary="The duplicate groups the scan found (admins and managers)",
    openapi_extra={
        "responses": {
            200: docs._json(
                {
                    "type": "object",
                    "properties": {
                        "records": {"type": "array", "items": GROUP_SCHEMA},
                        "next_cursor": {"type": ["string", "null"]},
                    },
                },
                "A page of groups",
            ),
            **docs.error_responses(400, 401, 403),
        }
    },
)
def list_groups(
    request,
    limit: int = 25,
    cursor: str | None = None,
    status: str = "open",
    object: str | None = None,
):
    if status not in DuplicateGroupStatus.values:
        allowed = ", ".join(DuplicateGroupStatus.values)
        raise DomainError(ErrorCode.INVALID_FIELD, f"status: expected one of {allowed}", ["status"])
    if object is not None and object not in OBJECT_NAMES:
        allowed = ", ".join(OBJECT_NAMES)
        raise DomainError(ErrorCode.INVALID_FIELD, f"object: expected one of {allowed}", ["object"])
    if not 1 <= limit <= PAGE_LIMIT:
        raise DomainError(
            ErrorCode.INVALID_FIELD, f"limit: expected 1 to {PAGE_LIMIT}, got {limit}", ["limit"]
        )
    before_id = None
    if cursor is not None:
        if not cursor.isdigit() or len(cursor) > 18:
            raise DomainError(ErrorCode.INVALID_FIELD, "cursor: not a next_cursor", ["cursor"])
        before_id = int(cursor)
    views = duplicate_groups(
        actor=request.auth, status=status, object_name=object, limit=limit + 1, before_id=before_id
    )
    more = len(views) > limit
    views = views[:limit]
    next_cursor = str(views[-1].group.pk) if more else None
    return json_response(
        {"records": [group_json(view) for view in views], "next_cursor": next_cursor}
    )


@router.post(
    "/duplicates/groups/{group_id}/dismiss",
    operation_id="duplicate_group_dismiss",
    summary="Mark a duplicate group as not duplicates (admins and managers)",
    openapi_extra={
        "responses": {
            200: docs._json(GROUP_SCHEMA, "The group"),
            **docs.error_responses(400, 401, 403, 404),
        }
    },
)
def dismiss_group(request, group_id: int):
    def operation():
        group = duplicate_group_dismiss(actor=request.auth, group_id=group_id)
        views = duplicate_groups(
            actor=request.auth, status=group.status, before_id=group.pk + 1, limit=1
        )
        return json_response(group_json(views[0]))

    return run(operation)
