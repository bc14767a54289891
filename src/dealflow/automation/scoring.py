"""Rule scoring (DOMAIN.md section 7, docs/scoring.md): engagement events, the scoring
settings, and scores recomputed set-based.

A lead's score is engagement plus fit:
- engagement: for each of its events, the event type's points * 0.5 ** (age in days /
  half-life in days), so an event loses half its weight every half-life;
- fit: the points of each fit rule the lead's fields meet (industry equals X,
  number_of_employees at least N, title contains a word).
Rating follows the thresholds: Hot at or above `hot`, Warm at or above `warm`, else Cold.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import json
import queue
import re
import threading
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from django.db import connection, models, transaction
from django.db.models import FilteredRelation, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from dealflow.automation.models import (
    LeadEvent,
    LeadEventType,
    LeadLikelihood,
    LeadScore,
    LeadScoreHistory,
    ScoringSettings,
)
from dealflow.core.access import require_admin
from dealflow.core.cache import ConfigurationCache, configuration_changed
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.sqlite.bulk import sqlite_bulk_writes
from dealflow.leads.models import Lead
from dealflow.leads.selectors import lead_get

DEFAULT_POINTS: dict[str, float] = {
    "form_submit": 50,
    "demo_request": 50,
    "event_attended": 20,
    "link_click": 3,
    "email_open": 1,
    "page_view": 1,
    "form_error": -5,
}
DEFAULT_HALF_LIFE_DAYS = 30.0
DEFAULT_THRESHOLDS = {"hot": 60.0, "warm": 25.0}
# A lead's score history gets a row when its Rating changes or its score moves this many
# points or more from the newest row: decay alone moves most scores by a few hundredths a
# day, and a row per lead per night (700k a night at 1M leads) would be noise to read
# and a table growing by the lead count daily (docs/scoring.md, "Score history").
HISTORY_STEP = 1.0
# The (field, operator) pairs a fit rule may use, and how a matched rule reads in words.
FIT_OPERATORS = {
    ("industry", "equals"): "Industry is {value}",
    ("number_of_employees", "at_least"): "Employees at least {value}",
    ("title", "contains_word"): "Title contains {value}",
}
# Points of one event type or rule, and thresholds: generous, but bounded.
MAX_POINTS = 10_000
MAX_HALF_LIFE_DAYS = 3650
# Leads read, scored and written per round trip (a few queries each).
BATCH_SIZE = 5000
# Events of more leads than this are read by the range of their keys (_event_rows),
# unless the range holds more than EVENT_RANGE_SPREAD keys per lead (scattered leads).
EVENT_RANGE_ABOVE = 500
EVENT_RANGE_SPREAD = 10
# A recompute of more than one batch, outside a caller's transaction, writes in bulk
# mode (_BatchWriter: PostgreSQL in a second thread while this one reads and scores the
# next batch, SQLite with a larger cache); False writes every batch plainly.
PIPELINED = True
# Distinct (industry, title, employee thresholds passed) whose fit parts a recompute keeps.
FIT_MEMO_SIZE = 100_000
# Clock skew allowed for an event reported "now" by another machine.
FUTURE_TOLERANCE = datetime.timedelta(minutes=5)
SECONDS_PER_DAY = 86400
# No engagement predates the web; earlier years are typing mistakes.
EARLIEST_YEAR = 1990


def _invalid(where: str, message: str, code: ErrorCode = ErrorCode.INVALID_FIELD) -> DomainError:
    return DomainError(code, f"{where}: {message}", [where])


# ---------------------------------------------------------------------------------------
# Settings


@dataclass(frozen=True)
class ScoringConfiguration:
    points: dict[str, float]
    half_life_days: float
    fit_rules: list[dict[str, Any]]
    thresholds: dict[str, float]

    def as_json(self) -> dict[str, Any]:
        return {
            "points": dict(self.points),
            "half_life_days": self.half_life_days,
            "fit_rules": [dict(rule) for rule in self.fit_rules],
            "thresholds": dict(self.thresholds),
        }

    def rating(self, score: float) -> str:
        """Hot, Warm or Cold for a score, by the thresholds."""
        if score >= self.thresholds["hot"]:
            return "Hot"
        if score >= self.thresholds["warm"]:
            return "Warm"
        return "Cold"


def scoring_configuration() -> ScoringConfiguration:
    """The scoring settings as saved, the defaults filling what is not (one query)."""
    row = ScoringSettings.objects.filter(pk=1).first()
    if row is None:
        return ScoringConfiguration(
            dict(DEFAULT_POINTS), DEFAULT_HALF_LIFE_DAYS, [], dict(DEFAULT_THRESHOLDS)
        )
    return ScoringConfiguration(
        {**DEFAULT_POINTS, **row.points},
        row.half_life_days,
        list(row.fit_rules),
        {**DEFAULT_THRESHOLDS, **row.thresholds},
    )


def _points(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(where, "expected a number", ErrorCode.INVALID_TYPE)
    if not -MAX_POINTS <= value <= MAX_POINTS:
        raise _invalid(
            where,
            f"expected a number from {-MAX_POINTS} to {MAX_POINTS}",
            ErrorCode.NUMBER_OUTSIDE_VALID_RANGE,
        )
    return float(value)


def _object(where: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _invalid(where, "expected an object", ErrorCode.INVALID_TYPE)
    return value


def _clean_points(value: Any) -> dict[str, float]:
    points = _object("points", value)
    cleaned = {}
    for key, number in points.items():
        if key not in DEFAULT_POINTS:
            known = ", ".join(DEFAULT_POINTS)
            raise _invalid(f"points.{key}", f"not an event type (one of {known})")
        cleaned[key] = _points(f"points.{key}", number)
    return {**DEFAULT_POINTS, **cleaned}


def _clean_half_life(value: Any) -> float:
    where = "half_life_days"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(where, "expected a number of days", ErrorCode.INVALID_TYPE)
    if not 0 < value <= MAX_HALF_LIFE_DAYS:
        raise _invalid(
            where,
            f"expected more than 0 and at most {MAX_HALF_LIFE_DAYS} days",
            ErrorCode.NUMBER_OUTSIDE_VALID_RANGE,
        )
    return float(value)


def _clean_fit_rule(index: int, value: Any) -> dict[str, Any]:
    where = f"fit_rules[{index}]"
    rule = _object(where, value)
    unknown = set(rule) - {"field", "operator", "value", "points"}
    if unknown:
        raise _invalid(f"{where}.{sorted(unknown)[0]}", "not a key of a fit rule")
    field, operator = rule.get("field"), rule.get("operator")
    pair = (field if isinstance(field, str) else "", operator if isinstance(operator, str) else "")
    if pair[0] not in {field for field, _ in FIT_OPERATORS}:
        raise _invalid(f"{where}.field", "expected industry, number_of_employees or title")
    if pair not in FIT_OPERATORS:
        expected = next(operator for field, operator in FIT_OPERATORS if field == pair[0])
        raise _invalid(f"{where}.operator", f"{pair[0]} takes the operator {expected}")
    rule_value = rule.get("value")
    if pair[0] == "number_of_employees":
        if isinstance(rule_value, bool) or not isinstance(rule_value, int) or rule_value < 0:
            raise _invalid(f"{where}.value", "expected a whole number", ErrorCode.INVALID_TYPE)
    elif not isinstance(rule_value, str) or not rule_value.strip():
        raise _invalid(f"{where}.value", "expected a text", ErrorCode.INVALID_TYPE)
    else:
        rule_value = rule_value.strip()
    return {
        "field": pair[0],
        "operator": pair[1],
        "value": rule_value,
        "points": _points(f"{where}.points", rule.get("points")),
    }


def _clean_thresholds(value: Any) -> dict[str, float]:
    thresholds = _object("thresholds", value)
    unknown = set(thresholds) - {"hot", "warm"}
    if unknown:
        raise _invalid(f"thresholds.{sorted(unknown)[0]}", "expected hot or warm")
    cleaned = {**DEFAULT_THRESHOLDS}
    for key in ("hot", "warm"):
        if key in thresholds:
            cleaned[key] = _points(f"thresholds.{key}", thresholds[key])
    if cleaned["hot"] <= cleaned["warm"]:
        raise _invalid("thresholds.hot", "must be above thresholds.warm")
    return cleaned


def scoring_settings_set(*, actor: Any, settings: Any) -> ScoringConfiguration:
    """Replace the scoring settings (admins only; INSUFFICIENT_ACCESS_OR_READONLY else).

    `settings`: {"points": {event type: number}, "half_life_days": number > 0,
    "fit_rules": [{"field", "operator", "value", "points"}], "thresholds": {"hot",
    "warm"}}; a key left out takes its default. Each error names its key
    (`points.page_view`, `fit_rules[0].operator`). Scores are not recomputed here:
    `dealflow score` or the scheduled task does that for every lead.
    """
    require_admin(actor, "the scoring settings")
    body = _object("settings", settings)
    unknown = set(body) - {"points", "half_life_days", "fit_rules", "thresholds"}
    if unknown:
        raise _invalid(sorted(unknown)[0], "not a scoring setting")
    fit_rules = body.get("fit_rules", [])
    if not isinstance(fit_rules, list):
        raise _invalid("fit_rules", "expected a list", ErrorCode.INVALID_TYPE)
    configuration = ScoringConfiguration(
        _clean_points(body.get("points", {})),
        _clean_half_life(body.get("half_life_days", DEFAULT_HALF_LIFE_DAYS)),
        [_clean_fit_rule(index, rule) for index, rule in enumerate(fit_rules)],
        _clean_thresholds(body.get("thresholds", {})),
    )
    with transaction.atomic():
        ScoringSettings.objects.update_or_create(
            pk=1,
            defaults={
                "points": configuration.points,
                "half_life_days": configuration.half_life_days,
                "fit_rules": configuration.fit_rules,
                "thresholds": configuration.thresholds,
            },
        )
        configuration_changed()  # new_leads_scored() reads the fit rules again
    return configuration


def _fit_rules_exist() -> bool:
    fit_rules = ScoringSettings.objects.filter(pk=1).values_list("fit_rules", flat=True)
    return bool(next(iter(fit_rules), None))


# Asked by every create; read again only when the configuration version changes.
_fit_rules_cache: ConfigurationCache[bool] = ConfigurationCache(_fit_rules_exist)


def new_leads_scored() -> bool:
    """Whether a new lead is scored right after it is created: only when fit rules are
    set, since a lead without events scores nothing else (no query once cached)."""
    return _fit_rules_cache.get()


# ---------------------------------------------------------------------------------------
# Events


def _occurred_at(value: Any, now: datetime.datetime) -> datetime.datetime:
    where = "occurred_at"
    if value is None:
        return now
    moment = value
    if isinstance(value, str):
        try:
            moment = parse_datetime(value)
        except ValueError:
            moment = None
    if not isinstance(moment, datetime.datetime):
        raise _invalid(where, "expected a date and time like 2026-11-30T09:30:00Z")
    if timezone.is_naive(moment):
        raise _invalid(where, "expected a time zone (Z or +01:00)")
    try:
        # In UTC, as stored: PostgreSQL refuses offsets beyond 15:59 hours.
        moment = moment.astimezone(datetime.UTC)
    except (OverflowError, ValueError):
        moment = None
    if moment is None or moment.year < EARLIEST_YEAR:
        raise _invalid(where, f"expected a time in {EARLIEST_YEAR} or later")
    if moment > now + FUTURE_TOLERANCE:
        raise _invalid(where, "is in the future")
    return moment


def lead_event_record(
    *, actor: Any, lead: Lead | str, type: Any, occurred_at: Any = None
) -> LeadEvent:
    """Record one engagement event of a lead; its score is recomputed after commit.

    `lead`: a Lead or its public id, which the actor must be able to read (NOT_FOUND
    otherwise; actor None is the system, e.g. web-to-lead). `type`: a LeadEventType value
    (INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST naming `type`). `occurred_at`: an aware
    datetime or ISO 8601 text, not in the future; None means now (INVALID_FIELD naming
    `occurred_at`).
    """
    if isinstance(lead, str):
        lead = lead_get(actor=actor, lead_id=lead)
    elif actor is not None:  # re-read: the actor's access decides, not the caller's object
        lead = lead_get(actor=actor, lead_id=str(lead.public_id))
    if type not in LeadEventType.values:
        raise _invalid(
            "type",
            f"{type!r} is not an event type (one of {', '.join(LeadEventType.values)})",
            ErrorCode.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST,
        )
    now = timezone.now()
    event = LeadEvent.objects.create(
        lead=lead, type=type, occurred_at=_occurred_at(occurred_at, now), created_at=now
    )
    lead_id = lead.pk
    # robust: the event is saved even if the broker is down; the nightly scores catch up.
    transaction.on_commit(lambda: refresh_lead_later(lead_id, rescore=True), robust=True)
    return event


def refresh_lead_later(lead_id: int, *, rescore: bool) -> None:
    """Have the task `dealflow.automation.tasks.refresh_lead_score` bring one lead's rule
    score (when `rescore`) and then its likelihood up to date: a worker does it with a
    broker, this process at once without one. Call it on commit."""
    from dealflow.automation.tasks import refresh_lead_score  # imports this module

    refresh_lead_score.delay(lead_id, rescore)


# Lead fields fit rules read: with fit rules set, a change of one moves the rule score.
FIT_FIELDS = frozenset(("industry", "number_of_employees", "title"))


def lead_created(*, lead_id: int) -> None:
    """Called by a lead's create in its transaction: its rule score (when fit rules are
    set: a new lead has no events, so nothing else scores it) and its likelihood (when a
    predictive model is trained) are computed after commit by one task,
    refresh_lead_score. Nothing is queued, and no query is made once the settings are
    cached, when neither applies."""
    from dealflow.automation import predictive  # numpy: loaded when first needed

    rescore = new_leads_scored()
    if rescore or predictive.model_trained():
        # robust: the lead stays created if the broker is down; the nightly run catches up.
        transaction.on_commit(lambda: refresh_lead_later(lead_id, rescore=rescore), robust=True)


def lead_changed(*, lead_id: int, fields: Iterable[str]) -> None:
    """Called by a lead's update in its transaction with the fields it changed: when
    they move the lead's rule score (a field fit rules read, fit rules being set) or its
    likelihood (a field the active predictive model reads), the lead is refreshed after
    commit (refresh_lead_later). Nothing is queued, and no query is made once the
    settings are cached, when the change moves neither."""
    from dealflow.automation import predictive  # numpy: loaded when first needed

    changed = set(fields)
    rescore = bool(changed & FIT_FIELDS) and new_leads_scored()
    predict = bool(changed & predictive.PREDICTIVE_FIELDS) and predictive.model_trained()
    if rescore or predict:
        # robust: the update stands if the broker is down; the nightly run catches up.
        transaction.on_commit(lambda: refresh_lead_later(lead_id, rescore=rescore), robust=True)


def lead_score_refresh(*, lead_id: int, rescore: bool = True) -> dict[str, int]:
    """One lead's rule score (when `rescore`) and then its likelihood, recomputed as
    the nightly runs do (the likelihood second: the model reads the Rating the score
    sets). Returns {"scored": 0 or 1, "predicted": 0 or 1}: 0 for a lead that is gone,
    converted or closed (it keeps its figures), and "predicted" 0 without a trained
    model. Only writes current figures, so it is safe to run again."""
    from dealflow.automation.predictive import lead_likelihoods_recompute

    scored = lead_scores_recompute(lead_ids=[lead_id]) if rescore else 0
    return {"scored": scored, "predicted": lead_likelihoods_recompute(lead_ids=[lead_id])}


# ---------------------------------------------------------------------------------------
# Scores
#
# The recompute is the hot path of scoring (every open lead, nightly: 1M leads in 30 s,
# issue 7), so what does not change from one lead to the next is prepared once per
# recompute (_Scorer) or once per process (labels, rule texts), and rows are written
# with one raw statement per batch rather than through model instances.

# The lead fields fit rules read, in the order the recompute reads them.
_FIT_FIELDS = ("industry", "number_of_employees", "title")
# Event types in LeadEventType order with their labels: engagement parts come in this
# order, so the recompute keys a lead's totals by a type's position here.
_EVENT_TYPES = tuple((type.value, str(type.label)) for type in LeadEventType)


def _round(number: float) -> float:
    return round(number + 0.0, 2) + 0.0  # + 0.0: no -0.0 in the JSON


def _words(text: str | None) -> list[str]:
    return re.findall(r"\w+", (text or "").casefold())


@functools.cache
def _engagement_rule_json(label: str, count: int) -> str:
    """The JSON text of an engagement part's rule ("Page view \u00d72"): few distinct
    (type, count) pairs exist, so each is encoded once per process."""
    return json.dumps(f"{label} \N{MULTIPLICATION SIGN}{count}")


def _part_json(rule_json: str, points: float) -> str:
    """One part as json.dumps({"rule": ..., "points": ...}) writes it (what the JSONField
    stored when the parts went through the ORM): a float's JSON is its repr."""
    return f'{{"rule": {rule_json}, "points": {points!r}}}'


