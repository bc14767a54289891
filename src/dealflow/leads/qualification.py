"""Qualification gates (DOMAIN.md section 6): checklists stored with the lead, and the
organisation's rule that a lead must be qualified before it may be converted.

Frameworks (BANT, CHAMP, MEDDIC, seeded by migration 0007) are checklists of items; an
admin may rename, reorder, retire or add items (`qualification_item_set`). Per lead, each
item has met yes/no, a note, who set it and when (`lead_qualification_set`, audited on
the lead). The organisation's one QualificationSetting row names the framework
conversion requires (None: none) and how many of its active items must be met (None:
all); `qualification_gate` is what `lead_convert` asks before it writes anything, on
every channel. A manager or admin may override a gate with a reason, which is kept
(QualificationOverride) and audited on the lead.

Frameworks, items and the setting are configuration: read from a per-process cache
(core/cache.py), so a conversion when no framework is required costs no query.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from django.db import transaction
from django.utils import timezone

from dealflow.core import rows
from dealflow.core.access import is_admin, require_admin, require_edit
from dealflow.core.audit import audit_event, changes_since, snapshot
from dealflow.core.cache import ConfigurationCache, configuration_changed
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import AuditAction
from dealflow.core.validation import check_storable_text
from dealflow.leads.models import (
    Lead,
    LeadQualificationAnswer,
    QualificationFramework,
    QualificationItem,
    QualificationOverride,
    QualificationSetting,
)
from dealflow.people.models import User

NOTE_LENGTH = 2000  # characters of a note
REASON_LENGTH = 2000  # characters of an override reason
LABEL_LENGTH = 80
ITEM_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
OVERRIDE_ROLES = ("manager", "admin")

# ---------------------------------------------------------------------------------------
# Configuration (cached)


@dataclass(frozen=True)
class ItemDef:
    pk: int
    key: str
    label: str
    sort_order: int
    is_active: bool


@dataclass(frozen=True)
class FrameworkDef:
    pk: int
    name: str
    items: tuple[ItemDef, ...]

    @property
    def active_items(self) -> tuple[ItemDef, ...]:
        return tuple(item for item in self.items if item.is_active)

    def item(self, key: str) -> ItemDef | None:
        return next((item for item in self.items if item.key == key), None)

    def item_by_pk(self, pk: int) -> ItemDef | None:
        return next((item for item in self.items if item.pk == pk), None)


@dataclass(frozen=True)
class QualificationConfiguration:
    frameworks: tuple[FrameworkDef, ...]
    required_framework: str | None
    minimum_items: int | None

    def framework(self, name: str) -> FrameworkDef | None:
        return next((framework for framework in self.frameworks if framework.name == name), None)


def _load_configuration() -> QualificationConfiguration:
    """Frameworks with their items in order, and the setting (3 queries)."""
    items_by_framework: dict[int, list[ItemDef]] = {}
    for item in QualificationItem.objects.order_by("sort_order", "key"):
        items_by_framework.setdefault(item.framework_id, []).append(
            ItemDef(item.pk, item.key, item.label, item.sort_order, item.is_active)
        )
    frameworks = tuple(
        FrameworkDef(framework.pk, framework.name, tuple(items_by_framework.get(framework.pk, ())))
        for framework in QualificationFramework.objects.all()
    )
    setting = QualificationSetting.objects.order_by("pk").first()
    required = None
    if setting is not None and setting.required_framework_id:
        required = next(
            (item.name for item in frameworks if item.pk == setting.required_framework_id), None
        )
    return QualificationConfiguration(
        frameworks=frameworks,
        required_framework=required,
        minimum_items=setting.minimum_items if setting else None,
    )


qualification_configuration: ConfigurationCache[QualificationConfiguration] = ConfigurationCache(
    _load_configuration
)


def _framework_or_refuse(name: Any, field_name: str = "framework") -> FrameworkDef:
    configuration = qualification_configuration.get()
    found = configuration.framework(name) if isinstance(name, str) else None
    if found is None:
        allowed = ", ".join(framework.name for framework in configuration.frameworks)
        raise DomainError(
            ErrorCode.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST,
            f"{field_name}: expected one of {allowed or 'none configured'}, got {name!r}",
            [field_name],
        )
    return found


def required_count(framework: FrameworkDef, minimum_items: int | None) -> int:
    """How many of the framework's active items must be met: `minimum_items`, or all
    when it is None; never more than the framework has (an item retired later)."""
    active = len(framework.active_items)
    return active if minimum_items is None else min(minimum_items, active)


# ---------------------------------------------------------------------------------------
# A lead's checklist (read)


@dataclass(frozen=True)
class ItemState:
    """One checklist item of a lead: `set_by` and `set_at` are None until someone sets it."""

    key: str
    label: str
    met: bool
    note: str
    set_by: User | None
    set_at: Any


@dataclass(frozen=True)
class LeadQualification:
    """A lead's checklist of one framework, measured against the organisation's rule.

    `required` says whether this is the framework conversion requires; `needed` is how
    many items must be met (the organisation's minimum, else all active items);
    `satisfied` is met >= needed; `missing` the labels of the items not met while it is
    not. `override` is the QualificationOverride of a converted lead, if any.
    """

    framework: str
    frameworks: tuple[str, ...]
    items: tuple[ItemState, ...]
    required: bool
    required_framework: str | None
    minimum_items: int | None
    needed: int
    met: int
    satisfied: bool
    missing: tuple[str, ...]
    override: QualificationOverride | None = field(default=None)


def _answers(lead: Lead) -> dict[int, LeadQualificationAnswer]:
    """{item pk: answer} of all the lead's answers, of every framework (one query, with
    who set them): a lead has a few dozen at most."""
    answers = LeadQualificationAnswer.objects.filter(lead=lead).select_related("set_by")
    return {answer.item_id: answer for answer in answers}


def _measure(
    framework: FrameworkDef,
    configuration: QualificationConfiguration,
    answers: Mapping[int, LeadQualificationAnswer],
) -> LeadQualification:
    states = []
    for item in framework.active_items:
        answer = answers.get(item.pk)
        states.append(
            ItemState(
                key=item.key,
                label=item.label,
                met=bool(answer and answer.met),
                note=answer.note if answer else "",
                set_by=answer.set_by if answer else None,
                set_at=answer.set_at if answer else None,
            )
        )
    needed = required_count(framework, configuration.minimum_items)
    met = sum(state.met for state in states)
    satisfied = met >= needed
    return LeadQualification(
        framework=framework.name,
        frameworks=tuple(item.name for item in configuration.frameworks),
        items=tuple(states),
        required=configuration.required_framework == framework.name,
        required_framework=configuration.required_framework,
        minimum_items=configuration.minimum_items,
        needed=needed,
        met=met,
        satisfied=satisfied,
        missing=() if satisfied else tuple(state.label for state in states if not state.met),
    )


def _shown_framework(
    configuration: QualificationConfiguration, answers: Mapping[int, LeadQualificationAnswer]
) -> FrameworkDef | None:
    """The framework a lead's checklist shows by default: the required one, else the one
    last answered for this lead, else the first."""
    if configuration.required_framework:
        return configuration.framework(configuration.required_framework)
    latest = max(answers.values(), key=lambda answer: (answer.set_at, answer.pk), default=None)
    for framework in configuration.frameworks:
        if latest is not None and framework.item_by_pk(latest.item_id):
            return framework
    return configuration.frameworks[0] if configuration.frameworks else None


def lead_qualification_get(
    *, lead: Lead, framework: str | None = None, with_override: bool = True
) -> LeadQualification:
    """A lead's checklist of `framework` (default: the required framework, else the one
    last answered, else the first).

    `lead` must come from `lead_get(actor=..., lead_id=...)`, which applies the access
    rules (a lead the actor may not see is NOT_FOUND there). Refuses an unknown framework
    (INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST) and answers NOT_FOUND when none is
    configured. One query, and one more for the override of a converted lead.
    """
    configuration = qualification_configuration.get()
    answers = _answers(lead)
    if framework is not None:
        chosen: FrameworkDef | None = _framework_or_refuse(framework)
    else:
        chosen = _shown_framework(configuration, answers)
    if chosen is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no qualification framework is configured")
    result = _measure(chosen, configuration, answers)
    if with_override and lead.is_converted:
        override = QualificationOverride.objects.filter(lead=lead).select_related("overridden_by")
        result = replace(result, override=override.first())
    return result


# ---------------------------------------------------------------------------------------
# A lead's checklist (write)


def _clean_answer(key: str, value: Any) -> tuple[bool | None, str | None]:
    """(met, note) from {"met": bool, "note": str}; None for what is not given."""
    name = f"items.{key}"
    if not isinstance(value, Mapping):
        raise DomainError(
            ErrorCode.INVALID_TYPE, f'{name}: expected {{"met": true|false, "note": "..."}}', [name]
        )
    unknown = [part for part in value if part not in ("met", "note")]
    if unknown:
        raise DomainError(
            ErrorCode.INVALID_FIELD, f"{name}: unknown {', '.join(map(str, unknown))}", [name]
        )
    met = value.get("met")
    if met is not None and not isinstance(met, bool):
        raise DomainError(ErrorCode.INVALID_TYPE, f"{name}.met: expected true or false", [name])
    note = value.get("note")
    if note is not None:
        if not isinstance(note, str):
            raise DomainError(ErrorCode.INVALID_TYPE, f"{name}.note: expected text", [name])
        note = check_storable_text(name, note).strip()
        if len(note) > NOTE_LENGTH:
            raise DomainError(
                ErrorCode.STRING_TOO_LONG, f"{name}.note: at most {NOTE_LENGTH} characters", [name]
            )
    return met, note


def _cleaned_items(
    framework: FrameworkDef, items: Mapping[str, Any]
) -> list[tuple[ItemDef, bool | None, str | None]]:
    if not isinstance(items, Mapping):
        raise DomainError(
            ErrorCode.INVALID_TYPE, "items: expected an object by item key", ["items"]
        )
    cleaned = []
    for key, value in items.items():
        item = framework.item(key)
        if item is None or not item.is_active:
            allowed = ", ".join(each.key for each in framework.active_items)
            raise DomainError(
                ErrorCode.INVALID_FIELD,
                f"items: {key!r} is not an item of {framework.name} ({allowed})",
                ["items"],
            )
        cleaned.append((item, *_clean_answer(key, value)))
    return cleaned


def _change_name(framework: FrameworkDef, item: ItemDef, part: str) -> str:
    """The audit change's name (`change_label` says it in words)."""
    return f"qualification_{framework.name.lower()}_{item.key}_{part}"


