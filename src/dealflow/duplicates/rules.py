"""Matching rules: which profiles (duplicates/keys.py) are duplicates, and how sure.

A rule is a list of conditions that must all hold; a record matches when any active rule
of its object holds. A condition compares one profile field with a method:

- `exact`: equal normalised values (phones: a number in common); score 100 or 0;
- `ratio`: rapidfuzz `fuzz.ratio`, the normalised Indel similarity 0-100
  (100 x (1 - insertions and deletions / total length));
- `jaro_winkler`: rapidfuzz `JaroWinkler.normalized_similarity` x 100, which favours a
  shared beginning (the method Salesforce's standard rules use for first names);
- `token_sort_ratio`: `fuzz.ratio` of the words sorted, so word order does not count;
- `wratio`: rapidfuzz `fuzz.WRatio`, the best of several partial and token scores.

A fuzzy condition holds when its score is at least its `threshold`. A field blank on
either side never matches (Salesforce's "match blank fields" off). The score of a rule
is its weakest condition's.

The defaults follow Salesforce's standard duplicate rules: leads and contacts match on
the email; or on first name (Jaro-Winkler >= 85), last name (ratio >= 90) and company
(token sort ratio >= 70); or on exact first and last names and a phone in common.
Accounts match on the company key (legal forms dropped); or on the company name
(ratio >= 90) with the same city or a phone in common.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz
from rapidfuzz.distance import JaroWinkler

from dealflow.core.errors import DomainError, ErrorCode
from dealflow.duplicates.keys import OBJECT_NAMES, Profile

Scorer = Callable[[str, str], float]

SCORERS: dict[str, Scorer] = {
    "ratio": lambda first, second: fuzz.ratio(first, second),
    "jaro_winkler": lambda first, second: JaroWinkler.normalized_similarity(first, second) * 100,
    "token_sort_ratio": lambda first, second: fuzz.token_sort_ratio(first, second),
    "wratio": lambda first, second: fuzz.WRatio(first, second),
}
METHODS = ("exact", *SCORERS)
PERSON_FIELDS = ("email", "phone", "first_name", "last_name", "company", "city")
FIELDS_BY_OBJECT = {
    "Lead": PERSON_FIELDS,
    "Contact": PERSON_FIELDS,
    "Account": ("company", "phone", "city"),
}
RECORD_LEVEL_SECURITY = ("enforce", "bypass")
MAX_RULES = 10
MAX_CONDITIONS = 6


def _condition(field: str, method: str = "exact", threshold: int | None = None) -> dict[str, Any]:
    condition: dict[str, Any] = {"field": field, "method": method}
    if threshold is not None:
        condition["threshold"] = threshold
    return condition


_PERSON_RULES = [
    {"name": "Email", "conditions": [_condition("email")]},
    {
        "name": "Name and company",
        "conditions": [
            _condition("first_name", "jaro_winkler", 85),
            _condition("last_name", "ratio", 90),
            _condition("company", "token_sort_ratio", 70),
        ],
    },
    {
        "name": "Name and phone",
        "conditions": [_condition("first_name"), _condition("last_name"), _condition("phone")],
    },
]
DEFAULT_RULES: dict[str, dict[str, Any]] = {
    "Lead": {"active": True, "record_level_security": "enforce", "rules": _PERSON_RULES},
    "Contact": {"active": True, "record_level_security": "enforce", "rules": _PERSON_RULES},
    "Account": {
        "active": True,
        "record_level_security": "enforce",
        "rules": [
            {"name": "Company", "conditions": [_condition("company")]},
            {
                "name": "Company and city",
                "conditions": [_condition("company", "ratio", 90), _condition("city")],
            },
            {
                "name": "Company and phone",
                "conditions": [_condition("company", "ratio", 90), _condition("phone")],
            },
        ],
    },
}


def default_rules() -> dict[str, dict[str, Any]]:
    """A fresh copy of the default rules of every object."""
    return copy.deepcopy(DEFAULT_RULES)


def _refuse(path: str, expected: str) -> DomainError:
    return DomainError(ErrorCode.INVALID_FIELD, f"{path}: {expected}", [path])


def _checked_condition(object_name: str, path: str, condition: Any) -> dict[str, Any]:
    if not isinstance(condition, dict):
        raise _refuse(path, "expected an object with field, method and threshold")
    unknown = sorted(set(condition) - {"field", "method", "threshold"})
    if unknown:
        raise _refuse(f"{path}.{unknown[0]}", "not a condition key (field, method, threshold)")
    fields = FIELDS_BY_OBJECT[object_name]
    field = condition.get("field")
    if field not in fields:
        raise _refuse(f"{path}.field", f"expected one of {', '.join(fields)}, got {field!r}")
    method = condition.get("method", "exact")
    if method not in METHODS:
        raise _refuse(f"{path}.method", f"expected one of {', '.join(METHODS)}, got {method!r}")
    threshold = condition.get("threshold")
    if method == "exact":
        if threshold is not None:
            raise _refuse(f"{path}.threshold", "an exact condition takes no threshold")
        return _condition(field)
    if field in ("email", "phone"):
        raise _refuse(f"{path}.method", f"{field} is matched exactly (method exact)")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise _refuse(f"{path}.threshold", "expected a number from 0 to 100")
    if not 0 <= threshold <= 100:
        raise _refuse(f"{path}.threshold", f"expected a number from 0 to 100, got {threshold}")
    return _condition(field, method, threshold)


def _checked_rule(object_name: str, path: str, rule: Any) -> dict[str, Any]:
    if not isinstance(rule, dict):
        raise _refuse(path, "expected an object with name and conditions")
    unknown = sorted(set(rule) - {"name", "conditions"})
    if unknown:
        raise _refuse(f"{path}.{unknown[0]}", "not a rule key (name, conditions)")
    name = rule.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 80:
        raise _refuse(f"{path}.name", "expected a name of 1 to 80 characters")
    conditions = rule.get("conditions")
    if not isinstance(conditions, list) or not 1 <= len(conditions) <= MAX_CONDITIONS:
        raise _refuse(f"{path}.conditions", f"expected a list of 1 to {MAX_CONDITIONS} conditions")
    return {
        "name": name.strip(),
        "conditions": [
            _checked_condition(object_name, f"{path}.conditions[{index}]", condition)
            for index, condition in enumerate(conditions)
        ],
    }


def checked_rules(value: Any) -> dict[str, dict[str, Any]]:
    """The rules an admin sent, checked and completed with the defaults of objects not
    named; INVALID_FIELD naming the first bad key (`Lead.rules[0].conditions[1].threshold`)."""
    if not isinstance(value, dict):
        raise _refuse("rules", f"expected an object keyed by {', '.join(OBJECT_NAMES)}")
    result = default_rules()
    for object_name, setting in value.items():
        if object_name not in OBJECT_NAMES:
            raise _refuse(object_name, f"expected one of {', '.join(OBJECT_NAMES)}")
        if not isinstance(setting, dict):
            raise _refuse(
                object_name, "expected an object with active, record_level_security and rules"
            )
        unknown = sorted(set(setting) - {"active", "record_level_security", "rules"})
        if unknown:
            raise _refuse(
                f"{object_name}.{unknown[0]}", "not a key (active, record_level_security, rules)"
            )
        active = setting.get("active", True)
        if not isinstance(active, bool):
            raise _refuse(f"{object_name}.active", "expected true or false")
        security = setting.get("record_level_security", "enforce")
        if security not in RECORD_LEVEL_SECURITY:
            raise _refuse(f"{object_name}.record_level_security", "expected enforce or bypass")
        rules = setting.get("rules", result[object_name]["rules"])
        if not isinstance(rules, list) or len(rules) > MAX_RULES:
            raise _refuse(f"{object_name}.rules", f"expected a list of at most {MAX_RULES} rules")
        result[object_name] = {
            "active": active,
            "record_level_security": security,
            "rules": [
                _checked_rule(object_name, f"{object_name}.rules[{index}]", rule)
                for index, rule in enumerate(rules)
            ],
        }
    return result


# ---------------------------------------------------------------------------------------
# Scoring


def condition_score(condition: dict[str, Any], first: Profile, second: Profile) -> float:
    """The score 0-100 of one condition between two profiles (0 when a side is blank)."""
    field = condition["field"]
    if field == "phone":
        return 100.0 if first.phones & second.phones else 0.0
    one, other = getattr(first, field), getattr(second, field)
    if not one or not other:
        return 0.0
    if condition["method"] == "exact":
        return 100.0 if one == other else 0.0
    return float(SCORERS[condition["method"]](one, other))


@dataclass(frozen=True)
class RuleResult:
    """The rule that matched, its score (its weakest condition's, 0-100, 2 places) and
    each condition's score by field."""

    rule: str
    score: float
    scores: dict[str, float]


def rule_result(rule: dict[str, Any], first: Profile, second: Profile) -> RuleResult | None:
    """The rule's result when every condition holds; None otherwise."""
    scores: dict[str, float] = {}
    for condition in rule["conditions"]:
        score = condition_score(condition, first, second)
        if score < condition.get("threshold", 100):
            return None
        scores[condition["field"]] = round(score, 2)
    return RuleResult(rule["name"], min(scores.values()), scores)


def best_match(setting: dict[str, Any], first: Profile, second: Profile) -> RuleResult | None:
    """The highest-scoring rule that holds between two profiles (the first on a tie)."""
    best: RuleResult | None = None
    for rule in setting["rules"]:
        result = rule_result(rule, first, second)
        if result is not None and (best is None or result.score > best.score):
            best = result
    return best
