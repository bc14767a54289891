"""Writes for opportunities, their contact roles and tasks."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from dealflow.accounts.models import Account, Contact
from dealflow.core.access import require_admin, require_edit
from dealflow.core.audit import changes_since, creation_changes, record_audit, snapshot
from dealflow.core.cache import configuration_changed
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.metadata import get_object
from dealflow.core.models import AuditAction
from dealflow.core.services import configuration_name, locked_configuration_row, record_delete
from dealflow.core.validation import apply_values, clean_values
from dealflow.leads.models import Lead
from dealflow.people.models import User
from dealflow.sales.models import (
    ForecastCategory,
    Opportunity,
    OpportunityContactRole,
    OpportunityHistory,
    OpportunityStage,
    Task,
    TaskPriority,
    TaskStatus,
    TaskType,
)
from dealflow.sales.selectors import stages

# opportunity_stage_set's `stall_days` when the caller leaves it as it is (None clears it).
UNCHANGED: Any = object()
MAX_STALL_DAYS = 3650

# A change of any of these appends an OpportunityHistory row.
HISTORY_FIELDS = ("amount", "probability", "stage", "close_date")


def apply_stage(opportunity: Opportunity, stage: OpportunityStage, cleaned: Mapping[str, Any]):
    """Take probability and forecast category from the stage unless given in the same write."""
    opportunity.stage = stage
    opportunity.is_closed = stage.is_closed
    opportunity.is_won = stage.is_won
    if cleaned.get("probability") is None:
        opportunity.probability = stage.probability
    if not cleaned.get("forecast_category"):
        opportunity.forecast_category = stage.forecast_category


def check_stage_rules(opportunity: Opportunity) -> None:
    """The stage's rules: a lost stage needs a loss reason (REQUIRED_FIELD_MISSING); the
    forecast category agrees with a closed or open stage (FIELD_INTEGRITY_EXCEPTION).
    Shared with imports (dataio)."""
    stage = opportunity.stage
    if stage.is_lost and not opportunity.loss_reason:
        raise DomainError(
            ErrorCode.REQUIRED_FIELD_MISSING,
            f"loss_reason: required when moving to the lost stage {stage.name!r}",
            ["loss_reason"],
        )
    # A closed deal's forecast category is fixed; an open one cannot claim to be closed.
    if stage.is_closed and opportunity.forecast_category != stage.forecast_category:
        raise DomainError(
            ErrorCode.FIELD_INTEGRITY_EXCEPTION,
            f"forecast_category_name: must be {stage.forecast_category!r} in stage {stage.name!r}",
            ["forecast_category_name"],
        )
    if not stage.is_closed and opportunity.forecast_category == ForecastCategory.CLOSED:
        raise DomainError(
            ErrorCode.FIELD_INTEGRITY_EXCEPTION,
            f"forecast_category_name: 'Closed' needs a closed stage, not {stage.name!r}",
            ["forecast_category_name"],
        )


def history_row(
    opportunity: Opportunity,
    *,
    actor: User | None,
    previous_amount=None,
    previous_close_date=None,
    previous_stage_name: str = "",
    at: datetime.datetime | None = None,
) -> OpportunityHistory:
    """An unsaved history snapshot of the opportunity's current values."""
    return OpportunityHistory(
        opportunity=opportunity,
        stage_name=opportunity.stage.name,
        amount=opportunity.amount,
        probability=opportunity.probability,
        forecast_category=opportunity.forecast_category,
        close_date=opportunity.close_date,
        previous_amount=previous_amount,
        previous_close_date=previous_close_date,
        previous_stage_name=previous_stage_name,
        created_by=actor if actor and actor.pk else None,
        created_at=at or timezone.now(),
    )


