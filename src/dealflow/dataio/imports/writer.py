"""One batch of an import: rows checked by the services' own rules, then written set-based.

Values are checked by `core.validation.clean_values`, the function every service calls;
the checks that query the database (picklist values, lead statuses, opportunity
stages) are made once per distinct value and remembered for the job (`ValueChecks`),
so a batch of 5,000 rows costs a handful of queries. Defaults and derived values come
from the services' own helpers (the default lead status, an opportunity's stage).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, models
from django.utils import timezone

from dealflow.accounts.models import Account, Contact
from dealflow.core import ids
from dealflow.core.access import editable_q, is_admin
from dealflow.core.audit import audit_event, changes_since, json_value, snapshot
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.fields import match_keys_of
from dealflow.core.matching import email_key
from dealflow.core.metadata import LEAD_STATUS_PICKLIST, OPPORTUNITY_STAGE_PICKLIST, ObjectDef
from dealflow.core.models import AuditAction, AuditEvent
from dealflow.core.validation import apply_values, clean_values
from dealflow.dataio.imports.compiled import CompiledRows
from dealflow.dataio.imports.reader import EXTERNAL_ID, Row, boolean_text
from dealflow.dataio.imports.sql import ids_by_key, insert_records, insert_rows
from dealflow.dataio.models import (
    ExternalId,
    ImportJob,
    ImportJobRecord,
    ImportRowError,
    OnDuplicate,
    RecordAction,
)
from dealflow.leads.models import Lead
from dealflow.leads.services import default_lead_status, refuse_converted_status, set_lead_owner
from dealflow.people.models import Queue, User
from dealflow.sales.models import Opportunity, OpportunityHistory
from dealflow.sales.services import apply_stage, check_stage_rules, history_row

MODELS: dict[str, type[models.Model]] = {
    "Lead": Lead,
    "Account": Account,
    "Contact": Contact,
    "Opportunity": Opportunity,
}
_TABLE_PICKLISTS = (LEAD_STATUS_PICKLIST, OPPORTUNITY_STAGE_PICKLIST)
# Objects whose duplicates are found by email (DOMAIN.md section 2: a lead's email is
# unique among unconverted leads). The duplicate rules of dealflow.duplicates (fuzzy
# names, phones, companies) plug in at `duplicate_keys`.
EMAIL_KEYED = ("Lead", "Contact")
FIELD_MEMORY = 20_000
NOT_SEEN = object()


def duplicate_keys(object_name: str, record: models.Model) -> list[str]:
    """The keys under which a record counts as a duplicate of another (here: the email's
    matching key); the hook for the duplicate rules of dealflow.duplicates."""
    if object_name in EMAIL_KEYED:
        key = email_key(record.email)  # type: ignore[attr-defined]
        return [key] if key else []
    return []


@dataclass
class Outcome:
    """What a batch did, for the job's counts and the error report."""

    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[ImportRowError] = field(default_factory=list)
    created_lead_ids: list[int] = field(default_factory=list)

    def fail(self, job: ImportJob, row: int, error: DomainError, values: Mapping[str, Any]):
        self.failed += 1
        for each in error.every():
            name = each.fields[0] if each.fields else ""
            self.errors.append(
                ImportRowError(
                    job=job,
                    row_number=row,
                    field=name,
                    value=str(_value_of(values, name))[:1000],
                    code=str(each.code),
                    message=each.detail(
                        name, name.removesuffix("_id")
                    ),  # the Field column names it
                )
            )

    def note(self, job: ImportJob, row: int, code: str, message: str, name: str = "", value=""):
        self.errors.append(
            ImportRowError(
                job=job,
                row_number=row,
                field=name,
                value=str(value)[:1000],
                code=code,
                message=message,
            )
        )


def _value_of(texts: Mapping[str, Any], public_name: str) -> Any:
    """The text a row gave the field an error names (`owner_id` is the `owner` column)."""
    for name in (public_name, public_name.removesuffix("_id"), public_name.removesuffix("_name")):
        if name in texts:
            return texts[name]
    return ""


