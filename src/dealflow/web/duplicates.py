"""The duplicate review queue (docs/duplicates.md): the scan's groups, their records
side by side, Dismiss; admins also start a scan. Admins and managers only."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from dealflow.core.access import require_admin
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.duplicates.keys import OBJECT_NAMES
from dealflow.duplicates.models import DuplicateGroupStatus
from dealflow.duplicates.selectors import duplicate_groups, require_queue_access
from dealflow.duplicates.services import duplicate_group_dismiss
from dealflow.duplicates.tasks import scan_duplicates
from dealflow.web.pages import page_view, signed_in_user

PAGE_SIZE = 20
# The rows of the side-by-side table: (label, attribute) per object.
COMPARED = {
    "Lead": (
        ("Company", "company"),
        ("Email", "email"),
        ("Phone", "phone"),
        ("Mobile", "mobile_phone"),
        ("City", "city"),
        ("Created", "created_at"),
    ),
    "Contact": (
        ("Account", "account"),
        ("Email", "email"),
        ("Phone", "phone"),
        ("Mobile", "mobile_phone"),
        ("City", "mailing_city"),
        ("Created", "created_at"),
    ),
    "Account": (
        ("Phone", "phone"),
        ("Website", "website"),
        ("City", "billing_city"),
        ("Created", "created_at"),
    ),
}
DETAIL = {"Lead": "lead_detail", "Contact": "contact_detail", "Account": "account_detail"}
OBJECT_LABELS = {"Lead": "Leads", "Contact": "Contacts", "Account": "Accounts"}


def _value(record: Any, attribute: str) -> Any:
    value = getattr(record, attribute, "")
    return "" if value is None else value


@page_view
def duplicate_queue(request: HttpRequest) -> HttpResponse:
    """GET /duplicates/?object=Lead&status=open&cursor=ID: a page of groups, each with
    its records side by side."""
    actor = signed_in_user(request)
    require_queue_access(actor)
    object_name = request.GET.get("object") or "Lead"
    status = request.GET.get("status") or DuplicateGroupStatus.OPEN
    if object_name not in OBJECT_NAMES or status not in DuplicateGroupStatus.values:
        object_name, status = "Lead", DuplicateGroupStatus.OPEN
    cursor = request.GET.get("cursor", "")
    before_id = int(cursor) if cursor.isdigit() and len(cursor) < 19 else None
    views = duplicate_groups(
        actor=actor,
        status=status,
        object_name=object_name,
        limit=PAGE_SIZE + 1,
        before_id=before_id,
    )
    more = len(views) > PAGE_SIZE
    views = views[:PAGE_SIZE]
    groups = []
    for view in views:
        members = [
            {
                "name": member.name,
                "url": reverse(DETAIL[object_name], args=[member.public_id])
                if member.public_id
                else "",
            }
            for member in view.members
        ]
        rows = [
            (
                label,
                [
                    _value(member.record, attribute) if member.record else ""
                    for member in view.members
                ],
            )
            for label, attribute in COMPARED[object_name]
        ]
        groups.append({"group": view.group, "members": members, "rows": rows})
    next_url = ""
    if more:
        next_url = (
            f"{reverse('duplicate_queue')}?object={object_name}&status={status}"
            f"&cursor={views[-1].group.pk}"
        )
    context = {
        "groups": groups,
        "object_name": object_name,
        "status": status,
        "objects": [(name, OBJECT_LABELS[name]) for name in OBJECT_NAMES],
        "statuses": DuplicateGroupStatus.choices,
        "next_url": next_url,
        "can_scan": actor.is_superuser or actor.role == "admin",
    }
    return render(request, "web/duplicates/queue.html", context)


@require_POST
@page_view
def duplicate_dismiss(request: HttpRequest, group_id: int) -> HttpResponse:
    """POST: mark a group as not duplicates, then back to the queue."""
    try:
        group = duplicate_group_dismiss(actor=signed_in_user(request), group_id=group_id)
    except DomainError as error:
        if error.code != ErrorCode.INVALID_STATUS:
            raise
        messages.error(request, error.message)
        return redirect("duplicate_queue")
    messages.success(request, f"Group {group.pk} was dismissed: not duplicates.")
    return redirect(f"{reverse('duplicate_queue')}?object={group.object_type}")


@require_POST
@page_view
def duplicate_scan(request: HttpRequest) -> HttpResponse:
    """POST (admins): scan every object now (the worker's job when a broker is set)."""
    require_admin(signed_in_user(request), "when the duplicate scan runs")
    scan_duplicates.delay()
    messages.success(request, "The duplicate scan has started; its groups appear here.")
    return redirect("duplicate_queue")
