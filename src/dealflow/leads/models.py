"""Leads and their statuses."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q

from dealflow.core.fields import MatchKeyField
from dealflow.core.models import PublicIdMixin, TimeStampedModel


class LeadStatus(TimeStampedModel):
    """A value of Lead.Status; flags say which are the default, converted and closed ones."""

    object_name = "LeadStatus"
    # What an admin sets (lead_status_set), in the order the back office and API show it.
    SETTINGS = ("name", "sort_order", "is_default", "is_converted", "is_closed", "is_active")

    name = models.CharField(max_length=80, unique=True)
    sort_order = models.PositiveIntegerField(default=0)
    is_default = models.BooleanField(default=False)
    is_converted = models.BooleanField(default=False)
    is_closed = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sort_order", "name"]
        verbose_name_plural = "lead statuses"
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_lead_status"
            ),
        ]

    def __str__(self) -> str:
        return self.name


# Fields the lead list filters on, each indexed with the list's default order.
LIST_FILTER_FIELDS = ("owner_user", "owner_queue", "status", "lead_source", "industry", "rating")


class Lead(PublicIdMixin, TimeStampedModel):
    """An unqualified prospect, until conversion turns it into account, contact and deal."""

    object_name = "Lead"

    salutation = models.CharField(max_length=40, blank=True)
    first_name = models.CharField(max_length=40, blank=True)
    last_name = models.CharField(max_length=80)
    title = models.CharField(max_length=128, blank=True)
    company = models.CharField(max_length=255)
    email = models.CharField(max_length=80, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    mobile_phone = models.CharField(max_length=40, blank=True)
    phone_digits = MatchKeyField(
        max_length=40, sources=("phone", "mobile_phone"), normaliser="digits"
    )
    website = models.CharField(max_length=255, blank=True)
    street = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=40, blank=True)
    state = models.CharField(max_length=80, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=80, blank=True)
    lead_source = models.CharField(max_length=255, blank=True)
    # No single-column indexes on status and owners: the composite indexes below start
    # with them, and every index slows each insert.
    status = models.ForeignKey(
        LeadStatus, on_delete=models.PROTECT, related_name="leads", db_index=False
    )
    rating = models.CharField(max_length=255, blank=True)
    industry = models.CharField(max_length=255, blank=True)
    annual_revenue = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    number_of_employees = models.PositiveIntegerField(null=True, blank=True)
    description = models.TextField(blank=True)
    do_not_call = models.BooleanField(default=False)
    has_opted_out_of_email = models.BooleanField(default=False)
    # Salesforce's OwnerId is a user or a queue: two columns, exactly one of them set.
    owner_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="owned_leads",
        db_index=False,
    )
    owner_queue = models.ForeignKey(
        "people.Queue",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="leads",
        db_index=False,
    )
    is_converted = models.BooleanField(default=False, editable=False)
    converted_date = models.DateField(null=True, blank=True, editable=False)
    converted_account = models.ForeignKey(
        "accounts.Account",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="converted_leads",
        editable=False,
        db_index=False,
    )
    converted_contact = models.ForeignKey(
        "accounts.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="converted_leads",
        editable=False,
        db_index=False,
    )
    converted_opportunity = models.ForeignKey(
        "sales.Opportunity",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="converted_leads",
        editable=False,
        db_index=False,
    )
    # Matching keys (core/matching.py): search, sort and the email uniqueness rule.
    first_name_key = MatchKeyField(max_length=120, sources=("first_name",))
    last_name_key = MatchKeyField(sources=("last_name",))
    company_key = MatchKeyField(sources=("company",))
    email_key = MatchKeyField(sources=("email",), normaliser="email")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["email_key"],
                condition=Q(is_converted=False) & ~Q(email_key=""),
                name="lead_unconverted_email_unique",
                violation_error_message="An unconverted lead with this email already exists.",
            ),
            models.CheckConstraint(
                condition=(Q(owner_user__isnull=False) & Q(owner_queue__isnull=True))
                | (Q(owner_user__isnull=True) & Q(owner_queue__isnull=False)),
                name="lead_owned_by_user_or_queue",
            ),
        ]
        indexes = [
            # Search and sort by name, company and email (prefix ranges; see core/matching).
            *(
                models.Index(fields=[key, "id"], name=f"lead_{key}_idx")
                for key in ("first_name_key", "last_name_key", "company_key", "email_key")
            ),
            # The list's filters, each with the default order (newest first), so a
            # page of 50 is read straight off an index whatever the filter's value.
            *(
                models.Index(fields=[field, "created_at", "id"], name=f"lead_{field}_created_idx")
                for field in LIST_FILTER_FIELDS
            ),
            # Partial indexes: most leads have none of these values yet, and a row a
            # partial index leaves out costs no index write when it is inserted.
            models.Index(
                fields=["converted_date"],
                condition=Q(converted_date__isnull=False),
                name="lead_converted_date_idx",
            ),
            *(
                models.Index(
                    fields=[field],
                    condition=Q(**{f"{field}__isnull": False}),
                    name=f"lead_{field}_idx",
                )
                for field in ("converted_account", "converted_contact", "converted_opportunity")
            ),
            models.Index(
                fields=["phone_digits"], condition=~Q(phone_digits=""), name="lead_phone_digits_idx"
            ),
        ]

    def __str__(self) -> str:
        name = " ".join(part for part in (self.first_name, self.last_name) if part)
        return f"{name} ({self.company})"

    @property
    def owner(self):
        """The owning user or queue."""
        return self.owner_user if self.owner_user_id else self.owner_queue


# ---------------------------------------------------------------------------------------
# Qualification (DOMAIN.md section 6; services and selectors in leads/qualification.py)


class QualificationFramework(TimeStampedModel):
    """A qualification checklist (BANT, CHAMP, MEDDIC), seeded by a data migration."""

    object_name = "QualificationFramework"

    name = models.CharField(max_length=40, unique=True)
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "name"]

    def __str__(self) -> str:
        return self.name


class QualificationItem(TimeStampedModel):
    """One item of a framework's checklist. `key` is its stable API name ("budget"); admins
    may change the label, the order, retire it (`is_active`) or add items."""

    object_name = "QualificationItem"
    SETTINGS = ("label", "sort_order", "is_active")

    framework = models.ForeignKey(
        QualificationFramework, on_delete=models.CASCADE, related_name="items"
    )
    key = models.CharField(max_length=40)
    label = models.CharField(max_length=80)
    sort_order = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["framework", "sort_order", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["framework", "key"], name="qualification_item_key_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.framework_id}: {self.label}"


class LeadQualificationAnswer(TimeStampedModel):
    """A lead's answer to one checklist item: met or not, a note, who set it and when."""

    object_name = "LeadQualificationAnswer"

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="qualification_answers")
    item = models.ForeignKey(QualificationItem, on_delete=models.CASCADE, related_name="+")
    met = models.BooleanField(default=False)
    note = models.TextField(blank=True)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    set_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["lead", "item"], name="lead_qualification_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id} {self.item_id}: {'met' if self.met else 'not met'}"