@dataclass(frozen=True)
class _FitRule:
    """A fit rule of the configuration, with its part's JSON text prepared (its label
    and points do not depend on the lead)."""

    field: str
    value: Any  # casefolded text, a whole number, or the wanted words of a title rule
    points: float
    part_json: str

    @classmethod
    def of(cls, rule: Mapping[str, Any]) -> _FitRule:
        field = rule["field"]
        label = FIT_OPERATORS[(field, rule["operator"])].format(value=rule["value"])
        points = _round(rule["points"])
        value: Any = rule["value"]
        if field == "industry":
            value = str(value).casefold()
        elif field == "title":
            value = _words(str(value))
        return cls(field, value, points, _part_json(json.dumps(label), points))

    def matches(self, industry: str, employees: int | None, title_words: list[str]) -> bool:
        """`industry` casefolded, `title_words` the title's words casefolded."""
        if self.field == "industry":
            return industry == self.value
        if self.field == "number_of_employees":
            return employees is not None and employees >= self.value
        wanted = self.value
        if len(wanted) == 1:  # most rules: a word among the title's words
            return wanted[0] in title_words
        # A rule of several words ("Vice President") matches them in a row.
        return any(
            title_words[start : start + len(wanted)] == wanted for start in range(len(title_words))
        )


class _Scorer:
    """One recompute's configuration and clock, prepared to score many leads.

    A lead's parts are engagement by event type (in LeadEventType order, decayed points
    summed in the order the events are read, rounded to 2 places), then each fit rule
    met; its score is the parts' points summed, rounded to 2 places.
    """

    def __init__(self, configuration: ScoringConfiguration, now: datetime.datetime):
        self.configuration = configuration
        self.now = now
        # {type: (position in _EVENT_TYPES, points)}
        self.event_types = {
            type: (position, float(configuration.points.get(type, 0.0)))
            for position, (type, _label) in enumerate(_EVENT_TYPES)
        }
        self.half_life = configuration.half_life_days
        self.fit_rules = [_FitRule.of(rule) for rule in configuration.fit_rules]
        self.reads_title = any(rule.field == "title" for rule in self.fit_rules)
        # A lead meets the same employee rules as any other whose number of employees
        # passes the same thresholds: (industry, title, how many thresholds passed) keys
        # the fit parts, computed once per distinct key (at most FIT_MEMO_SIZE kept).
        self.employee_thresholds = sorted(
            {rule.value for rule in self.fit_rules if rule.field == "number_of_employees"}
        )
        self.fit_memo: dict[tuple[Any, Any, int], tuple[list[float], list[str]]] = {}
        # {(type's position, count): the JSON text of its part's rule}
        self.rule_json: dict[tuple[int, int], str] = {}

    def engagement(
        self, events: Iterable[tuple[int, str, Any]], clock: datetime.datetime | None = None
    ) -> dict[int, dict[int, list]]:
        """{lead: {type's position in _EVENT_TYPES: [count, decayed points summed]}} of
        (lead, type, age in seconds) rows, or with `clock` (lead, type, occurred_at as
        SQLite's text, naive like `clock`) rows, summed in the order given. The hot loop
        of the recompute (3.6M events at 1M leads), hence the age and decay written out
        here rather than in a generator per event."""
        event_types, half_life = self.event_types, self.half_life
        parse = datetime.datetime.fromisoformat
        totals: dict[int, dict[int, list]] = {}
        for lead_id, type, age in events:
            known = event_types.get(type)
            if known is None:  # not a LeadEventType: never a part of the score
                continue
            if clock is not None:
                age = (clock - parse(age)).total_seconds()
            position, points = known
            # points * 0.5 ** (age in days / half-life); an event from the future counts
            # fully (as max(age, 0): 0.5 ** 0 whatever the zero).
            decayed = points * 0.5 ** ((age if age > 0 else 0) / SECONDS_PER_DAY / half_life)
            by_type = totals.get(lead_id)
            if by_type is None:
                by_type = totals[lead_id] = {}
            total = by_type.get(position)
            if total is None:
                by_type[position] = [1, 0.0 + decayed]
            else:
                total[0] += 1
                total[1] += decayed
        return totals

    def score(
        self, engagement: Mapping[int, list], fit_values: tuple[Any, ...]
    ) -> tuple[float, str]:
        """One lead's score and its parts as JSON text, from its engagement totals and
        its values of _FIT_FIELDS. Called once per lead: _round and _part_json are
        written out here."""
        points: list[float] = []
        parts: list[str] = []
        rule_json = self.rule_json
        for key, (count, total) in sorted(engagement.items()):
            rounded = round(total + 0.0, 2) + 0.0  # _round
            points.append(rounded)
            text = rule_json.get((key, count))
            if text is None:
                text = rule_json[key, count] = _engagement_rule_json(_EVENT_TYPES[key][1], count)
            parts.append(f'{{"rule": {text}, "points": {rounded!r}}}')  # _part_json
        if self.fit_rules:
            industry, employees, title = fit_values
            level = -1 if employees is None else bisect_right(self.employee_thresholds, employees)
            memo_key = (industry, title, level)
            fit = self.fit_memo.get(memo_key)
            if fit is None:
                if len(self.fit_memo) >= FIT_MEMO_SIZE:
                    self.fit_memo.clear()
                fit = self.fit_memo[memo_key] = self.fit(industry, employees, title)
            points.extend(fit[0])
            parts.extend(fit[1])
        return _round(sum(points)), f"[{', '.join(parts)}]"

    def fit(
        self, industry: str | None, employees: int | None, title: str | None
    ) -> tuple[list[float], list[str]]:
        """The points and parts' JSON of the fit rules these values meet, in the rules'
        order."""
        folded = (industry or "").casefold()
        title_words = _words(title) if self.reads_title else []
        met = [rule for rule in self.fit_rules if rule.matches(folded, employees, title_words)]
        return [rule.points for rule in met], [rule.part_json for rule in met]


