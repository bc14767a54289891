"""The duplicate review queue (docs/duplicates.md): the scan's groups, their records
side by side, Dismiss, Merge; admins also start a scan. Admins and managers only.

The merge pages (anyone, on records they may change): `/duplicates/merge/?object=Lead&ids=
ID,ID[,ID]` shows 2 or 3 records side by side with a radio for the master and one per
field that differs, and the master as it would be after the merge (htmx asks for the
preview again on each change: `?part=preview`); with fewer ids it offers the record's
likely duplicates to choose from. POST merges; the merge's page then offers "Undo merge".
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from dealflow.accounts.models import Account, Contact
from dealflow.accounts.selectors import ACCOUNT_LIST, CONTACT_LIST
from dealflow.core import ids, rows
from dealflow.core.access import require_admin
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.selectors import search_records
from dealflow.duplicates.keys import OBJECT_NAMES
from dealflow.duplicates.merge import (
    MAX_RECORDS,
    MergePlan,
    merge_fields,
    merge_for_records,
    merge_get,
    merge_may_see,
    merge_members,
    merge_plan,
    records_merge,
    relation_count_words,
)
from dealflow.duplicates.merge_undo import merge_undo
from dealflow.duplicates.models import DuplicateGroupStatus, Merge, MergeStatus
from dealflow.duplicates.selectors import (
    duplicate_groups,
    duplicates_find,
    merge_candidates,
    merges_recent,
    record_name,
    require_queue_access,
    works_the_queue,
)
from dealflow.duplicates.services import duplicate_group_dismiss, duplicate_group_restore
from dealflow.duplicates.tasks import scan_duplicates
from dealflow.leads.models import Lead
from dealflow.leads.selectors import LEAD_LIST
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
LISTING = {"Lead": "lead_list", "Contact": "contact_list", "Account": "account_list"}
OBJECT_LABELS = {"Lead": "Leads", "Contact": "Contacts", "Account": "Accounts"}
# The search box of the choose step: the same keys as the header search and the lists' `q`.
SEARCHED = {
    "Lead": (Lead, LEAD_LIST),
    "Contact": (Contact, CONTACT_LIST),
    "Account": (Account, ACCOUNT_LIST),
}
SEARCH_RESULTS = 10


def _counted(count: int, object_name: str) -> str:
    """ "1 lead", "2 leads"."""
    return f"{count} {object_name.lower() if count == 1 else OBJECT_LABELS[object_name].lower()}"


def _short_name(object_name: str, record: Any) -> str:
    """A person's name, or an account's (no company: for headings)."""
    if object_name == "Account":
        return str(record.name)
    return " ".join(part for part in (record.first_name, record.last_name) if part)


def _score(score: Any) -> str:
    """A match score (0-100) as every page shows it: "Match 100%", "Match 87.5%"."""
    value = Decimal(str(score)).quantize(Decimal("0.1")).normalize()
    return f"Match {value:f}%"


def _distinct_names(names: list[tuple[str, str]]) -> list[str]:
    """[(name, public id)] as shown: a name two records share gets its id in
    parentheses, to tell them apart; the others none."""
    counts: dict[str, int] = {}
    for name, _public_id in names:
        counts[name] = counts.get(name, 0) + 1
    return [
        f"{name} ({public_id})" if counts[name] > 1 or not name else name
        for name, public_id in names
    ]


def _value(record: Any, attribute: str) -> Any:
    value = getattr(record, attribute, "")
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).date().isoformat()  # YYYY-MM-DD as every list
    return "" if value is None else value


def _is_converted(object_name: str, record: Any) -> bool:
    return object_name == "Lead" and bool(getattr(record, "is_converted", False))


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
                "converted": _is_converted(object_name, member.record),
            }
            for member in view.members
        ]
        rows_shown = [
            (
                label,
                [
                    _value(member.record, attribute) if member.record else ""
                    for member in view.members
                ],
            )
            for label, attribute in COMPARED[object_name]
        ]
        # A converted lead cannot be merged (Salesforce refuses it): it is not offered.
        mergeable = [
            member
            for member in view.members
            if member.public_id and not _is_converted(object_name, member.record)
        ]
        merge_url = ""
        if view.group.status == DuplicateGroupStatus.OPEN and len(mergeable) >= 2:
            shown = ",".join(str(member.public_id) for member in mergeable[:MAX_RECORDS])
            merge_url = f"{reverse('merge_records')}?object={object_name}&ids={shown}"
        visible = [
            _short_name(object_name, member.record) for member in view.members if member.record
        ]
        hidden = len(view.members) - len(visible)
        if hidden:
            visible.append(f"{hidden} you cannot see")
        merge = None
        if view.group.status == DuplicateGroupStatus.MERGED:
            found = merge_for_records(object_name, [member.record_id for member in view.members])
            merge = found if found is not None and merge_may_see(actor, found) else None
        if merge is not None:
            heading = f"Merged into {', '.join(visible)}"
        else:
            heading = f"{_counted(len(view.members), object_name)}: {', '.join(visible)}"
        groups.append(
            {
                "group": view.group,
                "heading": heading,
                "score": _score(view.group.score),
                "members": members,
                "rows": rows_shown,
                "merge_url": merge_url,
                "merge": merge,
            }
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


@page_view
def merge_list(request: HttpRequest) -> HttpResponse:
    """GET /duplicates/merges/?cursor=ID (admins and managers): the newest merges they may
    see, each with its records and, while it stands, Undo."""
    actor = signed_in_user(request)
    cursor = request.GET.get("cursor", "")
    before_id = int(cursor) if cursor.isdigit() and len(cursor) < 19 else None
    found = merges_recent(actor=actor, limit=PAGE_SIZE + 1, before_id=before_id)
    more = len(found) > PAGE_SIZE
    items = [_merge_context(merge) for merge in found[:PAGE_SIZE]]
    next_url = f"{reverse('merge_list')}?cursor={found[PAGE_SIZE - 1].pk}" if more else ""
    return render(request, "web/duplicates/merge_list.html", {"items": items, "next_url": next_url})


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
    messages.success(request, "The group was dismissed: its records are not duplicates.")
    return redirect(f"{reverse('duplicate_queue')}?object={group.object_type}")


@require_POST
@page_view
def duplicate_restore(request: HttpRequest, group_id: int) -> HttpResponse:
    """POST: reopen a dismissed group, then back to the dismissed ones."""
    try:
        group = duplicate_group_restore(actor=signed_in_user(request), group_id=group_id)
    except DomainError as error:
        if error.code != ErrorCode.INVALID_STATUS:
            raise
        messages.error(request, error.message)
        return redirect(f"{reverse('duplicate_queue')}?status=dismissed")
    messages.success(request, "The group is open again: it is back in the queue.")
    return redirect(f"{reverse('duplicate_queue')}?object={group.object_type}&status=dismissed")


@require_POST
@page_view
def duplicate_scan(request: HttpRequest) -> HttpResponse:
    """POST (admins): scan every object now: in this process without a broker (the
    message then says what it found), else queued to a worker."""
    require_admin(signed_in_user(request), "when the duplicate scan runs")
    result = scan_duplicates.delay()
    if settings.CELERY_TASK_ALWAYS_EAGER:
        found = result.get()
        created = sum(item["created"] for item in found)
        total = sum(item["groups"] for item in found)
        messages.success(
            request,
            f"Scan finished: {created} new group{'s' if created != 1 else ''} "
            f"({total} found in all).",
        )
    else:
        messages.success(
            request,
            "The duplicate scan has started on a worker; its groups appear here when it ends.",
        )
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


def _named_ids_lenient(object_name: str, data: QueryDict) -> tuple[list[int], list[str]]:
    """The records named by `ids` (as `_named_ids`) and the values that are no id of the
    object (as typed, for the page to name)."""
    good: list[int] = []
    bad: list[str] = []
    for value in data.getlist("ids"):
        for part in (part.strip() for part in value.split(",")):
            if not part:
                continue
            try:
                good.append(ids.decode(part, object_name)[1])
            except ids.InvalidIdError:
                bad.append(part)
    return list(dict.fromkeys(good)), bad


def _not_found_message(object_name: str, values: list[str]) -> str:
    """ "No lead with id X that you can see." (the same for a bad id and a hidden record,
    so it tells nothing about records the user may not see)."""
    shown = ", ".join(values)
    return f"No {object_name.lower()} with id {shown} that you can see."


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


def _shown(value: Any, kind: str = "") -> Any:
    """A value as the merge page shows it: a checkbox's as Yes or No, money as on the
    record pages (356,478,000.00)."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if kind == "currency" and value not in ("", None):
        try:
            return f"{Decimal(str(value)):,.2f}"
        except ArithmeticError:
            return value
    return value


