"""`dealflow duplicates scan|refresh-keys`: the duplicate scan, and rebuilding keys."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from dealflow.duplicates.keys import OBJECT_NAMES
from dealflow.duplicates.scan import duplicates_scan
from dealflow.duplicates.services import duplicate_keys_refresh

OBJECTS = {"leads": "Lead", "contacts": "Contact", "accounts": "Account"}


class Command(BaseCommand):
    help = (
        "Scan leads, contacts and accounts for duplicates into the review queue "
        "(/duplicates/), or rebuild their matching keys (docs/duplicates.md)."
    )

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        for name, text in (
            ("scan", "find duplicate groups; a rerun keeps the groups it found before"),
            ("refresh-keys", "recompute every blocking key (after a bulk change outside dealflow)"),
        ):
            action = actions.add_parser(name, help=text)
            action.add_argument(
                "--object",
                choices=[*OBJECTS, "all"],
                default="all",
                help="which records (default: all)",
            )

    def handle(self, *args, **options):
        chosen = options["object"]
        names = list(OBJECT_NAMES) if chosen == "all" else [OBJECTS[chosen]]
        if options["action"] == "refresh-keys":
            for name in names:
                written = duplicate_keys_refresh(object_name=name)
                self.stdout.write(f"{name}: {written} keys written.")
            return
        if options["action"] != "scan":
            raise CommandError(f"unknown action {options['action']!r}")
        for name in names:
            result = duplicates_scan(object_name=name)
            self.stdout.write(
                f"{name}: {result.groups} duplicate groups ({result.created} new, "
                f"{result.removed} no longer found) from {result.blocks} blocks, "
                f"{result.pairs} matching pairs, in {result.seconds:.1f} s."
            )
