"""`dealflow export`: leads, accounts, contacts or opportunities as CSV (docs/export.md)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from dealflow.core.errors import DomainError
from dealflow.dataio.exports import EXPORT_OBJECTS, HEADERS, default_actor, export_csv
from dealflow.people.models import User


class Command(BaseCommand):
    help = (
        "Write the leads, accounts, contacts or opportunities a user may see as CSV "
        "(UTF-8), streamed in batches with bounded memory. Text a spreadsheet would read as "
        "a formula starts with a single quote."
    )

    def add_arguments(self, parser):
        parser.add_argument("object", choices=list(EXPORT_OBJECTS), help="what to export")
        parser.add_argument(
            "--headers",
            choices=HEADERS,
            default="native",
            help="native names (last_name, owner_id) or Salesforce API names as Data Loader "
            "reads them (LastName, OwnerId) (default: native)",
        )
        parser.add_argument("--output", help="write to this file (default: standard output)")
        parser.add_argument(
            "--user", help="export what this user may see (default: the first active admin)"
        )

    def _actor(self, username: str | None) -> User:
        if username:
            user = User.objects.filter(username=username, is_active=True).first()
            if user is None:
                raise CommandError(f"no active user {username!r}")
            return user
        try:
            return default_actor()
        except DomainError as error:
            raise CommandError(f"{error.message} (--user NAME)") from None

    def handle(self, *args, **options):
        actor = self._actor(options["user"])
        try:
            chunks = export_csv(
                actor=actor,
                object_name=EXPORT_OBJECTS[options["object"]],
                headers=options["headers"],
            )
        except DomainError as error:
            raise CommandError(error.message) from None
        if options["output"]:
            # newline="": the CSV's own CRLF line ends, unchanged on every platform.
            with open(options["output"], "w", encoding="utf-8", newline="") as output:
                for chunk in chunks:
                    output.write(chunk)
        else:
            for chunk in chunks:
                self.stdout.write(chunk, ending="")
            self.stdout.flush()
