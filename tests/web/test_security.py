"""Page-wide security (issue 11, item 11): CSRF on every page that takes a POST, the CSP and
frame headers on every page, the session cookie's flags, and user data shown as text.

The pages are found from web/urls.py itself, so a page added later is covered without
touching this file; its URL's ids are made from the factories.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from django.test import Client
from django.urls import URLPattern, reverse

from dealflow.accounts.models import Account, Contact
from dealflow.core.models import AuditEvent
from dealflow.dataio.models import ImportJob
from dealflow.leads.models import Lead
from dealflow.people.models import Role, User
from dealflow.sales.models import Opportunity, OpportunityContactRole, OpportunityStage, Task
from dealflow.web import urls as page_urls
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    TaskFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
PAGE_NAMES = [pattern.name for pattern in page_urls.urlpatterns if isinstance(pattern, URLPattern)]
# Public endpoints other sites' forms post to, which cannot carry a CSRF token (see
# web/web_to_lead.py); tests/web/test_web_to_lead.py covers their own defences.
CSRF_EXEMPT = {"web_to_lead", "web_to_lead_servlet"}


@pytest.fixture
def admin():
    return UserFactory(username="ada", role=Role.ADMIN)


@pytest.fixture
def records(admin):
    """One record of each kind a page address names, owned by the admin: {kwarg: value}."""
    account = AccountFactory(owner=admin)
    contact = ContactFactory(account=account, owner=admin)
    opportunity = OpportunityFactory(account=account, owner=admin)
    role = OpportunityContactRole.objects.create(
        opportunity=opportunity, contact=contact, role="Decision Maker"
    )
    return {
        "lead_id": LeadFactory(owner_user=admin).public_id,
        "account_id": account.public_id,
        "contact_id": contact.public_id,
        "opportunity_id": opportunity.public_id,
        "contact_role_id": role.public_id,
        "task_id": TaskFactory(owner=admin, contact=contact).public_id,
        "user_id": UserFactory().public_id,
        "stage_id": str(OpportunityStage.objects.get(name="Prospecting").pk),
        "group_id": 1,  # a duplicate group (its pages refuse before reading it)
        "merge_id": 1,  # a merge (none: its page is a 404, its undo refused)
        "name": "lead_conversion",  # a report (its CSV download)
        "job_id": str(
            ImportJob.objects.create(
                target="Lead", file_path="/x.csv", file_name="x.csv", sha256="0", actor=admin
            ).pk
        ),
    }


def page_url(name: str, records: dict) -> str:
    """The page's address with its URL's ids taken from `records`."""
    pattern = next(pattern for pattern in page_urls.urlpatterns if pattern.name == name)
    wanted = pattern.pattern.converters.keys()
    missing = [key for key in wanted if key not in records]
    assert not missing, f"{name}: give the records fixture a record for {missing}"
    return reverse(name, kwargs={key: records[key] for key in wanted})


def stored() -> dict:
    """What a refused POST must leave as it was: every record and the audit log."""
    models = (Lead, Account, Contact, Opportunity, OpportunityContactRole, Task, User)
    state = {model.__name__: list(model.objects.order_by("pk").values()) for model in models}
    state["AuditEvent"] = AuditEvent.objects.count()
    return state


# ---------------------------------------------------------------------------------------
# CSRF


def test_only_the_public_endpoints_are_csrf_exempt():
    exempt = {
        pattern.name
        for pattern in page_urls.urlpatterns
        if isinstance(pattern, URLPattern) and getattr(pattern.callback, "csrf_exempt", False)
    }

    assert exempt == CSRF_EXEMPT


@pytest.mark.parametrize("name", [name for name in PAGE_NAMES if name not in CSRF_EXEMPT])
def test_a_post_without_csrf_token_is_refused_and_changes_nothing(name, admin, records):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    before = stored()

    response = client.post(
        page_url(name, records),
        # What a form of that page could send: enough for most to write something.
        {"name": "Changed", "last_name": "Changed", "company": "Changed", "status": "Closed"},
    )

    assert response.status_code == 403
    assert b"CSRF verification failed" in response.content
    assert stored() == before


def test_a_post_with_the_token_is_not_refused(admin):
    """The check above is not vacuous: the same client with the form's token signs in."""
    admin.set_password("plum-Orbit-cascade-42")
    admin.save()
    client = Client(enforce_csrf_checks=True)
    form = client.get("/login/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)

    response = client.post(
        "/login/",
        {"username": "ada", "password": "plum-Orbit-cascade-42", "csrfmiddlewaretoken": token},
    )

    assert (response.status_code, response["Location"]) == (302, "/")


# ---------------------------------------------------------------------------------------
# Headers on every page


def assert_headers(response) -> None:
    policy = response.get("Content-Security-Policy", "")
    directives = {}
    for part in policy.split(";"):
        name, _, value = part.strip().partition(" ")
        directives[name] = value
    assert directives.get("script-src") == "'self'", policy
    assert directives.get("style-src") == "'self'", policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert response.get("X-Frame-Options") == "DENY"
    assert response.get("X-Content-Type-Options") == "nosniff"


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_every_page_sends_the_headers_and_its_forms_carry_the_csrf_token(
    name, client, admin, records
):
    client.force_login(admin)

    response = client.get(page_url(name, records))

    assert_headers(response)
    # A download (CSV) streams its content.
    body = b"".join(response.streaming_content) if response.streaming else response.content
    content = body.decode()
    forms = re.findall(r"<form\b[^>]*>.*?</form>", content, flags=re.DOTALL | re.IGNORECASE)
    posting = [form for form in forms if re.search(r'method="post"', form, re.IGNORECASE)]
    for form in posting:
        assert 'name="csrfmiddlewaretoken"' in form, form[:200]


@pytest.mark.parametrize(
    "path", ["/login/", "/", "/no-such-page/", "/leads/00Q000000000000AAA/", "/admin/login/"]
)
def test_pages_for_signed_out_visitors_send_the_headers(client, path):
    assert_headers(client.get(path))


@pytest.mark.parametrize("path", ["/no-such-page/", "/admin/", "/settings/", "/search/?q=x"])
def test_error_admin_and_refusal_pages_send_the_headers(client, path):
    rep = UserFactory(role=Role.REP, is_staff=True)
    client.force_login(rep)

    assert_headers(client.get(path))


def test_the_admin_sends_the_headers_to_an_admin(client, admin):
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)

    response = client.get("/admin/")

    assert response.status_code == 200
    assert_headers(response)


