"""Background jobs of automation: Celery tasks, run by a worker or, without a broker,
in-process."""

from __future__ import annotations

from dealflow.automation.scoring import lead_scores_recompute
from dealflow.celery import app


@app.task(name="dealflow.automation.tasks.score_leads")
def score_leads(lead_ids: list[int] | None = None) -> int:
    """Recompute the rule scores of these leads (primary keys), or of every open lead
    when none are given; returns how many were scored.

    One service call (automation.scoring.lead_scores_recompute), which only writes the
    current figures, so a retry is safe.
    """
    return lead_scores_recompute(lead_ids=lead_ids)