# The other changes a qualification writes on a lead, in words.
CHANGE_LABELS = {
    "qualification_override_reason": "Qualification override reason",
    "qualification_framework": "Qualification framework",
    "qualification_missing": "Qualification items missing",
}
PART_LABELS = {"met": "met", "note": "note"}


def change_label(name: str) -> str | None:
    """A qualification change's name in words ("BANT budget: met"), or None for a name
    no qualification writes. Made from the name alone: no query per timeline line."""
    if name in CHANGE_LABELS:
        return CHANGE_LABELS[name]
    framework, _, rest = name.removeprefix("qualification_").partition("_")
    item, _, part = rest.rpartition("_")
    if not name.startswith("qualification_") or not item or part not in PART_LABELS:
        return None
    return f"{framework.upper()} {item.replace('_', ' ')}: {PART_LABELS[part]}"


def lead_qualification_set(
    *, actor: User, lead: Lead, framework: str, items: Mapping[str, Any]
) -> LeadQualification:
    """Set items of a lead's checklist: `items` is {key: {"met": bool, "note": str}}.

    Items not named, and parts not given, stay as they are; an item whose met or note
    changes records who set it and when, and one audit event (on the lead) lists every
    change. The lead row is locked; the actor must be allowed to change the lead
    (INSUFFICIENT_ACCESS_OR_READONLY) and it must not be converted
    (CANNOT_UPDATE_CONVERTED_LEAD). Unknown frameworks or items, wrong types and notes
    over NOTE_LENGTH characters are refused before anything is written.
    """
    chosen = _framework_or_refuse(framework)
    cleaned = _cleaned_items(chosen, items)
    now = timezone.now()
    with transaction.atomic():
        locked = rows.by_primary_key(Lead, lead.pk, for_update=True)
        if locked is None:
            raise DomainError(ErrorCode.NOT_FOUND, f"lead {lead.public_id} does not exist", ["id"])
        require_edit(actor, locked)
        if locked.is_converted:
            raise DomainError(
                ErrorCode.CANNOT_UPDATE_CONVERTED_LEAD,
                f"lead {locked.public_id} was converted and is read-only",
                ["id"],
            )
        answers = _answers(locked)
        changes: dict[str, list[Any]] = {}
        for item, met, note in cleaned:
            # A new answer starts not met and without a note: only a change is recorded.
            answer = answers.get(item.pk) or LeadQualificationAnswer(lead=locked, item_id=item.pk)
            before = snapshot(answer, ["met", "note"])
            if met is not None:
                answer.met = met
            if note is not None:
                answer.note = note
            changed = changes_since(before, answer)
            if not changed:
                continue
            answer.set_by = actor if getattr(actor, "pk", None) else None
            answer.set_at = now
            answer.save()
            for part, values in changed.items():
                changes[_change_name(chosen, item, part)] = values
        if changes:
            audit_event(actor, locked, AuditAction.UPDATE, changes).save()
    return lead_qualification_get(lead=locked, framework=chosen.name, with_override=False)


