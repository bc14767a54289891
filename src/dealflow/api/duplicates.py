"""Duplicate control (docs/duplicates.md): the matching rules and the review queue.

- `GET /duplicates/rules` (everyone): the matching rules of Lead, Contact and Account.
- `PUT /duplicates/rules` (admins): replace them; objects left out get their defaults;
  400 INVALID_FIELD naming the bad key (`Lead.rules[0].conditions[1].threshold`).
- `GET /duplicates/groups` (admins and managers): the scan's groups, newest first,
  `status` (open, dismissed, merged; default open), `object` (Lead, Contact, Account),
  `limit` (1-100, default 25), `cursor` (the `next_cursor` of the previous page).
- `POST /duplicates/groups/{id}/dismiss` (admins and managers): not duplicates.
- `POST /merges/preview`: what a merge would do (the records' values side by side, the
  chosen ones, the related records that would move), without writing.
- `POST /merges`: merge 1 or 2 records into a master (body: `object`, `master_id`,
  `merged_ids`, `fields` {field: id of the record whose value wins}); 201 with the merge.
- `GET /merges/{id}`, `POST /merges/{id}/undo`: a merge; undo it (exactly).

Creating a lead, contact or account that the rules match answers 409
DUPLICATES_DETECTED with `matches`, unless the body has `"allow_duplicates": true` or
the request has Salesforce's header `Sforce-Duplicate-Rule-Header: allowSave=true`.
"""

from __future__ import annotations

from typing import Any

from ninja import Router

from dealflow.api import docs
from dealflow.api.records import decode_id
from dealflow.api.support import json_response, request_body, run
from dealflow.core import ids
from dealflow.core.audit import json_value
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.duplicates.keys import OBJECT_NAMES
from dealflow.duplicates.merge import (
    MAX_RECORDS,
    MergePlan,
    merge_get,
    merge_plan,
    records_merge,
)
from dealflow.duplicates.merge_undo import merge_undo
from dealflow.duplicates.models import DuplicateGroupStatus, Merge, MergeStatus
from dealflow.duplicates.selectors import (
    GroupView,
    duplicate_groups,
    matching_rules,
    record_name,
)
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


# ---------------------------------------------------------------------------------------
# Merge and undo (docs/duplicates.md, "Merge and undo")

_ID = {"type": "string", "description": "An 18-character record id"}
MERGE_REQUEST_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "object": {"type": "string", "enum": list(OBJECT_NAMES)},
        "master_id": _ID,
        "merged_ids": {
            "type": "array",
            "items": _ID,
            "minItems": 1,
            "maxItems": MAX_RECORDS - 1,
            "description": "The records merged into the master and then deleted",
        },
        "fields": {
            "type": "object",
            "additionalProperties": _ID,
            "description": "{field: id of the record whose value the master takes}; "
            "fields left out keep the master's value",
        },
    },
    "required": ["object", "master_id", "merged_ids"],
}
_NULLABLE_ID = {"type": ["string", "null"]}
MERGE_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "object": {"type": "string", "enum": list(OBJECT_NAMES)},
        "status": {"type": "string", "enum": list(MergeStatus.values)},
        "master_id": {"type": "string"},
        "merged_ids": {"type": "array", "items": {"type": "string"}},
        "fields": {"type": "object", "additionalProperties": {"type": "string"}},
        "related": {
            "type": "object",
            "additionalProperties": {"type": "integer"},
            "description": "Related records moved to the master, by relation (`Task.lead`)",
        },
        "merged_by": _NULLABLE_ID,
        "created_at": {"type": "string", "format": "date-time"},
        "undone_by": _NULLABLE_ID,
        "undone_at": {"type": ["string", "null"], "format": "date-time"},
    },
    "required": ["id", "object", "status", "master_id", "merged_ids", "fields", "related"],
}
PREVIEW_SCHEMA = {
    "type": "object",
    "properties": {
        "object": {"type": "string"},
        "master_id": {"type": "string"},
        "merged_ids": {"type": "array", "items": {"type": "string"}},
        "records": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
            },
        },
        "fields": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "label": {"type": "string"},
                    "values": {"type": "array", "description": "In the order of `records`"},
                    "chosen_id": {"type": "string"},
                    "differs": {"type": "boolean"},
                },
            },
        },
        "result": {"type": "object", "description": "The master's values after the merge"},
        "related": {"type": "object", "additionalProperties": {"type": "integer"}},
    },
}
_MERGE_REQUEST_BODY = {
    "required": True,
    "content": {"application/json": {"schema": MERGE_REQUEST_SCHEMA}},
}


def _user_id(user_id: int | None) -> str | None:
    return ids.encode("User", user_id) if user_id else None


def merge_json(merge: Merge) -> dict[str, Any]:
    """A merge as the API shows it (record and user ids public)."""
    object_name = merge.object_type
    return {
        "id": merge.pk,
        "object": object_name,
        "status": merge.status,
        "master_id": ids.encode(object_name, merge.master_record_id),
        "merged_ids": [ids.encode(object_name, record_id) for record_id in merge.merged_record_ids],
        "fields": {
            name: ids.encode(object_name, record_id)
            for name, record_id in merge.field_choices.items()
        },
        "related": merge.snapshot.get("related", {}),
        "merged_by": _user_id(merge.merged_by_id),
        "created_at": merge.created_at.isoformat(),
        "undone_by": _user_id(merge.undone_by_id),
        "undone_at": merge.undone_at.isoformat() if merge.undone_at else None,
    }


