"""Background jobs of duplicate control: Celery tasks, run by a worker or, without a
broker, in-process."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from dealflow.celery import app
from dealflow.duplicates.keys import OBJECT_NAMES
from dealflow.duplicates.scan import duplicates_scan


@app.task(name="dealflow.duplicates.tasks.scan_duplicates")
def scan_duplicates(object_names: list[str] | None = None) -> list[dict[str, Any]]:
    """Scan Lead, Contact and Account (or those named) for duplicates into the review
    queue; safe to retry (a rerun finds the groups it made). Returns each ScanResult
    as a dict."""
    return [asdict(duplicates_scan(object_name=name)) for name in object_names or OBJECT_NAMES]
