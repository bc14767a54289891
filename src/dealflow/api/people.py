"""The directory (users, teams, queues) and the picklists: everyone reads, admins write."""

from collections.abc import Callable
from typing import Any, Literal

from django.http import HttpResponse
from ninja import Router, Schema
from pydantic import ConfigDict, Field, model_validator

from dealflow.api import docs
from dealflow.api.records import resolve_reference
from dealflow.api.support import json_response, resolver, run, run_idempotent
from dealflow.core.errors import DomainError
from dealflow.core.models import PicklistValue
from dealflow.core.selectors import picklist_value_list
from dealflow.core.services import picklist_value_set
from dealflow.core.validation import check_storable_text
from dealflow.leads.models import LeadStatus
from dealflow.leads.selectors import lead_status_list
from dealflow.leads.services import lead_status_set
from dealflow.people.models import Queue, User
from dealflow.people.selectors import (
    queue_get,
    queue_list,
    team_get,
    team_list,
    user_get,
    user_list,
)
from dealflow.people.services import queue_set, team_create, user_create
from dealflow.sales.models import OpportunityStage
from dealflow.sales.selectors import stage_list
from dealflow.sales.services import opportunity_stage_set

router = Router(tags=["People and settings"])


def fields_json(row: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in fields}


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
            **docs.error_responses(401, 404),
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
    return json_response({"records": list(lead_status_list().values(*LeadStatus.SETTINGS))})


@router.get(
    "/opportunity-stages",
    operation_id="opportunity_stage_list",
    openapi_extra=docs.plain_list_doc(NAMED_SCHEMA),
)
def list_stages(request):
    return json_response({"records": list(stage_list().values(*OpportunityStage.SETTINGS))})


@router.get(
    "/picklists",
    operation_id="picklist_list",
    openapi_extra=docs.plain_list_doc(NAMED_SCHEMA),
)
def list_picklists(request):
    values = picklist_value_list().values(*PicklistValue.SETTINGS)
    return json_response({"records": list(values)})


# ---------------------------------------------------------------------------------------
# Admin writes (the services refuse anyone else with 403)


class Strict(Schema):
    """A request body: unknown fields refused, no text a database cannot store."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def storable_text(self):
        for name, value in self:
            for text in value if isinstance(value, list) else [value]:
                if isinstance(text, str):
                    try:
                        check_storable_text(name, text)
                    except DomainError as error:
                        raise ValueError(error.message) from None
        return self


class UserIn(Strict):
    username: str = Field(..., min_length=1, max_length=150)
    role: Literal["admin", "manager", "rep"] = "rep"
    email: str = Field("", max_length=254)
    first_name: str = Field("", max_length=150)
    last_name: str = Field("", max_length=150)
    team: str | None = Field(None, description="A team name")
    password: str | None = Field(
        None, min_length=12, description="Absent: the user works with API tokens only"
    )


class TeamIn(Strict):
    name: str = Field(..., min_length=1, max_length=80)


class QueueIn(Strict):
    name: str = Field(..., min_length=1, max_length=80)
    email: str = Field("", max_length=254)
    member_ids: list[str] | None = Field(None, description="User ids; absent: unchanged")


class LeadStatusIn(Strict):
    name: str = Field(..., min_length=1, max_length=80)
    sort_order: int | None = Field(None, ge=0, le=100_000)
    is_default: bool | None = None
    is_converted: bool | None = None
    is_closed: bool | None = None
    is_active: bool | None = None


class StageIn(Strict):
    name: str = Field(..., min_length=1, max_length=80)
    sort_order: int | None = Field(None, ge=0, le=100_000)
    probability: int | None = Field(None, ge=0, le=100)
    forecast_category: str | None = None
    is_closed: bool | None = None
    is_won: bool | None = None
    is_active: bool | None = None
    stall_days: int | None = Field(
        None,
        ge=1,
        le=3650,
        description="Days an open deal may stay in the stage before it counts as stalled; "
        "null: never. Left out, it is kept.",
    )


class PicklistValueIn(Strict):
    picklist: str
    value: str = Field(..., min_length=1, max_length=255)
    sort_order: int | None = Field(None, ge=0, le=100_000)
    is_active: bool = True


def _written(schema: dict[str, Any], status: int = 201) -> dict[str, Any]:
    return {
        "responses": {
            status: {"description": "Saved", "content": {"application/json": {"schema": schema}}},
            **docs.error_responses(400, 401, 403, 404, 409),
        }
    }


@router.post("/users", operation_id="user_create", openapi_extra=_written(USER_SCHEMA))
def create_user(request, body: UserIn):
    def operation():
        team = team_get(name=body.team) if body.team else None
        user = user_create(
            actor=request.auth,
            username=body.username,
            password=body.password,
            role=body.role,
            email=body.email,
            first_name=body.first_name,
            last_name=body.last_name,
            team=team,
        )
        return json_response(user_json(user), status=201)

    return run_idempotent(request, operation)


@router.post("/teams", operation_id="team_create", openapi_extra=_written(NAMED_SCHEMA))
def create_team(request, body: TeamIn):
    def operation():
        team = team_create(actor=request.auth, name=body.name)
        return json_response({"name": team.name}, status=201)

    return run_idempotent(request, operation)


@router.post(
    "/queues",
    operation_id="queue_set",
    summary="Create a queue, or change its email and members (by name)",
    openapi_extra=_written(QUEUE_SCHEMA, status=200),
)
def set_queue(request, body: QueueIn):
    def operation():
        members = None
        if body.member_ids is not None:
            resolve = resolver(request.auth)
            members = [
                resolve_reference("member_ids", member_id, ("User",), resolve)
                for member_id in body.member_ids
            ]
        queue = queue_set(actor=request.auth, name=body.name, email=body.email, members=members)
        return json_response(queue_json(queue))

    return run(operation)


def _set_setting(
    request, service: Callable[..., Any], body: Schema, *, only_sent: bool = False
) -> HttpResponse:
    """Run a configuration service with the body's fields (`only_sent`: those the client
    sent, where null means "clear" rather than "keep"); answer with the row's settings."""

    def operation() -> HttpResponse:
        row = service(actor=request.auth, **body.dict(exclude_unset=only_sent))
        return json_response(fields_json(row, type(row).SETTINGS))

    return run(operation)


@router.post(
    "/lead-statuses",
    operation_id="lead_status_set",
    summary="Create or change a lead status (by name)",
    openapi_extra=_written(NAMED_SCHEMA, status=200),
)
def set_lead_status(request, body: LeadStatusIn):
    return _set_setting(request, lead_status_set, body)


@router.post(
    "/opportunity-stages",
    operation_id="opportunity_stage_set",
    summary="Create or change an opportunity stage (by name)",
    openapi_extra=_written(NAMED_SCHEMA, status=200),
)
def set_stage(request, body: StageIn):
    return _set_setting(request, opportunity_stage_set, body, only_sent=True)


@router.post(
    "/picklists",
    operation_id="picklist_value_set",
    summary="Add a picklist value or change its order and whether it is offered",
    openapi_extra=_written(NAMED_SCHEMA, status=200),
)
def set_picklist_value(request, body: PicklistValueIn):
    return _set_setting(request, picklist_value_set, body)
