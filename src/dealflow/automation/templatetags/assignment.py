"""Template tags of the assignment panel (automation/_assignment.html), which the lead page
includes without its view having to read the decision."""

from django import template

from dealflow.automation.models import AssignmentDecision
from dealflow.automation.selectors import lead_assignment

register = template.Library()


@register.simple_tag
def latest_assignment(lead) -> AssignmentDecision | None:
    """The latest decision of the assignment rules for the lead (one query), or None."""
    return lead_assignment(lead)
