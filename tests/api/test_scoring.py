"""Rule scoring through the API: recording events (201, 404, 400 naming the field), a
lead's score, and the scoring settings (everyone reads, admins replace, errors name keys)."""

from __future__ import annotations

import datetime

import pytest

from dealflow.automation.models import (
    LeadEvent,
    LeadLikelihood,
    LeadScore,
    LeadScoreHistory,
    PredictiveModel,
)
from dealflow.core.services import sharing_default_set
from dealflow.people.models import Role
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.UTC)
TIMES = "\N{MULTIPLICATION SIGN}"  # of a part's rule: "Page view x2"


@pytest.fixture
def admin_api(api_as):
    return api_as(UserFactory(username="admin", role=Role.ADMIN))


def test_an_event_is_recorded_and_the_score_follows(
    api, actor, freeze_clock, django_capture_on_commit_callbacks
):
    freeze_clock(NOW)
    lead = LeadFactory(owner_user=actor)

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            f"/leads/{lead.public_id}/events",
            {"type": "demo_request", "occurred_at": "2026-11-30T12:00:00Z"},
        )

    assert response.status_code == 201
    assert response.json() == {
        "lead_id": lead.public_id,
        "type": "demo_request",
        "occurred_at": "2026-11-30T12:00:00+00:00",  # ISO 8601, as the API writes times
    }
    score = api.get(f"/leads/{lead.public_id}/score")
    assert score.status_code == 200
    assert score.json() == {
        "lead_id": lead.public_id,
        "score": 50.0,
        "rating": "Warm",
        "computed_at": "2026-11-30T12:00:00+00:00",
        "parts": [{"rule": f"Demo request {TIMES}1", "points": 50.0}],
        "likelihood": None,  # no predictive model trained
        "history": [{"score": 50.0, "rating": "Warm", "computed_at": "2026-11-30T12:00:00+00:00"}],
    }


def test_a_lead_not_scored_yet_has_no_score(api, actor):
    lead = LeadFactory(owner_user=actor, rating="")

    response = api.get(f"/leads/{lead.public_id}/score")

    assert response.json() == {
        "lead_id": lead.public_id,
        "score": None,
        "rating": "",
        "computed_at": None,
        "parts": [],
        "likelihood": None,
        "history": [],
    }


def test_a_lead_the_caller_cannot_see_is_not_found(api):
    sharing_default_set(actor=None, object_name="Lead", access="private")
    lead = LeadFactory(owner_user=UserFactory())

    event = api.post(f"/leads/{lead.public_id}/events", {"type": "page_view"})
    score = api.get(f"/leads/{lead.public_id}/score")

    assert event.status_code == score.status_code == 404
    assert event.json()["errors"][0]["code"] == "NOT_FOUND"
    assert not LeadEvent.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "visit"}, "type"),
        ({}, "type"),
        ({"type": "page_view", "occurred_at": "yesterday"}, "occurred_at"),
        ({"type": "page_view", "occurred_at": "2026-11-30T12:00:00"}, "occurred_at"),
        ({"type": "page_view", "occurred_at": "2026-12-30T12:00:00Z"}, "occurred_at"),
        ({"type": "page_view", "source": "ads"}, "source"),
    ],
)
def test_a_bad_event_is_refused_naming_the_field(api, actor, freeze_clock, body, field):
    freeze_clock(NOW)
    lead = LeadFactory(owner_user=actor)

    response = api.post(f"/leads/{lead.public_id}/events", body)

    assert response.status_code == 400
    assert response.json()["errors"][0]["fields"] == [field]
    assert not LeadEvent.objects.exists()


def test_everyone_reads_the_settings_and_an_admin_replaces_them(api, admin_api):
    settings = {
        "points": {"page_view": 2, "form_error": -10},
        "half_life_days": 14,
        "fit_rules": [
            {"field": "industry", "operator": "equals", "value": "Banking", "points": 10},
            {"field": "number_of_employees", "operator": "at_least", "value": 200, "points": 5},
            {"field": "title", "operator": "contains_word", "value": "Director", "points": 8},
        ],
        "thresholds": {"hot": 80, "warm": 30},
    }

    response = admin_api.request("PUT", "/settings/scoring", settings)

    assert response.status_code == 200
    read = api.get("/settings/scoring").json()
    assert read == response.json()
    assert read["points"]["page_view"] == 2
    assert read["points"]["demo_request"] == 50  # left out: the default
    assert read["half_life_days"] == 14
    assert read["fit_rules"] == settings["fit_rules"]
    assert read["thresholds"] == {"hot": 80, "warm": 30}


