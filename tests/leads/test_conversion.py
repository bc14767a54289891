"""lead_convert: DOMAIN.md section 5, every combination, every guard, field mapping."""

import datetime
from decimal import Decimal

import pytest

from dealflow.accounts.models import Account, Contact
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import Access, AuditEvent, IdempotencyRecord
from dealflow.core.services import sharing_default_set
from dealflow.leads.models import Lead, LeadStatus
from dealflow.leads.services import end_of_fiscal_quarter, lead_convert, lead_update
from dealflow.sales.models import (
    Opportunity,
    OpportunityContactRole,
    OpportunityHistory,
    Task,
    TaskStatus,
)
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

# Conversion dates the lead and closes the new deal at the end of the fiscal quarter; the
# clock is frozen on a day that is no quarter's end, so "today" is never the right answer.
TODAY = datetime.date(2026, 11, 27)


@pytest.fixture(autouse=True)
def frozen_today(freeze_clock):
    freeze_clock(datetime.datetime(2026, 11, 27, 12, 0, tzinfo=datetime.UTC))


def full_lead(**overrides):
    values = {
        "salutation": "Dr.",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "title": "CTO",
        "company": "Analytical Engines Ltd",
        "email": "ada@engines.test",
        "phone": "+44 20 7946 0000",
        "mobile_phone": "+44 7700 900000",
        "website": "https://engines.test",
        "street": "1 Byron Way",
        "city": "London",
        "state": "Greater London",
        "postal_code": "N1 9GU",
        "country": "UK",
        "lead_source": "Trade Show",
        "rating": "Hot",
        "industry": "Technology",
        "annual_revenue": Decimal("2500000.00"),
        "number_of_employees": 40,
        "description": "Met at the Difference Engine expo",
        "do_not_call": True,
        "has_opted_out_of_email": False,
    }
    values.update(overrides)
    return LeadFactory(**values)


def database_state():
    """Everything conversion could touch, to prove a refused conversion changed nothing."""
    return {
        "accounts": list(Account.objects.values()),
        "contacts": list(Contact.objects.values()),
        "opportunities": list(Opportunity.objects.values()),
        "roles": list(OpportunityContactRole.objects.values()),
        "history": list(OpportunityHistory.objects.values()),
        "leads": list(Lead.objects.values()),
        "tasks": list(Task.objects.values()),
        "audit": AuditEvent.objects.count(),
    }


ACCOUNT_CHOICES = ["new", "existing"]
CONTACT_CHOICES = ["new", "existing"]
OPPORTUNITY_CHOICES = ["new", "none", "existing"]
COMBINATIONS = [
    (account, contact, opportunity)
    for account in ACCOUNT_CHOICES
    for contact in CONTACT_CHOICES
    for opportunity in OPPORTUNITY_CHOICES
    if not (account == "new" and contact == "existing")
]


@pytest.mark.parametrize(("account_choice", "contact_choice", "opportunity_choice"), COMBINATIONS)
def test_every_combination_of_new_and_existing_records(
    actor, account_choice, contact_choice, opportunity_choice
):
    lead = full_lead(owner_user=actor)
    account = AccountFactory(name="Engines Group") if account_choice == "existing" else None
    contact = (
        ContactFactory(account=account, last_name="Byron") if contact_choice == "existing" else None
    )
    opportunity = (
        OpportunityFactory(account=account, name="Existing deal")
        if opportunity_choice == "existing"
        else None
    )
    counts_before = (Account.objects.count(), Contact.objects.count(), Opportunity.objects.count())

    result = lead_convert(
        actor=actor,
        lead=lead,
        account=account,
        contact=contact,
        opportunity=opportunity,
        create_opportunity=opportunity_choice == "new",
    )

    expected_new = (
        account_choice == "new",
        contact_choice == "new",
        opportunity_choice == "new",
    )
    assert (
        Account.objects.count(),
        Contact.objects.count(),
        Opportunity.objects.count(),
    ) == tuple(
        before + int(created) for before, created in zip(counts_before, expected_new, strict=True)
    )
    lead.refresh_from_db()
    assert lead.is_converted is True
    assert lead.converted_date == TODAY
    assert lead.status.name == "Closed - Converted"
    assert lead.converted_account_id == result.account_id
    assert lead.converted_contact_id == result.contact_id
    assert lead.converted_opportunity_id == result.opportunity_id
    if account is not None:
        assert result.account_id == account.pk
    if contact is not None:
        assert result.contact_id == contact.pk
    assert Contact.objects.get(pk=result.contact_id).account_id == result.account_id
    if opportunity_choice == "none":
        assert result.opportunity_id is None
        assert not OpportunityContactRole.objects.filter(contact_id=result.contact_id).exists()
    else:
        if opportunity is not None:
            assert result.opportunity_id == opportunity.pk
        converted_opportunity = Opportunity.objects.get(pk=result.opportunity_id)
        assert converted_opportunity.account_id == result.account_id
        roles = list(
            OpportunityContactRole.objects.filter(opportunity_id=result.opportunity_id).values_list(
                "contact_id", "is_primary"
            )
        )
        assert roles == [(result.contact_id, True)]
    assert result.public_ids()["lead_id"] == lead.public_id


