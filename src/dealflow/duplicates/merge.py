"""Merge of up to three leads, contacts or accounts into one (docs/duplicates.md, "Merge
and undo"; Salesforce's merge: a master record keeps its id, takes the chosen field
values of the others, inherits their related records, and the others are deleted).

Related records are found from the model's reverse relations (`_meta`), so a relation
added later is re-parented without a change here: a foreign key is pointed at the
master; a one-to-one row moves only when the master has none; a row whose unique
constraint the master already fills (a qualification answer to the same item, a
contact role on the same opportunity) is removed. What deleting the merged records
would still remove or unlink is collected by Django's deletion collector and kept.
Every row the merge changes or removes is kept in the Merge's JSON `snapshot`, in the
exact form the database held (timestamps to the microsecond), so that
`duplicates.merge_undo` puts back every record and relation with the same ids, values,
parents and times.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db import models, transaction
from django.db.models import QuerySet
from django.db.models.deletion import Collector
from django.utils import timezone

from dealflow.core import ids
from dealflow.core.access import can_edit, can_read, is_admin
from dealflow.core.audit import audit_event, json_value
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.metadata import FieldDef, get_object
from dealflow.core.models import AuditAction
from dealflow.core.rows import MAX_PRIMARY_KEY
from dealflow.duplicates.models import (
    DuplicateGroup,
    DuplicateGroupMember,
    DuplicateGroupStatus,
    DuplicateKey,
    Merge,
    MergeStatus,
)
from dealflow.duplicates.selectors import MODELS, record_name
from dealflow.duplicates.services import duplicate_keys_write

# Salesforce merges at most three records at once (the master and two others).
MAX_RECORDS = 3
# Fields whose value is made of several columns: a lead's owner is a user or a queue.
COLUMNS = {("Lead", "owner"): ("owner_user", "owner_queue")}
# Rows computed from a lead, not entered: the merged leads' ones are removed (undo puts
# them back). The master keeps its own until the next scoring run rescores it from the
# events it now has; nothing is rescored at once, since a rescore changes the master's
# Rating, and undo refuses a master changed since the merge.
DERIVED = {
    ("automation.LeadScore", "lead"),
    ("automation.LeadLikelihood", "lead"),
    ("automation.LeadScoreHistory", "lead"),
}
# Rows that name a record by object and primary key rather than by a foreign key:
# (model label, object field, id field). They follow the record into the master.
ID_REFERENCES = (("dataio.ExternalId", "target", "record_id"),)


# ---------------------------------------------------------------------------------------
# Rows as JSON


def _encode(value: Any) -> Any:
    """A column value as JSON that `_decode` turns back into the same value."""
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()  # all six digits of the microseconds, and the offset
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    return value


def _decoded(model: type[models.Model], row: Mapping[str, Any]) -> dict[str, Any]:
    """A snapshot row's values by attname, as the model's fields take them."""
    values = {}
    for model_field in model._meta.concrete_fields:
        value = row[model_field.attname]
        if value is not None and not isinstance(model_field, models.JSONField):
            value = model_field.to_python(value)
        values[model_field.attname] = value
    return values


def model_rows(model: type[models.Model], queryset: QuerySet[Any] | None = None, **filters: Any):
    """Every concrete column of the matching rows, JSON-ready ({attname: value}), by
    primary key order. Used for the snapshot and by tests comparing rows exactly."""
    attnames = [model_field.attname for model_field in model._meta.concrete_fields]
    queryset = queryset if queryset is not None else model._default_manager.filter(**filters)
    return [
        {name: _encode(row[name]) for name in attnames}
        for row in queryset.order_by("pk").values(*attnames)
    ]


def _attname(model: type[models.Model], name: str) -> str:
    model_field: Any = model._meta.get_field(name)
    return str(model_field.attname)


def _label(model: type[models.Model]) -> str:
    return model._meta.label


def _model(label: str) -> type[models.Model]:
    return apps.get_model(label)


# ---------------------------------------------------------------------------------------
# What may be merged


def merge_fields(object_name: str) -> list[FieldDef]:
    """The fields whose value is chosen from one of the merged records: the object's
    updateable fields in the metadata registry (a lead's `owner` is a user or a queue)."""
    return [definition for definition in get_object(object_name).fields if definition.updateable]


def _field_columns(object_name: str, name: str) -> tuple[str, ...]:
    """The model fields (names) that hold a mergeable field's value."""
    return COLUMNS.get((object_name, name), (name,))


def _checked_object(object_name: Any) -> type[models.Model]:
    if object_name not in MODELS:
        raise DomainError(
            ErrorCode.INVALID_FIELD,
            f"object: expected one of {', '.join(MODELS)}, got {object_name!r}",
            ["object"],
        )
    return MODELS[object_name]


def _checked_ids(master_id: Any, loser_ids: Any) -> list[int]:
    """The merged records' primary keys (1 or 2, distinct, not the master)."""
    if not isinstance(master_id, int) or isinstance(master_id, bool) or master_id <= 0:
        raise DomainError(ErrorCode.INVALID_ID, "master_id: expected a record id", ["master_id"])
    if not isinstance(loser_ids, list | tuple) or not all(
        isinstance(record_id, int) and not isinstance(record_id, bool) and record_id > 0
        for record_id in loser_ids
    ):
        raise DomainError(
            ErrorCode.INVALID_ID, "merged_ids: expected a list of record ids", ["merged_ids"]
        )
    losers = list(dict.fromkeys(loser_ids))
    if len(losers) != len(loser_ids):
        raise DomainError(
            ErrorCode.INVALID_FIELD, "merged_ids: a record is named twice", ["merged_ids"]
        )
    if master_id in losers:
        raise DomainError(
            ErrorCode.INVALID_FIELD,
            "merged_ids: the master record cannot also be merged into itself",
            ["merged_ids"],
        )
    if not 1 <= len(losers) <= MAX_RECORDS - 1:
        raise DomainError(
            ErrorCode.INVALID_FIELD,
            f"merged_ids: merge 2 to {MAX_RECORDS} records, so name 1 to {MAX_RECORDS - 1} "
            f"besides the master (got {len(losers)})",
            ["merged_ids"],
        )
    return losers


def _checked_choices(
    object_name: str, field_choices: Any, record_ids: Sequence[int]
) -> dict[str, int]:
    """{field: primary key of the record whose value wins}; fields left out keep the
    master's value. INVALID_FIELD names the bad field (`fields.email`)."""
    if field_choices is None:
        return {}
    if not isinstance(field_choices, Mapping):
        raise DomainError(
            ErrorCode.INVALID_FIELD, "fields: expected an object {field: record id}", ["fields"]
        )
    allowed = {definition.name for definition in merge_fields(object_name)}
    checked = {}
    for name, record_id in field_choices.items():
        if name not in allowed:
            raise DomainError(
                ErrorCode.INVALID_FIELD,
                f"fields.{name}: not a field merge can choose for {object_name} "
                f"(one of {', '.join(sorted(allowed))})",
                [f"fields.{name}"],
            )
        if record_id not in record_ids or isinstance(record_id, bool):
            raise DomainError(
                ErrorCode.INVALID_FIELD,
                f"fields.{name}: expected the id of one of the merged records",
                [f"fields.{name}"],
            )
        checked[name] = record_id
    return checked


def _locked_records(
    actor: Any, model: type[models.Model], object_name: str, record_ids: Sequence[int]
) -> dict[int, Any]:
    """The records, locked in primary-key order; NOT_FOUND for one the actor may not see
    (as if it did not exist), INSUFFICIENT_ACCESS_OR_READONLY for one they may see but not
    change, CANNOT_UPDATE_CONVERTED_LEAD for a converted lead."""
    found: dict[int, Any] = {
        record.pk: record
        # In primary-key order, so two merges of overlapping records cannot deadlock.
        for record in model._default_manager.select_for_update()
        .filter(pk__in=record_ids)
        .order_by("pk")
    }
    for index, record_id in enumerate(record_ids):
        field_name = "master_id" if index == 0 else "merged_ids"
        public_id = ids.encode(object_name, record_id)
        record = found.get(record_id)
        if record is None or not can_read(actor, record):
            raise DomainError(
                ErrorCode.NOT_FOUND,
                f"{field_name}: no {object_name} with id {public_id}",
                [field_name],
            )
        if not can_edit(actor, record):
            raise DomainError(
                ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY,
                f"{field_name}: you may not change {object_name} {public_id}",
                [field_name],
            )
        if object_name == "Lead" and record.is_converted:
            # Named as the user knows it, not by a field or an id; `fields` still says
            # which argument held it (docs/duplicates.md, Salesforce's
            # CANNOT_UPDATE_CONVERTED_LEAD).
            person = " ".join(part for part in (record.first_name, record.last_name) if part)
            raise DomainError(
                ErrorCode.CANNOT_UPDATE_CONVERTED_LEAD,
                f"Lead {person or public_id} was converted and cannot be merged "
                "(Salesforce refuses this too).",
                [field_name],
            )
    return found


# ---------------------------------------------------------------------------------------
# The snapshot


class _Snapshot:
    """What undo needs, as it is gathered (see Merge.snapshot)."""

    def __init__(self) -> None:
        # [{"model", "field", "to", "rows": [[pk, former value], ...]}]
        self.moved: list[dict[str, Any]] = []
        # [{"model", "rows": [row, ...]}], in the order undo inserts them back
        self.deleted: list[dict[str, Any]] = []
        # [{"model", "ids"}]: rows the merge made, which undo removes
        self.created: list[dict[str, Any]] = []
        # [{"model", "before": row}]: rows the merge changed in place (review-queue groups)
        self.updated: list[dict[str, Any]] = []

    def move(self, queryset: QuerySet[Any], attname: str, to: Any) -> int:
        """Point `attname` of the rows at `to`, keeping each row's former value."""
        rows = [[pk, former] for pk, former in queryset.order_by("pk").values_list("pk", attname)]
        if not rows:
            return 0
        model = queryset.model
        model._default_manager.filter(pk__in=[pk for pk, _former in rows]).update(**{attname: to})
        self.moved.append({"model": _label(model), "field": attname, "to": to, "rows": rows})
        return len(rows)

    def delete(self, records: Iterable[models.Model] | QuerySet[Any]) -> int:
        """Delete records with everything deletion would remove or unlink, keeping it all."""
        records = list(records)
        if not records:
            return 0
        collector = Collector(using=transaction.get_connection().alias, origin=None)
        collector.collect(records)
        collector.sort()
        # Parents first: the order the collector deletes in, reversed.
        ordered = list(collector.data.items())
        ordered.reverse()
        for model, instances in ordered:
            self._keep_rows(model, [instance.pk for instance in instances])
        for queryset in collector.fast_deletes:
            self._keep_rows(queryset.model, list(queryset.values_list("pk", flat=True)))
        for (model_field, value), batches in collector.field_updates.items():
            # Each batch is a queryset or a list of instances.
            linked = [obj.pk for batch in batches for obj in batch]  # type: ignore[attr-defined]
            queryset = model_field.model._default_manager.filter(pk__in=linked)
            rows = [
                list(row) for row in queryset.order_by("pk").values_list("pk", model_field.attname)
            ]
            if rows:
                self.moved.append(
                    {
                        "model": _label(model_field.model),
                        "field": model_field.attname,
                        "to": value,
                        "rows": rows,
                    }
                )
        deleted, _counts = collector.delete()
        return deleted

    def _keep_rows(self, model: type[models.Model], pks: list[Any]) -> None:
        if pks:
            rows = model_rows(model, pk__in=pks)
            self.deleted.append({"model": _label(model), "rows": rows})

    def as_json(self) -> dict[str, Any]:
        return {
            "moved": self.moved,
            "deleted": self.deleted,
            "created": self.created,
            "updated": self.updated,
        }


def _reverse_relations(model: type[models.Model]) -> list[models.ForeignKey]:
    """Every foreign key (and one-to-one) of any model that points at `model`."""
    found = []
    for relation in model._meta.get_fields(include_hidden=True):
        if not relation.auto_created or relation.concrete:
            continue
        if not (relation.one_to_many or relation.one_to_one):
            continue
        model_field = relation.field  # type: ignore[union-attr]
        if model_field.concrete and isinstance(model_field, models.ForeignKey):
            found.append(model_field)
    return sorted(found, key=lambda field: (_label(field.model), field.name))


def _unique_sets(model_field: models.ForeignKey) -> list[tuple[str, ...]]:
    """The other columns of each unique constraint of the related model that includes the
    foreign key: two rows with the same values there may not have the same parent."""
    related = model_field.model
    sets = []
    for constraint in related._meta.constraints:
        if (
            isinstance(constraint, models.UniqueConstraint)
            and model_field.name in constraint.fields
        ):
            sets.append(constraint.fields)
    for together in related._meta.unique_together:
        if model_field.name in together:
            sets.append(tuple(together))
    return [
        tuple(_attname(related, name) for name in names if name != model_field.name)
        for names in sets
    ]


def _reparent(
    snapshot: _Snapshot, model: type[models.Model], master_id: int, loser_ids: list[int]
) -> dict[str, int]:
    """Point every related record of the merged records at the master (see the module's
    docstring); returns the number moved per relation (`Task.lead`)."""
    merged = [master_id, *loser_ids]
    moved: dict[str, int] = {}
    for model_field in _reverse_relations(model):
        related = model_field.model
        manager = related._default_manager
        attname = model_field.attname
        rows = manager.filter(**{f"{attname}__in": loser_ids})
        if related is model:  # a record of the merge itself pointing at another of them
            rows = rows.exclude(pk__in=merged)
        key = f"{related.__name__}.{model_field.name}"
        if (_label(related), model_field.name) in DERIVED:
            snapshot.delete(rows)
            continue
        if model_field.unique:  # one-to-one: the master's own row stays, else the first
            master_has = manager.filter(**{attname: master_id}).exists()
            for loser_id in loser_ids:
                own = manager.filter(**{attname: loser_id})
                if not own.exists():
                    continue
                if master_has:
                    snapshot.delete(own)
                else:
                    moved[key] = moved.get(key, 0) + snapshot.move(own, attname, master_id)
                    master_has = True
            continue
        unique_sets = _unique_sets(model_field)
        if not unique_sets:
            count = snapshot.move(rows, attname, master_id)
            if count:
                moved[key] = moved.get(key, 0) + count
            continue
        taken = [
            {tuple(values) for values in manager.filter(**{attname: master_id}).values_list(*names)}
            for names in unique_sets
        ]
        keep, drop = [], []
        for loser_id in loser_ids:
            for row in manager.filter(**{attname: loser_id}).order_by("pk"):
                values = [tuple(getattr(row, name) for name in names) for names in unique_sets]
                if any(value in seen for value, seen in zip(values, taken, strict=True)):
                    drop.append(row)
                    continue
                keep.append(row.pk)
                for value, seen in zip(values, taken, strict=True):
                    seen.add(value)
        snapshot.delete(drop)
        if keep:
            moved[key] = moved.get(key, 0) + snapshot.move(
                manager.filter(pk__in=keep), attname, master_id
            )
    return moved


def _follow_id_references(
    snapshot: _Snapshot, object_name: str, master_id: int, loser_ids: list[int]
) -> None:
    """Rows naming a merged record by object and id (an import's external ids) name the
    master instead, so a later file's reference to the old id finds it."""
    for label, object_field, id_field in ID_REFERENCES:
        try:
            model = _model(label)
        except LookupError:
            continue
        rows = model._default_manager.filter(
            **{object_field: object_name, f"{id_field}__in": loser_ids}
        )
        snapshot.move(rows, id_field, master_id)


def _refile_queue(
    snapshot: _Snapshot, actor: Any, object_name: str, master_id: int, loser_ids: list[int]
) -> None:
    """The review queue's groups with a merged record: it becomes the master (the group
    is `merged` once only one record is left), the groups' former rows kept for undo."""
    members = DuplicateGroupMember.objects.filter(
        group__object_type=object_name, record_id__in=loser_ids
    )
    group_ids = sorted(set(members.values_list("group_id", flat=True)))
    if not group_ids:
        return
    for row in model_rows(DuplicateGroup, pk__in=group_ids):
        snapshot.updated.append({"model": _label(DuplicateGroup), "before": row})
    snapshot.delete(members)
    with_master = set(
        DuplicateGroupMember.objects.filter(
            group_id__in=group_ids, record_id=master_id
        ).values_list("group_id", flat=True)
    )
    created = DuplicateGroupMember.objects.bulk_create(
        [
            DuplicateGroupMember(group_id=group_id, record_id=master_id)
            for group_id in group_ids
            if group_id not in with_master
        ]
    )
    if created:
        snapshot.created.append(
            {"model": _label(DuplicateGroupMember), "ids": [member.pk for member in created]}
        )
    now = timezone.now()
    for group in DuplicateGroup.objects.filter(pk__in=group_ids):
        group.record_count = group.members.count()
        fields = ["record_count", "updated_at"]
        if group.record_count <= 1 and group.status == DuplicateGroupStatus.OPEN:
            group.status = DuplicateGroupStatus.MERGED
            group.resolved_by = actor if getattr(actor, "pk", None) else None
            group.resolved_at = now
            fields += ["status", "resolved_by", "resolved_at"]
        group.save(update_fields=fields)


# ---------------------------------------------------------------------------------------
# Merge


@dataclass(frozen=True)
class FieldChoice:
    """One row of the merge page: a field, each record's value, and the one chosen."""

    name: str
    label: str
    values: list[Any]  # in the order of MergePlan.records
    chosen_id: int
    differs: bool


@dataclass(frozen=True)
class MergePlan:
    """A merge as it would be done (the preview): the records (master first), each
    field's values and the chosen one, the master's resulting values, and how many
    related records of each relation would move to it."""

    object_name: str
    records: list[Any]
    fields: list[FieldChoice]
    result: dict[str, Any]
    related: dict[str, int]

    @property
    def master(self) -> Any:
        return self.records[0]


def _display(object_name: str, record: Any, name: str) -> Any:
    """A field's value as people read it (an owner's or account's name)."""
    if (object_name, name) in COLUMNS:
        owner = record.owner_user if record.owner_user_id else record.owner_queue
        return str(owner) if owner else ""
    value = getattr(record, name)
    if isinstance(value, models.Model):
        return str(value)
    return "" if value is None else value


def relation_labels(object_name: str) -> dict[str, str]:
    """How the pages name each relation of `related` counts: {"Task.lead": "tasks",
    "Lead.converted_contact": "leads (converted contact)"}."""
    model = MODELS[object_name]
    labels = {}
    for model_field in _reverse_relations(model):
        plural = str(model_field.model._meta.verbose_name_plural)
        own = model_field.name == object_name.lower()
        labels[f"{model_field.model.__name__}.{model_field.name}"] = (
            plural if own else f"{plural} ({model_field.verbose_name})"
        )
    return labels


# How a count of related rows reads where the model's own name does not say it to a user.
RELATION_WORDS = {
    "LeadEvent.lead": ("activity event", "activity events"),
    "LeadQualificationAnswer.lead": ("qualification answer", "qualification answers"),
    "LeadScoreHistory.lead": ("score history entry", "score history entries"),
    "Lead.converted_contact": ("converted lead", "converted leads"),
    "Lead.converted_account": ("converted lead", "converted leads"),
}


def relation_count_words(object_name: str, counts: Mapping[str, int]) -> list[str]:
    """`related` counts ({"Task.lead": 2, "LeadEvent.lead": 1}) as people read them:
    ["1 activity event", "2 tasks"], in that order (by the words), zero counts left out.
    A relation without words of its own reads with its model's verbose names."""
    models_of = {
        f"{model_field.model.__name__}.{model_field.name}": model_field.model
        for model_field in _reverse_relations(MODELS[object_name])
    }
    words = []
    for key, count in counts.items():
        if not count:
            continue
        if key in RELATION_WORDS:
            singular, plural = RELATION_WORDS[key]
        elif key in models_of:
            meta = models_of[key]._meta
            singular, plural = str(meta.verbose_name), str(meta.verbose_name_plural)
        else:
            singular = plural = key
        words.append((singular, f"{count} {singular if count == 1 else plural}"))
    return [text for _sort, text in sorted(words)]


def merge_for_records(object_name: str, record_ids: Sequence[int]) -> Merge | None:
    """The newest merge still standing whose master is one of the records (a merged
    review-queue group keeps the master as its member): for linking the group to it."""
    return (
        Merge.objects.filter(
            object_type=object_name,
            master_record_id__in=list(record_ids),
            status=MergeStatus.MERGED,
        )
        .order_by("-id")
        .first()
    )


def _related_counts(model: type[models.Model], loser_ids: list[int]) -> dict[str, int]:
    """How many related rows of the merged records would move, per relation (`Task.lead`):
    at most; one whose like the master has (a unique conflict) is removed instead."""
    counts = {}
    for model_field in _reverse_relations(model):
        if (_label(model_field.model), model_field.name) in DERIVED:
            continue  # removed and computed again, not moved
        count = model_field.model._default_manager.filter(
            **{f"{model_field.attname}__in": loser_ids}
        ).count()
        if count:
            counts[f"{model_field.model.__name__}.{model_field.name}"] = count
    return counts


def merge_plan(
    *,
    actor: Any,
    object_name: str,
    master_id: int,
    loser_ids: list[int],
    field_choices: Mapping[str, int] | None = None,
    lock: bool = False,
) -> MergePlan:
    """What merging `loser_ids` into `master_id` (primary keys) with these choices would
    do, refusing what `records_merge` refuses (the same errors), without writing."""
    model = _checked_object(object_name)
    losers = _checked_ids(master_id, loser_ids)
    record_ids = [master_id, *losers]
    choices = _checked_choices(object_name, field_choices, record_ids)
    if lock:
        found = _locked_records(actor, model, object_name, record_ids)
    else:
        with transaction.atomic():
            found = _locked_records(actor, model, object_name, record_ids)
    records = [found[record_id] for record_id in record_ids]
    fields, result = [], {}
    for definition in merge_fields(object_name):
        values = [_display(object_name, record, definition.name) for record in records]
        chosen = choices.get(definition.name, master_id)
        fields.append(
            FieldChoice(
                name=definition.name,
                label=definition.label,
                values=values,
                chosen_id=chosen,
                differs=len({str(value) for value in values}) > 1,
            )
        )
        result[definition.name] = values[record_ids.index(chosen)]
    return MergePlan(
        object_name=object_name,
        records=records,
        fields=fields,
        result=result,
        related=_related_counts(model, losers),
    )


def records_merge(
    *,
    actor: Any,
    object_name: str,
    master_id: int,
    loser_ids: list[int],
    field_choices: Mapping[str, int] | None = None,
) -> Merge:
    """Merge 1 or 2 leads, contacts or accounts (`loser_ids`, primary keys) into the
    master (`master_id`), in one transaction; returns the Merge, which `merge_undo` undoes.

    `field_choices` is {field: primary key of the record whose value the master takes}
    (fields of `merge_fields`; others keep the master's). Every related record of the
    merged records is re-parented to the master, the merged records are deleted (with an
    audit event each, and one on the master), the review queue and duplicate keys follow.
    Errors (nothing changes): INVALID_FIELD (`object`, `merged_ids`: 1-2 others, distinct;
    `fields.<name>`), INVALID_ID, NOT_FOUND for a record the actor may not see,
    INSUFFICIENT_ACCESS_OR_READONLY for one they may not change,
    CANNOT_UPDATE_CONVERTED_LEAD for a converted lead (Salesforce refuses those too).
    """
    with transaction.atomic():
        plan = merge_plan(
            actor=actor,
            object_name=object_name,
            master_id=master_id,
            loser_ids=loser_ids,
            field_choices=field_choices,
            lock=True,
        )
        return _merge(actor, plan, dict(field_choices or {}))


def _merge(actor: Any, plan: MergePlan, field_choices: dict[str, int]) -> Merge:
    object_name = plan.object_name
    model = MODELS[object_name]
    master = plan.master
    master_id = master.pk
    losers = plan.records[1:]
    loser_ids = [record.pk for record in losers]
    snapshot = _Snapshot()
    master_before = model_rows(model, pk=master_id)[0]
    loser_names = {record.pk: record_name(object_name, record) for record in losers}
    loser_values = {
        record.pk: {
            model_field.name: [json_value(getattr(record, model_field.name)), None]
            for model_field in model._meta.concrete_fields
            if model_field.name not in ("id", "created_at", "updated_at")
            and not model_field.name.endswith("_key")
            and model_field.name != "phone_digits"
        }
        for record in losers
    }

    related = _reparent(snapshot, model, master_id, loser_ids)
    _follow_id_references(snapshot, object_name, master_id, loser_ids)
    _refile_queue(snapshot, actor, object_name, master_id, loser_ids)
    # The keys of all three go: the merged records' with them, the master's to be written anew.
    snapshot.delete(
        DuplicateKey.objects.filter(object_type=object_name, record_id__in=[master_id, *loser_ids])
    )
    # The merged records themselves: nothing points at them any more.
    loser_snapshot = _Snapshot()
    loser_snapshot.delete(model._default_manager.filter(pk__in=loser_ids))
    leftovers = [entry for entry in loser_snapshot.deleted if entry["model"] != _label(model)]
    snapshot.deleted = [
        *[entry for entry in loser_snapshot.deleted if entry["model"] == _label(model)],
        *leftovers,
        *snapshot.deleted,
    ]
    snapshot.moved.extend(loser_snapshot.moved)

    # The master takes the chosen values (after the others are gone: a lead's email is
    # unique among unconverted leads).
    chosen_rows = {record.pk: record for record in plan.records}
    changes: dict[str, list[Any]] = {}
    update_fields = []
    for name, record_id in field_choices.items():
        if record_id == master_id:
            continue
        source = chosen_rows[record_id]
        for column in _field_columns(object_name, name):
            model_field: Any = model._meta.get_field(column)
            old, new = getattr(master, model_field.attname), getattr(source, model_field.attname)
            if old != new:
                setattr(master, model_field.attname, new)
                update_fields.append(model_field.name)
                changes[model_field.name] = [json_value(old), json_value(new)]
    for concrete in model._meta.concrete_fields:  # a master pointing at a merged record
        if (
            isinstance(concrete, models.ForeignKey)
            and concrete.related_model is model
            and getattr(master, concrete.attname) in loser_ids
        ):
            setattr(master, concrete.attname, None)
            update_fields.append(concrete.name)
    master.save(update_fields=[*dict.fromkeys(update_fields), "updated_at"])
    duplicate_keys_write(object_name=object_name, record=master, created=True)
    new_keys = list(
        DuplicateKey.objects.filter(object_type=object_name, record_id=master_id).values_list(
            "pk", flat=True
        )
    )
    if new_keys:
        snapshot.created.append({"model": _label(DuplicateKey), "ids": new_keys})

    merge = Merge.objects.create(
        object_type=object_name,
        master_record_id=master_id,
        merged_record_ids=loser_ids,
        field_choices=field_choices,
        merged_by=actor if getattr(actor, "pk", None) else None,
        snapshot={
            "master_before": master_before,
            "master_after": model_rows(model, pk=master_id)[0],
            "related": related,
            **snapshot.as_json(),
        },
    )
    merged_public = [ids.encode(object_name, record_id) for record_id in loser_ids]
    events = [
        audit_event(
            actor,
            master,
            AuditAction.UPDATE,
            {**changes, "merged_records": [None, merged_public], "merge": [None, merge.pk]},
        )
    ]
    for record in losers:
        events.append(
            audit_event(
                actor,
                record,
                AuditAction.DELETE,
                {
                    **loser_values[record.pk],
                    "name": [loser_names[record.pk], None],
                    "merged_into": [None, master.public_id],
                    "merge": [None, merge.pk],
                },
            )
        )
    for event in events:
        event.save()
    return merge


# ---------------------------------------------------------------------------------------
# Undo


def merge_get(*, actor: Any, merge_id: int) -> Merge:
    """A merge the actor may see: theirs, one whose master they may see, or any for an
    admin; NOT_FOUND otherwise."""
    in_range = isinstance(merge_id, int) and 0 < merge_id <= MAX_PRIMARY_KEY
    merge = Merge.objects.filter(pk=merge_id).first() if in_range else None
    if merge is not None and _may_see(actor, merge):
        return merge
    raise DomainError(ErrorCode.NOT_FOUND, f"merge {merge_id} does not exist", ["id"])


def merge_may_see(actor: Any, merge: Merge) -> bool:
    """Whether `merge_get` would show the merge to the actor (the pages link to it only
    then): an admin, the user who merged, or one who may see the master."""
    return _may_see(actor, merge)


def _may_see(actor: Any, merge: Merge) -> bool:
    if is_admin(actor) or (actor is not None and merge.merged_by_id == actor.pk):
        return True
    master = MODELS[merge.object_type]._default_manager.filter(pk=merge.master_record_id).first()
    return master is not None and can_read(actor, master)


def merged_records(merge: Merge) -> list[models.Model]:
    """The merged records as they were just before the merge (unsaved instances read
    from the snapshot), in `merged_record_ids` order: for naming them once deleted."""
    model = MODELS[merge.object_type]
    label = _label(model)
    rows = {
        row[model._meta.pk.attname]: row
        for entry in merge.snapshot.get("deleted", [])
        if entry["model"] == label
        for row in entry["rows"]
    }
    return [
        model(**_decoded(model, rows[record_id]))
        for record_id in merge.merged_record_ids
        if record_id in rows
    ]


@dataclass(frozen=True)
class MergeMember:
    """A record of a merge: as it is now (`exists`), or as it was before the merge."""

    record_id: int
    record: Any
    exists: bool
    is_master: bool


def merge_members(merge: Merge) -> list[MergeMember]:
    """The master and the merged records (in that order) of a merge the caller may see
    (merge_get): each as it is now, or, deleted by the merge, as the snapshot kept it."""
    model = MODELS[merge.object_type]
    record_ids = [merge.master_record_id, *merge.merged_record_ids]
    present = model._default_manager.in_bulk(record_ids)
    former = {record.pk: record for record in merged_records(merge)}
    members = []
    for record_id in record_ids:
        record = present.get(record_id) or former.get(record_id)
        members.append(
            MergeMember(
                record_id=record_id,
                record=record,
                exists=record_id in present,
                is_master=record_id == merge.master_record_id,
            )
        )
    return members
