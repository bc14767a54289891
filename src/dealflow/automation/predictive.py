"""Predictive scoring (DOMAIN.md section 7; docs/scoring.md, "Predictive scoring"): a
conversion model trained on the organisation's own closed leads, and a 1-99 likelihood
with its top factors, in words, for every open lead.

- Training data: closed leads. Converted: `is_converted`. Not converted: a status that is
  closed and not converted ("Closed - Not Converted"). Open leads are what is predicted.
- Features, read from the lead's profile and engagement, never from its status or its
  conversion fields: lead source, industry, Rating, country (each one-hot: the common
  values, "blank" and "other"), the title's seniority (a word list), the number of
  employees and the annual revenue (bins of a log scale: tens), whether it has a phone
  and an email address, and per engagement event type log(1 + count of events), counting
  for a converted lead only the events up to its conversion date (no leakage).
- Model: scikit-learn's logistic regression on standardised columns, fitted on 60% of the
  leads; a Platt calibration (a logistic regression on the model's log-odds) fitted on
  another 20%; the held-out AUC and calibration table measured on the last 20%, which
  neither saw. Splits are stratified and seeded, so a training is reproducible.
- Storage: JSON, never a pickle (automation.models.PredictiveModel.definition):
  {"version": 1, "columns": [{"group", "kind", "value", "label"}], "mean": [..],
  "scale": [..], "coefficients": [..], "intercept": x, "calibration": {"method":
  "platt", "slope": a, "intercept": c}, "bins": {...}, "title_levels": [...]}.
  Prediction is numpy over batches: p = 1 / (1 + exp(-(a * (z . w + b) + c))) with
  z = (x - mean) / scale.
- Explanation: a lead's calibrated log-odds is c + a * b plus one contribution per
  column, a * w_j * z_j: what that column adds against an average lead of the training
  data. Columns are summed by feature ("Lead source", "Demo requests"), and the three
  largest positive and negative features are told in words ("Lead source is Web",
  "3 demo requests") with their contribution (weight, log-odds).
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime
import itertools
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from dealflow.automation.models import LeadEvent, LeadEventType, LeadLikelihood, PredictiveModel
from dealflow.core.audit import record_audit
from dealflow.core.cache import ConfigurationCache, configuration_changed
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.matching import fold
from dealflow.core.models import AuditAction
from dealflow.leads.models import Lead

DEFINITION_VERSION = 1
# Minimum history (DOMAIN.md section 7: "roughly 1,000 leads, 120 converted").
MINIMUM_LEADS = 1000
MINIMUM_CONVERTED = 120
# Whatever the minimums asked, each outcome needs this many leads so that each of the
# three splits holds both.
FLOOR_PER_OUTCOME = 10
# Leads read, encoded and written per round trip.
BATCH_SIZE = 5000
# Factor documents remembered across batches (a bound on memory, ~50 MB).
DOCUMENTS_REMEMBERED = 200_000
# Event counts of more leads than this are read by a range of keys (see _event_counts).
RANGE_ABOVE = 500
# A value of lead source, industry, Rating or country gets its own column when at least
# this many training leads have it (the most common MAX_CATEGORIES); rarer ones share
# the column "other".
MINIMUM_CATEGORY_LEADS = 20
MAX_CATEGORIES = 30
# Shares of the closed leads: the model fits on the rest (60%).
CALIBRATION_SHARE = 0.2
HELD_OUT_SHARE = 0.2
SEED = 20261207
# Logistic regression's inverse regularisation strength (scikit-learn's default).
REGULARISATION_C = 1.0
# Factors shown per direction, and the smallest contribution worth telling.
FACTORS_SHOWN = 3
SMALLEST_FACTOR = 0.01
DECILES = 10
# A column whose standard deviation is at most this (relative to its mean) is constant.
CONSTANT_SPREAD = 1e-9

# (feature group, the lead field, its name in words)
CATEGORIES = (
    ("lead_source", "lead_source", "Lead source"),
    ("industry", "industry", "Industry"),
    ("rating", "rating", "Rating"),
    ("country", "country", "Country"),
)
# Seniority from the title's words, checked in this order ("Vice President" before
# "President"); a title with none of them is "other", no title "blank".
TITLE_LEVELS = (
    ("vice_president", "VP", ("vp", "svp", "evp", "avp", "vice president")),
    (
        "executive",
        "executive",
        (
            "chief",
            "ceo",
            "cfo",
            "cto",
            "coo",
            "cmo",
            "cio",
            "cro",
            "president",
            "founder",
            "cofounder",
            "owner",
            "partner",
        ),
    ),
    ("director", "director", ("director", "head")),
    ("manager", "manager", ("manager", "lead", "supervisor")),
)
# Bin edges (log scale: each bin a power of ten wide).
EMPLOYEE_EDGES = (10, 100, 1000, 10000)
REVENUE_EDGES = (1_000_000, 10_000_000, 100_000_000, 1_000_000_000)
EVENT_WORDS = {
    "form_submit": ("form submit", "form submits"),
    "demo_request": ("demo request", "demo requests"),
    "event_attended": ("event attended", "events attended"),
    "link_click": ("link click", "link clicks"),
    "email_open": ("email open", "email opens"),
    "page_view": ("page view", "page views"),
    "form_error": ("form error", "form errors"),
}
_LEAD_FIELDS = (
    "pk",
    "lead_source",
    "industry",
    "rating",
    "country",
    "title",
    "number_of_employees",
    "annual_revenue",
    "phone",
    "mobile_phone",
    "email",
)


def _closed_leads():
    """Closed leads: converted, or in a closed status that is not a converted one."""
    return Lead.objects.filter(
        Q(is_converted=True) | Q(status__is_closed=True, status__is_converted=False)
    )


def _open_leads():
    return Lead.objects.filter(is_converted=False, status__is_closed=False)


# ---------------------------------------------------------------------------------------
# Features


def _amount(number: float) -> str:
    """1000 -> "1,000"; 1000000 -> "1M" (money bins are told in short)."""
    for size, suffix in ((1_000_000_000, "B"), (1_000_000, "M")):
        if number >= size:
            return f"{number / size:g}{suffix}"
    return f"{number:,.0f}"


def _bin_labels(edges: Sequence[float], what: str, short: bool) -> list[str]:
    def show(number: float) -> str:
        return _amount(number) if short else f"{number:,.0f}"

    labels = [f"{what} under {show(edges[0])}"]
    labels += [
        f"{what} {show(low)}-{show(high - (0 if short else 1))}"
        for low, high in itertools.pairwise(edges)
    ]
    labels.append(f"{what} {show(edges[-1])} or more")
    return labels


_WORD = re.compile(r"\w+")


def title_level(title: str) -> str:
    """The seniority of a title: vice_president, executive, director, manager, other, blank."""
    words = _WORD.findall(title.casefold())
    if not words:
        return "blank"
    joined = f" {' '.join(words)} "
    for level, _label, markers in TITLE_LEVELS:
        if any(f" {marker} " in joined for marker in markers):
            return level
    return "other"


def _vocabulary(counts: Counter[str], spellings: dict[str, Counter[str]]) -> list[list[str]]:
    """[[key, label]] of the values common enough for a column, most common first."""
    common = [
        key for key, count in counts.most_common() if key and count >= MINIMUM_CATEGORY_LEADS
    ][:MAX_CATEGORIES]
    return [[key, spellings[key].most_common(1)[0][0]] for key in common]


def _columns(vocabularies: dict[str, list[list[str]]]) -> list[dict[str, Any]]:
    """The model's columns, in order: {"group", "kind", "value", "label"}."""
    columns: list[dict[str, Any]] = []
    for group, _field, _words in CATEGORIES:
        for key, label in vocabularies[group]:
            columns.append({"group": group, "kind": "value", "value": key, "label": label})
        columns.append({"group": group, "kind": "blank", "value": None, "label": "blank"})
        columns.append({"group": group, "kind": "other", "value": None, "label": "other"})
    for level, label, _markers in TITLE_LEVELS:
        columns.append({"group": "title", "kind": "value", "value": level, "label": label})
    columns.append({"group": "title", "kind": "other", "value": None, "label": "other"})
    columns.append({"group": "title", "kind": "blank", "value": None, "label": "blank"})
    for group, edges, labels in (
        ("employees", EMPLOYEE_EDGES, _bin_labels(EMPLOYEE_EDGES, "Employees", False)),
        ("revenue", REVENUE_EDGES, _bin_labels(REVENUE_EDGES, "Annual revenue", True)),
    ):
        for index in range(len(edges) + 1):
            columns.append({"group": group, "kind": "bin", "value": index, "label": labels[index]})
        columns.append({"group": group, "kind": "blank", "value": None, "label": "unknown"})
    columns.append({"group": "phone", "kind": "flag", "value": None, "label": "has a phone"})
    columns.append({"group": "email", "kind": "flag", "value": None, "label": "has an email"})
    for type in LeadEventType.values:
        columns.append(
            {"group": f"events.{type}", "kind": "count", "value": None, "label": "log(1 + count)"}
        )
    return columns


