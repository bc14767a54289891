"""Reads of accounts and contacts, restricted to what the acting user may see."""

from __future__ import annotations

from typing import Any

from dealflow.accounts.models import Account, Contact
from dealflow.core.selectors import ListSpec, Page, page_of, record_get

_COMMON_FILTERS = {
    "owner": "owner",
    "created_after": "created_at__gte",
    "created_before": "created_at__lt",
    "modified_after": "updated_at__gte",
    "modified_before": "updated_at__lt",
}
ACCOUNT_LIST = ListSpec(
    filters={**_COMMON_FILTERS, "type": "type", "industry": "industry", "rating": "rating"},
    search=("name_key", "website_key"),
    # Each by an index; names sort case-insensitively (by their matching keys).
    orderings={
        "created_date": "created_at",
        "last_modified_date": "updated_at",
        "name": "name_key",
        "website": "website_key",
    },
    default_order="name",
    picklists={"type": "account_type", "industry": "industry", "rating": "rating"},
)
CONTACT_LIST = ListSpec(
    filters={**_COMMON_FILTERS, "account": "account", "lead_source": "lead_source"},
    search=("last_name_key", "first_name_key", "email_key", "phone_digits"),
    orderings={
        "created_date": "created_at",
        "last_modified_date": "updated_at",
        "first_name": "first_name_key",
        "last_name": "last_name_key",
        "email": "email_key",
    },
    default_order="last_name",
    picklists={"lead_source": "lead_source"},
)


def account_get(*, actor: Any, account_id: str) -> Account:
    return record_get(actor, Account, account_id)


def account_page(*, actor: Any, filters: dict[str, Any], **options: Any) -> Page:
    return page_of(actor, Account.objects.all(), ACCOUNT_LIST, filters=filters, **options)


def contact_get(*, actor: Any, contact_id: str) -> Contact:
    return record_get(actor, Contact, contact_id)


def contact_page(*, actor: Any, filters: dict[str, Any], **options: Any) -> Page:
    return page_of(actor, Contact.objects.all(), CONTACT_LIST, filters=filters, **options)
