"""Tasks and contact roles: targets, defaults, access, completion and their audit events."""

import datetime

import pytest

from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import Access, AuditEvent
from dealflow.core.services import sharing_default_set
from dealflow.sales.models import OpportunityContactRole, Task
from dealflow.sales.services import (
    contact_role_create,
    contact_role_delete,
    contact_role_set,
    contact_role_update,
    opportunity_delete,
    task_complete,
    task_create,
    task_delete,
    task_log_call,
    task_update,
)
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    TaskFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 27, 15, 30, tzinfo=datetime.UTC)


def events(object_name):
    return list(
        AuditEvent.objects.filter(object_name=object_name)
        .order_by("id")
        .values_list("actor_id", "record_id", "action", "changes")
    )


def targets(task):
    task = Task.objects.get(pk=task.pk)
    return (task.lead_id, task.contact_id, task.account_id, task.opportunity_id)


# ---------------------------------------------------------------------------------------
# Tasks


def test_a_task_on_a_lead_takes_the_defaults_and_the_actor_as_owner(actor):
    lead = LeadFactory()

    task = task_create(actor=actor, subject=" Call back ", who=lead, due_date="2026-12-01")

    task = Task.objects.get(pk=task.pk)
    assert (
        task.subject,
        task.type,
        task.priority,
        task.status,
        task.due_date,
        task.owner_id,
        task.completed_at,
    ) == ("Call back", "todo", "normal", "open", datetime.date(2026, 12, 1), actor.pk, None)
    assert targets(task) == (lead.pk, None, None, None)
    assert events("Task") == [
        (
            actor.pk,
            task.pk,
            "create",
            {
                "subject": [None, "Call back"],
                "type": [None, "todo"],
                "priority": [None, "normal"],
                "due_date": [None, "2026-12-01"],
                "lead": [None, lead.public_id],
            },
        )
    ]


def test_blank_type_and_priority_fall_back_to_the_defaults(actor):
    task = task_create(actor=actor, subject="Ping", who=LeadFactory(), type="", priority="")
    assert (task.type, task.priority) == ("todo", "normal")


def test_a_task_may_belong_to_someone_else(actor):
    owner = UserFactory()
    task = task_create(actor=actor, subject="Ping", who=LeadFactory(), owner=owner)
    assert Task.objects.get(pk=task.pk).owner_id == owner.pk


@pytest.mark.parametrize("what", ["none", "account", "opportunity"])
def test_a_contacts_task_is_about_its_account_unless_told_otherwise(actor, what):
    contact = ContactFactory()
    other_account = AccountFactory()
    deal = OpportunityFactory(account=other_account)
    given = {"none": None, "account": other_account, "opportunity": deal}[what]

    task = task_create(actor=actor, subject="Demo", who=contact, what=given)

    expected_account = other_account.pk if what == "account" else contact.account_id
    expected_deal = deal.pk if what == "opportunity" else None
    assert targets(task) == (None, contact.pk, expected_account, expected_deal)


def test_a_contact_without_an_account_takes_the_deals_account(actor):
    contact = ContactFactory(account=None)
    deal = OpportunityFactory()

    task = task_create(actor=actor, subject="Demo", who=contact, what=deal)

    assert targets(task) == (None, contact.pk, deal.account_id, deal.pk)


def test_a_leads_task_about_a_deal_takes_the_deals_account(actor):
    lead = LeadFactory()
    deal = OpportunityFactory()

    task = task_create(actor=actor, subject="Demo", who=lead, what=deal)

    assert targets(task) == (lead.pk, None, deal.account_id, deal.pk)


def test_a_converted_lead_takes_no_task(actor):
    lead = LeadFactory(is_converted=True)
    with pytest.raises(DomainError) as raised:
        task_create(actor=actor, subject="Call", who=lead)
    assert (raised.value.code, raised.value.fields) == (
        ErrorCode.CANNOT_UPDATE_CONVERTED_LEAD,
        ["who_id"],
    )
    assert raised.value.message.startswith(f"who_id: lead {lead.public_id} is converted")
    assert Task.objects.count() == 0


