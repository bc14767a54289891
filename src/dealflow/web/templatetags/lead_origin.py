"""How a lead came in, for its page: `{% created_through lead as created_by %}` is
"the web form (Web-to-Lead)" for a lead the Web-to-Lead form made (its create event carries
`changes["channel"] == "web_to_lead"`, leads/web_to_lead.py), else "". The timeline then
says "Created by the web form (Web-to-Lead)" instead of the default creator the form acts
as. One query (the lead's create event).
"""

from __future__ import annotations

from typing import Any

from django import template

from dealflow.core.models import AuditAction, AuditEvent
from dealflow.leads.web_to_lead import WEB_TO_LEAD_CHANNEL

register = template.Library()

WEB_FORM = "the web form (Web-to-Lead)"


@register.simple_tag
def created_through(lead: Any) -> str:
    """WEB_FORM when the web form created `lead` (a Lead), else ""."""
    changes = (
        AuditEvent.objects.filter(object_name="Lead", record_id=lead.pk, action=AuditAction.CREATE)
        .order_by("pk")
        .values_list("changes", flat=True)
        .first()
    )
    if isinstance(changes, dict) and changes.get("channel") == WEB_TO_LEAD_CHANNEL:
        return WEB_FORM
    return ""
