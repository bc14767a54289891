"""Back office for pipeline snapshots: read-only (the daily job writes them)."""

from __future__ import annotations

from django.contrib import admin

from dealflow.core.access import readable
from dealflow.core.admin import ReadOnlyAdmin
from dealflow.reports.models import PipelineSnapshot
from dealflow.sales.models import Opportunity


@admin.register(PipelineSnapshot)
class PipelineSnapshotAdmin(ReadOnlyAdmin):
    list_display = (
        "snapshot_date",
        "opportunity",
        "stage",
        "amount",
        "probability",
        "forecast_category",
        "close_date",
        "owner",
    )
    list_filter = ("snapshot_date", "forecast_category")
    list_select_related = ("opportunity", "stage", "owner")
    search_fields = ("opportunity__name",)
    date_hierarchy = "snapshot_date"
    show_full_result_count = False
    fields = list_display

    def get_queryset(self, request):
        # A snapshot row shows an opportunity's values: visible only with the opportunity.
        visible = readable(request.user, Opportunity.objects.all()).values("pk")
        return super().get_queryset(request).filter(opportunity__in=visible)
