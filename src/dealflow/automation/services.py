"""Writes for assignment rules (DOMAIN.md section 7): saving the rules, and dealing leads.

The rules are one active `AssignmentRuleSet` of ordered entries. The first entry whose
criteria a lead meets chooses its owner: a user, a queue, or a pool of users dealt
round-robin or to the least loaded (open leads), skipping users at the entry's capacity.
No match, or every matching entry full: the default owner, else the acting user.

Each decision is written in the transaction that gives the lead its owner. A pool's
place in its round lives on the entry's row, locked (`select_for_update`) until that
transaction ends, so concurrent creates never deal two leads to one slot.
"""

from __future__ import annotations

import datetime
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from operator import attrgetter, itemgetter
from typing import Any

from django.db import DatabaseError, connection, models, transaction
from django.utils import timezone

from dealflow.automation.models import (
    AssigneeKind,
    AssignmentDecision,
    AssignmentRuleEntry,
    AssignmentRuleSet,
    MatchMode,
)
from dealflow.automation.selectors import active_rule_set, open_lead_counts
from dealflow.core import ids, rows
from dealflow.core.access import editable_q, require_admin, require_edit
from dealflow.core.audit import audit_event, changes_since, snapshot
from dealflow.core.cache import configuration_changed
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.metadata import FieldDef, get_object
from dealflow.core.models import AuditAction, AuditEvent
from dealflow.core.second_connection import SecondConnection
from dealflow.core.sqlite.bulk import sqlite_bulk_writes
from dealflow.leads.models import Lead
from dealflow.leads.selectors import lead_statuses
from dealflow.people.models import Queue, User

OPERATORS = ("equals", "in", "contains", "starts_with", "greater_than", "less_than", "blank")
TEXT_TYPES = ("string", "email", "phone", "url", "textarea", "picklist")
NUMBER_TYPES = ("int", "currency", "percent", "double")
# Which operators make sense for which kind of field.
OPERATORS_BY_KIND = {
    "text": ("equals", "in", "contains", "starts_with", "blank"),
    "number": ("equals", "in", "greater_than", "less_than", "blank"),
    "boolean": ("equals",),
}
OPERATOR_WORDS = {
    "equals": "equals",
    "in": "is one of",
    "contains": "contains",
    "starts_with": "starts with",
    "greater_than": "is greater than",
    "less_than": "is less than",
}


# --- Saving the rules -------------------------------------------------------------


def _field_kind(field_def: FieldDef) -> str | None:
    if field_def.type in TEXT_TYPES:
        return "text"
    if field_def.type in NUMBER_TYPES:
        return "number"
    if field_def.type == "boolean":
        return "boolean"
    return None


def criterion_fields() -> dict[str, FieldDef]:
    """Lead fields criteria may name, by public name: those set when a lead is created,
    except references (an owner is what the rules choose)."""
    return {
        field.public_name: field
        for field in get_object("Lead").fields
        if field.createable and field.type != "reference" and _field_kind(field)
    }


def _invalid(where: str, message: str, code: ErrorCode = ErrorCode.INVALID_FIELD) -> DomainError:
    return DomainError(code, f"{where}: {message}", [where])