class Encoder:
    """Turns lead rows (values of _LEAD_FIELDS) and event counts into the model's columns,
    and a lead's feature into words. Built from a definition, so a stored model encodes
    leads exactly as it was trained."""

    def __init__(self, definition: dict[str, Any]) -> None:
        self.columns = definition["columns"]
        self.width = len(self.columns)
        self.groups: list[str] = []
        self.group_of_column = np.zeros(self.width, dtype=np.int64)
        self.category: dict[str, dict[str, int]] = {}
        self.labels: dict[str, dict[str, str]] = {}
        self.special: dict[tuple[str, str], int] = {}
        self.bins: dict[tuple[str, int], int] = {}
        self.flags: dict[str, int] = {}
        self.counts: dict[str, int] = {}
        for index, column in enumerate(self.columns):
            group = column["group"]
            if group not in self.groups:
                self.groups.append(group)
            self.group_of_column[index] = self.groups.index(group)
            kind = column["kind"]
            if kind == "value":
                self.category.setdefault(group, {})[column["value"]] = index
                self.labels.setdefault(group, {})[column["value"]] = column["label"]
            elif kind in ("blank", "other"):
                self.special[(group, kind)] = index
            elif kind == "bin":
                self.bins[(group, column["value"])] = index
            elif kind == "flag":
                self.flags[group] = index
            else:
                self.counts[group.removeprefix("events.")] = index
        self.group_matrix = np.zeros((self.width, len(self.groups)))
        self.group_matrix[np.arange(self.width), self.group_of_column] = 1.0
        self.group_index = {group: index for index, group in enumerate(self.groups)}
        self.event_groups = [
            (type, self.counts[type], self.group_index[f"events.{type}"]) for type in self.counts
        ]
        # Remembered per value, since leads share them: a raw value's column (or, for a
        # rare value, the negative code of its text in _raw), a title's column.
        self._column_of: dict[str, dict[str | None, int]] = {
            group: {} for group, _field, _name in CATEGORIES
        }
        self._raw: list[str] = []
        self._title_column: dict[str | None, int] = {}
        self._texts: dict[tuple[int, int], str] = {}

    def _category_code(self, group: str, raw: str | None) -> int:
        """The column of a categorical value, or -(1 + i) for a rare value, _raw[i]."""
        known = self._column_of[group]
        code = known.get(raw)
        if code is None:
            text = (raw or "").strip()
            key = fold(text)
            if not key:
                code = self.special[(group, "blank")]
            elif key in self.category.get(group, {}):
                code = self.category[group][key]
            else:
                self._raw.append(text)
                code = -len(self._raw)
            known[raw] = code
        return code

    def _title_code(self, title: str | None) -> int:
        code = self._title_column.get(title)
        if code is None:
            level = title_level(title or "")
            if level in ("blank", "other"):
                code = self.special[("title", level)]
            else:
                code = self.category["title"][level]
            self._title_column[title] = code
        return code

    def encode(self, rows: Sequence[Sequence[Any]], events: dict[int, dict[str, int]]):
        """(columns, codes) of rows in _LEAD_FIELDS order: the column matrix (float64,
        one row per lead) and, per lead and feature group, the code its words come from
        (the active column; a rare value's negative code; a flag 0/1; an event count)."""
        count = len(rows)
        matrix = np.zeros((count, self.width))
        codes = np.zeros((count, len(self.groups)), dtype=np.int64)
        one_hot = [
            self.group_index[group]
            for group in ("lead_source", "industry", "rating", "country", "title")
        ] + [self.group_index["employees"], self.group_index["revenue"]]
        flags = [self.group_index["phone"], self.group_index["email"]]
        employee_blank = self.special[("employees", "blank")]
        revenue_blank = self.special[("revenue", "blank")]
        employee_bins = [
            self.bins[("employees", index)] for index in range(len(EMPLOYEE_EDGES) + 1)
        ]
        revenue_bins = [self.bins[("revenue", index)] for index in range(len(REVENUE_EDGES) + 1)]
        phone_column, email_column = self.flags["phone"], self.flags["email"]
        chosen = []
        flag_values = []
        category = self._category_code
        for row_index, row in enumerate(rows):
            (pk, source, industry, rating, country, title, employees, revenue, phone,
             mobile, email) = row  # fmt: skip
            chosen.append(
                (
                    category("lead_source", source),
                    category("industry", industry),
                    category("rating", rating),
                    category("country", country),
                    self._title_code(title),
                    employee_blank
                    if employees is None
                    else employee_bins[bisect.bisect_right(EMPLOYEE_EDGES, employees)],
                    revenue_blank
                    if revenue is None
                    else revenue_bins[bisect.bisect_right(REVENUE_EDGES, revenue)],
                )
            )
            flag_values.append(
                (
                    1 if (phone and phone.strip()) or (mobile and mobile.strip()) else 0,
                    1 if email and email.strip() else 0,
                )
            )
            lead_events = events.get(pk)
            if lead_events:
                for type, column, group in self.event_groups:
                    number = lead_events.get(type, 0)
                    if number:
                        matrix[row_index, column] = math.log1p(number)
                        codes[row_index, group] = number
        if count:
            chosen_codes = np.array(chosen, dtype=np.int64)
            codes[:, one_hot] = chosen_codes
            columns = chosen_codes.copy()
            rare = columns < 0
            if rare.any():  # a rare value's column is its group's "other"
                others = np.array(
                    [
                        self.special.get((group, "other"), 0)
                        for group in ("lead_source", "industry", "rating", "country")
                    ]
                    + [0, 0, 0]
                )
                columns[rare] = np.broadcast_to(others, columns.shape)[rare]
            matrix[np.arange(count)[:, None], columns] = 1.0
            flag_array = np.array(flag_values, dtype=np.int64)
            codes[:, flags] = flag_array
            matrix[:, phone_column] = flag_array[:, 0]
            matrix[:, email_column] = flag_array[:, 1]
        return matrix, codes

    def text(self, group_index: int, code: int) -> str:
        """A feature's words for a code of `encode` ("Lead source is Web", "3 demo
        requests"); remembered per feature and code."""
        key = (group_index, code)
        text = self._texts.get(key)
        if text is None:
            text = self._texts[key] = self._words(self.groups[group_index], code)
        return text

    def words(self, group: str, row: Sequence[Any], events: dict[str, int]) -> str:
        """One feature of one lead (a row of _LEAD_FIELDS) in words."""
        _matrix, codes = self.encode([row], {row[0]: events})
        index = self.group_index[group]
        return self.text(index, int(codes[0, index]))

    def _words(self, group: str, code: int) -> str:
        if group.startswith("events."):
            singular, plural = EVENT_WORDS[group.removeprefix("events.")]
            if code == 0:
                return f"No {singular}"
            return f"{code} {singular if code == 1 else plural}"
        if group == "phone":
            return "Has a phone number" if code else "No phone number"
        if group == "email":
            return "Has an email address" if code else "No email address"
        if code < 0:  # a category value kept as the lead has it
            names = {category: name for category, _field, name in CATEGORIES}
            return f"{names[group]} is {self._raw[-code - 1]}"
        return _column_words(self.columns[code])


