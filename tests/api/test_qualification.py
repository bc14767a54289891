"""Qualification through the API: a lead's checklist, the settings, and the convert gate."""

import pytest

from dealflow.accounts.models import Account, Contact
from dealflow.core.models import Access, AuditEvent
from dealflow.core.services import sharing_default_set
from dealflow.leads.models import Lead, LeadQualificationAnswer, QualificationOverride
from dealflow.people.models import Role
from dealflow.sales.models import Opportunity
from tests.api.conftest import ApiClient
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

BANT_ALL_MET = {key: {"met": True} for key in ("budget", "authority", "need", "timeline")}


@pytest.fixture
def admin_api():
    return ApiClient(UserFactory(role=Role.ADMIN))


@pytest.fixture
def lead(actor):
    return LeadFactory(owner_user=actor)


def url(lead):
    return f"/leads/{lead.public_id}/qualification"


def put(api, lead, body):
    return api.request("PUT", url(lead), body)


def codes(response):
    return [error["code"] for error in response.json()["errors"]]


def database_state():
    return (
        Account.objects.count(),
        Contact.objects.count(),
        Opportunity.objects.count(),
        list(Lead.objects.values_list("pk", "is_converted", "status_id", "updated_at")),
        QualificationOverride.objects.count(),
    )


def test_get_a_new_lead_checklist(api, lead):
    response = api.get(url(lead))

    assert response.status_code == 200
    body = response.json()
    assert (body["lead_id"], body["framework"], body["satisfied"]) == (
        lead.public_id,
        "BANT",
        False,
    )
    assert list(body["items"]) == ["budget", "authority", "need", "timeline"]
    assert body["items"]["budget"] == {
        "label": "Budget",
        "met": False,
        "note": "",
        "set_by": None,
        "set_at": None,
    }
    assert (body["met"], body["needed"], body["required"], body["override"]) == (
        0,
        4,
        False,
        None,
    )
    assert body["missing"] == ["Budget", "Authority", "Need", "Timeline"]


def test_get_another_framework(api, lead):
    body = api.get(url(lead), framework="MEDDIC").json()
    assert body["framework"] == "MEDDIC"
    assert len(body["items"]) == 6


def test_put_sets_items_with_who_and_when(api, actor, lead):
    response = put(
        api,
        lead,
        {
            "framework": "BANT",
            "items": {**BANT_ALL_MET, "budget": {"met": True, "note": "<b>50k</b>"}},
        },
    )

    assert response.status_code == 200
    body = response.json()
    assert body["satisfied"] is True
    assert body["missing"] == []
    assert body["items"]["budget"]["note"] == "<b>50k</b>"  # JSON keeps text as given
    assert body["items"]["budget"]["set_by"] == actor.public_id
    assert body["items"]["budget"]["set_at"]
    assert api.get(url(lead)).json() == body
    assert AuditEvent.objects.filter(object_name="Lead", record_id=lead.pk).count() == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"items": BANT_ALL_MET}, "REQUIRED_FIELD_MISSING"),
        ({"framework": "SPIN", "items": {}}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
        ({"framework": "BANT", "items": {"money": {"met": True}}}, "INVALID_FIELD"),
        ({"framework": "BANT", "items": {"budget": {"met": 1}}}, "INVALID_TYPE"),
        ({"framework": "BANT", "items": BANT_ALL_MET, "satisfied": True}, "INVALID_FIELD"),
    ],
)
def test_put_refuses_bad_bodies(api, lead, body, code):
    response = put(api, lead, body)
    assert response.status_code == 400
    assert codes(response) == [code]
    assert not LeadQualificationAnswer.objects.exists()


def test_a_rep_who_may_not_see_the_lead_gets_404(lead):
    sharing_default_set(actor=None, object_name="Lead", access=Access.PRIVATE)
    other = ApiClient(UserFactory())

    assert other.get(url(lead)).status_code == 404
    response = put(other, lead, {"framework": "BANT", "items": BANT_ALL_MET})
    assert response.status_code == 404
    assert codes(response) == ["NOT_FOUND"]
    assert not LeadQualificationAnswer.objects.exists()


def test_a_rep_who_may_only_read_the_lead_gets_403_on_put(lead):
    sharing_default_set(actor=None, object_name="Lead", access=Access.READ)
    other = ApiClient(UserFactory())

    assert other.get(url(lead)).status_code == 200
    response = put(other, lead, {"framework": "BANT", "items": BANT_ALL_MET})
    assert response.status_code == 403
    assert codes(response) == ["INSUFFICIENT_ACCESS_OR_READONLY"]
    assert not LeadQualificationAnswer.objects.exists()


def test_an_unknown_lead_is_404(api):
    response = api.get("/leads/00Q000000000999AAA/qualification")
    assert response.status_code == 404
    assert codes(response) == ["NOT_FOUND"]


# ---------------------------------------------------------------------------------------
# Settings


