"""Home ("My work") and the password change page."""

from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth import views as auth_views
from django.contrib.messages.views import SuccessMessageMixin
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse, reverse_lazy
from django.utils import timezone

from dealflow.core import ids
from dealflow.core.access import readable
from dealflow.leads.selectors import lead_statuses, lead_visible
from dealflow.sales.models import Opportunity
from dealflow.sales.selectors import opportunity_page, opportunity_queryset, stage_name
from dealflow.web import recent
from dealflow.web.pages import as_rows, page_view
from dealflow.web.record_pages import money
from dealflow.web.tasks import DETAIL_PAGES, my_tasks, record_links, task_rows

SHOWN = 20  # rows of each home list; its count says how many there are in all
OBJECT_LABELS = {
    "Lead": "Lead",
    "Account": "Account",
    "Contact": "Contact",
    "Opportunity": "Opportunity",
}


@dataclass
class StatusCount:
    status: str
    count: int
    url: str


def _open_leads_by_status(actor: Any) -> list[StatusCount]:
    """My unconverted leads in each open status (in the statuses' order), with the
    link to the leads list filtered to them. One query (the statuses are cached)."""
    statuses = sorted(
        (
            status
            for status in lead_statuses.get()
            if not status.is_converted and not status.is_closed
        ),
        key=lambda status: (status.sort_order, status.pk),
    )
    counts = dict(
        lead_visible(actor=actor)
        .filter(owner_user=actor.pk, is_converted=False, status__in=[s.pk for s in statuses])
        .order_by()
        .values("status")
        .annotate(count=Count("pk"))
        .values_list("status", "count")
    )
    base = reverse("lead_list")
    return [
        StatusCount(
            status.name,
            counts[status.pk],
            f"{base}?{urlencode({'owner': actor.public_id, 'status': status.name})}",
        )
        for status in statuses
        if counts.get(status.pk)
    ]


def _month(today: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The first and last day of today's month."""
    last_day = calendar.monthrange(today.year, today.month)[1]
    return today.replace(day=1), today.replace(day=last_day)


def _closing_this_month(actor: Any, today: datetime.date) -> dict[str, Any]:
    """My open opportunities closing this month: the first SHOWN by close date, and the
    count and total amount of all of them (two queries)."""
    first, last = _month(today)
    page = opportunity_page(
        actor=actor,
        filters={
            "owner": actor.pk,
            "is_closed": False,
            "close_date_from": first,
            "close_date_to": last,
        },
        order_by="close_date",
        limit=SHOWN,
    )
    # The same records as the page's filters, summed by the database: the page shows
    # only the first SHOWN, the total is of all.
    summary = (
        readable(actor, opportunity_queryset())
        .filter(owner=actor.pk, is_closed=False, close_date__gte=first, close_date__lte=last)
        .aggregate(count=Count("pk"), total=Sum("amount"))
    )
    opportunities = as_rows(page, Opportunity)
    for opportunity in opportunities:
        opportunity.stage = stage_name(opportunity.stage_id)
        opportunity.amount_text = money(opportunity.amount)
        opportunity.url = reverse("opportunity_detail", args=[opportunity.public_id])
    return {
        "rows": opportunities,
        "count": summary["count"],
        "total": money(summary["total"] or Decimal(0)),
        "more": summary["count"] - len(opportunities),
        "month": first,
    }


def _recently_viewed(request: HttpRequest) -> list[dict[str, str]]:
    """The records the user viewed lately that they may still see, newest first; read
    again through the selectors, one query per object."""
    wanted = []
    for object_name, public_id in recent.recently_viewed(request):
        if object_name not in DETAIL_PAGES:
            continue
        try:
            _object, primary_key = ids.decode(public_id, object_name)
        except ids.InvalidIdError:
            continue  # a session from before an id change: not worth an error
        wanted.append((object_name, primary_key))
    links = record_links(request.user, wanted)
    return [
        {"object": OBJECT_LABELS[key[0]], "name": links[key][0], "url": links[key][1]}
        for key in wanted
        if key in links
    ]


@page_view
def home(request: HttpRequest) -> HttpResponse:
    """My work: my open leads by status, my tasks due today and overdue, my open
    opportunities closing this month with their total, and recently viewed records.
    A fixed number of queries, however many rows each section shows."""
    actor = request.user
    today = timezone.localdate()
    tasks_page = my_tasks(actor, due_to=today, limit=SHOWN, include_total=True)
    tasks = task_rows(actor, tasks_page, today)
    status_counts = _open_leads_by_status(actor)
    context = {
        "today": today,
        "lead_statuses": status_counts,
        "open_lead_count": sum(item.count for item in status_counts),
        "tasks": tasks,
        "task_count": tasks_page.total or 0,
        "tasks_more": (tasks_page.total or 0) - len(tasks),
        "closing": _closing_this_month(actor, today),
        "recent": _recently_viewed(request),
    }
    return render(request, "web/home.html", context)


# Django's own view: it checks the old password, applies the password policy
# (AUTH_PASSWORD_VALIDATORS) and keeps the session signed in.
class PasswordChange(SuccessMessageMixin, auth_views.PasswordChangeView):
    template_name = "web/password_change.html"
    success_url = reverse_lazy("home")
    success_message = "Your password was changed."


password_change = PasswordChange.as_view()
