"""A stage's stall limit (stall_days) set through the API, the Settings page and kept
when a change leaves it out."""

import pytest

from dealflow.people.models import Role
from dealflow.sales.models import OpportunityStage
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_api_sets_clears_and_keeps_a_stall_limit(api_as):
    client = api_as(UserFactory(role=Role.ADMIN))

    set_to = client.post("/opportunity-stages", {"name": "Prospecting", "stall_days": 9})
    assert (set_to.status_code, set_to.json()["stall_days"]) == (200, 9)
    kept = client.post("/opportunity-stages", {"name": "Prospecting", "probability": 15})
    assert (kept.json()["stall_days"], kept.json()["probability"]) == (9, 15)
    cleared = client.post("/opportunity-stages", {"name": "Prospecting", "stall_days": None})
    assert cleared.json()["stall_days"] is None
    refused = client.post("/opportunity-stages", {"name": "Prospecting", "stall_days": 0})
    assert refused.status_code == 400
    assert OpportunityStage.objects.get(name="Prospecting").stall_days is None


def test_the_settings_page_sets_a_stall_limit(client):
    client.force_login(UserFactory(role=Role.ADMIN))
    stage = OpportunityStage.objects.get(name="Qualification")
    form = {
        "edit": stage.pk,
        "name": "Qualification",
        "sort_order": stage.sort_order,
        "probability": stage.probability,
        "forecast_category": stage.forecast_category,
        "is_active": "on",
    }

    saved = client.post("/settings/stages/", {**form, "stall_days": "10"})
    assert saved.status_code == 302
    assert OpportunityStage.objects.get(pk=stage.pk).stall_days == 10
    page = client.get("/settings/stages/").content.decode()
    assert "Stalled after (days)" in page

    refused = client.post("/settings/stages/", {**form, "stall_days": "0"})
    assert refused.status_code == 400
    assert OpportunityStage.objects.get(pk=stage.pk).stall_days == 10