def test_new_records_take_the_mapped_lead_fields(actor):
    lead = full_lead(owner_user=actor)

    result = lead_convert(actor=actor, lead=lead)

    account = Account.objects.get(pk=result.account_id)
    assert (
        account.name,
        account.website,
        account.industry,
        account.annual_revenue,
        account.number_of_employees,
        account.rating,
        account.account_source,
        account.billing_street,
        account.billing_city,
        account.billing_state,
        account.billing_postal_code,
        account.billing_country,
        account.owner_id,
        account.phone,
        account.description,
    ) == (
        "Analytical Engines Ltd",
        "https://engines.test",
        "Technology",
        Decimal("2500000.00"),
        40,
        "Hot",
        "Trade Show",
        "1 Byron Way",
        "London",
        "Greater London",
        "N1 9GU",
        "UK",
        actor.pk,
        "",
        "",
    )
    contact = Contact.objects.get(pk=result.contact_id)
    assert (
        contact.salutation,
        contact.first_name,
        contact.last_name,
        contact.title,
        contact.email,
        contact.phone,
        contact.mobile_phone,
        contact.do_not_call,
        contact.has_opted_out_of_email,
        contact.description,
        contact.lead_source,
        contact.mailing_street,
        contact.mailing_city,
        contact.mailing_state,
        contact.mailing_postal_code,
        contact.mailing_country,
        contact.account_id,
        contact.owner_id,
    ) == (
        "Dr.",
        "Ada",
        "Lovelace",
        "CTO",
        "ada@engines.test",
        "+44 20 7946 0000",
        "+44 7700 900000",
        True,
        False,
        "Met at the Difference Engine expo",
        "Trade Show",
        "1 Byron Way",
        "London",
        "Greater London",
        "N1 9GU",
        "UK",
        account.pk,
        actor.pk,
    )
    opportunity = Opportunity.objects.get(pk=result.opportunity_id)
    assert (
        opportunity.name,
        opportunity.stage.name,
        opportunity.probability,
        opportunity.forecast_category,
        opportunity.is_closed,
        opportunity.is_won,
        opportunity.lead_source,
        opportunity.amount,
        opportunity.close_date,
        opportunity.owner_id,
    ) == (
        "Analytical Engines Ltd",
        "Prospecting",
        10,
        "Pipeline",
        False,
        False,
        "Trade Show",
        None,
        datetime.date(2026, 12, 31),
        actor.pk,
    )
    history = list(opportunity.history.values_list("stage_name", "probability", "previous_amount"))
    assert history == [("Prospecting", 10, None)]


