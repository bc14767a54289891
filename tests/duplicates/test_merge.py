"""Merge of 2 and 3 leads, contacts and accounts: related records re-parented exactly,
undo restoring every row exactly, refusals changing nothing, access."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from dealflow.accounts.models import Account, Contact
from dealflow.automation.models import LeadEvent, LeadScore, LeadScoreHistory
from dealflow.core import ids
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import AuditEvent
from dealflow.core.services import sharing_default_set
from dealflow.dataio.models import ExternalId
from dealflow.duplicates.keys import keys_of_records
from dealflow.duplicates.merge import merge_plan, model_rows, records_merge
from dealflow.duplicates.merge_undo import merge_undo
from dealflow.duplicates.models import (
    DuplicateGroup,
    DuplicateGroupMember,
    DuplicateGroupStatus,
    DuplicateKey,
    Merge,
    MergeStatus,
)
from dealflow.duplicates.services import duplicate_keys_refresh
from dealflow.leads.models import Lead, LeadQualificationAnswer, QualificationItem
from dealflow.people.models import Role
from dealflow.sales.models import OpportunityContactRole, Task
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    QueueFactory,
    TaskFactory,
    UserFactory,
)

# Every table a merge may touch; compared whole before a merge and after its undo.
TABLES = (
    Lead,
    Contact,
    Account,
    Task,
    OpportunityContactRole,
    LeadQualificationAnswer,
    LeadEvent,
    LeadScore,
    LeadScoreHistory,
    DuplicateKey,
    DuplicateGroup,
    DuplicateGroupMember,
    ExternalId,
)


def state():
    """Every row of every table a merge touches, every column, as stored."""
    from dealflow.sales.models import Opportunity

    return {
        model.__name__: model_rows(model, model._default_manager.all())
        for model in (*TABLES, Opportunity)
    }


def refused(code, call):
    before = state()
    events = AuditEvent.objects.count()
    merges = Merge.objects.count()
    with pytest.raises(DomainError) as caught:
        call()
    assert caught.value.code == code
    assert state() == before
    assert AuditEvent.objects.count() == events
    assert Merge.objects.count() == merges
    return caught.value


@pytest.fixture
def admin(db):
    return UserFactory(username="boss", role=Role.ADMIN)


def moment(day, hour=9):
    return datetime.datetime(2026, 3, day, hour, 0, 0, 123456, tzinfo=datetime.UTC)


def aged(record, day):
    """Give a record distinct, microsecond-exact times (undo must restore them)."""
    type(record).objects.filter(pk=record.pk).update(
        created_at=moment(day), updated_at=moment(day, 15)
    )
    record.refresh_from_db()
    return record


# ---------------------------------------------------------------------------------------
# Leads


@pytest.fixture
def leads(admin):
    owner = UserFactory(username="owner1")
    queue = QueueFactory(name="Inbound")
    master = aged(
        LeadFactory(
            first_name="Ada",
            last_name="Lovelace",
            company="Analytical Engines",
            email="ada@engines.example",
            phone="",
            annual_revenue=Decimal("1200.50"),
            owner_user=owner,
        ),
        1,
    )
    second = aged(
        LeadFactory(
            first_name="Ada",
            last_name="Lovelace",
            company="Analytical Engines Ltd",
            email="ada.l@engines.example",
            phone="+44 20 7946 0000",
            annual_revenue=None,
            owner_user=None,
            owner_queue=queue,
        ),
        2,
    )
    third = aged(
        LeadFactory(
            first_name="Augusta",
            last_name="Lovelace",
            company="Engines",
            email="",
            title="Countess",
            owner_user=owner,
        ),
        3,
    )
    tasks = {
        "master": TaskFactory(lead=master, owner=owner),
        "second": [TaskFactory(lead=second, owner=owner), TaskFactory(lead=second, owner=owner)],
        "third": TaskFactory(lead=third, owner=owner),
    }
    budget, authority, need = QualificationItem.objects.filter(framework__name="BANT").order_by(
        "sort_order"
    )[:3]
    now = timezone.now()
    answers = {
        "master_budget": LeadQualificationAnswer.objects.create(
            lead=master, item=budget, met=True, set_at=now
        ),
        "second_budget": LeadQualificationAnswer.objects.create(
            lead=second, item=budget, met=False, set_at=now
        ),
        "second_authority": LeadQualificationAnswer.objects.create(
            lead=second, item=authority, met=True, set_at=now
        ),
        "third_need": LeadQualificationAnswer.objects.create(
            lead=third, item=need, met=True, set_at=now
        ),
    }
    events = [
        LeadEvent.objects.create(lead=second, type="page_view", occurred_at=now, created_at=now),
        LeadEvent.objects.create(lead=third, type="demo_request", occurred_at=now, created_at=now),
    ]
    LeadScore.objects.create(lead=master, score=10.0, parts=[], computed_at=now)
    LeadScore.objects.create(
        lead=second, score=51.5, parts=[{"rule": "x", "points": 51.5}], computed_at=now
    )
    LeadScoreHistory.objects.create(lead=second, score=51.5, rating="Warm", computed_at=now)
    ExternalId.objects.create(target="Lead", external_id="00Q000000000001AAA", record_id=second.pk)
    duplicate_keys_refresh(object_name="Lead", record_ids=[master.pk, second.pk, third.pk])
    return {
        "master": master,
        "second": second,
        "third": third,
        "owner": owner,
        "queue": queue,
        "tasks": tasks,
        "answers": answers,
        "events": events,
        "items": (budget, authority, need),
    }


def test_merge_two_leads_moves_related_records_and_takes_chosen_values(admin, leads):
    master, second = leads["master"], leads["second"]
    master_task = leads["tasks"]["master"]
    moved_tasks = sorted(task.pk for task in leads["tasks"]["second"])

    merge = records_merge(
        actor=admin,
        object_name="Lead",
        master_id=master.pk,
        loser_ids=[second.pk],
        field_choices={"phone": second.pk, "owner": second.pk, "email": second.pk},
    )

    assert not Lead.objects.filter(pk=second.pk).exists()
    master.refresh_from_db()
    assert (master.phone, master.email, master.owner_user_id, master.owner_queue_id) == (
        "+44 20 7946 0000",
        "ada.l@engines.example",
        None,
        leads["queue"].pk,
    )
    # The master's other values stay its own.
    assert (master.company, master.annual_revenue) == ("Analytical Engines", Decimal("1200.50"))
    assert master.created_at == moment(1)
    assert sorted(Task.objects.filter(lead=master).values_list("pk", flat=True)) == sorted(
        [master_task.pk, *moved_tasks]
    )
    # The budget answer conflicts with the master's own: the master's stays, the other moves.
    answers = leads["answers"]
    assert sorted(
        LeadQualificationAnswer.objects.filter(lead=master).values_list("pk", "item_id", "met")
    ) == sorted(
        [
            (answers["master_budget"].pk, leads["items"][0].pk, True),
            (answers["second_authority"].pk, leads["items"][1].pk, True),
        ]
    )
    assert not LeadQualificationAnswer.objects.filter(pk=answers["second_budget"].pk).exists()
    assert list(LeadEvent.objects.filter(lead=master).values_list("pk", flat=True)) == [
        leads["events"][0].pk
    ]
    # Scores are derived: the merged lead's go, the master's stays until rescored.
    assert list(LeadScore.objects.values_list("lead_id", "score")) == [(master.pk, 10.0)]
    assert LeadScoreHistory.objects.count() == 0
    assert list(ExternalId.objects.values_list("record_id", flat=True)) == [master.pk]
    # The master is filed under its new email; the merged lead under nothing.
    assert ("email", "ada.l@engines.example") in set(
        DuplicateKey.objects.filter(object_type="Lead", record_id=master.pk).values_list(
            "kind", "value"
        )
    )
    assert not DuplicateKey.objects.filter(object_type="Lead", record_id=second.pk).exists()
    # The merge and its audit events.
    assert (merge.object_type, merge.master_record_id, merge.merged_record_ids, merge.status) == (
        "Lead",
        master.pk,
        [second.pk],
        MergeStatus.MERGED,
    )
    assert merge.snapshot["related"] == {
        "LeadEvent.lead": 1,
        "LeadQualificationAnswer.lead": 1,
        "Task.lead": 2,
    }
    master_event = AuditEvent.objects.get(object_name="Lead", record_id=master.pk)
    assert master_event.action == "update"
    assert master_event.changes["email"] == ["ada@engines.example", "ada.l@engines.example"]
    assert master_event.changes["merged_records"] == [None, [second.public_id]]
    assert master_event.changes["merge"] == [None, merge.pk]
    loser_event = AuditEvent.objects.get(object_name="Lead", record_id=second.pk)
    assert loser_event.action == "delete"
    assert loser_event.changes["merged_into"] == [None, master.public_id]
    assert loser_event.actor == admin


def test_merge_three_leads_then_undo_restores_every_row_exactly(admin, leads):
    master, second, third = leads["master"], leads["second"], leads["third"]
    before = state()

    merge = records_merge(
        actor=admin,
        object_name="Lead",
        master_id=master.pk,
        loser_ids=[second.pk, third.pk],
        field_choices={"title": third.pk, "phone": second.pk, "first_name": master.pk},
    )

    assert sorted(Lead.objects.values_list("pk", flat=True)) == [master.pk]
    master.refresh_from_db()
    assert (master.title, master.phone, master.first_name) == (
        "Countess",
        "+44 20 7946 0000",
        "Ada",
    )
    assert Task.objects.filter(lead=master).count() == 4
    assert sorted(LeadEvent.objects.values_list("lead_id", "type")) == [
        (master.pk, "demo_request"),
        (master.pk, "page_view"),
    ]
    assert LeadQualificationAnswer.objects.filter(lead=master).count() == 3
    assert state() != before

    undone = merge_undo(actor=admin, merge_id=merge.pk)

    assert undone.status == MergeStatus.UNDONE
    assert undone.undone_by == admin
    assert state() == before
    restored = Lead.objects.get(pk=third.pk)
    assert (restored.created_at, restored.updated_at) == (moment(3), moment(3, 15))
    assert AuditEvent.objects.filter(
        object_name="Lead", record_id=third.pk, action="create"
    ).exists()


def test_a_lead_merge_from_the_review_queue_resolves_its_group(admin, leads):
    master, second, third = leads["master"], leads["second"], leads["third"]
    other = LeadFactory(first_name="Ada", last_name="Lovelace", company="Elsewhere")
    now = timezone.now()
    pair = DuplicateGroup.objects.create(
        object_type="Lead",
        signature="pair",
        rule="Email",
        score=100,
        record_count=2,
        last_found_at=now,
    )
    trio = DuplicateGroup.objects.create(
        object_type="Lead",
        signature="trio",
        rule="Name",
        score=90,
        record_count=3,
        last_found_at=now,
    )
    for group, members in ((pair, [master, second]), (trio, [second, third, other])):
        for record in members:
            DuplicateGroupMember.objects.create(group=group, record_id=record.pk)
    before = state()

    merge = records_merge(
        actor=admin, object_name="Lead", master_id=master.pk, loser_ids=[second.pk]
    )

    pair.refresh_from_db()
    trio.refresh_from_db()
    assert (pair.status, pair.record_count, pair.resolved_by) == (
        DuplicateGroupStatus.MERGED,
        1,
        admin,
    )
    assert sorted(pair.members.values_list("record_id", flat=True)) == [master.pk]
    assert (trio.status, trio.record_count) == (DuplicateGroupStatus.OPEN, 3)
    assert sorted(trio.members.values_list("record_id", flat=True)) == sorted(
        [master.pk, third.pk, other.pk]
    )

    merge_undo(actor=admin, merge_id=merge.pk)
    assert state() == before


# ---------------------------------------------------------------------------------------
# Contacts


@pytest.fixture
def contacts(admin):
    account, other_account = AccountFactory(name="Acme"), AccountFactory(name="Globex")
    master = aged(ContactFactory(first_name="Grace", last_name="Hopper", account=account), 4)
    second = aged(
        ContactFactory(
            first_name="Grace",
            last_name="Hopper",
            account=other_account,
            email="grace@globex.example",
        ),
        5,
    )
    third = aged(ContactFactory(first_name="G.", last_name="Hopper", account=None), 6)
    shared, own = OpportunityFactory(account=account), OpportunityFactory(account=other_account)
    roles = {
        "master_shared": OpportunityContactRole.objects.create(
            opportunity=shared, contact=master, role="Evaluator"
        ),
        "second_shared": OpportunityContactRole.objects.create(
            opportunity=shared, contact=second, role="Decision Maker", is_primary=True
        ),
        "second_own": OpportunityContactRole.objects.create(
            opportunity=own, contact=second, role="Economic Buyer", is_primary=True
        ),
        "third_own": OpportunityContactRole.objects.create(
            opportunity=own, contact=third, role="Influencer"
        ),
    }
    tasks = [TaskFactory(contact=second), TaskFactory(contact=third, account=account)]
    converted = LeadFactory(
        is_converted=True, converted_contact=second, converted_account=other_account
    )
    duplicate_keys_refresh(object_name="Contact", record_ids=[master.pk, second.pk, third.pk])
    return {
        "master": master,
        "second": second,
        "third": third,
        "roles": roles,
        "tasks": tasks,
        "converted": converted,
        "other_account": other_account,
        "shared": shared,
        "own": own,
    }


def test_merge_two_contacts_moves_roles_tasks_and_converted_leads(admin, contacts):
    master, second = contacts["master"], contacts["second"]
    roles = contacts["roles"]
    before = state()

    merge = records_merge(
        actor=admin,
        object_name="Contact",
        master_id=master.pk,
        loser_ids=[second.pk],
        field_choices={"account": second.pk, "email": second.pk},
    )

    master.refresh_from_db()
    assert (master.account_id, master.email) == (
        contacts["other_account"].pk,
        "grace@globex.example",
    )
    # The master's role on the shared deal stays; the other's there goes; its own moves.
    assert sorted(
        OpportunityContactRole.objects.filter(contact=master).values_list("pk", flat=True)
    ) == sorted([roles["master_shared"].pk, roles["second_own"].pk])
    assert not OpportunityContactRole.objects.filter(pk=roles["second_shared"].pk).exists()
    assert Task.objects.get(pk=contacts["tasks"][0].pk).contact_id == master.pk
    assert Lead.objects.get(pk=contacts["converted"].pk).converted_contact_id == master.pk
    assert merge.snapshot["related"] == {
        "Lead.converted_contact": 1,
        "OpportunityContactRole.contact": 1,
        "Task.contact": 1,
    }

    merge_undo(actor=admin, merge_id=merge.pk)
    assert state() == before


def test_merge_three_contacts_and_undo(admin, contacts):
    master, second, third = contacts["master"], contacts["second"], contacts["third"]
    before = state()

    merge = records_merge(
        actor=admin,
        object_name="Contact",
        master_id=third.pk,
        loser_ids=[master.pk, second.pk],
        field_choices={"first_name": master.pk, "account": master.pk},
    )

    third.refresh_from_db()
    assert (third.first_name, third.account.name) == ("Grace", "Acme")
    assert sorted(Contact.objects.values_list("pk", flat=True)) == [third.pk]
    # On the own deal the master already has a role: the second's there goes.
    assert sorted(
        OpportunityContactRole.objects.filter(contact=third).values_list("opportunity_id", "role")
    ) == sorted([(contacts["own"].pk, "Influencer"), (contacts["shared"].pk, "Evaluator")])
    assert Task.objects.filter(contact=third).count() == 2

    merge_undo(actor=admin, merge_id=merge.pk)
    assert state() == before


# ---------------------------------------------------------------------------------------
# Accounts


@pytest.fixture
def accounts(admin):
    master = aged(AccountFactory(name="Initech", phone="", website="initech.example"), 7)
    second = aged(AccountFactory(name="Initech Inc.", phone="+1 212 555 0100"), 8)
    third = aged(AccountFactory(name="INITECH", billing_city="Austin"), 9)
    contacts = [
        ContactFactory(account=master),
        ContactFactory(account=second),
        ContactFactory(account=second),
        ContactFactory(account=third),
    ]
    deals = [OpportunityFactory(account=second), OpportunityFactory(account=third)]
    tasks = [
        TaskFactory(contact=contacts[1], account=second),
        TaskFactory(lead=LeadFactory(), account=third),
    ]
    converted = LeadFactory(is_converted=True, converted_account=third)
    duplicate_keys_refresh(object_name="Account", record_ids=[master.pk, second.pk, third.pk])
    return {
        "master": master,
        "second": second,
        "third": third,
        "contacts": contacts,
        "deals": deals,
        "tasks": tasks,
        "converted": converted,
    }


def test_merge_two_accounts_moves_contacts_deals_and_tasks(admin, accounts):
    master, second = accounts["master"], accounts["second"]
    before = state()

    merge = records_merge(
        actor=admin,
        object_name="Account",
        master_id=master.pk,
        loser_ids=[second.pk],
        field_choices={"phone": second.pk},
    )

    master.refresh_from_db()
    assert (master.name, master.phone, master.website) == (
        "Initech",
        "+1 212 555 0100",
        "initech.example",
    )
    contacts = accounts["contacts"]
    assert sorted(Contact.objects.filter(account=master).values_list("pk", flat=True)) == sorted(
        contact.pk for contact in contacts[:3]
    )
    assert accounts["deals"][0].__class__.objects.get(pk=accounts["deals"][0].pk).account_id == (
        master.pk
    )
    assert Task.objects.get(pk=accounts["tasks"][0].pk).account_id == master.pk
    assert merge.snapshot["related"] == {
        "Contact.account": 2,
        "Opportunity.account": 1,
        "Task.account": 1,
    }

    merge_undo(actor=admin, merge_id=merge.pk)
    assert state() == before


def test_merge_three_accounts_and_undo(admin, accounts):
    master, second, third = accounts["master"], accounts["second"], accounts["third"]
    before = state()

    merge = records_merge(
        actor=admin,
        object_name="Account",
        master_id=master.pk,
        loser_ids=[second.pk, third.pk],
        field_choices={"billing_city": third.pk, "name": third.pk},
    )

    master.refresh_from_db()
    assert (master.name, master.billing_city) == ("INITECH", "Austin")
    assert sorted(Account.objects.values_list("pk", flat=True)) == sorted(
        account.pk for account in Account.objects.all() if account.pk not in (second.pk, third.pk)
    )
    assert Contact.objects.filter(account=master).count() == 4
    assert Lead.objects.get(pk=accounts["converted"].pk).converted_account_id == master.pk
    assert (
        sorted(
            DuplicateKey.objects.filter(object_type="Account", record_id__in=[second.pk, third.pk])
        )
        == []
    )

    merge_undo(actor=admin, merge_id=merge.pk)
    assert state() == before


# ---------------------------------------------------------------------------------------
# Refusals: each changes nothing


def test_more_than_three_records_are_refused(admin, leads):
    extra = LeadFactory()
    error = refused(
        ErrorCode.INVALID_FIELD,
        lambda: records_merge(
            actor=admin,
            object_name="Lead",
            master_id=leads["master"].pk,
            loser_ids=[leads["second"].pk, leads["third"].pk, extra.pk],
        ),
    )
    assert error.fields == ["merged_ids"]
    assert "merge 2 to 3 records" in error.message


@pytest.mark.parametrize(
    ("losers", "choices", "code", "field"),
    [
        (lambda _leads: [], {}, ErrorCode.INVALID_FIELD, "merged_ids"),
        (lambda found: [found["master"].pk], {}, ErrorCode.INVALID_FIELD, "merged_ids"),
        (
            lambda found: [found["second"].pk, found["second"].pk],
            {},
            ErrorCode.INVALID_FIELD,
            "merged_ids",
        ),
        (lambda found: ["x"], {}, ErrorCode.INVALID_ID, "merged_ids"),
        (
            lambda found: [found["second"].pk],
            {"is_converted": 1},
            ErrorCode.INVALID_FIELD,
            "fields.is_converted",
        ),
        (
            lambda found: [found["second"].pk],
            {"email": 99999999},
            ErrorCode.INVALID_FIELD,
            "fields.email",
        ),
        (lambda found: [99999999], {}, ErrorCode.NOT_FOUND, "merged_ids"),
    ],
)
def test_bad_input_is_refused_naming_the_field(admin, leads, losers, choices, code, field):
    error = refused(
        code,
        lambda: records_merge(
            actor=admin,
            object_name="Lead",
            master_id=leads["master"].pk,
            loser_ids=losers(leads),
            field_choices=choices,
        ),
    )
    assert error.fields == [field]


def test_an_unknown_object_is_refused(admin, leads):
    error = refused(
        ErrorCode.INVALID_FIELD,
        lambda: records_merge(actor=admin, object_name="Opportunity", master_id=1, loser_ids=[2]),
    )
    assert error.fields == ["object"]


@pytest.mark.parametrize("which", ["master", "second"])
def test_a_converted_lead_cannot_be_merged(admin, leads, which):
    Lead.objects.filter(pk=leads[which].pk).update(is_converted=True)
    error = refused(
        ErrorCode.CANNOT_UPDATE_CONVERTED_LEAD,
        lambda: records_merge(
            actor=admin,
            object_name="Lead",
            master_id=leads["master"].pk,
            loser_ids=[leads["second"].pk],
        ),
    )
    lead = leads[which]
    assert error.message == (
        f"Lead {lead.first_name} {lead.last_name} was converted and cannot be merged "
        "(Salesforce refuses this too)."
    )
    assert error.fields == ["master_id" if which == "master" else "merged_ids"]


def test_a_record_the_rep_may_not_see_is_not_found_and_not_revealed(leads, actor):
    sharing_default_set(actor=None, object_name="Lead", access="private")
    mine = LeadFactory(owner_user=actor, last_name="Lovelace")
    theirs = leads["second"]
    error = refused(
        ErrorCode.NOT_FOUND,
        lambda: records_merge(
            actor=actor, object_name="Lead", master_id=mine.pk, loser_ids=[theirs.pk]
        ),
    )
    assert error.message == f"merged_ids: no Lead with id {theirs.public_id}"
    assert "Lovelace" not in error.message


def test_a_record_the_rep_may_see_but_not_change_is_refused(leads, actor):
    sharing_default_set(actor=None, object_name="Lead", access="read")
    mine = LeadFactory(owner_user=actor)
    error = refused(
        ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY,
        lambda: records_merge(
            actor=actor, object_name="Lead", master_id=mine.pk, loser_ids=[leads["second"].pk]
        ),
    )
    assert error.fields == ["merged_ids"]


def test_a_rep_merges_records_they_may_change(actor):
    sharing_default_set(actor=None, object_name="Lead", access="private")
    first, second = LeadFactory(owner_user=actor), LeadFactory(owner_user=actor)
    merge = records_merge(
        actor=actor, object_name="Lead", master_id=first.pk, loser_ids=[second.pk]
    )
    assert merge.merged_by == actor
    assert list(Lead.objects.values_list("pk", flat=True)) == [first.pk]


# ---------------------------------------------------------------------------------------
# Undo refusals: each changes nothing


def test_undo_twice_is_refused(admin, leads):
    merge = records_merge(
        actor=admin,
        object_name="Lead",
        master_id=leads["master"].pk,
        loser_ids=[leads["second"].pk],
    )
    merge_undo(actor=admin, merge_id=merge.pk)
    error = refused(ErrorCode.INVALID_STATUS, lambda: merge_undo(actor=admin, merge_id=merge.pk))
    assert error.message == f"merge {merge.pk} was already undone"


def test_undo_is_refused_when_a_field_the_merge_set_changed_since(admin, leads):
    master, second = leads["master"], leads["second"]
    merge = records_merge(
        actor=admin,
        object_name="Lead",
        master_id=master.pk,
        loser_ids=[second.pk],
        field_choices={"phone": second.pk},
    )
    Lead.objects.filter(pk=master.pk).update(phone="+44 20 7946 1111", title="Director")
    error = refused(ErrorCode.INVALID_STATUS, lambda: merge_undo(actor=admin, merge_id=merge.pk))
    assert error.message == (
        f"Lead {master.public_id} was changed since the merge (phone); undoing it would "
        "lose those changes"
    )
    assert error.fields == ["phone"]


def test_undo_keeps_the_masters_later_edits_of_other_fields(admin, leads):
    """A title typed (or a Rating scored) after the merge stays; the merge's own field
    gets its former value, the merged lead comes back, the master's keys follow its row."""
    master, second = leads["master"], leads["second"]
    merge = records_merge(
        actor=admin,
        object_name="Lead",
        master_id=master.pk,
        loser_ids=[second.pk],
        field_choices={"phone": second.pk},
    )
    assert Lead.objects.get(pk=master.pk).phone == "+44 20 7946 0000"
    Lead.objects.filter(pk=master.pk).update(title="Director", last_name="Byron")

    merge_undo(actor=admin, merge_id=merge.pk)

    restored = Lead.objects.get(pk=master.pk)
    assert (restored.phone, restored.title, restored.last_name) == ("", "Director", "Byron")
    assert Lead.objects.get(pk=second.pk).phone == "+44 20 7946 0000"
    master_keys = set(
        DuplicateKey.objects.filter(object_type="Lead", record_id=master.pk).values_list(
            "kind", "value"
        )
    )
    assert master_keys == {
        (kind, value) for _id, kind, value in keys_of_records("Lead", [restored])
    }
    assert ("name", "byron|a") in master_keys  # the last name edited after the merge
    assert Merge.objects.get(pk=merge.pk).status == MergeStatus.UNDONE


