"""Audit events: who changed which record and each field's old and new value."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.db import models

from dealflow.core.models import AuditAction, AuditEvent


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
    """An unsaved event; callers save it (or bulk-create several) in their transaction."""
    return AuditEvent(
        actor=actor if getattr(actor, "pk", None) else None,
        object_name=object_name or instance.object_name,  # type: ignore[attr-defined]
        record_id=instance.pk,
        action=action,
        changes=dict(changes),
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