def lead_scores_recompute(
    *, lead_ids: Iterable[int] | None = None, now: datetime.datetime | None = None
) -> int:
    """Score every open lead (or those of `lead_ids`, primary keys) set-based; returns
    how many were scored.

    Per batch of BATCH_SIZE leads: one query reads the leads with their previous
    scores, one their events, one upsert writes their LeadScore rows, one insert appends
    a LeadScoreHistory row for each lead whose score or Rating changed (none when
    nothing did), and at most one UPDATE per Rating value changes the leads whose
    Rating differs, so ratings are never saved one lead at a time. Automatic rating
    changes are not audited (docs/scoring.md). An open lead is neither converted nor in
    a closed status; others keep their last score. Safe to run again: it only writes
    the current figures.

    Each batch's writes are one transaction. A recompute of more than one batch outside
    a caller's transaction writes them in a second thread on its own connection while
    this one reads and scores the next batch (_BatchWriter); an error in either stops
    both and is raised here, the batches written before it staying written.
    """
    now = now or timezone.now()
    scorer = _Scorer(scoring_configuration(), now)
    leads = Lead.objects.filter(is_converted=False, status__is_closed=False).order_by("pk")
    # Given leads are read BATCH_SIZE keys at a time: all at once, SQLite refused more
    # than 32,766 parameters.
    wanted = sorted(set(lead_ids)) if lead_ids is not None else None
    position = 0
    scored = 0
    last_pk = 0
    with _BatchWriter(now) as writer:
        while True:
            page = leads.filter(pk__gt=last_pk)
            if wanted is not None:
                if position >= len(wanted):
                    break
                chunk = wanted[position : position + BATCH_SIZE]
                position += len(chunk)
                page, last_pk = leads.filter(pk__in=chunk), chunk[0] - 1
            # The previous score through a join bounded like the leads (`previous`):
            # joined by the relation alone, PostgreSQL merge-joins the scores from the
            # first one on, reading every earlier batch's scores again (a recompute
            # quadratic in the leads: 52 of 145 s at 1M).
            previous = FilteredRelation("rule_score", condition=Q(rule_score__lead__gt=last_pk))
            batch = list(
                page.annotate(previous=previous).values_list(
                    "pk", "rating", "previous__score", "previous__history_score", *_FIT_FIELDS
                )[:BATCH_SIZE]
            )
            more = len(batch) == BATCH_SIZE if wanted is None else position < len(wanted)
            if batch:
                writer.write(_score_batch(scorer, batch), more=more)
                scored += len(batch)
                last_pk = batch[-1][0]
            if not more:
                break
    return scored


