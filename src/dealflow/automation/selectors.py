"""Reads for assignment rules: the active set (cached), loads, decisions, the API's shape."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Exists, OuterRef, Prefetch

from dealflow.automation.models import (
    AssigneeKind,
    AssignmentDecision,
    AssignmentRuleEntry,
    AssignmentRuleSet,
)
from dealflow.core import ids
from dealflow.core.cache import ConfigurationCache
from dealflow.leads.models import Lead
from dealflow.leads.selectors import lead_statuses
from dealflow.people.models import Queue


def _load_active() -> AssignmentRuleSet | None:
    entries = AssignmentRuleEntry.objects.select_related("user", "queue").order_by("sort_order")
    return (
        AssignmentRuleSet.objects.filter(is_active=True)
        .select_related("default_owner")
        .prefetch_related(Prefetch("entries", queryset=entries))
        .first()
    )


# The active rules, read once per configuration version: every create without an owner
# asks, and saving the rules replaces the version (automation.services). A round's place
# is NOT taken from here; it is read under the entry's row lock.
_active: ConfigurationCache[AssignmentRuleSet | None] = ConfigurationCache(_load_active)


def active_rule_set() -> AssignmentRuleSet | None:
    """The active rule set with its entries in order, or None when no rules are active."""
    return _active.get()


def _closed_status_ids() -> list[int]:
    return [status.pk for status in lead_statuses.get() if status.is_closed or status.is_converted]


def open_lead_counts(user_ids: list[int]) -> dict[int, int]:
    """Open leads (unconverted, status not closed) each of these users owns; 0s omitted."""
    counts = (
        Lead.objects.filter(owner_user_id__in=user_ids, is_converted=False)
        .exclude(status_id__in=_closed_status_ids())
        .order_by()
        .values("owner_user_id")
        .annotate(count=Count("id"))
    )
    return {row["owner_user_id"]: row["count"] for row in counts}


def undecided_queue_leads(*, queue: Queue | None = None, limit: int | None = None) -> list[int]:
    """Primary keys of open, unconverted leads owned by a queue (or `queue`) that the rules
    have never decided, oldest first: what `dealflow assign` deals."""
    leads = Lead.objects.filter(owner_queue__isnull=False, is_converted=False).exclude(
        status_id__in=_closed_status_ids()
    )
    if queue is not None:
        leads = leads.filter(owner_queue=queue)
    decided = AssignmentDecision.objects.filter(lead=OuterRef("pk"))
    keys = leads.filter(~Exists(decided)).order_by("created_at", "id").values_list("id", flat=True)
    return list(keys[:limit] if limit else keys)


def _public(object_name: str, key: int | None) -> str | None:
    return ids.encode(object_name, key) if key else None


def _assignee_json(entry: AssignmentRuleEntry) -> dict[str, Any]:
    if entry.kind == AssigneeKind.USER:
        return {"kind": entry.kind, "user_id": _public("User", entry.user_id)}
    if entry.kind == AssigneeKind.QUEUE:
        return {"kind": entry.kind, "queue_id": _public("Queue", entry.queue_id)}
    return {
        "kind": entry.kind,
        "user_ids": [_public("User", key) for key in entry.user_ids],
        "capacity": entry.capacity,
    }


def assignment_rules_json() -> dict[str, Any]:
    """The active rules in the API's shape (automation.services.assignment_rules_set);
    no rules: no default owner and no entries."""
    rule_set = active_rule_set()
    if rule_set is None:
        return {"default_owner_id": None, "entries": []}
    return {
        "default_owner_id": _public("User", rule_set.default_owner_id),
        "entries": [
            {"criteria": entry.criteria, "match": entry.match, "assign_to": _assignee_json(entry)}
            for entry in rule_set.entries.all()
        ],
    }


def lead_assignment(lead: Lead) -> AssignmentDecision | None:
    """The latest decision the rules made for a lead (one query), or None."""
    return (
        AssignmentDecision.objects.filter(lead=lead)
        .select_related("entry", "owner_user", "owner_queue")
        .order_by("-decided_at", "-id")
        .first()
    )


def decision_json(decision: AssignmentDecision | None) -> dict[str, Any] | None:
    """A decision as the API shows it: entry number (1-based, null for the default), owner,
    reason in words, time."""
    if decision is None:
        return None
    return {
        "entry": decision.entry.sort_order + 1 if decision.entry_id else None,
        "owner_id": _public("User", decision.owner_user_id)
        or _public("Queue", decision.owner_queue_id),
        "reason": decision.reason,
        "decided_at": decision.decided_at,
    }
