"""Import jobs: start one, run (or resume) it batch by batch, revert it (docs/import.md).

A job is started by `import_start`, which refuses a file that cannot be imported whole
(empty, not UTF-8, no header, no data row, a required column missing) before anything
is written. `import_run` then commits the file in batches; each batch's records, their
`ImportJobRecord` rows, its errors and the job's counts and `last_committed_row` are one
transaction, so a run stopped at any moment (even `kill -9`) continues where it was
with nothing lost or doubled. `import_revert` removes what a job created and puts back
what it updated.
"""

from __future__ import annotations

import csv
import functools
import io
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from dealflow.core.access import is_admin
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.metadata import get_object
from dealflow.core.models import AuditAction, AuditEvent
from dealflow.dataio.imports import precheck
from dealflow.dataio.imports.precheck import Prechecker
from dealflow.dataio.imports.reader import (
    file_error,
    inspect_file,
    map_header,
    open_rows,
    sniff_dialect,
)
from dealflow.dataio.imports.writer import (
    MODELS,
    ValueChecks,
    refile_duplicate_keys,
    write_batch,
)
from dealflow.dataio.models import (
    ExternalId,
    ImportJob,
    ImportJobRecord,
    ImportMapping,
    ImportObject,
    ImportRowError,
    ImportStatus,
    OnDuplicate,
    RecordAction,
)
from dealflow.leads.models import Lead
from dealflow.people.models import User

DEFAULT_BATCH_SIZE = 5_000
MAX_BATCH_SIZE = 50_000
# Called inside each batch's transaction with the batch's last row number; tests set it
# to simulate a crash in the middle of a batch.
batch_hook: Callable[[int], None] | None = None


class AnotherRun(Exception):
    """Another run of the same job committed the batch this run was about to write."""


def imports_directory() -> Path:
    """Where uploaded files and error reports are kept (under var/)."""
    directory = Path(settings.VAR_DIR) / "imports"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _target(name: str) -> str:
    for choice in ImportObject:
        if name.lower() in (choice.value.lower(), choice.label.lower()):
            return choice.value
    raise DomainError(
        ErrorCode.INVALID_FIELD,
        f"object: expected leads, accounts, contacts or opportunities, got {name!r}",
        ["object"],
    )


def require_import(actor: User | None, target: str) -> None:
    """Admins and managers import every object; a sales rep imports leads only (which
    they own). None is the system (the console)."""
    if actor is None or is_admin(actor) or actor.role == "manager":
        return
    if target != ImportObject.LEAD:
        raise DomainError(
            ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY,
            f"a sales rep imports leads only, not {target} records",
        )


def import_mapping_get(name: str, target: str) -> dict[str, str]:
    found = ImportMapping.objects.filter(name=name, target=target).first()
    if found is None:
        raise DomainError(
            ErrorCode.NOT_FOUND, f"mapping: no saved mapping {name!r} for {target}", ["mapping"]
        )
    return dict(found.mapping)