def test_existing_records_only_get_their_blank_fields_filled(actor):
    lead = full_lead(owner_user=actor)
    account = AccountFactory(name="Engines Group", website="", industry="Banking", rating="")
    contact = ContactFactory(
        account=account,
        first_name="Augusta",
        last_name="King",
        title="",
        email="",
        lead_source="Web",
    )
    opportunity = OpportunityFactory(account=None, lead_source="", name="Big deal")

    lead_convert(actor=actor, lead=lead, account=account, contact=contact, opportunity=opportunity)

    account.refresh_from_db()
    assert (
        account.name,
        account.website,
        account.industry,
        account.rating,
        account.billing_city,
    ) == (
        "Engines Group",
        "https://engines.test",
        "Banking",
        "Hot",
        "London",
    )
    contact.refresh_from_db()
    assert (
        contact.first_name,
        contact.last_name,
        contact.title,
        contact.email,
        contact.lead_source,
    ) == (
        "Augusta",
        "King",
        "CTO",
        "ada@engines.test",
        "Web",
    )
    opportunity.refresh_from_db()
    assert (opportunity.name, opportunity.account_id, opportunity.lead_source) == (
        "Big deal",
        account.pk,
        "Trade Show",
    )
    update_events = AuditEvent.objects.filter(object_name="Account", record_id=account.pk)
    assert update_events.get().changes == {
        "website": ["", "https://engines.test"],
        "rating": ["", "Hot"],
        "annual_revenue": [None, "2500000.00"],
        "number_of_employees": [None, 40],
        "account_source": ["", "Trade Show"],
        "billing_street": ["", "1 Byron Way"],
        "billing_city": ["", "London"],
        "billing_state": ["", "Greater London"],
        "billing_postal_code": ["", "N1 9GU"],
        "billing_country": ["", "UK"],
    }


def test_overwrite_lead_source_replaces_the_contacts_source(actor):
    lead = full_lead(owner_user=actor)
    account = AccountFactory()
    contact = ContactFactory(account=account, lead_source="Web")

    lead_convert(
        actor=actor, lead=lead, account=account, contact=contact, overwrite_lead_source=True
    )

    contact.refresh_from_db()
    assert contact.lead_source == "Trade Show"


def test_contact_without_account_uses_the_contacts_account(actor):
    lead = full_lead(owner_user=actor)
    contact = ContactFactory()

    result = lead_convert(actor=actor, lead=lead, contact=contact)

    assert (result.account_id, result.contact_id) == (contact.account_id, contact.pk)


def test_existing_opportunity_gets_the_contact_as_the_only_primary(actor):
    lead = full_lead(owner_user=actor)
    account = AccountFactory()
    opportunity = OpportunityFactory(account=account)
    other = ContactFactory(account=account)
    OpportunityContactRole.objects.create(opportunity=opportunity, contact=other, is_primary=True)

    result = lead_convert(actor=actor, lead=lead, account=account, opportunity=opportunity)

    roles = set(
        OpportunityContactRole.objects.filter(opportunity=opportunity).values_list(
            "contact_id", "is_primary"
        )
    )
    assert roles == {(other.pk, False), (result.contact_id, True)}


def test_named_opportunity_owner_and_status(actor):
    other_status = LeadStatus.objects.create(
        name="Converted - Partner", is_converted=True, sort_order=9
    )
    new_owner = UserFactory()
    lead = full_lead(owner_user=actor)

    result = lead_convert(
        actor=actor,
        lead=lead,
        converted_status="Converted - Partner",
        opportunity_name="  Engines - 40 seats  ",
        owner=new_owner,
    )

    opportunity = Opportunity.objects.get(pk=result.opportunity_id)
    assert opportunity.name == "Engines - 40 seats"
    assert opportunity.owner_id == new_owner.pk
    assert Account.objects.get(pk=result.account_id).owner_id == new_owner.pk
    assert Contact.objects.get(pk=result.contact_id).owner_id == new_owner.pk
    lead.refresh_from_db()
    assert lead.status_id == other_status.pk
    assert lead.owner_user_id == actor.pk


@pytest.mark.parametrize(
    ("first_month", "close_date"),
    [
        (1, datetime.date(2026, 3, 31)),
        (2, datetime.date(2026, 4, 30)),
        (12, datetime.date(2026, 2, 28)),
    ],
)
def test_the_new_deal_closes_at_the_end_of_the_configured_fiscal_quarter(
    actor, settings, freeze_clock, first_month, close_date
):
    settings.DEALFLOW_FISCAL_YEAR_START_MONTH = first_month
    freeze_clock(datetime.datetime(2026, 2, 10, 9, 30, tzinfo=datetime.UTC))
    lead = full_lead(owner_user=actor)

    result = lead_convert(actor=actor, lead=lead)

    assert Opportunity.objects.get(pk=result.opportunity_id).close_date == close_date
    lead.refresh_from_db()
    assert lead.converted_date == datetime.date(2026, 2, 10)


