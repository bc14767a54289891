"""The duplicate scan of a whole object (docs/duplicates.md): blocks, pairs, groups.

1. Blocks in SQL: the blocking keys (DuplicateKey) shared by more than one record
   (`GROUP BY kind, value HAVING COUNT(*) > 1`), streamed joined to the records' fields,
   ordered by block.
2. Pairs: every pair of records within each block is compared by the matching rules,
   PAIR_BATCH pairs at a time, each condition over the whole batch in C (rapidfuzz's
   `cpdist`). A rule with an exact email or phone condition is applied only in blocks
   of that kind (two records can only share a phone within a phone block), where the
   condition holds; so no phone is parsed during a scan. A block of more than MAX_BLOCK
   records is compared in overlapping windows of MAX_BLOCK, by record id.
3. Groups: records joined by matching pairs (connected components). A group is filed
   under a signature of its object and members, so a rerun finds the group it made
   before (kept, whatever its status) instead of making another; open groups not found
   again (their records changed or joined a larger group) are removed.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.utils import timezone
from rapidfuzz import fuzz
from rapidfuzz.distance import JaroWinkler
from rapidfuzz.process import cpdist

from dealflow.accounts.models import Account, Contact
from dealflow.duplicates.keys import (
    company_key_of_folded,
    person_key,
    person_key_of_folded,
)
from dealflow.duplicates.models import (
    DuplicateGroup,
    DuplicateGroupMember,
    DuplicateGroupStatus,
    DuplicateKey,
)
from dealflow.duplicates.selectors import matching_rules
from dealflow.leads.models import Lead

MAX_BLOCK = 500
PAIR_BATCH = 200_000
WRITE_BATCH = 1000
FETCH_SIZE = 5000


def _matrix_scorer(method: str) -> tuple[Any, float]:
    """The rapidfuzz scorer of a method for `cdist`, and what scales it to 0-100."""
    return {
        "ratio": (fuzz.ratio, 1.0),
        "jaro_winkler": (JaroWinkler.normalized_similarity, 100.0),
        "token_sort_ratio": (fuzz.token_sort_ratio, 1.0),
        "wratio": (fuzz.WRatio, 1.0),
    }[method]


@dataclass
class ScanResult:
    """What a scan did: blocks read, pairs compared and matched, groups found (of which
    created anew, and open ones removed as no longer found), seconds taken."""

    object_name: str
    blocks: int = 0
    comparisons: int = 0
    pairs: int = 0
    groups: int = 0
    created: int = 0
    removed: int = 0
    seconds: float = 0.0


# ---------------------------------------------------------------------------------------
# 1. Blocks


def _block_sql(object_name: str) -> tuple[str, list[Any]]:
    """The blocks' rows: kind, value, record id, then the fields of its profile."""
    quote = connection.ops.quote_name
    keys = quote(DuplicateKey._meta.db_table)
    if object_name == "Lead":
        table = quote(Lead._meta.db_table)
        columns = "r.first_name_key, r.last_name_key, r.company_key, r.city, r.email_key"
        join = f"JOIN {table} r ON r.id = k.record_id AND r.is_converted = %s"
        parameters: list[Any] = [False]
    elif object_name == "Contact":
        table = quote(Contact._meta.db_table)
        accounts = quote(Account._meta.db_table)
        columns = "r.first_name_key, r.last_name_key, a.name_key, r.mailing_city, r.email_key"
        join = f"JOIN {table} r ON r.id = k.record_id LEFT JOIN {accounts} a ON a.id = r.account_id"
        parameters = []
    else:
        table = quote(Account._meta.db_table)
        columns = "'', '', r.name_key, r.billing_city, ''"
        join = f"JOIN {table} r ON r.id = k.record_id"
        parameters = []
    sql = (
        f"SELECT k.kind, k.value, k.record_id, {columns} FROM {keys} k "
        f"JOIN (SELECT kind, value FROM {keys} WHERE object_type = %s "
        f"GROUP BY kind, value HAVING COUNT(*) > 1) b ON b.kind = k.kind AND b.value = k.value "
        f"{join} WHERE k.object_type = %s ORDER BY k.kind, k.value, k.record_id"
    )
    return sql, [object_name, *parameters, object_name]


