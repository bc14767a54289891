"""How settings pages word a refusal (web/settings_forms.py SettingsForm.fail): beside the
input it names, without the service's internal field name ("{nme} is not a placeholder..."
rather than "auto_response_subject: {nme} is not..."); above the form, after the field's
label, when the form does not show that field; and 403 pages in sentence case."""

from __future__ import annotations

import html
import re

import pytest

from dealflow.core.errors import DomainError, ErrorCode
from dealflow.leads.models import WebToLeadSetting
from dealflow.leads.service_levels import service_levels
from dealflow.leads.web_to_lead import web_to_lead_settings
from dealflow.people.models import Role
from dealflow.web.settings_forms import SettingsForm
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", first_name="Avery", role=Role.ADMIN))
    return client


def field_errors(content: bytes) -> dict[str, str]:
    """{input id: its refusal} of every `field-error` on the page, unescaped."""
    found = re.findall(r'class="field-error" id="([^"]+)-error">([^<]*)<', content.decode())
    return {input_id: html.unescape(text) for input_id, text in found}


def alerts(content: bytes) -> list[str]:
    found = re.findall(r'class="alert alert-danger" role="alert">([^<]*)<', content.decode())
    return [html.unescape(text) for text in found]


WEB_TO_LEAD_FORM = {
    "allowed_return_hosts": "",
    "repeat_window_minutes": "10",
    "submissions_per_hour": "20",
    "default_lead_source": "",
    "auto_response_enabled": "on",
    "auto_response_from": "hello@crm.test",
    "auto_response_subject": "Thank you, {nme}",
    "auto_response_body": "We will call you.",
}


def test_a_web_to_lead_subject_refusal_is_beside_it_without_the_internal_name(admin_client):
    response = admin_client.post("/settings/web-to-lead/", WEB_TO_LEAD_FORM)

    assert response.status_code == 400
    assert field_errors(response.content) == {
        "web-to-lead-auto_response_subject": (
            "{nme} is not a placeholder; use {first_name} or {company}"
        )
    }
    assert alerts(response.content) == []
    assert b"auto_response_subject:" not in response.content
    # The subject input is marked and described by its error; nothing was saved.
    assert re.search(
        r'id="web-to-lead-auto_response_subject"[^>]*aria-invalid="true"'
        r'[^>]*aria-describedby="web-to-lead-auto_response_subject-error',
        response.content.decode(),
    )
    assert WebToLeadSetting.objects.count() == 0
    assert web_to_lead_settings.get().auto_response_subject == ""


def test_a_web_to_lead_number_refusal_is_in_words(admin_client):
    response = admin_client.post(
        "/settings/web-to-lead/", {**WEB_TO_LEAD_FORM, "repeat_window_minutes": "soon"}
    )

    assert response.status_code == 400
    assert field_errors(response.content) == {
        "web-to-lead-repeat_window_minutes": "A whole number from 1 to 1000000"
    }
    assert WebToLeadSetting.objects.count() == 0


def test_a_service_level_refusal_naming_two_inputs_is_beside_both_in_words(admin_client):
    before = service_levels.get()
    response = admin_client.post(
        "/settings/service-levels/",
        {
            "response_hours": "8",
            "working_days": ["Monday", "Tuesday"],
            "day_start": "17:00",
            "day_end": "09:00",
        },
    )

    assert response.status_code == 400
    message = "The working day must end after it starts"
    assert field_errors(response.content) == {
        "levels-day_start": message,
        "levels-day_end": message,
    }
    assert b"day_end:" not in response.content
    assert service_levels.get() == before


def test_a_qualification_refusal_is_beside_its_input_in_words(admin_client):
    response = admin_client.post(
        "/settings/qualification/",
        {"part": "requirement", "required_framework": "BANT", "minimum_items": "many"},
    )

    assert response.status_code == 400
    assert field_errors(response.content) == {
        "requirement-minimum_items": "A whole number from 0 to 2000000000"
    }
    assert b"minimum_items:" not in response.content


def test_a_required_input_is_named_by_its_label(admin_client):
    response = admin_client.post("/settings/users/", {"username": "", "role": "rep"})

    assert response.status_code == 400
    assert field_errors(response.content) == {"user-username": "Username is required."}


def test_a_refusal_of_a_field_the_form_does_not_show_goes_above_it_with_the_label():
    form = SettingsForm("queue", ["name", "email"], labels={"email": "Queue email"})
    form.fixed(name="Inbound")  # shown as text while the queue is edited

    form.fail(DomainError(ErrorCode.STRING_TOO_LONG, "name: 1 to 80 characters", ["name"]))

    assert form.errors == {}
    assert form.message == "Name: 1 to 80 characters"
    assert form["name"].error == ""
    assert form.failed


def test_a_refusal_of_a_field_not_in_the_form_uses_its_label_or_its_words():
    form = SettingsForm("web-to-lead", ["auto_response_body"], labels={"lead_source": "Source"})
    first = DomainError(ErrorCode.INVALID_FIELD, "lead_source: no such value 'X'", ["lead_source"])
    first.also = [
        DomainError(
            ErrorCode.REQUIRED_FIELD_MISSING, "auto_response_from: required", ["auto_response_from"]
        ),
        DomainError(
            ErrorCode.INVALID_FIELD, "auto_response_body: too long", ["auto_response_body"]
        ),
        DomainError(ErrorCode.INVALID_FIELD, "this form was sent already"),
    ]

    form.fail(first)

    assert form.errors == {"auto_response_body": "Too long"}
    assert form.message == (
        "Source: no such value 'X' Auto response from is required. this form was sent already"
    )


def test_a_403_message_starts_with_a_capital(client):
    client.force_login(UserFactory(role=Role.REP))

    response = client.get("/settings/scoring-model/")

    assert response.status_code == 403
    assert "Only admins and managers read the predictive model&#x27;s figures" in (
        response.content.decode()
    )
    assert b"only admins and managers" not in response.content


def test_a_403_for_settings_starts_with_a_capital(client):
    client.force_login(UserFactory(role=Role.MANAGER))

    response = client.get("/settings/users/")

    assert response.status_code == 403
    assert b"Settings are for admins" in response.content
