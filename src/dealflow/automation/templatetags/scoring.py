"""Template tags of the score panel (automation/_score.html), which the lead page includes
without its view having to read the score."""

from django import template

from dealflow.automation.models import LeadScore
from dealflow.automation.scoring import ScoreSummary, lead_score, lead_score_summary

register = template.Library()

# Scores the panel lists under "Score history"; the API gives more.
PANEL_HISTORY = 5


@register.simple_tag
def latest_score(lead) -> LeadScore | None:
    """The lead's rule score (one query), or None before it is first scored."""
    return lead_score(lead)


@register.simple_tag
def score_summary(lead) -> ScoreSummary:
    """The lead's score, predicted likelihood and latest scores (two queries)."""
    return lead_score_summary(lead, history=PANEL_HISTORY)
