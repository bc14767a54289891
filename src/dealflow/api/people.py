"""The directory (users, teams, queues) and the configurable picklists: read for everyone."""

from typing import Any

from ninja import Router

from dealflow.api import docs
from dealflow.api.support import json_response
from dealflow.core.selectors import picklist_value_list
from dealflow.leads.selectors import lead_status_list
from dealflow.people.models import Queue, User
from dealflow.people.selectors import queue_get, queue_list, team_list, user_get, user_list
from dealflow.sales.selectors import stage_list

router = Router(tags=["People and settings"])


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.public_id,
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "role": user.role,
        "team": user.team.name if user.team else None,
        "is_active": user.is_active,
    }


def queue_json(queue: Queue) -> dict[str, Any]:
    return {
        "id": queue.public_id,
        "name": queue.name,
        "email": queue.email,
        "member_ids": [member.public_id for member in queue.members.all()],
    }


USER_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "username": {"type": "string"},
        "first_name": {"type": "string"},
        "last_name": {"type": "string"},
        "email": {"type": "string"},
        "role": {"type": "string", "enum": ["admin", "manager", "rep"]},
        "team": {"type": ["string", "null"]},
        "is_active": {"type": "boolean"},
    },
}
QUEUE_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "email": {"type": "string"},
        "member_ids": {"type": "array", "items": {"type": "string"}},
    },
}
NAMED_SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}}


def _single(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "responses": {
            200: {"description": "Found", "content": {"application/json": {"schema": schema}}},
            **docs._errors(401, 404),
        }
    }


@router.get("/users", operation_id="user_list", openapi_extra=docs.plain_list_doc(USER_SCHEMA))
def list_users(request):
    return json_response({"records": [user_json(user) for user in user_list()]})


@router.get("/users/{user_id}", operation_id="user_get", openapi_extra=_single(USER_SCHEMA))
def get_user(request, user_id: str):
    return json_response(user_json(user_get(user_id=user_id)))


@router.get("/teams", operation_id="team_list", openapi_extra=docs.plain_list_doc(NAMED_SCHEMA))
def list_teams(request):
    return json_response({"records": [{"name": team.name} for team in team_list()]})


@router.get("/queues", operation_id="queue_list", openapi_extra=docs.plain_list_doc(QUEUE_SCHEMA))
def list_queues(request):
    return json_response({"records": [queue_json(queue) for queue in queue_list()]})


@router.get("/queues/{queue_id}", operation_id="queue_get", openapi_extra=_single(QUEUE_SCHEMA))
def get_queue(request, queue_id: str):
    return json_response(queue_json(queue_get(queue_id=queue_id)))


@router.get(
    "/lead-statuses",
    operation_id="lead_status_list",
    openapi_extra=docs.plain_list_doc(NAMED_SCHEMA),
)
def list_lead_statuses(request):
    fields = ("name", "sort_order", "is_default", "is_converted", "is_closed", "is_active")
    return json_response({"records": list(lead_status_list().values(*fields))})


@router.get(
    "/opportunity-stages",
    operation_id="opportunity_stage_list",
    openapi_extra=docs.plain_list_doc(NAMED_SCHEMA),
)
def list_stages(request):
    fields = (
        "name",
        "sort_order",
        "probability",
        "forecast_category",
        "is_closed",
        "is_won",
        "is_active",
    )
    return json_response({"records": list(stage_list().values(*fields))})


@router.get(
    "/picklists",
    operation_id="picklist_list",
    openapi_extra=docs.plain_list_doc(NAMED_SCHEMA),
)
def list_picklists(request):
    values = picklist_value_list().values("picklist", "value", "sort_order", "is_active")
    return json_response({"records": list(values)})
