"""Web-to-Lead (issue 8, item 1): the public endpoint, its defences, field mapping, repeat
submissions, assignment and the form_submit event; the Settings page and its form code."""

from __future__ import annotations

import datetime
import html
import re
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from dealflow.automation.models import LeadEvent
from dealflow.automation.services import assignment_rules_set
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import AuditEvent
from dealflow.leads.models import Lead, WebToLeadSetting
from dealflow.leads.web_to_lead import (
    organization_id,
    web_to_lead_settings,
    web_to_lead_settings_set,
    web_to_lead_submit,
)
from dealflow.people.models import Role
from dealflow.web.web_to_lead import HONEYPOT_FIELD
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

FORM = {"first_name": "Ana", "last_name": "Lima", "company": "Lima Labs", "email": "ana@lima.test"}


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """The rate limit counts in the cache, which outlives a test."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def admin():
    return UserFactory(username="ada", role=Role.ADMIN)


@pytest.fixture
def public():
    """A visitor's browser: CSRF checks on, as a real one gets them."""
    return Client(enforce_csrf_checks=True)


def submit(client, path="/web-to-lead", **values):
    return client.post(path, {**FORM, **values})


# ---------------------------------------------------------------------------------------
# Creating a lead


def test_a_submission_creates_the_lead_with_every_field_mapped(public, admin):
    response = public.post(
        "/servlet/servlet.WebToLead",
        {
            "oid": organization_id(),
            "salutation": "Ms.",
            "first_name": "Ana",
            "last_name": "Lima",
            "email": "ana@lima.test",
            "company": "Lima Labs",
            "title": "CTO",
            "phone": "+1 555 0100",
            "mobile": "+1 555 0101",
            "street": "1 Main St",
            "city": "Porto",
            "state": "Norte",
            "zip": "4000-001",
            "country": "Portugal",
            "url": "https://lima.test",
            "description": "Wants a demo",
            "lead_source": "Trade Show",
            "industry": "Technology",
            "rating": "Warm",
            "revenue": "1250000.50",
            "employees": "42",
            "emailOptOut": "1",
            "doNotCall": "1",
            "encoding": "UTF-8",
            "debug": "1",
        },
    )

    assert response.status_code == 200
    assert b"Thank you" in response.content
    lead = Lead.objects.get()
    assert {
        "salutation": lead.salutation,
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "email": lead.email,
        "company": lead.company,
        "title": lead.title,
        "phone": lead.phone,
        "mobile_phone": lead.mobile_phone,
        "street": lead.street,
        "city": lead.city,
        "state": lead.state,
        "postal_code": lead.postal_code,
        "country": lead.country,
        "website": lead.website,
        "description": lead.description,
        "lead_source": lead.lead_source,
        "industry": lead.industry,
        "annual_revenue": lead.annual_revenue,
        "number_of_employees": lead.number_of_employees,
        "has_opted_out_of_email": lead.has_opted_out_of_email,
        "do_not_call": lead.do_not_call,
        "owner_user": lead.owner_user,
        "status": lead.status.name,
    } == {
        "salutation": "Ms.",
        "first_name": "Ana",
        "last_name": "Lima",
        "email": "ana@lima.test",
        "company": "Lima Labs",
        "title": "CTO",
        "phone": "+1 555 0100",
        "mobile_phone": "+1 555 0101",
        "street": "1 Main St",
        "city": "Porto",
        "state": "Norte",
        "postal_code": "4000-001",
        "country": "Portugal",
        "website": "https://lima.test",
        "description": "Wants a demo",
        "lead_source": "Trade Show",
        "industry": "Technology",
        "annual_revenue": Decimal("1250000.50"),
        "number_of_employees": 42,
        "has_opted_out_of_email": True,
        "do_not_call": True,
        "owner_user": admin,  # the default creator: the first active admin
        "status": "Open - Not Contacted",
    }
    created = AuditEvent.objects.get(object_name="Lead", record_id=lead.pk)
    assert created.actor == admin