@dataclass(frozen=True)
class _BatchWrites:
    """What one batch writes: LeadScore rows (lead, score, parts as JSON text, score of
    the newest history row), history rows (lead, score, Rating), and the leads whose
    Rating changes ({rating: [lead]})."""

    scores: list[tuple[int, float, str, float]]
    history: list[tuple[int, float, str]]
    new_ratings: dict[str, list[int]]


def _score_batch(scorer: _Scorer, batch: list[tuple]) -> _BatchWrites:
    """Score one batch of (pk, rating, previous score, score of the newest history row,
    *_FIT_FIELDS) rows (reads their events); what to write for them. A history row is
    appended for a lead's first score, a change of its Rating, or a move of HISTORY_STEP
    points or more from its newest history row (its previous score when that is not
    kept: rows scored before migration automation 0006)."""
    engagement = scorer.engagement(*_event_rows([row[0] for row in batch], scorer.now))
    scores = []
    history = []
    new_ratings: dict[str, list[int]] = {}
    rating_of = scorer.configuration.rating
    for pk, rating, previous, last_kept, *fit_values in batch:
        score, parts = scorer.score(engagement.get(pk, {}), tuple(fit_values))
        wanted = rating_of(score)
        if rating != wanted:
            new_ratings.setdefault(wanted, []).append(pk)
        kept = previous if last_kept is None else last_kept
        if kept is None or rating != wanted or abs(score - kept) >= HISTORY_STEP:
            history.append((pk, score, wanted))
            kept = score
        scores.append((pk, score, parts, kept))
    return _BatchWrites(scores, history, new_ratings)


