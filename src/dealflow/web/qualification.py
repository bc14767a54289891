"""The qualification checklist of a lead (DOMAIN.md section 6, docs/qualification.md).

The lead page shows it as a panel (`web/leads/_qualification.html`, context from
`qualification_panel`): a check box and a note per item, saved with a plain POST to
/leads/<id>/qualification/ through `lead_qualification_set`; `?framework=` on the lead
page shows another framework. A refusal shows the checklist alone again with the reason
(400) and the values as posted. The convert page shows it read-only with what is missing
and, to a manager or admin, an "Override reason" input (`qualification_gate_context`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from dealflow.core.access import can_edit, is_admin
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.leads.models import Lead
from dealflow.leads.qualification import (
    OVERRIDE_ROLES,
    LeadQualification,
    lead_qualification_get,
    lead_qualification_set,
    qualification_configuration,
)
from dealflow.leads.selectors import lead_get
from dealflow.web.pages import page_view, person_name, signed_in_user


@dataclass(frozen=True)
class ShownItem:
    """One row of the checklist as the page shows it (`prefix` makes the input ids)."""

    key: str
    label: str
    met: bool
    note: str
    set_by: str
    set_at: Any
    prefix: str


def _user_name(user: Any) -> str:
    return (user.get_full_name() or user.username) if user is not None else ""


def _shown_items(
    result: LeadQualification, posted: Any | None, prefix: str = "qualification"
) -> list[ShownItem]:
    """The checklist's rows; after a refused save, with the values as posted."""
    shown = []
    for item in result.items:
        met, note = item.met, item.note
        if posted is not None:
            met = bool(posted.get(f"met_{item.key}"))
            note = posted.get(f"note_{item.key}", "")
        shown.append(
            ShownItem(
                key=item.key,
                label=item.label,
                met=met,
                note=note,
                set_by=_user_name(item.set_by),
                set_at=item.set_at,
                prefix=f"{prefix}-{item.key}",
            )
        )
    return shown


def _wanted_framework(name: str | None) -> str | None:
    """A framework asked for in the query string, if it is one (else the default one)."""
    names = {framework.name for framework in qualification_configuration.get().frameworks}
    return name if name in names else None


def qualification_panel(
    request: HttpRequest,
    lead: Lead,
    *,
    framework: str | None = None,
    posted: Any | None = None,
    error: str = "",
) -> dict[str, Any] | None:
    """The lead page's checklist panel context (one query, two for a converted lead,
    plus the edit-access check when sharing is restricted); None while no framework is
    configured (a database the seed migration has not filled)."""
    if not qualification_configuration.get().frameworks:
        return None
    actor = signed_in_user(request)
    wanted = _wanted_framework(framework or request.GET.get("framework"))
    result = lead_qualification_get(lead=lead, framework=wanted)
    return {
        "result": result,
        "items": _shown_items(result, posted),
        "may_edit": not lead.is_converted and can_edit(actor, lead),
        "override_by": _user_name(result.override.overridden_by) if result.override else "",
        "error": error,
        "lead": lead,
    }


def may_override(actor: Any) -> bool:
    """Whether the actor may convert an unqualified lead with a reason (managers, admins)."""
    return is_admin(actor) or getattr(actor, "role", None) in OVERRIDE_ROLES


def qualification_gate_context(
    request: HttpRequest, lead: Lead, reason: str = ""
) -> dict[str, Any] | None:
    """The convert page's read-only checklist of the framework conversion requires (or the
    lead's default one), what is missing, and whether to offer the override input; None
    while no framework is configured."""
    if not qualification_configuration.get().frameworks:
        return None
    actor = signed_in_user(request)
    result = lead_qualification_get(lead=lead, with_override=False)
    blocked = result.required and not result.satisfied
    return {
        "result": result,
        "items": _shown_items(result, None, prefix="gate"),
        "blocked": blocked,
        "may_override": blocked and may_override(actor),
        "reason": reason,
    }


def _posted_items(request: HttpRequest, framework: str) -> dict[str, dict[str, Any]]:
    """{key: {"met", "note"}} for each active item of the posted framework; an unknown
    framework gives {} (the service refuses it)."""
    chosen = qualification_configuration.get().framework(framework)
    if chosen is None:
        return {}
    return {
        item.key: {
            "met": bool(request.POST.get(f"met_{item.key}")),
            "note": request.POST.get(f"note_{item.key}", ""),
        }
        for item in chosen.active_items
    }


@page_view
def lead_qualification(request: HttpRequest, lead_id: str) -> HttpResponse:
    """GET: the checklist alone. POST: save it through `lead_qualification_set`, then
    back to the lead page showing that framework; a refusal shows the checklist again
    with the reason (400), 403 when the user may not change the lead."""
    actor = signed_in_user(request)
    lead = lead_get(actor=actor, lead_id=lead_id)
    if request.method != "POST":
        panel = qualification_panel(request, lead)
        return render(request, "web/leads/qualification.html", _page(lead, panel))
    framework = request.POST.get("framework", "")
    try:
        lead_qualification_set(
            actor=actor, lead=lead, framework=framework, items=_posted_items(request, framework)
        )
    except DomainError as error:
        if error.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY:
            raise
        panel = qualification_panel(
            request, lead, framework=framework, posted=request.POST, error=error.message
        )
        return render(request, "web/leads/qualification.html", _page(lead, panel), status=400)
    messages.success(request, f"Qualification ({framework}) saved.")
    back = reverse("lead_detail", args=[lead.public_id])
    return redirect(f"{back}?{urlencode({'framework': framework})}")


def _page(lead: Lead, panel: dict[str, Any]) -> dict[str, Any]:
    return {"lead": lead, "name": person_name(lead), "qualification": panel}
