"""`dealflow describe OBJECT`: the fields of an object as the metadata registry sees them."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.table import Table

from dealflow.core.metadata import get_object, registry


class Command(BaseCommand):
    help = (
        "Print an object's fields: their API, Salesforce and model names, types, length, "
        "picklist and flags."
    )

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
        table = Table(
            title=f"{object_def.name} ({object_def.key_prefix})",
            caption="API: the native API's name (also in errors, filters and sorts); "
            "Salesforce: the API name; model: the name inside dealflow",
        )
        for column in (
            "API",
            "Salesforce",
            "model",
            "label",
            "type",
            "JSON",
            "length",
            "picklist",
            "flags",
        ):
            table.add_column(column, no_wrap=column in ("API", "Salesforce", "model"))
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
            size = f"{field.precision},{field.scale}" if field.precision else field.length
            table.add_row(
                field.public_name,
                field.api_name,
                field.name,
                field.label,
                field.type,
                field.json_type,
                str(size or ""),
                picklist,
                " ".join(flags),
            )
        Console(file=self.stdout, width=200).print(table)
