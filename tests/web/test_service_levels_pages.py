"""Service levels on pages: the Settings page of the setting (admins only, through
`service_levels_set`; a refusal shows the field's error and changes nothing) and the
lead list's Overdue filter (OVERDUE_LIST's `overdue`, as the API's)."""

from __future__ import annotations

import datetime
import re

import pytest
from django.test import Client

from dealflow.core.models import AuditEvent
from dealflow.leads.models import LeadStatus, ServiceLevelSetting
from dealflow.leads.service_levels import ServiceLevels, service_levels, service_levels_set
from dealflow.leads.services import lead_update
from dealflow.people.models import Role
from tests.factories import LeadFactory, UserFactory
from tests.web.helpers import text

pytestmark = pytest.mark.django_db

PAGE = "/settings/service-levels/"
# 2026-11-23 is a Monday.
MONDAY_9 = datetime.datetime(2026, 11, 23, 9, tzinfo=datetime.UTC)
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]


@pytest.fixture
def admin():
    return UserFactory(username="root", first_name="Ada", last_name="Admin", role=Role.ADMIN)


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin)
    return client


def state():
    return (
        list(
            ServiceLevelSetting.objects.values_list(
                "response_hours", "working_days", "day_start", "day_end", "reroute_when_breached"
            )
        ),
        AuditEvent.objects.count(),
        service_levels.get(),
    )


def form(**changes):
    data = {
        "response_hours": "12",
        "working_days": ["Monday", "Tuesday", "Wednesday", "Thursday"],
        "day_start": "08:30",
        "day_end": "16:00",
        "reroute_when_breached": "on",
    }
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def test_the_page_shows_the_setting(admin_client):
    response = admin_client.get(PAGE)

    page = text(response)
    assert response.status_code == 200
    assert 'name="response_hours" value="8"' in page
    checked = re.findall(r'name="working_days" value="(\w+)"[^>]*?( checked)?>', page)
    assert checked == [
        (day, " checked" if day in WEEKDAYS else "") for day in [*WEEKDAYS, "Saturday", "Sunday"]
    ]
    assert 'name="day_start" value="09:00"' in page
    assert 'name="day_end" value="17:00"' in page
    assert 'id="levels-reroute_when_breached" name="reroute_when_breached">' in page
    assert 'href="/leads/?view=open&amp;overdue=true"' in page
    assert 'href="/settings/service-levels/" aria-current="page">Service levels</a>' in page


def test_an_admin_saves_the_setting(admin_client, admin):
    response = admin_client.post(PAGE, form())

    assert response.status_code == 302
    assert response["Location"] == PAGE
    assert service_levels.get() == ServiceLevels(
        response_hours=12,
        working_days=(0, 1, 2, 3),
        day_start=datetime.time(8, 30),
        day_end=datetime.time(16),
        reroute_when_breached=True,
        time_zone=service_levels.get().time_zone,
    )
    event = AuditEvent.objects.get(object_name="ServiceLevelSetting")
    assert event.actor == admin
    assert event.changes["response_hours"] == [8, 12]
    follow = text(admin_client.get(PAGE))
    assert "Saved the service level." in follow
    assert 'name="response_hours" value="12"' in follow


def test_a_blank_limit_turns_the_service_level_off(admin_client):
    response = admin_client.post(PAGE, form(response_hours="", reroute_when_breached=None))

    assert response.status_code == 302
    assert service_levels.get().response_hours is None
    assert service_levels.get().reroute_when_breached is False


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"response_hours": "0"},
            "response_hours",
            "1 to 10000 working hours, or null (off)",
        ),
        (
            {"response_hours": "10001"},
            "response_hours",
            "1 to 10000 working hours, or null (off)",
        ),
        ({"response_hours": "eight"}, "response_hours", "A whole number from 0"),
        (
            {"working_days": []},
            "working_days",
            "Expected a list of day names (Monday, Tuesday, Wednesday, Thursday, "
            "Friday, Saturday, Sunday)",
        ),
        (
            {"working_days": ["Funday"]},
            "working_days",
            "&#x27;Funday&#x27; is not a day",
        ),
        ({"day_start": "9 am"}, "day_start", "Expected a local time as HH:MM (24-hour)"),
        ({"day_end": "08:00"}, "day_end", "The working day must end after it starts"),
    ],
)
def test_bad_input_shows_the_fields_error_and_changes_nothing(
    admin_client, changes, field, message
):
    before = state()

    response = admin_client.post(PAGE, form(**changes))

    page = text(response)
    assert response.status_code == 400
    error = re.search(rf'<div class="field-error" id="levels-{field}-error">([^<]*)</div>', page)
    assert error is not None, page
    assert error.group(1).startswith(message)
    assert state() == before
    # What was typed stays in the form.
    if field == "day_start":
        assert 'name="day_start" value="9 am"' in page


