"""lead_create / lead_update: validation, normalisation, email uniqueness, audit."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import AuditEvent
from dealflow.leads.models import Lead
from dealflow.leads.services import lead_convert, lead_create, lead_update
from tests.factories import LeadFactory, QueueFactory, UserFactory

pytestmark = pytest.mark.django_db

MINIMAL = {"last_name": "Hopper", "company": "Navy Labs"}


def refused(call, code, fields):
    """Run a call that must be refused; return the error after checking code and fields."""
    leads_before = list(Lead.objects.values())
    events_before = AuditEvent.objects.count()
    with pytest.raises(DomainError) as raised:
        call()
    assert (raised.value.code, raised.value.fields) == (code, fields)
    assert list(Lead.objects.values()) == leads_before
    assert AuditEvent.objects.count() == events_before
    return raised.value


def test_create_sets_defaults_normalises_and_audits(actor):
    lead = lead_create(
        actor=actor,
        data={
            **MINIMAL,
            "first_name": "  Grace ",
            "email": " Grace.Hopper@NAVY.Example ",
            "phone": "+1 (555) 010-2000",
            "lead_source": "Web",
            "annual_revenue": "1200000.5",
            "number_of_employees": "250",
        },
    )

    lead.refresh_from_db()
    assert (
        lead.first_name,
        lead.email,
        lead.email_key,
        lead.phone,
        lead.phone_digits,
        lead.status.name,
        lead.owner_user_id,
        lead.owner_queue_id,
        lead.annual_revenue,
        lead.number_of_employees,
        lead.is_converted,
    ) == (
        "Grace",
        "Grace.Hopper@NAVY.Example",  # trimmed, otherwise as typed
        "grace.hopper@navy.example",  # the matching key (core/matching.py)
        "+1 (555) 010-2000",
        "15550102000",
        "Open - Not Contacted",
        actor.pk,
        None,
        Decimal("1200000.50"),
        250,
        False,
    )
    event = AuditEvent.objects.get()
    assert (event.actor_id, event.object_name, event.record_id, event.action) == (
        actor.pk,
        "Lead",
        lead.pk,
        "create",
    )
    assert event.changes["email"] == [None, "Grace.Hopper@NAVY.Example"]
    assert event.changes["status"] == [None, "Open - Not Contacted"]


def test_create_for_a_queue(actor):
    queue = QueueFactory()

    lead = lead_create(actor=actor, data={**MINIMAL, "owner": queue})

    assert (lead.owner_user_id, lead.owner_queue_id, lead.owner) == (None, queue.pk, queue)


@pytest.mark.parametrize(
    ("data", "code", "fields"),
    [
        ({"company": "Navy Labs"}, ErrorCode.REQUIRED_FIELD_MISSING, ["last_name"]),
        ({}, ErrorCode.REQUIRED_FIELD_MISSING, ["last_name", "company"]),
        ({**MINIMAL, "last_name": "   "}, ErrorCode.REQUIRED_FIELD_MISSING, ["last_name"]),
        ({**MINIMAL, "shoe_size": 9}, ErrorCode.INVALID_FIELD, ["shoe_size"]),
        (
            {**MINIMAL, "is_converted": True},
            ErrorCode.INVALID_FIELD_FOR_INSERT_UPDATE,
            ["is_converted"],
        ),
        (
            {**MINIMAL, "converted_date": "2026-01-01"},
            ErrorCode.INVALID_FIELD_FOR_INSERT_UPDATE,
            ["converted_date"],
        ),
        ({**MINIMAL, "id": 5}, ErrorCode.INVALID_FIELD_FOR_INSERT_UPDATE, ["id"]),
        ({**MINIMAL, "first_name": "x" * 41}, ErrorCode.STRING_TOO_LONG, ["first_name"]),
        ({**MINIMAL, "email": "not an email"}, ErrorCode.INVALID_EMAIL_ADDRESS, ["email"]),
        (
            {**MINIMAL, "lead_source": "Carrier pigeon"},
            ErrorCode.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST,
            ["lead_source"],
        ),
        (
            {**MINIMAL, "status": "Nope"},
            ErrorCode.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST,
            ["status"],
        ),
        ({**MINIMAL, "status": "Closed - Converted"}, ErrorCode.INVALID_STATUS, ["status"]),
        ({**MINIMAL, "annual_revenue": "lots"}, ErrorCode.INVALID_TYPE, ["annual_revenue"]),
        ({**MINIMAL, "number_of_employees": 2.5}, ErrorCode.INVALID_TYPE, ["number_of_employees"]),
        (
            {**MINIMAL, "number_of_employees": -1},
            ErrorCode.NUMBER_OUTSIDE_VALID_RANGE,
            ["number_of_employees"],
        ),
        ({**MINIMAL, "do_not_call": "yes"}, ErrorCode.INVALID_TYPE, ["do_not_call"]),
        ({**MINIMAL, "company": 42}, ErrorCode.INVALID_TYPE, ["company"]),
        ({**MINIMAL, "owner": "005000000000001AAA"}, ErrorCode.INVALID_TYPE, ["owner_id"]),
    ],
)
def test_create_refuses_bad_input_and_writes_nothing(actor, data, code, fields):
    refused(lambda: lead_create(actor=actor, data=data), code, fields)


def test_email_is_unique_among_unconverted_leads_case_insensitively(actor):
    first = lead_create(actor=actor, data={**MINIMAL, "email": "grace@navy.example"})

    error = refused(
        lambda: lead_create(actor=actor, data={**MINIMAL, "email": "GRACE@Navy.Example"}),
        ErrorCode.DUPLICATE_VALUE,
        ["email"],
    )
    assert first.public_id in error.message


def test_a_converted_leads_email_may_be_used_again(actor):
    first = lead_create(actor=actor, data={**MINIMAL, "email": "grace@navy.example"})
    lead_convert(actor=actor, lead=first)

    second = lead_create(actor=actor, data={**MINIMAL, "email": "grace@navy.example"})

    assert Lead.objects.filter(email="grace@navy.example").count() == 2
    assert second.is_converted is False


def test_database_enforces_unique_email_without_the_service(actor):
    LeadFactory(email="grace@navy.example")

    with pytest.raises(IntegrityError), transaction.atomic():
        LeadFactory(email="Grace@NAVY.example")

    LeadFactory(email="")
    LeadFactory(email="")  # blank emails are not duplicates
    assert Lead.objects.count() == 3


def test_database_requires_exactly_one_owner():
    with pytest.raises(IntegrityError), transaction.atomic():
        LeadFactory(owner_user=None, owner_queue=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        LeadFactory(owner_user=UserFactory(), owner_queue=QueueFactory())


def test_update_records_old_and_new_values(actor):
    lead = lead_create(actor=actor, data={**MINIMAL, "title": "Engineer"})
    queue = QueueFactory()

    lead_update(
        actor=actor,
        lead=lead,
        data={"title": "Rear Admiral", "status": "Working - Contacted", "owner": queue},
    )

    lead.refresh_from_db()
    assert (lead.title, lead.status.name, lead.owner_user_id, lead.owner_queue_id) == (
        "Rear Admiral",
        "Working - Contacted",
        None,
        queue.pk,
    )
    event = AuditEvent.objects.filter(action="update").get()
    assert event.changes == {
        "title": ["Engineer", "Rear Admiral"],
        "status": ["Open - Not Contacted", "Working - Contacted"],
        "owner_user": [actor.public_id, None],
        "owner_queue": [None, queue.public_id],
    }


def test_update_without_changes_writes_no_event(actor):
    lead = lead_create(actor=actor, data={**MINIMAL, "title": "Engineer"})

    lead_update(actor=actor, lead=lead, data={"title": "Engineer"})

    assert AuditEvent.objects.filter(action="update").count() == 0


def test_update_refuses_a_converted_status(actor):
    lead = lead_create(actor=actor, data=MINIMAL)

    refused(
        lambda: lead_update(actor=actor, lead=lead, data={"status": "Closed - Converted"}),
        ErrorCode.INVALID_STATUS,
        ["status"],
    )


@pytest.mark.parametrize(
    ("data", "code", "fields"),
    [
        ({"last_name": ""}, ErrorCode.REQUIRED_FIELD_MISSING, ["last_name"]),
        ({"is_converted": False}, ErrorCode.INVALID_FIELD_FOR_INSERT_UPDATE, ["is_converted"]),
        (
            {"converted_account": None},
            ErrorCode.INVALID_FIELD_FOR_INSERT_UPDATE,
            ["converted_account_id"],
        ),
        ({"email": "taken@navy.example"}, ErrorCode.DUPLICATE_VALUE, ["email"]),
    ],
)
def test_update_refuses_bad_input_and_writes_nothing(actor, data, code, fields):
    lead_create(actor=actor, data={**MINIMAL, "email": "taken@navy.example"})
    lead = lead_create(actor=actor, data={**MINIMAL, "email": "mine@navy.example"})

    refused(lambda: lead_update(actor=actor, lead=lead, data=data), code, fields)


def test_update_may_keep_its_own_email_in_another_case(actor):
    lead = lead_create(actor=actor, data={**MINIMAL, "email": "mine@navy.example"})

    lead_update(actor=actor, lead=lead, data={"email": "Mine@navy.example"})

    lead.refresh_from_db()
    assert lead.email == "Mine@navy.example"


def test_nul_characters_are_refused_on_every_database(actor):
    refused(
        lambda: lead_create(actor=actor, data={**MINIMAL, "city": "Ber\x00lin"}),
        ErrorCode.INVALID_TYPE,
        ["city"],
    )
    refused(
        lambda: lead_create(actor=actor, data={**MINIMAL, "status": "Qualified\x00"}),
        ErrorCode.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST,
        ["status"],
    )


def test_update_recomputes_the_phone_digits_from_the_phone_or_the_mobile(actor):
    lead = lead_create(actor=actor, data={**MINIMAL, "phone": "+1 (555) 010-2000"})

    lead_update(actor=actor, lead=lead, data={"phone": "+44 20 7946 0000"})
    lead.refresh_from_db()
    assert lead.phone_digits == "442079460000"

    lead_update(actor=actor, lead=lead, data={"phone": "", "mobile_phone": "+44 7700 900123"})
    lead.refresh_from_db()
    assert lead.phone_digits == "447700900123"
