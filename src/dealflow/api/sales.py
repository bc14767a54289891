"""Opportunities, contact roles and tasks."""

import datetime
from typing import Any

from ninja import Router
from pydantic import Field

from dealflow.api import docs
from dealflow.api.accounts import CommonFilters, reference_filters
from dealflow.api.crud import ListOptions, register_crud
from dealflow.api.support import decode_filter_id, record_response, run
from dealflow.core import ids
from dealflow.sales.selectors import (
    CONTACT_ROLE_LIST,
    OPPORTUNITY_LIST,
    TASK_LIST,
    contact_role_get,
    contact_role_page,
    opportunity_get,
    opportunity_page,
    task_get,
    task_page,
)
from dealflow.sales.services import (
    contact_role_create,
    contact_role_delete,
    contact_role_update,
    opportunity_create,
    opportunity_delete,
    opportunity_update,
    task_complete,
    task_create,
    task_delete,
    task_update,
)

router = Router(tags=["Opportunities, contact roles and tasks"])


class OpportunityFilters(CommonFilters):
    stage_name: str | None = None
    account_id: str | None = None
    lead_source: str | None = None
    type: str | None = None
    is_closed: bool | None = None
    is_won: bool | None = None
    close_date_from: datetime.date | None = None
    close_date_to: datetime.date | None = None
    forecast_category: str | None = Field(
        None, description="Pipeline, Best Case, Commit, Closed or Omitted"
    )
    stalled: bool | None = Field(
        None,
        description="Open deals past their stage's stall days, their close date, "
        "or 30 days without activity (true), or the others (false)",
    )


def opportunity_filters(values: dict[str, Any]) -> dict[str, Any]:
    values["stage"] = values.pop("stage_name")
    return reference_filters(owner=("User",), account=("Account",))(values)


register_crud(
    router,
    object_name="Opportunity",
    path="/opportunities",
    operation_prefix="opportunity",
    filters_schema=OpportunityFilters,
    list_spec=OPPORTUNITY_LIST,
    to_filters=opportunity_filters,
    get=lambda actor, record_id: opportunity_get(actor=actor, opportunity_id=record_id),
    page=opportunity_page,
    create=lambda actor, data: opportunity_create(actor=actor, data=data),
    update=lambda actor, record, data: opportunity_update(
        actor=actor, opportunity=record, data=data
    ),
    delete=lambda actor, record: opportunity_delete(actor=actor, opportunity=record),
)


class ContactRoleFilters(ListOptions):
    opportunity_id: str | None = None
    contact_id: str | None = None
    is_primary: bool | None = None


register_crud(
    router,
    object_name="OpportunityContactRole",
    path="/contact-roles",
    operation_prefix="contact_role",
    filters_schema=ContactRoleFilters,
    list_spec=CONTACT_ROLE_LIST,
    to_filters=reference_filters(opportunity=("Opportunity",), contact=("Contact",)),
    get=lambda actor, record_id: contact_role_get(actor=actor, contact_role_id=record_id),
    page=contact_role_page,
    create=lambda actor, data: contact_role_create(actor=actor, data=data),
    update=lambda actor, record, data: contact_role_update(
        actor=actor, contact_role=record, data=data
    ),
    delete=lambda actor, record: contact_role_delete(actor=actor, contact_role=record),
)


class TaskFilters(CommonFilters):
    status: str | None = None
    type: str | None = None
    who_id: str | None = None
    what_id: str | None = None
    due_from: datetime.date | None = None
    due_to: datetime.date | None = None


def task_filters(values: dict[str, Any]) -> dict[str, Any]:
    """who_id / what_id become a filter on the lead, contact, account or opportunity column."""
    for key, targets in (("who_id", ("Lead", "Contact")), ("what_id", ("Account", "Opportunity"))):
        public_id = values.pop(key)
        primary_key = decode_filter_id(key, public_id, targets)
        if primary_key is not None:
            values[ids.OBJECTS_BY_PREFIX[public_id[:3]].lower()] = primary_key
    return reference_filters(owner=("User",))(values)


register_crud(
    router,
    object_name="Task",
    path="/tasks",
    operation_prefix="task",
    filters_schema=TaskFilters,
    list_spec=TASK_LIST,
    to_filters=task_filters,
    get=lambda actor, record_id: task_get(actor=actor, task_id=record_id),
    page=task_page,
    create=lambda actor, data: task_create(actor=actor, **data),
    update=lambda actor, record, data: task_update(actor=actor, task=record, data=data),
    delete=lambda actor, record: task_delete(actor=actor, task=record),
)


@router.post(
    "/tasks/{task_id}/complete",
    operation_id="task_complete",
    summary="Mark a task completed (completing twice changes nothing)",
    openapi_extra=docs.action_doc({"$ref": "#/components/schemas/Task"}),
)
def complete_task(request, task_id: str):
    def operation():
        task = task_get(actor=request.auth, task_id=task_id)
        return record_response("Task", task_complete(actor=request.auth, task=task))

    return run(operation)