# ---------------------------------------------------------------------------------------
# The gate lead_convert asks


def _may_override(actor: Any) -> bool:
    return is_admin(actor) or getattr(actor, "role", None) in OVERRIDE_ROLES


def qualification_gate(
    *, actor: Any, lead: Lead, override_reason: str | None
) -> QualificationOverride | None:
    """What `lead_convert` asks before it writes anything (DOMAIN.md section 6).

    Nothing required, or the required framework satisfied: None (a reason given anyway
    is not kept). Otherwise, without a reason: QUALIFICATION_REQUIRED naming the missing
    items; with one from a rep: INSUFFICIENT_ACCESS_OR_READONLY (only managers and
    admins override); with one from a manager or admin: the override, unsaved, for
    `qualification_override_save` once the conversion is written. No query when no
    framework is required.
    """
    configuration = qualification_configuration.get()
    required = configuration.required_framework
    framework = configuration.framework(required) if required else None
    if framework is None:
        return None
    result = _measure(framework, configuration, _answers(lead))
    if result.satisfied:
        return None
    reason = check_storable_text("qualification_override_reason", override_reason or "").strip()
    if not reason:
        raise DomainError(
            ErrorCode.QUALIFICATION_REQUIRED,
            f"qualification: converting needs {result.needed} of {len(result.items)} "
            f"{framework.name} items met ({result.met} met); missing: "
            f"{', '.join(result.missing)}. A manager or admin may override with a reason.",
            ["qualification"],
        )
    if not _may_override(actor):
        raise DomainError(
            ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY,
            "qualification_override_reason: only managers and admins may override "
            f"the {framework.name} qualification",
            ["qualification_override_reason"],
        )
    if len(reason) > REASON_LENGTH:
        raise DomainError(
            ErrorCode.STRING_TOO_LONG,
            f"qualification_override_reason: at most {REASON_LENGTH} characters",
            ["qualification_override_reason"],
        )
    return QualificationOverride(
        lead=lead,
        framework=framework.name,
        missing=list(result.missing),
        reason=reason,
        overridden_by=actor if getattr(actor, "pk", None) else None,
        overridden_at=timezone.now(),
    )


