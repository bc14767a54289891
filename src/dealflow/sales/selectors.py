"""Reads of opportunities, contact roles and tasks, restricted to what the user may see."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from dealflow.core.cache import ConfigurationCache
from dealflow.core.matching import fold
from dealflow.core.selectors import ListSpec, Page, page_of, record_get
from dealflow.sales.models import Opportunity, OpportunityContactRole, OpportunityStage, Task

_COMMON_FILTERS = {
    "owner": "owner",
    "created_after": "created_at__gte",
    "created_before": "created_at__lt",
    "modified_after": "updated_at__gte",
    "modified_before": "updated_at__lt",
}
OPPORTUNITY_LIST = ListSpec(
    filters={
        **_COMMON_FILTERS,
        "stage": "stage_id",
        "account": "account",
        "lead_source": "lead_source",
        "type": "type",
        "is_closed": "is_closed",
        "is_won": "is_won",
        "close_date_from": "close_date__gte",
        "close_date_to": "close_date__lte",
    },
    search=("name_key",),
    orderings={
        "created_date": "created_at",
        "last_modified_date": "updated_at",
        "close_date": "close_date",
        "name": "name_key",
    },
    default_order="close_date",
    picklists={"lead_source": "lead_source", "type": "opportunity_type"},
)
CONTACT_ROLE_LIST = ListSpec(
    filters={"opportunity": "opportunity", "contact": "contact", "is_primary": "is_primary"},
    search=("role_key",),
    orderings={"created_date": "created_at"},
    default_order="created_date",
)
TASK_LIST = ListSpec(
    filters={
        **_COMMON_FILTERS,
        "status": "status",
        "type": "type",
        "lead": "lead",
        "contact": "contact",
        "account": "account",
        "opportunity": "opportunity",
        "due_from": "due_date__gte",
        "due_to": "due_date__lte",
    },
    search=("subject_key",),
    orderings={
        "created_date": "created_at",
        "last_modified_date": "updated_at",
        "subject": "subject_key",
    },
    default_order="-created_date",
)


# Stages are read by every new deal and shown with every deal; see core/cache.py.
stages: ConfigurationCache[list[OpportunityStage]] = ConfigurationCache(
    lambda: list(OpportunityStage.objects.all())
)


def stage_name(stage_id: int) -> str:
    """A stage's name by id, from the cache."""
    stage = stages.find(lambda stage: stage.pk == stage_id)
    if stage is None:
        raise LookupError(f"no opportunity stage {stage_id}")
    return stage.name


def _stage_id(name: str) -> int:
    """A stage's id by name matched case-insensitively (core/matching.py), from the
    cache; 0, which no row has, for an unknown name."""
    wanted = fold(name)
    stage = stages.find(lambda stage: fold(stage.name) == wanted)
    return stage.pk if stage else 0


def opportunity_queryset() -> QuerySet[Opportunity]:
    return Opportunity.objects.all()


def opportunity_get(*, actor: Any, opportunity_id: str) -> Opportunity:
    return record_get(actor, Opportunity, opportunity_id)


def opportunity_page(*, actor: Any, filters: dict[str, Any], **options: Any) -> Page:
    """A page of the opportunities the actor may see (a stage is matched by id: no join)."""
    if filters.get("stage") is not None:
        filters = {**filters, "stage": _stage_id(filters["stage"])}
    return page_of(actor, opportunity_queryset(), OPPORTUNITY_LIST, filters=filters, **options)


def contact_role_get(*, actor: Any, contact_role_id: str) -> OpportunityContactRole:
    return record_get(actor, OpportunityContactRole, contact_role_id)


def contact_role_page(*, actor: Any, filters: dict[str, Any], **options: Any) -> Page:
    return page_of(
        actor, OpportunityContactRole.objects.all(), CONTACT_ROLE_LIST, filters=filters, **options
    )


def task_get(*, actor: Any, task_id: str) -> Task:
    return record_get(actor, Task, task_id)


def task_page(*, actor: Any, filters: dict[str, Any], **options: Any) -> Page:
    return page_of(actor, Task.objects.all(), TASK_LIST, filters=filters, **options)


def stage_list() -> QuerySet[OpportunityStage]:
    return OpportunityStage.objects.all()