def import_start(
    *,
    actor: User | None,
    target: str,
    path: Path,
    file_name: str = "",
    on_duplicate: str = OnDuplicate.SKIP,
    dry_run: bool = False,
    mapping_name: str | None = None,
    save_mapping: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    copy: bool = False,
) -> ImportJob:
    """Check a file and create its job (not run yet: `import_run`).

    Refuses (DomainError; nothing is written) an empty file, one that is not UTF-8
    (naming the byte and line), one without a header or a data row, a header naming a
    field twice or missing a required field's column. Unknown and read-only columns are
    recorded as the report's row-0 lines and ignored. `copy` keeps a copy under var/
    (uploads); otherwise the job reads `path` where it is, and checks on each resume
    that the file is unchanged (SHA-256).
    """
    target = _target(target)
    require_import(actor, target)
    if on_duplicate not in OnDuplicate.values:
        raise DomainError(
            ErrorCode.INVALID_FIELD,
            f"on_duplicate: expected skip, update or create, got {on_duplicate!r}",
            ["on_duplicate"],
        )
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise DomainError(
            ErrorCode.NUMBER_OUTSIDE_VALID_RANGE,
            f"batch_size: from 1 to {MAX_BATCH_SIZE}, got {batch_size}",
            ["batch_size"],
        )
    path = Path(path)
    if not path.is_file():
        raise file_error(f"no file {str(path)!r}")
    facts = inspect_file(path)
    saved = import_mapping_get(mapping_name, target) if mapping_name else None
    object_def = get_object(target)
    with open_rows(path, sniff_dialect(path)) as (header, rows):
        header_mapping = map_header(object_def, header, saved)
        if next(rows, None) is None:
            raise file_error("the file has a header row but no data rows")
    if copy:
        kept = imports_directory() / f"{uuid.uuid4().hex}.csv"
        shutil.copyfile(path, kept)
        path = kept
    with transaction.atomic():
        job = ImportJob.objects.create(
            target=target,
            file_path=str(path.resolve()),
            file_name=file_name or path.name,
            size=facts.size,
            sha256=facts.sha256,
            mapping=header_mapping.mapping,
            options={"on_duplicate": on_duplicate, "dry_run": dry_run, "batch_size": batch_size},
            actor=actor if getattr(actor, "pk", None) else None,
        )
        notes = [
            ImportRowError(
                job=job,
                row_number=0,
                field=text,
                code=str(ErrorCode.INVALID_FIELD),
                message=f"column {text!r} matches no {target} field; ignored",
            )
            for text in header_mapping.unknown
        ] + [
            ImportRowError(
                job=job,
                row_number=0,
                field=text,
                code=str(ErrorCode.INVALID_FIELD_FOR_INSERT_UPDATE),
                message=f"column {text!r} is a field nobody sets; ignored",
            )
            for text in header_mapping.not_writable
        ]
        ImportRowError.objects.bulk_create(notes)
        if save_mapping:
            ImportMapping.objects.update_or_create(
                name=save_mapping, target=target, defaults={"mapping": header_mapping.mapping}
            )
    return job


def _batches(rows: Iterator, size: int) -> Iterator[list]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _assign(actor: User | None, lead_ids: list[int]) -> None:
    """Run the assignment rules set-based on leads imported without an owner (automation);
    skipped when no rules are active."""
    if not lead_ids:
        return
    try:
        from dealflow.automation.selectors import active_rule_set
        from dealflow.automation.services import leads_assign_bulk
    except ImportError:  # automation's bulk assignment not installed: owners stay
        return
    if active_rule_set() is None:
        return
    leads_assign_bulk(actor=actor, lead_ids=lead_ids)


def import_run(*, job_id: int, progress: Callable[[ImportJob], None] | None = None) -> ImportJob:
    """Run a job from its last committed row to the end; safe to call again (resume).

    A job done or reverted is returned as it is. The file must be the one the job was
    started with (same SHA-256): FIELD_INTEGRITY_EXCEPTION otherwise, and the job is
    marked failed. A dry run writes its counts and errors but rolls back every record.
    """
    job = ImportJob.objects.select_related("actor").get(pk=job_id)
    if job.status in (ImportStatus.DONE, ImportStatus.REVERTED):
        return job
    path = Path(job.file_path)
    try:
        facts = inspect_file(path)
    except DomainError as error:
        _fail(job, error.message)
        raise
    if facts.sha256 != job.sha256:
        message = f"the file {job.file_name!r} changed since the import started; start a new one"
        _fail(job, message)
        raise DomainError(ErrorCode.FIELD_INTEGRITY_EXCEPTION, message, ["file"])
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.RUNNING,
        started_at=job.started_at or timezone.now(),
        message="",
    )
    job.refresh_from_db()
    object_def = get_object(job.target)
    actor = job.actor
    checks = ValueChecks(object_def, actor)
    dry_run = bool(job.options.get("dry_run"))
    seen: dict[str, Any] | None = {} if dry_run else None
    size = int(job.options.get("batch_size") or DEFAULT_BATCH_SIZE)
    ahead: Prechecker | None = None
    try:
        dialect = sniff_dialect(path)
        with open_rows(path, dialect, skip=job.last_committed_row) as (header, rows):
            columns = map_header(object_def, header, job.mapping).columns
            if precheck.wanted(facts.size):
                compiled = checks.compiled(columns, len(header))
                ahead = Prechecker(compiled, path, dialect, job.last_committed_row, size)
            for batch in _batches(rows, size):
                prechecked = ahead.results(batch) if ahead is not None else None
                _run_batch(
                    job, object_def, actor, checks, columns, len(header), batch, seen, prechecked
                )
                job.refresh_from_db()
                if progress is not None:
                    progress(job)
    except AnotherRun:
        job.refresh_from_db()
        return job  # the other run goes on and finishes the job
    except DomainError as error:
        _fail(job, error.message)
        raise
    except Exception as error:
        _fail(job, f"stopped by an error: {error}; resume the job to continue")
        raise
    finally:
        if ahead is not None:
            ahead.close()
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.DONE, finished_at=timezone.now())
    job.refresh_from_db()
    return job