class ValueChecks:
    """The database-backed checks of clean_values (picklists, statuses, stages, owners,
    references), made once per distinct value for the whole job."""

    def __init__(self, object_def: ObjectDef, actor: User | None) -> None:
        self.object_def = object_def
        self.actor = actor
        self._picklist: dict[tuple[str, str], Any] = {}
        self._references: dict[tuple[str, str], Any] = {}
        self._fields: dict[str, dict[Any, Any]] = {}
        # Fields the object requires (a status or stage goes in as its row: no query).
        self.required = [field_def.name for field_def in object_def.fields if field_def.required]
        self._compiled: tuple[Any, CompiledRows] | None = None

    def compiled(
        self, columns: Mapping[int, str], header_length: int
    ) -> CompiledRows:  # the fast path of write_batch, made once per file
        key = (tuple(columns.items()), header_length)
        if self._compiled is None or self._compiled[0] != key:
            model = MODELS[self.object_def.name]
            rows = CompiledRows(self.object_def, self, self.actor, columns, header_length, model)
            self._compiled = (key, rows)
        return self._compiled[1]

    def remembered(self, name: str, value: Any) -> Any:
        """What `field` gave for this value before, or NOT_SEEN."""
        return self._fields.get(name, {}).get(value, NOT_SEEN)

    def remember(self, name: str, value: Any, cleaned: Any) -> None:
        memory = self._fields.setdefault(name, {})
        if len(memory) >= FIELD_MEMORY:
            memory.clear()
        memory[value] = cleaned

    def field(self, name: str, value: Any) -> Any:
        """clean_values of one field's value, remembered (up to FIELD_MEMORY values a
        field: names, cities and companies repeat; emails do not)."""
        memory = self._fields.setdefault(name, {})
        if value not in memory:
            if len(memory) >= FIELD_MEMORY:
                memory.clear()
            try:
                memory[value] = clean_values(self.object_def, {name: value}, creating=False)[name]
            except DomainError as error:
                memory[value] = error
        result = memory[value]
        if isinstance(result, DomainError):
            raise result
        return result

    def picklist(self, name: str, text: str) -> Any:
        """The cleaned value of one picklist field (a status or stage row for those)."""
        key = (name, text)
        if key not in self._picklist:
            try:
                self._picklist[key] = clean_values(self.object_def, {name: text}, creating=False)[
                    name
                ]
            except DomainError as error:
                self._picklist[key] = error
        value = self._picklist[key]
        if isinstance(value, DomainError):
            raise value
        return value

    def reference(self, name: str, text: str) -> Any:
        """The record a reference column names: an id this import kept from an earlier
        file (ExternalId), a dealflow id, or for an owner a username or email."""
        field_def = self.object_def.field(name)
        assert field_def is not None
        key = (name, text)
        if key not in self._references:
            self._references[key] = self._resolve(
                field_def.public_name, field_def.reference_to, text
            )
        value = self._references[key]
        if isinstance(value, DomainError):
            raise value
        return value

    def _resolve(self, public_name: str, targets: tuple[str, ...], text: str) -> Any:
        text = text.strip()
        for target in targets:
            if target in MODELS:
                found = ExternalId.objects.filter(target=target, external_id=text).first()
                if found is not None:
                    record = MODELS[target].objects.filter(pk=found.record_id).first()
                    if record is not None:
                        return record
        with_id = None
        try:
            object_name, key = ids.decode(text)
        except ids.InvalidIdError:
            object_name, key = "", 0
        if object_name in targets:
            model = {"User": User, "Queue": Queue, **MODELS}[object_name]
            with_id = model.objects.filter(pk=key).first()
        if with_id is None and "User" in targets:
            with_id = (
                User.objects.filter(username=text).first()
                or User.objects.filter(email__iexact=text).first()
            )
        if with_id is None and "Queue" in targets:
            with_id = Queue.objects.filter(name=text).first()
        if with_id is None:
            return DomainError(
                ErrorCode.NOT_FOUND,
                f"{public_name}: no {' or '.join(targets)} with the id {text!r} (neither "
                "imported earlier nor a dealflow id, username or email)",
                [public_name],
            )
        return with_id