def qualification_override_save(*, actor: Any, override: QualificationOverride) -> None:
    """Keep an override `qualification_gate` allowed, with its audit event on the lead
    (inside the conversion's transaction)."""
    override.save()
    changes = {
        "qualification_override_reason": [None, override.reason],
        "qualification_framework": [None, override.framework],
        "qualification_missing": [None, ", ".join(override.missing)],
    }
    audit_event(actor, override.lead, AuditAction.UPDATE, changes).save()


# ---------------------------------------------------------------------------------------
# Settings (admins)

UNSET: Any = object()


def _setting_row() -> QualificationSetting:
    """The organisation's setting row, locked (made when a flushed database has none)."""
    setting = QualificationSetting.objects.select_for_update().order_by("pk").first()
    return setting or QualificationSetting.objects.create()


def qualification_settings_set(
    *, actor: User, required_framework: Any = UNSET, minimum_items: Any = UNSET
) -> QualificationConfiguration:
    """Set the framework conversion requires (a name, or None for none) and how many of
    its active items must be met (a positive whole number, or None for all); admins only.

    Refuses an unknown framework, a minimum below 1 or above the required framework's
    active items. Audited; every process sees the change on its next request.
    """
    require_admin(actor, "the qualification settings")
    with transaction.atomic():
        setting = _setting_row()
        before = snapshot(setting, ["required_framework", "minimum_items"])
        if required_framework is not UNSET:
            setting.required_framework_id = (
                None
                if required_framework is None
                else _framework_or_refuse(required_framework, "required_framework").pk
            )
        if minimum_items is not UNSET:
            if minimum_items is not None and (
                isinstance(minimum_items, bool) or not isinstance(minimum_items, int)
            ):
                raise DomainError(
                    ErrorCode.INVALID_TYPE,
                    "minimum_items: expected a whole number or null (all items)",
                    ["minimum_items"],
                )
            setting.minimum_items = minimum_items
        _check_minimum(setting)
        changes = changes_since(before, setting)
        if changes:
            setting.save()
            changes = {
                name: [getattr(value, "name", value) for value in values]
                for name, values in changes.items()
            }
            audit_event(actor, setting, AuditAction.UPDATE, changes).save()
            configuration_changed()
    return qualification_configuration.get()


