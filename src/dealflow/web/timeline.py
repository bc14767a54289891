"""A record's activity timeline: its tasks and its audit events (who changed which field
from what to what, when), newest first. Every detail page shows it."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.urls import reverse
from django.utils import timezone

from dealflow.accounts.models import Account, Contact
from dealflow.core import ids
from dealflow.core.access import readable
from dealflow.core.metadata import FieldDef, registry
from dealflow.core.selectors import audit_event_list, page_of
from dealflow.duplicates.merge import merge_may_see, merged_records
from dealflow.duplicates.models import Merge
from dealflow.leads.models import Lead
from dealflow.leads.qualification import change_label as qualification_change_label
from dealflow.leads.web_to_lead import WEB_TO_LEAD_CHANNEL
from dealflow.people.models import Queue, User
from dealflow.sales.models import Opportunity, Task
from dealflow.sales.selectors import TASK_LIST

# The task foreign key of each object a task can belong to.
TASK_TARGETS = {
    "Lead": "lead",
    "Contact": "contact",
    "Account": "account",
    "Opportunity": "opportunity",
}
# Records a change can point at: their model and detail page (None: no page of their own).
REFERENCED = {
    "Lead": (Lead, "lead_detail"),
    "Account": (Account, "account_detail"),
    "Contact": (Contact, "contact_detail"),
    "Opportunity": (Opportunity, "opportunity_detail"),
    "User": (User, None),
    "Queue": (Queue, None),
}
HIDDEN_RECORD = "(a record you cannot see)"
# Who made a lead the Web-to-Lead form created (its create event says so), shown instead
# of the default creator the form acts as.
WEB_FORM = "the web form (Web-to-Lead)"
# The audit keys a merge writes (duplicates/merge.py): read as a sentence, not as fields.
MERGE_KEYS = ("merge", "merged_records", "merged_into", "merge_undone", "restored_by_undo_of_merge")


@dataclass
class Value:
    """A changed field's value as shown: text, and a link when it names a record."""

    text: str
    url: str = ""


@dataclass
class Change:
    label: str
    before: Value
    after: Value


@dataclass
class Entry:
    """One line of the timeline: an event or a task."""

    at: datetime.datetime
    kind: str  # "event" or "task"
    title: str
    actor: str = ""
    changes: list[Change] = field(default_factory=list)
    task: Any = None
    # A merge's event in words: pieces of a sentence, each a text and maybe a link.
    summary: list[Value] = field(default_factory=list)


def _field(object_name: str, name: str) -> FieldDef | None:
    object_def = registry().get(object_name)
    return object_def.field(name) if object_def else None


def _reference(value: Any) -> tuple[str, int] | None:
    """(object name, primary key) when a stored value is a record's public id."""
    if not isinstance(value, str) or len(value) != 18:
        return None
    try:
        object_name, primary_key = ids.decode(value)
    except ids.InvalidIdError:
        return None
    return (object_name, primary_key) if object_name in REFERENCED else None


def _record_names(actor: Any, events: list[Any]) -> dict[str, Value]:
    """{public id: Value} of every record the events' changes name, through the access
    rules (one query per object named): a record the actor may not see shows as such."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for event in events:
        for values in (event.changes or {}).values():
            for value in values if isinstance(values, list) else ():
                if found := _reference(value):
                    wanted[found[0]].add(found[1])
    names: dict[str, Value] = {}
    for object_name, keys in wanted.items():
        model, detail = REFERENCED[object_name]
        records = model.objects.filter(pk__in=keys)
        if detail:
            records = readable(actor, records)
        for record in records:
            public_id = ids.encode(object_name, record.pk)
            text = record.get_full_name() or record.username if model is User else str(record)
            url = reverse(detail, args=[public_id]) if detail else ""
            names[public_id] = Value(text, url)
    return names


def _shown(definition: FieldDef | None, value: Any, names: dict[str, Value]) -> Value:
    if value is None or value == "":
        return Value("")
    if _reference(value):
        return names.get(value, Value(HIDDEN_RECORD))
    if definition is not None and definition.type == "currency":
        try:
            return Value(f"{Decimal(str(value)):,.2f}")
        except InvalidOperation:
            pass
    if isinstance(value, bool):
        return Value("Yes" if value else "No")
    return Value(str(value))


def _merge_id(event: Any) -> int | None:
    """The merge an audit event belongs to (duplicates/merge.py writes its id under
    `merge`, `merge_undone` or `restored_by_undo_of_merge`), or None."""
    changes = event.changes or {}
    for key, position in (("merge", 1), ("merge_undone", 0), ("restored_by_undo_of_merge", 1)):
        values = changes.get(key)
        if isinstance(values, list) and len(values) == 2 and isinstance(values[position], int):
            return values[position]
    return None


@dataclass
class MergeShown:
    """A merge as the timeline names it: its page (when the actor may see it) and the
    merged records' names as they were ({public id: "Lucy Diaz"})."""

    url: str
    merged: dict[str, str]