def test_an_inactive_converted_status_is_refused_and_never_chosen(actor):
    LeadStatus.objects.create(
        name="Converted - Legacy", is_converted=True, is_active=False, sort_order=0
    )
    lead = full_lead(owner_user=actor)
    before = database_state()

    with pytest.raises(DomainError) as raised:
        lead_convert(actor=actor, lead=lead, converted_status="Converted - Legacy")

    assert raised.value.code == ErrorCode.INVALID_STATUS
    assert database_state() == before
    lead_convert(actor=actor, lead=lead)  # without a name: the first active one
    lead.refresh_from_db()
    assert lead.status.name == "Closed - Converted"


@pytest.mark.parametrize("read_only", ["lead", "account", "contact", "opportunity"])
def test_conversion_needs_edit_access_to_the_lead_and_every_attached_record(actor, read_only):
    """Conversion fills the blank fields of what it attaches: reading them is not enough."""
    for object_name in ("Lead", "Account", "Contact", "Opportunity"):
        sharing_default_set(actor=None, object_name=object_name, access=Access.READ)
    other = UserFactory()

    def owner(name):
        return other if name == read_only else actor

    account = AccountFactory(owner=owner("account"))
    attached = {
        "account": account,
        "contact": ContactFactory(account=account, owner=owner("contact"), title=""),
        "opportunity": OpportunityFactory(
            account=account, owner=owner("opportunity"), lead_source=""
        ),
    }
    lead = full_lead(owner_user=owner("lead"))
    before = database_state()

    with pytest.raises(DomainError) as raised:
        lead_convert(actor=actor, lead=lead, **attached)

    assert raised.value.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY
    assert database_state() == before


def test_conversion_into_records_the_actor_owns_is_allowed_under_read_only_defaults(actor):
    for object_name in ("Lead", "Account", "Contact", "Opportunity"):
        sharing_default_set(actor=None, object_name=object_name, access=Access.READ)
    account = AccountFactory(owner=actor)
    contact = ContactFactory(account=account, owner=actor)
    opportunity = OpportunityFactory(account=account, owner=actor)

    result = lead_convert(
        actor=actor,
        lead=full_lead(owner_user=actor),
        account=account,
        contact=contact,
        opportunity=opportunity,
    )

    assert (result.account_id, result.contact_id, result.opportunity_id) == (
        account.pk,
        contact.pk,
        opportunity.pk,
    )


def test_default_opportunity_name_is_cut_to_120_characters(actor):
    lead = full_lead(owner_user=actor, company="C" * 200)

    result = lead_convert(actor=actor, lead=lead)

    assert Opportunity.objects.get(pk=result.opportunity_id).name == "C" * 120


def test_open_tasks_move_to_the_contact_account_and_opportunity(actor):
    lead = full_lead(owner_user=actor)
    open_task = TaskFactory(lead=lead)
    done_task = TaskFactory(lead=lead, status=TaskStatus.COMPLETED)

    result = lead_convert(actor=actor, lead=lead)

    open_task.refresh_from_db()
    assert (
        open_task.lead_id,
        open_task.contact_id,
        open_task.account_id,
        open_task.opportunity_id,
    ) == (
        None,
        result.contact_id,
        result.account_id,
        result.opportunity_id,
    )
    done_task.refresh_from_db()
    assert (done_task.lead_id, done_task.contact_id) == (lead.pk, None)


def test_conversion_writes_audit_events_with_the_actor(actor):
    lead = full_lead(owner_user=actor)

    result = lead_convert(actor=actor, lead=lead)

    events = set(AuditEvent.objects.values_list("object_name", "record_id", "action", "actor_id"))
    assert events == {
        ("Account", result.account_id, "create", actor.pk),
        ("Contact", result.contact_id, "create", actor.pk),
        ("Opportunity", result.opportunity_id, "create", actor.pk),
        ("OpportunityContactRole", OpportunityContactRole.objects.get().pk, "create", actor.pk),
        ("Lead", lead.pk, "convert", actor.pk),
    }
    lead_event = AuditEvent.objects.get(object_name="Lead")
    assert lead_event.changes["is_converted"] == [False, True]
    assert lead_event.changes["status"] == ["Open - Not Contacted", "Closed - Converted"]


