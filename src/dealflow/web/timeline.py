"""A record's activity timeline: its tasks and its audit events (who changed which field
from what to what, when), newest first. Every detail page shows it."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from dealflow.core.metadata import registry
from dealflow.core.selectors import audit_event_list, page_of
from dealflow.sales.models import Task
from dealflow.sales.selectors import TASK_LIST

# The task foreign key of each object a task can belong to.
TASK_TARGETS = {
    "Lead": "lead",
    "Contact": "contact",
    "Account": "account",
    "Opportunity": "opportunity",
}


@dataclass
class Change:
    label: str
    before: Any
    after: Any


@dataclass
class Entry:
    """One line of the timeline: an event or a task."""

    at: datetime.datetime
    kind: str  # "event" or "task"
    title: str
    actor: str = ""
    changes: list[Change] = field(default_factory=list)
    task: Any = None


def _label(object_name: str, name: str) -> str:
    object_def = registry().get(object_name)
    definition = object_def.field(name) if object_def else None
    return definition.label if definition else name.replace("_", " ").capitalize()


def _event_entry(event: Any) -> Entry:
    actor = (event.actor.get_full_name() or event.actor.username) if event.actor else "System"
    changes = [
        Change(_label(event.object_name, name), *[*values, None, None][:2])
        for name, values in sorted((event.changes or {}).items())
        if isinstance(values, list)
    ]
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
    )


def record_timeline(actor: Any, record: Any, *, limit: int = 50) -> list[Entry]:
    """Tasks and audit events of a record the actor may see, newest first (two queries).

    Shapes: each Entry has `at` (aware datetime), `kind`, `title`, `actor`, `changes`
    (label, before, after as stored by core/audit.py) and, for a task, the Task row.
    """
    object_name = record.object_name
    entries = [_event_entry(event) for event in audit_event_list(actor, record, limit=limit)]
    target = TASK_TARGETS.get(object_name)
    if target:
        page = page_of(
            actor, Task.objects.all(), TASK_LIST, filters={target: record.pk}, limit=limit
        )
        for row in page.records:
            task = Task.from_db("default", [f.attname for f in Task._meta.concrete_fields], row)
            moment = task.completed_at or task.created_at
            entries.append(Entry(at=moment, kind="task", title=task.subject, task=task))
    entries.sort(key=lambda entry: entry.at or timezone.now(), reverse=True)
    return entries
