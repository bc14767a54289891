"""Duplicate control: blocking keys, the matching rules, and the scan's review queue."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from dealflow.core.models import TimeStampedModel


class DuplicateKey(models.Model):
    """One blocking key of a lead, contact or account (duplicates/keys.py): records that
    share a (kind, value) are compared by the matching rules; no others ever are.

    Kept by duplicates/services.py in the transaction that writes the record, replaced
    whole on each change (so `updated_at` is the time the key was written).
    """

    object_type = models.CharField(max_length=16)  # "Lead", "Contact", "Account"
    record_id = models.BigIntegerField()
    kind = models.CharField(max_length=16)  # email, phone, name, company_person, company, ...
    value = models.CharField(max_length=255)
    # No index on the times: millions of rows, never filtered by them.
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["object_type", "kind", "value", "record_id"]
        indexes = [
            # The lookup of a new record's candidates and the scan's GROUP BY.
            models.Index(
                fields=["object_type", "kind", "value", "record_id"], name="dupkey_lookup"
            ),
            # Replacing a record's keys.
            models.Index(fields=["object_type", "record_id"], name="dupkey_record"),
        ]

    def __str__(self) -> str:
        return f"{self.object_type} {self.record_id} {self.kind}={self.value}"


class DuplicateRuleSetting(TimeStampedModel):
    """The organisation's one row: the matching rules of each object (duplicates/rules.py),
    as admins set them through `PUT /api/v1/duplicates/rules`. No row: the defaults."""

    rules = models.JSONField(default=dict)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"duplicate rules of {', '.join(sorted(self.rules)) or 'no object'}"


class DuplicateGroupStatus(models.TextChoices):
    OPEN = "open", "Open"
    DISMISSED = "dismissed", "Dismissed"
    MERGED = "merged", "Merged"


class DuplicateGroup(TimeStampedModel):
    """Records the scan found to be one another's duplicates, awaiting review.

    `signature` (object type and the sorted member ids) makes a rerun find the group it
    made before instead of making it again; a dismissed group stays dismissed.
    """

    object_type = models.CharField(max_length=16)
    signature = models.CharField(max_length=255, unique=True)
    status = models.CharField(
        max_length=16, choices=DuplicateGroupStatus.choices, default=DuplicateGroupStatus.OPEN
    )
    rule = models.CharField(max_length=80)  # the rule that joined the first pair
    score = models.DecimalField(max_digits=5, decimal_places=2)  # the lowest pair score, 0-100
    record_count = models.PositiveIntegerField()
    last_found_at = models.DateTimeField()
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_found_at", "-id"]
        indexes = [
            models.Index(fields=["status", "object_type", "id"], name="dupgroup_queue"),
        ]

    def __str__(self) -> str:
        return f"{self.object_type} group {self.pk} ({self.record_count} records, {self.status})"


class DuplicateGroupMember(TimeStampedModel):
    """One record of a duplicate group."""

    group = models.ForeignKey(DuplicateGroup, on_delete=models.CASCADE, related_name="members")
    record_id = models.BigIntegerField()

    class Meta:
        ordering = ["group", "record_id"]
        constraints = [
            models.UniqueConstraint(fields=["group", "record_id"], name="dupmember_unique"),
        ]
        indexes = [models.Index(fields=["record_id"], name="dupmember_record")]

    def __str__(self) -> str:
        return f"group {self.group_id}: record {self.record_id}"


class MergeStatus(models.TextChoices):
    MERGED = "merged", "Merged"
    UNDONE = "undone", "Undone"


class Merge(TimeStampedModel):
    """One merge of up to three leads, contacts or accounts into a master record
    (Salesforce's MasterRecord and its MergedRecordIds), with what undoing it needs.

    `snapshot` (duplicates/merge.py) holds every row the merge changed or removed as it
    was before: the master's row before and after, the merged records' rows, the related
    rows re-parented to the master (model, field, ids, former parent) and those removed
    because the master already had their like (one-to-one and unique conflicts), and the
    duplicate keys and review-queue rows it replaced. Undo puts them all back.
    """

    object_type = models.CharField(max_length=16)  # "Lead", "Contact", "Account"
    master_record_id = models.BigIntegerField()
    merged_record_ids = models.JSONField(default=list)  # primary keys of the removed records
    field_choices = models.JSONField(default=dict)  # field -> primary key whose value won
    status = models.CharField(
        max_length=16, choices=MergeStatus.choices, default=MergeStatus.MERGED
    )
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    undone_at = models.DateTimeField(null=True, blank=True)
    snapshot = models.JSONField(default=dict)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["object_type", "master_record_id"], name="merge_master_idx"),
        ]

    def __str__(self) -> str:
        merged = ", ".join(str(record_id) for record_id in self.merged_record_ids)
        return f"{self.object_type} {merged} into {self.master_record_id} ({self.status})"