def test_completing_a_task_stamps_the_time_once_and_audits_it(actor, freeze_clock):
    task = task_create(actor=actor, subject="Call", who=LeadFactory())
    freeze_clock(NOW)

    task_complete(actor=actor, task=task)

    stored = Task.objects.get(pk=task.pk)
    assert (stored.status, stored.completed_at) == ("completed", NOW)
    freeze_clock(NOW + datetime.timedelta(hours=1))
    again = task_complete(actor=actor, task=task)
    assert again.completed_at == NOW
    assert Task.objects.get(pk=task.pk).completed_at == NOW
    assert events("Task")[1:] == [
        (actor.pk, task.pk, "complete", {"status": ["open", "completed"]})
    ]


def test_completing_a_task_of_someone_elses_read_only_lead_is_refused(actor):
    # A task follows its lead (core/access.py CONTROLLED_BY_PARENT).
    sharing_default_set(actor=None, object_name="Lead", access=Access.READ)
    task = TaskFactory(lead=LeadFactory())

    with pytest.raises(DomainError) as raised:
        task_complete(actor=actor, task=task)

    assert raised.value.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY
    assert Task.objects.get(pk=task.pk).status == "open"
    assert events("Task") == []


def test_a_task_update_changes_fields_and_targets_and_audits_them(actor):
    lead = LeadFactory()
    contact = ContactFactory()
    deal = OpportunityFactory(account=contact.account)
    task = task_create(actor=actor, subject="Call", who=lead)

    task_update(
        actor=actor,
        task=task,
        data={"subject": "Demo", "priority": "high", "who": contact, "what": deal},
    )

    stored = Task.objects.get(pk=task.pk)
    assert (stored.subject, stored.priority) == ("Demo", "high")
    assert targets(task) == (None, contact.pk, contact.account_id, deal.pk)
    assert events("Task")[1:] == [
        (
            actor.pk,
            task.pk,
            "update",
            {
                "subject": ["Call", "Demo"],
                "priority": ["normal", "high"],
                "lead": [lead.public_id, None],
                "contact": [None, contact.public_id],
                "account": [None, contact.account.public_id],
                "opportunity": [None, deal.public_id],
            },
        )
    ]


def test_a_task_update_of_what_alone_keeps_who(actor):
    contact = ContactFactory()
    deal = OpportunityFactory()
    task = task_create(actor=actor, subject="Call", who=contact)

    task_update(actor=actor, task=task, data={"what": deal})

    assert targets(task) == (None, contact.pk, contact.account_id, deal.pk)


def test_a_task_update_of_who_alone_keeps_what(actor):
    lead = LeadFactory()
    deal = OpportunityFactory()
    task = task_create(actor=actor, subject="Call", who=LeadFactory(), what=deal)

    task_update(actor=actor, task=task, data={"who": lead})

    assert targets(task) == (lead.pk, None, deal.account_id, deal.pk)


def test_a_task_update_may_clear_what(actor):
    contact = ContactFactory()
    task = task_create(actor=actor, subject="Call", who=contact, what=OpportunityFactory())

    task_update(actor=actor, task=task, data={"what": None})

    assert targets(task) == (None, contact.pk, contact.account_id, None)


def test_a_task_update_without_changes_writes_nothing(actor):
    task = task_create(actor=actor, subject="Call", who=LeadFactory())
    before = Task.objects.values().get(pk=task.pk)

    task_update(actor=actor, task=task, data={"subject": "Call"})

    assert Task.objects.values().get(pk=task.pk) == before
    assert len(events("Task")) == 1


def test_a_task_update_may_not_complete_it(actor):
    task = task_create(actor=actor, subject="Call", who=LeadFactory())

    with pytest.raises(DomainError) as raised:
        task_update(actor=actor, task=task, data={"status": "completed"})

    assert raised.value.code in (
        ErrorCode.INVALID_FIELD_FOR_INSERT_UPDATE,
        ErrorCode.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST,
    )
    assert Task.objects.get(pk=task.pk).status == "open"


def test_a_task_of_a_read_only_lead_may_not_be_updated_or_deleted(actor):
    sharing_default_set(actor=None, object_name="Lead", access=Access.READ)
    task = TaskFactory(lead=LeadFactory(), subject="Theirs")

    for call in (
        lambda: task_update(actor=actor, task=task, data={"subject": "Mine"}),
        lambda: task_delete(actor=actor, task=task),
    ):
        with pytest.raises(DomainError) as raised:
            call()
        assert raised.value.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY
    assert Task.objects.get(pk=task.pk).subject == "Theirs"


