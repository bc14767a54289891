"""Data steps that migrations share: filling matching keys, storing decimals exactly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dealflow.core.fields import MatchKeyField

BATCH = 2000
Step = Callable[[Any, Any], None]


def fill_match_keys(app_label: str, model_name: str) -> Step:
    """A RunPython step that computes every matching key of existing rows, in batches."""

    def fill(apps: Any, schema_editor: Any) -> None:
        model = apps.get_model(app_label, model_name)
        keys = [field for field in model._meta.concrete_fields if isinstance(field, MatchKeyField)]
        sources = {source for field in keys for source in field.sources}
        manager = model._base_manager.db_manager(schema_editor.connection.alias)
        batch = []
        for record in manager.only("pk", *sources).order_by("pk").iterator(chunk_size=BATCH):
            for field in keys:
                setattr(record, field.attname, field.key_of(record))
            batch.append(record)
            if len(batch) == BATCH:
                manager.bulk_update(batch, [field.name for field in keys])
                batch = []
        if batch:
            manager.bulk_update(batch, [field.name for field in keys])

    return fill


def exact_decimals(app_label: str, model_name: str, *field_names: str) -> tuple[Step, Step]:
    """RunPython steps (forward, backward) that rescale SQLite decimals to and from
    integers of their smallest unit (core/sqlite); nothing on PostgreSQL."""

    def rescale(apps: Any, schema_editor: Any, forward: bool) -> None:
        if schema_editor.connection.vendor != "sqlite":
            return
        model = apps.get_model(app_label, model_name)
        quote = schema_editor.quote_name
        for name in field_names:
            field = model._meta.get_field(name)
            factor = 10**field.decimal_places
            column = quote(field.column)
            value = (
                f"CAST(ROUND({column} * {factor}) AS INTEGER)"
                if forward
                else f"{column} * 1.0 / {factor}"
            )
            schema_editor.execute(
                f"UPDATE {quote(model._meta.db_table)} SET {column} = {value} "
                f"WHERE {column} IS NOT NULL"
            )

    return (
        lambda apps, schema_editor: rescale(apps, schema_editor, forward=True),
        lambda apps, schema_editor: rescale(apps, schema_editor, forward=False),
    )
