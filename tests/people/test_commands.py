"""The user, token and bootstrap console commands."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from dealflow.core.models import AuditEvent
from dealflow.people.models import ApiToken, User
from dealflow.people.services import token_digest

pytestmark = pytest.mark.django_db


def run(*arguments):
    output = io.StringIO()
    call_command(*arguments, stdout=output)
    return output.getvalue()


def test_user_create_generates_and_prints_a_password():
    output = run("user", "create", "dana", "--role", "manager", "--team", "East")

    user = User.objects.get(username="dana")
    password = output.splitlines()[-1].removeprefix("password: ")
    assert user.check_password(password)
    assert (user.role, user.team.name, user.is_staff, user.is_superuser) == (
        "manager",
        "East",
        True,
        False,
    )


def test_user_create_reads_the_password_from_stdin(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret-Passw0rd\n"))
    output = run("user", "create", "erin", "--password-stdin")

    assert "password" not in output
    assert User.objects.get(username="erin").check_password("s3cret-Passw0rd")


def test_user_create_refuses_a_taken_name():
    run("user", "create", "dana")
    with pytest.raises(CommandError, match="'Dana' is taken"):
        run("user", "create", "Dana")
    assert User.objects.count() == 1


def test_token_is_printed_once_and_stored_as_a_digest():
    run("user", "create", "dana")

    output = run("token", "create", "dana", "--name", "zapier")

    token = output.splitlines()[-1]
    stored = ApiToken.objects.get()
    assert stored.digest == token_digest(token)
    assert token not in str(list(ApiToken.objects.values()))
    assert stored.prefix == token[:10]
    listing = run("token", "list")
    assert token not in listing
    assert f"{stored.prefix}  dana  zapier  active" in listing

    run("token", "revoke", stored.prefix)

    stored.refresh_from_db()
    assert stored.revoked_at is not None
    assert list(
        AuditEvent.objects.filter(object_name="ApiToken")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["create", "update"]
    with pytest.raises(CommandError, match="0 active tokens"):
        run("token", "revoke", stored.prefix)


def test_token_for_unknown_user_is_refused():
    with pytest.raises(CommandError, match="no user 'ghost'"):
        run("token", "create", "ghost")
    assert ApiToken.objects.count() == 0


def test_bootstrap_creates_the_admin_once(settings, tmp_path):
    settings.VAR_DIR = tmp_path

    first = run("bootstrap")
    second = run("bootstrap")

    password = (tmp_path / "admin-password").read_text()
    assert first == second
    assert f"as admin / {password}" in first
    admin = User.objects.get(username="admin")
    assert (admin.role, admin.is_superuser, admin.check_password(password)) == ("admin", True, True)