def _run_batch(
    job, object_def, actor, checks, columns, header_length, batch, seen, prechecked=None
) -> None:
    dry_run = seen is not None
    with transaction.atomic():
        # Another run of the same job (a retried task) may have committed this batch:
        # the job's row, locked, says where the committed rows end.
        committed = (
            ImportJob.objects.select_for_update()
            .filter(pk=job.pk)
            .values_list("last_committed_row", flat=True)
            .get()
        )
        if committed != batch[0].number - 1:
            raise AnotherRun(committed)
        write = functools.partial(
            write_batch,
            job=job,
            object_def=object_def,
            actor=actor,
            checks=checks,
            columns=columns,
            header_length=header_length,
            rows=batch,
            seen=seen,
            prechecked=prechecked,
        )
        if dry_run:
            with transaction.atomic():  # a savepoint: the batch is checked, then undone
                outcome = write()
                transaction.set_rollback(True)
        else:
            outcome = write()
            if object_def.name == "Lead":
                _assign(actor, outcome.created_lead_ids)
        ImportRowError.objects.bulk_create(outcome.errors)
        ImportJob.objects.filter(pk=job.pk).update(
            rows_read=F("rows_read") + len(batch),
            rows_created=F("rows_created") + outcome.created,
            rows_updated=F("rows_updated") + outcome.updated,
            rows_skipped=F("rows_skipped") + outcome.skipped,
            rows_failed=F("rows_failed") + outcome.failed,
            last_committed_row=batch[-1].number,
            updated_at=timezone.now(),
        )
        if batch_hook is not None:
            batch_hook(batch[-1].number)


def _fail(job: ImportJob, message: str) -> None:
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.FAILED, message=message)


