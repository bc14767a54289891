"""Opportunities: the stage table, overrides, loss reason, history; contact roles; tasks."""

import datetime
from decimal import Decimal

import pytest

from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import AuditEvent
from dealflow.sales.models import (
    Opportunity,
    OpportunityContactRole,
    OpportunityHistory,
    OpportunityStage,
    Task,
)
from dealflow.sales.services import (
    contact_role_set,
    opportunity_create,
    opportunity_update,
    task_complete,
    task_create,
)
from tests.factories import AccountFactory, ContactFactory, LeadFactory, OpportunityFactory

pytestmark = pytest.mark.django_db

STAGE_TABLE = [
    ("Prospecting", 10, "Pipeline", False, False),
    ("Qualification", 10, "Pipeline", False, False),
    ("Needs Analysis", 20, "Pipeline", False, False),
    ("Value Proposition", 50, "Pipeline", False, False),
    ("Id. Decision Makers", 60, "Pipeline", False, False),
    ("Perception Analysis", 70, "Pipeline", False, False),
    ("Proposal/Price Quote", 75, "Pipeline", False, False),
    ("Negotiation/Review", 90, "Pipeline", False, False),
    ("Closed Won", 100, "Closed", True, True),
    ("Closed Lost", 0, "Omitted", True, False),
]


def new_opportunity(actor, **data):
    values = {
        "name": "Fleet renewal",
        "close_date": "2026-12-15",
        "stage": "Prospecting",
        "amount": "10000",
    }
    values.update(data)
    return opportunity_create(actor=actor, data=values)


def test_default_stages_are_the_documented_table():
    stages = list(
        OpportunityStage.objects.values_list(
            "name", "probability", "forecast_category", "is_closed", "is_won"
        )
    )
    assert stages == STAGE_TABLE


@pytest.mark.parametrize(("stage", "probability", "category", "closed", "won"), STAGE_TABLE)
def test_create_in_each_stage_takes_the_stage_values(
    actor, stage, probability, category, closed, won
):
    extra = {"loss_reason": "Price"} if stage == "Closed Lost" else {}

    opportunity = new_opportunity(actor, stage=stage, **extra)

    opportunity.refresh_from_db()
    assert (
        opportunity.stage.name,
        opportunity.probability,
        opportunity.forecast_category,
        opportunity.is_closed,
        opportunity.is_won,
    ) == (stage, probability, category, closed, won)


@pytest.mark.parametrize(("stage", "probability", "category", "closed", "won"), STAGE_TABLE)
def test_moving_to_each_stage_derives_the_stage_values(
    actor, stage, probability, category, closed, won
):
    opportunity = new_opportunity(actor, stage="Needs Analysis", probability=35)
    extra = {"loss_reason": "Timing"} if stage == "Closed Lost" else {}

    opportunity_update(actor=actor, opportunity=opportunity, data={"stage": stage, **extra})

    opportunity.refresh_from_db()
    expected_probability = 35 if stage == "Needs Analysis" else probability
    assert (
        opportunity.stage.name,
        opportunity.probability,
        opportunity.forecast_category,
        opportunity.is_closed,
        opportunity.is_won,
    ) == (stage, expected_probability, category, closed, won)


def test_probability_and_forecast_category_may_be_overridden(actor):
    opportunity = new_opportunity(actor, stage="Value Proposition")

    opportunity_update(
        actor=actor,
        opportunity=opportunity,
        data={"probability": 65, "forecast_category": "Commit"},
    )
    opportunity.refresh_from_db()
    assert (opportunity.probability, opportunity.forecast_category) == (65, "Commit")

    opportunity_update(
        actor=actor,
        opportunity=opportunity,
        data={"stage": "Negotiation/Review", "probability": 95},
    )
    opportunity.refresh_from_db()
    assert (opportunity.probability, opportunity.forecast_category) == (95, "Pipeline")

    opportunity_update(actor=actor, opportunity=opportunity, data={"stage": "Proposal/Price Quote"})
    opportunity.refresh_from_db()
    assert (opportunity.probability, opportunity.forecast_category) == (75, "Pipeline")


@pytest.mark.parametrize(
    ("amount", "probability", "expected"),
    [
        ("12345.67", 75, "9259.25"),  # 9259.2525
        ("10.01", 75, "7.51"),  # 7.5075: rounded to the nearest cent, never down
        ("0.50", 25, "0.13"),  # 0.125: half up (Salesforce), not half to even
        ("0.25", 50, "0.13"),
        ("99.99", 100, "99.99"),
        ("250.00", 0, "0.00"),
    ],
)
def test_expected_revenue_is_amount_times_probability_rounded_half_up(
    amount, probability, expected
):
    opportunity = OpportunityFactory(amount=Decimal(amount), probability=probability)
    assert str(opportunity.expected_revenue) == expected


