"""Web-to-Lead's auto-response (DOMAIN.md section 8): the settings (service and page), the
email sent after commit to the submitter of a new lead, and every case that sends none."""

from __future__ import annotations

import datetime
import html
import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import AuditEvent
from dealflow.leads.models import Lead, WebToLeadSetting
from dealflow.leads.tasks import send_web_to_lead_auto_response
from dealflow.leads.web_to_lead import (
    auto_response_message,
    auto_response_send,
    web_to_lead_settings,
    web_to_lead_settings_set,
)
from dealflow.people.models import Role
from dealflow.web.web_to_lead import HONEYPOT_FIELD
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

FORM = {"first_name": "Ana", "last_name": "Lima", "company": "Lima Labs", "email": "ana@lima.test"}
SUBJECT = "Thank you, {first_name}"
BODY = (
    "Hello {first_name},\n\nThanks for asking about {company}: we will call you soon.\n\nLima CRM"
)


@pytest.fixture(autouse=True)
def fresh_cache():
    """Rate limits and the sent marks live in the cache, which outlives a test."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def admin():
    return UserFactory(username="ada", role=Role.ADMIN)


@pytest.fixture
def responding(admin):
    """The auto-response on, from a named sender."""
    web_to_lead_settings_set(
        actor=admin,
        auto_response_enabled=True,
        auto_response_from="Lima CRM <hello@crm.test>",
        auto_response_subject=SUBJECT,
        auto_response_body=BODY,
    )


def submit(client, capture, **values):
    """Post the form; its after-commit work runs as a committed request's would."""
    with capture(execute=True):
        return client.post("/web-to-lead", {**FORM, **values})


def sent() -> list[tuple[str, list[str], str, str]]:
    return [(m.from_email, m.to, m.subject, m.body) for m in mail.outbox]


EXPECTED = (
    "Lima CRM <hello@crm.test>",
    ["ana@lima.test"],
    "Thank you, Ana",
    "Hello Ana,\n\nThanks for asking about Lima Labs: we will call you soon.\n\nLima CRM",
)


# ---------------------------------------------------------------------------------------
# Sending


