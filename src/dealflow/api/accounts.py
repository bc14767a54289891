"""Accounts and contacts."""

import datetime
from typing import Any

from ninja import Router

from dealflow.accounts.selectors import (
    ACCOUNT_LIST,
    CONTACT_LIST,
    account_get,
    account_page,
    contact_get,
    contact_page,
)
from dealflow.accounts.services import (
    account_create,
    account_delete,
    account_update,
    contact_create,
    contact_delete,
    contact_update,
)
from dealflow.api.crud import ListOptions, register_crud
from dealflow.api.support import decode_filter_id

router = Router(tags=["Accounts and contacts"])


class CommonFilters(ListOptions):
    owner_id: str | None = None
    created_after: datetime.datetime | None = None
    created_before: datetime.datetime | None = None
    modified_after: datetime.datetime | None = None
    modified_before: datetime.datetime | None = None


class AccountFilters(CommonFilters):
    type: str | None = None
    industry: str | None = None
    rating: str | None = None


class ContactFilters(CommonFilters):
    account_id: str | None = None
    lead_source: str | None = None


def reference_filters(**references: tuple[str, ...]):
    """A to_filters that turns `<name>_id` public ids into `<name>` primary keys."""

    def to_filters(values: dict[str, Any]) -> dict[str, Any]:
        for name, object_names in references.items():
            key = f"{name}_id"
            values[name] = decode_filter_id(key, values.pop(key), object_names)
        return values

    return to_filters


register_crud(
    router,
    object_name="Account",
    path="/accounts",
    operation_prefix="account",
    filters_schema=AccountFilters,
    list_spec=ACCOUNT_LIST,
    to_filters=reference_filters(owner=("User",)),
    get=lambda actor, record_id: account_get(actor=actor, account_id=record_id),
    page=account_page,
    create=lambda actor, data, **options: account_create(actor=actor, data=data, **options),
    create_options=("allow_duplicates",),  # docs/duplicates.md
    update=lambda actor, account, data: account_update(actor=actor, account=account, data=data),
    delete=lambda actor, account: account_delete(actor=actor, account=account),
)
register_crud(
    router,
    object_name="Contact",
    path="/contacts",
    operation_prefix="contact",
    filters_schema=ContactFilters,
    list_spec=CONTACT_LIST,
    to_filters=reference_filters(owner=("User",), account=("Account",)),
    get=lambda actor, record_id: contact_get(actor=actor, contact_id=record_id),
    page=contact_page,
    create=lambda actor, data, **options: contact_create(actor=actor, data=data, **options),
    create_options=("allow_duplicates",),  # docs/duplicates.md
    update=lambda actor, contact, data: contact_update(actor=actor, contact=contact, data=data),
    delete=lambda actor, contact: contact_delete(actor=actor, contact=contact),
)