def test_a_deleted_task_leaves_an_audit_event(actor):
    task = task_create(actor=actor, subject="Call", who=LeadFactory())
    task_id = task.pk

    task_delete(actor=actor, task=task)

    assert not Task.objects.filter(pk=task_id).exists()
    actor_id, record_id, action, changes = events("Task")[-1]
    assert (actor_id, record_id, action, changes["subject"]) == (
        actor.pk,
        task_id,
        "delete",
        ["Call", None],
    )


# ---------------------------------------------------------------------------------------
# Contact roles


@pytest.fixture
def deal():
    return OpportunityFactory()


def roles(deal):
    return set(
        OpportunityContactRole.objects.filter(opportunity=deal).values_list(
            "contact_id", "role", "is_primary"
        )
    )


def test_a_contact_role_is_set_and_audited_with_the_actor(actor, deal):
    contact = ContactFactory(account=deal.account)

    role = contact_role_set(
        actor=actor, opportunity=deal, contact=contact, role="Evaluator", is_primary=True
    )

    assert roles(deal) == {(contact.pk, "Evaluator", True)}
    assert events("OpportunityContactRole") == [
        (
            actor.pk,
            role.pk,
            "create",
            {
                "contact": [None, contact.public_id],
                "role": [None, "Evaluator"],
                "is_primary": [None, True],
            },
        )
    ]


def test_setting_a_role_again_updates_it(actor, deal):
    contact = ContactFactory(account=deal.account)
    first = contact_role_set(actor=actor, opportunity=deal, contact=contact, role="Evaluator")

    again = contact_role_set(actor=actor, opportunity=deal, contact=contact, role="Influencer")

    assert again.pk == first.pk
    assert roles(deal) == {(contact.pk, "Influencer", False)}
    assert [event[2] for event in events("OpportunityContactRole")] == ["create", "update"]


def test_a_new_primary_replaces_the_old_one_and_touches_it(actor, deal, freeze_clock):
    first, second = ContactFactory(), ContactFactory()
    old = contact_role_set(actor=actor, opportunity=deal, contact=first, is_primary=True)
    freeze_clock(NOW)

    contact_role_set(actor=actor, opportunity=deal, contact=second, is_primary=True)

    assert roles(deal) == {(first.pk, "", False), (second.pk, "", True)}
    assert OpportunityContactRole.objects.get(pk=old.pk).updated_at == NOW


def test_a_role_that_is_not_primary_leaves_the_primary_alone(actor, deal):
    first, second = ContactFactory(), ContactFactory()
    contact_role_set(actor=actor, opportunity=deal, contact=first, is_primary=True)

    contact_role_set(actor=actor, opportunity=deal, contact=second, role="Evaluator")

    assert roles(deal) == {(first.pk, "", True), (second.pk, "Evaluator", False)}


def test_contact_role_create_takes_native_values(actor, deal):
    contact = ContactFactory()

    role = contact_role_create(
        actor=actor,
        data={"opportunity": deal, "contact": contact, "role": "Evaluator", "is_primary": True},
    )

    assert roles(deal) == {(contact.pk, "Evaluator", True)}
    assert events("OpportunityContactRole")[0][:3] == (actor.pk, role.pk, "create")


def test_contact_role_update_changes_role_or_primary_and_keeps_the_rest(actor, deal):
    contact = ContactFactory()
    role = contact_role_set(
        actor=actor, opportunity=deal, contact=contact, role="Evaluator", is_primary=True
    )

    contact_role_update(actor=actor, contact_role=role, data={"role": "Decision Maker"})
    assert roles(deal) == {(contact.pk, "Decision Maker", True)}

    role = OpportunityContactRole.objects.get(pk=role.pk)
    contact_role_update(actor=actor, contact_role=role, data={"is_primary": False})
    assert roles(deal) == {(contact.pk, "Decision Maker", False)}
    assert [event[:3] for event in events("OpportunityContactRole")] == [
        (actor.pk, role.pk, "create"),
        (actor.pk, role.pk, "update"),
        (actor.pk, role.pk, "update"),
    ]