def test_undo_is_refused_when_the_master_was_deleted(admin, leads):
    master = leads["master"]
    merge = records_merge(
        actor=admin, object_name="Lead", master_id=master.pk, loser_ids=[leads["second"].pk]
    )
    Lead.objects.filter(pk=master.pk).delete()
    error = refused(ErrorCode.INVALID_STATUS, lambda: merge_undo(actor=admin, merge_id=merge.pk))
    assert error.message == f"the master Lead {master.public_id} was deleted since the merge"


def test_undo_is_refused_while_a_later_merge_of_the_master_stands(admin, leads):
    master = leads["master"]
    first = records_merge(
        actor=admin, object_name="Lead", master_id=master.pk, loser_ids=[leads["second"].pk]
    )
    later = records_merge(
        actor=admin, object_name="Lead", master_id=master.pk, loser_ids=[leads["third"].pk]
    )
    error = refused(ErrorCode.INVALID_STATUS, lambda: merge_undo(actor=admin, merge_id=first.pk))
    assert f"merge {later.pk}" in error.message
    # Undone in reverse order, both restore everything.
    merge_undo(actor=admin, merge_id=later.pk)
    merge_undo(actor=admin, merge_id=first.pk)
    assert Lead.objects.filter(pk__in=[leads["second"].pk, leads["third"].pk]).count() == 2