def _write_batch(now: datetime.datetime, writes: _BatchWrites) -> None:
    """One batch's scores, history and Ratings, in one transaction (a savepoint inside
    a caller's). PostgreSQL, when it is the outermost transaction: its commit does not
    wait for the WAL to reach the disk (synchronous_commit off, for this transaction
    only): a crash may lose the last batches' figures, never leave them half-written,
    and the next recompute writes them again; 200 commits waited 10 to 20 s otherwise."""
    moment = connection.ops.adapt_datetimefield_value(now)
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        _upsert_scores(moment, writes.scores)
        if writes.history:
            _insert_history(moment, writes.history)
        _update_ratings(writes.new_ratings, now)


class _BatchWriter:
    """Writes a recompute's batches (_write_batch), from the first full batch of a
    recompute outside a caller's transaction (more may follow) in bulk mode:

    - PostgreSQL: in a second thread on its own connection, one batch queued at most,
      so the server writes batch n while this thread reads and scores batch n + 1 (at
      1M leads either side is about half the time; psycopg leaves the GIL while a
      statement runs). Every batch still reads what the batches before it left: a
      batch's leads are its own, and their scores and Ratings are read before theirs
      are written. An error in the writer is raised by the next write() or at the end;
      one in the caller stops the writer after its current batch.
    - SQLite: in this thread (a writer thread took three times as long: sqlite3's
      executemany takes the GIL back for every row, and waits for it behind the
      scoring), with a larger page cache and rarer checkpoints (core.sqlite.bulk).

    Otherwise (one batch, or inside a caller's transaction) each batch is written here.
    """

    def __init__(self, now: datetime.datetime) -> None:
        self.now = now
        self.bulk = PIPELINED and not connection.in_atomic_block
        self.queue: queue.Queue[_BatchWrites | None] = queue.Queue(maxsize=1)
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.settings: contextlib.AbstractContextManager[None] | None = None

    def __enter__(self) -> _BatchWriter:
        return self

    def write(self, writes: _BatchWrites, *, more: bool) -> None:
        """Write one batch (`more`: others may follow)."""
        if self.error is not None:
            raise self.error
        if self.bulk and more:
            self.bulk = False  # started once
            if connection.vendor == "postgresql":
                self.thread = threading.Thread(
                    target=self._run, name="lead-scores-writer", daemon=True
                )
                self.thread.start()
            else:
                self.settings = sqlite_bulk_writes()
                self.settings.__enter__()
        if self.thread is None:
            _write_batch(self.now, writes)
        else:
            self.queue.put(writes)

    def _run(self) -> None:
        try:
            while (writes := self.queue.get()) is not None:
                _write_batch(self.now, writes)
        except BaseException as error:  # raised in the caller's thread
            self.error = error
            while self.queue.get() is not None:  # the caller never blocks on a put
                pass
        finally:
            connection.close()  # this thread's own connection

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.settings is not None:
            self.settings.__exit__(kind, error, traceback)
        if self.thread is None:
            return
        self.queue.put(None)
        self.thread.join()
        if error is None and self.error is not None:
            raise self.error


