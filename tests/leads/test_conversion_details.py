"""lead_convert in detail: what it writes to attached records, tasks, roles and the audit."""

import datetime

import pytest

from dealflow.accounts.models import Contact
from dealflow.core.cache import forget_all
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import AuditEvent, IdempotencyRecord
from dealflow.leads.models import Lead, LeadStatus
from dealflow.leads.services import (
    ConversionResult,
    end_of_fiscal_quarter,
    lead_convert,
    lead_delete,
)
from dealflow.sales.models import Opportunity, OpportunityContactRole, OpportunityStage, Task
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    QueueFactory,
    TaskFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 27, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def frozen(freeze_clock):
    freeze_clock(NOW)


def events(object_name, action=None):
    rows = AuditEvent.objects.filter(object_name=object_name).order_by("id")
    if action:
        rows = rows.filter(action=action)
    return list(rows.values_list("actor_id", "record_id", "action", "changes"))


def test_an_existing_contact_gets_only_blank_fields_and_true_flags(actor):
    lead = LeadFactory(owner_user=actor, title="CTO", phone="+44 20 7946 0000", do_not_call=True)
    account = AccountFactory()
    contact = ContactFactory(account=account, title="", phone="555 0100", do_not_call=False)

    lead_convert(actor=actor, lead=lead, account=account, contact=contact)

    contact.refresh_from_db()
    assert (contact.title, contact.phone, contact.do_not_call) == ("CTO", "555 0100", True)
    (update,) = events("Contact", "update")
    assert update[:3] == (actor.pk, contact.pk, "update")
    assert update[3]["title"] == ["", "CTO"]
    assert update[3]["do_not_call"] == [False, True]
    assert "phone" not in update[3]


def test_a_false_flag_on_the_lead_does_not_clear_the_contacts(actor):
    lead = LeadFactory(owner_user=actor, do_not_call=False, has_opted_out_of_email=False)
    account = AccountFactory()
    contact = ContactFactory(account=account, do_not_call=True, has_opted_out_of_email=True)

    lead_convert(actor=actor, lead=lead, account=account, contact=contact)

    contact.refresh_from_db()
    assert (contact.do_not_call, contact.has_opted_out_of_email) == (True, True)


def test_nothing_to_fill_writes_no_update_event(actor):
    lead = LeadFactory(owner_user=actor, company="", title="", email="", lead_source="")
    account = AccountFactory(name="Full Ltd")
    contact = ContactFactory(account=account, first_name="Robin", last_name="Known")

    lead_convert(actor=actor, lead=lead, account=account, contact=contact)

    assert events("Account", "update") == []
    assert events("Contact", "update") == []


def test_overwriting_the_lead_source_is_audited_and_a_same_source_is_no_change(actor):
    account = AccountFactory()
    contact = ContactFactory(account=account, lead_source="Web")
    lead_convert(
        actor=actor,
        lead=LeadFactory(owner_user=actor, lead_source="Trade Show", email=""),
        account=account,
        contact=contact,
        overwrite_lead_source=True,
    )
    contact.refresh_from_db()
    assert contact.lead_source == "Trade Show"
    (update,) = events("Contact", "update")
    assert update[3]["lead_source"] == ["Web", "Trade Show"]

    other = ContactFactory(account=account, lead_source="Web", first_name="Sam")
    lead_convert(
        actor=actor,
        lead=LeadFactory(owner_user=actor, lead_source="", email="", first_name="Sam"),
        account=account,
        contact=other,
        overwrite_lead_source=True,
    )
    other.refresh_from_db()
    assert other.lead_source == "Web"


def test_an_existing_deal_gets_the_account_and_source_it_lacks_and_is_audited(actor):
    lead = LeadFactory(owner_user=actor, lead_source="Web")
    account = AccountFactory()
    deal = OpportunityFactory(account=None, lead_source="")

    lead_convert(actor=actor, lead=lead, account=account, opportunity=deal)

    deal.refresh_from_db()
    assert (deal.account_id, deal.lead_source) == (account.pk, "Web")
    assert events("Opportunity", "update") == [
        (
            actor.pk,
            deal.pk,
            "update",
            {"account": [None, account.public_id], "lead_source": ["", "Web"]},
        )
    ]


