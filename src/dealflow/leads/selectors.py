"""Reads of leads, restricted to what the acting user may see."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from dealflow.core.access import readable
from dealflow.core.cache import ConfigurationCache
from dealflow.core.matching import fold
from dealflow.core.selectors import ListSpec, Page, page_of, record_get
from dealflow.leads.models import Lead, LeadStatus

LEAD_LIST = ListSpec(
    filters={
        "owner": "owner_user",
        "owner_queue": "owner_queue",
        "status": "status_id",
        "lead_source": "lead_source",
        "rating": "rating",
        "industry": "industry",
        "is_converted": "is_converted",
        "created_after": "created_at__gte",
        "created_before": "created_at__lt",
        "modified_after": "updated_at__gte",
        "modified_before": "updated_at__lt",
        "converted_after": "converted_date__gte",
        "converted_before": "converted_date__lte",
    },
    search=("last_name_key", "first_name_key", "company_key", "email_key", "phone_digits"),
    # Each by an index; names sort case-insensitively (by their matching keys).
    orderings={
        "created_date": "created_at",
        "last_modified_date": "updated_at",
        "first_name": "first_name_key",
        "last_name": "last_name_key",
        "company": "company_key",
        "email": "email_key",
    },
    default_order="-created_date",
    picklists={"lead_source": "lead_source", "rating": "rating", "industry": "industry"},
)


# Statuses are read by every lead write and shown with every lead; see core/cache.py.
lead_statuses: ConfigurationCache[list[LeadStatus]] = ConfigurationCache(
    lambda: list(LeadStatus.objects.all())
)


def lead_status(status_id: int) -> LeadStatus:
    """A status by id, from the cache."""
    status = lead_statuses.find(lambda status: status.pk == status_id)
    if status is None:
        raise LookupError(f"no lead status {status_id}")
    return status


def lead_status_name(status_id: int) -> str:
    return lead_status(status_id).name


def _status_id(name: str) -> int:
    """A status's id by name matched case-insensitively (core/matching.py), from the
    cache; 0, which no row has, for an unknown name."""
    wanted = fold(name)
    status = lead_statuses.find(lambda status: fold(status.name) == wanted)
    return status.pk if status else 0


def lead_queryset() -> QuerySet[Lead]:
    return Lead.objects.all()


def lead_get(*, actor: Any, lead_id: str) -> Lead:
    """A lead the actor may see, by public id (NOT_FOUND otherwise)."""
    return record_get(actor, Lead, lead_id)


def lead_page(*, actor: Any, filters: dict[str, Any], **options: Any) -> Page:
    """A page of the leads the actor may see (a status is matched by id: no join)."""
    if filters.get("status") is not None:
        filters = {**filters, "status": _status_id(filters["status"])}
    return page_of(actor, lead_queryset(), LEAD_LIST, filters=filters, **options)


def lead_visible(*, actor: Any) -> QuerySet[Lead]:
    """Every lead the actor may see (reports, exports)."""
    return readable(actor, lead_queryset())


def lead_status_list() -> QuerySet[LeadStatus]:
    return LeadStatus.objects.all()