def row_values(
    object_def: ObjectDef, columns: Mapping[int, str], header_length: int, row: Row
) -> tuple[dict[str, str], str]:
    """{native name: text} of a row, or a problem (a ragged row)."""
    if row.problem:
        return {}, row.problem
    if len(row.values) != header_length:
        return {}, (
            f"the row has {len(row.values)} values but the header has {header_length} "
            "columns; nothing of it was imported"
        )
    return {name: row.values[index] for index, name in columns.items()}, ""


def _typed(
    object_def: ObjectDef, checks: ValueChecks, texts: Mapping[str, str]
) -> tuple[dict[str, Any], list[DomainError]]:
    """CSV text as the services take it: checkboxes as booleans, references as records,
    picklists checked (once per value); blanks as blanks. Returns the refusals too."""
    values: dict[str, Any] = {}
    refused: list[DomainError] = []
    for name, text in texts.items():
        if name == EXTERNAL_ID:
            continue
        field_def = object_def.field(name)
        assert field_def is not None
        try:
            if field_def.type == "boolean":
                values[name] = boolean_text(field_def, text)
            elif field_def.type == "reference":
                if text.strip():
                    values[name] = checks.reference(name, text)
            elif field_def.is_picklist:
                if field_def.picklist in _TABLE_PICKLISTS and not text.strip():
                    continue  # the service's default (the default status)
                values[name] = checks.picklist(name, text) if text.strip() else ""
            else:
                values[name] = text
        except DomainError as error:
            refused.append(error)
    return values, refused


def _raise_all(refused: list[DomainError]) -> None:
    if refused:
        first, *others = refused
        first.also = others
        raise first


def _checked_already(object_def: ObjectDef, name: str) -> bool:
    field_def = object_def.field(name)
    assert field_def is not None
    return field_def.is_picklist or field_def.type == "reference"  # by _typed


def _cleaned_at_once(
    object_def: ObjectDef, values: dict[str, Any], checks: ValueChecks
) -> dict[str, Any] | None:
    """The row's values cleaned by one clean_values call (values seen before come from
    memory), or None when something is refused (then field by field names each fault)."""
    cleaned: dict[str, Any] = {}
    unseen: dict[str, Any] = {}
    for name, value in values.items():
        if _checked_already(object_def, name):
            cleaned[name] = value
            continue
        found = checks.remembered(name, value)
        if found is NOT_SEEN or isinstance(found, DomainError):
            unseen[name] = value
        else:
            cleaned[name] = found
    given = dict(unseen)
    for name in checks.required:  # the rule about missing fields runs on the whole row
        if name in cleaned and name not in given:
            given[name] = cleaned[name]
    try:
        result = clean_values(object_def, given, creating=True)
    except DomainError:
        return None
    for name in unseen:
        checks.remember(name, unseen[name], result[name])
    cleaned.update(result)
    return cleaned


def _cleaned_field_by_field(
    object_def: ObjectDef, values: dict[str, Any], refused: list[DomainError], checks: ValueChecks
) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for name, value in values.items():
        if _checked_already(object_def, name):
            cleaned[name] = value
            continue
        try:
            cleaned[name] = checks.field(name, value)
        except DomainError as error:
            refused.extend(error.every())
    return cleaned