def _plan_context(plan: MergePlan, object_name: str, order: list[int]) -> dict[str, Any]:
    """The side-by-side table and the preview as the templates render them, the records
    in the order named (`order`, primary keys), so choosing another master moves no column."""
    position = {record.pk: index for index, record in enumerate(plan.records)}
    columns = [position[record_id] for record_id in order]
    ordered = [plan.records[column] for column in columns]
    names = _distinct_names(
        [(record_name(object_name, record), record.public_id) for record in ordered]
    )
    records = [
        {
            "public_id": record.public_id,
            "name": name,
            "url": reverse(DETAIL[object_name], args=[record.public_id]),
            "created_at": record.created_at,
            "is_master": record.pk == plan.master.pk,
        }
        for record, name in zip(ordered, names, strict=True)
    ]
    kinds = {definition.name: definition.type for definition in merge_fields(object_name)}
    rows_shown = []
    for choice in plan.fields:
        if not choice.differs and all(value in ("", None) for value in choice.values):
            continue  # blank in every record: nothing to choose or see
        chosen = ids.encode(object_name, choice.chosen_id)
        kind = kinds.get(choice.name, "")
        rows_shown.append(
            {
                "name": choice.name,
                "label": choice.label,
                "differs": choice.differs,
                "cells": [
                    {
                        "public_id": record["public_id"],
                        "value": _shown(value, kind),
                        "checked": record["public_id"] == chosen,
                    }
                    for record, value in zip(
                        records, [choice.values[column] for column in columns], strict=True
                    )
                ],
            }
        )
    return {
        "records": records,
        "rows": rows_shown,
        # The fields the merge decides: those that differ between the records.
        "result": [
            (choice.label, _shown(plan.result[choice.name], kinds.get(choice.name, "")))
            for choice in plan.fields
            if choice.differs
        ],
        "related": relation_count_words(object_name, plan.related),
        "master": next(record for record in records if record["is_master"]),
    }


