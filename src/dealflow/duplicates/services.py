"""Writes of duplicate control: blocking keys, the duplicate check on create, the rules,
and the review queue's decisions (docs/duplicates.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from dealflow.core.access import require_admin
from dealflow.core.audit import record_audit
from dealflow.core.cache import configuration_changed
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import AuditAction
from dealflow.duplicates.keys import (
    Profile,
    blocking_keys,
    keys_of_records,
    profile_of_record,
    source_fields,
)
from dealflow.duplicates.models import (
    DuplicateGroup,
    DuplicateGroupStatus,
    DuplicateKey,
    DuplicateRuleSetting,
)
from dealflow.duplicates.rules import checked_rules
from dealflow.duplicates.selectors import (
    MODELS,
    Match,
    duplicate_group_get,
    duplicates_find,
    matching_rules,
)

# Records read and keys written per statement when keys are refreshed in bulk.
REFRESH_BATCH = 2000


class DuplicatesDetected(DomainError):
    """DUPLICATES_DETECTED: the record matches others; `matches` says which (as far as
    the actor may see them). The API answers 409 with the matches."""

    def __init__(self, object_name: str, matches: list[Match]) -> None:
        shown = [match.name for match in matches if match.name][:3]
        named = f": {', '.join(shown)}" if shown else ""
        count = len(matches)
        super().__init__(
            ErrorCode.DUPLICATES_DETECTED,
            f"This {object_name.lower()} looks like {count} existing "
            f"record{'s' if count != 1 else ''}{named}. Save anyway to create it.",
        )
        self.object_name = object_name
        self.matches = matches

    def as_dict(self) -> dict[str, object]:
        return {**super().as_dict(), "matches": [match.as_dict() for match in self.matches]}


def duplicates_check(
    *,
    object_name: str,
    record: models.Model,
    actor: Any,
    allow_duplicates: bool = False,
    exclude_id: int | None = None,
) -> Profile:
    """Refuse a new record that matches existing ones unless `allow_duplicates`.

    Raises DuplicatesDetected with the matches. A lead whose email an unconverted lead
    already has is left to the unique email rule (DUPLICATE_VALUE, which saving anyway
    could not get past). Returns the record's profile for `duplicate_keys_write`.
    """
    profile = profile_of_record(object_name, record)
    if allow_duplicates:
        return profile
    matches = duplicates_find(
        object_name=object_name, values=record, actor=actor, exclude_id=exclude_id, profile=profile
    )
    if matches and not (object_name == "Lead" and any(match.same_email for match in matches)):
        raise DuplicatesDetected(object_name, matches)
    return profile


def duplicate_keys_write(
    *, object_name: str, record: models.Model, profile: Profile | None = None, created: bool
) -> None:
    """File a record under its blocking keys, replacing its old ones unless `created`.

    Call inside the transaction that saved the record: one INSERT on create, a DELETE
    and an INSERT on change.
    """
    if not created:
        DuplicateKey.objects.filter(object_type=object_name, record_id=record.pk).delete()
    if object_name == "Lead" and getattr(record, "is_converted", False):
        return  # a converted lead is never offered as a duplicate
    profile = profile or profile_of_record(object_name, record)
    DuplicateKey.objects.bulk_create(
        [
            DuplicateKey(object_type=object_name, record_id=record.pk, kind=kind, value=value)
            for kind, value in sorted(blocking_keys(object_name, profile))
        ]
    )


def duplicate_keys_changed(object_name: str, changed_fields: Iterable[str]) -> bool:
    """Whether a change of these fields changes the record's keys."""
    sources = set(source_fields(object_name)) | {"account", "is_converted"}
    return bool(sources & set(changed_fields))


def duplicate_keys_delete(*, object_name: str, record_ids: Iterable[int]) -> None:
    """Forget the keys of records (deleted, or converted leads)."""
    DuplicateKey.objects.filter(object_type=object_name, record_id__in=list(record_ids)).delete()


def duplicate_keys_refresh(*, object_name: str, record_ids: Iterable[int] | None = None) -> int:
    """Recompute the keys of records by primary key (all of the object's when None),
    set-based: per batch of REFRESH_BATCH, one read, one DELETE and one INSERT. For
    imports and for keys gone stale. Returns the number of keys written."""
    model = MODELS[object_name]
    queryset = model._default_manager.order_by("pk")
    if object_name == "Contact":
        queryset = queryset.select_related("account")
    fields = [name for name in source_fields(object_name) if name != "account_name"]
    if object_name == "Contact":
        fields.append("account__name")
    if object_name == "Lead":
        fields.append("is_converted")
    queryset = queryset.only("id", *fields)
    written = 0
    if record_ids is None:
        with transaction.atomic():
            DuplicateKey.objects.filter(object_type=object_name).delete()
        last = 0
        while True:
            batch = list(queryset.filter(pk__gt=last)[:REFRESH_BATCH])
            if not batch:
                return written
            written += _file(object_name, batch)
            last = batch[-1].pk
    wanted = sorted(set(record_ids))
    for start in range(0, len(wanted), REFRESH_BATCH):
        chunk = wanted[start : start + REFRESH_BATCH]
        with transaction.atomic():
            DuplicateKey.objects.filter(object_type=object_name, record_id__in=chunk).delete()
            written += _file(object_name, list(queryset.filter(pk__in=chunk)))
    return written


