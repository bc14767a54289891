"""Reads of import jobs: a user sees their own jobs; admins see every job."""

from __future__ import annotations

from django.db.models import QuerySet

from dealflow.core.access import is_admin
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.dataio.models import ImportJob
from dealflow.people.models import User


def import_jobs(*, actor: User | None) -> QuerySet[ImportJob]:
    """The jobs the actor may see, newest first."""
    jobs = ImportJob.objects.select_related("actor")
    return jobs if is_admin(actor) else jobs.filter(actor=actor)


def import_job_get(*, actor: User | None, job_id: int | str) -> ImportJob:
    """One job the actor may see, or NOT_FOUND (another user's job is not named)."""
    job = None
    if str(job_id).isdigit():
        job = import_jobs(actor=actor).filter(pk=int(job_id)).first()
    if job is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"no import job {job_id}", ["id"])
    return job


def import_job_json(job: ImportJob) -> dict[str, object]:
    """A job as the API and the progress page show it."""
    return {
        "id": job.pk,
        "object": job.target,
        "file_name": job.file_name,
        "size": job.size,
        "sha256": job.sha256,
        "status": job.status,
        "message": job.message,
        "options": job.options,
        "mapping": job.mapping,
        "rows_read": job.rows_read,
        "rows_created": job.rows_created,
        "rows_updated": job.rows_updated,
        "rows_skipped": job.rows_skipped,
        "rows_failed": job.rows_failed,
        "last_committed_row": job.last_committed_row,
        "errors": job.errors.count(),
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }
