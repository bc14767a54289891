"""Opportunities, their stages and history, contact roles and activities (tasks)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from dealflow.core.fields import MatchKeyField
from dealflow.core.models import PublicIdMixin, TimeStampedModel


class ForecastCategory(models.TextChoices):
    PIPELINE = "Pipeline", "Pipeline"
    BEST_CASE = "Best Case", "Best Case"
    COMMIT = "Commit", "Commit"
    CLOSED = "Closed", "Closed"
    OMITTED = "Omitted", "Omitted"


class OpportunityStage(TimeStampedModel):
    """A sales stage; moving a deal into it sets probability, forecast category, closed, won."""

    object_name = "OpportunityStage"
    # What an admin sets (opportunity_stage_set), in the order the back office and API show.
    SETTINGS = (
        "name",
        "sort_order",
        "probability",
        "forecast_category",
        "is_closed",
        "is_won",
        "is_active",
        "stall_days",
    )

    name = models.CharField(max_length=80, unique=True)
    sort_order = models.PositiveIntegerField(default=0)
    probability = models.PositiveSmallIntegerField()
    forecast_category = models.CharField(max_length=20, choices=ForecastCategory.choices)
    is_closed = models.BooleanField(default=False)
    is_won = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    # An open deal with no stage change for more than this many days is stalled (issue 7,
    # Stalled deals); None: never stalled for its time in this stage.
    stall_days = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["sort_order", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(probability__lte=100), name="stage_probability_at_most_100"
            ),
            models.CheckConstraint(
                condition=Q(is_won=False) | Q(is_closed=True), name="stage_won_is_closed"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_lost(self) -> bool:
        return self.is_closed and not self.is_won


class Opportunity(PublicIdMixin, TimeStampedModel):
    """A qualified deal moving through stages until it is won or lost."""

    object_name = "Opportunity"

    name = models.CharField(max_length=120)
    account = models.ForeignKey(
        "accounts.Account",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="opportunities",
    )
    close_date = models.DateField()
    # No single-column index: opportunity_stage_close_idx starts with the stage.
    stage = models.ForeignKey(
        OpportunityStage, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    probability = models.PositiveSmallIntegerField()
    forecast_category = models.CharField(max_length=20, choices=ForecastCategory.choices)
    is_closed = models.BooleanField(default=False, editable=False)
    is_won = models.BooleanField(default=False, editable=False)
    type = models.CharField(max_length=255, blank=True)
    lead_source = models.CharField(max_length=255, blank=True)
    next_step = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    loss_reason = models.CharField(max_length=255, blank=True)
    # No single-column index: opportunity_owner_totals_idx starts with the owner.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="owned_opportunities",
        db_index=False,
    )
    name_key = MatchKeyField(max_length=120, sources=("name",))  # search and sort (core/matching)

    class Meta:
        ordering = ["close_date", "id"]
        verbose_name_plural = "opportunities"
        constraints = [
            models.CheckConstraint(
                condition=Q(probability__lte=100), name="opportunity_probability_at_most_100"
            ),
        ]
        indexes = [
            # A user's open deals, or those closed in a date range (My work, the board's
            # "Mine", and everything a rep sees when deals are private), with what the
            # board's column totals sum: read from the index alone on PostgreSQL.
            models.Index(
                fields=["owner", "is_closed", "close_date"],
                include=["stage", "probability", "amount"],
                name="opportunity_owner_totals_idx",
            ),
            # The board (bench/pages.py): a column's cards by close date, 50 at a time,
            # read off the index instead of sorting every deal in the stage.
            models.Index(fields=["stage", "close_date", "id"], name="opportunity_stage_close_idx"),
            # Open deals, or deals closed in a date range, with what the board's column
            # totals sum: on PostgreSQL the totals come from the index alone (an
            # index-only scan), not from the table's rows. SQLite ignores `include`.
            models.Index(
                fields=["is_closed", "close_date"],
                include=["stage", "probability", "amount"],
                name="opportunity_close_totals_idx",
            ),
            models.Index(fields=["name_key", "id"], name="opportunity_name_key_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def expected_revenue(self) -> Decimal | None:
        return expected_revenue(self.amount, self.probability)


def expected_revenue(amount: Decimal | None, probability: int) -> Decimal | None:
    """Amount x Probability / 100 (DOMAIN.md section 4), rounded half up to cents as
    Salesforce rounds (`10.01` at 75% is `7.51`, `0.25` at 50% is `0.13`); None without an amount."""
    if amount is None:
        return None
    revenue = (amount * probability / Decimal(100)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return revenue if revenue else abs(revenue)  # never -0.00


class OpportunityContactRole(PublicIdMixin, TimeStampedModel):
    """The part a contact plays in a deal; at most one primary contact per opportunity."""

    object_name = "OpportunityContactRole"

    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.CASCADE, related_name="contact_roles"
    )
    contact = models.ForeignKey(
        "accounts.Contact", on_delete=models.CASCADE, related_name="opportunity_roles"
    )
    role = models.CharField(max_length=255, blank=True)
    is_primary = models.BooleanField(default=False)
    role_key = MatchKeyField(sources=("role",))  # search (core/matching)

    class Meta:
        ordering = ["opportunity", "-is_primary", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["opportunity", "contact"], name="contact_role_once_per_opportunity"
            ),
            models.UniqueConstraint(
                fields=["opportunity"],
                condition=Q(is_primary=True),
                name="one_primary_contact_role",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact} as {self.role or 'contact'} on {self.opportunity}"


class OpportunityHistory(models.Model):
    """A snapshot appended whenever amount, probability, stage or close date changes."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="history")
    stage_name = models.CharField(max_length=80)
    amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    probability = models.PositiveSmallIntegerField()
    forecast_category = models.CharField(max_length=20, choices=ForecastCategory.choices)
    close_date = models.DateField()
    previous_amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    previous_close_date = models.DateField(null=True, blank=True)
    previous_stage_name = models.CharField(max_length=80, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    # A stage change (stage_name differs from previous_stage_name) begins a stay in its
    # stage; this is when the stay ended: the created_at of the deal's next stage change
    # (in created_at, id order). Null while the deal is still in the stage, and on rows
    # that change no stage. Kept by services.stage_stays_record; read by the
    # stage_duration report instead of walking the history (issue 9).
    stage_left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["opportunity", "created_at", "id"]
        verbose_name_plural = "opportunity history"
        indexes = [
            models.Index(fields=["opportunity", "created_at"], name="opportunity_history_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.opportunity_id} {self.stage_name} at {self.created_at:%Y-%m-%d %H:%M}"


class TaskType(models.TextChoices):
    CALL = "call", "Call"
    EMAIL = "email", "Email"
    MEETING = "meeting", "Meeting"
    TODO = "todo", "To-do"


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    COMPLETED = "completed", "Completed"


class TaskPriority(models.TextChoices):
    HIGH = "high", "High"
    NORMAL = "normal", "Normal"
    LOW = "low", "Low"


class Task(PublicIdMixin, TimeStampedModel):
    """An activity (call, email, meeting, to-do) about a lead or a contact."""

    object_name = "Task"

    subject = models.CharField(max_length=255)
    type = models.CharField(max_length=20, choices=TaskType.choices, default=TaskType.TODO)
    status = models.CharField(max_length=20, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    priority = models.CharField(
        max_length=20, choices=TaskPriority.choices, default=TaskPriority.NORMAL
    )
    due_date = models.DateField(null=True, blank=True)
    description = models.TextField(blank=True)
    lead = models.ForeignKey(
        "leads.Lead", null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    contact = models.ForeignKey(
        "accounts.Contact", null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    account = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    opportunity = models.ForeignKey(
        Opportunity, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_tasks"
    )
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)
    subject_key = MatchKeyField(sources=("subject",))  # search (core/matching)

    class Meta:
        ordering = ["due_date", "id"]
        constraints = [
            # Like Salesforce's WhoId: a task is about a lead or a contact, never both.
            models.CheckConstraint(
                condition=(Q(lead__isnull=False) & Q(contact__isnull=True))
                | (Q(lead__isnull=True) & Q(contact__isnull=False)),
                name="task_about_lead_or_contact",
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "status"], name="task_owner_status_idx"),
            models.Index(fields=["subject_key", "id"], name="task_subject_key_idx"),
        ]

    def __str__(self) -> str:
        return self.subject

    @property
    def is_closed(self) -> bool:
        return self.status == TaskStatus.COMPLETED
