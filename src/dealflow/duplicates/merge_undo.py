"""Undo of a merge (docs/duplicates.md, "Merge and undo"): the merged records come back
from the Merge's snapshot with their ids, values, parents and timestamps, their related
records return to them, and the master gets back the values the merge set.

The snapshot is written by `duplicates.merge` in the exact form the database held, so
restoring is inserting those rows again (`_insert`) and setting the master's chosen
fields back; what changed since the merge decides whether undo may run (`merge_undo`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from dealflow.core import ids
from dealflow.core.access import can_edit
from dealflow.core.audit import audit_event
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import AuditAction
from dealflow.duplicates.merge import _attname, _decoded, _model, merge_get, model_rows
from dealflow.duplicates.models import DuplicateKey, Merge, MergeStatus
from dealflow.duplicates.selectors import MODELS
from dealflow.duplicates.services import duplicate_keys_refresh


def _conflict(message: str, fields: Sequence[str] = ("id",)) -> DomainError:
    return DomainError(ErrorCode.INVALID_STATUS, message, list(fields))


def merge_undo(*, actor: Any, merge_id: int) -> Merge:
    """Undo a merge (primary key): the merged records come back with their ids, values
    and timestamps, their related records return to them, the master gets back its
    former values, keys and review-queue rows are restored; one transaction.

    Refused, changing nothing: NOT_FOUND (a merge the actor may not see),
    INSUFFICIENT_ACCESS_OR_READONLY (the master is not theirs to change), INVALID_STATUS
    (already undone; the master deleted or merged again since: undo the later merge
    first; a field the merge set on the master changed again since, named in `fields`),
    DUPLICATE_VALUE (a restored record's unique value, such as a lead's email, was taken
    meanwhile). The master's later edits to other fields (a scoring run's Rating, a new
    title) are kept: only the fields the merge set get their former values back.
    """
    with transaction.atomic():
        merge = merge_get(actor=actor, merge_id=merge_id)
        merge = Merge.objects.select_for_update().get(pk=merge.pk)
        if merge.status != MergeStatus.MERGED:
            raise _conflict(f"merge {merge.pk} was already undone")
        object_name = merge.object_type
        model = MODELS[object_name]
        master_public = ids.encode(object_name, merge.master_record_id)
        master = model._default_manager.select_for_update().filter(pk=merge.master_record_id)
        master_record = master.first()
        later = Merge.objects.filter(
            object_type=object_name, status=MergeStatus.MERGED, pk__gt=merge.pk
        ).order_by("pk")
        for other in later:
            if merge.master_record_id in (other.master_record_id, *other.merged_record_ids):
                raise _conflict(
                    f"{object_name} {master_public} was merged again since (merge {other.pk}): "
                    "undo that merge first"
                )
        if master_record is None:
            raise _conflict(f"the master {object_name} {master_public} was deleted since the merge")
        if not can_edit(actor, master_record):
            raise DomainError(
                ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY,
                f"you may not change {object_name} {master_public}",
                [],
            )
        snapshot = merge.snapshot
        master_now = model_rows(model, pk=merge.master_record_id)[0]
        edited = _edited_since(model, snapshot, master_now)
        if edited:
            raise _conflict(
                f"{object_name} {master_public} was changed since the merge "
                f"({', '.join(edited)}); undoing it would lose those changes",
                edited,
            )
        # Other fields edited since (a scoring run's Rating, a new title) keep their value.
        edited_elsewhere = master_now != snapshot["master_after"]
        try:
            with transaction.atomic():
                _restore(merge, model, snapshot, whole_master=not edited_elsewhere)
        except IntegrityError as error:
            raise DomainError(
                ErrorCode.DUPLICATE_VALUE,
                f"a restored record would conflict with the data as it is now: {error}",
                [],
            ) from error
        merge.status = MergeStatus.UNDONE
        merge.undone_by = actor if getattr(actor, "pk", None) else None
        merge.undone_at = timezone.now()
        merge.save(update_fields=["status", "undone_by", "undone_at", "updated_at"])
        master_record.refresh_from_db()
        changes = {
            name: [old, new] for name, (new, old) in _chosen_changes(model, snapshot).items()
        }
        events = [
            audit_event(
                actor,
                master_record,
                AuditAction.UPDATE,
                {**changes, "merge_undone": [merge.pk, None]},
            )
        ]
        for restored in model._default_manager.filter(pk__in=merge.merged_record_ids):
            events.append(
                audit_event(
                    actor,
                    restored,
                    AuditAction.CREATE,
                    {"restored_by_undo_of_merge": [None, merge.pk]},
                )
            )
        for event in events:
            event.save()
    return merge


def _chosen_changes(model: type[models.Model], snapshot: Mapping[str, Any]) -> dict[str, list[Any]]:
    """{field: [value before the merge, value after]} of the master's changed fields."""
    before, after = snapshot["master_before"], snapshot["master_after"]
    return {
        model_field.name: [before[model_field.attname], after[model_field.attname]]
        for model_field in model._meta.concrete_fields
        if before[model_field.attname] != after[model_field.attname]
        and model_field.name not in ("updated_at", "created_at")
        and not model_field.primary_key
    }


