"""Rule scoring (docs/scoring.md): engagement events, a lead's score, the scoring settings.

- `POST /leads/{id}/events` with `{"type": "page_view", "occurred_at": "..."}` records an
  event (201); 404 for a lead the caller may not see, 400 naming `type` or `occurred_at`.
- `GET /leads/{id}/score`: score, rating, computed_at and the parts that produced it,
  the predicted likelihood with its factors (null before a model predicted it) and the
  latest scores (`history`).
- `GET /settings/scoring/model` (admins and managers): the active predictive model's
  figures (held-out AUC, calibration table, rows, training date); null before a training.
- `GET /settings/scoring` (everyone) and `PUT` (admins): points per event type, the
  half-life in days, fit rules and the Rating thresholds.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router

from dealflow.api import docs
from dealflow.api.support import json_response, request_body, run
from dealflow.automation.models import LeadEventType
from dealflow.automation.predictive import likelihood_json, model_figures
from dealflow.automation.scoring import (
    HISTORY_SHOWN,
    lead_event_record,
    lead_score_summary,
    scoring_configuration,
    scoring_settings_set,
)
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.leads.selectors import lead_get

router = Router(tags=["Scoring"])

EVENT_SCHEMA = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "enum": LeadEventType.values},
        "occurred_at": {
            "type": "string",
            "format": "date-time",
            "description": "with a time zone; not in the future; left out: now",
        },
    },
    "required": ["type"],
}
EVENT_RECORD_SCHEMA = {
    "type": "object",
    "properties": {
        "lead_id": {"type": "string"},
        "type": {"type": "string"},
        "occurred_at": {"type": "string", "format": "date-time"},
    },
}
FACTOR_SCHEMA = {
    "type": "object",
    "properties": {"text": {"type": "string"}, "weight": {"type": "number"}},
}
SCORE_SCHEMA = {
    "type": "object",
    "properties": {
        "lead_id": {"type": "string"},
        "score": {"type": ["number", "null"], "description": "null: not scored yet"},
        "rating": {"type": "string"},
        "computed_at": {"type": ["string", "null"], "format": "date-time"},
        "parts": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"rule": {"type": "string"}, "points": {"type": "number"}},
            },
        },
        "likelihood": {
            "type": ["object", "null"],
            "description": "The predicted conversion likelihood (percent, 1-99) and the "
            "three features that raised it and lowered it most, in words, each with its "
            "weight (log-odds against an average lead); null before a model predicted it",
            "properties": {
                "value": {"type": "integer", "minimum": 1, "maximum": 99},
                "factors": {
                    "type": "object",
                    "properties": {
                        direction: {"type": "array", "items": FACTOR_SCHEMA, "maxItems": 3}
                        for direction in ("positive", "negative")
                    },
                },
                "model_trained_at": {"type": "string", "format": "date-time"},
                "computed_at": {"type": "string", "format": "date-time"},
            },
        },
        "history": {
            "type": "array",
            "description": f"The latest {HISTORY_SHOWN} scores, newest first: a score is "
            "appended when a recompute changes the score or the Rating",
            "items": {
                "type": "object",
                "properties": {
                    "score": {"type": "number"},
                    "rating": {"type": "string"},
                    "computed_at": {"type": "string", "format": "date-time"},
                },
            },
        },
    },
}
MODEL_SCHEMA = {
    "type": ["object", "null"],
    "description": "The active predictive model's figures, measured on held-out leads it "
    "neither fitted nor was calibrated on; null before the first training",
    "properties": {
        "trained_at": {"type": "string", "format": "date-time"},
        "auc": {"type": "number", "description": "held-out area under the ROC curve, 0-1"},
        "calibration": {
            "type": "array",
            "description": "held-out leads in ten groups by predicted likelihood: the mean "
            "predicted likelihood and the share converted, in percent",
            "items": {
                "type": "object",
                "properties": {
                    "decile": {"type": "integer"},
                    "leads": {"type": "integer"},
                    "predicted": {"type": "number"},
                    "observed": {"type": "number"},
                },
            },
        },
        "rows": {
            "type": "object",
            "properties": {
                name: {"type": "integer"}
                for name in (
                    "leads",
                    "converted",
                    "training",
                    "calibration",
                    "held_out",
                    "held_out_converted",
                )
            },
        },
    },
}
SETTINGS_SCHEMA = {
    "type": "object",
    "properties": {
        "points": {
            "type": "object",
            "properties": {name: {"type": "number"} for name in LeadEventType.values},
        },
        "half_life_days": {"type": "number", "exclusiveMinimum": 0},
        "fit_rules": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {
                        "type": "string",
                        "enum": ["industry", "number_of_employees", "title"],
                    },
                    "operator": {"type": "string", "enum": ["equals", "at_least", "contains_word"]},
                    "value": {},
                    "points": {"type": "number"},
                },
                "required": ["field", "operator", "value", "points"],
            },
        },
        "thresholds": {
            "type": "object",
            "properties": {"hot": {"type": "number"}, "warm": {"type": "number"}},
        },
    },
}


def _with_body(
    schema: dict[str, Any], body: dict[str, Any], *, status: int = 200
) -> dict[str, Any]:
    extra = docs.action_doc(schema)
    extra["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    extra["responses"][status] = extra["responses"].pop(200)
    return extra


@router.post(
    "/leads/{lead_id}/events",
    operation_id="lead_event_create",
    summary="Record an engagement event of a lead; its score is recomputed",
    openapi_extra=_with_body(EVENT_RECORD_SCHEMA, EVENT_SCHEMA, status=201),
)
def record_event(request: HttpRequest, lead_id: str) -> HttpResponse:
    def operation() -> HttpResponse:
        body = request_body(request)
        unknown = sorted(set(body) - {"type", "occurred_at"})
        if unknown:
            message = f"{unknown[0]}: not a field of an event (type, occurred_at)"
            raise DomainError(ErrorCode.INVALID_FIELD, message, [unknown[0]])
        event = lead_event_record(
            actor=request.auth,
            lead=lead_id,
            type=body.get("type"),
            occurred_at=body.get("occurred_at"),
        )
        payload = {"lead_id": lead_id, "type": event.type, "occurred_at": event.occurred_at}
        return json_response(payload, status=201)

    return run(operation)


@router.get(
    "/leads/{lead_id}/score",
    operation_id="lead_score_get",
    summary="A lead's rule score, its Rating and the rules that produced it",
    openapi_extra=docs.action_doc(SCORE_SCHEMA),
)
def get_score(request: HttpRequest, lead_id: str) -> HttpResponse:
    lead = lead_get(actor=request.auth, lead_id=lead_id)
    summary = lead_score_summary(lead)
    score = summary.score
    return json_response(
        {
            "lead_id": lead.public_id,
            "score": score.score if score else None,
            "rating": lead.rating,
            "computed_at": score.computed_at if score else None,
            "parts": score.parts if score else [],
            "likelihood": likelihood_json(summary.likelihood),
            "history": [
                {"score": row.score, "rating": row.rating, "computed_at": row.computed_at}
                for row in summary.history
            ],
        }
    )


@router.get(
    "/settings/scoring/model",
    operation_id="scoring_model_get",
    summary="The active predictive model's held-out AUC, calibration table and rows "
    "(admins and managers); null before the first training",
    openapi_extra=docs.action_doc(MODEL_SCHEMA),
)
def get_model(request: HttpRequest) -> HttpResponse:
    return run(lambda: json_response(model_figures(actor=request.auth)), atomic=False)


@router.get(
    "/settings/scoring",
    operation_id="scoring_settings_get",
    summary="The scoring settings",
    openapi_extra=docs.action_doc(SETTINGS_SCHEMA),
)
def get_settings(request: HttpRequest) -> HttpResponse:
    return json_response(scoring_configuration().as_json())


@router.put(
    "/settings/scoring",
    operation_id="scoring_settings_set",
    summary="Replace the scoring settings (admins); a key left out takes its default",
    openapi_extra=_with_body(SETTINGS_SCHEMA, SETTINGS_SCHEMA),
)
def put_settings(request: HttpRequest) -> HttpResponse:
    def operation() -> HttpResponse:
        configuration = scoring_settings_set(actor=request.auth, settings=request_body(request))
        return json_response(configuration.as_json())

    return run(operation)