def test_undo_is_refused_when_a_restored_email_was_taken_meanwhile(admin, leads):
    second = leads["second"]
    merge = records_merge(
        actor=admin, object_name="Lead", master_id=leads["master"].pk, loser_ids=[second.pk]
    )
    taker = LeadFactory(email="ADA.L@engines.example")
    error = refused(ErrorCode.DUPLICATE_VALUE, lambda: merge_undo(actor=admin, merge_id=merge.pk))
    assert error.message.startswith(f"Lead {second.public_id} cannot be restored: ")
    assert "An unconverted lead with this email already exists." in error.message
    assert Merge.objects.get(pk=merge.pk).status == MergeStatus.MERGED
    assert Lead.objects.filter(pk=taker.pk).exists()


def test_undo_by_a_rep_who_may_not_see_the_master_is_not_found(admin, leads, actor):
    sharing_default_set(actor=None, object_name="Lead", access="private")
    merge = records_merge(
        actor=admin,
        object_name="Lead",
        master_id=leads["master"].pk,
        loser_ids=[leads["second"].pk],
    )
    error = refused(ErrorCode.NOT_FOUND, lambda: merge_undo(actor=actor, merge_id=merge.pk))
    assert error.message == f"merge {merge.pk} does not exist"


# ---------------------------------------------------------------------------------------
# The preview


