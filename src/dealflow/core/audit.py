"""Audit events: who changed which record and each field's old and new value.

Text longer than AUDIT_TEXT_LIMIT characters is kept as its beginning and a marker
(`bounded`): the record holds the whole value, and an event need not copy it again.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import F, Func, TextField

from dealflow.core.models import AuditAction, AuditEvent

AUDIT_TEXT_LIMIT = 1000


def bounded(value: Any) -> Any:
    """A change's value with every text over AUDIT_TEXT_LIMIT characters cut, marked so."""
    if isinstance(value, str):
        if len(value) <= AUDIT_TEXT_LIMIT:
            return value
        return f"{value[:AUDIT_TEXT_LIMIT]}… [truncated, {len(value)} characters]"
    if isinstance(value, list | tuple):
        return type(value)(bounded(item) for item in value)
    if isinstance(value, dict):
        return {key: bounded(item) for key, item in value.items()}
    return value


def json_value(value: Any) -> Any:
    """A value as it is stored in an audit event (JSON-safe, references as public ids)."""
    if isinstance(value, models.Model):
        return getattr(value, "public_id", None) or getattr(value, "name", None) or value.pk
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.date):  # datetime is a date too
        return value.isoformat()
    return value


def snapshot(instance: models.Model, field_names: Iterable[str]) -> dict[str, Any]:
    """The current values of some fields, for a later `changes_since`."""
    return {name: getattr(instance, name) for name in field_names}


def changes_since(before: Mapping[str, Any], instance: models.Model) -> dict[str, list[Any]]:
    """{field: [old, new]} for each field in `before` whose value differs now."""
    changes = {}
    for name, old_value in before.items():
        new_value = getattr(instance, name)
        if new_value != old_value:
            changes[name] = [json_value(old_value), json_value(new_value)]
    return changes


def creation_changes(instance: models.Model, field_names: Iterable[str]) -> dict[str, list[Any]]:
    """{field: [None, value]} for each field set on a new record."""
    changes = {}
    for name in field_names:
        value = getattr(instance, name)
        if value not in (None, "", False):
            changes[name] = [None, json_value(value)]
    return changes


def audit_event(
    actor: Any,
    instance: models.Model,
    action: AuditAction,
    changes: Mapping[str, Any],
    object_name: str | None = None,
) -> AuditEvent:
    """An unsaved event; callers save it (or bulk-create several) in their transaction.

    Every event is made here, so this is where long texts are cut (`bounded`).
    """
    return AuditEvent(
        actor=actor if getattr(actor, "pk", None) else None,
        object_name=object_name or instance.object_name,  # type: ignore[attr-defined]
        record_id=instance.pk,
        action=action,
        changes={name: bounded(value) for name, value in changes.items()},
    )


def record_audit(
    actor: Any,
    instance: models.Model,
    action: AuditAction,
    changes: Mapping[str, Any],
    object_name: str | None = None,
) -> AuditEvent:
    """Save one audit event now (inside the caller's transaction)."""
    event = audit_event(actor, instance, action, changes, object_name)
    event.save()
    return event


class ChangedValueText(Func):
    """An audit event's old (side 0) or new (side 1) value of one field as text, for
    queries over the trail: `changes` holds {"field": [old, new]}; NULL when the event
    did not change the field. On PostgreSQL `changes -> 'field' ->> side`, which reads
    1.9M events in 0.76 s where Django's path operator (#>> '{field,side}') takes 1.0 s
    and its jsonb equality (#> ... = '"value"') 1.7 s (issue 9's premature_conversions,
    docs/benchmarks.md); on SQLite JSON_EXTRACT. A value that is not text (a number)
    comes as the database gives it."""

    output_field = TextField()

    def __init__(self, field_name: str, side: int) -> None:
        if side not in (0, 1):
            raise ValueError(f"side: expected 0 (old) or 1 (new), got {side!r}")
        self.field_name, self.side = field_name, side
        super().__init__(F("changes"))

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        column, params = compiler.compile(self.source_expressions[0])
        return f"(({column} -> %s) ->> %s)", (*params, self.field_name, self.side)

    def as_sql(
        self,
        compiler: Any,
        connection: Any,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> Any:
        # SQLite: JSON_EXTRACT gives a JSON string as its text and a JSON null as NULL.
        column, params = compiler.compile(self.source_expressions[0])
        path = f"$.{json.dumps(self.field_name)}[{self.side}]"
        return f"JSON_EXTRACT({column}, %s)", (*params, path)