def test_queue_owned_lead_needs_an_owner(actor):
    lead = full_lead(owner_user=None, owner_queue=QueueFactory())
    before = database_state()

    with pytest.raises(DomainError) as raised:
        lead_convert(actor=actor, lead=lead)

    assert (raised.value.code, raised.value.fields) == (
        ErrorCode.REQUIRED_FIELD_MISSING,
        ["owner_id"],
    )
    assert database_state() == before
    result = lead_convert(actor=actor, lead=lead, owner=actor)
    assert Account.objects.get(pk=result.account_id).owner_id == actor.pk


def guard_already_converted(actor):
    lead = full_lead(owner_user=actor)
    lead_convert(actor=actor, lead=lead)
    return {"lead": lead}


def guard_contact_outside_account(actor):
    return {
        "lead": full_lead(owner_user=actor),
        "account": AccountFactory(),
        "contact": ContactFactory(),
    }


def guard_contact_without_any_account(actor):
    return {"lead": full_lead(owner_user=actor), "contact": ContactFactory(account=None)}


def guard_contact_of_no_account_into_an_account(actor):
    return {
        "lead": full_lead(owner_user=actor),
        "account": AccountFactory(name="Copperline Bank"),
        "contact": ContactFactory(account=None),
    }


def guard_existing_opportunity_and_new_name(actor):
    account = AccountFactory()
    return {
        "lead": full_lead(owner_user=actor),
        "account": account,
        "opportunity": OpportunityFactory(account=account),
        "opportunity_name": "Another deal",
    }


def guard_opportunity_of_another_account(actor):
    return {
        "lead": full_lead(owner_user=actor),
        "account": AccountFactory(),
        "opportunity": OpportunityFactory(),
    }


def guard_non_converted_status(actor):
    return {"lead": full_lead(owner_user=actor), "converted_status": "Qualified"}


def guard_unknown_status(actor):
    return {"lead": full_lead(owner_user=actor), "converted_status": "Nope"}


def guard_overwrite_without_contact(actor):
    return {"lead": full_lead(owner_user=actor), "overwrite_lead_source": True}


def guard_opportunity_name_too_long(actor):
    return {"lead": full_lead(owner_user=actor), "opportunity_name": "x" * 121}


def guard_missing_lead(actor):
    return {"lead": 999_999}


@pytest.mark.parametrize(
    ("arrange", "code", "fields", "message"),
    [
        (
            guard_already_converted,
            ErrorCode.CANNOT_UPDATE_CONVERTED_LEAD,
            ["id"],
            "was converted on",
        ),
        (
            guard_contact_outside_account,
            ErrorCode.FIELD_INTEGRITY_EXCEPTION,
            ["contact_id", "account_id"],
            "does not belong to account",
        ),
        (
            guard_contact_without_any_account,
            ErrorCode.FIELD_INTEGRITY_EXCEPTION,
            ["contact_id", "account_id"],
            "belongs to no account; choose the account to convert into",
        ),
        (
            guard_contact_of_no_account_into_an_account,
            ErrorCode.FIELD_INTEGRITY_EXCEPTION,
            ["contact_id", "account_id"],
            "belongs to no account, not to account Copperline Bank (001",
        ),
        (
            guard_existing_opportunity_and_new_name,
            ErrorCode.FIELD_INTEGRITY_EXCEPTION,
            ["opportunity_id", "opportunity_name"],
            "not both",
        ),
        (
            guard_opportunity_of_another_account,
            ErrorCode.FIELD_INTEGRITY_EXCEPTION,
            ["opportunity_id", "account_id"],
            "belongs to another account",
        ),
        (
            guard_non_converted_status,
            ErrorCode.INVALID_STATUS,
            ["converted_status"],
            "'Qualified' is not a converted status",
        ),
        (
            guard_unknown_status,
            ErrorCode.INVALID_STATUS,
            ["converted_status"],
            "'Nope' is not a converted status",
        ),
        (
            guard_overwrite_without_contact,
            ErrorCode.FIELD_INTEGRITY_EXCEPTION,
            ["overwrite_lead_source"],
            "existing contact",
        ),
        (guard_opportunity_name_too_long, ErrorCode.STRING_TOO_LONG, ["opportunity_name"], "120"),
        (guard_missing_lead, ErrorCode.NOT_FOUND, ["id"], "does not exist"),
    ],
)
def test_each_guard_refuses_with_its_own_error_and_changes_nothing(
    actor, arrange, code, fields, message
):
    arguments = arrange(actor)
    before = database_state()

    with pytest.raises(DomainError) as raised:
        lead_convert(actor=actor, **arguments)

    assert raised.value.code == code
    assert raised.value.fields == fields
    assert message in raised.value.message
    assert database_state() == before