# Each stage change's stay end: the next stage change of the same deal (created_at, id
# order), by LEAD() over the stage-change rows; the same statement on SQLite (3.33+:
# UPDATE ... FROM) and PostgreSQL. Used by the 0008 migration's back-fill too.
STAGE_STAYS_SQL = """
UPDATE sales_opportunityhistory SET stage_left_at = stays.left_at
FROM (
    SELECT id, LEAD(created_at) OVER (
        PARTITION BY opportunity_id ORDER BY created_at, id
    ) AS left_at
    FROM sales_opportunityhistory
    WHERE stage_name <> previous_stage_name{deals}
) AS stays
WHERE sales_opportunityhistory.id = stays.id
  AND {changed}
"""


def stage_stays_record(opportunity_ids: Iterable[int] | None = None) -> int:
    """Store when each stay in a stage ended (OpportunityHistory.stage_left_at) for the
    given deals' stage changes (every deal's for None): the created_at of the deal's
    next stage change, or null for its current stage. One UPDATE; returns the rows
    changed. Call it after writing history rows of a deal otherwise than through
    opportunity_create/opportunity_update (bulk timelines: demo/data.py; the 1M-row
    benchmarks). The stays are DOMAIN.md section 4's, read by reports' stage_duration."""
    from django.db import connection

    changed = (
        "sales_opportunityhistory.stage_left_at IS DISTINCT FROM stays.left_at"
        if connection.vendor == "postgresql"
        else "sales_opportunityhistory.stage_left_at IS NOT stays.left_at"
    )
    deals, params = "", []
    if opportunity_ids is not None:
        params = sorted({int(pk) for pk in opportunity_ids})
        if not params:
            return 0
        deals = f" AND opportunity_id IN ({', '.join(['%s'] * len(params))})"
    with connection.cursor() as cursor:
        cursor.execute(STAGE_STAYS_SQL.format(deals=deals, changed=changed), params)
        return cursor.rowcount


def first_open_stage() -> OpportunityStage:
    """The stage new deals start in: the lowest sort order among active open stages."""
    for stage in stages.get():
        if stage.is_active and not stage.is_closed:
            return stage
    raise DomainError(
        ErrorCode.FIELD_INTEGRITY_EXCEPTION, "No active open opportunity stage is configured"
    )


def opportunity_create(*, actor: User, data: Mapping[str, Any]) -> Opportunity:
    """Create an opportunity; stage sets probability, forecast category, closed and won."""
    cleaned = clean_values(get_object("Opportunity"), data, creating=True)
    opportunity = Opportunity(owner=cleaned.pop("owner", None) or actor)
    apply_values(opportunity, cleaned)
    apply_stage(opportunity, cleaned["stage"], cleaned)
    check_stage_rules(opportunity)
    with transaction.atomic():
        opportunity.save()
        history_row(opportunity, actor=actor).save()
        names = [field.name for field in get_object("Opportunity").fields if field.createable]
        record_audit(actor, opportunity, AuditAction.CREATE, creation_changes(opportunity, names))
    return opportunity


def opportunity_update(
    *, actor: User, opportunity: Opportunity, data: Mapping[str, Any]
) -> Opportunity:
    """Change an opportunity; a new stage re-derives probability and forecast category.

    Probability and forecast category given in the same write override the stage's
    values. A change of amount, probability, stage or close date appends a history row.
    """
    cleaned = clean_values(get_object("Opportunity"), data, creating=False)
    with transaction.atomic():
        opportunity = (
            Opportunity.objects.select_for_update().select_related("stage").get(pk=opportunity.pk)
        )
        require_edit(actor, opportunity)
        watched = {*cleaned, *HISTORY_FIELDS, "forecast_category", "is_closed", "is_won"}
        before = snapshot(opportunity, watched)
        previous_stage = opportunity.stage
        apply_values(opportunity, cleaned)
        if "stage" in cleaned and cleaned["stage"].pk != previous_stage.pk:
            apply_stage(opportunity, cleaned["stage"], cleaned)
        check_stage_rules(opportunity)
        changes = changes_since(before, opportunity)
        if not changes:
            return opportunity
        opportunity.save(update_fields=[*changes, "updated_at"])
        if any(name in changes for name in HISTORY_FIELDS):
            history_row(
                opportunity,
                actor=actor,
                previous_amount=before["amount"],
                previous_close_date=before["close_date"],
                previous_stage_name=previous_stage.name,
            ).save()
            if opportunity.stage.name != previous_stage.name:
                stage_stays_record([opportunity.pk])  # the stay it left ends now
        record_audit(actor, opportunity, AuditAction.UPDATE, changes)
    return opportunity


