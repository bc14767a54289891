"""Pipeline snapshots: each day's open pipeline, for reports as of a past date."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from dealflow.sales.models import ForecastCategory


class PipelineSnapshot(models.Model):
    """One opportunity's stage, amount, probability, forecast category, close date and
    owner as they stood on `snapshot_date` (reports/snapshots.py takes them daily)."""

    object_name = "PipelineSnapshot"

    snapshot_date = models.DateField()
    opportunity = models.ForeignKey(
        "sales.Opportunity", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    stage = models.ForeignKey(
        "sales.OpportunityStage", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    probability = models.PositiveSmallIntegerField()
    forecast_category = models.CharField(max_length=20, choices=ForecastCategory.choices)
    close_date = models.DateField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-snapshot_date", "opportunity"]
        constraints = [
            models.UniqueConstraint(
                fields=["snapshot_date", "opportunity"], name="pipeline_snapshot_once_a_day"
            ),
        ]
        indexes = [models.Index(fields=["snapshot_date"], name="pipeline_snapshot_date_idx")]

    def __str__(self) -> str:
        return f"{self.snapshot_date} {self.opportunity_id}"


class DashboardFigures(models.Model):
    """One dashboard view's report results, kept as of their refresh for the viewer and
    filters its `key` names, until `expires_at` (reports/dashboard.py encodes them)."""

    object_name = "DashboardFigures"

    key = models.CharField(max_length=64, unique=True)  # SHA-256, hexadecimal
    refreshed_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    results = models.JSONField()

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="dashboard_figures_expiry_idx")]

    def __str__(self) -> str:
        return f"{self.key[:12]} {self.refreshed_at:%Y-%m-%d %H:%M}"