def test_only_admins_open_or_post_the_page(client, admin):
    rep = UserFactory(role=Role.REP)
    client.force_login(rep)
    before = state()

    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, form()).status_code == 403
    assert state() == before
    anonymous = Client()
    response = anonymous.post(PAGE, form())
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert state() == before


def test_a_post_without_the_csrf_token_is_refused(admin):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin)
    before = state()

    response = browser.post(PAGE, form())

    assert response.status_code == 403
    assert state() == before
    page = text(browser.get(PAGE))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert browser.post(PAGE, {**form(), "csrfmiddlewaretoken": token}).status_code == 302


# ---------------------------------------------------------------------------------------
# The lead list's Overdue filter


def listed(client, **query):
    """The public ids of the leads a list page shows (its rows' check boxes)."""
    response = client.get("/leads/", query)
    assert response.status_code == 200
    return set(re.findall(r'name="lead_ids" value="([^"]+)"', text(response)))


def test_the_overdue_filter_lists_exactly_the_overdue_leads(client, freeze_clock):
    rep = UserFactory(first_name="Robin", last_name="Rep")
    client.force_login(rep)
    closed = LeadStatus.objects.get(name="Closed - Not Converted")
    working = LeadStatus.objects.get(name="Working - Contacted")
    freeze_clock(MONDAY_9)
    old = [LeadFactory(owner_user=rep) for _ in range(3)]
    touched = LeadFactory(owner_user=rep)
    closed_lead = LeadFactory(owner_user=rep, status=closed)
    converted = LeadFactory(owner_user=rep, is_converted=True)
    freeze_clock(MONDAY_9 + datetime.timedelta(days=2))
    lead_update(actor=rep, lead=touched, data={"status": working.name})
    new = LeadFactory(owner_user=rep)
    freeze_clock(MONDAY_9 + datetime.timedelta(days=2, hours=1))

    overdue = listed(client, view="open", overdue="true")
    not_overdue = listed(client, view="open", overdue="false")
    everything = listed(client, view="converted", overdue="false")

    assert overdue == {lead.public_id for lead in old}
    assert not_overdue == {touched.public_id, new.public_id}
    assert everything == {converted.public_id}
    assert closed_lead.public_id not in overdue | not_overdue
    page = text(client.get("/leads/", {"view": "open", "overdue": "true"}))
    assert re.search(r'<option value="true" selected>Overdue</option>', page)


def test_with_the_limit_off_no_lead_is_overdue_on_the_list(client, admin, freeze_clock):
    rep = UserFactory()
    client.force_login(rep)
    freeze_clock(MONDAY_9)
    lead = LeadFactory(owner_user=rep)
    service_levels_set(actor=admin, response_hours=None)
    freeze_clock(MONDAY_9 + datetime.timedelta(days=3))

    assert listed(client, view="open", overdue="true") == set()
    assert listed(client, view="open", overdue="false") == {lead.public_id}


def test_an_overdue_value_that_is_not_true_or_false_is_shown_as_an_error(client):
    rep = UserFactory()
    client.force_login(rep)
    lead = LeadFactory(owner_user=rep)

    response = client.get("/leads/", {"view": "open", "overdue": "maybe"})

    assert response.status_code == 200
    assert "expected true or false" in text(response)
    # The filter is left out, so the list is the view's.
    assert listed(client, view="open", overdue="maybe") == {lead.public_id}
