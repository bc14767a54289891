"""Hand-written reads (core/rows.py) give exactly what the ORM gives."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealflow.accounts.models import Account, Contact
from dealflow.core import rows
from dealflow.leads.models import Lead
from dealflow.people.models import User
from dealflow.sales.models import Opportunity, OpportunityContactRole, Task
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    TaskFactory,
)


def _field_values(record) -> dict:
    return {
        field.attname: getattr(record, field.attname)
        for field in type(record)._meta.concrete_fields
    }


def _records(actor):
    lead = LeadFactory(
        owner_user=actor,
        annual_revenue=Decimal("1234567.89"),
        number_of_employees=42,
        converted_date=datetime.date(2026, 3, 31),
    )
    opportunity = OpportunityFactory(owner=actor, amount=Decimal("1000.50"))
    contact = ContactFactory(owner=actor)
    return [
        lead,
        AccountFactory(owner=actor),
        contact,
        opportunity,
        OpportunityContactRole.objects.create(opportunity=opportunity, contact=contact),
        TaskFactory(owner=actor, lead=lead, due_date=datetime.date(2026, 12, 1)),
        actor,
    ]


@pytest.mark.django_db
def test_by_primary_key_equals_the_orm_read_for_every_model(actor):
    for record in _records(actor):
        model = type(record)
        with CaptureQueriesContext(connection) as context:
            read = rows.by_primary_key(model, record.pk)
        assert len(context.captured_queries) == 1
        assert type(read) is model
        assert _field_values(read) == _field_values(model.objects.get(pk=record.pk))
        assert read._state.adding is False


@pytest.mark.django_db
def test_by_primary_key_finds_nothing_for_missing_or_impossible_keys(actor):
    lead = LeadFactory(owner_user=actor)
    assert rows.by_primary_key(Lead, lead.pk + 1000) is None
    with CaptureQueriesContext(connection) as context:
        assert rows.by_primary_key(Lead, 0) is None
        assert rows.by_primary_key(Lead, 2**63) is None  # beyond any 64-bit key
    assert context.captured_queries == []


@pytest.mark.django_db
def test_fetch_gives_the_orm_rows_in_attname_order(actor):
    for record in _records(actor):
        model = type(record)
        queryset = model.objects.filter(pk=record.pk)
        expected = tuple(queryset.values_list(*rows.attnames(model)).get())
        assert rows.fetch(queryset) == [expected]


@pytest.mark.django_db
def test_fetch_of_an_impossible_condition_is_empty_without_a_query():
    with CaptureQueriesContext(connection) as context:
        assert rows.fetch(Lead.objects.filter(pk__in=[])) == []
    assert context.captured_queries == []


def test_attnames_are_the_concrete_columns_in_order():
    for model in (Lead, Account, Contact, Opportunity, OpportunityContactRole, Task, User):
        assert rows.attnames(model) == tuple(field.attname for field in model._meta.concrete_fields)
    assert rows.attnames(Lead)[0] == "id"
    assert "owner_user_id" in rows.attnames(Lead)


@pytest.mark.django_db
def test_insert_stores_what_save_would_and_sets_key_and_timestamps(actor):
    from dealflow.core.audit import audit_event
    from dealflow.core.models import AuditAction, AuditEvent
    from dealflow.leads.models import LeadStatus

    status = LeadStatus.objects.get(is_default=True)
    values = {
        "last_name": "Ng",
        "company": "Acme",
        "email": "ng@acme.test",
        "annual_revenue": Decimal("1500.25"),
        "status": status,
        "owner_user": actor,
    }
    saved = Lead(**values)
    saved.save()
    inserted = Lead(**{**values, "email": "other@acme.test"})
    with CaptureQueriesContext(connection) as context:
        rows.insert(inserted)
    assert len(context.captured_queries) == 1
    assert inserted.pk == saved.pk + 1
    assert inserted._state.adding is False
    assert inserted.created_at <= inserted.updated_at  # set on insert, as save() sets them
    stored = _field_values(Lead.objects.get(pk=inserted.pk))
    assert stored == _field_values(inserted)
    expected = {
        **_field_values(Lead.objects.get(pk=saved.pk)),
        "email": "other@acme.test",
        "email_key": "other@acme.test",  # the matching key follows the email (pre_save)
    }
    for ignored in ("id", "created_at", "updated_at"):
        del stored[ignored], expected[ignored]
    assert stored == expected

    event = audit_event(actor, inserted, AuditAction.CREATE, {"email": [None, "other@acme.test"]})
    rows.insert(event)
    assert AuditEvent.objects.get(pk=event.pk).changes == {"email": [None, "other@acme.test"]}