def _update_ratings(new_ratings: Mapping[str, list[int]], now: datetime.datetime) -> None:
    """Set the Rating of the leads whose Rating changes ({rating: [lead pk]}), one UPDATE
    per Rating value, and move their updated_at (API clients that sync by
    `modified_after` see the change).

    The costly write of a recompute in which many Ratings change (the first after a load
    of leads without one): each lead row is rewritten with its entries in every index of
    leads_lead on PostgreSQL (docs/benchmarks.md, "Scoring: the first run after a load")."""
    for rating, ids in new_ratings.items():
        Lead.objects.filter(pk__in=ids).update(rating=rating, updated_at=now)


def _event_rows(
    pks: list[int], now: datetime.datetime
) -> tuple[list[tuple[int, str, Any]], datetime.datetime | None]:
    """These leads' events and the clock to age them by: on PostgreSQL (lead, type, age
    in seconds at `now`) rows and None, on SQLite (lead, type, occurred_at as stored)
    rows and `now` as naive UTC (_Scorer.engagement takes either). `pks` ascending; for
    a run of more than EVENT_RANGE_ABOVE keys, every lead's from the first to the last.
    Each lead's newest first: LeadEvent's ordering, the order their points were always
    summed in (a float sum depends on it). Read with a raw query: the ORM spent more
    time preparing the IN list and converting values than the database spent reading."""
    meta = LeadEvent._meta
    quote = connection.ops.quote_name
    lead, type, occurred_at, id = (
        quote(str(meta.get_field(name).column))  # type: ignore[union-attr]
        for name in ("lead", "type", "occurred_at", "id")
    )
    sqlite = connection.vendor == "sqlite"
    if len(pks) > EVENT_RANGE_ABOVE and pks[-1] - pks[0] < EVENT_RANGE_SPREAD * len(pks):
        # A batch's leads are a run of keys: read the range (an index range instead of
        # thousands of parameters); events of leads in it but not in the batch (closed
        # ones) are summed too and never read (the batch scores its own leads only).
        where = f"{lead} >= %s AND {lead} <= %s"
        parameters: list[Any] = [pks[0], pks[-1]]
    else:
        where = f"{lead} IN ({', '.join(['%s'] * len(pks))})"
        parameters = list(pks)
    if sqlite:
        # The text as stored: the driver would parse a column declared datetime with
        # Django's regular expression, but not an expression, whose type is unknown.
        moment = f"CAST({occurred_at} AS text)"
    else:
        # The age itself: loading timestamps cost psycopg more than the query. An
        # interval's seconds are exact to the microsecond, so as a double they round as
        # timedelta.total_seconds() does.
        moment = f"EXTRACT(EPOCH FROM %s - {occurred_at})::double precision"
        parameters.insert(0, now)
    # Leads in descending order too: then the index on (lead, occurred_at) gives the
    # rows in order, read backwards, and no sort is needed.
    sql = (
        f"SELECT {lead}, {type}, {moment} FROM {quote(meta.db_table)} "
        f"WHERE {where} "
        f"ORDER BY {lead} DESC, {occurred_at} DESC, {id} DESC"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, parameters)
        rows = cursor.fetchall()
    if not sqlite:
        return rows, None
    # SQLite keeps a datetime as naive text in the connection's time zone (UTC: dealflow
    # sets no DATABASES TIME_ZONE); datetime.fromisoformat reads it in C, where the
    # ORM's converter took a regular expression and make_aware, a fifth of the recompute.
    # The rows keep that text, and the clock to age it against comes with them
    # (_Scorer.engagement); SQLite's own unixepoch() was no faster.
    return rows, timezone.make_naive(now, connection.timezone)