def test_an_existing_deal_keeps_its_own_source_and_writes_no_event(actor):
    account = AccountFactory()
    deal = OpportunityFactory(account=account, lead_source="Partner Referral")

    lead_convert(
        actor=actor,
        lead=LeadFactory(owner_user=actor, lead_source="Web"),
        account=account,
        opportunity=deal,
    )

    deal.refresh_from_db()
    assert deal.lead_source == "Partner Referral"
    assert events("Opportunity", "update") == []


def test_the_contact_becomes_primary_on_an_existing_deal_where_it_had_a_role(actor):
    account = AccountFactory()
    deal = OpportunityFactory(account=account)
    contact = ContactFactory(account=account)
    other = ContactFactory(account=account)
    OpportunityContactRole.objects.create(opportunity=deal, contact=other, is_primary=True)
    mine = OpportunityContactRole.objects.create(
        opportunity=deal, contact=contact, role="Evaluator", is_primary=False
    )

    lead_convert(
        actor=actor,
        lead=LeadFactory(owner_user=actor),
        account=account,
        contact=contact,
        opportunity=deal,
    )

    roles = set(
        OpportunityContactRole.objects.filter(opportunity=deal).values_list(
            "pk", "contact_id", "role", "is_primary"
        )
    )
    assert (mine.pk, contact.pk, "Evaluator", True) in roles
    assert len(roles) == 2
    other_role = OpportunityContactRole.objects.get(contact=other)
    assert (other_role.is_primary, other_role.updated_at) == (False, NOW)
    assert events("OpportunityContactRole") == [
        (
            actor.pk,
            mine.pk,
            "create",
            {"contact": [None, contact.public_id], "is_primary": [None, True]},
        )
    ]


def test_the_new_deal_is_audited_and_its_first_history_row_names_the_actor(actor):
    lead = LeadFactory(owner_user=actor, company="Acme", lead_source="Web")

    result = lead_convert(actor=actor, lead=lead)

    deal = Opportunity.objects.get(pk=result.opportunity_id)
    (create,) = events("Opportunity", "create")
    assert create == (
        actor.pk,
        deal.pk,
        "create",
        {
            "name": [None, "Acme"],
            "account": [None, deal.account.public_id],
            "close_date": [None, "2026-12-31"],
            "stage": [None, "Prospecting"],
            "lead_source": [None, "Web"],
            "owner": [None, actor.public_id],
        },
    )
    history = deal.history.get()
    assert (history.created_by_id, history.created_at) == (actor.pk, NOW)
    assert (deal.is_closed, deal.is_won, deal.probability, deal.forecast_category) == (
        False,
        False,
        10,
        "Pipeline",
    )


def test_the_lead_event_names_what_it_was_converted_into(actor):
    lead = LeadFactory(owner_user=actor)

    result = lead_convert(actor=actor, lead=lead, create_opportunity=False)

    (convert,) = events("Lead", "convert")
    changes = convert[3]
    assert convert[:2] == (actor.pk, lead.pk)
    assert changes["converted_account"] == [None, result.public_ids()["account_id"]]
    assert changes["converted_contact"] == [None, result.public_ids()["contact_id"]]
    assert changes["converted_opportunity"] == [None, None]
    assert changes["converted_date"] == [None, "2026-11-27"]
    assert result.public_ids()["opportunity_id"] is None
    assert Lead.objects.get(pk=lead.pk).converted_opportunity_id is None


def test_new_account_and_contact_events_list_the_owner(actor):
    owner = UserFactory()
    lead = LeadFactory(owner_user=actor, company="Acme", last_name="Ng")

    result = lead_convert(actor=actor, lead=lead, owner=owner, create_opportunity=False)

    (account_event,) = events("Account", "create")
    (contact_event,) = events("Contact", "create")
    assert account_event[3]["owner"] == [None, owner.public_id]
    assert account_event[3]["name"] == [None, "Acme"]
    assert contact_event[3]["owner"] == [None, owner.public_id]
    assert contact_event[3]["last_name"] == [None, "Ng"]
    assert Contact.objects.get(pk=result.contact_id).owner_id == owner.pk