def _number(where: str, value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _invalid(where, "expected a number", ErrorCode.INVALID_TYPE)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise _invalid(where, f"{value!r} is not a number", ErrorCode.INVALID_TYPE) from None
    if not number.is_finite():
        raise _invalid(where, f"{value!r} is not a number", ErrorCode.INVALID_TYPE)
    return number


def _scalar(where: str, kind: str, value: Any) -> Any:
    """One comparison value, checked against the field's kind (numbers kept as text)."""
    if kind == "number":
        return str(_number(where, value))
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _invalid(where, "expected true or false", ErrorCode.INVALID_TYPE)
        return value
    if not isinstance(value, str) or not value:
        raise _invalid(where, "expected non-empty text", ErrorCode.INVALID_TYPE)
    return value


def _clean_criterion(where: str, criterion: Any) -> dict[str, Any]:
    if not isinstance(criterion, Mapping):
        raise _invalid(
            where, "expected an object with field, operator and value", ErrorCode.INVALID_TYPE
        )
    unknown = set(criterion) - {"field", "operator", "value"}
    if unknown:
        raise _invalid(
            f"{where}.{sorted(unknown)[0]}", "not a criterion key (field, operator, value)"
        )
    fields = criterion_fields()
    name = criterion.get("field")
    if not isinstance(name, str) or name not in fields:
        raise _invalid(
            f"{where}.field",
            f"{name!r} is not a lead field rules can test ({', '.join(sorted(fields))})",
        )
    kind = _field_kind(fields[name])
    assert kind is not None  # criterion_fields holds only fields of a kind
    operator = criterion.get("operator")
    if not isinstance(operator, str) or operator not in OPERATORS:
        raise _invalid(f"{where}.operator", f"{operator!r} is not one of {', '.join(OPERATORS)}")
    if operator not in OPERATORS_BY_KIND[kind]:
        raise _invalid(
            f"{where}.operator",
            f"{operator} does not apply to {name} ({kind}); use "
            + ", ".join(OPERATORS_BY_KIND[kind]),
        )
    value = criterion.get("value")
    if operator == "blank":
        if value is None:
            value = True
        elif not isinstance(value, bool):
            raise _invalid(f"{where}.value", "blank takes true or false", ErrorCode.INVALID_TYPE)
    elif operator == "in":
        if not isinstance(value, list) or not value:
            raise _invalid(f"{where}.value", "in takes a non-empty list", ErrorCode.INVALID_TYPE)
        value = [_scalar(f"{where}.value[{index}]", kind, item) for index, item in enumerate(value)]
    else:
        value = _scalar(f"{where}.value", kind, value)
    return {"field": name, "operator": operator, "value": value}


def _user(where: str, public_id: Any) -> User:
    key = _decoded(where, public_id, "User")
    user = User.objects.filter(pk=key, is_active=True).first()
    if user is None:
        raise _invalid(where, f"no active user {public_id!r}", ErrorCode.NOT_FOUND)
    return user


def _decoded(where: str, public_id: Any, object_name: str) -> int:
    if not isinstance(public_id, str):
        raise _invalid(where, f"expected a {object_name} id", ErrorCode.INVALID_ID)
    try:
        found, key = ids.decode(public_id)
    except ids.InvalidIdError as error:
        raise _invalid(where, str(error), ErrorCode.INVALID_ID) from None
    if found != object_name:
        raise _invalid(where, f"{public_id!r} is not a {object_name} id", ErrorCode.INVALID_ID)
    if key > rows.MAX_PRIMARY_KEY:  # no row has it, and SQLite cannot compare it
        raise _invalid(where, f"no {object_name} {public_id!r}", ErrorCode.NOT_FOUND)
    return key


def _clean_assignee(where: str, assign_to: Any) -> dict[str, Any]:
    """Model values of an entry's assignee ({"kind": ..., ...} in the API's shape)."""
    if not isinstance(assign_to, Mapping):
        raise _invalid(where, "expected an object with a kind", ErrorCode.INVALID_TYPE)
    kind = assign_to.get("kind")
    if kind not in AssigneeKind.values:
        raise _invalid(f"{where}.kind", f"{kind!r} is not one of {', '.join(AssigneeKind.values)}")
    allowed = {
        AssigneeKind.USER: {"kind", "user_id"},
        AssigneeKind.QUEUE: {"kind", "queue_id"},
    }.get(kind, {"kind", "user_ids", "capacity"})
    unknown = set(assign_to) - allowed
    if unknown:
        raise _invalid(
            f"{where}.{sorted(unknown)[0]}",
            f"not a key of a {kind} assignee ({', '.join(sorted(allowed))})",
        )
    if kind == AssigneeKind.USER:
        return {"kind": kind, "user": _user(f"{where}.user_id", assign_to.get("user_id"))}
    if kind == AssigneeKind.QUEUE:
        key = _decoded(f"{where}.queue_id", assign_to.get("queue_id"), "Queue")
        queue = Queue.objects.filter(pk=key).first()
        if queue is None:
            raise _invalid(
                f"{where}.queue_id", f"no queue {assign_to['queue_id']!r}", ErrorCode.NOT_FOUND
            )
        return {"kind": kind, "queue": queue}
    user_ids = assign_to.get("user_ids")
    if not isinstance(user_ids, list) or not user_ids:
        raise _invalid(
            f"{where}.user_ids", "a pool takes a non-empty list of user ids", ErrorCode.INVALID_TYPE
        )
    pool = [_user(f"{where}.user_ids[{index}]", item).pk for index, item in enumerate(user_ids)]
    if len(set(pool)) != len(pool):
        raise _invalid(f"{where}.user_ids", "a user is listed twice")
    capacity = assign_to.get("capacity")
    if capacity is not None and (
        isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1
    ):
        raise _invalid(
            f"{where}.capacity",
            "expected a whole number of at least 1, or null",
            ErrorCode.INVALID_TYPE,
        )
    return {"kind": kind, "user_ids": pool, "capacity": capacity}


def _clean_entry(index: int, entry: Any) -> dict[str, Any]:
    where = f"entries[{index}]"
    if not isinstance(entry, Mapping):
        raise _invalid(
            where, "expected an object with criteria, match and assign_to", ErrorCode.INVALID_TYPE
        )
    unknown = set(entry) - {"criteria", "match", "assign_to"}
    if unknown:
        raise _invalid(
            f"{where}.{sorted(unknown)[0]}", "not an entry key (criteria, match, assign_to)"
        )
    criteria = entry.get("criteria", [])
    if not isinstance(criteria, list):
        raise _invalid(f"{where}.criteria", "expected a list", ErrorCode.INVALID_TYPE)
    match = entry.get("match", MatchMode.ALL)
    if match not in MatchMode.values:
        raise _invalid(f"{where}.match", f"{match!r} is not all or any")
    if "assign_to" not in entry:
        raise _invalid(f"{where}.assign_to", "required", ErrorCode.REQUIRED_FIELD_MISSING)
    return {
        "criteria": [
            _clean_criterion(f"{where}.criteria[{number}]", item)
            for number, item in enumerate(criteria)
        ],
        "match": match,
        **_clean_assignee(f"{where}.assign_to", entry["assign_to"]),
    }


def assignment_rules_set(
    *, actor: User | None, rules: Mapping[str, Any]
) -> AssignmentRuleSet | None:
    """Replace the active rules (admins only) with `rules` in the API's shape:

    {"default_owner_id": "005..." | null, "entries": [{"criteria": [{"field": public name,
    "operator": one of OPERATORS, "value": ...}], "match": "all" | "any", "assign_to":
    {"kind": "user", "user_id"} | {"kind": "queue", "queue_id"} | {"kind": "round_robin" |
    "least_loaded", "user_ids": [...], "capacity": int | null}}]}

    Errors name the entry and key (`entries[1].criteria[0].operator`). No entries and no
    default owner turn the rules off (returns None). The old set is kept, retired, for
    the decisions that point at it; rounds start again at the pool's first user.
    """
    if actor is not None:
        require_admin(actor, "assignment rules")
    if not isinstance(rules, Mapping):
        raise DomainError(ErrorCode.INVALID_TYPE, "rules: expected an object")
    unknown = set(rules) - {"default_owner_id", "entries"}
    if unknown:
        name = sorted(unknown)[0]
        raise _invalid(name, "not a key of the rules (default_owner_id, entries)")
    entries = rules.get("entries", [])
    if not isinstance(entries, list):
        raise _invalid("entries", "expected a list", ErrorCode.INVALID_TYPE)
    cleaned = [_clean_entry(index, entry) for index, entry in enumerate(entries)]
    default_owner_id = rules.get("default_owner_id")
    default_owner = (
        None if default_owner_id is None else _user("default_owner_id", default_owner_id)
    )
    with transaction.atomic():
        AssignmentRuleSet.objects.filter(is_active=True).update(is_active=False)
        configuration_changed()
        if not cleaned and default_owner is None:
            return None
        rule_set = AssignmentRuleSet.objects.create(
            default_owner=default_owner, created_by=actor if getattr(actor, "pk", None) else None
        )
        AssignmentRuleEntry.objects.bulk_create(
            AssignmentRuleEntry(rule_set=rule_set, sort_order=order, **values)
            for order, values in enumerate(cleaned)
        )
    return rule_set


# --- Dealing leads ----------------------------------------------------------------


@dataclass
class Decision:
    """What the rules chose for a lead, before it is written."""

    rule_set: AssignmentRuleSet
    entry: AssignmentRuleEntry | None
    owner: User | Queue | None  # None: keep the lead's owner (no match, no default, no actor)
    reason: str


def _lead_value(lead: Any, field_def: FieldDef) -> Any:
    if field_def.name == "status":
        return lead.status.name if lead.status_id else ""
    return getattr(lead, field_def.name)


def _is_blank(value: Any) -> bool:
    return value is None or value == ""


def _meets(
    lead: Any, criterion: Mapping[str, Any], fields: Mapping[str, FieldDef] | None = None
) -> bool:
    """Whether a lead meets one criterion; text compares without regard to case.
    `fields`: criterion_fields(), when the caller has it already (a batch)."""
    return criterion_test(criterion, fields)(lead)


def criterion_test(
    criterion: Mapping[str, Any], fields: Mapping[str, FieldDef] | None = None
) -> Callable[[Any], bool]:
    """One criterion as a test of a lead (a Lead, or any object with the attributes the
    criteria read): the field, its kind and the expected values are worked out once, so
    a batch (`leads_assign_bulk`) prepares each entry's criteria once, not per lead.
    `_meets` is this test run once: one lead at a time and a batch decide alike."""
    field_def = (fields if fields is not None else criterion_fields()).get(criterion["field"])
    if field_def is None:  # a field removed since the rules were saved matches nothing
        return lambda lead: False
    operator, expected = criterion["operator"], criterion["value"]
    read: Callable[[Any], Any]
    if field_def.name == "status":
        read = lambda lead: lead.status.name if lead.status_id else ""  # noqa: E731
    else:
        read = attrgetter(field_def.name)
    if operator == "blank":
        return lambda lead: _is_blank(read(lead)) == expected
    test: Callable[[Any], bool]
    kind = _field_kind(field_def)
    if kind == "boolean":
        test = lambda value: value == expected  # noqa: E731
    elif kind == "number":
        wanted = [Decimal(item) for item in (expected if operator == "in" else [expected])]
        if operator == "greater_than":
            test = lambda value: Decimal(str(value)) > wanted[0]  # noqa: E731
        elif operator == "less_than":
            test = lambda value: Decimal(str(value)) < wanted[0]  # noqa: E731
        else:
            test = lambda value: Decimal(str(value)) in wanted  # noqa: E731
    elif operator == "in":
        texts = {item.casefold() for item in expected}
        test = lambda value: str(value).casefold() in texts  # noqa: E731
    elif operator == "contains":
        wanted_text = expected.casefold()
        test = lambda value: wanted_text in str(value).casefold()  # noqa: E731
    elif operator == "starts_with":
        wanted_text = expected.casefold()
        test = lambda value: str(value).casefold().startswith(wanted_text)  # noqa: E731
    else:
        wanted_text = expected.casefold()
        test = lambda value: str(value).casefold() == wanted_text  # noqa: E731

    def meets(lead: Any) -> bool:
        value = read(lead)
        return not _is_blank(value) and test(value)  # a criterion on an empty field is false

    return meets


def entry_matches(
    entry: AssignmentRuleEntry, lead: Any, fields: Mapping[str, FieldDef] | None = None
) -> bool:
    """All (or any, by `match`) of the entry's criteria hold; no criteria match every lead."""
    return entry_test(entry, fields)(lead)


def entry_test(
    entry: AssignmentRuleEntry, fields: Mapping[str, FieldDef] | None = None
) -> Callable[[Any], bool]:
    """`entry_matches` as a test of a lead, its criteria prepared once (criterion_test)."""
    if not entry.criteria:
        return lambda lead: True
    fields = fields if fields is not None else criterion_fields()
    tests = [criterion_test(criterion, fields) for criterion in entry.criteria]
    if entry.match == MatchMode.ALL:
        return lambda lead: all(test(lead) for test in tests)
    return lambda lead: any(test(lead) for test in tests)


def describe_criteria(entry: AssignmentRuleEntry) -> str:
    """The criteria in words: `lead_source equals "Web" and industry is one of ...`."""
    if not entry.criteria:
        return "no criteria (every lead)"
    parts = []
    for criterion in entry.criteria:
        operator, value = criterion["operator"], criterion["value"]
        if operator == "blank":
            parts.append(f"{criterion['field']} is {'blank' if value else 'not blank'}")
        else:
            shown = ", ".join(map(repr, value)) if operator == "in" else repr(value)
            parts.append(f"{criterion['field']} {OPERATOR_WORDS[operator]} {shown}")
    return f" {'and' if entry.match == MatchMode.ALL else 'or'} ".join(parts)


def _name(owner: User | Queue) -> str:
    return f"{owner} ({owner.public_id})"


def _pool_users(entry: AssignmentRuleEntry) -> dict[int, User]:
    return {user.pk: user for user in User.objects.filter(pk__in=entry.user_ids, is_active=True)}


class Pools:
    """Where dealing reads a pool's place in its round, its active users and their open
    leads: live queries, one lead at a time (this class), or figures read once per
    batch (`BatchPools`, for `leads_assign_bulk`). Both run the same `_deal`."""

    def __init__(self) -> None:
        self._locked: dict[int, AssignmentRuleEntry] = {}

    def entries(self, rule_set: AssignmentRuleSet) -> Iterable[AssignmentRuleEntry]:
        """The rule set's entries in order."""
        return rule_set.entries.all()

    def matches(
        self, entry: AssignmentRuleEntry, lead: Any, fields: Mapping[str, FieldDef] | None
    ) -> bool:
        return entry_matches(entry, lead, fields)

    def position(self, entry: AssignmentRuleEntry) -> int:
        """The round's place, locking the entry's row until the transaction ends: the
        next create waits here, then reads the place (and the loads) this one left."""
        locked = (
            AssignmentRuleEntry.objects.select_for_update()
            .only("id", "next_position")
            .get(pk=entry.pk)
        )
        self._locked[entry.pk] = locked
        return locked.next_position

    def users(self, entry: AssignmentRuleEntry) -> dict[int, User]:
        return _pool_users(entry)

    def loads(self, user_ids: list[int]) -> dict[int, int]:
        return open_lead_counts(user_ids)

    def describe(self, entry: AssignmentRuleEntry) -> str:
        return describe_criteria(entry)

    def name(self, owner: User | Queue) -> str:
        return _name(owner)

    def advance(self, entry: AssignmentRuleEntry, position: int) -> None:
        locked = self._locked[entry.pk]
        locked.next_position = position
        locked.save(update_fields=["next_position"])


class BatchPools(Pools):
    """A batch's pools: the pool entries' rows locked and read in one query, their active
    users in one, their open leads counted in one (when a capacity or a least-loaded
    pool needs them), then kept up to date in memory as leads are dealt; `save` writes
    the rounds' places back."""

    def __init__(
        self, rule_set: AssignmentRuleSet, fields: Mapping[str, FieldDef] | None = None
    ) -> None:
        super().__init__()
        self._entries = list(rule_set.entries.all())
        self._tests = {entry.id: entry_test(entry, fields) for entry in self._entries}
        self._users: dict[int, dict[int, User]] = {}
        entries = [entry for entry in self._entries if entry.user_ids]
        pooled = [entry for entry in entries if entry.kind in POOL_KINDS]
        keys = sorted({key for entry in pooled for key in entry.user_ids})
        self.positions: dict[int, int] = {}
        self.moved: set[int] = set()
        self.active: dict[int, User] = {}
        self.counts: dict[int, int] | None = None
        self._described: dict[int, str] = {}
        self._names: dict[tuple[str, int], str] = {}
        if not pooled:
            return
        # FOR NO KEY UPDATE: it excludes another batch or a create (`Pools.position`'s FOR
        # UPDATE) as FOR UPDATE would, but not the key-share lock with which a split
        # batch's other half checks its decisions' reference to the entry.
        self.positions = dict(
            AssignmentRuleEntry.objects.select_for_update(no_key=True)
            .filter(pk__in=[entry.id for entry in pooled])
            .order_by("pk")
            .values_list("pk", "next_position")
        )
        self.active = {user.pk: user for user in User.objects.filter(pk__in=keys, is_active=True)}
        if any(
            entry.capacity is not None or entry.kind == AssigneeKind.LEAST_LOADED
            for entry in pooled
        ):
            found = open_lead_counts(list(self.active))
            self.counts = {key: found.get(key, 0) for key in self.active}

    def entries(self, rule_set: AssignmentRuleSet) -> Iterable[AssignmentRuleEntry]:
        return self._entries

    def matches(
        self, entry: AssignmentRuleEntry, lead: Any, fields: Mapping[str, FieldDef] | None
    ) -> bool:
        return self._tests[entry.id](lead)

    def position(self, entry: AssignmentRuleEntry) -> int:
        return self.positions[entry.id]

    def describe(self, entry: AssignmentRuleEntry) -> str:
        if entry.id not in self._described:
            self._described[entry.id] = describe_criteria(entry)
        return self._described[entry.id]

    def name(self, owner: User | Queue) -> str:
        key = (type(owner).__name__, owner.id)
        if key not in self._names:
            self._names[key] = _name(owner)
        return self._names[key]

    def users(self, entry: AssignmentRuleEntry) -> dict[int, User]:
        if entry.id not in self._users:  # active users do not change during a batch
            self._users[entry.id] = {
                key: self.active[key] for key in entry.user_ids if key in self.active
            }
        return self._users[entry.id]

    def loads(self, user_ids: list[int]) -> dict[int, int]:
        assert self.counts is not None  # read when an entry needs loads
        return {key: self.counts[key] for key in user_ids if self.counts.get(key)}

    def advance(self, entry: AssignmentRuleEntry, position: int) -> None:
        self.positions[entry.id] = position
        self.moved.add(entry.id)

    def moved_lead(self, old_user_id: int | None, new_user_id: int | None) -> None:
        """An open lead changed hands: the loads follow it."""
        if self.counts is None or old_user_id == new_user_id:
            return
        if old_user_id in self.counts:
            self.counts[old_user_id] -= 1
        if new_user_id in self.counts:
            self.counts[new_user_id] += 1

    def save(self) -> None:
        """One UPDATE per entry whose round moved (the entries of one rule set: a few)."""
        for key in sorted(self.moved):
            AssignmentRuleEntry.objects.filter(pk=key).update(next_position=self.positions[key])
        self.moved.clear()


POOL_KINDS = (AssigneeKind.ROUND_ROBIN, AssigneeKind.LEAST_LOADED)


def _deal(entry: AssignmentRuleEntry, pools: Pools) -> tuple[User | None, str]:
    """The pool's next user, round-robin or least-loaded, skipping users at capacity."""
    next_position = pools.position(entry)
    users = pools.users(entry)
    needs_loads = entry.capacity is not None or entry.kind == AssigneeKind.LEAST_LOADED
    loads = pools.loads(list(users)) if needs_loads else {}
    available = [
        key
        for key in entry.user_ids
        if key in users and (entry.capacity is None or loads.get(key, 0) < entry.capacity)
    ]
    if not available:
        return None, f"every user of its pool is inactive or has {entry.capacity} open leads"
    size = len(entry.user_ids)
    if entry.kind == AssigneeKind.LEAST_LOADED:
        chosen = min(available, key=lambda key: loads.get(key, 0))  # ties: pool order
        how = f"least-loaded: {loads.get(chosen, 0)} open leads, the fewest in its pool"
    else:
        start = next_position % size
        order = [entry.user_ids[(start + step) % size] for step in range(size)]
        chosen = next(key for key in order if key in available)
        position = entry.user_ids.index(chosen)
        pools.advance(entry, (position + 1) % size)
        how = f"round-robin: user {position + 1} of {size} in its pool"
    skipped = "" if entry.capacity is None else f", under its capacity of {entry.capacity}"
    return users[chosen], how + skipped


def _assignee(entry: AssignmentRuleEntry, pools: Pools) -> tuple[User | Queue | None, str]:
    if entry.kind == AssigneeKind.USER:
        user = entry.user
        assert user is not None  # a user entry names its user (a database constraint)
        if not user.is_active:
            return None, f"its user {pools.name(user)} is inactive"
        return user, "its user"
    if entry.kind == AssigneeKind.QUEUE:
        return entry.queue, "its queue"
    return _deal(entry, pools)


def assignment_decide(
    *,
    actor: User | None,
    lead: Any,
    rule_set: AssignmentRuleSet | None = None,
    pools: Pools | None = None,
    fields: Mapping[str, FieldDef] | None = None,
) -> Decision | None:
    """Choose a lead's owner by the active rules (None when no rules are active).

    Call inside the transaction that writes the owner: dealing from a pool locks the
    entry's row until it ends. Does not change the lead. `lead` is a Lead, or any object
    with the attributes the criteria read (`leads_assign_bulk`'s rows); `rule_set` and
    `pools` default to the active rules and live queries, `fields` to criterion_fields().
    """
    rule_set = rule_set or active_rule_set()
    if rule_set is None:
        return None
    pools = pools or Pools()
    passed = []
    for number, entry in enumerate(pools.entries(rule_set), start=1):
        if not pools.matches(entry, lead, fields):
            continue
        owner, how = _assignee(entry, pools)
        matched = f"entry {number} matched ({pools.describe(entry)})"
        if owner is not None:
            return Decision(rule_set, entry, owner, f"{matched}: {pools.name(owner)}, {how}")
        passed.append(f"{matched} but {how}")
    lead_in = "; ".join(passed) if passed else "no entry matched"
    if rule_set.default_owner is not None and rule_set.default_owner.is_active:
        owner = rule_set.default_owner
        return Decision(rule_set, None, owner, f"{lead_in}: the default owner {pools.name(owner)}")
    if actor is not None and actor.pk:
        return Decision(
            rule_set,
            None,
            actor,
            f"{lead_in} and there is no default owner: the acting user {pools.name(actor)}",
        )
    return Decision(
        rule_set, None, None, f"{lead_in} and there is no default owner: the owner is kept"
    )


def assignment_record(*, actor: User | None, lead: Lead, decision: Decision) -> AssignmentDecision:
    """Write a decision for a saved lead (in the transaction that gave it its owner)."""
    owner = decision.owner if decision.owner is not None else lead.owner
    return AssignmentDecision.objects.create(
        lead=lead,
        rule_set=decision.rule_set,
        entry=decision.entry,
        owner_user=owner if isinstance(owner, User) else None,
        owner_queue=owner if isinstance(owner, Queue) else None,
        reason=decision.reason,
        decided_at=timezone.now(),
        actor=actor if getattr(actor, "pk", None) else None,
    )


def lead_assign(*, actor: User | None, lead: Lead | int) -> AssignmentDecision:
    """Run the active rules on an existing lead now (the API's assign, `dealflow assign`).

    The actor must be able to edit the lead (None: the system, from the console). Refuses
    a converted lead, and answers NOT_FOUND when no rules are active. The owner change is
    audited like any update; the decision is recorded even when the owner stays.
    """
    lead_id = lead if isinstance(lead, int) else lead.pk
    with transaction.atomic():
        locked = Lead.objects.select_for_update().filter(pk=lead_id).first()
        if locked is None:
            raise DomainError(
                ErrorCode.NOT_FOUND, f"lead {ids.encode('Lead', lead_id)} does not exist", ["id"]
            )
        if actor is not None:
            require_edit(actor, locked)
        if locked.is_converted:
            raise DomainError(
                ErrorCode.CANNOT_UPDATE_CONVERTED_LEAD,
                f"lead {locked.public_id} was converted and is read-only",
                ["id"],
            )
        decision = assignment_decide(actor=actor, lead=locked)
        if decision is None:
            raise DomainError(
                ErrorCode.NOT_FOUND, "no assignment rules are active", ["assignment_rules"]
            )
        if decision.owner is not None:
            before = snapshot(locked, ["owner_user", "owner_queue"])
            if isinstance(decision.owner, Queue):
                locked.owner_user, locked.owner_queue = None, decision.owner
            else:
                locked.owner_user, locked.owner_queue = decision.owner, None
            changes = changes_since(before, locked)
            if changes:
                locked.save(update_fields=[*changes, "updated_at"])
                audit_event(actor, locked, AuditAction.UPDATE, changes).save()
        return assignment_record(actor=actor, lead=locked, decision=decision)


# --- Dealing many leads at once ---------------------------------------------------

BULK_BATCH_SIZE = 5_000  # leads per transaction of leads_assign_bulk
# On PostgreSQL, outside a caller's transaction, a pass of at least SPLIT_ABOVE leads
# goes in batches of SPLIT_BATCH_SIZE, each written half on a second connection
# (core.second_connection): the owners' UPDATE is the server's work, one core per
# connection, and each connection writes BULK_BATCH_SIZE leads a batch, the size measured
# best on one (docs/benchmarks.md). A lock waited on for SPLIT_LOCK_TIMEOUT ends the split
# batch, which is dealt again on one connection.
SPLIT_WRITES = True
SPLIT_ABOVE = 1_000
SPLIT_BATCH_SIZE = 2 * BULK_BATCH_SIZE
# The share of a split batch (its first leads, in the order given) the second connection
# reads and writes: it starts writing while this connection deals the rest.
SPLIT_FIRST_PART = 0.5
SPLIT_LOCK_TIMEOUT = "5s"
SPLIT_ADVISORY_LOCK = 7_365_110_001  # pg_advisory_xact_lock's key: "one split pass at a time"
SKIPPED_CONVERTED = "skipped: converted"
SKIPPED_NOT_FOUND = "skipped: not found"


class _LeadRow:
    """The columns of a lead the rules read, as attributes (what `_meets` takes)."""

    object_name = "Lead"

    def __init__(self, values: Mapping[str, Any], statuses: Mapping[int, Any]) -> None:
        self.__dict__.update(values)
        self.pk = values["id"]
        self.status = statuses.get(values["status_id"])


def _owner_key(user_id: int | None, queue_id: int | None) -> str | None:
    """An owner as an audit event stores it (core.audit.json_value: its public id)."""
    if user_id:
        return ids.encode("User", user_id)
    return ids.encode("Queue", queue_id) if queue_id else None


def leads_assign_bulk(*, actor: User | None, lead_ids: Sequence[int]) -> dict[str, int]:
    """Run the active rules on many existing leads, set-based (imports, `dealflow assign`).

    The same outcome as `lead_assign` on each lead in the order given (owners, decisions
    and their reasons, rounds, capacities and loads, audit events), in batches of
    BULK_BATCH_SIZE leads, one transaction each (a crash loses at most the batch in
    flight; its leads stay queue-owned and undecided, so `dealflow assign` deals them
    again): per batch one query reads and locks the leads' needed columns in their order
    of creation, one locks and reads the pools' places in their rounds, one their active
    users, one their open leads (when a capacity or a least-loaded pool needs them), then
    one UPDATE of all the owners that change (in creation order, which keeps the index
    entries of leads_lead it writes together), one per pool whose round moved, and one
    statement each for the decisions and the audit events (PostgreSQL: COPY; SQLite:
    executemany). Duplicate ids count once.

    On PostgreSQL, called outside a transaction with SPLIT_ABOVE leads or more, batches
    are of SPLIT_BATCH_SIZE leads, each split: its first part is read, locked and written
    (owners, decisions, audit events) on a second connection, in a transaction committed
    with the rest's, so the server's two processes write the parts at once
    (docs/assignment.md, "Bulk passes on two connections"). The outcome is the same as on
    one connection.

    Returns how many leads each owner (by name) got or kept, plus SKIPPED_CONVERTED and
    SKIPPED_NOT_FOUND for the leads left alone. The actor must be able to edit every lead
    (checked before anything is written: INSUFFICIENT_ACCESS_OR_READONLY otherwise);
    None is the system. NOT_FOUND when no rules are active.
    """
    rule_set = active_rule_set()
    if rule_set is None:
        raise DomainError(
            ErrorCode.NOT_FOUND, "no assignment rules are active", ["assignment_rules"]
        )
    keys = list(dict.fromkeys(lead_ids))
    split = (
        SPLIT_WRITES
        and connection.vendor == "postgresql"
        and not connection.in_atomic_block  # a second connection would not see its rows
        and len(keys) >= SPLIT_ABOVE
    )
    size = SPLIT_BATCH_SIZE if split else BULK_BATCH_SIZE
    batches = [keys[start : start + size] for start in range(0, len(keys), size)]
    if actor is not None:
        condition = editable_q(actor, Lead)
        for batch in batches if condition else []:
            leads = Lead.objects.filter(pk__in=batch)
            if leads.exclude(condition).exists():
                raise DomainError(
                    ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY,
                    "you may not change some of these leads",
                    ["lead_ids"],
                )
    fields = criterion_fields()
    columns = sorted(
        {
            fields[criterion["field"]].name
            for entry in rule_set.entries.all()
            for criterion in entry.criteria
            if criterion["field"] in fields
        }
        - {"status"}
        | {"id", "status_id", "owner_user_id", "owner_queue_id", "is_converted"}
    )
    outcomes: Counter[str] = Counter()
    run = _BulkPass(actor, rule_set, columns, fields, names={})
    with sqlite_bulk_writes(), SecondConnection() if split else nullcontext() as other:
        for batch in batches:
            halves = other if other is not None and len(batch) >= SPLIT_ABOVE else None
            try:
                counted = _assign_batch_atomically(run, batch, halves)
            except _SplitBatchTimedOut:
                # A lock waited on past SPLIT_LOCK_TIMEOUT: perhaps a cycle through this
                # process, which the server cannot see. The batch was rolled back whole;
                # on one connection any deadlock is the server's to find.
                counted = _assign_batch_atomically(run, batch)
            outcomes.update(counted)
    return dict(outcomes)


@dataclass(frozen=True)
class _BulkPass:
    """What every batch of one `leads_assign_bulk` shares: who acts, the rules, the lead
    columns their criteria read, the criterion fields, and the owners' names found so
    far ({(object name, pk): name}, filled as batches go)."""

    actor: User | None
    rule_set: AssignmentRuleSet
    columns: list[str]
    fields: Mapping[str, FieldDef]
    names: dict[tuple[str, int], str]


def _assign_batch_atomically(
    run: _BulkPass, batch: list[int], other: SecondConnection | None = None
) -> Counter[str]:
    """One batch in its transaction; its outcomes. With `other`, the two halves commit at
    the same time (each commit runs the deferred checks of its rows' references): a
    failure before then leaves nothing of the batch; a failure of one commit (a check
    that fails because a referenced row went meanwhile) leaves the other part written,
    consistent on its own (owners, decisions, audit events; the rounds' places go with
    the part written on this connection), and is raised."""
    if other is None:
        with transaction.atomic():
            return _assign_batch(run, batch)
    other.begin()
    committing = None
    try:
        with transaction.atomic():
            outcomes = _assign_batch(run, batch, other)
            committing = other.commit_soon()
    except DatabaseError as error:
        # Before the commits nothing of the batch is written: it may be dealt again. A
        # commit that failed (raised below, or by the atomic block's end) is not retried.
        if committing is None and getattr(error.__cause__, "sqlstate", None) == LOCK_TIMED_OUT:
            raise _SplitBatchTimedOut from error
        raise
    finally:
        if committing is not None:
            committing.result()
        other.rollback()  # nothing once committed
    return outcomes


LOCK_TIMED_OUT = "55P03"  # PostgreSQL's SQLSTATE for a lock refused after lock_timeout


class _SplitBatchTimedOut(Exception):
    """A split batch waited on a lock past SPLIT_LOCK_TIMEOUT before its commits, and was
    rolled back whole."""


def _assign_batch(
    run: _BulkPass, batch: list[int], other: SecondConnection | None = None
) -> Counter[str]:
    """One batch of `leads_assign_bulk`, inside its transaction; how many leads each owner
    got or kept, and the leads skipped.

    With `other` (a second connection in a transaction of its own) the batch's first
    part (SPLIT_FIRST_PART of its leads, in the order given) is read, locked and written
    there, the rest on this connection; the first part's writes start as soon as it is
    dealt, so that dealing the rest overlaps them. Every lead of the batch is locked, by
    one connection or the other, before the pools' rows: the order `lead_assign` takes
    them in."""
    if other is None:
        dealer = _Dealer(run, _read_leads(batch, run.columns))
        _write_batch(*dealer.deal(batch), dealer.now)
    else:
        _limit_lock_waits()
        _hold_split_lock()
        cut = round(len(batch) * SPLIT_FIRST_PART)
        first, rest = batch[:cut], batch[cut:]
        other.run(_limit_lock_waits)
        read = other.run(_read_leads, first, run.columns)
        found = _read_leads(rest, run.columns)
        dealer = _Dealer(run, {**read.result(), **found})
        wrote = other.run(_write_batch, *dealer.deal(first), dealer.now)
        _write_batch(*dealer.deal(rest), dealer.now)
        wrote.result()
    dealer.pools.save()
    _count_owners(dealer.owners, run.names, dealer.outcomes)
    return dealer.outcomes


class _Dealer:
    """A batch's dealing: the leads read (`found`, {pk: columns}, each connection's part
    in its order of creation), the pools' figures, and what the leads dealt so far got."""

    def __init__(self, run: _BulkPass, found: dict[int, dict[str, Any]]) -> None:
        self.actor, self.rule_set = run.actor, run.rule_set
        self.fields, self.names = run.fields, run.names
        self.found = found
        self.created = {key: rank for rank, key in enumerate(found)}
        self.statuses = {status.pk: status for status in lead_statuses.get()}
        self.closed = {
            key for key, status in self.statuses.items() if status.is_closed or status.is_converted
        }
        self.pools = BatchPools(run.rule_set, run.fields)  # after the leads: the order of locks
        self.now = timezone.now()
        self.at = AssignmentDecision._meta.get_field("decided_at").get_db_prep_save(
            self.now, connection
        )
        self.changes_field = AuditEvent._meta.get_field("changes")
        self.acting = run.actor.pk if run.actor is not None and run.actor.pk else None
        self.prepared_changes: dict[tuple[tuple[int | None, int | None], ...], tuple] = {}
        self.tails: dict[tuple, tuple] = {}  # one tuple per distinct decision tail
        self.outcomes: Counter[str] = Counter()
        self.owners: list[tuple[str, int]] = []

    def deal(
        self, keys: list[int]
    ) -> tuple[
        list[tuple[int, int, int | None, int | None]],
        list[tuple[int, tuple]],
        list[tuple[int, tuple]],
    ]:
        """Deal these leads, in the order given; what to write for them: the moves (rank
        of creation, lead, user, queue), in order of creation, the decisions and the
        audit events (lead, the rest of its row)."""
        found, pools, names = self.found, self.pools, self.names
        moves: list[tuple[int, int, int | None, int | None]] = []
        decisions: list[tuple[int, tuple]] = []
        events: list[tuple[int, tuple]] = []
        for key in keys:
            values = found.get(key)
            if values is None:
                self.outcomes[SKIPPED_NOT_FOUND] += 1
                continue
            if values["is_converted"]:
                self.outcomes[SKIPPED_CONVERTED] += 1
                continue
            row = _LeadRow(values, self.statuses)
            decision = assignment_decide(
                actor=self.actor, lead=row, rule_set=self.rule_set, pools=pools, fields=self.fields
            )
            assert decision is not None  # the rule set is given
            old = (values["owner_user_id"], values["owner_queue_id"])
            new = old
            if isinstance(decision.owner, Queue):
                new = (None, decision.owner.id)
                names[("Queue", decision.owner.id)] = str(decision.owner)
            elif decision.owner is not None:
                new = (decision.owner.id, None)
                names[("User", decision.owner.id)] = str(decision.owner)
            if new != old:
                moves.append((self.created[key], key, *new))
                if values["status_id"] not in self.closed:
                    pools.moved_lead(old[0], new[0])
                events.append((key, self._event(old, new)))
            self.owners.append(("User", new[0]) if new[0] else ("Queue", new[1] or 0))
            entry_id = decision.entry.id if decision.entry else None
            tail = (self.rule_set.pk, entry_id, *new, decision.reason, self.at, self.acting)
            decisions.append((key, self.tails.setdefault(tail, tail)))
        # In the leads' order of creation (as read), whatever order they were dealt in: 7
        # of the 14 indexes of leads_lead that every new row version enters start with
        # created_at or with (a list filter, created_at), so their entries are then
        # written in order (by primary key instead, a pass took twice as long:
        # docs/benchmarks.md).
        moves.sort(key=itemgetter(0))
        return moves, decisions, events

    def _event(
        self, old: tuple[int | None, int | None], new: tuple[int | None, int | None]
    ) -> tuple:
        """The audit event's row (but its lead) of a change of owner: a few pairs of
        owners per batch, each prepared once."""
        event = self.prepared_changes.get((old, new))
        if event is None:
            changes = {}
            if new[0] != old[0]:
                changes["owner_user"] = [_owner_key(old[0], None), _owner_key(new[0], None)]
            if new[1] != old[1]:
                changes["owner_queue"] = [_owner_key(None, old[1]), _owner_key(None, new[1])]
            prepared = _json_value(self.changes_field, changes)
            event = (self.acting, Lead.object_name, AuditAction.UPDATE, prepared, self.at, self.at)
            self.prepared_changes[(old, new)] = event
        return event


def _read_leads(keys: list[int], columns: list[str]) -> dict[int, dict[str, Any]]:
    """These leads' `columns`, read and locked until the transaction ends, in their order
    of creation: {pk: {column: value}}."""
    leads = Lead.objects.select_for_update()
    if connection.vendor == "postgresql":
        # One array parameter, not 5,000 placeholders.
        quote = connection.ops.quote_name
        where = f"{quote(Lead._meta.db_table)}.{quote(str(Lead._meta.pk.column))}"
        leads = leads.extra(where=[f"{where} = ANY(%s::bigint[])"], params=[_int_array(keys)])
    else:
        leads = leads.filter(pk__in=keys)
    return {values["id"]: values for values in leads.order_by("created_at", "id").values(*columns)}


def _limit_lock_waits() -> None:
    """In each half of a split batch, before it locks its leads: the transaction's lock
    waits end in an error past SPLIT_LOCK_TIMEOUT (leads_assign_bulk then deals the batch
    again on one connection)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [SPLIT_LOCK_TIMEOUT])


def _hold_split_lock() -> None:
    """The split passes' advisory lock, until the transaction ends: two split passes
    never lock each other's halves."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SPLIT_ADVISORY_LOCK])


def _write_batch(
    moves: list[tuple[int, int, int | None, int | None]],
    decisions: list[tuple[int, tuple]],
    events: list[tuple[int, tuple]],
    now: datetime.datetime,
) -> None:
    """A batch's (or half a batch's) owners, decisions and audit events."""
    _write_owners([move[1:] for move in moves], now)
    _insert_rows(AssignmentDecision, DECISION_COLUMNS, decisions)
    _insert_rows(AuditEvent, EVENT_COLUMNS, events)


DECISION_COLUMNS = (
    "lead_id",
    "rule_set_id",
    "entry_id",
    "owner_user_id",
    "owner_queue_id",
    "reason",
    "decided_at",
    "actor_id",
)
EVENT_COLUMNS = (
    "record_id",
    "actor_id",
    "object_name",
    "action",
    "changes",
    "created_at",
    "updated_at",
)


def _write_owners(moves: list[tuple[int, int | None, int | None]], now: Any) -> None:
    """Give the leads that change hands their new owners, in one statement: on PostgreSQL
    an UPDATE joined to unnest() of the leads', users' and queues' ids, elsewhere one
    UPDATE run for every lead (executemany). Only the owner columns and updated_at are
    written (as `lead_assign`'s save(update_fields=...))."""
    if not moves:
        return
    quote = connection.ops.quote_name
    columns = {field.attname: str(field.column) for field in Lead._meta.concrete_fields}
    table, key = quote(Lead._meta.db_table), quote(columns["id"])
    user, queue, updated = (
        quote(columns[name]) for name in ("owner_user_id", "owner_queue_id", "updated_at")
    )
    at = Lead._meta.get_field("updated_at").get_db_prep_save(now, connection)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {table} AS lead SET {user} = moved.user_id, {queue} = moved.queue_id,"
                f" {updated} = %s"
                " FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[])"
                " AS moved(id, user_id, queue_id)"
                f" WHERE lead.{key} = moved.id",
                [at, *(_int_array(column) for column in zip(*moves, strict=True))],
            )
        else:
            cursor.executemany(
                f"UPDATE {table} SET {user} = %s, {queue} = %s, {updated} = %s WHERE {key} = %s",
                [(user_id, queue_id, at, lead_id) for lead_id, user_id, queue_id in moves],
            )