def test_the_preview_shows_values_choices_and_related_counts_without_writing(admin, leads):
    master, second = leads["master"], leads["second"]
    before = state()
    plan = merge_plan(
        actor=admin,
        object_name="Lead",
        master_id=master.pk,
        loser_ids=[second.pk],
        field_choices={"phone": second.pk},
    )
    assert state() == before
    assert [record.pk for record in plan.records] == [master.pk, second.pk]
    by_name = {choice.name: choice for choice in plan.fields}
    assert by_name["phone"].values == ["", "+44 20 7946 0000"]
    assert by_name["phone"].chosen_id == second.pk
    assert by_name["phone"].differs is True
    assert by_name["last_name"].differs is False
    assert by_name["owner"].values == [str(leads["owner"]), "Inbound"]
    assert plan.result["phone"] == "+44 20 7946 0000"
    assert plan.result["email"] == "ada@engines.example"
    assert plan.related == {
        "LeadEvent.lead": 1,
        "LeadQualificationAnswer.lead": 2,
        "Task.lead": 2,
    }
    assert ids.encode("Lead", master.pk) == plan.master.public_id


def test_undo_is_refused_when_a_restored_row_refers_to_a_record_deleted_since(admin, contacts):
    from dealflow.sales.models import Opportunity

    merge = records_merge(
        actor=admin,
        object_name="Contact",
        master_id=contacts["master"].pk,
        loser_ids=[contacts["second"].pk],
    )
    # The second's role on the shared deal was removed by the merge (the master had one);
    # the deal goes too, so that role has nothing to come back to.
    Opportunity.objects.filter(pk=contacts["shared"].pk).delete()
    error = refused(ErrorCode.INVALID_STATUS, lambda: merge_undo(actor=admin, merge_id=merge.pk))
    assert error.message.startswith("a restored record refers to a record deleted since the merge")


