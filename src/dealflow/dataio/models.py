"""Import jobs (docs/import.md): the job, what each committed batch did, external ids.

A job is committed batch by batch: each batch's records, its `ImportJobRecord` rows, its
errors and the job's `last_committed_row` are written in one transaction, so a job
killed at any moment resumes after its last committed row with nothing lost or doubled.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from dealflow.core.models import TimeStampedModel


class ImportObject(models.TextChoices):
    LEAD = "Lead", "Leads"
    ACCOUNT = "Account", "Accounts"
    CONTACT = "Contact", "Contacts"
    OPPORTUNITY = "Opportunity", "Opportunities"


class OnDuplicate(models.TextChoices):
    SKIP = "skip", "Skip"
    UPDATE = "update", "Update the existing record"
    CREATE = "create", "Create another record"


class ImportStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    REVERTED = "reverted", "Reverted"


class ImportJob(TimeStampedModel):
    """One CSV file imported into one object, with its options, progress and counts.

    `last_committed_row` is the number of the last data row (1 = the row after the
    header) whose outcome is committed; a resume starts after it.
    """

    object_name = "ImportJob"

    target = models.CharField(max_length=20, choices=ImportObject.choices)
    file_path = models.CharField(max_length=1000)
    file_name = models.CharField(max_length=255)
    size = models.BigIntegerField(default=0)  # bytes
    sha256 = models.CharField(max_length=64)
    mapping = models.JSONField(default=dict, blank=True)  # CSV header -> native field name
    options = models.JSONField(default=dict, blank=True)  # on_duplicate, dry_run, batch_size
    status = models.CharField(
        max_length=20, choices=ImportStatus.choices, default=ImportStatus.PENDING
    )
    message = models.TextField(blank=True)  # why a job failed or was refused, for people
    rows_read = models.PositiveIntegerField(default=0)
    rows_created = models.PositiveIntegerField(default=0)
    rows_updated = models.PositiveIntegerField(default=0)
    rows_skipped = models.PositiveIntegerField(default=0)
    rows_failed = models.PositiveIntegerField(default=0)
    last_committed_row = models.PositiveIntegerField(default=0)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"import {self.pk} of {self.file_name} into {self.target} ({self.status})"

    @property
    def rows_done(self) -> int:
        return self.rows_created + self.rows_updated + self.rows_skipped + self.rows_failed


class RecordAction(models.TextChoices):
    CREATED = "created", "Created"
    UPDATED = "updated", "Updated"


class ImportJobRecord(TimeStampedModel):
    """A record a job created or updated; for an update, the values it had before."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="records")
    record_id = models.BigIntegerField()
    action = models.CharField(max_length=10, choices=RecordAction.choices)
    previous_values = models.JSONField(null=True, blank=True)  # native name -> stored value

    class Meta:
        ordering = ["job", "id"]
        indexes = [models.Index(fields=["job", "action", "id"], name="import_record_job_idx")]

    def __str__(self) -> str:
        return f"job {self.job_id}: {self.action} {self.record_id}"


class ImportRowError(TimeStampedModel):
    """One problem with one row (or with the file, row 0): the error report's lines."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="errors")
    row_number = models.PositiveIntegerField()  # data row; 0: the file or its header
    field = models.CharField(max_length=255, blank=True)
    value = models.TextField(blank=True)
    code = models.CharField(max_length=60)
    message = models.TextField()

    class Meta:
        ordering = ["job", "row_number", "id"]

    def __str__(self) -> str:
        return f"job {self.job_id} row {self.row_number}: {self.message[:60]}"


class ExternalId(TimeStampedModel):
    """A Salesforce (or other system's) id of a record imported here, so that a later
    file's AccountId or OwnerId finds the record imported from an earlier one."""

    target = models.CharField(max_length=20, choices=ImportObject.choices)
    external_id = models.CharField(max_length=255)
    record_id = models.BigIntegerField()
    job = models.ForeignKey(
        ImportJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["target", "external_id"]
        constraints = [
            models.UniqueConstraint(fields=["target", "external_id"], name="external_id_unique"),
        ]
        indexes = [models.Index(fields=["target", "record_id"], name="external_id_record_idx")]

    def __str__(self) -> str:
        return f"{self.target} {self.external_id} -> {self.record_id}"


class ImportMapping(TimeStampedModel):
    """A saved header mapping (CSV header -> native field name) for one object, by name."""

    name = models.CharField(max_length=100)
    target = models.CharField(max_length=20, choices=ImportObject.choices)
    mapping = models.JSONField(default=dict)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name", "target"], name="import_mapping_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.target})"