def _event_counts(pks: list[int], *, before_conversion: bool) -> dict[int, dict[str, int]]:
    """{lead pk: {event type: count}} in one query; for a converted lead, when asked,
    only its events up to its conversion date (what was known before the outcome).

    `pks` ascending. A long list is read as the range from its first to its last key
    (an index range instead of thousands of parameters), and other leads' counts dropped.
    """
    if len(pks) > RANGE_ABOVE:
        events = LeadEvent.objects.filter(lead_id__gte=pks[0], lead_id__lte=pks[-1])
    else:
        events = LeadEvent.objects.filter(lead_id__in=pks)
    if before_conversion:
        events = events.filter(
            Q(lead__converted_date__isnull=True)
            | Q(occurred_at__date__lte=F("lead__converted_date"))
        )
    counts: dict[int, dict[str, int]] = {}
    grouped = events.order_by().values_list("lead_id", "type").annotate(count=Count("pk"))
    for lead_id, type, count in grouped:
        counts.setdefault(lead_id, {})[type] = count
    if len(pks) > RANGE_ABOVE:
        wanted = set(pks)
        counts = {pk: found for pk, found in counts.items() if pk in wanted}
    return counts


# ---------------------------------------------------------------------------------------
# Training


def _history_counts() -> tuple[int, int]:
    """(closed leads, of which converted), one query."""
    counts = _closed_leads().aggregate(
        leads=Count("pk"), converted=Count("pk", filter=Q(is_converted=True))
    )
    return counts["leads"], counts["converted"]