def _unmatched_warning(actor: Any, object_name: str, plan: MergePlan) -> str:
    """A warning when no duplicate rule matches a merged record with the master (merging
    them is allowed: the user may know better), naming them; "" when all match."""
    matches = duplicates_find(
        object_name=object_name, values=plan.master, actor=actor, exclude_id=plan.master.pk
    )
    matched = {match.record_id for match in matches}
    unmatched = [record for record in plan.records if record.pk != plan.master.pk]
    unmatched = [record for record in unmatched if record.pk not in matched]
    if not unmatched:
        return ""
    names = ", ".join(_short_name(object_name, record) for record in unmatched)
    return (
        f"These records do not look like duplicates: no duplicate rule matches "
        f"{names} with {_short_name(object_name, plan.master)}. Check that they are the "
        "same before merging."
    )


def _choose_context(
    actor: Any, object_name: str, record_ids: list[int], search: str = ""
) -> dict[str, Any]:
    """The records named and the first one's likely duplicates, as far as the actor may
    see them (a record they may not see is left out, not named), then the records whose
    name, company or email starts with `search` (the header search's keys, the access
    rules applied; converted leads left out as there). A converted lead is shown as such
    and not offered."""
    candidates = merge_candidates(
        actor=actor, object_name=object_name, record_ids=record_ids, limit=CANDIDATES_SHOWN
    )
    shown = {record.pk for record, _named in candidates}
    found: list[Any] = []
    if search:
        model, spec = SEARCHED[object_name]
        queryset = model._default_manager.all()
        if model is Lead:
            queryset = queryset.filter(is_converted=False)
        position = rows.attnames(model).index("id")
        keys = [
            row[position]
            for row in search_records(actor, queryset, spec, search, limit=SEARCH_RESULTS)
        ]
        by_key = model._default_manager.in_bulk(keys)
        found = [by_key[key] for key in keys if key in by_key and key not in shown]

    def entry(record: Any, checked: bool) -> dict[str, Any]:
        converted = _is_converted(object_name, record)
        return {
            "public_id": record.public_id,
            "name": record_name(object_name, record),
            "url": reverse(DETAIL[object_name], args=[record.public_id]),
            "checked": checked and not converted,
            "converted": converted,
            "created_at": record.created_at,
        }

    return {
        "candidates": [entry(record, named) for record, named in candidates],
        "found": [entry(record, False) for record in found],
        "search": search,
        "searched": bool(search),
        "visible_ids": {record.pk for record, _named in candidates},
    }


