"""The duplicate scan of a whole object (docs/duplicates.md): blocks, pairs, groups.

1. Blocks in SQL: the blocking keys (DuplicateKey) shared by more than one record
   (`GROUP BY kind, value HAVING COUNT(*) > 1`), streamed joined to the records' fields,
   ordered by block.
2. Pairs: within each block the matching rules compare every pair (rapidfuzz's `cdist`
   for a block of more than SMALL_BLOCK records, in C); a block made by a rule of one
   exact condition (the email block and the Email rule) matches whole without comparing.
   A block of more than MAX_BLOCK records is compared in overlapping windows of
   MAX_BLOCK, by record id.
3. Groups: records joined by matching pairs (connected components). A group is filed
   under a signature of its object and members, so a rerun finds the group it made
   before (kept, whatever its status) instead of making another; open groups not found
   again (their records changed or joined a larger group) are removed.
"""

from __future__ import annotations

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
from rapidfuzz.process import cdist

from dealflow.accounts.models import Account, Contact
from dealflow.duplicates.keys import (
    Profile,
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
from dealflow.duplicates.rules import best_match
from dealflow.duplicates.selectors import matching_rules
from dealflow.leads.models import Lead

SMALL_BLOCK = 8
MAX_BLOCK = 500
WRITE_BATCH = 1000
FETCH_SIZE = 5000
# The kinds a rule of one exact condition on this field makes whole.
_EXACT_KIND = {"email": "email", "phone": "phone", "company": "company"}


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
        columns = "r.first_name_key, r.last_name_key, r.company_key, r.city, r.email_key, r.phone, r.mobile_phone"
        join = f"JOIN {table} r ON r.id = k.record_id AND r.is_converted = %s"
        parameters: list[Any] = [False]
    elif object_name == "Contact":
        table = quote(Contact._meta.db_table)
        accounts = quote(Account._meta.db_table)
        columns = "r.first_name_key, r.last_name_key, a.name_key, r.mailing_city, r.email_key, r.phone, r.mobile_phone"
        join = f"JOIN {table} r ON r.id = k.record_id LEFT JOIN {accounts} a ON a.id = r.account_id"
        parameters = []
    else:
        table = quote(Account._meta.db_table)
        columns = "'', '', r.name_key, r.billing_city, '', r.phone, ''"
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


def _blocks(object_name: str) -> Iterator[tuple[str, list[tuple[int, Profile]]]]:
    """(kind, [(record id, profile), ...]) of each block, profiles made once per record
    (kept while the scan reads the blocks of one kind)."""
    profiles: dict[int, Profile] = {}
    current: tuple[str, str] | None = None
    members: list[tuple[int, Profile]] = []
    for kind, value, record_id, first, last, company, city, email, phone, mobile in _rows(
        object_name
    ):
        if (kind, value) != current:
            if len(members) > 1:
                yield current[0], members  # type: ignore[index]
            if current is not None and kind != current[0]:
                profiles.clear()
            current, members = (kind, value), []
        profile = profiles.get(record_id)
        if profile is None:
            profile = profiles[record_id] = Profile(
                email=email or "",
                first_name=person_key_of_folded(first or ""),
                last_name=person_key_of_folded(last or ""),
                company=company_key_of_folded(company or ""),
                city=person_key(city or ""),
                raw_phones=(phone or "", mobile or ""),
            )
        members.append((record_id, profile))
    if current is not None and len(members) > 1:
        yield current[0], members


# ---------------------------------------------------------------------------------------
# 2. Pairs


def _condition_matrix(condition: dict[str, Any], profiles: list[Profile]) -> np.ndarray:
    """Scores 0-100 of one condition between every two profiles of a block."""
    size = len(profiles)
    field = condition["field"]
    if field == "phone":
        matrix = np.zeros((size, size))
        holders: dict[str, list[int]] = defaultdict(list)
        for index, profile in enumerate(profiles):
            for phone in profile.phones:
                holders[phone].append(index)
        for indexes in holders.values():
            if len(indexes) > 1:
                matrix[np.ix_(indexes, indexes)] = 100.0
        return matrix
    values = [getattr(profile, field) for profile in profiles]
    if condition["method"] == "exact":
        codes: dict[str, int] = {}
        coded = np.array([codes.setdefault(value, len(codes)) for value in values])
        matrix = (coded[:, None] == coded[None, :]) * 100.0
    else:
        scorer, scale = _matrix_scorer(condition["method"])
        matrix = cdist(values, values, scorer=scorer, dtype=np.float64, workers=1) * scale
    blank = np.array([not value for value in values])
    matrix[blank, :] = 0.0
    matrix[:, blank] = 0.0
    return matrix


Pair = tuple[int, int, str, float]


def _matrix_pairs(
    setting: dict[str, Any], profiles: list[Profile]
) -> list[tuple[int, int, str, float]]:
    """(index, index, rule, score) of each matching pair, the best rule per pair."""
    size = len(profiles)
    upper = np.triu(np.ones((size, size), dtype=bool), 1)
    best_score = np.full((size, size), -1.0)
    best_rule = np.full((size, size), -1)
    for rule_index, rule in enumerate(setting["rules"]):
        holds = upper.copy()
        score = np.full((size, size), 100.0)
        for condition in rule["conditions"]:
            matrix = _condition_matrix(condition, profiles)
            holds &= matrix >= condition.get("threshold", 100)
            if not holds.any():
                break
            score = np.minimum(score, np.round(matrix, 2))
        better = holds & (score > best_score)
        best_score[better] = score[better]
        best_rule[better] = rule_index
    rows, columns = np.nonzero(best_rule >= 0)
    names = [rule["name"] for rule in setting["rules"]]
    return [
        (int(row), int(column), names[best_rule[row, column]], float(best_score[row, column]))
        for row, column in zip(rows, columns, strict=True)
    ]


def _block_pairs(
    setting: dict[str, Any], kind: str, members: list[tuple[int, Profile]]
) -> Iterator[Pair]:
    """(record id, record id, rule, score) of each matching pair of a block."""
    whole = _whole_block_rule(setting, kind)
    if whole is not None:
        first = members[0][0]
        for record_id, _profile in members[1:]:
            yield first, record_id, whole, 100.0
        return
    for start in range(0, max(len(members) - MAX_BLOCK // 2, 1), MAX_BLOCK // 2):
        window = members[start : start + MAX_BLOCK]
        profiles = [profile for _record_id, profile in window]
        if len(window) <= SMALL_BLOCK:
            for one in range(len(window)):
                for other in range(one + 1, len(window)):
                    result = best_match(setting, profiles[one], profiles[other])
                    if result is not None:
                        yield window[one][0], window[other][0], result.rule, result.score
        else:
            for one, other, rule, score in _matrix_pairs(setting, profiles):
                yield window[one][0], window[other][0], rule, score


def _whole_block_rule(setting: dict[str, Any], kind: str) -> str | None:
    """The rule that matches a whole block of this kind: one exact condition on the
    field the kind files (an email block and the Email rule)."""
    for rule in setting["rules"]:
        conditions = rule["conditions"]
        if (
            len(conditions) == 1
            and conditions[0]["method"] == "exact"
            and _EXACT_KIND.get(conditions[0]["field"]) == kind
        ):
            return str(rule["name"])
    return None


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
        for kind, members in _blocks(object_name):
            result.blocks += 1
            size = len(members)
            result.comparisons += size * (size - 1) // 2
            for one, other, rule, score in _block_pairs(setting, kind, members):
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