def _rows(object_name: str) -> Iterator[tuple[Any, ...]]:
    """The block rows, streamed (a server-side cursor on PostgreSQL)."""
    sql, parameters = _block_sql(object_name)
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        with transaction.atomic(), connection.connection.cursor(name="duplicate_scan") as cursor:
            cursor.itersize = FETCH_SIZE
            cursor.execute(sql, parameters)
            yield from cursor
        return
    with connection.cursor() as cursor:
        cursor.execute(sql, parameters)
        while batch := cursor.fetchmany(FETCH_SIZE):
            yield from batch


# A profile in the scan: (email key, first name, last name, company key, city).
Fields = tuple[str, str, str, str, str]
FIELD_INDEX = {"email": 0, "first_name": 1, "last_name": 2, "company": 3, "city": 4}


def _blocks(object_name: str) -> Iterator[tuple[str, list[int], dict[int, Fields]]]:
    """(kind, record ids, their fields) of each block, fields made once per record and
    kind (each record is in at most a few blocks of one kind)."""
    fields: dict[int, Fields] = {}
    current: tuple[str, str] | None = None
    members: list[int] = []
    for kind, value, record_id, first, last, company, city, email in _rows(object_name):
        if (kind, value) != current:
            if len(members) > 1:
                yield current[0], members, fields  # type: ignore[index]
            if current is not None and kind != current[0]:
                fields = {}
            current, members = (kind, value), []
        if record_id not in fields:
            fields[record_id] = (
                email or "",
                person_key_of_folded(first or ""),
                person_key_of_folded(last or ""),
                company_key_of_folded(company or ""),
                person_key(city or ""),
            )
        members.append(record_id)
    if current is not None and len(members) > 1:
        yield current[0], members, fields


# ---------------------------------------------------------------------------------------
# 2. Pairs

Pair = tuple[int, int, str, float]


@functools.cache
def _block_pairs(size: int) -> tuple[np.ndarray, np.ndarray]:
    """(first, second) positions of every pair of a block of `size` records."""
    first, second = np.triu_indices(size, 1)
    return first.astype(np.int64), second.astype(np.int64)


def _window_pairs(size: int) -> tuple[np.ndarray, np.ndarray]:
    """The pairs of a block: all of them, or for a block over MAX_BLOCK those within
    overlapping windows of MAX_BLOCK (positions by record id)."""
    if size <= MAX_BLOCK:
        return _block_pairs(size)
    step = MAX_BLOCK // 2
    seen: set[tuple[int, int]] = set()
    for start in range(0, size - step, step):
        first, second = _block_pairs(min(MAX_BLOCK, size - start))
        seen.update(zip((first + start).tolist(), (second + start).tolist(), strict=True))
    ordered = sorted(seen)
    return (
        np.array([one for one, _other in ordered], dtype=np.int64),
        np.array([other for _one, other in ordered], dtype=np.int64),
    )


