"""The service-level setting through the API: everyone reads it, admins change it."""

import pytest

from dealflow.core.models import AuditEvent
from dealflow.leads.service_levels import service_levels
from dealflow.people.models import Role
from tests.api.conftest import ApiClient
from tests.factories import UserFactory

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
