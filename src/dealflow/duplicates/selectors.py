"""Reads of duplicate control: the matching rules, the matches of a record, the queue.

`duplicates_find` only ever compares records that share a blocking key (an indexed
lookup in DuplicateKey, at most CANDIDATE_LIMIT candidates), and by default only
records the actor may see ("Enforce sharing rules", Salesforce's default for its
standard duplicate rules). With `record_level_security: bypass` an object's rules also
count records the actor cannot see, and those are reported without any of their data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.db.models import BooleanField, Case, Q, Value, When

from dealflow.accounts.models import Account, Contact
from dealflow.core import ids
from dealflow.core.access import is_admin, readable, readable_q
from dealflow.core.cache import ConfigurationCache
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.duplicates.keys import (
    Profile,
    blocking_keys,
    profile_of_record,
    profile_of_values,
    source_fields,
)
from dealflow.duplicates.models import (
    DuplicateGroup,
    DuplicateGroupMember,
    DuplicateKey,
    DuplicateRuleSetting,
    Merge,
)
from dealflow.duplicates.rules import best_match, checked_rules, default_rules
from dealflow.leads.models import Lead

MODELS: dict[str, type[models.Model]] = {"Lead": Lead, "Contact": Contact, "Account": Account}
# Candidates compared per check: the records filed under the new record's keys, newest
# first; a bigger block (a switchboard number shared by thousands) is cut here.
CANDIDATE_LIMIT = 200


def _load_rules() -> dict[str, dict[str, Any]]:
    row = DuplicateRuleSetting.objects.order_by("id").first()
    if row is None:
        return default_rules()
    return checked_rules(row.rules)


_rules: ConfigurationCache[dict[str, dict[str, Any]]] = ConfigurationCache(_load_rules)


def matching_rules() -> dict[str, dict[str, Any]]:
    """The matching rules of every object ({"Lead": {"active", "record_level_security",
    "rules"}, ...}; duplicates/rules.py), cached until the configuration changes."""
    return _rules.get()


@dataclass(frozen=True)
class Match:
    """A record a new or changed record may duplicate.

    `record_id` and `name` are None when the actor may not see the record (only with
    record-level security bypassed). `score` is 0-100 (the matching rule's weakest
    condition), `scores` each condition's by field.
    """

    object_name: str
    record_id: int | None
    name: str | None
    rule: str
    score: float
    scores: dict[str, float] = field(default_factory=dict)
    same_email: bool = False
    # The record as read for the check (None when hidden), for callers that show it.
    record: Any = field(default=None, compare=False, repr=False)

    @property
    def public_id(self) -> str | None:
        return ids.encode(self.object_name, self.record_id) if self.record_id else None

    def as_dict(self) -> dict[str, Any]:
        """The match as the API and pages show it; nothing of a record one may not see."""
        if self.record_id is None:
            return {
                "object": self.object_name,
                "id": None,
                "name": None,
                "visible": False,
                "rule": self.rule,
                "score": self.score,
            }
        return {
            "object": self.object_name,
            "id": self.public_id,
            "name": self.name,
            "visible": True,
            "rule": self.rule,
            "score": self.score,
            "scores": self.scores,
        }


def record_name(object_name: str, record: Any) -> str:
    """How a match is named: "Ada Lovelace (Analytical Engines)", "Ada Lovelace", "Acme"."""
    if object_name == "Account":
        return str(record.name)
    person = " ".join(part for part in (record.first_name, record.last_name) if part)
    return f"{person} ({record.company})" if object_name == "Lead" else person


def _candidates(
    object_name: str,
    keys: set[tuple[str, str]],
    actor: Any,
    *,
    bypass: bool,
    exclude_id: int | None,
) -> list[Any]:
    """The records filed under any of the keys, in one query (visible ones only unless
    `bypass`; then each carries `visible`)."""
    key_filter = Q()
    for kind, value in sorted(keys):
        key_filter |= Q(kind=kind, value=value)
    record_ids = (
        DuplicateKey.objects.filter(key_filter, object_type=object_name)
        .order_by("-record_id")
        .values("record_id")[:CANDIDATE_LIMIT]
    )
    model = MODELS[object_name]
    fields = [name for name in source_fields(object_name) if name != "account_name"]
    queryset = model._default_manager.filter(pk__in=record_ids).order_by()
    if object_name == "Lead":
        queryset = queryset.filter(is_converted=False)
    if object_name == "Contact":
        queryset = queryset.select_related("account")
        fields.append("account__name")
    if exclude_id is not None:
        queryset = queryset.exclude(pk=exclude_id)
    visible = readable_q(actor, model)
    if not bypass:
        queryset = queryset.filter(visible) if visible else queryset
    else:
        condition = (
            When(visible, then=Value(True)) if visible else When(pk__isnull=False, then=Value(True))
        )
        queryset = queryset.annotate(
            visible=Case(condition, default=Value(False), output_field=BooleanField())
        )
    return list(queryset.only("id", *fields))


def duplicates_find(
    *,
    object_name: str,
    values: Mapping[str, Any] | models.Model,
    actor: Any,
    exclude_id: int | None = None,
    profile: Profile | None = None,
) -> list[Match]:
    """The records (Lead, Contact or Account) that the active matching rules say `values`
    duplicates, best score first; [] when the object's rules are off.

    `values` is a record (saved or not) or its field values by native name (a contact's
    `account` an Account); `exclude_id` leaves out the record itself (on update). One
    query (the candidates); converted leads are never offered (DOMAIN.md section 2).
    """
    setting = matching_rules()[object_name]
    if not setting["active"] or not setting["rules"]:
        return []
    if profile is None:
        profile = (
            profile_of_record(object_name, values)
            if isinstance(values, models.Model)
            else profile_of_values(object_name, values)
        )
    keys = blocking_keys(object_name, profile)
    if not keys:
        return []
    bypass = setting["record_level_security"] == "bypass"
    matches = []
    for candidate in _candidates(object_name, keys, actor, bypass=bypass, exclude_id=exclude_id):
        other = profile_of_record(object_name, candidate)
        result = best_match(setting, profile, other)
        if result is None:
            continue
        shown = getattr(candidate, "visible", True)
        matches.append(
            Match(
                object_name=object_name,
                record_id=candidate.pk if shown else None,
                name=record_name(object_name, candidate) if shown else None,
                rule=result.rule,
                score=result.score,
                scores=result.scores if shown else {},
                same_email=bool(profile.email) and profile.email == other.email,
                record=candidate if shown else None,
            )
        )
    matches.sort(key=lambda match: (-match.score, match.record_id is None, -(match.record_id or 0)))
    return matches


# ---------------------------------------------------------------------------------------
# The review queue


def _works_the_queue(actor: Any) -> bool:
    return is_admin(actor) or getattr(actor, "role", "") == "manager"


def works_the_queue(actor: Any) -> bool:
    """Whether the actor may open the review queue and the merges list (admins and
    managers): the pages show their links only to them."""
    return _works_the_queue(actor)


def _all_members_readable(actor: Any) -> Q:
    """Groups none of whose members is hidden from the actor (or deleted)."""
    condition = Q()
    for name, model in MODELS.items():
        visible = model._default_manager.all()
        readable = readable_q(actor, model)
        if readable:
            visible = visible.filter(readable)
        hidden = DuplicateGroupMember.objects.filter(group__object_type=name).exclude(
            record_id__in=visible.values("pk")
        )
        condition &= ~Q(object_type=name) | ~Q(pk__in=hidden.values("group_id"))
    return condition


def require_queue_access(actor: Any) -> None:
    """Admins and managers work the review queue; others get INSUFFICIENT_ACCESS_OR_READONLY."""
    if not _works_the_queue(actor):
        raise DomainError(
            ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY,
            "only admins and managers review duplicates",
        )


@dataclass(frozen=True)
class GroupMember:
    """A member of a group as the actor may see it (`record` None when hidden)."""

    record_id: int
    public_id: str | None
    name: str | None
    record: Any


@dataclass(frozen=True)
class GroupView:
    group: DuplicateGroup
    members: list[GroupMember]


def duplicate_groups(
    *,
    actor: Any,
    status: str = "open",
    object_name: str | None = None,
    limit: int = 25,
    before_id: int | None = None,
) -> list[GroupView]:
    """A page of duplicate groups, newest id first (keyset: `before_id`), with their
    members. Admins and managers see every group (a member they may not see comes
    without data); others only the groups whose every member they may see. Three
    queries plus one per object type on the page."""
    groups_query = DuplicateGroup.objects.filter(status=status).order_by("-id")
    if not _works_the_queue(actor):
        groups_query = groups_query.filter(_all_members_readable(actor))
    if object_name:
        groups_query = groups_query.filter(object_type=object_name)
    if before_id is not None:
        groups_query = groups_query.filter(id__lt=before_id)
    groups = list(groups_query.prefetch_related("members")[:limit])
    wanted: dict[str, set[int]] = {}
    for group in groups:
        wanted.setdefault(group.object_type, set()).update(m.record_id for m in group.members.all())
    records: dict[tuple[str, int], Any] = {}
    for name, record_ids in wanted.items():
        model = MODELS[name]
        queryset = model._default_manager.filter(pk__in=record_ids)
        condition = readable_q(actor, model)
        if condition:
            queryset = queryset.filter(condition)
        if name == "Contact":
            queryset = queryset.select_related("account")
        records.update({(name, record.pk): record for record in queryset})
    views = []
    for group in groups:
        members = []
        for member in group.members.all():
            record = records.get((group.object_type, member.record_id))
            members.append(
                GroupMember(
                    record_id=member.record_id,
                    public_id=ids.encode(group.object_type, member.record_id) if record else None,
                    name=record_name(group.object_type, record) if record else None,
                    record=record,
                )
            )
        views.append(GroupView(group, members))
    return views


def duplicate_group_get(*, actor: Any, group_id: int) -> DuplicateGroup:
    """One group (NOT_FOUND when there is none)."""
    require_queue_access(actor)
    group = DuplicateGroup.objects.filter(pk=group_id).first()
    if group is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"duplicate group {group_id} does not exist", ["id"])
    return group


# ---------------------------------------------------------------------------------------
# Merge (duplicates/merge.py)


def merge_candidates(
    *, actor: Any, object_name: str, record_ids: list[int], limit: int = 10
) -> list[tuple[Any, bool]]:
    """The records a merge may take, as (record, named): those of `record_ids` the actor
    may see (in that order; one they may not see is left out, unnamed), then up to
    `limit` others the matching rules find for the first of them."""
    model = MODELS[object_name]
    found = {
        record.pk: record
        for record in readable(actor, model._default_manager.filter(pk__in=record_ids))
    }
    chosen = [(found[record_id], True) for record_id in record_ids if record_id in found]
    if not chosen:
        return []
    first = chosen[0][0]
    matches = duplicates_find(
        object_name=object_name, values=first, actor=actor, exclude_id=first.pk
    )
    wanted = [
        match.record_id for match in matches if match.record_id and match.record_id not in found
    ]
    more = model._default_manager.in_bulk(wanted[:limit])
    return chosen + [(more[record_id], False) for record_id in wanted[:limit] if record_id in more]


def merges_recent(*, actor: Any, limit: int = 25, before_id: int | None = None) -> list[Any]:
    """The newest merges (keyset: `before_id`, newest id first) the actor may see, as
    `merge_get` decides: an admin every one; an admin or manager (the queue's workers;
    INSUFFICIENT_ACCESS_OR_READONLY for others) those they made or whose master they may
    see, filtered in SQL (one query, plus one per merge's user)."""
    require_queue_access(actor)
    merges = Merge.objects.select_related("merged_by", "undone_by").order_by("-id")
    if not is_admin(actor):
        condition = Q(merged_by_id=actor.pk)
        for name, model in MODELS.items():
            visible = readable(actor, model._default_manager.all()).values("pk")
            condition |= Q(object_type=name, master_record_id__in=visible)
        merges = merges.filter(condition)
    if before_id is not None:
        merges = merges.filter(id__lt=before_id)
    return list(merges[:limit])