def contact_role_set(
    *,
    actor: User,
    opportunity: Opportunity,
    contact: Contact,
    role: str = "",
    is_primary: bool = False,
) -> OpportunityContactRole:
    """Give a contact a role on an opportunity; a new primary replaces the old one."""
    cleaned = clean_values(
        get_object("OpportunityContactRole"),
        {"opportunity": opportunity, "contact": contact, "role": role, "is_primary": is_primary},
        creating=True,
    )
    return _write_contact_role(actor, **cleaned)


def contact_role_create(*, actor: User, data: Mapping[str, Any]) -> OpportunityContactRole:
    """contact_role_set from native field values (opportunity, contact, role, is_primary)."""
    cleaned = clean_values(get_object("OpportunityContactRole"), data, creating=True)
    return _write_contact_role(actor, **cleaned)


def contact_role_update(
    *, actor: User, contact_role: OpportunityContactRole, data: Mapping[str, Any]
) -> OpportunityContactRole:
    """Change a contact role's role or primary flag (its deal and contact stay)."""
    cleaned = clean_values(get_object("OpportunityContactRole"), data, creating=False)
    with transaction.atomic():
        # What is kept comes from the row as it is now, not from the caller's copy.
        current = OpportunityContactRole.objects.select_for_update().get(pk=contact_role.pk)
        return _write_contact_role(
            actor,
            opportunity=current.opportunity,
            contact=current.contact,
            role=cleaned.get("role", current.role),
            is_primary=cleaned.get("is_primary", current.is_primary),
        )


def _write_contact_role(
    actor: User,
    *,
    opportunity: Opportunity,
    contact: Contact,
    role: str = "",
    is_primary: bool = False,
) -> OpportunityContactRole:
    with transaction.atomic():
        # Lock the deal so two concurrent "make primary" calls cannot both win.
        opportunity = Opportunity.objects.select_for_update().get(pk=opportunity.pk)
        require_edit(actor, opportunity)
        if is_primary:
            OpportunityContactRole.objects.filter(opportunity=opportunity, is_primary=True).exclude(
                contact=contact
            ).update(is_primary=False, updated_at=timezone.now())
        contact_role, created = OpportunityContactRole.objects.update_or_create(
            opportunity=opportunity,
            contact=contact,
            defaults={"role": role, "is_primary": is_primary},
        )
        action = AuditAction.CREATE if created else AuditAction.UPDATE
        record_audit(
            actor,
            contact_role,
            action,
            {
                "contact": [None, contact.public_id],
                "role": [None, role],
                "is_primary": [None, is_primary],
            },
        )
    return contact_role


def _task_targets(who: Lead | Contact, what: Account | Opportunity | None) -> dict[str, Any]:
    """The task's columns for its who and what (clean_values has checked their objects)."""
    if isinstance(who, Lead):
        if who.is_converted:
            raise DomainError(
                ErrorCode.CANNOT_UPDATE_CONVERTED_LEAD,
                f"who_id: lead {who.public_id} is converted; add the task to its contact",
                ["who_id"],
            )
        targets: dict[str, Any] = {"lead": who, "contact": None, "account": None}
    else:
        targets = {"lead": None, "contact": who, "account": who.account}
    targets["opportunity"] = None
    if isinstance(what, Opportunity):
        targets["opportunity"] = what
        targets["account"] = targets["account"] or what.account
    elif what is not None:
        targets["account"] = what
    return targets


