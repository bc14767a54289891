"""Report selectors (DOMAIN.md section 9): set-based aggregates with the access rules
applied; each report is registered in definitions.REPORTS here, in display order."""

from __future__ import annotations

from dealflow.reports.definitions import ReportDefinition, report_register
from dealflow.reports.selectors import deals, leads, pipeline
from dealflow.reports.selectors.common import PEOPLE, STANDARD

report_register(
    ReportDefinition(
        name="lead_conversion",
        title="Lead conversion",
        description="Leads created in the period, how many were converted, and the rate, "
        "by lead source, owner or month (DOMAIN.md section 9).",
        filters=STANDARD | {"group_by"},
        group_by=("source", "owner", "month"),
        columns=leads.lead_conversion_columns,
        run=leads.lead_conversion,
    )
)
report_register(
    ReportDefinition(
        name="leads_by_status",
        title="Leads by status",
        description="Leads created in the period by lead source and status (DOMAIN.md section 9).",
        filters=STANDARD,
        group_by=(),
        columns=leads.leads_by_status_columns,
        run=leads.leads_by_status,
    )
)
report_register(
    ReportDefinition(
        name="pipeline_by_stage",
        title="Pipeline by stage",
        description="Open opportunities per stage: count, amount and weighted amount "
        "(amount x probability), now or as of a past day (DOMAIN.md section 9).",
        filters=STANDARD | {"as_of"},
        group_by=(),
        columns=pipeline.pipeline_by_stage_columns,
        run=pipeline.pipeline_by_stage,
        records=pipeline.pipeline_by_stage_records,
    )
)
report_register(
    ReportDefinition(
        name="forecast",
        title="Forecast",
        description="Amounts by close month and forecast category with Salesforce's "
        "cumulative rollups (Commit, Best Case, Open Pipeline), now or as of a past day.",
        filters=STANDARD | {"as_of"},
        group_by=(),
        columns=pipeline.forecast_columns,
        run=pipeline.forecast,
        records=pipeline.forecast_records,
    )
)
report_register(
    ReportDefinition(
        name="forecast_accuracy",
        title="Forecast accuracy",
        description="A quarter's forecast as of its first day against the amount won by "
        "its end, with the ratios (issue 9).",
        filters=STANDARD,
        group_by=(),
        columns=pipeline.forecast_accuracy_columns,
        run=pipeline.forecast_accuracy,
    )
)
report_register(
    ReportDefinition(
        name="win_rate",
        title="Win rate",
        description="Closed won / all closed opportunities, by count and by amount, "
        "overall or by owner (DOMAIN.md section 9).",
        filters=STANDARD | {"group_by"},
        group_by=("overall", "owner"),
        columns=deals.win_rate_columns,
        run=deals.win_rate,
    )
)
report_register(
    ReportDefinition(
        name="deal_size",
        title="Deal size",
        description="Average and median amount of won opportunities (DOMAIN.md section 9).",
        filters=STANDARD | {"group_by"},
        group_by=("overall", "owner"),
        columns=deals.deal_size_columns,
        run=deals.deal_size,
    )
)
report_register(
    ReportDefinition(
        name="sales_cycle",
        title="Sales cycle",
        description="Average and median days from created to closed won (DOMAIN.md section 9).",
        filters=STANDARD | {"group_by"},
        group_by=("overall", "owner"),
        columns=deals.sales_cycle_columns,
        run=deals.sales_cycle,
    )
)
report_register(
    ReportDefinition(
        name="stage_duration",
        title="Stage duration",
        description="Average and median days spent in each stage, from the stage history "
        "(DOMAIN.md sections 4 and 9).",
        filters=STANDARD,
        group_by=(),
        columns=deals.stage_duration_columns,
        run=deals.stage_duration,
        records=deals.stage_duration_records,
    )
)
report_register(
    ReportDefinition(
        name="stalled_deals",
        title="Stalled deals",
        description="Open opportunities with no stage change or activity for too long, or "
        "an overdue close date, with the reasons (DOMAIN.md section 9, issue 7).",
        filters=STANDARD,
        group_by=(),
        columns=deals.stalled_deals_columns,
        run=deals.stalled_deals,
        first_rows=deals.stalled_deals_first,
        records=deals.stalled_deals_records,
    )
)
report_register(
    ReportDefinition(
        name="leaderboard",
        title="Leaderboard",
        description="Closed-won amount and count by owner in the period (DOMAIN.md section 9).",
        filters=STANDARD,
        group_by=(),
        columns=deals.leaderboard_columns,
        run=deals.leaderboard,
    )
)
report_register(
    ReportDefinition(
        name="premature_conversions",
        title="Premature conversions",
        description="Opportunities from leads converted without reaching Qualified or "
        "with their qualification gate overridden (DOMAIN.md section 6).",
        filters=STANDARD,
        group_by=(),
        columns=leads.premature_conversions_columns,
        run=leads.premature_conversions,
    )
)

__all__ = ["PEOPLE", "deals", "leads", "pipeline"]