def _edited_since(
    model: type[models.Model], snapshot: Mapping[str, Any], master_now: Mapping[str, Any]
) -> list[str]:
    """The fields the merge set on the master that were changed again since: undoing
    would overwrite those later edits, so their presence refuses the undo."""
    after = snapshot["master_after"]
    return [
        name
        for name in _chosen_changes(model, snapshot)
        if master_now[_attname(model, name)] != after[_attname(model, name)]
    ]


def _restore(
    merge: Merge, model: type[models.Model], snapshot: Mapping[str, Any], *, whole_master: bool
) -> None:
    """Put back what the merge changed. With whole_master the master row is restored
    exactly as it was (timestamps too); otherwise only the fields the merge set get
    their former values, the master's later edits stay, and its keys are recomputed."""
    object_name = merge.object_type
    record_ids = [merge.master_record_id, *merge.merged_record_ids]
    touched: set[str] = set()
    # Rows the merge made (the master's new keys, queue members) and the master's keys now.
    for entry in snapshot["created"]:
        created_model = _model(entry["model"])
        created_model._default_manager.filter(pk__in=entry["ids"]).delete()
    DuplicateKey.objects.filter(object_type=object_name, record_id__in=record_ids).delete()
    # The master's former values, first: the restored records may take back a unique value.
    master_values = _decoded(model, snapshot["master_before"])
    master_values.pop(model._meta.pk.attname)
    if not whole_master:
        merged = {_attname(model, name) for name in _chosen_changes(model, snapshot)}
        master_values = {name: value for name, value in master_values.items() if name in merged}
        master_values["updated_at"] = timezone.now()
    model._default_manager.filter(pk=merge.master_record_id).update(**master_values)
    touched.add(model._meta.db_table)
    # Review-queue groups removed since come back before their members.
    for entry in snapshot["updated"]:
        updated_model = _model(entry["model"])
        row = _decoded(updated_model, entry["before"])
        pk = row.pop(updated_model._meta.pk.attname)
        if updated_model._default_manager.filter(pk=pk).exists():
            updated_model._default_manager.filter(pk=pk).update(**row)
        else:
            _insert(updated_model, [entry["before"]])
        touched.add(updated_model._meta.db_table)
    # Deleted rows: checked first, so a refusal names the record and the value.
    restored = []
    for entry in snapshot["deleted"]:
        deleted_model = _model(entry["model"])
        for row in entry["rows"]:
            instance = deleted_model(**_decoded(deleted_model, row))
            _check_restorable(object_name, instance, deleted_model is model)
            restored.append((deleted_model, row))
    for entry in snapshot["deleted"]:
        deleted_model = _model(entry["model"])
        _insert(deleted_model, entry["rows"])
        touched.add(deleted_model._meta.db_table)
    # Related rows back to their former parents, unless moved or deleted since.
    for entry in snapshot["moved"]:
        moved_model = _model(entry["model"])
        attname = entry["field"]
        by_former: dict[Any, list[Any]] = {}
        for pk, former in entry["rows"]:
            by_former.setdefault(former, []).append(pk)
        for former, pks in by_former.items():
            moved_model._default_manager.filter(pk__in=pks, **{attname: entry["to"]}).update(
                **{attname: former}
            )
        touched.add(moved_model._meta.db_table)
    if not whole_master:  # the snapshot's keys are of the master before its later edits
        duplicate_keys_refresh(object_name=object_name, record_ids=[merge.master_record_id])
    # Foreign keys are checked at commit; check them now, so a refusal is an error here.
    try:
        with transaction.atomic():
            connection.check_constraints(table_names=sorted(touched))
    except IntegrityError as error:
        raise _conflict(
            "a restored record refers to a record deleted since the merge, so the merge "
            f"cannot be undone ({error})"
        ) from error


def _check_restorable(object_name: str, instance: models.Model, is_record: bool) -> None:
    try:
        instance.validate_unique()
        instance.validate_constraints()
    except ValidationError as error:
        what = (
            f"{object_name} {ids.encode(object_name, instance.pk)}"
            if is_record
            else f"{type(instance).__name__} {instance.pk}"
        )
        messages = "; ".join(
            f"{name}: {' '.join(str(message) for message in errors)}"
            if name != "__all__"
            else " ".join(str(message) for message in errors)
            for name, errors in error.message_dict.items()
        )
        raise DomainError(
            ErrorCode.DUPLICATE_VALUE,
            f"{what} cannot be restored: {messages}",
            [name for name in error.message_dict if name != "__all__"],
        ) from error


def _insert(model: type[models.Model], rows: list[Mapping[str, Any]]) -> None:
    """Insert snapshot rows as they were: same primary keys, same values, same times
    (a save would set created_at/updated_at and the matching keys anew: the columns are
    written again as stored)."""
    if not rows:
        return
    values = [_decoded(model, row) for row in rows]
    model._default_manager.bulk_create([model(**row) for row in values])
    pk_name = model._meta.pk.attname
    for row in values:
        pk = row.pop(pk_name)
        if row:
            model._default_manager.filter(pk=pk).update(**row)