def preview_json(plan: MergePlan) -> dict[str, Any]:
    object_name = plan.object_name
    public = [record.public_id for record in plan.records]
    return {
        "object": object_name,
        "master_id": public[0],
        "merged_ids": public[1:],
        "records": [
            {"id": record.public_id, "name": record_name(object_name, record)}
            for record in plan.records
        ],
        "fields": [
            {
                "name": choice.name,
                "label": choice.label,
                "values": [json_value(value) for value in choice.values],
                "chosen_id": ids.encode(object_name, choice.chosen_id),
                "differs": choice.differs,
            }
            for choice in plan.fields
        ],
        "result": {name: json_value(value) for name, value in plan.result.items()},
        "related": plan.related,
    }


def merge_request(body: dict[str, Any]) -> dict[str, Any]:
    """The merge body as records_merge's keyword arguments (primary keys); INVALID_FIELD,
    INVALID_TYPE, INVALID_ID or REQUIRED_FIELD_MISSING naming the key."""
    for key in body:
        if key not in MERGE_REQUEST_SCHEMA["properties"]:  # type: ignore[operator]
            raise DomainError(
                ErrorCode.INVALID_FIELD,
                f"{key}: not a merge option (object, master_id, merged_ids, fields)",
                [key],
            )
    for key in ("object", "master_id", "merged_ids"):
        if body.get(key) in (None, "", []):
            raise DomainError(ErrorCode.REQUIRED_FIELD_MISSING, f"{key}: required", [key])
    object_name = body["object"]
    if object_name not in OBJECT_NAMES:
        raise DomainError(
            ErrorCode.INVALID_FIELD,
            f"object: expected one of {', '.join(OBJECT_NAMES)}, got {object_name!r}",
            ["object"],
        )
    expected = (object_name,)
    _object, master_id = decode_id("master_id", body["master_id"], expected)
    merged = body["merged_ids"]
    if not isinstance(merged, list):
        raise DomainError(
            ErrorCode.INVALID_TYPE,
            f"merged_ids: expected a list of 1 to {MAX_RECORDS - 1} {object_name} ids",
            ["merged_ids"],
        )
    if len(merged) > MAX_RECORDS - 1:
        raise DomainError(
            ErrorCode.INVALID_FIELD,
            f"merged_ids: merge 2 to {MAX_RECORDS} records, so name 1 to {MAX_RECORDS - 1} "
            f"besides the master (got {len(merged)})",
            ["merged_ids"],
        )
    loser_ids = [decode_id("merged_ids", value, expected)[1] for value in merged]
    fields = body.get("fields")
    fields = {} if fields is None else fields
    if not isinstance(fields, dict):
        raise DomainError(
            ErrorCode.INVALID_TYPE, "fields: expected an object {field: record id}", ["fields"]
        )
    choices = {
        name: decode_id(f"fields.{name}", value, expected)[1] for name, value in fields.items()
    }
    return {
        "object_name": object_name,
        "master_id": master_id,
        "loser_ids": loser_ids,
        "field_choices": choices,
    }


@router.post(
    "/merges/preview",
    operation_id="merge_preview",
    summary="What merging up to 3 leads, contacts or accounts would do (writes nothing)",
    openapi_extra={
        "requestBody": _MERGE_REQUEST_BODY,
        "responses": {
            200: docs._json(PREVIEW_SCHEMA, "The preview"),
            **docs.error_responses(400, 401, 403, 404),
        },
    },
)
def preview_merge(request):
    def operation():
        plan = merge_plan(actor=request.auth, **merge_request(request_body(request)))
        return json_response(preview_json(plan))

    return run(operation)


@router.post(
    "/merges",
    operation_id="merge_create",
    summary="Merge 1 or 2 leads, contacts or accounts into a master record",
    openapi_extra={
        "requestBody": _MERGE_REQUEST_BODY,
        "responses": {
            201: docs._json(MERGE_SCHEMA, "The merge"),
            **docs.error_responses(400, 401, 403, 404),
        },
    },
)
def create_merge(request):
    def operation():
        merge = records_merge(actor=request.auth, **merge_request(request_body(request)))
        return json_response(merge_json(merge), status=201)

    return run(operation)


@router.get(
    "/merges/{merge_id}",
    operation_id="merge_get",
    summary="A merge (its master, merged records, choices and status)",
    openapi_extra={
        "responses": {
            200: docs._json(MERGE_SCHEMA, "The merge"),
            **docs.error_responses(401, 404),
        }
    },
)
def get_merge(request, merge_id: int):
    def operation():
        return json_response(merge_json(merge_get(actor=request.auth, merge_id=merge_id)))

    return run(operation, atomic=False)


@router.post(
    "/merges/{merge_id}/undo",
    operation_id="merge_undo",
    summary="Undo a merge: the merged records and their related records come back exactly",
    openapi_extra={
        "responses": {
            200: docs._json(MERGE_SCHEMA, "The merge, undone"),
            **docs.error_responses(400, 401, 403, 404, 409),
        }
    },
)
def undo_merge(request, merge_id: int):
    def operation():
        return json_response(merge_json(merge_undo(actor=request.auth, merge_id=merge_id)))

    return run(operation)