def test_tasks_keep_their_own_deal_and_are_touched(actor, freeze_clock):
    lead = LeadFactory(owner_user=actor)
    own_deal = OpportunityFactory()
    freeze_clock(NOW - datetime.timedelta(days=1))
    task = TaskFactory(lead=lead, opportunity=own_deal)
    freeze_clock(NOW)

    result = lead_convert(actor=actor, lead=lead)

    task = Task.objects.get(pk=task.pk)
    assert (task.contact_id, task.opportunity_id, task.updated_at) == (
        result.contact_id,
        own_deal.pk,
        NOW,
    )


def test_without_a_deal_tasks_move_to_the_contact_and_account_only(actor):
    lead = LeadFactory(owner_user=actor)
    task = TaskFactory(lead=lead)

    result = lead_convert(actor=actor, lead=lead, create_opportunity=False)

    task = Task.objects.get(pk=task.pk)
    assert (task.lead_id, task.contact_id, task.account_id, task.opportunity_id) == (
        None,
        result.contact_id,
        result.account_id,
        None,
    )


def test_a_lead_converted_by_someone_else_gives_its_owner_the_new_records(actor):
    owner = UserFactory()
    lead = LeadFactory(owner_user=owner)

    result = lead_convert(actor=actor, lead=lead)

    assert Contact.objects.get(pk=result.contact_id).owner_id == owner.pk
    assert Opportunity.objects.get(pk=result.opportunity_id).owner_id == owner.pk


def test_the_system_may_convert(actor):
    lead = LeadFactory(owner_user=actor)

    result = lead_convert(actor=None, lead=lead.pk)

    assert Contact.objects.get(pk=result.contact_id).owner_id == actor.pk
    assert {event[0] for event in events("Lead", "convert")} == {None}


def test_the_refusal_of_a_status_lists_the_allowed_ones(actor):
    lead = LeadFactory(owner_user=actor)
    with pytest.raises(DomainError) as raised:
        lead_convert(actor=actor, lead=lead, converted_status="Qualified")
    assert raised.value.message == (
        "converted_status: 'Qualified' is not a converted status (allowed: Closed - Converted)"
    )

    LeadStatus.objects.filter(is_converted=True).update(is_active=False)
    forget_all()  # the statuses are cached; services that change them drop the cache
    with pytest.raises(DomainError) as raised:
        lead_convert(actor=actor, lead=lead)
    assert raised.value.code == ErrorCode.INVALID_STATUS
    assert raised.value.message.endswith("(allowed: none configured)")


def test_an_opportunity_name_with_only_spaces_falls_back_to_the_company(actor):
    lead = LeadFactory(owner_user=actor, company="Acme")
    result = lead_convert(actor=actor, lead=lead, opportunity_name="   ")
    assert Opportunity.objects.get(pk=result.opportunity_id).name == "Acme"


def test_an_opportunity_name_of_120_characters_is_accepted(actor):
    lead = LeadFactory(owner_user=actor)
    result = lead_convert(actor=actor, lead=lead, opportunity_name="x" * 120)
    assert Opportunity.objects.get(pk=result.opportunity_id).name == "x" * 120


def test_a_converted_lead_may_not_be_deleted_and_an_open_one_is_audited(actor):
    converted = LeadFactory(owner_user=actor)
    lead_convert(actor=actor, lead=converted)
    with pytest.raises(DomainError) as raised:
        lead_delete(actor=actor, lead=Lead.objects.get(pk=converted.pk))
    assert raised.value.code == ErrorCode.CANNOT_UPDATE_CONVERTED_LEAD
    assert Lead.objects.filter(pk=converted.pk).exists()

    lead = LeadFactory(owner_user=actor)
    lead_id = lead.pk
    lead_delete(actor=actor, lead=lead)
    assert not Lead.objects.filter(pk=lead_id).exists()
    assert events("Lead", "delete")[0][:2] == (actor.pk, lead_id)


def test_a_conversion_result_is_the_same_after_a_replay(actor):
    lead = LeadFactory(owner_user=actor)
    first = lead_convert(actor=actor, lead=lead, idempotency_key="k")
    again = lead_convert(actor=actor, lead=lead.pk, idempotency_key="k")
    assert isinstance(again, ConversionResult)
    assert again == first