def test_expected_revenue_without_an_amount_is_none():
    assert OpportunityFactory(amount=None).expected_revenue is None


def snapshot_all():
    return (
        list(Opportunity.objects.values()),
        list(OpportunityHistory.objects.values()),
        AuditEvent.objects.count(),
    )


@pytest.mark.parametrize(
    ("data", "code", "fields"),
    [
        ({"stage": "Closed Lost"}, ErrorCode.REQUIRED_FIELD_MISSING, ["loss_reason"]),
        (
            {"stage": "Closed Lost", "loss_reason": "Bad luck"},
            ErrorCode.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST,
            ["loss_reason"],
        ),
        (
            {"stage": "Closed Won", "forecast_category": "Commit"},
            ErrorCode.FIELD_INTEGRITY_EXCEPTION,
            ["forecast_category_name"],
        ),
        (
            {"forecast_category": "Closed"},
            ErrorCode.FIELD_INTEGRITY_EXCEPTION,
            ["forecast_category_name"],
        ),
        (
            {"forecast_category": "Maybe"},
            ErrorCode.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST,
            ["forecast_category_name"],
        ),
        ({"probability": 101}, ErrorCode.NUMBER_OUTSIDE_VALID_RANGE, ["probability"]),
        ({"stage": "Signed"}, ErrorCode.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST, ["stage_name"]),
        ({"close_date": "15/12/2026"}, ErrorCode.INVALID_TYPE, ["close_date"]),
        ({"close_date": None}, ErrorCode.REQUIRED_FIELD_MISSING, ["close_date"]),
        ({"is_won": True}, ErrorCode.INVALID_FIELD_FOR_INSERT_UPDATE, ["is_won"]),
        ({"is_closed": True}, ErrorCode.INVALID_FIELD_FOR_INSERT_UPDATE, ["is_closed"]),
        ({"expected_revenue": 5}, ErrorCode.INVALID_FIELD_FOR_INSERT_UPDATE, ["expected_revenue"]),
        ({"amount": "NaN"}, ErrorCode.INVALID_TYPE, ["amount"]),
        (
            {"forecast_category": ""},
            ErrorCode.REQUIRED_FIELD_MISSING,
            ["forecast_category_name"],
        ),
        ({"probability": None}, ErrorCode.REQUIRED_FIELD_MISSING, ["probability"]),
        ({"owner": None}, ErrorCode.REQUIRED_FIELD_MISSING, ["owner_id"]),
    ],
)
def test_update_refuses_bad_input_and_writes_nothing(actor, data, code, fields):
    opportunity = new_opportunity(actor)
    before = snapshot_all()

    with pytest.raises(DomainError) as raised:
        opportunity_update(actor=actor, opportunity=opportunity, data=data)

    assert (raised.value.code, raised.value.fields) == (code, fields)
    assert snapshot_all() == before


def test_create_refuses_a_lost_stage_without_reason(actor):
    before = snapshot_all()
    with pytest.raises(DomainError) as raised:
        new_opportunity(actor, stage="Closed Lost")
    assert (raised.value.code, raised.value.fields) == (
        ErrorCode.REQUIRED_FIELD_MISSING,
        ["loss_reason"],
    )
    assert snapshot_all() == before


def test_history_rows_record_each_change_with_previous_amount_and_close_date(actor):
    opportunity = new_opportunity(actor)

    opportunity_update(actor=actor, opportunity=opportunity, data={"amount": "15000"})
    opportunity_update(actor=actor, opportunity=opportunity, data={"close_date": "2027-02-28"})
    opportunity_update(actor=actor, opportunity=opportunity, data={"stage": "Needs Analysis"})
    opportunity_update(actor=actor, opportunity=opportunity, data={"probability": 30})
    opportunity_update(actor=actor, opportunity=opportunity, data={"next_step": "Call CFO"})
    opportunity_update(
        actor=actor, opportunity=opportunity, data={"stage": "Closed Lost", "loss_reason": "Price"}
    )

    rows = list(
        opportunity.history.values_list(
            "stage_name",
            "amount",
            "probability",
            "forecast_category",
            "close_date",
            "previous_amount",
            "previous_close_date",
            "previous_stage_name",
            "created_by_id",
        )
    )
    dec, day = Decimal, datetime.date
    assert rows == [
        (
            "Prospecting",
            dec("10000.00"),
            10,
            "Pipeline",
            day(2026, 12, 15),
            None,
            None,
            "",
            actor.pk,
        ),
        (
            "Prospecting",
            dec("15000.00"),
            10,
            "Pipeline",
            day(2026, 12, 15),
            dec("10000.00"),
            day(2026, 12, 15),
            "Prospecting",
            actor.pk,
        ),
        (
            "Prospecting",
            dec("15000.00"),
            10,
            "Pipeline",
            day(2027, 2, 28),
            dec("15000.00"),
            day(2026, 12, 15),
            "Prospecting",
            actor.pk,
        ),
        (
            "Needs Analysis",
            dec("15000.00"),
            20,
            "Pipeline",
            day(2027, 2, 28),
            dec("15000.00"),
            day(2027, 2, 28),
            "Prospecting",
            actor.pk,
        ),
        (
            "Needs Analysis",
            dec("15000.00"),
            30,
            "Pipeline",
            day(2027, 2, 28),
            dec("15000.00"),
            day(2027, 2, 28),
            "Needs Analysis",
            actor.pk,
        ),
        (
            "Closed Lost",
            dec("15000.00"),
            0,
            "Omitted",
            day(2027, 2, 28),
            dec("15000.00"),
            day(2027, 2, 28),
            "Needs Analysis",
            actor.pk,
        ),
    ]
    update_events = AuditEvent.objects.filter(object_name="Opportunity", action="update")
    assert update_events.count() == 6
    last = update_events.first()
    assert last.changes == {
        "stage": ["Needs Analysis", "Closed Lost"],
        "loss_reason": ["", "Price"],
        "probability": [30, 0],
        "forecast_category": ["Pipeline", "Omitted"],
        "is_closed": [False, True],
    }


