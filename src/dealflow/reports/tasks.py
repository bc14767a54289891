"""Background jobs of reports: Celery tasks, run by a worker or, without a broker, in-process."""

from __future__ import annotations

import datetime

from dealflow.celery import app
from dealflow.reports.snapshots import pipeline_snapshot_take


@app.task(name="dealflow.reports.tasks.take_pipeline_snapshot")
def take_pipeline_snapshot(day: str | None = None) -> int:
    """Store the pipeline snapshot of `day` (ISO date; default today in the organisation's
    time zone) and return how many rows it holds. Safe to retry: a day taken again is
    replaced (reports.snapshots.pipeline_snapshot_take)."""
    return pipeline_snapshot_take(day=datetime.date.fromisoformat(day) if day else None)
