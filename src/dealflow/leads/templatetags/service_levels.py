"""Template tags of the service-level badge (leads/_service_level.html), which the lead
page includes without its view having to measure the lead."""

from django import template

from dealflow.leads.service_levels import OverdueLead, lead_overdue

register = template.Library()


@register.simple_tag
def lead_overdue_flag(lead) -> OverdueLead | None:
    """The lead's overdue state (one query for an open lead, none otherwise), or None."""
    return lead_overdue(lead)