def import_revert(*, actor: User | None, job_id: int) -> ImportJob:
    """Remove what a job created and put back the values it overwrote, in one transaction.

    Only the job's own user or an admin may. Refused (nothing changes) for a dry run, a
    job already reverted or still pending, and when a lead it created has since been
    converted (the conversion's account, contact and deal would lose their source):
    FIELD_INTEGRITY_EXCEPTION naming up to ten of them. A record edited since the import
    is still reverted: the job's values are what is undone.
    """
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if actor is not None and not is_admin(actor) and job.actor_id != actor.pk:
            raise DomainError(
                ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY,
                "only its user or an admin reverts an import",
            )
        if job.status == ImportStatus.REVERTED:
            raise DomainError(
                ErrorCode.FIELD_INTEGRITY_EXCEPTION, f"import {job.pk} was already reverted"
            )
        if job.options.get("dry_run"):
            raise DomainError(
                ErrorCode.FIELD_INTEGRITY_EXCEPTION,
                f"import {job.pk} was a dry run: nothing to revert",
            )
        model = MODELS[job.target]
        created = ImportJobRecord.objects.filter(job=job, action=RecordAction.CREATED)
        created_ids = created.values("record_id")
        if model is Lead:
            converted = list(
                Lead.objects.filter(pk__in=created_ids, is_converted=True).values_list(
                    "pk", flat=True
                )[:10]
            )
            if converted:
                from dealflow.core import ids

                names = ", ".join(ids.encode("Lead", key) for key in converted)
                raise DomainError(
                    ErrorCode.FIELD_INTEGRITY_EXCEPTION,
                    f"leads this import created were converted since ({names}); "
                    "nothing was reverted",
                )
        acting = actor if getattr(actor, "pk", None) else None
        # Updates first, newest first, so a record updated twice gets its first value back.
        updated = (
            ImportJobRecord.objects.filter(job=job, action=RecordAction.UPDATED)
            .exclude(record_id__in=created_ids)
            .order_by("-id")
        )
        restored: dict[int, dict[str, Any]] = {}
        for record in updated.iterator(chunk_size=2000):
            restored.setdefault(record.record_id, {}).update(record.previous_values or {})
        _restore(model, restored, acting)
        deleted = 0
        batch: list[int] = []
        for key in created.values_list("record_id", flat=True).iterator(chunk_size=5000):
            batch.append(key)
            if len(batch) >= 5000:
                deleted += _delete(model, job, batch, acting)
                batch = []
        if batch:
            deleted += _delete(model, job, batch, acting)
        ExternalId.objects.filter(job=job, target=job.target).delete()
        job.status = ImportStatus.REVERTED
        job.message = f"reverted: {deleted} records removed, {len(restored)} restored"
        job.save(update_fields=["status", "message", "updated_at"])
    return job


def _restore(model, restored: dict[int, dict[str, Any]], actor) -> None:
    from dealflow.core.audit import audit_event, changes_since, snapshot
    from dealflow.core.fields import match_keys_of

    if not restored:
        return
    names = sorted({name for values in restored.values() for name in values})
    keys = match_keys_of(model, names)
    records = list(model.objects.select_for_update().filter(pk__in=list(restored)))
    events = []
    now = timezone.now()
    for record in records:
        values = restored[record.pk]
        before = snapshot(record, values)
        for name, value in values.items():
            setattr(record, name, model._meta.get_field(name).to_python(value))
        for key in keys:
            setattr(record, key, model._meta.get_field(key).key_of(record))
        record.updated_at = now
        events.append(audit_event(actor, record, AuditAction.UPDATE, changes_since(before, record)))
    model.objects.bulk_update(records, [*names, *keys, "updated_at"], batch_size=2000)
    AuditEvent.objects.bulk_create(events)
    refile_duplicate_keys(model.object_name, [record.pk for record in records])


def _delete(model, job: ImportJob, keys: list[int], actor) -> int:
    from dealflow.duplicates.keys import OBJECT_NAMES
    from dealflow.duplicates.services import duplicate_keys_delete

    model.objects.filter(pk__in=keys).delete()
    if job.target in OBJECT_NAMES:
        duplicate_keys_delete(object_name=job.target, record_ids=keys)
    AuditEvent.objects.create(
        actor=actor,
        object_name="ImportJob",
        record_id=job.pk,
        action=AuditAction.DELETE,
        changes={"object": [None, job.target], "deleted": [keys, None]},
    )
    return len(keys)


def error_report(job: ImportJob) -> Iterator[str]:
    """The job's error report as CSV lines: row number, field, value, message."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["row", "field", "value", "code", "message"])
    yield buffer.getvalue()
    errors = ImportRowError.objects.filter(job=job).order_by("row_number", "id")
    for error in errors.values_list("row_number", "field", "value", "code", "message").iterator(
        chunk_size=2000
    ):
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(error)
        yield buffer.getvalue()


def error_report_write(job: ImportJob) -> Path:
    """Write the error report under var/imports/ and return its path."""
    path = imports_directory() / f"import-{job.pk}-errors.csv"
    with path.open("w", encoding="utf-8", newline="") as stream:
        for line in error_report(job):
            stream.write(line)
    return path
