"""`dealflow bootstrap`: make sure an admin login exists and print it, with the demo's (used by `make run`)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.management.base import BaseCommand

from dealflow.core.management.commands.serve import add_address_arguments, site_url
from dealflow.demo.data import DEMO_LOGINS_FILE, demo_logins
from dealflow.people.models import Role, User
from dealflow.people.services import user_create


class Command(BaseCommand):
    help = (
        "Create the admin login on first run and print how to sign in. The admin password "
        "is kept in var/admin-password; with the demo loaded, one login per role is printed "
        "too (all demo logins are kept in var/demo-logins.txt)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--username", default="admin", help="the admin's username (default: %(default)s)"
        )
        # The address `dealflow serve` will listen on, for the printed URL.
        add_address_arguments(parser)

    def handle(self, *args, **options):
        username = options["username"]
        password_file = settings.VAR_DIR / "admin-password"
        user = User.objects.filter(username=username).first()
        if user is None or (not user.has_usable_password() and user.role == Role.ADMIN):
            password = secrets.token_urlsafe(12)
            if user is None:
                user = user_create(
                    actor=None, username=username, password=password, role=Role.ADMIN
                )
            else:
                user.set_password(password)
                user.save(update_fields=["password"])
            settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
            password_file.touch(mode=0o600)
            password_file.write_text(password)
        if password_file.exists():
            admin = f"{username} / {password_file.read_text().strip()}"
        else:
            admin = (
                f"{username} (password set earlier; change it with "
                f"`dealflow changepassword {username}`)"
            )
        rows = [(str(Role.ADMIN), admin)]
        # A manager and a rep: enough to try dealflow in each role; the file has the rest.
        logins = demo_logins(settings.VAR_DIR)
        for role in (Role.MANAGER, Role.REP):
            login = next((login for login in logins if login.role == role), None)
            if login is None:
                continue
            if User.objects.get(username=login.username).check_password(login.password):
                rows.append((login.role, f"{login.username} / {login.password}"))
            else:
                rows.append((login.role, f"{login.username} (password changed since)"))
        url = site_url(options["host"], options["port"], "/login/")
        if len(rows) == 1:
            self.stdout.write(f"Sign in at {url} as {admin}")
            return
        self.stdout.write(f"Sign in at {url} as")
        width = max(len(role) for role, _login in rows)
        for role, login in rows:
            self.stdout.write(f"  {role:<{width}}  {login}")
        self.stdout.write(f"(every demo user's login is in {settings.VAR_DIR / DEMO_LOGINS_FILE})")
