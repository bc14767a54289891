import pytest

from dealflow.accounts.models import Account, Contact
from dealflow.accounts.services import (
    account_create,
    account_update,
    contact_create,
    contact_update,
)
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_account_create_and_update_are_audited(actor):
    account = account_create(actor=actor, data={"name": " Initech ", "type": "Prospect"})
    account_update(
        actor=actor, account=account, data={"type": "Customer", "industry": "Technology"}
    )

    account.refresh_from_db()
    assert (account.name, account.type, account.industry, account.owner_id) == (
        "Initech",
        "Customer",
        "Technology",
        actor.pk,
    )
    events = list(AuditEvent.objects.order_by("id").values_list("action", "changes"))
    assert events[1] == (
        "update",
        {"type": ["Prospect", "Customer"], "industry": ["", "Technology"]},
    )
    assert events[0][0] == "create"
    assert events[0][1]["name"] == [None, "Initech"]


@pytest.mark.parametrize(
    ("data", "code", "fields"),
    [
        ({}, ErrorCode.REQUIRED_FIELD_MISSING, ["name"]),
        (
            {"name": "A", "type": "Friend"},
            ErrorCode.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST,
            ["type"],
        ),
        (
            {"name": "A", "created_at": "2020-01-01"},
            ErrorCode.INVALID_FIELD_FOR_INSERT_UPDATE,
            ["created_date"],  # errors use the public name
        ),
    ],
)
def test_account_create_refuses_bad_input(actor, data, code, fields):
    with pytest.raises(DomainError) as raised:
        account_create(actor=actor, data=data)
    assert (raised.value.code, raised.value.fields) == (code, fields)
    assert Account.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_contact_create_normalises_email_and_phone(actor):
    account = account_create(actor=actor, data={"name": "Initech"})
    contact = contact_create(
        actor=actor,
        data={
            "last_name": "Lumbergh",
            "account": account,
            "email": "Bill@INITECH.test",
            "mobile_phone": "555-0199",
        },
    )
    contact_update(actor=actor, contact=contact, data={"phone": "(555) 0100"})

    contact.refresh_from_db()
    assert (contact.email, contact.email_key, contact.phone_digits, contact.account_id) == (
        "Bill@INITECH.test",
        "bill@initech.test",
        "5550100",
        account.pk,
    )


def test_contact_update_refuses_blanking_the_last_name(actor):
    contact = contact_create(actor=actor, data={"last_name": "Lumbergh"})
    with pytest.raises(DomainError) as raised:
        contact_update(actor=actor, contact=contact, data={"last_name": ""})
    assert raised.value.code == ErrorCode.REQUIRED_FIELD_MISSING
    assert Contact.objects.get().last_name == "Lumbergh"


def test_update_cannot_blank_the_owner(actor):
    account = account_create(actor=actor, data={"name": "Initech"})
    with pytest.raises(DomainError) as raised:
        account_update(actor=actor, account=account, data={"owner": None})
    assert (raised.value.code, raised.value.fields) == (
        ErrorCode.REQUIRED_FIELD_MISSING,
        ["owner_id"],
    )
    account.refresh_from_db()
    assert account.owner_id == actor.pk