def test_unchecked_boxes_and_no_lead_source_take_the_defaults(public, admin):
    submit(public)

    lead = Lead.objects.get()
    assert (lead.lead_source, lead.do_not_call, lead.has_opted_out_of_email) == (
        "Web",
        False,
        False,
    )


def test_the_default_creator_and_lead_source_come_from_the_settings(public, admin):
    creator = UserFactory(username="web")
    web_to_lead_settings_set(actor=admin, default_creator=creator, default_lead_source="Other")

    submit(public)

    lead = Lead.objects.get()
    assert (lead.owner_user, lead.lead_source) == (creator, "Other")


def test_the_assignment_rules_choose_the_owner(public, admin):
    seller = UserFactory(username="seller")
    assignment_rules_set(
        actor=admin,
        rules={
            "entries": [
                {
                    "criteria": [{"field": "lead_source", "operator": "equals", "value": "Web"}],
                    "match": "all",
                    "assign_to": {"kind": "user", "user_id": seller.public_id},
                }
            ]
        },
    )

    submit(public)

    assert Lead.objects.get().owner_user == seller


def test_a_form_submit_event_is_recorded_after_commit(
    public, admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        submit(public)
        assert LeadEvent.objects.count() == 0  # not before the commit

    for callback in callbacks:
        callback()
    lead = Lead.objects.get()
    assert list(LeadEvent.objects.values_list("lead_id", "type")) == [(lead.pk, "form_submit")]


# ---------------------------------------------------------------------------------------
# Refusals: nothing is created, each field says what is wrong


def page_text(response) -> str:
    """The page as a person reads it: tags dropped, entities decoded, spaces collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())))


@pytest.mark.parametrize(("missing", "label"), [("last_name", "Last Name"), ("company", "Company")])
def test_a_missing_last_name_or_company_creates_nothing(public, admin, missing, label):
    response = submit(public, **{missing: ""})

    assert response.status_code == 400
    text = page_text(response)
    assert f"{label} is required." in text
    assert missing not in text  # the form's internal name is not shown to people
    assert Lead.objects.count() == 0
    assert LeadEvent.objects.count() == 0


def test_the_error_page_lists_every_field_by_label_and_offers_go_back(public, admin):
    response = public.post(
        "/web-to-lead",
        {**FORM, "last_name": "", "company": " ", "revenue": "lots"},
        HTTP_REFERER="https://www.lima.test/contact",
        HTTP_ACCEPT="text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "text/html; charset=utf-8"
    items = [
        html.unescape(item).strip()
        for item in re.findall(r"<li>(.*?)</li>", response.content.decode(), re.S)
    ]
    assert items == [
        "Annual Revenue: expected a number, got 'lots'.",
        "Last Name is required.",
        "Company is required.",
    ]
    content = response.content.decode()
    assert (
        '<a class="btn btn-primary" href="https://www.lima.test/contact" data-go-back>Go back</a>'
        in content
    )
    assert '<script src="/static/web/web_to_lead.js" defer></script>' in content
    assert Lead.objects.count() == 0


@pytest.mark.parametrize("referer", ["", "javascript:alert(1)", "/relative"])
def test_go_back_without_a_web_referer_links_nowhere(public, admin, referer):
    response = public.post("/web-to-lead", {**FORM, "last_name": ""}, HTTP_REFERER=referer)

    assert response.status_code == 400
    assert '<a class="btn btn-primary" href="#" data-go-back>Go back</a>' in (
        response.content.decode()
    )


def test_a_client_asking_for_json_gets_the_errors_by_form_name(public, admin):
    response = public.post(
        "/web-to-lead",
        {**FORM, "last_name": "", "company": ""},
        HTTP_ACCEPT="application/json",
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "errors": [
            {
                "code": "REQUIRED_FIELD_MISSING",
                "message": "Last Name is required.",
                "fields": ["last_name"],
                "label": "Last Name",
            },
            {
                "code": "REQUIRED_FIELD_MISSING",
                "message": "Company is required.",
                "fields": ["company"],
                "label": "Company",
            },
        ]
    }
    bad = public.post("/web-to-lead", {**FORM, "revenue": "lots"}, HTTP_ACCEPT="application/json")
    assert bad.json()["errors"] == [
        {
            "code": "INVALID_TYPE",
            "message": "Annual Revenue: expected a number, got 'lots'.",
            "fields": ["revenue"],
            "label": "Annual Revenue",
        }
    ]
    assert Lead.objects.count() == 0


def test_bad_values_are_named_field_by_field_and_create_nothing(public, admin):
    response = submit(public, rating="Scorching", revenue="lots", employees="-3")

    assert response.status_code == 400
    text = page_text(response)
    assert "Annual Revenue: expected a number, got 'lots'." in text
    assert "Number Of Employees: must be between 0 and 2000000000, got -3." in text
    assert "Rating" not in text  # checked once the types are right (one error at a time)
    assert Lead.objects.count() == 0


def test_a_rating_outside_the_picklist_is_refused(public, admin):
    response = submit(public, rating="Scorching")

    assert response.status_code == 400
    assert "Rating: 'Scorching' is not one of Cold, Hot, Warm." in page_text(response)
    assert Lead.objects.count() == 0


def test_the_error_page_escapes_what_was_sent(public, admin):
    response = submit(public, rating="<script>alert(1)</script>")

    assert response.status_code == 400
    assert b"<script>alert(1)" not in response.content
    assert b"&lt;script&gt;alert(1)" in response.content


# ---------------------------------------------------------------------------------------
# Defences


def test_a_filled_honeypot_answers_as_usual_and_creates_nothing(public, admin):
    response = submit(public, **{HONEYPOT_FIELD: "http://spam.test"})

    assert response.status_code == 200
    assert b"Thank you" in response.content
    assert Lead.objects.count() == 0


def test_the_rate_limit_refuses_an_address_past_its_submissions_per_hour(admin):
    web_to_lead_settings_set(actor=admin, submissions_per_hour=3)
    first, second = Client(REMOTE_ADDR="203.0.113.5"), Client(REMOTE_ADDR="203.0.113.6")

    answers = [submit(first, email=f"n{number}@lima.test").status_code for number in range(4)]
    other = submit(second, email="other@lima.test")

    assert answers == [200, 200, 200, 429]
    assert other.status_code == 200
    assert Lead.objects.count() == 4


def test_the_rate_limit_reads_the_client_address_behind_the_proxies(admin, settings):
    settings.DEALFLOW_PROXY_COUNT = 1
    web_to_lead_settings_set(actor=admin, submissions_per_hour=1)
    proxy = Client(REMOTE_ADDR="10.0.0.1")

    first = proxy.post("/web-to-lead", FORM, HTTP_X_FORWARDED_FOR="198.51.100.1")
    other_client = proxy.post(
        "/web-to-lead", {**FORM, "email": "b@lima.test"}, HTTP_X_FORWARDED_FOR="198.51.100.2"
    )
    again = proxy.post(
        "/web-to-lead", {**FORM, "email": "c@lima.test"}, HTTP_X_FORWARDED_FOR="198.51.100.1"
    )

    assert [first.status_code, other_client.status_code, again.status_code] == [200, 200, 429]


def captcha_says_no(request):
    return False


def captcha_wants_token(request):
    return request.POST.get("captcha") == "solved"


def test_the_captcha_hook_refuses_an_unsolved_captcha(public, admin, settings):
    settings.DEALFLOW_WEB_TO_LEAD_CAPTCHA = f"{__name__}.captcha_wants_token"

    refused = submit(public)
    accepted = submit(public, captcha="solved")

    assert refused.status_code == 400
    assert b"The captcha was not solved" in refused.content
    assert accepted.status_code == 200
    assert Lead.objects.count() == 1


def test_a_wrong_oid_is_refused(public, admin):
    response = submit(public, oid="00D000000000001")

    assert response.status_code == 400
    assert b"another organisation" in response.content
    assert Lead.objects.count() == 0


def test_the_organization_id_is_the_setting_or_derived_stably(settings):
    settings.DEALFLOW_ORGANIZATION_ID = ""
    derived = organization_id()
    assert re.fullmatch(r"00D[A-Z2-7]{12}", derived)
    assert organization_id() == derived
    settings.SECRET_KEY = "another key"
    assert organization_id() != derived
    settings.DEALFLOW_ORGANIZATION_ID = "00Dabc"
    assert organization_id() == "00Dabc"


def test_a_get_is_not_a_submission(public, admin):
    assert public.get("/web-to-lead").status_code == 405
    assert Lead.objects.count() == 0


# ---------------------------------------------------------------------------------------
# retURL


def test_an_allowed_return_url_is_followed(public, admin):
    web_to_lead_settings_set(actor=admin, allowed_return_hosts=["www.lima.test"])

    response = submit(public, retURL="https://www.lima.test/thanks?from=form")

    assert response.status_code == 302
    assert response["Location"] == "https://www.lima.test/thanks?from=form"
    assert Lead.objects.count() == 1


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.test/phish",
        "https://www.lima.test.evil.test/",
        "javascript:alert(1)",
        "//evil.test/",
        "https://evil.test\\@www.lima.test/",
        "/local/path",
    ],
)
def test_a_foreign_return_url_gives_the_thank_you_page(public, admin, url):
    web_to_lead_settings_set(actor=admin, allowed_return_hosts=["www.lima.test"])

    response = submit(public, retURL=url)

    assert response.status_code == 200
    assert b"Thank you" in response.content
    assert Lead.objects.count() == 1


# ---------------------------------------------------------------------------------------
# The same email again


def test_a_double_submit_makes_one_lead_and_updates_it(
    public, admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        submit(public, title="")
    with django_capture_on_commit_callbacks(execute=True):
        submit(public, email="ANA@Lima.test", title="CEO", phone="")

    lead = Lead.objects.get()
    assert (lead.email, lead.title, lead.first_name) == ("ana@lima.test", "CEO", "Ana")
    assert LeadEvent.objects.filter(lead=lead, type="form_submit").count() == 2


def test_a_repeat_after_the_window_leaves_the_fields_and_counts_the_event(
    public, admin, freeze_clock, django_capture_on_commit_callbacks
):
    start = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        submit(public, title="CTO")
    freeze_clock(start + datetime.timedelta(minutes=11))

    with django_capture_on_commit_callbacks(execute=True):
        response = submit(public, title="Intern")

    assert response.status_code == 200
    lead = Lead.objects.get()
    assert lead.title == "CTO"
    assert LeadEvent.objects.filter(lead=lead, type="form_submit").count() == 2


def test_the_window_counts_from_the_last_submission(
    public, admin, django_capture_on_commit_callbacks
):
    lead = LeadFactory(email="ana@lima.test", owner_user=admin, title="")
    Lead.objects.filter(pk=lead.pk).update(created_at=timezone.now() - datetime.timedelta(days=30))
    web_to_lead_settings_set(actor=admin, repeat_window_minutes=5)

    with django_capture_on_commit_callbacks(execute=True):
        submit(public, title="CTO")  # outside: the lead is a month old, left alone
    lead.refresh_from_db()
    assert lead.title == ""
    with django_capture_on_commit_callbacks(execute=True):
        submit(public, title="CEO")  # within 5 minutes of the last submission

    lead.refresh_from_db()
    assert lead.title == "CEO"
    assert Lead.objects.count() == 1


def test_a_submission_that_loses_the_race_for_the_email_updates_the_winner(
    public, admin, monkeypatch
):
    """Two clicks at once: both see no lead, the unique index lets one insert; the other
    is refused by the index and updates the lead the first one made."""
    from dealflow.leads import web_to_lead

    winner = LeadFactory(email="ana@lima.test", owner_user=admin, title="")
    looked_up = []

    def not_yet_committed(key):
        looked_up.append(key)
        if len(looked_up) == 1:
            return None  # the first look comes before the other request commits
        return Lead.objects.filter(email_key=key, is_converted=False).first()

    monkeypatch.setattr(web_to_lead, "_unconverted_lead", not_yet_committed)

    response = submit(public, title="CTO")

    assert response.status_code == 200
    assert Lead.objects.count() == 1
    winner.refresh_from_db()
    assert winner.title == "CTO"
    assert len(looked_up) == 2


def test_a_converted_lead_with_the_email_does_not_stop_a_new_one(public, admin):
    LeadFactory(email="ana@lima.test", owner_user=admin, is_converted=True)

    submit(public)

    assert Lead.objects.filter(is_converted=False, email="ana@lima.test").count() == 1


# ---------------------------------------------------------------------------------------
# Settings


def test_only_admins_change_the_settings(admin):
    rep = UserFactory()
    with pytest.raises(DomainError) as refused:
        web_to_lead_settings_set(actor=rep, repeat_window_minutes=3)

    assert refused.value.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY
    assert WebToLeadSetting.objects.count() == 0


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"allowed_return_hosts": ["https://x.test/"]}, "allowed_return_hosts"),
        ({"allowed_return_hosts": ["x.test:8080"]}, "allowed_return_hosts"),
        ({"allowed_return_hosts": ["*.x.test"]}, "allowed_return_hosts"),
        ({"repeat_window_minutes": 0}, "repeat_window_minutes"),
        ({"submissions_per_hour": 0}, "submissions_per_hour"),
        ({"default_lead_source": "Carrier pigeon"}, "lead_source"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(admin, values, field):
    with pytest.raises(DomainError) as refused:
        web_to_lead_settings_set(actor=admin, **values)

    assert refused.value.fields == [field]
    assert WebToLeadSetting.objects.count() == 0


def test_settings_are_saved_audited_and_read_at_once(admin):
    web_to_lead_settings_set(
        actor=admin, allowed_return_hosts=["WWW.Lima.test", "lima.test"], repeat_window_minutes=30
    )

    configuration = web_to_lead_settings.get()
    assert configuration.allowed_return_hosts == ("www.lima.test", "lima.test")
    assert configuration.repeat_window_minutes == 30
    event = AuditEvent.objects.get(object_name="WebToLeadSetting")
    assert event.actor == admin


# ---------------------------------------------------------------------------------------
# The Settings page


@pytest.fixture
def admin_page(client, admin):
    client.force_login(admin)
    return client


def test_the_page_shows_the_organization_id_and_the_settings(admin_page):
    response = admin_page.get("/settings/web-to-lead/")

    content = response.content.decode()
    assert response.status_code == 200
    assert f'<code id="organization-id">{organization_id()}</code>' in content
    assert 'href="/settings/web-to-lead/" aria-current="page">Web-to-Lead</a>' in content
    assert 'name="repeat_window_minutes" value="10"' in content


def test_the_page_is_for_admins_only(client):
    client.force_login(UserFactory())

    response = client.get("/settings/web-to-lead/")

    assert response.status_code == 403


def test_saving_the_settings(admin_page, admin):
    creator = UserFactory(username="web")

    response = admin_page.post(
        "/settings/web-to-lead/",
        {
            "allowed_return_hosts": "www.lima.test\r\n\r\nLima.test\r\n",
            "repeat_window_minutes": "15",
            "submissions_per_hour": "50",
            "default_lead_source": "Advertisement",
            "default_creator": creator.public_id,
        },
    )

    assert response.status_code == 302
    configuration = web_to_lead_settings.get()
    assert configuration.allowed_return_hosts == ("www.lima.test", "lima.test")
    assert (configuration.repeat_window_minutes, configuration.submissions_per_hour) == (15, 50)
    assert (configuration.default_lead_source, configuration.default_creator_id) == (
        "Advertisement",
        creator.pk,
    )


def test_a_refused_setting_is_shown_beside_its_input_and_saves_nothing(admin_page):
    response = admin_page.post(
        "/settings/web-to-lead/",
        {
            "allowed_return_hosts": "https://www.lima.test/path",
            "repeat_window_minutes": "15",
            "submissions_per_hour": "50",
            "default_lead_source": "Web",
        },
    )

    assert response.status_code == 400
    content = html.unescape(response.content.decode())
    assert "'https://www.lima.test/path' is not a host name" in content
    assert WebToLeadSetting.objects.count() == 0


def test_the_generated_form_posts_here_with_the_chosen_fields_escaped(admin_page, admin):
    response = admin_page.get(
        "/settings/web-to-lead/",
        {
            "fields": ["email", "rating", "doNotCall", "description"],
            "return_url": 'https://x.test/"><b>',
        },
    )

    content = response.content.decode()
    code = html.unescape(
        re.search(r'<textarea[^>]*id="form-html"[^>]*>(.*?)</textarea>', content, re.S).group(1)
    )
    assert "<form" not in content.split('id="form-html"')[1].split("</textarea>")[0]  # escaped
    assert '<form action="http://testserver/web-to-lead" method="POST">' in code
    assert f'<input type="hidden" name="oid" value="{organization_id()}">' in code
    assert '<input type="hidden" name="retURL" value="https://x.test/&quot;&gt;&lt;b&gt;">' in code
    names = re.findall(r'<(?:input|select|textarea) id="([^"]+)"', code)
    assert names == [
        "last_name",
        "email",
        "company",
        "description",
        "rating",
        "doNotCall",
        HONEYPOT_FIELD,
    ]
    assert '<option value="Hot">Hot</option>' in code
    assert '<input id="doNotCall" name="doNotCall" type="checkbox" value="1">' in code
    assert 'maxlength="80"' in code  # email's length, from the registry


def test_the_generated_form_creates_a_lead_when_posted(admin_page, admin):
    content = admin_page.get("/settings/web-to-lead/", {"fields": ["email", "doNotCall"]}).content
    code = html.unescape(
        re.search(rb'id="form-html"[^>]*>(.*?)</textarea>', content, re.S).group(1).decode()
    )
    hidden = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', code))

    response = Client().post(
        "/web-to-lead",
        {
            **hidden,
            "last_name": "Lima",
            "company": "Lima Labs",
            "doNotCall": "1",
            HONEYPOT_FIELD: "",
        },
    )

    assert response.status_code == 200
    assert Lead.objects.get().do_not_call is True


# ---------------------------------------------------------------------------------------
# A real double click (PostgreSQL: concurrent transactions)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_submissions_of_one_email_make_one_lead():
    from tests.leads.test_concurrency import run_at_once

    UserFactory(username="ada", role=Role.ADMIN)

    outcomes = run_at_once(6, lambda: web_to_lead_submit(form={**FORM, "title": "CTO"}))

    errors = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    assert errors == []
    assert sorted(outcome.created for outcome in outcomes) == [False] * 5 + [True]
    assert Lead.objects.count() == 1
    assert {outcome.lead.pk for outcome in outcomes} == {Lead.objects.get().pk}


@pytest.mark.parametrize(
    ("values", "status"), [({}, 200), ({"last_name": ""}, 400), ({"oid": "00Dwrong"}, 400)]
)
def test_the_public_pages_send_the_security_headers(public, admin, values, status):
    response = submit(public, **values)

    assert response.status_code == status
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