def _vocabularies() -> dict[str, list[list[str]]]:
    """The common values of each categorical feature among the closed leads (a grouped
    query per feature), folded as they are matched, labelled by their commonest spelling."""
    vocabularies = {}
    for group, field, _name in CATEGORIES:
        counts: Counter[str] = Counter()
        spellings: dict[str, Counter[str]] = {}
        grouped = _closed_leads().order_by().values_list(field).annotate(count=Count("pk"))
        for value, count in grouped:
            key = fold(value or "")
            counts[key] += count
            spellings.setdefault(key, Counter())[(value or "").strip()] += count
        vocabularies[group] = _vocabulary(counts, spellings)
    return vocabularies


def _training_matrix(encoder: Encoder, total: int):
    """(columns, outcomes) of every closed lead, read in batches of BATCH_SIZE."""
    matrix = np.zeros((total, encoder.width))
    outcomes = np.zeros(total, dtype=np.int8)
    filled = 0
    last_pk = 0
    leads = _closed_leads().order_by("pk")
    while filled < total:
        batch = list(
            leads.filter(pk__gt=last_pk).values_list(*_LEAD_FIELDS, "is_converted")[:BATCH_SIZE]
        )
        if not batch:
            break
        batch = batch[: total - filled]  # leads closed since the count wait for next time
        pks = [row[0] for row in batch]
        events = _event_counts(pks, before_conversion=True)
        matrix[filled : filled + len(batch)] = encoder.encode([row[:-1] for row in batch], events)[
            0
        ]
        outcomes[filled : filled + len(batch)] = [row[-1] for row in batch]
        filled += len(batch)
        last_pk = pks[-1]
    return matrix[:filled], outcomes[:filled]


def _calibration_table(predicted: np.ndarray, observed: np.ndarray) -> list[dict[str, Any]]:
    """Held-out leads in ten groups of equal size by predicted likelihood: per group, its
    leads, their mean predicted likelihood and the share that converted (percent, 1 place)."""
    order = np.argsort(predicted, kind="stable")
    table = []
    for decile, indexes in enumerate(np.array_split(order, DECILES), start=1):
        if len(indexes) == 0:
            continue
        table.append(
            {
                "decile": decile,
                "leads": len(indexes),
                "predicted": round(float(predicted[indexes].mean()) * 100, 1),
                "observed": round(float(observed[indexes].mean()) * 100, 1),
            }
        )
    return table