# ---------------------------------------------------------------------------------------
# Cookies


def test_the_session_and_csrf_cookies_are_httponly_and_samesite_lax(client, admin):
    admin.set_password("plum-Orbit-cascade-42")
    admin.save()
    client.get("/login/")

    response = client.post("/login/", {"username": "ada", "password": "plum-Orbit-cascade-42"})

    session = response.cookies["sessionid"]
    assert (session["httponly"], session["samesite"], session["secure"]) == (True, "Lax", "")
    csrf = client.cookies["csrftoken"]
    assert csrf["httponly"] is True
    assert csrf["samesite"] == "Lax"


SHOW_COOKIE_SETTINGS = """
import django, json
django.setup()
from django.conf import settings
names = ["SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE",
         "CSRF_COOKIE_SECURE", "CSRF_COOKIE_HTTPONLY"]
print(json.dumps({name: getattr(settings, name) for name in names}))
"""


def cookie_settings(tmp_path, **environment: str) -> dict:
    """The cookie settings dealflow starts with in a fresh process under `environment`."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name != "DATABASE_URL" and not name.startswith("DEALFLOW_")
    }
    env.update(DJANGO_SETTINGS_MODULE="dealflow.settings", DEALFLOW_VAR_DIR=str(tmp_path))
    env.update(environment)
    result = subprocess.run(
        [sys.executable, "-c", SHOW_COOKIE_SETTINGS],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout)


def test_cookies_are_secure_when_served_over_https(tmp_path):
    assert cookie_settings(tmp_path, DEALFLOW_HTTPS="1") == {
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "CSRF_COOKIE_SECURE": True,
        "CSRF_COOKIE_HTTPONLY": True,
    }


def test_cookies_are_not_marked_secure_over_plain_http(tmp_path):
    """`make run` serves http on 127.0.0.1; a Secure cookie would never come back."""
    settings = cookie_settings(tmp_path)

    assert (settings["SESSION_COOKIE_SECURE"], settings["CSRF_COOKIE_SECURE"]) == (False, False)


# ---------------------------------------------------------------------------------------
# User data is text


@pytest.fixture
def scripted(admin):
    """A lead and an opportunity named <script>alert(1)</script>, the admin's."""
    lead = LeadFactory(
        first_name="Xavier", last_name=SCRIPT, company="Xylo Scripts", owner_user=admin
    )
    opportunity = OpportunityFactory(
        name=SCRIPT, account=AccountFactory(name=f"Xylo {SCRIPT}", owner=admin), owner=admin
    )
    return lead, opportunity


@pytest.mark.parametrize(
    "address",
    [
        "/search/?q=xylo",
        "/search/?q=xavier",
        "/lookup/?field=parent&parent__text=xylo&objects=Lead,Account,Opportunity",
        "/leads/",
        "/leads/{lead}/",
        "/pipeline/",
        "/opportunities/",
        "/opportunities/{opportunity}/",
    ],
)
def test_a_name_with_a_script_renders_as_text(address, client, admin, scripted):
    lead, opportunity = scripted
    client.force_login(admin)

    response = client.get(address.format(lead=lead.public_id, opportunity=opportunity.public_id))

    content = response.content.decode()
    assert response.status_code == 200
    assert SCRIPT not in content
    assert ESCAPED in content