def test_only_one_primary_contact_role(actor):
    account = AccountFactory()
    opportunity = OpportunityFactory(account=account)
    first, second = ContactFactory(account=account), ContactFactory(account=account)

    contact_role_set(
        actor=actor, opportunity=opportunity, contact=first, role="Decision Maker", is_primary=True
    )
    contact_role_set(
        actor=actor, opportunity=opportunity, contact=second, role="Evaluator", is_primary=True
    )
    contact_role_set(actor=actor, opportunity=opportunity, contact=first, role="Economic Buyer")

    roles = set(OpportunityContactRole.objects.values_list("contact_id", "role", "is_primary"))
    assert roles == {(first.pk, "Economic Buyer", False), (second.pk, "Evaluator", True)}


def test_contact_role_must_be_a_known_role(actor):
    opportunity = OpportunityFactory()
    with pytest.raises(DomainError) as raised:
        contact_role_set(
            actor=actor, opportunity=opportunity, contact=ContactFactory(), role="Boss"
        )
    assert raised.value.code == ErrorCode.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST
    assert OpportunityContactRole.objects.count() == 0


def test_task_on_a_contact_takes_its_account_and_completes_once(actor):
    contact = ContactFactory()
    opportunity = OpportunityFactory(account=contact.account)

    task = task_create(
        actor=actor, subject=" Demo call ", who=contact, what=opportunity, type="call"
    )
    assert (task.subject, task.contact_id, task.account_id, task.opportunity_id, task.status) == (
        "Demo call",
        contact.pk,
        contact.account_id,
        opportunity.pk,
        "open",
    )

    task_complete(actor=actor, task=task)
    completed = Task.objects.get()
    first_completion = completed.completed_at
    task_complete(actor=actor, task=task)
    assert Task.objects.get().completed_at == first_completion
    assert completed.status == "completed"
    assert AuditEvent.objects.filter(object_name="Task", action="complete").count() == 1


@pytest.mark.parametrize(
    ("arguments", "code", "fields"),
    [
        ({"subject": " "}, ErrorCode.REQUIRED_FIELD_MISSING, ["subject"]),
        ({"type": "fax"}, ErrorCode.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST, ["type"]),
        ({"priority": "urgent"}, ErrorCode.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST, ["priority"]),
    ],
)
def test_task_refuses_bad_input(actor, arguments, code, fields):
    values = {"subject": "Follow up", "who": LeadFactory()}
    values.update(arguments)
    with pytest.raises(DomainError) as raised:
        task_create(actor=actor, **values)
    assert (raised.value.code, raised.value.fields) == (code, fields)
    assert Task.objects.count() == 0


def test_task_refuses_a_converted_lead(actor):
    lead = LeadFactory(is_converted=True)
    with pytest.raises(DomainError) as raised:
        task_create(actor=actor, subject="Call", who=lead)
    assert raised.value.code == ErrorCode.CANNOT_UPDATE_CONVERTED_LEAD
    assert Task.objects.count() == 0


def test_an_inactive_stage_is_refused_by_name_and_as_a_row(actor):
    opportunity = new_opportunity(actor)
    retired = OpportunityStage.objects.get(name="Perception Analysis")
    retired.is_active = False
    retired.save()
    before = snapshot_all()

    for value in ("Perception Analysis", retired):
        with pytest.raises(DomainError) as raised:
            opportunity_update(actor=actor, opportunity=opportunity, data={"stage": value})
        assert raised.value.code == ErrorCode.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST
    assert snapshot_all() == before