def build_record(
    object_def: ObjectDef,
    actor: User | None,
    values: dict[str, Any],
    refused: list[DomainError],
    checks: ValueChecks,
) -> tuple[models.Model, bool]:
    """An unsaved record as the object's create service would make it, and whether the
    file gave its owner. Raises every refusal of the row at once.

    Each value is checked by clean_values, field by field and once per distinct value
    (`ValueChecks.field`), then the required fields once more all together, which is
    where clean_values applies its rule about missing ones.
    """
    cleaned = _cleaned_at_once(object_def, values, checks) if not refused else None
    if cleaned is None:
        cleaned = _cleaned_field_by_field(object_def, values, refused, checks)
    refused_names = {name for error in refused for name in error.fields}
    required = {
        name: cleaned.get(name)
        for name in checks.required
        if name in cleaned and object_def.public_name(name) not in refused_names
    }
    try:
        clean_values(object_def, required, creating=True)
    except DomainError as error:
        for each in error.every():
            # A field refused already is not also "missing".
            if each.code == ErrorCode.REQUIRED_FIELD_MISSING and set(each.fields) <= refused_names:
                continue
            refused.append(each)
    _raise_all(refused)
    owner = cleaned.pop("owner", None)
    model = MODELS[object_def.name]
    if model is not Lead:
        return build_other(model, actor, owner, cleaned), owner is not None
    status = cleaned.pop("status", None) or default_lead_status()
    refuse_converted_status(status)
    record: Any = Lead(status=status)
    set_lead_owner(record, owner or actor)
    apply_values(record, cleaned)
    return record, owner is not None


def build_other(
    model: type[models.Model], actor: User | None, owner: Any, cleaned: dict[str, Any]
) -> models.Model:
    """An unsaved account, contact or opportunity from cleaned values, as its create
    service makes it (an opportunity's probability and forecast from its stage)."""
    record: Any = model(owner=owner or actor)
    apply_values(record, cleaned)
    if model is Opportunity:
        apply_stage(record, cleaned["stage"], cleaned)
        check_stage_rules(record)
    return record


