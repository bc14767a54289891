"""lead_bulk_update: one change to several leads, all or nothing, a refusal naming its lead."""

import datetime

import pytest

from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import Access, AuditEvent
from dealflow.core.services import sharing_default_set
from dealflow.leads.models import Lead, LeadStatus
from dealflow.leads.services import BULK_UPDATE_LIMIT, lead_bulk_update
from tests.factories import LeadFactory, QueueFactory, UserFactory

pytestmark = pytest.mark.django_db


def owners(leads):
    return [
        Lead.objects.values_list("owner_user_id", "owner_queue_id").get(pk=lead.pk)
        for lead in leads
    ]


def statuses(leads):
    return [Lead.objects.get(pk=lead.pk).status.name for lead in leads]


def test_every_lead_gets_the_new_owner_and_each_change_is_audited(actor):
    leads = LeadFactory.create_batch(3, owner_user=actor)
    new_owner = UserFactory()

    updated = lead_bulk_update(
        actor=actor, lead_ids=[lead.pk for lead in leads], data={"owner": new_owner}
    )

    assert [lead.pk for lead in updated] == sorted(lead.pk for lead in leads)
    assert owners(leads) == [(new_owner.pk, None)] * 3
    events = AuditEvent.objects.filter(object_name="Lead", action="update", actor=actor)
    assert sorted(events.values_list("record_id", flat=True)) == sorted(lead.pk for lead in leads)


def test_leads_may_be_given_to_a_queue(actor):
    leads = LeadFactory.create_batch(2, owner_user=actor)
    queue = QueueFactory()

    lead_bulk_update(actor=actor, lead_ids=[lead.pk for lead in leads], data={"owner": queue})

    assert owners(leads) == [(None, queue.pk)] * 2


def test_a_repeated_id_is_changed_once(actor):
    lead = LeadFactory(owner_user=actor)

    updated = lead_bulk_update(
        actor=actor, lead_ids=[lead.pk, lead.pk], data={"status": "Working - Contacted"}
    )

    assert len(updated) == 1
    assert statuses([lead]) == ["Working - Contacted"]
    assert AuditEvent.objects.filter(record_id=lead.pk, action="update").count() == 1


def test_one_converted_lead_refuses_the_whole_change_and_is_named(actor):
    first, last = LeadFactory.create_batch(2, owner_user=actor)
    converted = LeadFactory(
        owner_user=actor,
        is_converted=True,
        converted_date=datetime.date(2026, 1, 5),
        status=LeadStatus.objects.get(name="Closed - Converted"),
    )

    with pytest.raises(DomainError) as raised:
        lead_bulk_update(
            actor=actor,
            lead_ids=[first.pk, converted.pk, last.pk],
            data={"status": "Working - Contacted"},
        )

    assert (raised.value.code, raised.value.message, raised.value.fields) == (
        ErrorCode.CANNOT_UPDATE_CONVERTED_LEAD,
        f"lead {converted.public_id}: lead {converted.public_id} was converted on 2026-01-05 "
        "and is read-only",
        ["id"],
    )
    assert statuses([first, last]) == ["Open - Not Contacted"] * 2
    assert not AuditEvent.objects.filter(action="update").exists()


def test_a_converted_status_is_refused_for_all(actor):
    leads = LeadFactory.create_batch(2, owner_user=actor)

    with pytest.raises(DomainError) as raised:
        lead_bulk_update(
            actor=actor, lead_ids=[lead.pk for lead in leads], data={"status": "Closed - Converted"}
        )

    first = min(lead.pk for lead in leads)
    assert raised.value.code == ErrorCode.INVALID_STATUS
    assert raised.value.message.startswith(f"lead {Lead(pk=first).public_id}: status: ")
    assert raised.value.fields == ["status"]
    assert statuses(leads) == ["Open - Not Contacted"] * 2


def test_a_lead_the_actor_may_not_see_is_not_found_and_nothing_changes(actor):
    sharing_default_set(actor=None, object_name="Lead", access=Access.PRIVATE)
    mine = LeadFactory(owner_user=actor)
    theirs = LeadFactory()
    new_owner = UserFactory()

    with pytest.raises(DomainError) as raised:
        lead_bulk_update(actor=actor, lead_ids=[mine.pk, theirs.pk], data={"owner": new_owner})

    assert (raised.value.code, raised.value.message, raised.value.fields) == (
        ErrorCode.NOT_FOUND,
        f"lead {theirs.public_id}: no lead you can see has this id",
        ["lead_ids"],
    )
    assert owners([mine, theirs]) == [(actor.pk, None), (theirs.owner_user_id, None)]


def test_a_lead_the_actor_may_read_but_not_change_is_refused(actor):
    sharing_default_set(actor=None, object_name="Lead", access=Access.READ)
    mine = LeadFactory(owner_user=actor)
    theirs = LeadFactory()

    with pytest.raises(DomainError) as raised:
        lead_bulk_update(actor=actor, lead_ids=[mine.pk, theirs.pk], data={"title": "Chief Buyer"})

    assert raised.value.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY
    assert raised.value.message == (
        f"lead {theirs.public_id}: you may not change Lead {theirs.public_id}"
    )
    assert list(Lead.objects.order_by("pk").values_list("title", flat=True)) == ["", ""]


def test_an_unknown_id_is_not_found(actor):
    with pytest.raises(DomainError) as raised:
        lead_bulk_update(actor=actor, lead_ids=[987654], data={"title": "x"})
    assert raised.value.code == ErrorCode.NOT_FOUND


def test_no_leads_or_too_many_are_refused(actor):
    with pytest.raises(DomainError) as raised:
        lead_bulk_update(actor=actor, lead_ids=[], data={"title": "x"})
    assert (raised.value.code, raised.value.fields) == (
        ErrorCode.REQUIRED_FIELD_MISSING,
        ["lead_ids"],
    )

    with pytest.raises(DomainError) as raised:
        lead_bulk_update(
            actor=actor, lead_ids=list(range(1, BULK_UPDATE_LIMIT + 2)), data={"title": "x"}
        )
    assert (raised.value.code, raised.value.message) == (
        ErrorCode.INVALID_FIELD,
        f"lead_ids: at most {BULK_UPDATE_LIMIT} leads at once (got {BULK_UPDATE_LIMIT + 1})",
    )
