"""Writes shared by every domain: deleting a record, changing sharing defaults."""

from __future__ import annotations

from typing import Any

from django.db import models, transaction

from dealflow.core.access import require_admin, require_edit
from dealflow.core.audit import json_value, record_audit
from dealflow.core.cache import configuration_changed
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.matching import fold
from dealflow.core.models import Access, AuditAction, Picklist, PicklistValue, SharingDefault
from dealflow.core.validation import check_storable_text


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
    require_admin(actor, "sharing defaults")
    if access not in Access.values:
        raise DomainError(
            ErrorCode.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST,
            f"access: expected one of {', '.join(Access.values)}, got {access!r}",
            ["access"],
        )
    with transaction.atomic():
        previous = SharingDefault.objects.filter(object_name=object_name).first()
        sharing, _created = SharingDefault.objects.update_or_create(
            object_name=object_name, defaults={"access": access}
        )
        old_access = previous.access if previous else Access.READ_WRITE
        record_audit(
            actor,
            sharing,
            AuditAction.UPDATE,
            {object_name: [old_access, access]},
            object_name="SharingDefault",
        )
        configuration_changed()
    return sharing


def picklist_value_set(
    *, actor: Any, picklist: str, value: str, sort_order: int | None = None, is_active: bool = True
) -> PicklistValue:
    """Add a picklist value or change its order and whether it is offered (admins only)."""
    require_admin(actor, "picklists")
    if picklist not in Picklist.values:
        raise DomainError(
            ErrorCode.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST,
            f"picklist: expected one of {', '.join(Picklist.values)}, got {picklist!r}",
            ["picklist"],
        )
    value = (value or "").strip() if isinstance(value, str) else ""
    if not value or len(value) > 255:
        raise DomainError(ErrorCode.REQUIRED_FIELD_MISSING, "value: 1 to 255 characters", ["value"])
    with transaction.atomic():
        existing = PicklistValue.objects.select_for_update().filter(picklist=picklist, value=value)
        row = existing.first() or PicklistValue(picklist=picklist, value=value)
        if row.pk is None:
            _refuse_another_spelling(picklist, value)
        before = {"sort_order": row.sort_order, "is_active": row.is_active} if row.pk else {}
        if sort_order is not None:
            row.sort_order = sort_order
        elif row.pk is None:
            last = PicklistValue.objects.filter(picklist=picklist).order_by("-sort_order").first()
            row.sort_order = (last.sort_order + 1) if last else 1
        row.is_active = is_active
        row.save()
        changes = {
            name: [before.get(name), getattr(row, name)]
            for name in ("sort_order", "is_active")
            if before.get(name) != getattr(row, name)
        }
        record_audit(actor, row, AuditAction.UPDATE if before else AuditAction.CREATE, changes)
        configuration_changed()
    return row


def _refuse_another_spelling(picklist: str, value: str) -> None:
    """A new value that folds to an existing one ("web" beside "Web") is refused: filters
    match picklist values case-insensitively (core/matching.py), so the two would be one."""
    wanted = fold(value)
    for existing in PicklistValue.objects.filter(picklist=picklist).values_list("value", flat=True):
        if fold(existing) == wanted:
            raise DomainError(
                ErrorCode.DUPLICATE_VALUE,
                f"value: {picklist} already has {existing!r}, the same value spelt differently",
                ["value"],
            )


def configuration_name(name: Any) -> str:
    """A status's or stage's name, trimmed, or REQUIRED_FIELD_MISSING."""
    name = check_storable_text("name", name).strip() if isinstance(name, str) else ""
    if not name or len(name) > 80:
        raise DomainError(ErrorCode.REQUIRED_FIELD_MISSING, "name: 1 to 80 characters", ["name"])
    return name


def locked_configuration_row(model: Any, name: str, row: Any) -> Any:
    """The configuration row to change (locked): `row` if given, else the one called `name`.

    Renaming to a name another row has is refused.
    """
    rows = model.objects.select_for_update()
    if row is None:
        return rows.filter(name=name).first()
    if model.objects.filter(name=name).exclude(pk=row.pk).exists():
        raise DomainError(ErrorCode.DUPLICATE_VALUE, f"name: {name!r} is taken", ["name"])
    return rows.get(pk=row.pk)
