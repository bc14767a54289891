"""Any record by object name and public id, through its domain's selector."""

from __future__ import annotations

from typing import Any

from django.db import models

from dealflow.accounts.selectors import account_get, contact_get
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.leads.selectors import lead_get
from dealflow.people.selectors import queue_get, user_get
from dealflow.sales.selectors import opportunity_get


def get_record(actor: Any, object_name: str, public_id: str) -> models.Model:
    getters = {
        "Lead": lambda: lead_get(actor=actor, lead_id=public_id),
        "Account": lambda: account_get(actor=actor, account_id=public_id),
        "Contact": lambda: contact_get(actor=actor, contact_id=public_id),
        "Opportunity": lambda: opportunity_get(actor=actor, opportunity_id=public_id),
        "User": lambda: user_get(user_id=public_id),
        "Queue": lambda: queue_get(queue_id=public_id),
    }
    if object_name not in getters:
        raise DomainError(ErrorCode.INVALID_ID, f"{object_name} records cannot be referenced")
    return getters[object_name]()
