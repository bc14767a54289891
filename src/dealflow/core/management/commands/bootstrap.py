"""`dealflow bootstrap`: make sure an admin login exists and print it (used by `make run`)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.management.base import BaseCommand

from dealflow.people.models import Role, User
from dealflow.people.services import user_create


class Command(BaseCommand):
    help = "Create the admin login on first run (password kept in var/admin-password) and print it."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

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
            password = password_file.read_text().strip()
            self.stdout.write(f"Sign in at http://127.0.0.1:8000/login/ as {username} / {password}")
        else:
            self.stdout.write(
                f"Sign in as {username} (password set earlier; change it with "
                f"`dealflow changepassword {username}`)"
            )
