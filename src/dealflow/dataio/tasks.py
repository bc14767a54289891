"""Background jobs of dataio: Celery tasks, run by a worker or, without a broker, in-process."""

from __future__ import annotations

from dealflow.celery import app
from dealflow.core.errors import DomainError
from dealflow.dataio.services import import_run


@app.task(name="dealflow.dataio.tasks.run_import")
def run_import(job_id: int) -> str:
    """Run (or resume) an import job by its id; returns its status.

    One service call (dataio.services.import_run), which starts after the job's last
    committed batch, so a retry, or a second worker, continues it without doubling rows.
    A refusal (a changed file) is recorded on the job, not retried.
    """
    try:
        return import_run(job_id=job_id).status
    except DomainError as error:
        return f"failed: {error.message}"