def test_contact_roles_on_a_read_only_deal_are_refused(actor):
    sharing_default_set(actor=None, object_name="Opportunity", access=Access.READ)
    deal = OpportunityFactory()
    contact = ContactFactory(account=deal.account)
    existing = OpportunityContactRole.objects.create(opportunity=deal, contact=contact)

    for call in (
        lambda: contact_role_set(actor=actor, opportunity=deal, contact=ContactFactory()),
        lambda: contact_role_update(actor=actor, contact_role=existing, data={"role": "Other"}),
        lambda: contact_role_delete(actor=actor, contact_role=existing),
        lambda: opportunity_delete(actor=actor, opportunity=deal),
    ):
        with pytest.raises(DomainError) as raised:
            call()
        assert raised.value.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY
    assert roles(deal) == {(contact.pk, "", False)}


def test_deleting_a_role_and_a_deal_is_audited(actor, deal):
    role = contact_role_set(actor=actor, opportunity=deal, contact=ContactFactory())
    role_id, deal_id = role.pk, deal.pk

    contact_role_delete(actor=actor, contact_role=role)
    opportunity_delete(actor=actor, opportunity=deal)

    assert not OpportunityContactRole.objects.exists()
    assert events("OpportunityContactRole")[-1][:3] == (actor.pk, role_id, "delete")
    assert events("Opportunity")[-1][:3] == (actor.pk, deal_id, "delete")


def test_contact_role_create_defaults_to_no_role_and_not_primary(actor, deal):
    contact = ContactFactory()

    contact_role_create(actor=actor, data={"opportunity": deal, "contact": contact})

    assert roles(deal) == {(contact.pk, "", False)}


def test_a_new_primary_touches_only_the_old_primary_of_the_same_deal(actor, deal, freeze_clock):
    other_deal = OpportunityFactory()
    elsewhere = contact_role_set(
        actor=actor, opportunity=other_deal, contact=ContactFactory(), is_primary=True
    )
    bystander = contact_role_set(actor=actor, opportunity=deal, contact=ContactFactory())
    first = ContactFactory()
    contact_role_set(actor=actor, opportunity=deal, contact=first, is_primary=True)
    before = {
        role.pk: role.updated_at
        for role in OpportunityContactRole.objects.filter(pk__in=[elsewhere.pk, bystander.pk])
    }
    freeze_clock(NOW)

    second = ContactFactory()
    contact_role_set(actor=actor, opportunity=deal, contact=second, is_primary=True)

    assert roles(other_deal) == {(elsewhere.contact_id, "", True)}
    assert roles(deal) == {
        (bystander.contact_id, "", False),
        (first.pk, "", False),
        (second.pk, "", True),
    }
    after = {
        role.pk: role.updated_at
        for role in OpportunityContactRole.objects.filter(pk__in=[elsewhere.pk, bystander.pk])
    }
    assert after == before


def test_a_task_needs_a_subject_and_has_no_description_unless_given(actor):
    with pytest.raises(DomainError) as raised:
        task_create(actor=actor, who=LeadFactory())
    assert (raised.value.code, raised.value.fields) == (
        ErrorCode.REQUIRED_FIELD_MISSING,
        ["subject"],
    )
    assert Task.objects.count() == 0

    task = task_create(actor=actor, subject="Call", who=LeadFactory())
    assert Task.objects.get(pk=task.pk).description == ""


# ---------------------------------------------------------------------------------------
# Log a call


def test_logging_a_call_creates_a_completed_call_dated_today(actor, freeze_clock):
    freeze_clock(NOW)
    lead = LeadFactory()

    task = task_log_call(actor=actor, who=lead, description="Left a voicemail")

    task = Task.objects.get(pk=task.pk)
    assert (task.subject, task.type, task.status, task.due_date, task.completed_at) == (
        "Call",
        "call",
        "completed",
        datetime.date(2026, 11, 27),
        NOW,
    )
    assert (task.description, task.lead_id, task.owner_id) == (
        "Left a voicemail",
        lead.pk,
        actor.pk,
    )


def test_a_refused_call_log_writes_nothing(actor):
    with pytest.raises(DomainError) as refused:
        task_log_call(actor=actor, who=None, subject="Intro call")

    assert refused.value.code == ErrorCode.REQUIRED_FIELD_MISSING
    assert (Task.objects.count(), AuditEvent.objects.filter(object_name="Task").count()) == (0, 0)
