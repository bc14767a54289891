"""Report selectors (DOMAIN.md section 9): set-based aggregates, access rules applied.

Each report registers itself in definitions.REPORTS on import.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from dealflow.core.access import readable
from dealflow.leads.models import Lead
from dealflow.reports.definitions import Column, ReportDefinition, ReportFilters, report_register


def leads_by_status(*, user: Any, filters: ReportFilters) -> list[dict[str, Any]]:
    """Leads created in the period, counted by lead source and status."""
    leads = readable(user, Lead.objects.all())
    rows = (
        leads.values("lead_source", "status__name", "status__sort_order")
        .annotate(leads=Count("id"))
        .order_by("lead_source", "status__sort_order", "status__name")
    )
    return [
        {"lead_source": row["lead_source"], "status": row["status__name"], "leads": row["leads"]}
        for row in rows
    ]


report_register(
    ReportDefinition(
        name="leads_by_status",
        title="Leads by status",
        description="Leads created in the period by lead source and status (DOMAIN.md section 9).",
        filters=frozenset({"period_start", "period_end", "owner_id", "team_id", "lead_source"}),
        group_by=(),
        columns=lambda filters: [
            Column("lead_source", "Lead source", "text"),
            Column("status", "Status", "text"),
            Column("leads", "Leads", "integer"),
        ],
        run=leads_by_status,
    )
)