def _breadcrumb(actor: Any, object_name: str) -> dict[str, str]:
    """The page's pretitle link: the review queue for those who may open it, else the
    object's list (a rep would get a 403 from the queue)."""
    if works_the_queue(actor):
        return {
            "crumb_url": f"{reverse('duplicate_queue')}?object={object_name}",
            "crumb_label": "Duplicates",
        }
    return {"crumb_url": reverse(LISTING[object_name]), "crumb_label": OBJECT_LABELS[object_name]}


@page_view
def merge_records(request: HttpRequest) -> HttpResponse:
    """GET: choose the records (fewer than 2 named, a search, or a record not found) or
    compare them; `part=preview` is the preview alone (htmx). POST: merge, then the
    merge's page (with Undo merge)."""
    actor = signed_in_user(request)
    data = request.POST if request.method == "POST" else request.GET
    object_name = _object_name(data)
    context: dict[str, Any] = {
        "object_name": object_name,
        "object_label": OBJECT_LABELS[object_name],
        "limit": MAX_RECORDS,
        **_breadcrumb(actor, object_name),
    }
    if request.method == "POST":
        record_ids = _named_ids(object_name, data)
    else:
        record_ids, bad = _named_ids_lenient(object_name, data)
        step = data.get("step", "")
        search = (data.get("q") or "").strip()[:100]
        if bad or step == "search" or not 2 <= len(record_ids) <= MAX_RECORDS:
            context.update(_choose_context(actor, object_name, record_ids, search))
            hidden = [
                ids.encode(object_name, record_id)
                for record_id in record_ids
                if record_id not in context["visible_ids"]
            ]
            status = 200
            if bad or hidden:
                context["error"] = _not_found_message(object_name, bad + hidden)
                status = 404
            elif len(record_ids) > MAX_RECORDS:
                context["error"] = f"Choose at most {MAX_RECORDS} records to merge at once."
            elif step == "compare" and len(record_ids) < 2:
                context["error"] = "Choose at least two records to merge."
                status = 400
            return render(request, "web/duplicates/merge_choose.html", context, status=status)
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
        if error.code == ErrorCode.NOT_FOUND and request.method != "POST":
            context.update(_choose_context(actor, object_name, record_ids))
            context["error"] = _not_found_message(
                object_name,
                [
                    ids.encode(object_name, record_id)
                    for record_id in record_ids
                    if record_id not in context["visible_ids"]
                ]
                or [ids.encode(object_name, record_id) for record_id in record_ids],
            )
            return render(request, "web/duplicates/merge_choose.html", context, status=404)
        if error.code in (ErrorCode.NOT_FOUND, ErrorCode.INVALID_ID):
            raise
        context.update(_choose_context(actor, object_name, record_ids))
        context["error"] = error.message
        return render(request, "web/duplicates/merge_choose.html", context, status=400)
    context.update(_plan_context(plan, object_name, record_ids))
    if request.GET.get("part") == "preview":
        return render(request, "web/duplicates/_merge_preview.html", context)
    context["warning"] = _unmatched_warning(actor, object_name, plan)
    return render(request, "web/duplicates/merge.html", context, status=status)


