"""The duplicate review queue (docs/duplicates.md): the scan's groups, their records
side by side, Dismiss, Merge; admins also start a scan. Admins and managers only.

The merge pages (anyone, on records they may change): `/duplicates/merge/?object=Lead&ids=
ID,ID[,ID]` shows 2 or 3 records side by side with a radio for the master and one per
field that differs, and the master as it would be after the merge (htmx asks for the
preview again on each change: `?part=preview`); with fewer ids it offers the record's
likely duplicates to choose from. POST merges; the merge's page then offers "Undo merge".
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from dealflow.core import ids
from dealflow.core.access import require_admin
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.duplicates.keys import OBJECT_NAMES
from dealflow.duplicates.merge import (
    MAX_RECORDS,
    MergePlan,
    merge_fields,
    merge_get,
    merge_members,
    merge_plan,
    merge_undo,
    records_merge,
    relation_labels,
)
from dealflow.duplicates.models import DuplicateGroupStatus, Merge, MergeStatus
from dealflow.duplicates.selectors import (
    duplicate_groups,
    merge_candidates,
    record_name,
    require_queue_access,
)
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
        merge_url = ""
        if view.group.status == DuplicateGroupStatus.OPEN and all(
            member.public_id for member in view.members
        ):
            shown = ",".join(str(member.public_id) for member in view.members)
            merge_url = f"{reverse('merge_records')}?object={object_name}&ids={shown}"
        groups.append(
            {"group": view.group, "members": members, "rows": rows, "merge_url": merge_url}
        )
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


# ---------------------------------------------------------------------------------------
# Merge and undo

# Likely duplicates offered on the choose step, besides the records named.
CANDIDATES_SHOWN = 10


def _object_name(data: QueryDict) -> str:
    object_name = data.get("object") or "Lead"
    if object_name not in OBJECT_NAMES:
        raise DomainError(ErrorCode.NOT_FOUND, f"no object {object_name!r} to merge", ["object"])
    return object_name


def _record_id(object_name: str, value: str, name: str) -> int:
    try:
        return ids.decode(value.strip(), object_name)[1]
    except ids.InvalidIdError as error:
        raise DomainError(ErrorCode.INVALID_ID, f"{name}: {error}", [name]) from None


def _named_ids(object_name: str, data: QueryDict) -> list[int]:
    """The records named by `ids` (repeated, or comma-separated), in order, once each."""
    named = [part for value in data.getlist("ids") for part in value.split(",") if part.strip()]
    return list(dict.fromkeys(_record_id(object_name, value, "ids") for value in named))


def _choices(object_name: str, data: QueryDict, record_ids: list[int]) -> tuple[int, dict]:
    """The master and {field: record} the form chose (the first record and no choices
    when it chose nothing); a choice of a record not in the merge is ignored."""
    master_id = record_ids[0]
    if data.get("master"):
        chosen = _record_id(object_name, data["master"], "master")
        master_id = chosen if chosen in record_ids else master_id
    choices = {}
    for definition in merge_fields(object_name):
        value = data.get(f"field_{definition.name}")
        if value:
            chosen = _record_id(object_name, value, f"field_{definition.name}")
            if chosen in record_ids and chosen != master_id:
                choices[definition.name] = chosen
    return master_id, choices


def _shown(value: Any) -> Any:
    """A value as the merge page shows it (a checkbox's as Yes or No)."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return value


def _plan_context(plan: MergePlan, object_name: str, order: list[int]) -> dict[str, Any]:
    """The side-by-side table and the preview as the templates render them, the records
    in the order named (`order`, primary keys), so choosing another master moves no column."""
    position = {record.pk: index for index, record in enumerate(plan.records)}
    columns = [position[record_id] for record_id in order]
    records = [
        {
            "public_id": record.public_id,
            "name": record_name(object_name, record),
            "url": reverse(DETAIL[object_name], args=[record.public_id]),
            "created_at": record.created_at,
            "is_master": record.pk == plan.master.pk,
        }
        for record in (plan.records[column] for column in columns)
    ]
    rows = []
    for choice in plan.fields:
        if not choice.differs and all(value in ("", None) for value in choice.values):
            continue  # blank in every record: nothing to choose or see
        chosen = ids.encode(object_name, choice.chosen_id)
        rows.append(
            {
                "name": choice.name,
                "label": choice.label,
                "differs": choice.differs,
                "cells": [
                    {
                        "public_id": record["public_id"],
                        "value": _shown(value),
                        "checked": record["public_id"] == chosen,
                    }
                    for record, value in zip(
                        records, [choice.values[column] for column in columns], strict=True
                    )
                ],
            }
        )
    labels = relation_labels(object_name)
    return {
        "records": records,
        "rows": rows,
        # The fields the merge decides: those that differ between the records.
        "result": [
            (choice.label, _shown(plan.result[choice.name]))
            for choice in plan.fields
            if choice.differs
        ],
        "related": [(labels.get(key, key), count) for key, count in sorted(plan.related.items())],
        "master": next(record for record in records if record["is_master"]),
    }


def _choose_context(actor: Any, object_name: str, record_ids: list[int]) -> dict[str, Any]:
    """The records named and the first one's likely duplicates, as far as the actor may
    see them (a record they may not see is left out, not named)."""
    candidates = merge_candidates(
        actor=actor, object_name=object_name, record_ids=record_ids, limit=CANDIDATES_SHOWN
    )
    return {
        "candidates": [
            {
                "public_id": record.public_id,
                "name": record_name(object_name, record),
                "url": reverse(DETAIL[object_name], args=[record.public_id]),
                "checked": named,
                "created_at": record.created_at,
            }
            for record, named in candidates
        ]
    }


@page_view
def merge_records(request: HttpRequest) -> HttpResponse:
    """GET: choose the records (fewer than 2 named) or compare them; `part=preview` is
    the preview alone (htmx). POST: merge, then the merge's page (with Undo merge)."""
    actor = signed_in_user(request)
    data = request.POST if request.method == "POST" else request.GET
    object_name = _object_name(data)
    record_ids = _named_ids(object_name, data)
    context: dict[str, Any] = {
        "object_name": object_name,
        "object_label": OBJECT_LABELS[object_name],
        "limit": MAX_RECORDS,
    }
    if request.method != "POST" and not 2 <= len(record_ids) <= MAX_RECORDS:
        context.update(_choose_context(actor, object_name, record_ids))
        if len(record_ids) > MAX_RECORDS:
            context["error"] = f"Choose at most {MAX_RECORDS} records to merge at once."
        return render(request, "web/duplicates/merge_choose.html", context)
    master_id, choices = _choices(object_name, data, record_ids)
    losers = [record_id for record_id in record_ids if record_id != master_id]
    context["ids"] = ",".join(ids.encode(object_name, record_id) for record_id in record_ids)
    status = 200
    if request.method == "POST":
        try:
            merge = records_merge(
                actor=actor,
                object_name=object_name,
                master_id=master_id,
                loser_ids=losers,
                field_choices=choices,
            )
        except DomainError as error:
            if error.code in (ErrorCode.NOT_FOUND, ErrorCode.INVALID_ID):
                raise
            context["error"] = error.message
            status = 400
        else:
            return redirect("merge_detail", merge_id=merge.pk)
    try:
        plan = merge_plan(
            actor=actor,
            object_name=object_name,
            master_id=master_id,
            loser_ids=losers,
            field_choices=choices,
        )
    except DomainError as error:
        if error.code in (ErrorCode.NOT_FOUND, ErrorCode.INVALID_ID):
            raise
        context.update(_choose_context(actor, object_name, record_ids))
        context["error"] = error.message
        return render(request, "web/duplicates/merge_choose.html", context, status=400)
    context.update(_plan_context(plan, object_name, record_ids))
    if request.GET.get("part") == "preview":
        return render(request, "web/duplicates/_merge_preview.html", context)
    return render(request, "web/duplicates/merge.html", context, status=status)


def _merge_context(merge: Merge) -> dict[str, Any]:
    object_name = merge.object_type
    records = []
    for member in merge_members(merge):
        public_id = ids.encode(object_name, member.record_id)
        records.append(
            {
                "public_id": public_id,
                "name": record_name(object_name, member.record) if member.record else public_id,
                "url": reverse(DETAIL[object_name], args=[public_id]) if member.exists else "",
                "is_master": member.is_master,
            }
        )
    labels = relation_labels(object_name)
    related = merge.snapshot.get("related", {})
    return {
        "merge": merge,
        "object_name": object_name,
        "object_label": OBJECT_LABELS[object_name],
        "records": records,
        "master": records[0],
        "merged": records[1:],
        "related": [(labels.get(key, key), count) for key, count in sorted(related.items())],
        "can_undo": merge.status == MergeStatus.MERGED,
    }


@page_view
def merge_detail(request: HttpRequest, merge_id: int) -> HttpResponse:
    """A merge the user may see (404 otherwise): what it did, and Undo merge."""
    merge = merge_get(actor=signed_in_user(request), merge_id=merge_id)
    return render(request, "web/duplicates/merge_done.html", _merge_context(merge))


@require_POST
@page_view
def merge_undo_page(request: HttpRequest, merge_id: int) -> HttpResponse:
    """POST: undo the merge; a refusal (changed since, a value taken) is shown on its page."""
    try:
        merge = merge_undo(actor=signed_in_user(request), merge_id=merge_id)
    except DomainError as error:
        if error.code in (ErrorCode.NOT_FOUND, ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY):
            raise
        messages.error(request, f"The merge was not undone: {error.message}")
        return redirect("merge_detail", merge_id=merge_id)
    count = len(merge.merged_record_ids)
    messages.success(
        request,
        f"Merge undone: the {count} merged record{'s are' if count != 1 else ' is'} back, "
        "with their related records.",
    )
    return redirect("merge_detail", merge_id=merge.pk)
