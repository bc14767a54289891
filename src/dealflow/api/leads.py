"""Leads: CRUD, filters, and conversion."""

import datetime
from typing import Any

from ninja import Router
from pydantic import Field

from dealflow.api import docs
from dealflow.api.crud import ListOptions, register_crud
from dealflow.api.records import resolve_reference
from dealflow.api.support import (
    decode_filter_id,
    json_response,
    request_body,
    resolver,
    run_idempotent,
)
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.leads.selectors import LEAD_LIST, lead_get, lead_page
from dealflow.leads.services import lead_convert, lead_create, lead_delete, lead_update

router = Router(tags=["Leads"])


class LeadFilters(ListOptions):
    owner_id: str | None = Field(None, description="A User or Queue id")
    status: str | None = None
    lead_source: str | None = None
    rating: str | None = None
    industry: str | None = None
    is_converted: bool | None = None
    is_closed: bool | None = Field(None, description="Whether the lead's status is a closed one")
    created_after: datetime.datetime | None = None
    created_before: datetime.datetime | None = None
    modified_after: datetime.datetime | None = None
    modified_before: datetime.datetime | None = None
    converted_after: datetime.date | None = None
    converted_before: datetime.date | None = None
    overdue: bool | None = Field(
        None,
        description="Open leads untouched for more working hours than the service level "
        "allows (true), or the others (false); see docs/service-levels.md",
    )


def lead_filters(values: dict[str, Any]) -> dict[str, Any]:
    owner_id = values.pop("owner_id")
    owner_key = decode_filter_id("owner_id", owner_id, ("User", "Queue"))
    if owner_key is not None:
        values["owner_queue" if owner_id.startswith("00G") else "owner"] = owner_key
    return values


register_crud(
    router,
    object_name="Lead",
    path="/leads",
    operation_prefix="lead",
    filters_schema=LeadFilters,
    list_spec=LEAD_LIST,
    to_filters=lead_filters,
    get=lambda actor, record_id: lead_get(actor=actor, lead_id=record_id),
    page=lead_page,
    create=lambda actor, data, **options: lead_create(actor=actor, data=data, **options),
    # assign false: assignment rules do not choose the owner; allow_duplicates true: saved
    # even when the duplicate rules match (docs/duplicates.md)
    create_options=("assign", "allow_duplicates"),
    update=lambda actor, lead, data: lead_update(actor=actor, lead=lead, data=data),
    delete=lambda actor, lead: lead_delete(actor=actor, lead=lead),
)

CONVERSION_OPTIONS = {
    "converted_status": str,
    "account_id": str,
    "contact_id": str,
    "opportunity_id": str,
    "create_opportunity": bool,
    "opportunity_name": str,
    "owner_id": str,
    "overwrite_lead_source": bool,
    "qualification_override_reason": str,
}
CONVERSION_REFERENCES = {
    "account_id": "Account",
    "contact_id": "Contact",
    "opportunity_id": "Opportunity",
    "owner_id": "User",
}
CONVERSION_RESULT = {
    "type": "object",
    "properties": {
        name: {"type": ["string", "null"] if name == "opportunity_id" else "string"}
        for name in ("lead_id", "account_id", "contact_id", "opportunity_id")
    },
    "required": ["lead_id", "account_id", "contact_id", "opportunity_id"],
}


def conversion_options(actor: Any, body: dict[str, Any]) -> dict[str, Any]:
    """The convert request body as lead_convert's keyword arguments."""
    options: dict[str, Any] = {}
    resolve = resolver(actor)
    for name, value in body.items():
        expected = CONVERSION_OPTIONS.get(name)
        if expected is None:
            raise DomainError(
                ErrorCode.INVALID_FIELD,
                f"{name!r} is not a conversion option ({', '.join(CONVERSION_OPTIONS)})",
                [name],
            )
        if value is None:
            continue
        if not isinstance(value, expected):
            raise DomainError(
                ErrorCode.INVALID_TYPE, f"{name}: expected a {expected.__name__}", [name]
            )
        if name in CONVERSION_REFERENCES:
            object_names = (CONVERSION_REFERENCES[name],)
            options[name.removesuffix("_id")] = resolve_reference(
                name, value, object_names, resolve
            )
        else:
            options[name] = value
    return options


@router.post(
    "/leads/{lead_id}/convert",
    operation_id="lead_convert",
    summary="Convert a lead into an account, a contact and an opportunity (honours Idempotency-Key)",
    openapi_extra=docs.action_doc(CONVERSION_RESULT, body="LeadConvert", idempotent=True),
)
def convert_lead(request, lead_id: str):
    def operation():
        lead = lead_get(actor=request.auth, lead_id=lead_id)
        options = conversion_options(request.auth, request_body(request))
        result = lead_convert(actor=request.auth, lead=lead, **options)
        return json_response(result.public_ids())

    return run_idempotent(request, operation)


LEAD_CONVERT_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "converted_status": {"type": "string", "description": "A converted lead status"},
        "account_id": {"type": "string", "description": "An existing account to attach"},
        "contact_id": {"type": "string", "description": "An existing contact of that account"},
        "opportunity_id": {"type": "string", "description": "An existing opportunity to attach"},
        "create_opportunity": {"type": "boolean", "default": True},
        "opportunity_name": {"type": "string", "maxLength": 120},
        "owner_id": {"type": "string", "description": "Owner of new records (User id)"},
        "overwrite_lead_source": {"type": "boolean", "default": False},
        "qualification_override_reason": {
            "type": "string",
            "description": "Why a manager or admin converts a lead not qualified yet",
        },
    },
}