def _upsert_scores(moment: Any, rows: list[tuple[int, float, str, float]]) -> None:
    """Insert or replace the LeadScore rows of (lead, score, parts as JSON text, score of
    the newest history row) in one statement, `moment` (computed_at) as the database
    takes it. Like predictive._upsert_likelihoods: bulk_create spent more time building
    model instances and compiling its SQL than the database spent writing. Names come
    from the model; values go as parameters."""
    table, names = _columns(LeadScore, ("lead", "score", "parts", "history_score", "computed_at"))
    updates = ", ".join(f"{name} = excluded.{name}" for name in names[1:])
    insert = f"INSERT INTO {table} ({', '.join(names)})"
    conflict = f"ON CONFLICT ({names[0]}) DO UPDATE SET {updates}"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One JSON text of [[lead, score, parts, kept], ...]: adapting one string is
            # far cheaper than thousands of parameters; a float's repr reads back exactly.
            array = ",".join(
                f"[{pk},{score!r},{parts},{kept!r}]" for pk, score, parts, kept in rows
            )
            cursor.execute(
                f"{insert} SELECT (item ->> 0)::bigint, (item ->> 1)::double precision, "
                "item -> 2, (item ->> 3)::double precision, "
                f"%s FROM jsonb_array_elements(%s::jsonb) AS given (item) {conflict}",
                [moment, f"[{array}]"],
            )
        else:
            # executemany: a loop in C, one statement for the batch.
            cursor.executemany(
                f"{insert} VALUES (%s, %s, %s, %s, %s) {conflict}",
                [(pk, score, parts, kept, moment) for pk, score, parts, kept in rows],
            )


