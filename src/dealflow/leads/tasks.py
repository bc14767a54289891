"""Background jobs of leads: Celery tasks, run by a worker or, without a broker, in-process."""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable

from django.core.cache import cache
from django.core.mail import EmailMessage
from django.urls import reverse
from django.utils import timezone

from dealflow.celery import app
from dealflow.leads.service_levels import (
    OverdueLead,
    overdue_leads,
    overdue_reroute,
    service_levels,
    working_hours_between,
)
from dealflow.people.models import Role, User

# How long an owner's email is remembered as sent: a retry the same day sends it once.
SENT_MARK_SECONDS = 2 * 24 * 60 * 60


@app.task(name="dealflow.leads.tasks.email_overdue_leads")
def email_overdue_leads(lead_ids: list[int]) -> dict[str, int]:
    """Email each owner (a user) of these leads one message listing those still overdue,
    with a copy to the managers of the owner's team (active users with role manager and
    an email address), through Django's email backend (EMAIL_BACKEND).

    Reads the leads again (leads.service_levels.overdue_leads), so a lead touched since
    it was listed is left out. Safe to retry: a message is marked sent in Django's cache
    by owner, day and leads after it goes out; the same message is not sent twice a day.
    Leads owned by a queue are not emailed (counted as `queue_owned`).

    Returns {"sent", "already_sent", "no_address", "queue_owned"} counts.
    """
    counts = {"sent": 0, "already_sent": 0, "no_address": 0, "queue_owned": 0}
    by_owner: dict[int, list[OverdueLead]] = {}
    for lead in overdue_leads(actor=None, lead_ids=lead_ids):
        if lead.owner_user_id is None:
            counts["queue_owned"] += 1
            continue
        by_owner.setdefault(lead.owner_user_id, []).append(lead)
    owners = User.objects.in_bulk(list(by_owner))
    managers = _managers_by_team({owner.team_id for owner in owners.values() if owner.team_id})
    today = timezone.localdate()
    for owner_id, leads in sorted(by_owner.items()):
        owner = owners[owner_id]
        if not owner.email:
            counts["no_address"] += 1
            continue
        mark = _sent_mark(owner_id, today, (lead.id for lead in leads))
        if cache.get(mark):
            counts["already_sent"] += 1
            continue
        subject, body = overdue_message(owner, leads)
        copies = [
            address for address in managers.get(owner.team_id or 0, []) if address != owner.email
        ]
        EmailMessage(subject, body, None, [owner.email], cc=copies).send()
        cache.set(mark, True, SENT_MARK_SECONDS)
        counts["sent"] += 1
    return counts


@app.task(name="dealflow.leads.tasks.check_service_levels")
def check_service_levels() -> dict[str, int]:
    """The scheduled service-level check (hourly; what `dealflow service-levels --notify`
    does): email the owners of the overdue leads (email_overdue_leads, copying their
    managers) and, when the setting `reroute_when_breached` is on, run the assignment
    rules on each (leads.service_levels.overdue_reroute).

    Does nothing when no response-time limit is set, or when the past hour held no
    working time (the setting's working days and hours): nothing became overdue then.
    Safe to retry: an owner gets the same message once a day, and a re-routed lead is
    no longer overdue. Returns {"overdue", "rerouted"} and email_overdue_leads's counts.
    """
    levels = service_levels.get()
    counts = {"overdue": 0, "rerouted": 0}
    now = timezone.now()
    past_hour = working_hours_between(now - datetime.timedelta(hours=1), now, levels)
    if levels.response_hours is None or past_hour == 0:
        return counts
    leads = overdue_leads(actor=None)
    counts["overdue"] = len(leads)
    if not leads:
        return counts
    counts |= email_overdue_leads([lead.id for lead in leads])
    if levels.reroute_when_breached:
        rerouted = overdue_reroute(leads=leads)
        counts["rerouted"] = sum(
            not result.reason.startswith("not re-routed") for result in rerouted
        )
    return counts


def _managers_by_team(team_ids: set[int]) -> dict[int, list[str]]:
    """{team id: its managers' email addresses} (one query, none for no team)."""
    if not team_ids:
        return {}
    found: dict[int, list[str]] = {}
    managers = User.objects.filter(team_id__in=team_ids, role=Role.MANAGER, is_active=True).exclude(
        email=""
    )
    for team_id, address in managers.order_by("username").values_list("team_id", "email"):
        found.setdefault(team_id, []).append(address)
    return found


def _sent_mark(owner_id: int, day: datetime.date, lead_ids: Iterable[int]) -> str:
    """The cache key of one owner's message about these leads on this day."""
    leads = ",".join(str(pk) for pk in sorted(lead_ids))
    digest = hashlib.sha256(leads.encode()).hexdigest()[:16]
    return f"dealflow:overdue-leads:{owner_id}:{day.isoformat()}:{digest}"


def overdue_message(owner: User, leads: list[OverdueLead]) -> tuple[str, str]:
    """(subject, plain-text body) of one owner's email about their overdue leads."""
    count = len(leads)
    subject = f"{count} lead{'' if count == 1 else 's'} waiting past the response time"
    name = owner.get_full_name() or owner.username
    lines = [f"Hello {name},", "", "These open leads of yours have not been touched in time:", ""]
    for lead in leads:
        lines.append(f"- {lead.name} ({lead.company})")
        lines.append(f"    {lead.reason}")
        lines.append(f"    {reverse('lead_detail', args=[lead.public_id])}")
    lines += ["", "Work each one: change its status, log a call or an email, or pass it on.", ""]
    return subject, "\n".join(lines)


@app.task(name="dealflow.leads.tasks.send_web_to_lead_auto_response")
def send_web_to_lead_auto_response(lead_id: int) -> str:
    """Email the Web-to-Lead auto-response to the submitter of this new lead (a primary
    key), queued after commit by leads.web_to_lead; one call of
    `leads.web_to_lead.auto_response_send`, which returns what happened ("sent",
    "already_sent", ...). Safe to retry: a sent response is remembered and not sent again.
    """
    from dealflow.leads.web_to_lead import auto_response_send  # late: it queues this task

    return auto_response_send(lead_id)