def test_converted_lead_is_read_only(actor):
    lead = full_lead(owner_user=actor)
    lead_convert(actor=actor, lead=lead)
    before = database_state()

    with pytest.raises(DomainError) as raised:
        lead_update(actor=actor, lead=lead, data={"title": "CEO"})

    assert raised.value.code == ErrorCode.CANNOT_UPDATE_CONVERTED_LEAD
    assert database_state() == before


def test_same_idempotency_key_returns_the_first_result(actor):
    lead = full_lead(owner_user=actor)
    first = lead_convert(actor=actor, lead=lead, idempotency_key="convert-ada-1")
    counts = (Account.objects.count(), Contact.objects.count(), Opportunity.objects.count())

    again = lead_convert(actor=actor, lead=lead, idempotency_key="convert-ada-1")

    assert again == first
    assert (Account.objects.count(), Contact.objects.count(), Opportunity.objects.count()) == counts
    assert IdempotencyRecord.objects.count() == 1


def test_reusing_an_idempotency_key_for_another_request_is_refused(actor):
    lead = full_lead(owner_user=actor)
    other_lead = full_lead(owner_user=actor, email="other@engines.test")
    lead_convert(actor=actor, lead=lead, idempotency_key="key-1")
    before = database_state()

    with pytest.raises(DomainError) as raised:
        lead_convert(actor=actor, lead=other_lead, idempotency_key="key-1")

    assert raised.value.code == ErrorCode.IDEMPOTENCY_KEY_REUSED
    assert database_state() == before


def test_conversion_runs_a_fixed_number_of_queries(actor, django_assert_num_queries):
    lead_convert(actor=actor, lead=full_lead(owner_user=actor))  # warms the caches
    lead = full_lead(owner_user=actor)
    TaskFactory(lead=lead)

    # Savepoint, locked lead read, 4 inserts (account, contact, opportunity and its
    # history), contact role, tasks moved, lead update, audit events, the duplicate
    # keys (the lead's deleted, the account's and contact's inserted), release.
    with django_assert_num_queries(13):
        lead_convert(actor=actor, lead=lead)
    # The idempotency key adds its insert and its stored result.
    lead = full_lead(owner_user=actor)
    with django_assert_num_queries(15):
        lead_convert(actor=actor, lead=lead, idempotency_key="fixed")


@pytest.mark.parametrize(
    ("day", "first_month", "expected"),
    [
        (datetime.date(2026, 1, 1), 1, datetime.date(2026, 3, 31)),
        (datetime.date(2026, 3, 31), 1, datetime.date(2026, 3, 31)),
        (datetime.date(2026, 11, 27), 1, datetime.date(2026, 12, 31)),
        (datetime.date(2026, 4, 15), 1, datetime.date(2026, 6, 30)),
        (datetime.date(2026, 1, 15), 2, datetime.date(2026, 1, 31)),
        (datetime.date(2026, 2, 1), 2, datetime.date(2026, 4, 30)),
        (datetime.date(2026, 11, 27), 4, datetime.date(2026, 12, 31)),
        (datetime.date(2027, 1, 2), 4, datetime.date(2027, 3, 31)),
        (datetime.date(2026, 12, 1), 11, datetime.date(2027, 1, 31)),
        (datetime.date(2028, 2, 10), 12, datetime.date(2028, 2, 29)),
    ],
)
def test_end_of_fiscal_quarter(day, first_month, expected):
    assert end_of_fiscal_quarter(day, first_month) == expected