def _merges(actor: Any, events: list[Any]) -> dict[int, MergeShown]:
    """{merge id: MergeShown} of the merges the events name (one query)."""
    wanted = {merge_id for event in events if (merge_id := _merge_id(event)) is not None}
    if not wanted:
        return {}
    shown = {}
    for merge in Merge.objects.filter(pk__in=wanted):
        visible = merge_may_see(actor, merge)
        merged = {}
        if visible:
            for record in merged_records(merge):
                person = " ".join(
                    part
                    for part in (
                        getattr(record, "first_name", ""),
                        getattr(record, "last_name", ""),
                    )
                    if part
                )
                merged[ids.encode(merge.object_type, record.pk)] = person or str(
                    getattr(record, "name", "")
                )
        url = reverse("merge_detail", args=[merge.pk]) if visible else ""
        shown[merge.pk] = MergeShown(url, merged)
    return shown


def _merge_summary(
    event: Any, names: dict[str, Value], merges: dict[int, MergeShown]
) -> list[Value]:
    """A merge's audit event as a sentence with links: "Merged with Lucy Diaz
    (00Q…)" (to the merge's page, where Undo is), "Merged into Ana Ruiz" (to the
    master) with "the merge", "Merge undone", "Restored by undoing the merge"; [] for
    any other event."""
    changes = event.changes or {}
    merge_id = _merge_id(event)
    if merge_id is None:
        return []
    merge = merges.get(merge_id, MergeShown("", {}))
    link = Value("the merge", merge.url) if merge.url else None

    def merged_names(public_ids: list[str]) -> list[Value]:
        pieces: list[Value] = []
        for index, public_id in enumerate(public_ids):
            if index:
                pieces.append(Value(" and " if index == len(public_ids) - 1 else ", "))
            name = merge.merged.get(public_id)
            text = f"{name} ({public_id})" if name else HIDDEN_RECORD
            pieces.append(Value(text, merge.url))
        return pieces

    if "merged_records" in changes:
        merged = [*changes["merged_records"], None][1] or []
        return [Value("Merged with "), *merged_names([str(value) for value in merged])]
    if "merged_into" in changes:
        master = [*changes["merged_into"], None][1]
        pieces = [Value("Merged into "), names.get(master, Value(HIDDEN_RECORD))]
        return [*pieces, Value(" ("), link, Value(")")] if link else pieces
    if "merge_undone" in changes:
        pieces = [Value("Merge undone")]
        if merge.merged:
            pieces += [Value(": "), *merged_names(list(merge.merged)), Value(" back")]
        return [*pieces, Value(" ("), link, Value(")")] if link else pieces
    if "restored_by_undo_of_merge" in changes:
        pieces = [Value("Restored by undoing "), link or Value("a merge")]
        return pieces
    return []


def _event_entry(
    event: Any, names: dict[str, Value], merges: dict[int, MergeShown] | None = None
) -> Entry:
    actor = (event.actor.get_full_name() or event.actor.username) if event.actor else "System"
    if event.action == "create" and (event.changes or {}).get("channel") == WEB_TO_LEAD_CHANNEL:
        actor = WEB_FORM  # not the default creator the form acts as (leads/web_to_lead.py)
    summary = _merge_summary(event, names, merges or {})
    changes = []
    # A merged record's delete event lists every field as wiped (its values are kept for
    # the undo): "Merged into X by Y" says it all, so its fields are not listed.
    merged_away = bool(summary) and "merged_into" in (event.changes or {})
    for name, values in sorted((event.changes or {}).items()):
        if merged_away:
            break
        if not isinstance(values, list):
            continue
        if summary and name in MERGE_KEYS:
            continue  # said by the summary
        if summary and name.endswith("_key") and _field(event.object_name, name) is None:
            continue  # an undo's matching keys (email_key): internal, not a field
        before, after = [*values, None, None][:2]
        definition = _field(event.object_name, name)
        label = (
            definition.label
            if definition
            else qualification_change_label(name) or name.replace("_", " ").capitalize()
        )
        changes.append(
            Change(label, _shown(definition, before, names), _shown(definition, after, names))
        )
    titles = {
        "create": "Created",
        "update": "Changed",
        "delete": "Deleted",
        "convert": "Converted",
        "complete": "Completed",
    }
    return Entry(
        at=event.created_at,
        kind="event",
        title=titles.get(event.action, event.get_action_display()),
        actor=actor,
        changes=changes,
        summary=summary,
    )


def record_timeline(actor: Any, record: Any, *, limit: int = 50) -> list[Entry]:
    """Tasks and audit events of a record the actor may see, newest first.

    Shapes: each Entry has `at` (aware datetime), `kind`, `title`, `actor`, `changes`
    (label, before and after as `Value(text, url)`: money with two decimals, a record by
    its name and page if the actor may see it), for a merge's event a `summary` in words
    (pieces of `Value`, the merge's page linked) instead of its raw keys, and, for a task,
    the Task row. Two queries, plus one per kind of record the changes name (at most six)
    and one for the merges named (plus what `merge_may_see` reads per merge).
    """
    object_name = record.object_name
    events = audit_event_list(actor, record, limit=limit)
    names = _record_names(actor, events)
    merges = _merges(actor, events)
    entries = [_event_entry(event, names, merges) for event in events]
    target = TASK_TARGETS.get(object_name)
    if target:
        page = page_of(
            actor, Task.objects.all(), TASK_LIST, filters={target: record.pk}, limit=limit
        )
        attnames = [model_field.attname for model_field in Task._meta.concrete_fields]
        for row in page.records:
            task = Task.from_db("default", attnames, row)
            moment = task.completed_at or task.created_at
            entries.append(Entry(at=moment, kind="task", title=task.subject, task=task))
    entries.sort(key=lambda entry: entry.at or timezone.now(), reverse=True)
    return entries
