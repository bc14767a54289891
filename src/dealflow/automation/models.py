"""Assignment rules (DOMAIN.md section 7): the rule set, its ordered entries, and decisions."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from dealflow.core.models import TimeStampedModel


class AssignmentRuleSet(TimeStampedModel):
    """One version of the rules; exactly one is active at a time, or none.

    Replacing the rules makes a new set and retires the old one, so a decision keeps
    pointing at the entry that made it.
    """

    object_name = "AssignmentRuleSet"

    is_active = models.BooleanField(default=True)
    # Who gets a lead no entry matches; none means the acting user (as without rules).
    default_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="one_active_rule_set"
            ),
        ]

    def __str__(self) -> str:
        return f"assignment rules {self.pk} ({'active' if self.is_active else 'retired'})"


class AssigneeKind(models.TextChoices):
    USER = "user", "User"
    QUEUE = "queue", "Queue"
    ROUND_ROBIN = "round_robin", "Round-robin"
    LEAST_LOADED = "least_loaded", "Least-loaded"


class MatchMode(models.TextChoices):
    ALL = "all", "All criteria"
    ANY = "any", "Any criterion"


class AssignmentRuleEntry(models.Model):
    """One entry: criteria on lead fields and who gets a lead that meets them.

    `criteria` is a list of {"field": public name, "operator": ..., "value": ...}, checked
    when the rules are saved (automation.services). A pool's `user_ids` are primary keys
    in dealing order. `next_position` is the round's place, locked with the row while a
    lead is dealt, so concurrent creates never take the same slot.
    """

    rule_set = models.ForeignKey(
        AssignmentRuleSet, on_delete=models.CASCADE, related_name="entries"
    )
    sort_order = models.PositiveIntegerField()
    criteria = models.JSONField(default=list)
    match = models.CharField(max_length=10, choices=MatchMode.choices, default=MatchMode.ALL)
    kind = models.CharField(max_length=20, choices=AssigneeKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    queue = models.ForeignKey(
        "people.Queue", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    user_ids = models.JSONField(default=list)
    capacity = models.PositiveIntegerField(null=True, blank=True)
    next_position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["rule_set", "sort_order"]
        constraints = [
            models.UniqueConstraint(fields=["rule_set", "sort_order"], name="rule_entry_order"),
        ]

    def __str__(self) -> str:
        return f"entry {self.sort_order + 1} ({self.kind})"


class AssignmentDecision(models.Model):
    """Why a lead got its owner from the rules: which entry (none: the default), and when.

    One row per lead dealt, written in bulk by imports and `dealflow assign`, so each
    index costs: the lead's is decision_lead_idx (no second one on lead alone), and the
    owner queue and actor, null for most rows, have partial indexes (for deleting one)."""

    lead = models.ForeignKey(
        "leads.Lead", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    rule_set = models.ForeignKey(AssignmentRuleSet, on_delete=models.PROTECT, related_name="+")
    entry = models.ForeignKey(
        AssignmentRuleEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    owner_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    owner_queue = models.ForeignKey(
        "people.Queue",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    reason = models.TextField()
    decided_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )

    class Meta:
        ordering = ["-decided_at", "-id"]
        indexes = [
            models.Index(fields=["lead", "-decided_at", "-id"], name="decision_lead_idx"),
            *(
                models.Index(
                    fields=[field],
                    condition=Q(**{f"{field}__isnull": False}),
                    name=f"decision_{field}_idx",
                )
                for field in ("owner_queue", "actor")
            ),
        ]

    def __str__(self) -> str:
        return f"lead {self.lead_id}: {self.reason}"


# ---------------------------------------------------------------------------------------
# Rule scoring (DOMAIN.md section 7, docs/scoring.md)


class LeadEventType(models.TextChoices):
    FORM_SUBMIT = "form_submit", "Form submit"
    DEMO_REQUEST = "demo_request", "Demo request"
    EVENT_ATTENDED = "event_attended", "Event attended"
    LINK_CLICK = "link_click", "Link click"
    EMAIL_OPEN = "email_open", "Email open"
    PAGE_VIEW = "page_view", "Page view"
    FORM_ERROR = "form_error", "Form error"


class LeadEvent(models.Model):
    """One engagement event of a lead (a page view, a demo request...), scored with decay."""

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=30, choices=LeadEventType.choices)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["lead", "occurred_at"], name="lead_event_lead_idx")]

    def __str__(self) -> str:
        return f"lead {self.lead_id}: {self.type} at {self.occurred_at:%Y-%m-%d %H:%M}"


class ScoringSettings(models.Model):
    """The organisation's scoring configuration: one row (pk 1), created on first change.

    `points`: {event type: points}; `fit_rules`: [{"field", "operator", "value",
    "points"}]; `thresholds`: {"hot": points, "warm": points}. Checked by
    automation.scoring.scoring_settings_set; an absent row means the defaults.
    """

    points = models.JSONField(default=dict)
    half_life_days = models.FloatField(default=30)
    fit_rules = models.JSONField(default=list)
    thresholds = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return "scoring settings"


class LeadScore(models.Model):
    """A lead's latest rule score and the parts that produced it, written in bulk.

    `parts` is [{"rule": "Demo request \u00d71", "points": 50.0}, ...]: engagement by event
    type (decayed), then each fit rule that matched.
    """

    # The reverse name lets one query read a lead with its score and likelihood (the
    # Score panel) and the recompute read the previous score with the lead.
    lead = models.OneToOneField(
        "leads.Lead", on_delete=models.CASCADE, primary_key=True, related_name="rule_score"
    )
    score = models.FloatField()
    parts = models.JSONField(default=list)
    computed_at = models.DateTimeField()
    # The score of the lead's newest LeadScoreHistory row, which a recompute compares with
    # (scoring.HISTORY_STEP); null on rows written before it was kept, whose newest history
    # row has their score.
    history_score = models.FloatField(null=True, blank=True)

    def __str__(self) -> str:
        return f"lead {self.lead_id}: {self.score}"


class LeadScoreHistory(models.Model):
    """One earlier (or the current) rule score of a lead, appended in bulk when a
    recompute changes its Rating or moves its score by HISTORY_STEP points or more from
    the newest row (automation/scoring.py).

    Immutable, so `computed_at` is its creation time: no created_at/updated_at, which
    would only cost parameters in a bulk insert of 5,000 rows.
    """

    # Indexed by score_history_lead_idx, which starts with it.
    lead = models.ForeignKey(
        "leads.Lead", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    score = models.FloatField()
    rating = models.CharField(max_length=20)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["-computed_at", "-id"]
        verbose_name_plural = "lead score history"
        indexes = [
            models.Index(fields=["lead", "-computed_at", "-id"], name="score_history_lead_idx")
        ]

    def __str__(self) -> str:
        return f"lead {self.lead_id}: {self.score} at {self.computed_at:%Y-%m-%d %H:%M}"


# ---------------------------------------------------------------------------------------
# Predictive scoring (DOMAIN.md section 7, docs/scoring.md, automation/predictive.py)


class PredictiveModel(models.Model):
    """One training of the conversion model; the active one predicts, earlier ones stay
    as the history of trainings.

    `definition` is the model as JSON, never a pickle (safe to load, readable): its
    feature columns, their means and scales, coefficients, intercept and the Platt
    calibration (automation/predictive.py documents the shape). `figures` holds what
    the held-out split measured: {"auc", "calibration": [{"decile", "leads",
    "predicted", "observed"} (percent)], "rows": {"leads", "converted", "training",
    "calibration", "held_out"}}.
    """

    object_name = "PredictiveModel"

    definition = models.JSONField()
    figures = models.JSONField()
    trained_at = models.DateTimeField()
    trained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-trained_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=Q(is_active=True),
                name="one_active_predictive_model",
            ),
        ]

    def __str__(self) -> str:
        state = "active" if self.is_active else "retired"
        return f"predictive model {self.pk} of {self.trained_at:%Y-%m-%d %H:%M} ({state})"


class LeadLikelihood(models.Model):
    """An open lead's conversion likelihood (1-99 percent) from a predictive model, with
    the factors that raised and lowered it, written in bulk.

    `factors`: {"positive": [{"text": "Lead source is Web", "weight": 0.81}, ...],
    "negative": [...]}, at most three each, strongest first; a weight is the factor's
    contribution in log-odds against an average lead of the training data.
    `computed_at` is when it was written (no created_at/updated_at, as for LeadScore).
    """

    lead = models.OneToOneField(
        "leads.Lead", on_delete=models.CASCADE, primary_key=True, related_name="likelihood"
    )
    # Not indexed: nothing looks likelihoods up by model, and an index would cost a write
    # per lead in every recompute.
    model = models.ForeignKey(
        PredictiveModel, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    likelihood = models.PositiveSmallIntegerField()
    factors = models.JSONField(default=dict)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["-computed_at"]

    def __str__(self) -> str:
        return f"lead {self.lead_id}: {self.likelihood}%"