def _fit(matrix: np.ndarray, outcomes: np.ndarray) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fit, calibrate and measure; returns (the definition's numbers, the figures)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    indexes = np.arange(len(outcomes))
    rest, held_out = train_test_split(
        indexes, test_size=HELD_OUT_SHARE, stratify=outcomes, random_state=SEED
    )
    training, calibration = train_test_split(
        rest,
        test_size=CALIBRATION_SHARE / (1 - HELD_OUT_SHARE),
        stratify=outcomes[rest],
        random_state=SEED,
    )
    mean = matrix[training].mean(axis=0)
    scale = matrix[training].std(axis=0)
    # A constant column (every training lead has one page view, say) teaches nothing: its
    # standard deviation is 0 or rounding noise, which would blow up any other value.
    constant = scale <= CONSTANT_SPREAD * np.maximum(1.0, np.abs(mean))
    scale[constant] = 1.0

    def standardised(rows: np.ndarray) -> np.ndarray:
        return (matrix[rows] - mean) / scale

    model = LogisticRegression(C=REGULARISATION_C, max_iter=2000)
    model.fit(standardised(training), outcomes[training])
    weights, intercept = model.coef_[0].copy(), float(model.intercept_[0])
    weights[constant] = 0.0

    def log_odds(rows: np.ndarray) -> np.ndarray:
        return standardised(rows) @ weights + intercept

    # Platt scaling: a one-variable logistic regression of the outcome on the log-odds,
    # on leads the model did not fit; practically unregularised.
    platt = LogisticRegression(C=1e6, max_iter=2000)
    platt.fit(log_odds(calibration).reshape(-1, 1), outcomes[calibration])
    slope, shift = float(platt.coef_[0][0]), float(platt.intercept_[0])

    predicted = _sigmoid(slope * log_odds(held_out) + shift)
    observed = outcomes[held_out].astype(np.float64)
    numbers = {
        "mean": [float(value) for value in mean],
        "scale": [float(value) for value in scale],
        "coefficients": [float(value) for value in weights],
        "intercept": intercept,
        "calibration": {"method": "platt", "slope": slope, "intercept": shift},
    }
    figures = {
        "auc": round(float(roc_auc_score(observed, predicted)), 4),
        "calibration": _calibration_table(predicted, observed),
        "rows": {
            "leads": len(outcomes),
            "converted": int(outcomes.sum()),
            "training": len(training),
            "calibration": len(calibration),
            "held_out": len(held_out),
            "held_out_converted": int(outcomes[held_out].sum()),
        },
    }
    return numbers, figures


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(values, -500, 500)))


def _not_enough(leads: int, converted: int, minimum_leads: int, minimum_converted: int) -> str:
    return (
        f"Predictive scoring needs a history of at least {minimum_leads:,} closed leads, "
        f"{minimum_converted:,} of them converted and {FLOOR_PER_OUTCOME} not; there are "
        f"{leads:,} closed leads, {converted:,} of them converted. The model is not trained."
    )


def predictive_model_train(
    *,
    actor: Any | None = None,
    now: datetime.datetime | None = None,
    minimum_leads: int = MINIMUM_LEADS,
    minimum_converted: int = MINIMUM_CONVERTED,
) -> PredictiveModel:
    """Train the conversion model on the closed leads and make it the active one.

    Keeps the earlier models (retired) as the history of trainings; audits the training
    (object PredictiveModel, actor None: the system). Refuses with PRECONDITION_FAILED,
    storing nothing, below `minimum_leads` closed leads or `minimum_converted` converted
    ones (DOMAIN.md section 7: "roughly 1,000 leads, 120 converted"), or with fewer than
    FLOOR_PER_OUTCOME of either outcome. Reads the leads in batches of BATCH_SIZE; does
    not recompute likelihoods (lead_likelihoods_recompute does).
    """
    now = now or timezone.now()
    leads, converted = _history_counts()
    if (
        leads < minimum_leads
        or converted < max(minimum_converted, FLOOR_PER_OUTCOME)
        or leads - converted < FLOOR_PER_OUTCOME
    ):
        raise DomainError(
            ErrorCode.PRECONDITION_FAILED,
            _not_enough(leads, converted, minimum_leads, minimum_converted),
        )
    definition: dict[str, Any] = {
        "version": DEFINITION_VERSION,
        "columns": _columns(_vocabularies()),
        "bins": {
            "number_of_employees": list(EMPLOYEE_EDGES),
            "annual_revenue": list(REVENUE_EDGES),
        },
        "title_levels": [[key, label, list(markers)] for key, label, markers in TITLE_LEVELS],
    }
    encoder = Encoder(definition)
    matrix, outcomes = _training_matrix(encoder, leads)
    numbers, figures = _fit(matrix, outcomes)
    definition.update(numbers)
    with transaction.atomic():
        PredictiveModel.objects.filter(is_active=True).update(is_active=False, updated_at=now)
        model = PredictiveModel.objects.create(
            definition=definition,
            figures=figures,
            trained_at=now,
            trained_by=actor if getattr(actor, "pk", None) else None,
            is_active=True,
        )
        configuration_changed()  # model_trained() answers True from now on
        record_audit(
            actor,
            model,
            AuditAction.CREATE,
            {
                "auc": [None, figures["auc"]],
                "leads": [None, figures["rows"]["leads"]],
                "converted": [None, figures["rows"]["converted"]],
            },
        )
    return model