def _rules_for(setting: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The rules to apply to the pairs of a block of this kind. A rule with an exact
    email (phone) condition can only hold for two records that share an email (phone)
    key, so it is applied in the blocks of that kind alone, where the condition holds."""
    chosen = []
    for rule in setting["rules"]:
        exact = {
            condition["field"]
            for condition in rule["conditions"]
            if condition["method"] == "exact" and condition["field"] in ("email", "phone")
        }
        if not exact or exact == {kind}:
            chosen.append(rule)
    return chosen


class _Batch:
    """Pairs of records of one kind of block, to compare together: the records' fields
    as arrays (by position), the pairs as two arrays of positions."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.positions: dict[int, int] = {}
        self.records: list[int] = []
        self.fields: list[Fields] = []
        self.firsts: list[np.ndarray] = []
        self.seconds: list[np.ndarray] = []
        self.size = 0

    def add(self, members: list[int], fields: dict[int, Fields]) -> int:
        """Add a block's pairs; returns how many."""
        positions = np.empty(len(members), dtype=np.int64)
        for index, record_id in enumerate(members):
            position = self.positions.get(record_id)
            if position is None:
                position = self.positions[record_id] = len(self.records)
                self.records.append(record_id)
                self.fields.append(fields[record_id])
            positions[index] = position
        first, second = _window_pairs(len(members))
        self.firsts.append(positions[first])
        self.seconds.append(positions[second])
        self.size += len(first)
        return len(first)

    def column(self, field: str) -> np.ndarray:
        index = FIELD_INDEX[field]
        return np.array([fields[index] for fields in self.fields], dtype=object)


def _condition_scores(
    condition: dict[str, Any], kind: str, values: np.ndarray, first: np.ndarray, second: np.ndarray
) -> np.ndarray:
    """Scores 0-100 of one condition over pairs (positions into `values`), in C."""
    field = condition["field"]
    if field in ("phone", "email") and kind == field:
        return np.full(len(first), 100.0)  # the pair shares the block's key
    if field == "phone":
        return np.zeros(len(first))  # such rules are applied in phone blocks only
    one, other = values[first], values[second]
    if condition["method"] == "exact":
        scores = (one == other).astype(np.float64) * 100
    else:
        scorer, scale = _matrix_scorer(condition["method"])
        scores = cpdist(one, other, scorer=scorer, dtype=np.float64, workers=1) * scale
    filled = values.astype(bool)
    scores[~(filled[first] & filled[second])] = 0.0
    return scores


def _evaluate(setting: dict[str, Any], batch: _Batch) -> Iterator[Pair]:
    """The matching pairs of a batch, each with its best rule (the first on a tie). Each
    condition is scored only for the pairs its rule's earlier conditions let through."""
    first = np.concatenate(batch.firsts)
    second = np.concatenate(batch.seconds)
    columns: dict[str, np.ndarray] = {}
    best_score = np.full(len(first), -1.0)
    best_rule = np.full(len(first), -1)
    rules = setting["rules"]
    for rule in _rules_for(setting, batch.kind):
        alive = np.arange(len(first))
        score = np.full(len(first), 100.0)
        for condition in rule["conditions"]:
            field = condition["field"]
            if field not in columns and field in FIELD_INDEX:
                columns[field] = batch.column(field)
            values = columns.get(field, np.empty(0, dtype=object))
            scores = _condition_scores(condition, batch.kind, values, first[alive], second[alive])
            kept = scores >= condition.get("threshold", 100)
            alive = alive[kept]
            score[alive] = np.minimum(score[alive], np.round(scores[kept], 2))
            if not len(alive):
                break
        better = alive[score[alive] > best_score[alive]]
        best_score[better] = score[better]
        best_rule[better] = rules.index(rule)
    records = batch.records
    for position in np.nonzero(best_rule >= 0)[0]:
        yield (
            records[first[position]],
            records[second[position]],
            str(rules[best_rule[position]]["name"]),
            float(best_score[position]),
        )


def _pairs(setting: dict[str, Any], object_name: str, result: ScanResult) -> Iterator[Pair]:
    """The matching pairs of every block, compared PAIR_BATCH pairs at a time."""
    batch: _Batch | None = None
    for kind, members, fields in _blocks(object_name):
        if batch is not None and (kind != batch.kind or batch.size >= PAIR_BATCH):
            yield from _evaluate(setting, batch)
            if kind == batch.kind:  # bounded memory: keep the fields of this block only
                kept = {member: fields[member] for member in members}
                fields.clear()
                fields.update(kept)
            batch = None
        if batch is None:
            batch = _Batch(kind)
        result.blocks += 1
        result.comparisons += batch.add(members, fields)
    if batch is not None and batch.size:
        yield from _evaluate(setting, batch)


# ---------------------------------------------------------------------------------------
# 3. Groups


class _Components:
    """Union-find over record ids, keeping each component's first rule and lowest score."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}
        self.rule: dict[int, str] = {}
        self.score: dict[int, float] = {}

    def find(self, record_id: int) -> int:
        parent = self.parent.setdefault(record_id, record_id)
        if parent != record_id:
            root = self.find(parent)
            self.parent[record_id] = root
            return root
        return record_id

    def join(self, one: int, other: int, rule: str, score: float) -> None:
        first, second = self.find(one), self.find(other)
        if first != second:
            root, child = min(first, second), max(first, second)
            self.parent[child] = root
            rules = [self.rule.get(first), self.rule.get(second)]
            self.rule[root] = next((name for name in rules if name), rule)
            scores = [self.score.get(first, 100.0), self.score.get(second, 100.0), score]
            self.score[root] = min(scores)
        else:
            self.rule.setdefault(first, rule)
            self.score[first] = min(self.score.get(first, 100.0), score)

    def groups(self) -> Iterator[tuple[list[int], str, float]]:
        members: dict[int, list[int]] = defaultdict(list)
        for record_id in self.parent:
            members[self.find(record_id)].append(record_id)
        for root, record_ids in members.items():
            if len(record_ids) > 1:
                yield sorted(record_ids), self.rule.get(root, ""), self.score.get(root, 100.0)


def group_signature(object_name: str, record_ids: list[int]) -> str:
    """The stable name of a group: its object and sorted members, hashed (SHA-256)."""
    text = f"{object_name}:{','.join(str(record_id) for record_id in sorted(record_ids))}"
    return hashlib.sha256(text.encode()).hexdigest()


def _save_groups(
    object_name: str, found: list[tuple[list[int], str, float]], now: Any, result: ScanResult
) -> None:
    for start in range(0, len(found), WRITE_BATCH):
        batch = found[start : start + WRITE_BATCH]
        by_signature = {
            group_signature(object_name, ids): (ids, rule, score) for ids, rule, score in batch
        }
        with transaction.atomic():
            existing = set(
                DuplicateGroup.objects.filter(signature__in=list(by_signature)).values_list(
                    "signature", flat=True
                )
            )
            DuplicateGroup.objects.filter(signature__in=existing).update(last_found_at=now)
            new_groups = [
                DuplicateGroup(
                    object_type=object_name,
                    signature=signature,
                    rule=rule[:80],
                    score=Decimal(str(round(score, 2))),
                    record_count=len(ids),
                    last_found_at=now,
                )
                for signature, (ids, rule, score) in by_signature.items()
                if signature not in existing
            ]
            created = DuplicateGroup.objects.bulk_create(new_groups)
            DuplicateGroupMember.objects.bulk_create(
                [
                    DuplicateGroupMember(group_id=group.pk, record_id=record_id)
                    for group in created
                    for record_id in by_signature[group.signature][0]
                ]
            )
            result.created += len(created)


def duplicates_scan(*, object_name: str) -> ScanResult:
    """Scan every record of an object (Lead, Contact, Account) for duplicates and file
    the groups in the review queue; safe to rerun (see the module's docstring)."""
    started = time.monotonic()
    result = ScanResult(object_name)
    setting = matching_rules()[object_name]
    now = timezone.now()
    components = _Components()
    if setting["active"] and setting["rules"]:
        for one, other, rule, score in _pairs(setting, object_name, result):
            result.pairs += 1
            components.join(one, other, rule, score)
    found = list(components.groups())
    result.groups = len(found)
    _save_groups(object_name, found, now, result)
    with transaction.atomic():
        _total, deleted = DuplicateGroup.objects.filter(
            object_type=object_name, status=DuplicateGroupStatus.OPEN, last_found_at__lt=now
        ).delete()
    result.removed = deleted.get(DuplicateGroup._meta.label, 0)
    result.seconds = time.monotonic() - started
    return result
