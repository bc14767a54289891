"""Failed sign-ins are throttled per username and per address on every login form (django-axes)."""

from __future__ import annotations

import datetime
import logging

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from dealflow.people.models import Role
from dealflow.people.services import token_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "plum-Orbit-cascade-42"
LIMIT = 5  # settings.AXES_FAILURE_LIMIT's default
FORMS = ["/login/", "/admin/login/"]


def person(username: str, role: str = Role.ADMIN):
    user = UserFactory(username=username, role=role, is_staff=True, is_superuser=True)
    user.set_password(PASSWORD)
    user.save()
    return user


def sign_in(path: str, username: str, password: str, address: str = "127.0.0.1"):
    return Client(REMOTE_ADDR=address).post(path, {"username": username, "password": password})


def signed_in(response) -> bool:
    return response.status_code == 302 and "_auth_user_id" in response.client.session


def fail(path: str, times: int, username: str = "alice", address: str = "127.0.0.1"):
    for _ in range(times):
        response = sign_in(path, username, "wrong-guess-123", address)
        assert response.status_code in (200, 429)


def forget_the_cool_off():
    """Age every failure past the cool-off, as waiting would."""
    AccessAttempt.objects.update(attempt_time=timezone.now() - datetime.timedelta(minutes=16))


@pytest.mark.parametrize("path", FORMS)
def test_the_right_password_after_the_limit_of_wrong_ones_is_refused(path):
    person("alice")
    fail(path, LIMIT - 1)
    assert sign_in(path, "alice", "wrong-guess-123").status_code == 429  # the one that locks

    response = sign_in(path, "alice", PASSWORD)

    assert response.status_code == 429
    assert b"Too many failed sign-ins" in response.content
    assert "_auth_user_id" not in response.client.session


@pytest.mark.parametrize("path", FORMS)
def test_thirty_wrong_passwords_then_the_right_one_is_refused(path):
    person("alice")
    fail(path, 30)

    assert sign_in(path, "alice", PASSWORD).status_code == 429
    assert AccessAttempt.objects.get().failures_since_start == LIMIT


@pytest.mark.parametrize("path", FORMS)
def test_fewer_failures_than_the_limit_do_not_lock(path):
    person("alice")
    fail(path, LIMIT - 1)

    assert signed_in(sign_in(path, "alice", PASSWORD))


@pytest.mark.parametrize("path", FORMS)
def test_an_address_is_locked_whatever_usernames_it_tries(path):
    person("alice")
    for number in range(LIMIT):
        sign_in(path, f"guess{number}", "wrong-guess-123")

    assert sign_in(path, "alice", PASSWORD).status_code == 429
    assert signed_in(sign_in(path, "alice", PASSWORD, address="10.0.0.2"))


@pytest.mark.parametrize("path", FORMS)
def test_a_username_is_locked_from_every_address(path):
    person("alice")
    for number in range(LIMIT):
        sign_in(path, "alice", "wrong-guess-123", address=f"10.0.1.{number}")

    assert sign_in(path, "alice", PASSWORD, address="10.0.2.1").status_code == 429
    assert signed_in(sign_in(path, "bob-not-locked", "x", "10.0.2.1")) is False
    person("bob")
    assert signed_in(sign_in(path, "bob", PASSWORD, address="10.0.2.1"))


def test_a_username_counts_whatever_its_case_and_spaces():
    person("alice")
    for spelling in ["Alice", "ALICE", " alice", "alice ", "aLiCe"]:
        sign_in("/login/", spelling, "wrong-guess-123", address=f"10.0.3.{len(spelling)}")

    assert sign_in("/login/", "alice", PASSWORD, address="10.0.4.1").status_code == 429


def test_the_lock_ends_after_the_cool_off_and_both_are_logged(caplog):
    person("alice")
    caplog.set_level(logging.INFO, logger="dealflow.security")
    fail("/login/", LIMIT)
    assert sign_in("/login/", "alice", PASSWORD).status_code == 429

    forget_the_cool_off()
    assert signed_in(sign_in("/login/", "alice", PASSWORD))

    messages = [
        record.getMessage() for record in caplog.records if record.name == "dealflow.security"
    ]
    assert messages == [
        "sign-in locked: username 'alice' from 127.0.0.1 after 5 failures, "
        "for 0:15:00 from the last one",
        "sign-in refused while locked: username 'alice' from 127.0.0.1",
        "sign-in lock released: username 'alice' from 127.0.0.1 (5 failures)",
    ]
    assert [
        record.levelname for record in caplog.records if record.name == "dealflow.security"
    ] == [
        "WARNING",
        "INFO",
        "WARNING",
    ]


def test_an_admin_lifts_a_lock_and_it_is_logged(caplog):
    person("alice")
    fail("/admin/login/", LIMIT)
    caplog.set_level(logging.INFO, logger="dealflow.security")

    call_command("axes_reset_username", "alice")

    assert "sign-in lock released: username 'alice' from 127.0.0.1 (5 failures)" in caplog.messages
    assert signed_in(sign_in("/admin/login/", "alice", PASSWORD))


def test_no_password_is_logged_or_stored(caplog):
    person("alice")
    caplog.set_level(logging.DEBUG)
    for guess in ["first-Guess-981", "second-Guess-982", "third-Guess-983", "4th-Guess-984"]:
        sign_in("/login/", "alice", guess)
    sign_in("/login/", "alice", "fifth-Guess-985")
    sign_in("/login/", "alice", PASSWORD)

    logged = "\n".join(record.getMessage() for record in caplog.records)
    stored = str(list(AccessAttempt.objects.values()))
    assert "sign-in locked: username 'alice'" in logged
    for secret in ["Guess-98", PASSWORD]:
        assert secret not in logged
        assert secret not in stored


def test_api_bearer_tokens_are_not_throttled():
    user = person("alice")
    _record, token = token_create(actor=user, user=user, name="cli")
    fail("/login/", LIMIT)
    assert sign_in("/login/", "alice", PASSWORD).status_code == 429

    client = Client(REMOTE_ADDR="127.0.0.1")
    for _ in range(LIMIT + 1):
        refused = client.get("/api/v1/users", HTTP_AUTHORIZATION="Bearer dft_wrong")
        assert refused.status_code == 401
    response = client.get("/api/v1/users", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 200
    assert AccessAttempt.objects.get().failures_since_start == LIMIT


def test_behind_proxies_the_address_is_the_one_the_proxies_recorded(settings):
    settings.DEALFLOW_PROXY_COUNT = 1
    person("alice")
    client = Client(REMOTE_ADDR="10.9.9.9")  # the proxy
    for _ in range(LIMIT):
        client.post(
            "/login/",
            {"username": "nobody", "password": "wrong-guess-123"},
            HTTP_X_FORWARDED_FOR="198.51.100.7, 203.0.113.5",
        )

    attempt = AccessAttempt.objects.get()
    assert attempt.ip_address == "203.0.113.5"  # the left entry was the client's own claim
    response = client.post(
        "/login/",
        {"username": "alice", "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="203.0.113.6",
    )
    assert response.status_code == 302