def _file(object_name: str, records: list[Any]) -> int:
    if object_name == "Lead":
        records = [record for record in records if not record.is_converted]
    rows = [
        DuplicateKey(object_type=object_name, record_id=record_id, kind=kind, value=value)
        for record_id, kind, value in keys_of_records(object_name, records)
    ]
    DuplicateKey.objects.bulk_create(rows, batch_size=REFRESH_BATCH)
    return len(rows)


# ---------------------------------------------------------------------------------------
# Rules and the review queue


def duplicate_rules_set(*, actor: Any, rules: Any) -> dict[str, dict[str, Any]]:
    """Replace the matching rules (admins only); objects not named get their defaults.

    INVALID_FIELD naming the bad key (`Lead.rules[0].conditions[1].threshold`); the
    change is audited and shows on the next request of every process.
    """
    require_admin(actor, "duplicate rules")
    checked = checked_rules(rules)
    with transaction.atomic():
        row = DuplicateRuleSetting.objects.select_for_update().order_by("id").first()
        before = row.rules if row is not None else matching_rules()
        if row is None:
            row = DuplicateRuleSetting(
                rules=checked, changed_by=actor if getattr(actor, "pk", None) else None
            )
        else:
            row.rules = checked
            row.changed_by = actor if getattr(actor, "pk", None) else None
        row.save()
        record_audit(
            actor, row, AuditAction.UPDATE, {"rules": [before, checked]}, "DuplicateRuleSetting"
        )
        configuration_changed()
    return checked


def duplicate_group_dismiss(*, actor: Any, group_id: int) -> DuplicateGroup:
    """Mark an open group as not duplicates; a rerun of the scan leaves it dismissed.

    Admins and managers; INVALID_STATUS for a group that is not open.
    """
    return _group_status_move(
        actor,
        group_id,
        DuplicateGroupStatus.OPEN,
        DuplicateGroupStatus.DISMISSED,
        lambda group: f"status: duplicate group {group.pk} is {group.status}, not open",
    )


def duplicate_group_restore(*, actor: Any, group_id: int) -> DuplicateGroup:
    """Reopen a dismissed group (a dismissal made by mistake): back in the open queue.

    Admins and managers (INSUFFICIENT_ACCESS_OR_READONLY for others; NOT_FOUND for no such
    group);
    INVALID_STATUS, changing nothing, for a group that is not dismissed (an open one, or a
    merged one: undo its merge instead). Audited as an update of `status`.
    """
    return _group_status_move(
        actor,
        group_id,
        DuplicateGroupStatus.DISMISSED,
        DuplicateGroupStatus.OPEN,
        lambda group: (
            f"This group is {group.get_status_display().lower()}, not dismissed: "
            "only a dismissed group can be restored."
        ),
    )


def _group_status_move(
    actor: Any,
    group_id: int,
    expected: str,
    new: str,
    refusal: Callable[[DuplicateGroup], str],
) -> DuplicateGroup:
    """Move a group from `expected` to `new` under a row lock, audited as an update of
    `status`; INVALID_STATUS with `refusal(group)`, changing nothing, from any other
    status. Dismissing records who and when; reopening clears them."""
    group = duplicate_group_get(actor=actor, group_id=group_id)
    with transaction.atomic():
        group = DuplicateGroup.objects.select_for_update().get(pk=group.pk)
        if group.status != expected:
            raise DomainError(ErrorCode.INVALID_STATUS, refusal(group), ["status"])
        resolved = new == DuplicateGroupStatus.DISMISSED
        group.status = new
        group.resolved_by = actor if resolved and getattr(actor, "pk", None) else None
        group.resolved_at = timezone.now() if resolved else None
        group.save(update_fields=["status", "resolved_by", "resolved_at", "updated_at"])
        record_audit(
            actor,
            group,
            AuditAction.UPDATE,
            {"status": [str(expected), str(new)]},
            "DuplicateGroup",
        )
    return group


def duplicate_keys_rewrite(
    *, removed: Iterable[tuple[str, int]], filed: Iterable[tuple[str, models.Model]]
) -> None:
    """Forget the keys of `removed` (object name, id) and file `filed` (object name,
    record) anew: one DELETE and one INSERT, inside the caller's transaction (lead
    conversion: the lead leaves the matching, its account and contact join it)."""
    condition = Q()
    for object_name, record_id in removed:
        condition |= Q(object_type=object_name, record_id=record_id)
    if condition:
        DuplicateKey.objects.filter(condition).delete()
    DuplicateKey.objects.bulk_create(
        [
            DuplicateKey(object_type=object_name, record_id=record.pk, kind=kind, value=value)
            for object_name, record in filed
            for kind, value in sorted(
                blocking_keys(object_name, profile_of_record(object_name, record))
            )
        ]
    )
