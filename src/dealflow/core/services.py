"""Writes shared by every domain: deleting a record, changing sharing defaults."""

from __future__ import annotations

from typing import Any

from django.db import models, transaction

from dealflow.core.access import forget_sharing_defaults, is_admin, require_edit
from dealflow.core.audit import json_value, record_audit
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import Access, AuditAction, SharingDefault


def record_delete(*, actor: Any, record: models.Model) -> None:
    """Delete a record the actor may change; the audit event keeps its last values."""
    require_edit(actor, record)
    last_values = {
        model_field.name: [json_value(getattr(record, model_field.name)), None]
        for model_field in record._meta.concrete_fields
        if model_field.name not in ("id", "created_at", "updated_at")
    }
    with transaction.atomic():
        record_audit(actor, record, AuditAction.DELETE, last_values)
        record.delete()


def sharing_default_set(*, actor: Any, object_name: str, access: str) -> SharingDefault:
    """Set an object's organisation-wide default access (admins only)."""
    if not is_admin(actor):
        raise DomainError(
            ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY, "only admins change sharing defaults"
        )
    if access not in Access.values:
        raise DomainError(
            ErrorCode.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST,
            f"access: expected one of {', '.join(Access.values)}, got {access!r}",
            ["access"],
        )
    with transaction.atomic():
        sharing, _created = SharingDefault.objects.update_or_create(
            object_name=object_name, defaults={"access": access}
        )
    forget_sharing_defaults()
    return sharing
