"""Background jobs: Celery tasks, run by a worker or, without a broker, in-process."""

from __future__ import annotations

from dealflow.celery import app
from dealflow.core.idempotency import idempotency_purge


@app.task(name="dealflow.core.tasks.purge_idempotency_records")
def purge_idempotency_records() -> int:
    """Delete expired idempotency records (scheduled hourly); return how many."""
    return idempotency_purge()
