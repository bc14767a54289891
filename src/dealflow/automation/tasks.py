"""Background jobs of automation: Celery tasks, run by a worker or, without a broker,
in-process."""

from __future__ import annotations

import logging

from django.db import transaction

from dealflow.automation import predictive
from dealflow.automation.models import AssignmentDecision
from dealflow.automation.scoring import lead_score_refresh, lead_scores_recompute
from dealflow.automation.services import lead_assign
from dealflow.celery import app
from dealflow.core.errors import DomainError
from dealflow.leads.models import Lead

logger = logging.getLogger(__name__)


@app.task(name="dealflow.automation.tasks.score_leads")
def score_leads(lead_ids: list[int] | None = None) -> int:
    """Recompute the rule scores of these leads (primary keys), or of every open lead
    when none are given; returns how many were scored.

    One service call (automation.scoring.lead_scores_recompute), which only writes the
    current figures, so a retry is safe.
    """
    return lead_scores_recompute(lead_ids=lead_ids)


@app.task(name="dealflow.automation.tasks.refresh_lead_score")
def refresh_lead_score(lead_id: int, rescore: bool = True) -> dict[str, int]:
    """Bring one lead's rule score (when `rescore`) and its predicted likelihood up to
    date (primary key in); queued on commit after an event of the lead or a change of a
    field fit rules or the model read (automation.scoring.lead_changed). Returns
    {"scored", "predicted"} (0 or 1 each).

    One service call (automation.scoring.lead_score_refresh), which only writes the
    current figures, so a retry is safe; a lead deleted, converted or closed since is
    left as it is.
    """
    return lead_score_refresh(lead_id=lead_id, rescore=rescore)


@app.task(name="dealflow.automation.tasks.assign_leads")
def assign_leads(lead_ids: list[int]) -> dict[str, int]:
    """Run the active assignment rules on these new leads (primary keys), as the system,
    each in its own transaction (automation.services.lead_assign, which records the
    decision); what lead_create queues with DEALFLOW_ASSIGNMENT=worker.

    Safe to retry: a lead that already has a decision is skipped, under its row lock, so
    a job delivered twice deals each lead once. Leads deleted or converted since, or
    created while the rules have since been switched off, are skipped too (they keep
    their owner). Returns {"assigned", "skipped"} counts.
    """
    counts = {"assigned": 0, "skipped": 0}
    for lead_id in lead_ids:
        with transaction.atomic():
            # Locked first: a second delivery of this job waits here, then finds the decision.
            found = list(Lead.objects.select_for_update().filter(pk=lead_id).values_list("pk"))
            if not found or AssignmentDecision.objects.filter(lead_id=lead_id).exists():
                counts["skipped"] += 1
                continue
            try:
                lead_assign(actor=None, lead=lead_id)
            except DomainError:  # converted since, or no rules active any more
                counts["skipped"] += 1
                continue
        counts["assigned"] += 1
    return counts


@app.task(name="dealflow.automation.tasks.train_predictive_model")
def train_predictive_model(
    minimum_leads: int | None = None, minimum_converted: int | None = None
) -> int | None:
    """Train the predictive scoring model on the closed leads (weekly); returns the new
    model's primary key, or None when the history is too short (the reason is logged,
    nothing is stored, and a retry would refuse again).

    One service call (automation.predictive.predictive_model_train); a retry trains
    again and keeps the earlier model as history, so it is safe.
    """
    try:
        return predictive.predictive_model_train(
            actor=None,
            minimum_leads=predictive.MINIMUM_LEADS if minimum_leads is None else minimum_leads,
            minimum_converted=(
                predictive.MINIMUM_CONVERTED if minimum_converted is None else minimum_converted
            ),
        ).pk
    except DomainError as refused:
        logger.warning("predictive scoring not trained: %s", refused.message)
        return None


@app.task(name="dealflow.automation.tasks.predict_leads")
def predict_leads(lead_ids: list[int] | None = None) -> int:
    """Recompute the predicted likelihoods of these open leads (primary keys), or of every
    open lead (nightly), with the active model; returns how many, 0 without a model.

    One service call (automation.predictive.lead_likelihoods_recompute), which only
    writes the current figures, so a retry is safe.
    """
    return predictive.lead_likelihoods_recompute(lead_ids=lead_ids)
