"""The service-level setting through the API: everyone reads it, admins change it."""

import datetime

import pytest

from dealflow.core.models import AuditEvent
from dealflow.leads.service_levels import service_levels
from dealflow.people.models import Role
from tests.api.conftest import ApiClient
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/settings/service-levels"
DEFAULTS = {
    "response_hours": 8,
    "working_days": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
    "day_start": "09:00",
    "day_end": "17:00",
    "time_zone": "UTC",
    "reroute_when_breached": False,
}


@pytest.fixture
def admin_api():
    return ApiClient(UserFactory(role=Role.ADMIN))


def errors(response):
    return [(error["code"], error["fields"]) for error in response.json()["errors"]]


def test_everyone_reads_the_setting(api):
    response = api.get(URL)
    assert response.status_code == 200
    assert response.json() == DEFAULTS


def test_a_token_is_required():
    assert ApiClient().get(URL).status_code == 401


def test_an_admin_changes_the_setting(admin_api):
    response = admin_api.patch(
        URL,
        {
            "response_hours": 4,
            "working_days": ["Sunday", "Monday"],
            "day_start": "08:30",
            "reroute_when_breached": True,
        },
    )
    assert response.status_code == 200
    expected = {
        **DEFAULTS,
        "response_hours": 4,
        "working_days": ["Monday", "Sunday"],
        "day_start": "08:30",
        "reroute_when_breached": True,
    }
    assert response.json() == expected
    assert admin_api.get(URL).json() == expected
    assert AuditEvent.objects.filter(object_name="ServiceLevelSetting").count() == 1


def test_an_admin_turns_the_limit_off(admin_api):
    response = admin_api.patch(URL, {"response_hours": None})
    assert response.json()["response_hours"] is None
    assert service_levels.get().response_hours is None


def test_others_may_not_change_it(api):
    response = api.patch(URL, {"response_hours": 2})
    assert response.status_code == 403
    assert errors(response) == [("INSUFFICIENT_ACCESS_OR_READONLY", [])]
    assert service_levels.get().response_hours == 8


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"response_hours": 0}, ("NUMBER_OUTSIDE_VALID_RANGE", ["response_hours"])),
        ({"response_hours": 10_001}, ("NUMBER_OUTSIDE_VALID_RANGE", ["response_hours"])),
        ({"response_hours": 2.5}, ("INVALID_TYPE", ["response_hours"])),
        ({"working_days": "Monday"}, ("INVALID_TYPE", ["working_days"])),
        ({"working_days": ["Mon"]}, ("INVALID_FIELD", ["working_days"])),
        ({"day_start": "25:00"}, ("INVALID_TYPE", ["day_start"])),
        ({"day_start": "18:00"}, ("INVALID_FIELD", ["day_start", "day_end"])),
        ({"reroute_when_breached": 1}, ("INVALID_TYPE", ["reroute_when_breached"])),
        ({"time_zone": "Europe/Paris"}, ("INVALID_FIELD", ["time_zone"])),
    ],
)
def test_bad_values_are_refused_naming_the_field(admin_api, body, expected):
    response = admin_api.patch(URL, body)
    assert response.status_code == 400
    assert errors(response) == [expected]
    assert admin_api.get(URL).json() == DEFAULTS


# ---------------------------------------------------------------------------------------
# GET /leads?overdue=true|false

MONDAY_9 = datetime.datetime(2026, 11, 23, 9, tzinfo=datetime.UTC)


def names(response):
    assert response.status_code == 200, response.content
    return [record["last_name"] for record in response.json()["records"]]


def test_the_lead_list_filters_overdue_leads_with_keyset_pages(api, actor, freeze_clock):
    freeze_clock(MONDAY_9)
    for number in range(1, 6):
        LeadFactory(owner_user=actor, last_name=f"Old {number}")
    freeze_clock(MONDAY_9 + datetime.timedelta(days=2))
    LeadFactory(owner_user=actor, last_name="New")
    freeze_clock(MONDAY_9 + datetime.timedelta(days=2, hours=1))

    assert names(api.get("/leads", overdue="false")) == ["New"]
    first = api.get("/leads", overdue="true", limit=2, order_by="last_name")
    assert names(first) == ["Old 1", "Old 2"]
    cursor = first.json()["next_cursor"]
    second = api.get("/leads", overdue="true", limit=2, order_by="last_name", cursor=cursor)
    assert names(second) == ["Old 3", "Old 4"]
    # A cursor holds only under the filters it was made with.
    refused = api.get("/leads", overdue="false", limit=2, order_by="last_name", cursor=cursor)
    assert refused.status_code == 400


def test_with_the_limit_off_no_lead_is_overdue(api, actor, admin_api, freeze_clock):
    freeze_clock(MONDAY_9)
    LeadFactory(owner_user=actor, last_name="Old")
    freeze_clock(MONDAY_9 + datetime.timedelta(days=3))
    assert admin_api.patch(URL, {"response_hours": None}).status_code == 200
    assert names(api.get("/leads", overdue="true")) == []
    assert names(api.get("/leads", overdue="false")) == ["Old"]


def test_overdue_must_be_true_or_false(api):
    assert api.get("/leads", overdue="maybe").status_code in (400, 422)