def test_everyone_reads_the_settings(api):
    response = api.get("/settings/qualification")
    assert response.status_code == 200
    body = response.json()
    assert (body["required_framework"], body["minimum_items"]) == (None, None)
    assert list(body["frameworks"]) == ["BANT", "CHAMP", "MEDDIC"]
    assert body["frameworks"]["CHAMP"]["items"][0] == {
        "key": "challenges",
        "label": "Challenges",
        "sort_order": 1,
        "is_active": True,
    }


def test_an_admin_requires_a_framework(admin_api):
    response = admin_api.patch(
        "/settings/qualification", {"required_framework": "BANT", "minimum_items": 3}
    )
    assert response.status_code == 200
    assert (response.json()["required_framework"], response.json()["minimum_items"]) == ("BANT", 3)
    # A PATCH changes only what it names.
    response = admin_api.patch("/settings/qualification", {"minimum_items": None})
    assert (response.json()["required_framework"], response.json()["minimum_items"]) == (
        "BANT",
        None,
    )
    assert AuditEvent.objects.filter(object_name="QualificationSetting").count() == 2


@pytest.mark.parametrize("role", [Role.REP, Role.MANAGER])
def test_others_may_not_change_the_settings(role):
    response = ApiClient(UserFactory(role=role)).patch(
        "/settings/qualification", {"required_framework": "BANT"}
    )
    assert response.status_code == 403
    assert codes(response) == ["INSUFFICIENT_ACCESS_OR_READONLY"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"required_framework": "SPIN"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
        ({"required_framework": "BANT", "minimum_items": 9}, "NUMBER_OUTSIDE_VALID_RANGE"),
        ({"minimum_items": "4"}, "INVALID_TYPE"),
        ({"framework": "BANT"}, "INVALID_FIELD"),
    ],
)
def test_bad_settings_are_refused(admin_api, body, code):
    response = admin_api.patch("/settings/qualification", body)
    assert response.status_code == 400
    assert codes(response) == [code]
    assert admin_api.get("/settings/qualification").json()["required_framework"] is None


def test_an_admin_renames_and_adds_items(admin_api, api):
    renamed = admin_api.post(
        "/settings/qualification/items",
        {"framework": "BANT", "key": "budget", "label": "Budget approved"},
    )
    added = admin_api.post(
        "/settings/qualification/items", {"framework": "BANT", "key": "legal", "label": "Legal"}
    )
    assert (renamed.status_code, added.status_code) == (200, 200)
    items = added.json()["frameworks"]["BANT"]["items"]
    assert (items[0]["key"], items[0]["label"]) == ("budget", "Budget approved")
    assert items[-1]["key"] == "legal"
    refused = api.post(
        "/settings/qualification/items", {"framework": "BANT", "key": "x", "label": "X"}
    )
    assert refused.status_code == 403


# ---------------------------------------------------------------------------------------
# The convert gate


def test_convert_is_refused_until_qualified(admin_api, api, lead):
    admin_api.patch("/settings/qualification", {"required_framework": "BANT"})
    put(api, lead, {"framework": "BANT", "items": {"budget": {"met": True}}})
    before = database_state()

    response = api.post(f"/leads/{lead.public_id}/convert", {})

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert (error["code"], error["fields"]) == ("QUALIFICATION_REQUIRED", ["qualification"])
    assert "missing: Authority, Need, Timeline" in error["message"]
    assert database_state() == before
    assert api.get(url(lead)).json()["required"] is True

    put(api, lead, {"framework": "BANT", "items": BANT_ALL_MET})
    response = api.post(f"/leads/{lead.public_id}/convert", {})
    assert response.status_code == 200
    assert Lead.objects.get(pk=lead.pk).is_converted


def test_a_rep_override_is_refused(admin_api, api, lead):
    admin_api.patch("/settings/qualification", {"required_framework": "BANT"})
    before = database_state()
    response = api.post(
        f"/leads/{lead.public_id}/convert", {"qualification_override_reason": "Please"}
    )
    assert response.status_code == 403
    assert codes(response) == ["INSUFFICIENT_ACCESS_OR_READONLY"]
    assert database_state() == before


def test_a_manager_overrides_and_the_override_shows(admin_api, lead):
    admin_api.patch("/settings/qualification", {"required_framework": "BANT", "minimum_items": 2})
    manager = UserFactory(role=Role.MANAGER)
    manager_api = ApiClient(manager)

    response = manager_api.post(
        f"/leads/{lead.public_id}/convert", {"qualification_override_reason": "Board decision"}
    )

    assert response.status_code == 200
    override = manager_api.get(url(lead)).json()["override"]
    assert override["reason"] == "Board decision"
    assert override["framework"] == "BANT"
    assert override["missing"] == ["Budget", "Authority", "Need", "Timeline"]
    assert override["overridden_by"] == manager.public_id
    assert override["overridden_at"]


def test_the_override_reason_must_be_text(admin_api, lead):
    response = admin_api.post(
        f"/leads/{lead.public_id}/convert", {"qualification_override_reason": 5}
    )
    assert response.status_code == 400
    assert codes(response) == ["INVALID_TYPE"]
