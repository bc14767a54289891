"""Template tags of the score panel (automation/_score.html), which the lead page includes
without its view having to read the score."""

from django import template

from dealflow.automation.models import LeadScore
from dealflow.automation.scoring import lead_score

register = template.Library()


@register.simple_tag
def latest_score(lead) -> LeadScore | None:
    """The lead's rule score (one query), or None before it is first scored."""
    return lead_score(lead)
