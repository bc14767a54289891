"""The user, token and bootstrap console commands; bootstrap's demo logins."""

import io
import stat

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError

from dealflow.core.models import AuditEvent
from dealflow.demo.data import STAFF, STAFF_DOMAIN
from dealflow.people.models import ApiToken, User
from dealflow.people.services import token_digest, user_create

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


def test_bootstrap_creates_the_admin_once(settings, tmp_path, monkeypatch):
    settings.VAR_DIR = tmp_path
    monkeypatch.delenv("PORT", raising=False)
    monkeypatch.delenv("DEALFLOW_HOST", raising=False)

    first = run("bootstrap")
    second = run("bootstrap")

    password = (tmp_path / "admin-password").read_text()
    assert first == second
    assert first == f"Sign in at http://127.0.0.1:8000/login/ as admin / {password}\n"
    admin = User.objects.get(username="admin")
    assert (admin.role, admin.is_superuser, admin.check_password(password)) == ("admin", True, True)


def make_demo_staff():
    """The demo's staff as `dealflow demo` makes them (no passwords), without its records."""
    for username, first, last, role, _team in STAFF:
        user_create(
            actor=None,
            username=username,
            password=None,
            role=role,
            email=f"{username}@{STAFF_DOMAIN}",
            first_name=first,
            last_name=last,
        )


def test_bootstrap_prints_the_port_from_port(settings, tmp_path, monkeypatch):
    settings.VAR_DIR = tmp_path
    monkeypatch.delenv("DEALFLOW_HOST", raising=False)
    monkeypatch.setenv("PORT", "8765")

    from_environment = run("bootstrap")
    from_option = run("bootstrap", "--port", "9001", "--host", "::1")

    password = (tmp_path / "admin-password").read_text()
    assert from_environment == f"Sign in at http://127.0.0.1:8765/login/ as admin / {password}\n"
    assert from_option == f"Sign in at http://[::1]:9001/login/ as admin / {password}\n"


def test_bootstrap_gives_the_demo_one_login_per_role(settings, tmp_path, monkeypatch):
    settings.VAR_DIR = tmp_path
    monkeypatch.delenv("PORT", raising=False)
    monkeypatch.delenv("DEALFLOW_HOST", raising=False)
    make_demo_staff()

    output = run("bootstrap")

    logins_file = tmp_path / "demo-logins.txt"
    kept = {
        line.split("\t")[1]: line.split("\t")[2]
        for line in logins_file.read_text().splitlines()
        if not line.startswith("#")
    }
    admin_password = (tmp_path / "admin-password").read_text()
    assert output.splitlines() == [
        "Sign in at http://127.0.0.1:8000/login/ as",
        f"  admin    admin / {admin_password}",
        f"  manager  mgarcia / {kept['mgarcia']}",
        f"  rep      spatel / {kept['spatel']}",
        f"(every demo user's login is in {logins_file})",
    ]
    assert stat.S_IMODE(logins_file.stat().st_mode) == 0o600
    assert sorted(kept) == sorted(row[0] for row in STAFF if row[0] != "admin")
    assert len(set(kept.values())) == len(kept)
    signed_in = {
        username: authenticate(username=username, password=password)
        for username, password in [("admin", admin_password), *kept.items()]
    }
    assert {user.username: user.role for user in signed_in.values()} == {
        row[0]: row[3] for row in STAFF
    }


def test_bootstrap_keeps_demo_passwords_and_replaces_only_unusable_ones(
    settings, tmp_path, monkeypatch
):
    settings.VAR_DIR = tmp_path
    monkeypatch.delenv("PORT", raising=False)
    make_demo_staff()
    first = run("bootstrap")
    logins_file = tmp_path / "demo-logins.txt"
    before = logins_file.read_text()
    changed = User.objects.get(username="mgarcia")
    changed.set_password("chosen-by-maria")
    changed.save()

    second = run("bootstrap")

    assert logins_file.read_text() == before
    assert User.objects.get(username="mgarcia").check_password("chosen-by-maria")
    assert second.splitlines()[2] == "  manager  mgarcia (password changed since)"
    assert second.splitlines()[3] == first.splitlines()[3]

    forgotten = User.objects.get(username="spatel")
    forgotten.set_unusable_password()
    forgotten.save()
    third = run("bootstrap")

    new_password = third.splitlines()[3].removeprefix("  rep      spatel / ")
    assert new_password != first.splitlines()[3].removeprefix("  rep      spatel / ")
    assert authenticate(username="spatel", password=new_password) is not None
    assert f"rep\tspatel\t{new_password}\n" in logins_file.read_text()
    assert User.objects.get(username="mgarcia").check_password("chosen-by-maria")


def test_bootstrap_prints_no_other_logins_without_the_demo(settings, tmp_path, monkeypatch):
    settings.VAR_DIR = tmp_path
    monkeypatch.delenv("PORT", raising=False)
    # A real user who happens to share a demo name is not the demo's.
    user_create(actor=None, username="mgarcia", password=None, role="manager", email="m@corp.com")

    output = run("bootstrap")

    assert output.startswith("Sign in at http://127.0.0.1:8000/login/ as admin / ")
    assert len(output.splitlines()) == 1
    assert not (tmp_path / "demo-logins.txt").exists()
    assert not User.objects.get(username="mgarcia").has_usable_password()
