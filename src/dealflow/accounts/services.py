"""Writes for accounts and contacts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from dealflow.accounts.models import Account, Contact
from dealflow.core.audit import changes_since, creation_changes, record_audit, snapshot
from dealflow.core.metadata import get_object
from dealflow.core.models import AuditAction
from dealflow.core.validation import apply_values, clean_values, phone_digits
from dealflow.people.models import User


def _writable_names(object_name: str) -> list[str]:
    return [field.name for field in get_object(object_name).fields if field.createable]


def account_create(*, actor: User, data: Mapping[str, Any]) -> Account:
    """Create an account; the owner defaults to the acting user."""
    cleaned = clean_values(get_object("Account"), data, creating=True)
    account = Account(owner=cleaned.pop("owner", None) or actor)
    apply_values(account, cleaned)
    with transaction.atomic():
        account.save()
        record_audit(
            actor,
            account,
            AuditAction.CREATE,
            creation_changes(account, _writable_names("Account")),
        )
    return account


def account_update(*, actor: User, account: Account, data: Mapping[str, Any]) -> Account:
    """Change some fields of an account; records the old and new values."""
    cleaned = clean_values(get_object("Account"), data, creating=False)
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=account.pk)
        before = snapshot(account, cleaned)
        apply_values(account, cleaned)
        changes = changes_since(before, account)
        if changes:
            account.save(update_fields=[*changes, "updated_at"])
            record_audit(actor, account, AuditAction.UPDATE, changes)
    return account


def contact_create(*, actor: User, data: Mapping[str, Any]) -> Contact:
    """Create a contact; the owner defaults to the acting user."""
    cleaned = clean_values(get_object("Contact"), data, creating=True)
    contact = Contact(owner=cleaned.pop("owner", None) or actor)
    apply_values(contact, cleaned)
    contact.phone_digits = phone_digits(contact.phone or contact.mobile_phone)
    with transaction.atomic():
        contact.save()
        record_audit(
            actor,
            contact,
            AuditAction.CREATE,
            creation_changes(contact, _writable_names("Contact")),
        )
    return contact


def contact_update(*, actor: User, contact: Contact, data: Mapping[str, Any]) -> Contact:
    """Change some fields of a contact; records the old and new values."""
    cleaned = clean_values(get_object("Contact"), data, creating=False)
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        before = snapshot(contact, cleaned)
        apply_values(contact, cleaned)
        changes = changes_since(before, contact)
        if changes:
            contact.phone_digits = phone_digits(contact.phone or contact.mobile_phone)
            contact.save(update_fields=[*changes, "phone_digits", "updated_at"])
            record_audit(actor, contact, AuditAction.UPDATE, changes)
    return contact