def _check_minimum(setting: QualificationSetting) -> None:
    minimum = setting.minimum_items
    if minimum is None:
        return
    framework = next(
        (
            item
            for item in qualification_configuration.get().frameworks
            if item.pk == setting.required_framework_id
        ),
        None,
    )
    most = len(framework.active_items) if framework else None
    if minimum < 1 or (most is not None and minimum > most):
        bounds = f"1 to {most}" if most is not None else "at least 1"
        raise DomainError(
            ErrorCode.NUMBER_OUTSIDE_VALID_RANGE,
            f"minimum_items: {bounds}, or null for all items",
            ["minimum_items"],
        )


def qualification_item_set(
    *,
    actor: User,
    framework: str,
    key: str,
    label: str | None = None,
    sort_order: int | None = None,
    is_active: bool | None = None,
) -> ItemDef:
    """Rename, reorder, retire or add (a new `key`, then `label` is required) an item of a
    framework; admins only. `key` is lowercase letters, digits and underscores (at most
    40, a letter first) and never changes once made: the API and the answers use it.
    Audited; every process sees the change on its next request.
    """
    require_admin(actor, "qualification checklists")
    chosen = _framework_or_refuse(framework)
    if not isinstance(key, str) or not ITEM_KEY.fullmatch(key):
        raise DomainError(
            ErrorCode.INVALID_FIELD,
            "key: lowercase letters, digits and underscores, a letter first, at most 40",
            ["key"],
        )
    if label is not None:
        label = check_storable_text("label", label).strip() if isinstance(label, str) else ""
        if not label or len(label) > LABEL_LENGTH:
            raise DomainError(
                ErrorCode.REQUIRED_FIELD_MISSING,
                f"label: 1 to {LABEL_LENGTH} characters",
                ["label"],
            )
    for name, value, kind in (("sort_order", sort_order, int), ("is_active", is_active, bool)):
        wrong_type = not isinstance(value, kind) or (kind is int and isinstance(value, bool))
        if value is not None and (wrong_type or (kind is int and value < 0)):
            raise DomainError(ErrorCode.INVALID_TYPE, f"{name}: expected a {kind.__name__}", [name])
    with transaction.atomic():
        item = (
            QualificationItem.objects.select_for_update()
            .filter(framework_id=chosen.pk, key=key)
            .first()
        )
        created = item is None
        if item is None:
            if label is None:
                raise DomainError(
                    ErrorCode.REQUIRED_FIELD_MISSING, "label: a new item needs a label", ["label"]
                )
            item = QualificationItem(
                framework_id=chosen.pk, key=key, sort_order=len(chosen.items) + 1
            )
        before = snapshot(item, QualificationItem.SETTINGS)
        for name, value in (("label", label), ("sort_order", sort_order), ("is_active", is_active)):
            if value is not None:
                setattr(item, name, value)
        changes = changes_since(before, item)
        if created or changes:
            item.save()
            if created:
                changes = {"key": [None, key], **changes}
            action = AuditAction.CREATE if created else AuditAction.UPDATE
            audit_event(actor, item, action, changes).save()
            configuration_changed()
    return ItemDef(item.pk, item.key, item.label, item.sort_order, item.is_active)
