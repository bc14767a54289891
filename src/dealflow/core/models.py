"""Base models and the records every domain shares: picklist values, audit events, idempotency."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models

from dealflow.core import ids
from dealflow.core.fields import match_keys_of


class TimeStampedModel(models.Model):
    """Adds created_at / updated_at, kept by the database layer on every save."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save; a partial save (`update_fields`) also writes the keys made from those fields."""
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = [
                *update_fields,
                *match_keys_of(type(self), update_fields),
            ]
        super().save(*args, **kwargs)


class PublicIdMixin:
    """Gives a model the Salesforce-shaped `public_id` derived from its primary key."""

    object_name: ClassVar[str]
    pk: int | None

    @property
    def public_id(self) -> str | None:
        return ids.encode(self.object_name, self.pk) if self.pk else None


class Picklist(models.TextChoices):
    LEAD_SOURCE = "lead_source", "Lead source"
    INDUSTRY = "industry", "Industry"
    RATING = "rating", "Rating"
    ACCOUNT_TYPE = "account_type", "Account type"
    OPPORTUNITY_TYPE = "opportunity_type", "Opportunity type"
    CONTACT_ROLE = "contact_role", "Contact role"
    LOSS_REASON = "loss_reason", "Loss reason"
    SALUTATION = "salutation", "Salutation"


class PicklistValue(TimeStampedModel):
    """One allowed value of a configurable picklist (lead source, industry, ...)."""

    object_name = "PicklistValue"
    # What an admin sets (picklist_value_set), in the order the API shows it.
    SETTINGS = ("picklist", "value", "sort_order", "is_active")

    picklist = models.CharField(max_length=40, choices=Picklist.choices)
    value = models.CharField(max_length=255)
    sort_order = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["picklist", "sort_order", "value"]
        constraints = [
            models.UniqueConstraint(fields=["picklist", "value"], name="picklist_value_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_picklist_display()}: {self.value}"


class AuditAction(models.TextChoices):
    CREATE = "create", "Create"
    UPDATE = "update", "Update"
    DELETE = "delete", "Delete"
    CONVERT = "convert", "Convert"
    COMPLETE = "complete", "Complete"


class AuditEvent(models.Model):
    """Who changed which record, how, and each changed field's old and new value."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    object_name = models.CharField(max_length=40)
    record_id = models.BigIntegerField()
    action = models.CharField(max_length=20, choices=AuditAction.choices)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)  # events are never edited; kept by convention

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["object_name", "record_id"], name="audit_record_idx")]

    def __str__(self) -> str:
        return f"{self.action} {self.object_name} {self.record_id} by {self.actor_id}"

    @property
    def record_public_id(self) -> str | None:
        if self.object_name not in ids.KEY_PREFIXES:
            return None
        return ids.encode(self.object_name, self.record_id)


class IdempotencyRecord(models.Model):
    """The first result of an operation retried with the same idempotency key."""

    operation = models.CharField(max_length=60)
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    result = models.JSONField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["operation", "key"], name="idempotency_key_unique"),
        ]
        # The hourly purge deletes by age (core/idempotency.py idempotency_purge).
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self) -> str:
        return f"{self.operation} {self.key}"


class Access(models.TextChoices):
    PRIVATE = "private", "Private"
    READ = "read", "Public read only"
    READ_WRITE = "read_write", "Public read/write"


class SharingDefault(TimeStampedModel):
    """The organisation-wide default access to one object's records (absent: read/write)."""

    object_name = models.CharField(max_length=40, unique=True)
    access = models.CharField(max_length=20, choices=Access.choices, default=Access.READ_WRITE)

    class Meta:
        ordering = ["object_name"]

    def __str__(self) -> str:
        return f"{self.object_name}: {self.get_access_display()}"


class ConfigurationVersion(models.Model):
    """One row whose `version` every change of cached configuration replaces (core/cache.py).

    Processes compare it with the version their caches were loaded at, so a change made
    by any process shows on the next request of every process.
    """

    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"configuration version {self.version}"
