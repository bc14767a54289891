"""Any record a page refers to, through its domain's selector (access applies)."""

from __future__ import annotations

from typing import Any

from dealflow.accounts.selectors import account_get, contact_get
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.leads.selectors import lead_get
from dealflow.people.selectors import queue_get, queue_list, user_get, user_list
from dealflow.sales.selectors import opportunity_get


def record_get(actor: Any, object_name: str, public_id: str) -> Any:
    """The record of this object and public id if the actor may see it (NOT_FOUND)."""
    getters = {
        "Lead": lambda: lead_get(actor=actor, lead_id=public_id),
        "Account": lambda: account_get(actor=actor, account_id=public_id),
        "Contact": lambda: contact_get(actor=actor, contact_id=public_id),
        "Opportunity": lambda: opportunity_get(actor=actor, opportunity_id=public_id),
        "User": lambda: user_get(user_id=public_id),
        "Queue": lambda: queue_get(queue_id=public_id),
    }
    if object_name not in getters:
        raise DomainError(ErrorCode.INVALID_ID, f"{object_name} records cannot be chosen here")
    return getters[object_name]()


def account_label(actor: Any, public_id: str) -> str:
    """The name an account lookup shows for its value: blank when there is none, or when
    the actor may not see that account."""
    if not public_id:
        return ""
    try:
        return account_get(actor=actor, account_id=public_id).name
    except DomainError:
        return ""


def resolver(actor: Any):
    """record_get bound to the actor: what forms.posted_data takes."""
    return lambda object_name, public_id: record_get(actor, object_name, public_id)


def user_choices() -> list[tuple[str, str]]:
    """(public id, name) of every active user, by name: the owner picker (one query)."""
    users = user_list().order_by("first_name", "last_name", "username")
    return [(user.public_id, user.get_full_name() or user.username) for user in users]


def owner_choices() -> list[tuple[str, str]]:
    """Users, then queues (a lead's owner may be either): two queries."""
    queues = queue_list().order_by("name")
    return [*user_choices(), *((queue.public_id, f"Queue: {queue.name}") for queue in queues)]