def _insert_history(moment: Any, rows: list[tuple[int, float, str]]) -> None:
    """Append LeadScoreHistory rows of (lead, score, Rating) in one statement, the same
    way as _upsert_scores."""
    table, names = _columns(LeadScoreHistory, ("lead", "score", "rating", "computed_at"))
    insert = f"INSERT INTO {table} ({', '.join(names)})"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Ratings are Hot, Warm or Cold: JSON text as they are.
            array = ",".join(f'[{pk},{score!r},"{rating}"]' for pk, score, rating in rows)
            cursor.execute(
                f"{insert} SELECT (item ->> 0)::bigint, (item ->> 1)::double precision, "
                f"item ->> 2, %s FROM jsonb_array_elements(%s::jsonb) AS given (item)",
                [moment, f"[{array}]"],
            )
        else:
            cursor.executemany(
                f"{insert} VALUES (%s, %s, %s, %s)",
                [(pk, score, rating, moment) for pk, score, rating in rows],
            )


def _columns(model: type[models.Model], fields: tuple[str, ...]) -> tuple[str, list[str]]:
    """The model's table and these fields' columns, quoted."""
    meta = model._meta
    quote = connection.ops.quote_name
    columns = [quote(str(meta.get_field(name).column)) for name in fields]  # type: ignore[union-attr]
    return quote(meta.db_table), columns


def lead_score(lead: Lead) -> LeadScore | None:
    """A lead's latest rule score (one query), or None before it is first scored."""
    return LeadScore.objects.filter(lead_id=lead.pk).first()


# ---------------------------------------------------------------------------------------
# One lead's score, likelihood and score history (the Score panel and the API)

HISTORY_SHOWN = 10


@dataclass(frozen=True)
class ScoreSummary:
    """What the Score panel and `GET /leads/{id}/score` show of one lead: its rule score,
    its predicted likelihood (with the model's training date) and its latest scores."""

    score: LeadScore | None
    likelihood: LeadLikelihood | None
    history: list[LeadScoreHistory]


def lead_score_summary(lead: Lead, *, history: int = HISTORY_SHOWN) -> ScoreSummary:
    """The lead's score, likelihood and `history` latest scores, newest first: one query,
    and one more for the history of a lead that has a score (history is written with
    scores, so a lead without one has none). The caller has read the lead through an
    access check (leads.selectors)."""
    found = (
        Lead.objects.filter(pk=lead.pk)
        .select_related("rule_score", "likelihood__model")
        .only(
            "pk",
            *(f"rule_score__{name}" for name in ("lead", "score", "parts", "computed_at")),
            *(
                f"likelihood__{name}"
                for name in ("lead", "model", "likelihood", "factors", "computed_at")
            ),
            "likelihood__model__trained_at",
        )
        .first()
    )
    score = getattr(found, "rule_score", None)
    rows = []
    if score is not None:
        rows = list(LeadScoreHistory.objects.filter(lead_id=lead.pk)[:history])
    return ScoreSummary(score=score, likelihood=getattr(found, "likelihood", None), history=rows)