def test_the_new_deal_starts_in_the_first_active_open_stage(actor):
    OpportunityStage.objects.filter(name="Prospecting").update(is_active=False)
    forget_all()

    result = lead_convert(actor=actor, lead=LeadFactory(owner_user=actor))

    assert Opportunity.objects.get(pk=result.opportunity_id).stage.name == "Qualification"


def test_without_an_active_open_stage_no_deal_can_be_made(actor):
    OpportunityStage.objects.filter(is_closed=False).update(is_active=False)
    forget_all()
    lead = LeadFactory(owner_user=actor)

    with pytest.raises(DomainError) as raised:
        lead_convert(actor=actor, lead=lead)

    assert (raised.value.code, raised.value.message) == (
        ErrorCode.FIELD_INTEGRITY_EXCEPTION,
        "No active open opportunity stage is configured",
    )
    assert Lead.objects.get(pk=lead.pk).is_converted is False
    assert lead_convert(actor=actor, lead=lead, create_opportunity=False).opportunity_id is None


def test_the_fiscal_year_starts_in_january_by_default():
    assert end_of_fiscal_quarter(datetime.date(2026, 2, 10)) == datetime.date(2026, 3, 31)


def test_filling_an_existing_account_is_audited_with_the_actor(actor):
    account = AccountFactory(website="")
    lead = LeadFactory(owner_user=actor, website="https://acme.test")

    lead_convert(actor=actor, lead=lead, account=account)

    (update,) = events("Account", "update")
    assert update[:3] == (actor.pk, account.pk, "update")
    assert update[3]["website"] == ["", "https://acme.test"]


def test_making_the_contact_primary_leaves_other_roles_and_deals_alone(actor, freeze_clock):
    account = AccountFactory()
    deal, other_deal = OpportunityFactory(account=account), OpportunityFactory()
    freeze_clock(NOW - datetime.timedelta(days=1))
    elsewhere = OpportunityContactRole.objects.create(
        opportunity=other_deal, contact=ContactFactory(), is_primary=True
    )
    bystander = OpportunityContactRole.objects.create(
        opportunity=deal, contact=ContactFactory(account=account), is_primary=False
    )
    freeze_clock(NOW)

    lead_convert(actor=actor, lead=LeadFactory(owner_user=actor), account=account, opportunity=deal)

    elsewhere.refresh_from_db()
    bystander.refresh_from_db()
    assert (elsewhere.is_primary, elsewhere.updated_at) == (True, NOW - datetime.timedelta(days=1))
    assert (bystander.is_primary, bystander.updated_at) == (False, NOW - datetime.timedelta(days=1))


def test_only_the_converted_leads_open_tasks_move(actor):
    lead = LeadFactory(owner_user=actor)
    other_lead = LeadFactory(owner_user=actor)
    others_task = TaskFactory(lead=other_lead)

    lead_convert(actor=actor, lead=lead)

    others_task.refresh_from_db()
    assert (others_task.lead_id, others_task.contact_id, others_task.account_id) == (
        other_lead.pk,
        None,
        None,
    )


def test_the_lead_event_names_the_new_deal(actor):
    lead = LeadFactory(owner_user=actor)

    result = lead_convert(actor=actor, lead=lead)

    (convert,) = events("Lead", "convert")
    assert convert[3]["converted_opportunity"] == [None, result.public_ids()["opportunity_id"]]


def test_a_contact_of_another_account_is_refused_naming_the_account(actor):
    account = AccountFactory()
    contact = ContactFactory()

    with pytest.raises(DomainError) as raised:
        lead_convert(
            actor=actor, lead=LeadFactory(owner_user=actor), account=account, contact=contact
        )

    assert raised.value.code == ErrorCode.FIELD_INTEGRITY_EXCEPTION
    assert raised.value.message.endswith(
        f"{contact} ({contact.public_id}) does not belong to account"
        f" {account.name} ({account.public_id})"
    )


def test_the_refusal_lists_every_active_converted_status(actor):
    LeadStatus.objects.create(name="Converted - Partner", is_converted=True, sort_order=20)
    with pytest.raises(DomainError) as raised:
        lead_convert(actor=actor, lead=LeadFactory(owner_user=actor), converted_status="Nope")
    assert raised.value.message.endswith("(allowed: Closed - Converted, Converted - Partner)")