# ---------------------------------------------------------------------------------------
# Prediction


@dataclasses.dataclass
class _Loaded:
    """A model ready to predict: its encoder and numpy arrays."""

    model: PredictiveModel
    encoder: Encoder
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    intercept: float
    slope: float
    shift: float
    _texts: dict[tuple[int, int], str] = dataclasses.field(default_factory=dict)
    _documents: dict[tuple[int, ...], str] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, model: PredictiveModel) -> _Loaded:
        definition = model.definition
        calibration = definition["calibration"]
        return cls(
            model,
            Encoder(definition),
            np.array(definition["mean"]),
            np.array(definition["scale"]),
            np.array(definition["coefficients"]),
            float(definition["intercept"]),
            float(calibration["slope"]),
            float(calibration["intercept"]),
        )

    def predict(self, rows: Sequence[Sequence[Any]], events: dict[int, dict[str, int]]):
        """(likelihoods 1-99, contributions per feature group in calibrated log-odds, the
        codes of each lead's features for their words: see Encoder.encode)."""
        matrix, codes = self.encoder.encode(rows, events)
        standardised = (matrix - self.mean) / self.scale
        log_odds = standardised @ self.weights + self.intercept
        probability = _sigmoid(self.slope * log_odds + self.shift)
        likelihoods = np.clip(np.rint(probability * 100), 1, 99).astype(np.int64)
        contributions = (standardised * (self.slope * self.weights)) @ self.encoder.group_matrix
        return likelihoods, contributions, codes

    def factors_json(self, contributions: np.ndarray, codes: np.ndarray) -> list[str]:
        """Per lead, its factors as JSON text: {"positive": [{"text", "weight"}],
        "negative": [...]}, the strongest three of each, strongest first, each at least
        SMALLEST_FACTOR. Built as text from remembered pieces: a million leads share a
        few hundred feature values."""
        order = np.argsort(contributions, axis=1, kind="stable")
        chosen = np.concatenate(
            (order[:, : -FACTORS_SHOWN - 1 : -1], order[:, :FACTORS_SHOWN]), axis=1
        )
        chosen_codes = np.take_along_axis(codes, chosen, axis=1)
        # A contribution depends only on its feature's code (the lead's value), so the
        # chosen features and their codes decide the whole document: build each distinct
        # one once per batch, and remember it for the next ones (leads share them).
        keys, first, inverse = np.unique(
            np.concatenate((chosen, chosen_codes), axis=1),
            axis=0,
            return_index=True,
            return_inverse=True,
        )
        weights = (
            np.round(np.take_along_axis(contributions[first], chosen[first], axis=1), 2) + 0.0
        ).tolist()
        built = []
        for key, row_weights in zip(keys.tolist(), weights, strict=True):
            cache_key = tuple(key)
            document = self._documents.get(cache_key)
            if document is None:
                document = self._document(key, row_weights)
                if len(self._documents) < DOCUMENTS_REMEMBERED:
                    self._documents[cache_key] = document
            built.append(document)
        return [built[index] for index in inverse.reshape(-1).tolist()]

    def _document(self, key: list[int], weights: list[float]) -> str:
        groups, codes = key[: 2 * FACTORS_SHOWN], key[2 * FACTORS_SHOWN :]
        prefix = self._item_prefix
        positive = ", ".join(
            f"{prefix(groups[index], codes[index])}{weights[index]!r}}}"
            for index in range(FACTORS_SHOWN)
            if weights[index] >= SMALLEST_FACTOR
        )
        negative = ", ".join(
            f"{prefix(groups[index], codes[index])}{weights[index]!r}}}"
            for index in range(FACTORS_SHOWN, 2 * FACTORS_SHOWN)
            if weights[index] <= -SMALLEST_FACTOR
        )
        return f'{{"positive": [{positive}], "negative": [{negative}]}}'

    def _item_prefix(self, group_index: int, code: int) -> str:
        key = (group_index, code)
        prefix = self._texts.get(key)
        if prefix is None:
            text = json.dumps(self.encoder.text(group_index, code))
            prefix = self._texts[key] = f'{{"text": {text}, "weight": '
        return prefix

    def factors(self, row: Sequence[Any], events: dict[str, int]) -> dict[str, Any]:
        """One lead's factors as a dict (see factors_json)."""
        _likelihoods, contributions, codes = self.predict([row], {row[0]: events})
        return json.loads(self.factors_json(contributions, codes)[0])


def active_model() -> PredictiveModel | None:
    """The model that predicts now (one query), or None before the first training."""
    return PredictiveModel.objects.filter(is_active=True).first()


# The lead fields the model reads: a change of one moves the lead's likelihood (with its
# events, which automation.scoring.lead_event_record refreshes).
PREDICTIVE_FIELDS = frozenset(_LEAD_FIELDS) - {"pk"}


