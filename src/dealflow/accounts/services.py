"""Writes for accounts and contacts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from django.db import transaction

from dealflow.accounts.models import Account, Contact
from dealflow.core.access import require_edit
from dealflow.core.audit import changes_since, creation_changes, record_audit, snapshot
from dealflow.core.metadata import get_object
from dealflow.core.models import AuditAction
from dealflow.core.services import record_delete
from dealflow.core.validation import apply_values, clean_values
from dealflow.duplicates.services import (
    duplicate_keys_changed,
    duplicate_keys_write,
    duplicates_check,
)
from dealflow.people.models import User

Record = TypeVar("Record", Account, Contact)


def _create(
    model: type[Record], *, actor: User, data: Mapping[str, Any], allow_duplicates: bool
) -> Record:
    object_def = get_object(model.object_name)
    cleaned = clean_values(object_def, data, creating=True)
    record = model(owner=cleaned.pop("owner", None) or actor)
    apply_values(record, cleaned)
    profile = duplicates_check(
        object_name=model.object_name, record=record, actor=actor, allow_duplicates=allow_duplicates
    )
    with transaction.atomic():
        record.save()
        names = [field.name for field in object_def.fields if field.createable]
        record_audit(actor, record, AuditAction.CREATE, creation_changes(record, names))
        duplicate_keys_write(
            object_name=model.object_name, record=record, profile=profile, created=True
        )
    return record


def _update(record: Record, *, actor: User, data: Mapping[str, Any]) -> Record:
    model = type(record)
    cleaned = clean_values(get_object(model.object_name), data, creating=False)
    with transaction.atomic():
        record = model.objects.select_for_update().get(pk=record.pk)
        require_edit(actor, record)
        before = snapshot(record, cleaned)
        apply_values(record, cleaned)
        changes: dict[str, list[Any]] = changes_since(before, record)
        if not changes:
            return record
        record.save(update_fields=[*changes, "updated_at"])  # and the keys (TimeStampedModel)
        record_audit(actor, record, AuditAction.UPDATE, changes)
        if duplicate_keys_changed(model.object_name, changes):
            duplicate_keys_write(object_name=model.object_name, record=record, created=False)
    return record


def account_create(
    *, actor: User, data: Mapping[str, Any], allow_duplicates: bool = False
) -> Account:
    """Create an account; the owner defaults to the acting user. One the duplicate rules
    match is refused (DUPLICATES_DETECTED, docs/duplicates.md) unless `allow_duplicates`."""
    return _create(Account, actor=actor, data=data, allow_duplicates=allow_duplicates)


def account_update(*, actor: User, account: Account, data: Mapping[str, Any]) -> Account:
    """Change some fields of an account; records the old and new values."""
    return _update(account, actor=actor, data=data)


def contact_create(
    *, actor: User, data: Mapping[str, Any], allow_duplicates: bool = False
) -> Contact:
    """Create a contact; the owner defaults to the acting user. One the duplicate rules
    match is refused (DUPLICATES_DETECTED, docs/duplicates.md) unless `allow_duplicates`."""
    return _create(Contact, actor=actor, data=data, allow_duplicates=allow_duplicates)


def contact_update(*, actor: User, contact: Contact, data: Mapping[str, Any]) -> Contact:
    """Change some fields of a contact; records the old and new values."""
    return _update(contact, actor=actor, data=data)


def account_delete(*, actor: User, account: Account) -> None:
    """Delete an account; its contacts and deals stay, without an account."""
    record_delete(actor=actor, record=account)


def contact_delete(*, actor: User, contact: Contact) -> None:
    """Delete a contact with its roles on deals and its tasks."""
    record_delete(actor=actor, record=contact)