def task_create(
    *,
    actor: User,
    subject: str = "",
    who: Lead | Contact | None = None,
    what: Account | Opportunity | None = None,
    type: str = TaskType.TODO,
    priority: str = TaskPriority.NORMAL,
    due_date: datetime.date | str | None = None,
    description: str = "",
    owner: User | None = None,
) -> Task:
    """Create an open activity about a lead or a contact (`who`), optionally on a `what`."""
    cleaned = clean_values(
        get_object("Task"),
        {
            "subject": subject,
            "who": who,
            "what": what,
            "type": type or TaskType.TODO,
            "priority": priority or TaskPriority.NORMAL,
            "due_date": due_date,
            "description": description,
        },
        creating=True,
    )
    task = Task(owner=owner or actor, **_task_targets(cleaned.pop("who"), cleaned.pop("what")))
    apply_values(task, cleaned)
    with transaction.atomic():
        task.save()
        record_audit(
            actor,
            task,
            AuditAction.CREATE,
            creation_changes(task, ["subject", "type", "priority", "due_date", "lead", "contact"]),
        )
    return task


def task_complete(*, actor: User, task: Task) -> Task:
    """Mark a task completed (completing it twice changes nothing)."""
    with transaction.atomic():
        task = Task.objects.select_for_update().get(pk=task.pk)
        require_edit(actor, task)
        if task.status == TaskStatus.COMPLETED:
            return task
        task.status = TaskStatus.COMPLETED
        task.completed_at = timezone.now()
        task.save(update_fields=["status", "completed_at", "updated_at"])
        record_audit(
            actor, task, AuditAction.COMPLETE, {"status": [TaskStatus.OPEN, TaskStatus.COMPLETED]}
        )
    return task


def task_log_call(
    *,
    actor: User,
    subject: str = "",
    who: Lead | Contact | None = None,
    what: Account | Opportunity | None = None,
    due_date: datetime.date | str | None = None,
    description: str = "",
) -> Task:
    """Record a call already made: a completed Call task, its subject "Call" when none is
    given and its date today (organisation time zone) when none is given, created and
    completed in one transaction (Salesforce's "Log a Call"). Raises what `task_create`
    raises; a refusal writes nothing."""
    with transaction.atomic():
        task = task_create(
            actor=actor,
            subject=subject.strip() or "Call",
            who=who,
            what=what,
            type=TaskType.CALL,
            due_date=due_date or timezone.localdate(),
            description=description,
        )
        return task_complete(actor=actor, task=task)


def opportunity_delete(*, actor: User, opportunity: Opportunity) -> None:
    """Delete an opportunity with its history and contact roles."""
    record_delete(actor=actor, record=opportunity)


def contact_role_delete(*, actor: User, contact_role: OpportunityContactRole) -> None:
    """Remove a contact's role on an opportunity."""
    record_delete(actor=actor, record=contact_role)


def task_update(*, actor: User, task: Task, data: Mapping[str, Any]) -> Task:
    """Change a task's subject, type, priority, due date, description, owner or targets."""
    # `status` is read-only in the registry: clean_values refuses it (task_complete sets it).
    cleaned = clean_values(get_object("Task"), data, creating=False)
    with transaction.atomic():
        task = Task.objects.select_for_update().get(pk=task.pk)
        require_edit(actor, task)
        watched = {name for name in cleaned if name not in ("who", "what")}
        before = snapshot(task, [*watched, "lead", "contact", "account", "opportunity"])
        if "who" in cleaned or "what" in cleaned:
            who: Lead | Contact = cleaned.pop("who", None) or task.lead or task.contact  # type: ignore[assignment]
            what = cleaned.pop("what") if "what" in data else task.opportunity or task.account
            for name, value in _task_targets(who, what).items():
                setattr(task, name, value)
        apply_values(task, cleaned)
        changes = changes_since(before, task)
        if changes:
            task.save(update_fields=[*changes, "updated_at"])
            record_audit(actor, task, AuditAction.UPDATE, changes)
    return task


def task_delete(*, actor: User, task: Task) -> None:
    """Delete a task."""
    record_delete(actor=actor, record=task)