# ---------------------------------------------------------------------------------------
# Atomic: a failure half-way leaves everything as it was


def test_a_merge_failing_half_way_changes_nothing(admin, leads, monkeypatch):
    from dealflow.duplicates import merge as merge_module

    def broken(**_kwargs):
        raise RuntimeError("disk full")

    # Fails after the related records moved and the merged leads were deleted.
    monkeypatch.setattr(merge_module, "duplicate_keys_write", broken)
    before = state()
    with pytest.raises(RuntimeError):
        records_merge(
            actor=admin,
            object_name="Lead",
            master_id=leads["master"].pk,
            loser_ids=[leads["second"].pk, leads["third"].pk],
        )
    assert state() == before
    assert Merge.objects.count() == 0


def test_an_undo_failing_half_way_changes_nothing(admin, leads, monkeypatch):
    from dealflow.duplicates import merge_undo as merge_undo_module

    merge = records_merge(
        actor=admin,
        object_name="Lead",
        master_id=leads["master"].pk,
        loser_ids=[leads["second"].pk],
        field_choices={"email": leads["second"].pk},
    )
    merged = state()

    def broken(model, rows):
        raise RuntimeError("connection lost")

    # Fails after the master's values and the keys were put back, before the rows return.
    monkeypatch.setattr(merge_undo_module, "_insert", broken)
    with pytest.raises(RuntimeError):
        merge_undo(actor=admin, merge_id=merge.pk)
    assert state() == merged
    assert Merge.objects.get(pk=merge.pk).status == MergeStatus.MERGED