class QualificationSetting(TimeStampedModel):
    """The organisation's one row: the framework conversion requires (None: none) and how
    many of its active items must be met (None: all of them)."""

    object_name = "QualificationSetting"

    required_framework = models.ForeignKey(
        QualificationFramework, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    minimum_items = models.PositiveIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"required: {self.required_framework_id}, minimum: {self.minimum_items}"


class QualificationOverride(TimeStampedModel):
    """A conversion a manager or admin let through without the required qualification."""

    object_name = "QualificationOverride"

    lead = models.OneToOneField(
        Lead, on_delete=models.CASCADE, related_name="qualification_override"
    )
    framework = models.CharField(max_length=40)
    missing = models.JSONField(default=list, blank=True)  # the labels of the items not met
    reason = models.TextField()
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    overridden_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.reason[:40]}"


# ---------------------------------------------------------------------------------------
# Service levels (issue 7; rules and services in leads/service_levels.py)


def default_working_days() -> list[int]:
    """Monday to Friday (Python's weekday numbers: Monday is 0)."""
    return [0, 1, 2, 3, 4]


class ServiceLevelSetting(TimeStampedModel):
    """The organisation's one row: how many working hours an open lead may stay untouched
    (None: no limit), the working week in the site's time zone (TIME_ZONE), and whether
    the assignment rules re-route a lead that breaches the limit."""

    object_name = "ServiceLevelSetting"

    response_hours = models.PositiveIntegerField(null=True, blank=True, default=8)
    working_days = models.JSONField(default=default_working_days)
    day_start = models.TimeField(default=datetime.time(9))
    day_end = models.TimeField(default=datetime.time(17))
    reroute_when_breached = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"response within {self.response_hours} working hours"


# ---------------------------------------------------------------------------------------
# Web-to-Lead (DOMAIN.md section 8; the service in leads/web_to_lead.py)


def default_return_hosts() -> list[str]:
    """No host: a form's retURL is not followed until an admin allows its host."""
    return []


class WebToLeadSetting(TimeStampedModel):
    """The organisation's one row for Web-to-Lead: the hosts a form's retURL may send the
    visitor back to, the repeat window (minutes: a second submission of the same email
    within it updates the lead), the submissions allowed per client address per hour,
    the lead source of a form that gives none, and the default creator (Salesforce's
    "Default Lead Creator": the acting user, and the owner when no rule assigns); the
    auto-response emailed to the submitter of a new lead (from, subject, plain-text body
    with {first_name} and {company} placeholders), off until an admin turns it on."""

    object_name = "WebToLeadSetting"

    allowed_return_hosts = models.JSONField(default=default_return_hosts, blank=True)
    repeat_window_minutes = models.PositiveIntegerField(default=10)
    submissions_per_hour = models.PositiveIntegerField(default=20)
    default_lead_source = models.CharField(max_length=255, blank=True, default="Web")
    default_creator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    auto_response_enabled = models.BooleanField(default=False)
    auto_response_from = models.CharField(max_length=320, blank=True, default="")
    auto_response_subject = models.CharField(max_length=255, blank=True, default="")
    auto_response_body = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"web-to-lead: {len(self.allowed_return_hosts)} return hosts"