def _model_exists() -> bool:
    return PredictiveModel.objects.filter(is_active=True).exists()


# Asked by every lead update that changes a field the model reads; read again only when
# the configuration version changes (a training replaces it).
_model_cache: ConfigurationCache[bool] = ConfigurationCache(_model_exists)


def model_trained() -> bool:
    """Whether a model is active, so that a lead's change is worth a new prediction (no
    query once cached: predictive_model_train replaces the configuration version)."""
    return _model_cache.get()


def lead_likelihoods_recompute(
    *, lead_ids: Iterable[int] | None = None, now: datetime.datetime | None = None
) -> int:
    """Predict the likelihood and factors of every open lead (or those of `lead_ids`,
    primary keys) with the active model; returns how many were written, 0 without a model.

    Set-based: one query reads the model, then per batch of BATCH_SIZE leads one reads
    the leads, one their event counts (grouped by type), and one INSERT .. ON CONFLICT
    DO UPDATE writes their LeadLikelihood rows (_upsert_likelihoods). Open: neither
    converted nor in a closed status; others keep their last likelihood. Safe to run again.
    """
    model = active_model()
    if model is None:
        return 0
    loaded = _Loaded.of(model)
    now = now or timezone.now()
    moment = connection.ops.adapt_datetimefield_value(now)
    leads = _open_leads().order_by("pk")
    if lead_ids is not None:
        leads = leads.filter(pk__in=list(lead_ids))
    written = 0
    last_pk = 0
    while True:
        batch = list(leads.filter(pk__gt=last_pk).values_list(*_LEAD_FIELDS)[:BATCH_SIZE])
        if not batch:
            break
        pks = [row[0] for row in batch]
        events = _event_counts(pks, before_conversion=False)
        likelihoods, contributions, codes = loaded.predict(batch, events)
        documents = loaded.factors_json(contributions, codes)
        _upsert_likelihoods(model.pk, moment, pks, likelihoods.tolist(), documents)
        written += len(batch)
        last_pk = pks[-1]
        if len(batch) < BATCH_SIZE:
            break
    return written


def _upsert_likelihoods(
    model_id: int, moment: Any, pks: list[int], likelihoods: list[int], documents: list[str]
) -> None:
    """Insert or replace the LeadLikelihood rows of these leads (factors as JSON text,
    `moment` as the database takes it) in one statement: on PostgreSQL an INSERT ..
    SELECT from one JSON array of the rows, on SQLite an executemany (a loop in C). The
    ORM's bulk_create spends more time building model instances and adapting values than
    the database spends writing. Names come from the model; values go as parameters."""
    meta = LeadLikelihood._meta
    quote = connection.ops.quote_name
    names = [str(meta.get_field(name).column) for name in _LIKELIHOOD_COLUMNS]  # type: ignore[union-attr]
    updates = ", ".join(f"{quote(name)} = excluded.{quote(name)}" for name in names[1:])
    insert = f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(name) for name in names)})"
    conflict = f"ON CONFLICT ({quote(names[0])}) DO UPDATE SET {updates}"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One JSON text of [[lead, likelihood, factors], ...]: adapting one string is
            # far cheaper than escaping thousands of array elements.
            rows = ",".join(
                f"[{pk},{likelihood},{document}]"
                for pk, likelihood, document in zip(pks, likelihoods, documents, strict=True)
            )
            cursor.execute(
                f"{insert} SELECT (given.row ->> 0)::bigint, %s, (given.row ->> 1)::integer, "
                f"given.row -> 2, %s FROM jsonb_array_elements(%s::jsonb) AS given (row) "
                f"{conflict}",
                [model_id, moment, f"[{rows}]"],
            )
        else:
            cursor.executemany(
                f"{insert} VALUES (%s, %s, %s, %s, %s) {conflict}",
                [
                    (pk, model_id, likelihood, document, moment)
                    for pk, likelihood, document in zip(pks, likelihoods, documents, strict=True)
                ],
            )


_LIKELIHOOD_COLUMNS = ("lead", "model", "likelihood", "factors", "computed_at")


def lead_likelihood(lead: Lead) -> LeadLikelihood | None:
    """A lead's latest likelihood with its model's training date (one query), or None
    before it is first predicted. The caller has read the lead through an access check."""
    return (
        LeadLikelihood.objects.filter(lead_id=lead.pk)
        .select_related("model")
        .defer("model__definition", "model__figures")
        .first()
    )


def likelihood_json(likelihood: LeadLikelihood | None) -> dict[str, Any] | None:
    """The API's shape: {"value", "factors": {"positive", "negative"}, "model_trained_at"}."""
    if likelihood is None:
        return None
    return {
        "value": likelihood.likelihood,
        "factors": {
            "positive": list(likelihood.factors.get("positive", [])),
            "negative": list(likelihood.factors.get("negative", [])),
        },
        "model_trained_at": likelihood.model.trained_at,
        "computed_at": likelihood.computed_at,
    }


