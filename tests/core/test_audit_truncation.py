"""Audit events keep long texts cut to AUDIT_TEXT_LIMIT characters and marked; records keep them whole."""

import pytest

from dealflow.accounts.models import Account
from dealflow.accounts.services import account_create, account_update
from dealflow.core.audit import AUDIT_TEXT_LIMIT, bounded
from dealflow.core.models import AuditAction, AuditEvent
from dealflow.leads.models import Lead
from tests.api.conftest import ApiClient

pytestmark = pytest.mark.django_db

# Salesforce's limit for Description, the longest text a record takes.
LONG = "".join(chr(ord("a") + number % 26) for number in range(32_000))
OTHER = "Z" * 32_000


def truncated(text: str) -> str:
    return text[:1000] + f"… [truncated, {len(text)} characters]"


def events(object_name: str, record_id: int, action: AuditAction) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(object_name=object_name, record_id=record_id, action=action)
    )


def test_the_limit_is_1000_characters():
    assert AUDIT_TEXT_LIMIT == 1000
    assert bounded("x" * 1000) == "x" * 1000
    assert bounded("x" * 1001) == "x" * 1000 + "… [truncated, 1001 characters]"
    assert bounded([None, "y" * 2_400_000]) == [
        None,
        "y" * 1000 + "… [truncated, 2400000 characters]",
    ]
    assert bounded(("x" * 1001, 7, {"a": "x" * 1001})) == (
        "x" * 1000 + "… [truncated, 1001 characters]",
        7,
        {"a": "x" * 1000 + "… [truncated, 1001 characters]"},
    )


def test_a_created_lead_keeps_the_whole_text_and_its_event_a_cut(actor):
    response = ApiClient(actor).post(
        "/leads", {"last_name": "Hopper", "company": "Navy Labs", "description": LONG}
    )

    assert response.status_code == 201, response.content[:500]
    lead = Lead.objects.get()
    assert lead.description == LONG
    assert response.json()["description"] == LONG
    [event] = events("Lead", lead.pk, AuditAction.CREATE)
    assert event.changes["description"] == [None, truncated(LONG)]
    assert event.changes["last_name"] == [None, "Hopper"]


def test_an_updated_lead_keeps_the_whole_text_and_its_event_cuts_both_values(actor):
    api = ApiClient(actor)
    created = api.post(
        "/leads", {"last_name": "Hopper", "company": "Navy Labs", "description": LONG}
    )

    response = api.patch(f"/leads/{created.json()['id']}", {"description": OTHER})

    assert response.status_code == 200, response.content[:500]
    lead = Lead.objects.get()
    assert lead.description == OTHER
    [event] = events("Lead", lead.pk, AuditAction.UPDATE)
    assert event.changes == {"description": [truncated(LONG), truncated(OTHER)]}


def test_a_deleted_lead_keeps_its_last_values_cut(actor):
    api = ApiClient(actor)
    created = api.post(
        "/leads", {"last_name": "Hopper", "company": "Navy Labs", "description": LONG}
    )
    lead_id = Lead.objects.get().pk

    assert api.delete(f"/leads/{created.json()['id']}").status_code == 204

    [event] = events("Lead", lead_id, AuditAction.DELETE)
    assert event.changes["description"] == [truncated(LONG), None]


def test_account_services_cut_the_event_too(actor):
    account = account_create(actor=actor, data={"name": "Navy Labs", "description": LONG})
    account_update(actor=actor, account=account, data={"description": OTHER})

    account.refresh_from_db()
    assert account.description == OTHER
    [created] = events("Account", account.pk, AuditAction.CREATE)
    [updated] = events("Account", account.pk, AuditAction.UPDATE)
    assert created.changes["description"] == [None, truncated(LONG)]
    assert updated.changes == {"description": [truncated(LONG), truncated(OTHER)]}


def test_a_short_text_is_kept_whole(actor):
    exactly = "x" * AUDIT_TEXT_LIMIT

    account = account_create(actor=actor, data={"name": "Navy Labs", "description": exactly})

    [created] = events("Account", account.pk, AuditAction.CREATE)
    assert created.changes["description"] == [None, exactly]
    assert Account.objects.get().description == exactly
