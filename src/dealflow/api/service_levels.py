"""Service levels for leads (docs/service-levels.md): the organisation's setting.

- `GET /settings/service-levels` (everyone): `{"response_hours": 8 | null,
  "working_days": ["Monday", ...], "day_start": "09:00", "day_end": "17:00",
  "time_zone": "UTC", "reroute_when_breached": false}`.
- `PATCH /settings/service-levels` (admins): any of those fields but `time_zone` (the
  site's TIME_ZONE); 400 naming the field for a bad value, 403 for others.
"""

from __future__ import annotations

from typing import Any

from ninja import Router

from dealflow.api import docs
from dealflow.api.support import json_response, request_body, run
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.leads.service_levels import (
    DAY_NAMES,
    UNSET,
    ServiceLevels,
    service_levels,
    service_levels_set,
)

router = Router(tags=["Service levels"])

EDITABLE = ("response_hours", "working_days", "day_start", "day_end", "reroute_when_breached")
SETTINGS_SCHEMA = {
    "type": "object",
    "properties": {
        "response_hours": {
            "type": ["integer", "null"],
            "description": "Working hours an open lead may stay untouched; null: no limit",
        },
        "working_days": {"type": "array", "items": {"type": "string", "enum": list(DAY_NAMES)}},
        "day_start": {"type": "string", "description": "HH:MM, local time"},
        "day_end": {"type": "string", "description": "HH:MM, local time"},
        "time_zone": {"type": "string", "description": "The site's TIME_ZONE (read-only)"},
        "reroute_when_breached": {"type": "boolean"},
    },
}


def settings_json(levels: ServiceLevels) -> dict[str, Any]:
    return {
        "response_hours": levels.response_hours,
        "working_days": [DAY_NAMES[day] for day in levels.working_days],
        "day_start": levels.day_start.isoformat("minutes"),
        "day_end": levels.day_end.isoformat("minutes"),
        "time_zone": levels.time_zone,
        "reroute_when_breached": levels.reroute_when_breached,
    }


@router.get(
    "/settings/service-levels",
    operation_id="service_levels_get",
    summary="How long an open lead may stay untouched, in working hours, and the working week",
    openapi_extra={
        "responses": {200: docs._json(SETTINGS_SCHEMA, "The settings"), **docs.error_responses(401)}
    },
)
def get_settings(request):
    return json_response(settings_json(service_levels.get()))


@router.patch(
    "/settings/service-levels",
    operation_id="service_levels_set",
    summary="Change the response-time limit, the working week or re-routing (admins)",
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
        unknown = [name for name in body if name not in EDITABLE]
        if unknown:
            raise DomainError(
                ErrorCode.INVALID_FIELD,
                f"unknown {', '.join(unknown)} (accepted: {', '.join(EDITABLE)})",
                unknown,
            )
        levels = service_levels_set(
            actor=request.auth, **{name: body.get(name, UNSET) for name in EDITABLE}
        )
        return json_response(settings_json(levels))

    return run(operation)
