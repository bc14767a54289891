"""`dealflow user create NAME --role ROLE`: add a user who can sign in."""

from __future__ import annotations

import secrets
import sys

from django.core.management.base import BaseCommand, CommandError

from dealflow.core.errors import DomainError
from dealflow.people.models import Role, Team
from dealflow.people.services import user_create


class Command(BaseCommand):
    help = "Manage users: `user create NAME --role admin|manager|rep`."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="create a user")
        create.add_argument("username", help="the name the user signs in with")
        create.add_argument(
            "--role",
            choices=Role.values,
            default=str(Role.REP),
            help="admins configure dealflow, managers oversee their team, reps work their "
            "records (default: %(default)s)",
        )
        create.add_argument("--email", default="", help="email address (default: none)")
        create.add_argument("--first-name", default="", help="first name (default: none)")
        create.add_argument("--last-name", default="", help="last name (default: none)")
        create.add_argument("--team", help="team name, created if missing (default: no team)")
        create.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from standard input (default: generate one and print it once)",
        )

    def handle(self, *args, **options):
        password_given = options["password_stdin"]
        password = sys.stdin.readline().rstrip("\n") if password_given else ""
        if password_given and not password:
            raise CommandError("--password-stdin: no password on standard input")
        password = password or secrets.token_urlsafe(12)
        team = None
        if options["team"]:
            team, _created = Team.objects.get_or_create(name=options["team"])
        try:
            user = user_create(
                actor=None,
                username=options["username"],
                password=password,
                role=options["role"],
                email=options["email"],
                first_name=options["first_name"],
                last_name=options["last_name"],
                team=team,
            )
        except DomainError as error:
            raise CommandError(error.message) from None
        self.stdout.write(f"created {user.role} {user.username} ({user.public_id})")
        if not password_given:
            self.stdout.write(f"password: {password}")