def stored(value: Any) -> Any:
    """A column's value as JSON, for putting it back later (field.to_python reads it)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


@dataclass
class Pending:
    number: int
    record: models.Model
    external_id: str
    texts: Mapping[str, str]
    # Made ahead by the second process (precheck.py), else None: made here.
    email_keys: list[str] | None = None
    blocking: list[tuple[str, str]] | None = None


def write_batch(
    *,
    job: ImportJob,
    object_def: ObjectDef,
    actor: User | None,
    checks: ValueChecks,
    columns: Mapping[int, str],
    header_length: int,
    rows: list[Row],
    seen: dict[str, Any] | None,
    before_commit: Callable[[int], None] | None = None,
    prechecked: list[Any] | None = None,
) -> Outcome:
    """Check, dedupe and write one batch (the caller holds its transaction).

    `seen` (dry runs only) remembers the keys of earlier batches, whose records were
    not kept. `prechecked`: one item a row made by `precheck.Prechecker` (or None).
    """
    outcome = Outcome()
    on_duplicate = job.options.get("on_duplicate", OnDuplicate.SKIP)
    model = MODELS[object_def.name]
    # 1. Each row's record, checked as the create service checks it.
    built: list[tuple[Pending, bool]] = []
    compiled = checks.compiled(columns, header_length)
    compiled.start_batch()
    for position, row in enumerate(rows):
        ahead = prechecked[position] if prechecked is not None else None
        if prechecked is not None and ahead is None:
            fast = None  # refused by the pure checks: the general path says why
        else:
            fast = compiled.record(row, ahead[0] if ahead is not None else None)
        if fast is not None:  # accepted as the general path below would
            record, external, owner_given, texts = fast
            pending = Pending(row.number, record, external, texts)
            if ahead is not None:
                pending.blocking, pending.email_keys = ahead[1], ahead[2]
            built.append((pending, owner_given))
            continue
        texts, problem = row_values(object_def, columns, header_length, row)
        if problem:
            outcome.fail(job, row.number, DomainError(ErrorCode.INVALID_FIELD, problem), {})
            continue
        try:
            values, refused = _typed(object_def, checks, texts)
            record, owner_given = build_record(object_def, actor, values, refused, checks)
            is_rep = actor is not None and not is_admin(actor) and actor.role != "manager"
            if is_rep and owner_given and getattr(record, "owner_user_id", None) != actor.pk:
                raise DomainError(
                    ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY,
                    "owner_id: a sales rep imports leads they own; leave the owner blank",
                    ["owner_id"],
                )
        except DomainError as error:
            outcome.fail(job, row.number, error, {**texts})
            continue
        external = texts.get(EXTERNAL_ID, "").strip()
        built.append((Pending(row.number, record, external, texts), owner_given))
    # 2. Duplicates: in the base (by external id, then by key) and within the file.
    externals = {pending.external_id for pending, _ in built if pending.external_id}
    by_external = (
        dict(
            ExternalId.objects.filter(
                target=object_def.name, external_id__in=externals
            ).values_list("external_id", "record_id")
        )
        if externals
        else {}
    )
    keys_of = {
        id(pending): pending.email_keys
        if pending.email_keys is not None
        else duplicate_keys(object_def.name, pending.record)
        for pending, _ in built
    }
    all_keys = {key for keys in keys_of.values() for key in keys}
    by_key: dict[str, int] = {}
    if all_keys:
        by_key = ids_by_key(model, "email_key", all_keys, unconverted=model is Lead)
    creating: list[Pending] = []
    in_file: dict[str, Pending] = {}
    updates: dict[int, list[Pending]] = {}
    assign: list[Pending] = []
    for pending, owner_given in built:
        keys = keys_of[id(pending)]
        match_id = by_external.get(pending.external_id) if pending.external_id else None
        match_id = match_id or next((by_key[key] for key in keys if key in by_key), None)
        earlier = next((in_file[key] for key in keys if key in in_file), None)
        if earlier is None and pending.external_id:
            earlier = in_file.get("id:" + pending.external_id)
        if earlier is None and seen is not None:
            earlier = next((seen[key] for key in keys if key in seen), None)
        duplicate_of = match_id or earlier
        if duplicate_of is None or on_duplicate == OnDuplicate.CREATE:
            if duplicate_of is not None and model is Lead and keys:
                outcome.fail(
                    job,
                    pending.number,
                    DomainError(
                        ErrorCode.DUPLICATE_VALUE,
                        f"email: an unconverted lead already has the email "
                        f"{pending.record.email!r} ({_row_of(duplicate_of)}); emails "  # type: ignore[attr-defined]
                        "are unique among unconverted leads, so it cannot be created again",
                        ["email"],
                    ),
                    pending.texts,
                )
                continue
            creating.append(pending)
            for key in keys:
                in_file.setdefault(key, pending)
            if pending.external_id:
                in_file.setdefault("id:" + pending.external_id, pending)
            if model is Lead and not owner_given:
                assign.append(pending)
            continue
        if on_duplicate == OnDuplicate.SKIP:
            outcome.skipped += 1
            outcome.note(
                job,
                pending.number,
                "DUPLICATE_SKIPPED",
                f"skipped: a duplicate of {_row_of(duplicate_of)}",
                "email" if keys else "id",
                pending.texts.get("email", pending.external_id),
            )
            continue
        if isinstance(duplicate_of, Pending):  # update a record this batch creates
            _merge(object_def, pending, duplicate_of)
            duplicate_of.blocking = None  # changed: its keys are made again
            outcome.updated += 1
        elif isinstance(duplicate_of, int):
            updates.setdefault(duplicate_of, []).append(pending)
        else:  # a dry run's earlier batch
            outcome.updated += 1
    # 3. Writes.
    now = timezone.now()
    # A write first: on SQLite it takes the write lock that insert_records' keys need.
    ImportJob.objects.filter(pk=job.pk).update(updated_at=now)
    insert_records(model, [pending.record for pending in creating], now)
    file_duplicate_keys(object_def.name, creating, now)
    outcome.created += len(creating)
    if seen is not None:
        for pending in creating:
            for key in keys_of[id(pending)]:
                seen.setdefault(key, f"row {pending.number}")
    records: list[Any] = [
        job_record(job, pending.record.pk, RecordAction.CREATED) for pending in creating
    ]
    externals_new = [
        ExternalId(
            target=object_def.name,
            external_id=pending.external_id,
            record_id=pending.record.pk,
            job=job,
        )
        for pending in creating
        if pending.external_id and pending.external_id not in by_external
    ]
    if model is Opportunity and creating:
        OpportunityHistory.objects.bulk_create(
            [history_row(pending.record, actor=actor, at=now) for pending in creating]  # type: ignore[arg-type]
        )
    events: list[AuditEvent] = []
    if creating:
        events.append(
            AuditEvent(
                actor=actor if getattr(actor, "pk", None) else None,
                object_name="ImportJob",
                record_id=job.pk,
                action=AuditAction.CREATE,
                changes={
                    "object": [None, object_def.name],
                    "rows": [creating[0].number, creating[-1].number],
                    "created": [None, [pending.record.pk for pending in creating]],
                },
            )
        )
    if updates:
        _update_existing(
            job, object_def, actor, updates, outcome, records, events, externals_new, now
        )
    ExternalId.objects.bulk_create(externals_new, ignore_conflicts=True)
    insert_job_records(job, records, now)
    AuditEvent.objects.bulk_create(events)
    outcome.created_lead_ids = [pending.record.pk for pending in assign]  # type: ignore[misc]
    if before_commit is not None:
        before_commit(rows[-1].number if rows else 0)
    return outcome


def file_duplicate_keys(object_name: str, created: list[Pending], now: datetime.datetime) -> None:
    """File new records under their blocking keys for the duplicate rules (the rows
    `duplicates.services.duplicate_keys_write` writes for a record created one at a
    time: `duplicates.keys.keys_of_records`; made ahead by the second process when it
    could), with one INSERT or COPY for the batch."""
    from dealflow.duplicates.keys import OBJECT_NAMES, keys_of_records
    from dealflow.duplicates.models import DuplicateKey

    if object_name not in OBJECT_NAMES or not created:
        return
    keys: list[tuple[int, str, str]] = []
    for pending in created:
        record_id = pending.record.pk
        if pending.blocking is not None:
            keys.extend((record_id, kind, value) for kind, value in pending.blocking)
        else:
            keys.extend(keys_of_records(object_name, [pending.record]))
    at = DuplicateKey._meta.get_field("created_at").get_db_prep_save(now, connection)
    rows = [(object_name, record_id, kind, value, at, at) for record_id, kind, value in keys]
    names = ("object_type", "record_id", "kind", "value", "created_at", "updated_at")
    insert_rows(DuplicateKey, names, rows)


def job_record(job: ImportJob, record_id: int, action: str, previous=None) -> tuple:
    """An ImportJobRecord's values for insert_job_records (a model instance costs more
    to make than to insert)."""
    return (record_id, action, previous)


def insert_job_records(job: ImportJob, records: list[tuple], now: datetime.datetime) -> None:
    """The batch's ImportJobRecord rows (job_record's), one INSERT or COPY."""
    meta = ImportJobRecord._meta
    at = meta.get_field("created_at").get_db_prep_save(now, connection)
    previous = meta.get_field("previous_values")
    rows = [
        (
            job.pk,
            record_id,
            action,
            None if values is None else previous.get_db_prep_save(values, connection),
            at,
            at,
        )
        for record_id, action, values in records
    ]
    names = ("job_id", "record_id", "action", "previous_values", "created_at", "updated_at")
    insert_rows(ImportJobRecord, names, rows)


def _row_of(duplicate_of: Any) -> str:
    if isinstance(duplicate_of, Pending):
        return f"row {duplicate_of.number}"
    if isinstance(duplicate_of, int):
        return "an existing record"
    return str(duplicate_of)


def _given(object_def: ObjectDef, pending: Pending) -> list[str]:
    """The fields a row gives a value (blank cells leave a field as it is, as Data Loader
    does unless told to write nulls)."""
    return [
        name
        for name, text in pending.texts.items()
        if name != EXTERNAL_ID and text.strip() and object_def.field(name) is not None
    ]


def _merge(object_def: ObjectDef, pending: Pending, target: Pending) -> None:
    for name in _given(object_def, pending):
        if name == "owner":
            owner = getattr(pending.record, "owner", None)
            if isinstance(target.record, Lead) and owner is not None:
                set_lead_owner(target.record, owner)
            elif owner is not None:
                target.record.owner = owner  # type: ignore[attr-defined]
            continue
        setattr(target.record, name, getattr(pending.record, name))


def _update_existing(
    job: ImportJob,
    object_def: ObjectDef,
    actor: User | None,
    updates: dict[int, list[Pending]],
    outcome: Outcome,
    records: list[tuple],
    events: list[AuditEvent],
    externals_new: list[ExternalId],
    now: datetime.datetime,
) -> None:
    """Apply rows to existing records (locked), keeping their previous values."""
    model = MODELS[object_def.name]
    locked = model.objects.select_for_update().filter(pk__in=list(updates)).order_by("pk")
    existing = {record.pk: record for record in locked}
    editable: set[int] = set(existing)
    condition = editable_q(actor, model) if actor is not None else None
    if condition:
        editable = set(
            model.objects.filter(condition, pk__in=list(existing)).values_list("pk", flat=True)
        )
    changed: list[models.Model] = []
    names: set[str] = set()
    for record_id, pendings in updates.items():
        record = existing.get(record_id)
        for pending in pendings:
            refusal = None
            if record is None:
                refusal = DomainError(
                    ErrorCode.NOT_FOUND, "id: the matching record was deleted", ["id"]
                )
            elif record_id not in editable:
                refusal = DomainError(
                    ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY,
                    f"you may not change {record.public_id}, the record this row matches",  # type: ignore[attr-defined]
                    [],
                )
            elif isinstance(record, Lead) and record.is_converted:
                refusal = DomainError(
                    ErrorCode.CANNOT_UPDATE_CONVERTED_LEAD,
                    f"lead {record.public_id} was converted and is read-only",
                    ["id"],
                )
            if refusal is not None:
                outcome.fail(job, pending.number, refusal, pending.texts)
                continue
            assert record is not None
            given = _given(object_def, pending)
            attnames = _attnames(model, given)
            before = snapshot(record, attnames)
            for name in given:
                if name == "owner":
                    owner = pending.record.owner  # type: ignore[attr-defined]
                    if isinstance(record, Lead):
                        set_lead_owner(record, owner)
                    else:
                        record.owner = owner  # type: ignore[attr-defined]
                else:
                    setattr(record, name, getattr(pending.record, name))
            changes = changes_since(before, record)
            outcome.updated += 1
            if pending.external_id:
                externals_new.append(
                    ExternalId(
                        target=object_def.name,
                        external_id=pending.external_id,
                        record_id=record.pk,
                        job=job,
                    )
                )
            if not changes:
                continue
            records.append(
                job_record(
                    job,
                    record.pk,
                    RecordAction.UPDATED,
                    {name: stored(before[name]) for name in changes},
                )
            )
            names.update(changes)
            events.append(
                audit_event(
                    actor,
                    record,
                    AuditAction.UPDATE,
                    {
                        name.removesuffix("_id"): [json_value(old), json_value(new)]
                        for name, (old, new) in changes.items()
                    },
                )
            )
            changed.append(record)
    if changed:
        keys = match_keys_of(model, names)
        for record in changed:
            record.updated_at = now  # type: ignore[attr-defined]
            for key in keys:
                key_field = model._meta.get_field(key)
                setattr(record, key, key_field.key_of(record))  # type: ignore[attr-defined]
        model.objects.bulk_update(changed, [*names, *keys, "updated_at"])
        refile_duplicate_keys(object_def.name, [record.pk for record in changed])


def refile_duplicate_keys(object_name: str, record_ids: list[int]) -> None:
    """Refile changed records under their new blocking keys (duplicates app)."""
    from dealflow.duplicates.keys import OBJECT_NAMES
    from dealflow.duplicates.services import duplicate_keys_refresh

    if object_name in OBJECT_NAMES and record_ids:
        duplicate_keys_refresh(object_name=object_name, record_ids=record_ids)


def _attnames(model: type[models.Model], names: list[str]) -> list[str]:
    """Column attribute names of native field names (owner -> its two columns on a lead)."""
    result = []
    for name in names:
        if name == "owner" and model is Lead:
            result += ["owner_user_id", "owner_queue_id"]
        else:
            result.append(model._meta.get_field(name).attname)
    return result