def test_a_new_lead_gets_the_auto_response_after_commit(
    responding, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = Client().post("/web-to-lead", FORM)
        assert mail.outbox == []  # nothing before the commit

    assert response.status_code == 200
    for callback in callbacks:
        callback()
    assert sent() == [EXPECTED]
    message = mail.outbox[0]
    assert (message.cc, message.bcc, message.reply_to) == ([], [], [])
    assert Lead.objects.get().email == "ana@lima.test"


def test_without_a_from_address_the_server_sender_is_used(
    admin, settings, django_capture_on_commit_callbacks
):
    settings.DEFAULT_FROM_EMAIL = "crm@server.test"
    web_to_lead_settings_set(
        actor=admin,
        auto_response_enabled=True,
        auto_response_subject="Hello",
        auto_response_body="Hi {first_name} of {company}",
    )

    submit(Client(), django_capture_on_commit_callbacks)

    assert sent() == [("crm@server.test", ["ana@lima.test"], "Hello", "Hi Ana of Lima Labs")]


def test_it_is_off_by_default(admin, django_capture_on_commit_callbacks):
    response = submit(Client(), django_capture_on_commit_callbacks)

    assert response.status_code == 200
    assert Lead.objects.count() == 1
    assert mail.outbox == []


def test_a_repeat_within_the_window_and_after_it_sends_nothing_more(
    responding, freeze_clock, django_capture_on_commit_callbacks
):
    start = timezone.now()
    browser = Client()
    submit(browser, django_capture_on_commit_callbacks)
    submit(browser, django_capture_on_commit_callbacks, email="ANA@lima.test", title="CTO")
    freeze_clock(start + datetime.timedelta(minutes=11))
    submit(browser, django_capture_on_commit_callbacks, title="CEO")

    assert Lead.objects.count() == 1
    assert Lead.objects.get().title == "CTO"  # the second one updated it
    assert sent() == [EXPECTED]


def test_a_form_for_an_email_a_lead_already_has_sends_nothing(
    responding, admin, django_capture_on_commit_callbacks
):
    LeadFactory(email="ana@lima.test", owner_user=admin)

    submit(Client(), django_capture_on_commit_callbacks)

    assert Lead.objects.count() == 1
    assert mail.outbox == []


def captcha_says_no(request):
    return False


@pytest.mark.parametrize(
    ("values", "status"),
    [
        ({HONEYPOT_FIELD: "http://spam.test"}, 200),
        ({"last_name": ""}, 400),
        ({"email": "not an address"}, 400),
        ({"oid": "00D000000000001"}, 400),
    ],
)
def test_refused_and_honeypot_submissions_send_nothing(
    responding, django_capture_on_commit_callbacks, values, status
):
    response = submit(Client(), django_capture_on_commit_callbacks, **values)

    assert response.status_code == status
    assert Lead.objects.count() == 0
    assert mail.outbox == []


def test_an_unsolved_captcha_sends_nothing(
    responding, settings, django_capture_on_commit_callbacks
):
    settings.DEALFLOW_WEB_TO_LEAD_CAPTCHA = f"{__name__}.captcha_says_no"

    response = submit(Client(), django_capture_on_commit_callbacks)

    assert response.status_code == 400
    assert mail.outbox == []


def test_a_rate_limited_submission_sends_nothing(
    responding, admin, django_capture_on_commit_callbacks
):
    web_to_lead_settings_set(actor=admin, submissions_per_hour=1)
    browser = Client(REMOTE_ADDR="203.0.113.9")

    first = submit(browser, django_capture_on_commit_callbacks)
    second = submit(browser, django_capture_on_commit_callbacks, email="other@lima.test")

    assert (first.status_code, second.status_code) == (200, 429)
    assert Lead.objects.count() == 1
    assert sent() == [EXPECTED]


def test_an_opted_out_submitter_gets_no_email(responding, django_capture_on_commit_callbacks):
    submit(Client(), django_capture_on_commit_callbacks, emailOptOut="1")

    assert Lead.objects.get().has_opted_out_of_email is True
    assert mail.outbox == []


def test_a_retried_task_sends_once(responding, django_capture_on_commit_callbacks):
    submit(Client(), django_capture_on_commit_callbacks)
    lead = Lead.objects.get()

    again = send_web_to_lead_auto_response(lead.pk)

    assert again == "already_sent"
    assert sent() == [EXPECTED]


def test_the_task_reads_the_settings_and_the_lead_as_they_are_now(responding, admin):
    lead = LeadFactory(email="late@lima.test", first_name="Lee", company="Late Co")
    converted = LeadFactory(email="done@lima.test", is_converted=True)
    blank = LeadFactory(email="")

    assert auto_response_send(converted.pk) == "gone"
    assert auto_response_send(blank.pk) == "no_address"
    web_to_lead_settings_set(actor=admin, auto_response_enabled=False)
    assert auto_response_send(lead.pk) == "off"
    assert mail.outbox == []


def test_a_submitters_value_cannot_add_a_header_to_the_subject(responding):
    subject, body = auto_response_message(
        web_to_lead_settings.get(), first_name="Ana\r\nBcc: victim@evil.test", company="X\nY"
    )

    assert subject == "Thank you, Ana Bcc: victim@evil.test"
    assert body == (
        "Hello Ana\r\nBcc: victim@evil.test,\n\nThanks for asking about X\nY: we will call "
        "you soon.\n\nLima CRM"
    )


def test_placeholders_are_replaced_literally_and_nothing_else_is_read(admin):
    web_to_lead_settings_set(
        actor=admin,
        auto_response_enabled=True,
        auto_response_subject="{first_name}",
        auto_response_body="{company} {first_name} {{first_name}} { company } 100% {",
    )

    subject, body = auto_response_message(
        web_to_lead_settings.get(), first_name="{company}", company="Acme"
    )

    assert subject == "{company}"  # a value is never read as a placeholder
    assert body == "Acme {company} {{company}} { company } 100% {"


# ---------------------------------------------------------------------------------------
# The settings


@pytest.mark.parametrize(
    ("values", "field", "code"),
    [
        (
            {"auto_response_subject": "Thanks\r\nBcc: victim@evil.test"},
            "auto_response_subject",
            ErrorCode.INVALID_FIELD,
        ),
        (
            {"auto_response_subject": "Thanks\nthere"},
            "auto_response_subject",
            ErrorCode.INVALID_FIELD,
        ),
        ({"auto_response_subject": "Thanks\n"}, "auto_response_subject", ErrorCode.INVALID_FIELD),
        (
            {"auto_response_subject": "Thanks\tthere"},
            "auto_response_subject",
            ErrorCode.INVALID_FIELD,
        ),
        (
            {"auto_response_from": "a@crm.test\r\nBcc: victim@evil.test"},
            "auto_response_from",
            ErrorCode.INVALID_FIELD,
        ),
        (
            {"auto_response_from": "not an address"},
            "auto_response_from",
            ErrorCode.INVALID_EMAIL_ADDRESS,
        ),
        (
            {"auto_response_from": '"a, b" <a@crm.test>'},
            "auto_response_from",
            ErrorCode.INVALID_EMAIL_ADDRESS,
        ),
        (
            {"auto_response_subject": "Hi {firstname}"},
            "auto_response_subject",
            ErrorCode.INVALID_FIELD,
        ),
        ({"auto_response_body": "Dear {last_name}"}, "auto_response_body", ErrorCode.INVALID_FIELD),
        ({"auto_response_subject": "x" * 256}, "auto_response_subject", ErrorCode.STRING_TOO_LONG),
        ({"auto_response_body": "x" * 32_001}, "auto_response_body", ErrorCode.STRING_TOO_LONG),
        ({"auto_response_enabled": "yes"}, "auto_response_enabled", ErrorCode.INVALID_TYPE),
        (
            {"auto_response_enabled": True, "auto_response_body": "Hello"},
            "auto_response_subject",
            ErrorCode.REQUIRED_FIELD_MISSING,
        ),
        (
            {"auto_response_enabled": True, "auto_response_subject": "Hello"},
            "auto_response_body",
            ErrorCode.REQUIRED_FIELD_MISSING,
        ),
    ],
)
def test_bad_auto_response_settings_are_refused_and_save_nothing(admin, values, field, code):
    with pytest.raises(DomainError) as refused:
        web_to_lead_settings_set(actor=admin, **values)

    assert (refused.value.fields, refused.value.code) == ([field], code)
    assert WebToLeadSetting.objects.count() == 0
    assert web_to_lead_settings.get().auto_response_enabled is False


def test_auto_response_settings_are_saved_normalised_and_audited(admin):
    web_to_lead_settings_set(
        actor=admin,
        auto_response_enabled=True,
        auto_response_from=" hello@crm.test ",
        auto_response_subject="  Thank you, {first_name}  ",
        auto_response_body="Hi {first_name},\r\nThanks.\r\n",
    )

    configuration = web_to_lead_settings.get()
    assert (
        configuration.auto_response_enabled,
        configuration.auto_response_from,
        configuration.auto_response_subject,
        configuration.auto_response_body,
    ) == (True, "hello@crm.test", "Thank you, {first_name}", "Hi {first_name},\nThanks.")
    event = AuditEvent.objects.get(object_name="WebToLeadSetting")
    assert event.actor == admin
    assert {name: change for name, change in event.changes.items() if "auto" in name} == {
        "auto_response_enabled": [False, True],
        "auto_response_from": ["", "hello@crm.test"],
        "auto_response_subject": ["", "Thank you, {first_name}"],
        "auto_response_body": ["", "Hi {first_name},\nThanks."],
    }


def test_a_rep_cannot_turn_it_on(admin):
    rep = UserFactory()

    with pytest.raises(DomainError) as refused:
        web_to_lead_settings_set(
            actor=rep, auto_response_enabled=True, auto_response_subject="a", auto_response_body="b"
        )

    assert refused.value.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY
    assert WebToLeadSetting.objects.count() == 0


# ---------------------------------------------------------------------------------------
# The Settings page


def page_form(**values):
    return {
        "allowed_return_hosts": "",
        "repeat_window_minutes": "10",
        "submissions_per_hour": "20",
        "default_lead_source": "Web",
        "auto_response_enabled": "on",
        "auto_response_from": "hello@crm.test",
        "auto_response_subject": SUBJECT,
        "auto_response_body": BODY,
        **values,
    }


@pytest.fixture
def admin_page(client, admin):
    client.force_login(admin)
    return client


def test_the_page_saves_the_auto_response(admin_page, django_capture_on_commit_callbacks):
    response = admin_page.post("/settings/web-to-lead/", page_form())

    assert response.status_code == 302
    configuration = web_to_lead_settings.get()
    assert (
        configuration.auto_response_enabled,
        configuration.auto_response_from,
        configuration.auto_response_subject,
        configuration.auto_response_body,
    ) == (True, "hello@crm.test", SUBJECT, BODY)
    content = admin_page.get("/settings/web-to-lead/").content.decode()
    assert re.search(r'name="auto_response_enabled" checked', content)
    assert 'name="auto_response_subject" value="Thank you, {first_name}"' in content
    submit(Client(), django_capture_on_commit_callbacks)
    assert [message.subject for message in mail.outbox] == ["Thank you, Ana"]


def test_the_page_turns_it_off_when_the_box_is_unticked(admin_page, admin):
    web_to_lead_settings_set(
        actor=admin, auto_response_enabled=True, auto_response_subject="a", auto_response_body="b"
    )
    form = page_form()
    del form["auto_response_enabled"]

    response = admin_page.post("/settings/web-to-lead/", form)

    assert response.status_code == 302
    assert web_to_lead_settings.get().auto_response_enabled is False


def test_a_subject_with_a_line_break_is_refused_beside_its_input(admin_page):
    response = admin_page.post(
        "/settings/web-to-lead/",
        page_form(auto_response_subject="Thanks\r\nBcc: victim@evil.test"),
    )

    assert response.status_code == 400
    content = html.unescape(response.content.decode())
    assert (
        '<div class="field-error" id="web-to-lead-auto_response_subject-error">'
        "One line of text (no line breaks or control characters)</div>"
    ) in content
    assert WebToLeadSetting.objects.count() == 0
    assert web_to_lead_settings.get().auto_response_enabled is False


def test_an_unknown_placeholder_is_named_with_the_ones_there_are(admin):
    with pytest.raises(DomainError) as refused:
        web_to_lead_settings_set(actor=admin, auto_response_body="Dear {firstname},")

    assert refused.value.message == (
        "auto_response_body: {firstname} is not a placeholder; use {first_name} or {company}"
    )