def test_a_rep_cannot_change_the_settings(api):
    response = api.request("PUT", "/settings/scoring", {"half_life_days": 7})

    assert response.status_code == 403
    assert api.get("/settings/scoring").json()["half_life_days"] == 30


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"points": {"visit": 1}}, "points.visit"),
        ({"half_life_days": -1}, "half_life_days"),
        ({"fit_rules": [{"field": "title", "operator": "at_least"}]}, "fit_rules[0].operator"),
        ({"thresholds": {"hot": 10}}, "thresholds.hot"),  # below the default warm (25)
        ({"rating": "Hot"}, "rating"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(admin_api, body, field):
    response = admin_api.request("PUT", "/settings/scoring", body)

    assert response.status_code == 400
    assert response.json()["errors"][0]["fields"] == [field]


def test_the_operations_are_documented(api):
    schema = api.get("/openapi.json").json()
    operations = {
        operation["operationId"] for path in schema["paths"].values() for operation in path.values()
    }

    assert {
        "lead_event_create",
        "lead_score_get",
        "scoring_settings_get",
        "scoring_settings_set",
        "scoring_model_get",
    } <= operations
    score = schema["paths"]["/api/v1/leads/{lead_id}/score"]["get"]["responses"]["200"]
    properties = score["content"]["application/json"]["schema"]["properties"]
    assert "log-odds" in properties["likelihood"]["description"]
    assert set(properties["likelihood"]["properties"]) == {
        "value",
        "factors",
        "model_trained_at",
        "computed_at",
    }
    assert "newest first" in properties["history"]["description"]


# ---------------------------------------------------------------------------------------
# Predictive scoring: a lead's likelihood and the model's figures

FIGURES = {
    "auc": 0.8731,
    "calibration": [
        {"decile": decile, "leads": 30, "predicted": decile * 9.0, "observed": decile * 8.5}
        for decile in range(1, 11)
    ],
    "rows": {
        "leads": 1500,
        "converted": 338,
        "training": 900,
        "calibration": 300,
        "held_out": 300,
        "held_out_converted": 68,
    },
}
FACTORS = {
    "positive": [
        {"text": "Lead source is Web", "weight": 1.62},
        {"text": "2 demo requests", "weight": 1.1},
        {"text": "Industry is <b>Banking</b>", "weight": 0.9},
    ],
    "negative": [{"text": "No phone number", "weight": -0.12}],
}


def a_model(trained_at=NOW, is_active=True):
    return PredictiveModel.objects.create(
        definition={"version": 1}, figures=FIGURES, trained_at=trained_at, is_active=is_active
    )


def test_a_predicted_lead_has_its_likelihood_factors_and_history(api, actor):
    lead = LeadFactory(owner_user=actor, rating="Hot")
    model = a_model()
    LeadLikelihood.objects.create(
        lead=lead, model=model, likelihood=87, factors=FACTORS, computed_at=NOW
    )
    LeadScore.objects.create(lead=lead, score=70.0, parts=[], computed_at=NOW)
    LeadScoreHistory.objects.bulk_create(
        LeadScoreHistory(
            lead=lead,
            score=score,
            rating=rating,
            computed_at=NOW - datetime.timedelta(days=days),
        )
        for score, rating, days in ((10.0, "Cold", 2), (70.0, "Hot", 0), (30.0, "Warm", 1))
    )

    body = api.get(f"/leads/{lead.public_id}/score").json()

    assert body["likelihood"] == {
        "value": 87,
        "factors": FACTORS,
        "model_trained_at": "2026-11-30T12:00:00+00:00",
        "computed_at": "2026-11-30T12:00:00+00:00",
    }
    assert body["history"] == [
        {"score": 70.0, "rating": "Hot", "computed_at": "2026-11-30T12:00:00+00:00"},
        {"score": 30.0, "rating": "Warm", "computed_at": "2026-11-29T12:00:00+00:00"},
        {"score": 10.0, "rating": "Cold", "computed_at": "2026-11-28T12:00:00+00:00"},
    ]


def test_a_rep_cannot_read_another_reps_private_lead_likelihood(api):
    sharing_default_set(actor=None, object_name="Lead", access="private")
    lead = LeadFactory(owner_user=UserFactory())
    LeadLikelihood.objects.create(
        lead=lead, model=a_model(), likelihood=87, factors=FACTORS, computed_at=NOW
    )

    response = api.get(f"/leads/{lead.public_id}/score")

    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "NOT_FOUND"
    assert "87" not in response.content.decode()


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER])
def test_admins_and_managers_read_the_active_models_figures(api_as, role):
    a_model(trained_at=NOW - datetime.timedelta(days=7), is_active=False)
    a_model()

    response = api_as(UserFactory(role=role)).get("/settings/scoring/model")

    assert response.status_code == 200
    assert response.json() == {"trained_at": "2026-11-30T12:00:00+00:00", **FIGURES}


def test_the_models_figures_are_null_before_the_first_training(admin_api):
    response = admin_api.get("/settings/scoring/model")

    assert (response.status_code, response.json()) == (200, None)


def test_a_rep_cannot_read_the_models_figures(api):
    a_model()

    response = api.get("/settings/scoring/model")

    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "INSUFFICIENT_ACCESS_OR_READONLY"
    assert "auc" not in response.content.decode()