def model_figures_json(model: PredictiveModel | None) -> dict[str, Any] | None:
    """The active model's figures for people: AUC, calibration table, rows, training date."""
    if model is None:
        return None
    return {
        "trained_at": model.trained_at,
        "auc": model.figures["auc"],
        "calibration": model.figures["calibration"],
        "rows": model.figures["rows"],
    }


def _require_model_reader(actor: Any) -> None:
    """Admins and managers read the model's figures; INSUFFICIENT_ACCESS_OR_READONLY else."""
    if not (
        actor is None or actor.is_superuser or getattr(actor, "role", None) in ("admin", "manager")
    ):
        raise DomainError(
            ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY,
            "only admins and managers read the predictive model's figures",
        )


def model_figures(*, actor: Any) -> dict[str, Any] | None:
    """The active model's figures (admins and managers; INSUFFICIENT_ACCESS_OR_READONLY
    for a rep), None before the first training. One query."""
    _require_model_reader(actor)
    return model_figures_json(
        PredictiveModel.objects.filter(is_active=True).defer("definition").first()
    )


# ---------------------------------------------------------------------------------------
# The model's figures for people (Settings -> Scoring model)

# Coefficients shown per direction on the page.
COEFFICIENTS_SHOWN = 5


@dataclasses.dataclass(frozen=True)
class Coefficient:
    """One column of the model in words: `text` ("Lead source is Web", "1 demo request
    (against none)"), `weight` the calibrated log-odds it adds against a lead without it
    (for an event count: one event against none), `odds` its factor on the odds."""

    text: str
    weight: float
    odds: float


@dataclasses.dataclass(frozen=True)
class ModelReport:
    """What Settings -> Scoring model shows: the active model (None before the first
    training) with its figures and strongest coefficients, and the closed leads there
    are now against the minimum history a training needs."""

    model: PredictiveModel | None
    closed_leads: int
    converted: int
    minimum_leads: int
    minimum_converted: int
    positive: list[Coefficient]
    negative: list[Coefficient]

    @property
    def trainable(self) -> bool:
        """Whether `dealflow score train` would train with the default minimums."""
        return (
            self.closed_leads >= self.minimum_leads
            and self.converted >= max(self.minimum_converted, FLOOR_PER_OUTCOME)
            and self.closed_leads - self.converted >= FLOOR_PER_OUTCOME
        )


def _column_words(column: dict[str, Any]) -> str:
    """A column of a definition in words, as a lead that has it would read."""
    group, kind, label = column["group"], column["kind"], column["label"]
    names = {category: name for category, _field, name in CATEGORIES}
    if group in names:
        if kind == "blank":
            return f"No {names[group].lower()}"
        if kind == "other":
            return f"{names[group]} is a rarer value"
        return f"{names[group]} is {label}"
    if group == "title":
        if kind == "blank":
            return "No title"
        if kind == "other":
            return "Title has no seniority word"
        return f"Title is at {label} level"
    if group in ("employees", "revenue") and kind == "blank":
        return "Number of employees unknown" if group == "employees" else "Annual revenue unknown"
    if group == "phone":
        return "Has a phone number"
    if group == "email":
        return "Has an email address"
    if group.startswith("events."):
        singular, _plural = EVENT_WORDS[group.removeprefix("events.")]
        return f"1 {singular} (against none)"
    return str(label)


def model_coefficients(
    definition: dict[str, Any], shown: int = COEFFICIENTS_SHOWN
) -> tuple[list[Coefficient], list[Coefficient]]:
    """The `shown` strongest positive and negative columns of a stored model, strongest
    first, each as the calibrated log-odds it adds against a lead without it: slope *
    coefficient / scale (the coefficients are per standard deviation), times log(2) for
    an event count (one event against none is log(1 + 1) - log(1 + 0)). A column whose
    weight rounds to 0.00 is left out."""
    slope = float(definition["calibration"]["slope"])
    found = []
    for column, weight, scale in zip(
        definition["columns"], definition["coefficients"], definition["scale"], strict=True
    ):
        effect = slope * weight / scale
        if column["kind"] == "count":
            effect *= math.log(2)
        rounded = round(effect, 2) + 0.0
        if rounded:
            found.append(Coefficient(_column_words(column), rounded, round(math.exp(effect), 2)))
    found.sort(key=lambda coefficient: -abs(coefficient.weight))
    positive = [coefficient for coefficient in found if coefficient.weight > 0][:shown]
    negative = [coefficient for coefficient in found if coefficient.weight < 0][:shown]
    return positive, negative


def model_report(*, actor: Any) -> ModelReport:
    """The active model with its strongest coefficients and the history there is now
    (admins and managers; INSUFFICIENT_ACCESS_OR_READONLY for a rep, as model_figures).
    Two queries: the model, and the closed leads counted."""
    _require_model_reader(actor)
    model = active_model()
    leads, converted = _history_counts()
    positive: list[Coefficient] = []
    negative: list[Coefficient] = []
    if model is not None:
        positive, negative = model_coefficients(model.definition)
    return ModelReport(
        model, leads, converted, MINIMUM_LEADS, MINIMUM_CONVERTED, positive, negative
    )