def _merge_context(merge: Merge) -> dict[str, Any]:
    """A merge as its page and the merges list show it: its records (named, with an id
    only where two share a name), a title in words, the related records moved."""
    object_name = merge.object_type
    members = merge_members(merge)
    names = _distinct_names(
        [
            (
                record_name(object_name, member.record) if member.record else "",
                ids.encode(object_name, member.record_id),
            )
            for member in members
        ]
    )
    records = []
    for member, name in zip(members, names, strict=True):
        public_id = ids.encode(object_name, member.record_id)
        records.append(
            {
                "public_id": public_id,
                "name": name,
                "short_name": _short_name(object_name, member.record)
                if member.record
                else public_id,
                "url": reverse(DETAIL[object_name], args=[public_id]) if member.exists else "",
                "is_master": member.is_master,
            }
        )
    related = merge.snapshot.get("related", {})
    return {
        "merge": merge,
        "title": f"Merge of {_counted(len(records), object_name)} into {records[0]['short_name']}",
        "object_name": object_name,
        "object_label": OBJECT_LABELS[object_name],
        "records": records,
        "master": records[0],
        "merged": records[1:],
        "related": relation_count_words(object_name, related),
        "can_undo": merge.status == MergeStatus.MERGED,
    }


@page_view
def merge_detail(request: HttpRequest, merge_id: int) -> HttpResponse:
    """A merge the user may see (404 otherwise): what it did, and Undo merge."""
    actor = signed_in_user(request)
    merge = merge_get(actor=actor, merge_id=merge_id)
    context = _merge_context(merge)
    context["can_list"] = works_the_queue(actor)
    context.update(_breadcrumb(actor, merge.object_type))
    return render(request, "web/duplicates/merge_done.html", context)


@require_POST
@page_view
def merge_undo_page(request: HttpRequest, merge_id: int) -> HttpResponse:
    """POST: undo the merge; a refusal (changed since, a value taken) is shown on its page.
    `next=list` comes back to the merges list instead."""
    back_to_list = request.POST.get("next") == "list"
    try:
        merge = merge_undo(actor=signed_in_user(request), merge_id=merge_id)
    except DomainError as error:
        if error.code in (ErrorCode.NOT_FOUND, ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY):
            raise
        messages.error(request, f"The merge was not undone: {error.message}")
        if back_to_list:
            return redirect("merge_list")
        return redirect("merge_detail", merge_id=merge_id)
    count = len(merge.merged_record_ids)
    messages.success(request, _undone_message(count))
    if back_to_list:
        return redirect("merge_list")
    return redirect("merge_detail", merge_id=merge.pk)


def _undone_message(count: int) -> str:
    """The message after an undo, in grammatical English for `count` merged records:
    "the merged record is back, with its related records" for one, "the 2 merged records
    are back, with their related records" for more."""
    if count == 1:
        return "Merge undone: the merged record is back, with its related records."
    return f"Merge undone: the {count} merged records are back, with their related records."
