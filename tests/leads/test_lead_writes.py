"""lead_create / lead_update in detail: statuses, owners, access, duplicates and the audit."""

import pytest

from dealflow.core.cache import forget_all
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import Access, AuditEvent
from dealflow.core.services import sharing_default_set
from dealflow.leads.models import Lead, LeadStatus
from dealflow.leads.services import lead_create, lead_update
from dealflow.people.models import Role
from tests.factories import LeadFactory, QueueFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

MINIMAL = {"last_name": "Hopper", "company": "Navy Labs"}


def update_events():
    return list(
        AuditEvent.objects.filter(object_name="Lead", action="update").values_list(
            "actor_id", "record_id", "changes"
        )
    )


def test_a_lead_may_start_in_a_given_open_status(actor):
    lead = lead_create(actor=actor, data={**MINIMAL, "status": "Working - Contacted"})
    assert Lead.objects.get(pk=lead.pk).status.name == "Working - Contacted"


def test_without_a_default_status_a_lead_cannot_be_created(actor):
    LeadStatus.objects.update(is_default=False)
    forget_all()

    with pytest.raises(DomainError) as raised:
        lead_create(actor=actor, data=MINIMAL)

    assert (raised.value.code, raised.value.message, raised.value.fields) == (
        ErrorCode.INVALID_STATUS,
        "No default lead status is configured",
        ["status"],
    )
    assert Lead.objects.count() == 0


def test_a_lead_created_for_another_user_is_theirs(actor):
    owner = UserFactory()
    lead = lead_create(actor=actor, data={**MINIMAL, "owner": owner})
    stored = Lead.objects.get(pk=lead.pk)
    assert (stored.owner_user_id, stored.owner_queue_id) == (owner.pk, None)


def test_a_queued_lead_may_be_given_to_a_user(actor):
    lead = lead_create(actor=actor, data={**MINIMAL, "owner": QueueFactory()})
    owner = UserFactory()

    lead_update(actor=actor, lead=lead, data={"owner": owner})

    stored = Lead.objects.get(pk=lead.pk)
    assert (stored.owner_user_id, stored.owner_queue_id) == (owner.pk, None)


def test_an_update_is_audited_with_the_actor(actor):
    lead = lead_create(actor=actor, data={**MINIMAL, "title": "Engineer"})
    manager = UserFactory(role=Role.MANAGER)

    lead_update(actor=manager, lead=lead, data={"title": "Admiral"})

    assert update_events() == [(manager.pk, lead.pk, {"title": ["Engineer", "Admiral"]})]


def test_an_update_works_on_the_stored_lead_not_the_callers_copy(actor):
    lead = lead_create(actor=actor, data={**MINIMAL, "title": "Engineer"})
    stale = Lead.objects.get(pk=lead.pk)
    lead_update(actor=actor, lead=lead, data={"title": "Admiral"})

    lead_update(actor=actor, lead=stale, data={"city": "Arlington"})

    stored = Lead.objects.get(pk=lead.pk)
    assert (stored.title, stored.city) == ("Admiral", "Arlington")


def test_a_read_only_lead_may_not_be_changed(actor):
    sharing_default_set(actor=None, object_name="Lead", access=Access.READ)
    lead = LeadFactory(owner_user=UserFactory(team=TeamFactory()), title="Theirs")

    with pytest.raises(DomainError) as raised:
        lead_update(actor=actor, lead=lead, data={"title": "Mine"})

    assert raised.value.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY
    assert Lead.objects.get(pk=lead.pk).title == "Theirs"
    assert update_events() == []


def test_a_taken_email_on_update_names_the_lead_that_has_it(actor):
    holder = lead_create(actor=actor, data={**MINIMAL, "email": "taken@navy.example"})
    lead = lead_create(actor=actor, data={**MINIMAL, "email": "mine@navy.example"})

    with pytest.raises(DomainError) as raised:
        lead_update(actor=actor, lead=lead, data={"email": "TAKEN@navy.example"})

    assert raised.value.code == ErrorCode.DUPLICATE_VALUE
    assert f"({holder.public_id})" in raised.value.message
    assert lead.public_id not in raised.value.message
    assert Lead.objects.get(pk=lead.pk).email == "mine@navy.example"


def test_a_taken_email_of_a_lead_the_actor_cannot_see_is_not_named(actor):
    sharing_default_set(actor=None, object_name="Lead", access=Access.PRIVATE)
    holder = LeadFactory(owner_user=UserFactory(), email="hidden@navy.example")

    with pytest.raises(DomainError) as raised:
        lead_create(actor=actor, data={**MINIMAL, "email": "hidden@navy.example"})

    assert raised.value.code == ErrorCode.DUPLICATE_VALUE
    assert holder.public_id not in raised.value.message
    assert raised.value.message == (
        "email: an unconverted lead you cannot see already has the email 'hidden@navy.example'"
    )


def test_a_converted_status_is_refused_with_a_reason(actor):
    with pytest.raises(DomainError) as raised:
        lead_create(actor=actor, data={**MINIMAL, "status": "Closed - Converted"})

    assert (raised.value.code, raised.value.message) == (
        ErrorCode.INVALID_STATUS,
        "status: 'Closed - Converted' is a converted status; convert the lead instead",
    )
