"""`dealflow describe OBJECT`: the fields of an object as the metadata registry sees them."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.table import Table

from dealflow.core.metadata import get_object, registry


class Command(BaseCommand):
    help = "Print an object's fields: native and API names, type, length, picklist, flags."

    def add_arguments(self, parser):
        parser.add_argument(
            "object",
            nargs="?",
            help="Lead, Account, Contact, Opportunity, ... (default: list the objects)",
        )
        parser.add_argument(
            "--json", action="store_true", help="print JSON instead of a table (default: a table)"
        )

    def handle(self, *args, **options):
        if not options["object"]:
            for object_def in registry().values():
                self.stdout.write(f"{object_def.name} ({object_def.key_prefix})")
            return
        try:
            object_def = get_object(options["object"])
        except KeyError:
            names = ", ".join(registry())
            raise CommandError(f"unknown object {options['object']!r}; one of {names}") from None
        if options["json"]:
            description = {
                "name": object_def.name,
                "label": object_def.label,
                "label_plural": object_def.label_plural,
                "key_prefix": object_def.key_prefix,
                "fields": [field.as_dict() for field in object_def.fields],
            }
            self.stdout.write(json.dumps(description, indent=2))
            return
        table = Table(title=f"{object_def.name} ({object_def.key_prefix})")
        for column in ("name", "api name", "label", "type", "length", "picklist", "flags"):
            table.add_column(column)
        for field in object_def.fields:
            flags = [
                flag
                for flag, is_set in (
                    ("required", field.required),
                    ("create", field.createable),
                    ("update", field.updateable),
                )
                if is_set
            ]
            picklist = field.picklist or ", ".join(field.choices) or ", ".join(field.reference_to)
            table.add_row(
                field.name,
                field.api_name,
                field.label,
                field.type,
                str(field.length or ""),
                picklist,
                " ".join(flags),
            )
        Console(file=self.stdout, width=160).print(table)
