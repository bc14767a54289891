"""Assignment rules: the active rule set (everyone reads, admins replace it), running the
rules on a lead now, and the decision the rules last made for a lead."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router

from dealflow.api import docs
from dealflow.api.support import json_response, request_body, run
from dealflow.automation.selectors import (
    assignment_rules_json,
    decision_json,
    lead_assignment,
)
from dealflow.automation.services import assignment_rules_set, lead_assign
from dealflow.leads.selectors import lead_get

router = Router(tags=["Assignment rules"])

_ID = {"type": "string"}
_ASSIGNEE_SCHEMA = {
    "type": "object",
    "properties": {
        "kind": {"type": "string", "enum": ["user", "queue", "round_robin", "least_loaded"]},
        "user_id": {**_ID, "description": "kind user"},
        "queue_id": {**_ID, "description": "kind queue"},
        "user_ids": {"type": "array", "items": _ID, "description": "a pool, in dealing order"},
        "capacity": {
            "type": ["integer", "null"],
            "minimum": 1,
            "description": "open leads a pool's user may hold before being skipped",
        },
    },
    "required": ["kind"],
}
RULES_SCHEMA = {
    "type": "object",
    "properties": {
        "default_owner_id": {"type": ["string", "null"]},
        "entries": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "criteria": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "field": {"type": "string", "description": "a Lead field"},
                                "operator": {
                                    "type": "string",
                                    "enum": [
                                        "equals",
                                        "in",
                                        "contains",
                                        "starts_with",
                                        "greater_than",
                                        "less_than",
                                        "blank",
                                    ],
                                },
                                "value": {},
                            },
                            "required": ["field", "operator"],
                        },
                    },
                    "match": {"type": "string", "enum": ["all", "any"], "default": "all"},
                    "assign_to": _ASSIGNEE_SCHEMA,
                },
                "required": ["assign_to"],
            },
        },
    },
}
DECISION_SCHEMA = {
    "type": ["object", "null"],
    "properties": {
        "entry": {"type": ["integer", "null"], "description": "1-based; null: the default"},
        "owner_id": {"type": ["string", "null"]},
        "reason": {"type": "string"},
        "decided_at": {"type": "string", "format": "date-time"},
    },
}
ASSIGNMENT_SCHEMA = {
    "type": "object",
    "properties": {
        "lead_id": _ID,
        "owner_id": _ID,
        "assignment": DECISION_SCHEMA,
    },
}


# A lead create's `assign` option (api/leads.py), added to the LeadCreate schema.
ASSIGN_OPTION_SCHEMA = {
    "type": "boolean",
    "default": True,
    "description": "false: the assignment rules do not choose an owner left out",
}


def _rules_doc(body: bool) -> dict[str, Any]:
    extra = docs.action_doc(RULES_SCHEMA)
    if body:
        extra["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": RULES_SCHEMA}},
        }
    return extra


@router.get(
    "/assignment-rules",
    operation_id="assignment_rules_get",
    summary="The active assignment rules",
    openapi_extra=_rules_doc(body=False),
)
def get_rules(request: HttpRequest) -> HttpResponse:
    return json_response(assignment_rules_json())


@router.put(
    "/assignment-rules",
    operation_id="assignment_rules_set",
    summary="Replace the assignment rules (admins); no entries and no default turn them off",
    openapi_extra=_rules_doc(body=True),
)
def put_rules(request: HttpRequest) -> HttpResponse:
    def operation() -> HttpResponse:
        assignment_rules_set(actor=request.auth, rules=request_body(request))
        return json_response(assignment_rules_json())

    return run(operation)


def _assignment_json(lead: Any, decision: Any) -> dict[str, Any]:
    return {
        "lead_id": lead.public_id,
        "owner_id": lead.owner.public_id if lead.owner else None,
        "assignment": decision_json(decision),
    }


@router.get(
    "/leads/{lead_id}/assignment",
    operation_id="lead_assignment_get",
    summary="The latest decision of the assignment rules for a lead (null: none)",
    openapi_extra=docs.action_doc(ASSIGNMENT_SCHEMA),
)
def get_assignment(request: HttpRequest, lead_id: str) -> HttpResponse:
    lead = lead_get(actor=request.auth, lead_id=lead_id)
    return json_response(_assignment_json(lead, lead_assignment(lead)))


@router.post(
    "/leads/{lead_id}/assign",
    operation_id="lead_assign",
    summary="Run the assignment rules on a lead now and record the decision",
    openapi_extra=docs.action_doc(ASSIGNMENT_SCHEMA),
)
def assign(request: HttpRequest, lead_id: str) -> HttpResponse:
    def operation() -> HttpResponse:
        lead = lead_get(actor=request.auth, lead_id=lead_id)
        decision = lead_assign(actor=request.auth, lead=lead)
        lead.refresh_from_db(fields=["owner_user", "owner_queue"])
        return json_response(_assignment_json(lead, decision))

    return run(operation)