# ---------------------------------------------------------------------------------------
# Opportunity stages (configuration)


def opportunity_stage_set(
    *,
    actor: User,
    name: str,
    stage: OpportunityStage | None = None,
    sort_order: int | None = None,
    probability: int | None = None,
    forecast_category: str | None = None,
    is_closed: bool | None = None,
    is_won: bool | None = None,
    is_active: bool | None = None,
    stall_days: Any = UNCHANGED,
) -> OpportunityStage:
    """Add a stage or change one (admins only); deals keep their values until they move.

    Without `stage` the stage called `name` is changed, or added; with it, that stage is
    changed and may be renamed. `stall_days` (whole days, 1 to MAX_STALL_DAYS) is how
    long an open deal may stay in the stage before it counts as stalled; None clears it
    (never stalled for its time in the stage); left out, it is kept.
    """
    require_admin(actor, "opportunity stages")
    name = configuration_name(name)
    with transaction.atomic():
        stage = locked_configuration_row(OpportunityStage, name, stage)
        if stage is None:
            if probability is None or forecast_category is None:
                raise DomainError(
                    ErrorCode.REQUIRED_FIELD_MISSING,
                    "a new stage needs a probability (0 to 100) and a forecast category",
                    [
                        name
                        for name, value in (
                            ("probability", probability),
                            ("forecast_category", forecast_category),
                        )
                        if value is None
                    ],
                )
            stage = OpportunityStage(name=name, sort_order=OpportunityStage.objects.count() + 1)
        before = snapshot(stage, OpportunityStage.SETTINGS)
        stage.name = name
        given = {
            "sort_order": sort_order,
            "probability": probability,
            "forecast_category": forecast_category,
            "is_closed": is_closed,
            "is_won": is_won,
            "is_active": is_active,
        }
        for field, value in given.items():
            if value is not None:
                setattr(stage, field, value)
        if stall_days is not UNCHANGED:
            stage.stall_days = _checked_stall_days(stall_days)
        _check_stage_definition(stage)
        created = stage.pk is None
        stage.save()
        record_audit(
            actor,
            stage,
            AuditAction.CREATE if created else AuditAction.UPDATE,
            changes_since(before, stage),
        )
        configuration_changed()
    return stage


def _checked_stall_days(value: Any) -> int | None:
    """A stage's stall limit as given, or INVALID_TYPE naming `stall_days`."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_STALL_DAYS:
        raise DomainError(
            ErrorCode.INVALID_TYPE,
            f"stall_days: whole days from 1 to {MAX_STALL_DAYS}, or none for never",
            ["stall_days"],
        )
    return value


def _check_stage_definition(stage: OpportunityStage) -> None:
    if not 0 <= stage.probability <= 100:
        raise DomainError(ErrorCode.INVALID_TYPE, "probability: 0 to 100", ["probability"])
    if stage.forecast_category not in ForecastCategory.values:
        raise DomainError(
            ErrorCode.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST,
            f"forecast_category: one of {', '.join(ForecastCategory.values)}",
            ["forecast_category"],
        )
    if stage.is_won and not stage.is_closed:
        raise DomainError(
            ErrorCode.FIELD_INTEGRITY_EXCEPTION, "is_won: a won stage is also closed", ["is_won"]
        )
    closed_category = ForecastCategory.CLOSED if stage.is_won else ForecastCategory.OMITTED
    if stage.is_closed and stage.forecast_category != closed_category:
        raise DomainError(
            ErrorCode.FIELD_INTEGRITY_EXCEPTION,
            f"forecast_category: a {'won' if stage.is_won else 'lost'} stage forecasts {closed_category}",
            ["forecast_category"],
        )
    if not stage.is_closed and stage.forecast_category in (
        ForecastCategory.CLOSED,
        ForecastCategory.OMITTED,
    ):
        raise DomainError(
            ErrorCode.FIELD_INTEGRITY_EXCEPTION,
            "forecast_category: an open stage forecasts Pipeline, Best Case or Commit",
            ["forecast_category"],
        )