def test_a_nul_in_the_opportunity_name_is_refused(actor):
    lead = LeadFactory(owner_user=actor)
    with pytest.raises(DomainError) as raised:
        lead_convert(actor=actor, lead=lead, opportunity_name="Fl\x00eet")
    assert (raised.value.code, raised.value.fields) == (
        ErrorCode.INVALID_TYPE,
        ["opportunity_name"],
    )
    assert Lead.objects.get(pk=lead.pk).is_converted is False


def test_a_queue_owned_lead_without_an_owner_is_refused_with_a_reason(actor):
    lead = LeadFactory(owner_user=None, owner_queue=QueueFactory())
    with pytest.raises(DomainError) as raised:
        lead_convert(actor=actor, lead=lead)
    assert raised.value.message.endswith(
        "the lead is owned by a queue; name the user who owns the new records"
    )


def test_the_idempotency_key_is_stored_for_the_actor_and_scoped_to_them(actor):
    other = UserFactory()
    lead, other_lead = LeadFactory(owner_user=actor), LeadFactory(owner_user=other)

    first = lead_convert(actor=actor, lead=lead, idempotency_key="k")
    second = lead_convert(actor=other, lead=other_lead, idempotency_key="k")

    assert (first.lead_id, second.lead_id) == (lead.pk, other_lead.pk)
    assert set(IdempotencyRecord.objects.values_list("actor_id", flat=True)) == {
        actor.pk,
        other.pk,
    }


@pytest.mark.parametrize(
    "change",
    [
        {"opportunity_name": "Another name"},
        {"create_opportunity": False},
        {"converted_status": "Converted - Partner"},
        {"overwrite_lead_source": True},
    ],
)
def test_a_key_reused_with_any_other_option_is_refused(actor, change):
    LeadStatus.objects.create(name="Converted - Partner", is_converted=True, sort_order=20)
    account = AccountFactory()
    options = {
        "account": account,
        "contact": ContactFactory(account=account),
        "opportunity_name": "Deal",
    }
    lead = LeadFactory(owner_user=actor)
    lead_convert(actor=actor, lead=lead, idempotency_key="k", **options)

    with pytest.raises(DomainError) as raised:
        lead_convert(actor=actor, lead=lead, idempotency_key="k", **{**options, **change})

    assert raised.value.code == ErrorCode.IDEMPOTENCY_KEY_REUSED


def test_a_key_reused_with_another_record_of_the_same_name_is_refused(actor):
    account, twin = AccountFactory(name="Twin"), AccountFactory(name="Twin")
    lead = LeadFactory(owner_user=actor)
    lead_convert(actor=actor, lead=lead, idempotency_key="k", account=account)

    with pytest.raises(DomainError) as raised:
        lead_convert(actor=actor, lead=lead, idempotency_key="k", account=twin)

    assert raised.value.code == ErrorCode.IDEMPOTENCY_KEY_REUSED


def test_the_system_may_convert_with_an_idempotency_key(actor):
    """The console converts as the system (actor None); its retries replay too."""
    lead = LeadFactory(owner_user=actor)

    first = lead_convert(actor=None, lead=lead, idempotency_key="console-1")
    again = lead_convert(actor=None, lead=lead, idempotency_key="console-1")

    assert again == first
    assert IdempotencyRecord.objects.get().actor_id is None


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"opportunity_name": "New deal", "with_deal": True},
            "opportunity_name: give an existing opportunity or a name for a new one, not both",
        ),
        (
            {"overwrite_lead_source": True},
            "overwrite_lead_source: only applies when converting into an existing contact",
        ),
    ],
)
def test_option_conflicts_are_refused_with_a_reason(actor, arguments, message):
    account = AccountFactory()
    arguments = dict(arguments)
    if arguments.pop("with_deal", False):
        arguments.update(account=account, opportunity=OpportunityFactory(account=account))

    with pytest.raises(DomainError) as raised:
        lead_convert(actor=actor, lead=LeadFactory(owner_user=actor), **arguments)

    assert (raised.value.code, raised.value.message) == (
        ErrorCode.FIELD_INTEGRITY_EXCEPTION,
        message,
    )
