"""One password policy (Django's validators) on every channel that sets a password."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.management.commands import changepassword
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import AuditEvent
from dealflow.people.models import Role, User
from dealflow.people.services import user_create
from tests.api.conftest import ApiClient
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# The two examples, then one of each other kind the policy refuses: too short,
# common, only digits, close to the user's own name.
WEAK = ["123", "password", "short-1A", "password1234", "402917563018", "maria.gonzalez1"]
STRONG = "plum-Orbit-cascade-42"


def echoes(password: str, text: str) -> bool:
    """Whether an error repeats the password (the word "password" itself is the field's name)."""
    return password in text.replace("password", "")


def user_attributes() -> dict[str, str]:
    return {"username": "maria.gonzalez", "first_name": "Maria", "last_name": "Gonzalez"}


@pytest.mark.parametrize("password", WEAK)
def test_user_create_refuses_a_weak_password_and_writes_nothing(password):
    with pytest.raises(DomainError) as refused:
        user_create(actor=None, password=password, **user_attributes())

    assert (refused.value.code, refused.value.fields) == (ErrorCode.INVALID_FIELD, ["password"])
    assert refused.value.message.startswith("password: ")
    assert not echoes(password, refused.value.message)
    assert (User.objects.count(), AuditEvent.objects.count()) == (0, 0)


def test_user_create_takes_a_strong_password_and_none():
    user = user_create(actor=None, password=STRONG, **user_attributes())
    tokens_only = user_create(actor=None, username="nina", password=None)

    assert user.check_password(STRONG)
    assert not tokens_only.has_usable_password()


def test_the_policy_names_each_rule_broken():
    with pytest.raises(DomainError) as refused:
        user_create(actor=None, username="dana", password="123")

    assert refused.value.message == (
        "password: This password is too short. It must contain at least 12 characters. "
        "This password is too common. This password is entirely numeric."
    )


@pytest.mark.parametrize("password", WEAK)
def test_user_command_refuses_a_weak_password_from_stdin(monkeypatch, password):
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{password}\n"))
    arguments = ["user", "create", "maria.gonzalez", "--first-name", "Maria"]
    arguments += ["--last-name", "Gonzalez", "--password-stdin"]

    with pytest.raises(CommandError, match=r"^password: "):
        call_command(*arguments, stdout=io.StringIO())

    assert User.objects.count() == 0


def test_user_command_takes_a_strong_password_from_stdin(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{STRONG}\n"))

    call_command("user", "create", "erin", "--password-stdin", stdout=io.StringIO())

    assert User.objects.get(username="erin").check_password(STRONG)


@pytest.mark.parametrize("password", WEAK)
def test_api_refuses_a_weak_password(password):
    api = ApiClient(UserFactory(role=Role.ADMIN))
    body = {"password": password, **user_attributes()}

    response = api.post("/users", body)

    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["fields"] == ["password"]
    assert not echoes(password, response.content.decode())
    assert not User.objects.filter(username="maria.gonzalez").exists()


def test_api_takes_a_strong_password():
    api = ApiClient(UserFactory(role=Role.ADMIN))

    response = api.post("/users", {"username": "erin", "password": STRONG})

    assert response.status_code == 201, response.content
    assert User.objects.get(username="erin").check_password(STRONG)


@pytest.mark.parametrize("password", WEAK)
def test_admin_add_form_refuses_a_weak_password(admin_client, password):
    response = admin_client.post(
        reverse("admin:people_user_add"),
        {
            "username": "maria.gonzalez",
            "usable_password": "true",
            "password1": password,
            "password2": password,
            "role": Role.REP,
            "_save": "Save",
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["password2"]
    assert not User.objects.filter(username="maria.gonzalez").exists()


@pytest.mark.parametrize("password", WEAK)
def test_admin_password_change_refuses_a_weak_password(admin_client, password):
    user = user_create(actor=None, password=STRONG, **user_attributes())

    response = admin_client.post(
        reverse("admin:auth_user_password_change", args=[user.pk]),
        {"usable_password": "true", "password1": password, "password2": password},
    )

    assert response.status_code == 200
    assert response.context["form"].errors["password2"]
    user.refresh_from_db()
    assert user.check_password(STRONG)


def test_admin_password_change_takes_a_strong_password(admin_client):
    user = user_create(actor=None, password=STRONG, **user_attributes())
    url = reverse("admin:auth_user_password_change", args=[user.pk])

    response = admin_client.post(
        url, {"usable_password": "true", "password1": "new-" + STRONG, "password2": "new-" + STRONG}
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("new-" + STRONG)


@pytest.mark.parametrize("password", WEAK)
def test_changepassword_refuses_a_weak_password(monkeypatch, password):
    user = user_create(actor=None, password=STRONG, **user_attributes())
    monkeypatch.setattr(changepassword.getpass, "getpass", lambda prompt="": password)

    with pytest.raises(CommandError, match="Aborting password change"):
        call_command("changepassword", user.username, stdout=io.StringIO(), stderr=io.StringIO())

    user.refresh_from_db()
    assert user.check_password(STRONG)