def _json_value(field: models.Field, value: Any) -> Any:
    """A JSON field's value as `_insert_rows` writes it: on PostgreSQL its text (COPY's
    input, which the column parses), elsewhere what the field prepares for the database."""
    if connection.vendor == "postgresql":
        return json.dumps(value, cls=getattr(field, "encoder", None))
    return field.get_db_prep_save(value, connection)


def _int_array(values: Iterable[int | None]) -> str:
    """Integers (None: NULL) as a PostgreSQL array literal, for a `%s::bigint[]`
    parameter: one string, instead of psycopg dumping a list value by value."""
    return "{" + ",".join("NULL" if value is None else str(int(value)) for value in values) + "}"


def _insert_rows(
    model: type[models.Model], names: Sequence[str], rows: list[tuple[Any, tuple]]
) -> None:
    """Rows of values prepared for the database, in one statement. Each row is its first
    column's value and a tuple of the others, which many rows share (a batch's decisions
    take a few owners and reasons, its audit events a few changes): on PostgreSQL a COPY
    whose text is built here, each distinct tuple formatted once (psycopg's write_row
    formatted every value of every row: a third of the pass's Python time), elsewhere one
    INSERT run for every row (executemany). bulk_create would build a model instance per
    row, which costs more than the rest of the pass. The COPY is logged as a query like
    the others (Django's query log, which the tests count, does not see it otherwise)."""
    if not rows:
        return
    quote = connection.ops.quote_name
    fields = {field.attname: field for field in model._meta.concrete_fields}
    columns = ", ".join(quote(str(fields[name].column)) for name in names)
    table = quote(model._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sql = f"COPY {table} ({columns}) FROM STDIN"
            texts: dict[int, str] = {}
            lines = []
            for first, rest in rows:
                text = texts.get(id(rest))
                if text is None:
                    text = texts[id(rest)] = "\t".join(map(_copy_text, rest))
                lines.append(f"{_copy_text(first)}\t{text}\n")
            logged = cursor.debug_sql(sql) if hasattr(cursor, "debug_sql") else nullcontext()
            with logged, cursor.cursor.copy(sql) as copy:
                copy.write("".join(lines))
        else:
            placeholders = ", ".join(["%s"] * len(names))
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({placeholders})",
                [(first, *rest) for first, rest in rows],
            )


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: Any) -> str:
    """A value in COPY's text format: NULL as \\N, text with backslash, tab, newline and
    carriage return escaped, numbers and datetimes (ISO 8601, with their offset) as text.
    Anything else is refused rather than guessed (TypeError)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    raise TypeError(f"no COPY text for {type(value).__name__}")


def _count_owners(
    owners: list[tuple[str, int]], names: dict[tuple[str, int], str], outcomes: Counter[str]
) -> None:
    """Add each owner's leads to `outcomes` by name; owners not named yet (leads that
    kept theirs) are read in one query per kind."""
    for object_name, model in (("User", User), ("Queue", Queue)):
        missing = {key for kind, key in owners if kind == object_name and (kind, key) not in names}
        for record in model.objects.filter(pk__in=missing) if missing else []:
            names[(object_name, record.pk)] = str(record)
    for owner in owners:
        outcomes[names.get(owner, f"{owner[0]} {owner[1]}")] += 1
