"""Lead reports: conversion, leads by status, premature conversions (DOMAIN.md sections 2, 6, 9)."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import Case, CharField, Count, Exists, F, Func, OuterRef, Q, Value, When
from django.db.models.lookups import Exact

from dealflow.core import ids
from dealflow.core.audit import ChangedValueText
from dealflow.core.models import AuditAction, AuditEvent
from dealflow.leads.models import Lead, QualificationOverride
from dealflow.people.models import Queue
from dealflow.reports.definitions import Column, ReportFilters
from dealflow.reports.selectors.common import (
    OWNER_COLUMNS,
    among,
    created_in_period,
    dated_in_period,
    drilldown,
    fetch_all,
    fraction,
    local_month,
    month_text,
    owner_cells,
    people,
    period_drilldown,
    user_names,
    visible,
)
from dealflow.sales.models import Opportunity

# The lead status a lead must have held before conversion (DOMAIN.md section 2's defaults).
QUALIFIED_STATUS = "Qualified"


def _leads(user: Any, filters: ReportFilters):
    """The leads the user may see, created in the period, of the owner/team/source."""
    return visible(user, Lead.objects.all()).filter(
        created_in_period(filters), people(filters, "owner_user")
    )


# -- lead_conversion ------------------------------------------------------------------------


def lead_conversion_columns(filters: ReportFilters) -> list[Column]:
    group = {
        "source": [Column("lead_source", "Lead source", "text")],
        "owner": OWNER_COLUMNS,
        "month": [Column("month", "Month created", "month")],
    }[filters.group_by or "source"]
    return [
        *group,
        Column("leads", "Leads", "integer"),
        Column("converted", "Converted", "integer"),
        Column("conversion_rate", "Conversion rate", "fraction"),
    ]


def lead_conversion(*, user: Any, filters: ReportFilters) -> list[dict[str, Any]]:
    """Leads created in the period (created date, organisation time zone) that the user
    may see, how many of them are converted, and the rate (converted / leads, a fraction
    rounded to 4 places), grouped by lead source (the default), owner (a user or a queue)
    or month created. DOMAIN.md section 9. One query (and one for the owners' names)."""
    group_by = filters.group_by or "source"
    leads = _leads(user, filters)
    sums = {"leads": Count("id"), "converted": Count("id", filter=Q(is_converted=True))}
    period = period_drilldown(filters, "created", dated=False)
    rows: list[dict[str, Any]] = []
    if group_by == "source":
        for found in leads.values("lead_source").annotate(**sums).order_by("lead_source"):
            rows.append(
                {
                    "lead_source": found["lead_source"],
                    **_rates(found),
                    "drilldown": drilldown(
                        "Lead", filters, lead_source=found["lead_source"], **period
                    ),
                }
            )
    elif group_by == "owner":
        grouped = list(leads.values("owner_user_id", "owner_queue_id").annotate(**sums))
        names = user_names(found["owner_user_id"] for found in grouped)
        queue_ids = {found["owner_queue_id"] for found in grouped if found["owner_queue_id"]}
        queues = dict(Queue.objects.filter(pk__in=queue_ids).values_list("pk", "name"))
        for found in grouped:
            if found["owner_user_id"]:
                name = names.get(found["owner_user_id"], "")
                owner_id = ids.encode("User", found["owner_user_id"])
                owner = {"owner": owner_id}
            else:
                name = queues.get(found["owner_queue_id"], "")
                owner_id = ids.encode("Queue", found["owner_queue_id"])
                owner = {"owner_queue": owner_id}
            rows.append(
                {
                    "owner": name,
                    "owner_id": owner_id,
                    **_rates(found),
                    "drilldown": drilldown("Lead", filters, **owner, **period),
                }
            )
        rows.sort(key=lambda row: (row["owner"].casefold(), row["owner_id"]))
    else:
        # The month in the organisation's time zone: in C on SQLite too (LocalMonth).
        month = local_month("created_at")
        grouped = leads.annotate(month=month).values("month").annotate(**sums).order_by("month")
        for found in grouped:
            first = found["month"]
            last = (first + datetime.timedelta(days=32)).replace(day=1) - datetime.timedelta(days=1)
            within = ReportFilters(
                period_start=max(first, filters.period_start or first),
                period_end=min(last, filters.period_end or last),
            )
            rows.append(
                {
                    "month": month_text(first),
                    **_rates(found),
                    "drilldown": drilldown(
                        "Lead", filters, **period_drilldown(within, "created", dated=False)
                    ),
                }
            )
    return rows


def _rates(found: dict[str, Any]) -> dict[str, Any]:
    return {
        "leads": found["leads"],
        "converted": found["converted"],
        "conversion_rate": fraction(found["converted"], found["leads"]),
    }


# -- leads_by_status ------------------------------------------------------------------------


def leads_by_status_columns(filters: ReportFilters) -> list[Column]:
    return [
        Column("lead_source", "Lead source", "text"),
        Column("status", "Status", "text"),
        Column("leads", "Leads", "integer"),
    ]


def leads_by_status(*, user: Any, filters: ReportFilters) -> list[dict[str, Any]]:
    """Leads created in the period that the user may see, counted by lead source and
    status (sources alphabetically, statuses in their sort order). DOMAIN.md section 9.
    One query."""
    grouped = (
        _leads(user, filters)
        .values("lead_source", "status_id", "status__name", "status__sort_order")
        .annotate(leads=Count("id"))
        .order_by("lead_source", "status__sort_order", "status__name")
    )
    period = period_drilldown(filters, "created", dated=False)
    return [
        {
            "lead_source": found["lead_source"],
            "status": found["status__name"],
            "leads": found["leads"],
            "drilldown": drilldown(
                "Lead",
                filters,
                lead_source=found["lead_source"],
                status=found["status__name"],
                **period,
            ),
        }
        for found in grouped
    ]


# -- premature_conversions ------------------------------------------------------------------


def premature_conversions_columns(filters: ReportFilters) -> list[Column]:
    return [
        Column("opportunity_id", "Opportunity id", "id"),
        Column("opportunity", "Opportunity", "text"),
        Column("lead_id", "Lead id", "id"),
        Column("lead", "Lead", "text"),
        Column("converted_date", "Converted", "date"),
        *OWNER_COLUMNS,
        Column("reason", "Reason", "text"),
    ]


def premature_conversions(*, user: Any, filters: ReportFilters) -> list[dict[str, Any]]:
    """Opportunities made from (or attached to) leads converted too early (DOMAIN.md
    section 6): the lead never held the QUALIFIED_STATUS status before its conversion
    (its audit trail: created or updated to it, or holding it when converted), or its
    qualification gate was not met and a manager overrode it (QualificationOverride).

    One row per converted lead, newest conversion first; the period is the converted
    date; owner and team are the opportunity's; lead source the lead's. Both the lead and
    the opportunity must be visible to the user. Three queries: the overridden leads
    (few), the rows, the owners' names."""

    def reached(lead: str) -> Exists:
        return Exists(
            AuditEvent.objects.filter(object_name="Lead", record_id=OuterRef(lead)).filter(
                Q(Exact(ChangedValueText("status", 1), QUALIFIED_STATUS))
                # The action first: PostgreSQL keeps this order, and the cheap test
                # spares reading the JSON of every other event.
                | (
                    Q(action=AuditAction.CONVERT)
                    & Q(Exact(ChangedValueText("status", 0), QUALIFIED_STATUS))
                )
            )
        )

    # Owner and team are the opportunity's; the source filter is the lead's.
    opportunities = visible(user, Opportunity.objects.all()).filter(
        people(ReportFilters(owner_id=filters.owner_id, team_id=filters.team_id), "owner")
    )
    converted = (
        visible(user, Lead.objects.all())
        .filter(
            among("converted_opportunity", opportunities),
            dated_in_period(filters, "converted_date"),
            is_converted=True,
            converted_opportunity__isnull=False,
        )
        .filter(people(ReportFilters(lead_source=filters.lead_source), "owner_user"))
    )
    # The overridden leads, with whether they had reached the status anyway: a few
    # rows, read apart, so the rows' query carries no per-row subquery for them.
    overrides = {
        lead_id: (framework, was_reached)
        # Per override, its lead among `converted` (by primary key): not `lead__in`,
        # which SQLite answers by first listing every converted lead (0.2 s at 1M).
        for lead_id, framework, was_reached in QualificationOverride.objects.filter(
            Exists(converted.filter(pk=OuterRef("lead_id")))
        )
        .annotate(was_reached=reached("lead_id"))
        .values_list("lead_id", "framework", "was_reached")
    }
    leads = (
        converted.filter(
            ~reached("pk") | Exists(QualificationOverride.objects.filter(lead_id=OuterRef("pk")))
        )
        .order_by("-converted_date", "-id")
        .values_list(
            "pk",
            _lead_label(),
            "converted_date",
            "converted_opportunity_id",
            "converted_opportunity__name",
            "converted_opportunity__owner_id",
        )
    )
    # Tuples fetched in one go (fetch_all), the lead's label made by the database, and
    # the rows built by one comprehension: 198k rows at 1M leads.
    found = fetch_all(leads)
    owner_names, owner_public_ids = owner_cells(row[5] for row in found)
    # A lead without an override is listed because it never reached the status.
    never = f"Converted without reaching {QUALIFIED_STATUS}"
    reasons = {
        pk: f"{framework} gate overridden"
        if was_reached
        else f"{never}; {framework} gate overridden"
        for pk, (framework, was_reached) in overrides.items()
    }
    encode_opportunity, encode_lead = ids.encoder("Opportunity"), ids.encoder("Lead")
    return [
        {
            "opportunity_id": encode_opportunity(deal_id),
            "opportunity": deal,
            "lead_id": encode_lead(pk),
            "lead": lead,
            "converted_date": converted_date,  # on SQLite too: a column declared date, parsed
            "owner": owner_names[owner_id],
            "owner_id": owner_public_ids[owner_id],
            "reason": reasons.get(pk, never),
        }
        for pk, lead, converted_date, deal_id, deal, owner_id in found
    ]


def _lead_label() -> Func:
    """A lead as "First Last (Company)", the name's two parts joined by a space when
    both are there (as Lead.__str__), made by the database for a long list: one column
    to fetch instead of three. Joined by `||` (the name fields are never NULL) rather
    than Django's Concat, which wraps each part in COALESCE."""
    space = Case(
        When(~Q(first_name="") & ~Q(last_name=""), then=Value(" ")),
        default=Value(""),
        output_field=CharField(),
    )
    return Func(
        F("first_name"),
        space,
        F("last_name"),
        Value(" ("),
        F("company"),
        Value(")"),
        template="(%(expressions)s)",
        arg_joiner=" || ",
        output_field=CharField(),
    )
