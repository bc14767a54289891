"""Stalled deals (issue 7, Stalled deals): the stage limits, the rules and their reasons,
and the query condition that lists them (sales/selectors.py)."""

import datetime

import pytest

from dealflow.core.errors import DomainError
from dealflow.sales.models import OpportunityStage
from dealflow.sales.selectors import (
    stalled_deals,
    stalled_flags,
    stalled_queryset,
)
from dealflow.sales.services import (
    opportunity_create,
    opportunity_stage_set,
    opportunity_update,
    task_complete,
    task_create,
)
from tests.factories import ContactFactory, OpportunityFactory, UserFactory

pytestmark = pytest.mark.django_db

START = datetime.datetime(2026, 9, 1, 12, 0, tzinfo=datetime.UTC)
FAR_CLOSE_DATE = "2027-06-30"


def days_after(days: int) -> datetime.datetime:
    return START + datetime.timedelta(days=days)


def deal(actor, stage="Prospecting", close_date=FAR_CLOSE_DATE, name="Deal"):
    return opportunity_create(
        actor=actor, data={"name": name, "close_date": close_date, "stage": stage}
    )


def reasons_of(opportunity):
    """The deal's reasons, checked against the list's query condition."""
    opportunity.refresh_from_db()
    reasons = stalled_flags([opportunity]).get(opportunity.pk, [])
    in_query = stalled_queryset().filter(pk=opportunity.pk, is_stalled=True).exists()
    assert in_query == bool(reasons), (reasons, in_query)
    return reasons


def test_the_default_stages_have_stall_limits():
    limits = dict(OpportunityStage.objects.values_list("name", "stall_days"))
    assert limits["Prospecting"] == 14
    assert limits["Qualification"] == 14
    assert limits["Needs Analysis"] == 21
    assert limits["Value Proposition"] == 30
    assert limits["Negotiation/Review"] == 30
    assert limits["Closed Won"] is None
    assert limits["Closed Lost"] is None


def test_a_deal_stalls_after_more_than_its_stages_limit(actor, freeze_clock):
    freeze_clock(START)
    opportunity = deal(actor, stage="Needs Analysis")
    freeze_clock(days_after(21))
    assert reasons_of(opportunity) == []
    freeze_clock(days_after(22))
    assert reasons_of(opportunity) == ["No stage change for 22 days (limit 21 in Needs Analysis)"]


def test_each_stage_has_its_own_limit(actor, freeze_clock):
    freeze_clock(START)
    prospecting = deal(actor, stage="Prospecting")
    analysis = deal(actor, stage="Needs Analysis")
    freeze_clock(days_after(15))
    assert reasons_of(prospecting) == ["No stage change for 15 days (limit 14 in Prospecting)"]
    assert reasons_of(analysis) == []


def test_a_stage_change_starts_the_count_again(actor, freeze_clock):
    freeze_clock(START)
    opportunity = deal(actor, stage="Prospecting")
    freeze_clock(days_after(10))
    opportunity_update(actor=actor, opportunity=opportunity, data={"stage": "Qualification"})
    freeze_clock(days_after(20))
    opportunity_update(actor=actor, opportunity=opportunity, data={"amount": "5.00"})
    freeze_clock(days_after(24))
    assert reasons_of(opportunity) == []
    freeze_clock(days_after(25))
    assert reasons_of(opportunity) == ["No stage change for 15 days (limit 14 in Qualification)"]


def test_a_stage_without_a_limit_never_stalls_for_time_in_stage(actor, freeze_clock):
    opportunity_stage_set(actor=None, name="Prospecting", stall_days=None)
    freeze_clock(START)
    opportunity = deal(actor, stage="Prospecting")
    freeze_clock(days_after(29))
    assert reasons_of(opportunity) == []


def test_a_past_close_date_stalls_an_open_deal(actor, freeze_clock):
    freeze_clock(START)
    late = deal(actor, close_date="2026-08-31", name="Late")
    due_today = deal(actor, close_date="2026-09-01", name="Due today")
    assert reasons_of(late) == ["Close date 2026-08-31 has passed"]
    assert reasons_of(due_today) == []


def test_thirty_days_without_activity_stall_a_deal(actor, freeze_clock):
    opportunity_stage_set(actor=None, name="Value Proposition", stall_days=None)
    freeze_clock(START)
    opportunity = deal(actor, stage="Value Proposition")
    freeze_clock(days_after(29))
    assert reasons_of(opportunity) == []
    freeze_clock(days_after(30))
    assert reasons_of(opportunity) == ["No activity for 30 days"]


@pytest.mark.parametrize("activity", ["task created", "task completed", "audit event"])
def test_any_activity_keeps_a_deal_moving(actor, freeze_clock, activity):
    opportunity_stage_set(actor=None, name="Value Proposition", stall_days=None)
    contact = ContactFactory(owner=actor)
    freeze_clock(START)
    opportunity = deal(actor, stage="Value Proposition")
    task = task_create(actor=actor, subject="Call", who=contact, what=opportunity)
    freeze_clock(days_after(20))
    if activity == "task created":
        task_create(actor=actor, subject="Call again", who=contact, what=opportunity)
    elif activity == "task completed":
        task_complete(actor=actor, task=task)
    else:
        opportunity_update(actor=actor, opportunity=opportunity, data={"next_step": "Demo"})
    freeze_clock(days_after(49))
    assert reasons_of(opportunity) == []
    freeze_clock(days_after(50))
    assert reasons_of(opportunity) == ["No activity for 30 days"]


def test_every_reason_is_given(actor, freeze_clock):
    freeze_clock(START)
    opportunity = deal(actor, stage="Prospecting", close_date="2026-09-10")
    freeze_clock(days_after(45))
    assert reasons_of(opportunity) == [
        "No stage change for 45 days (limit 14 in Prospecting)",
        "Close date 2026-09-10 has passed",
        "No activity for 30 days",
    ]


def test_closed_deals_are_never_stalled(actor, freeze_clock):
    freeze_clock(START)
    won = deal(actor, stage="Closed Won", close_date="2026-08-01", name="Won")
    opportunity = deal(actor, stage="Prospecting", close_date="2026-08-01", name="Lost")
    opportunity_update(
        actor=actor,
        opportunity=opportunity,
        data={"stage": "Closed Lost", "loss_reason": "Price"},
    )
    freeze_clock(days_after(400))
    assert reasons_of(won) == []
    assert reasons_of(opportunity) == []
    assert not stalled_queryset().filter(is_stalled=True).exists()
    assert stalled_queryset().filter(is_stalled=False).count() == 2


def test_stalled_deals_lists_them_by_owner_with_their_reasons(freeze_clock):
    first, second = UserFactory(username="first"), UserFactory(username="second")
    freeze_clock(START)
    OpportunityFactory(owner=first, name="A", close_date=datetime.date(2026, 8, 1))
    OpportunityFactory(owner=second, name="B", close_date=datetime.date(2026, 7, 1))
    OpportunityFactory(owner=second, name="Fine", close_date=datetime.date(2027, 1, 1))
    found = stalled_deals()
    assert [(row.owner_id, row.name) for row in found] == [(first.pk, "A"), (second.pk, "B")]
    assert found[1].reasons == ["Close date 2026-07-01 has passed"]
    assert found[1].stage_name == "Prospecting"
    assert [row.name for row in stalled_deals(owner_ids=[second.pk])] == ["B"]


def test_the_stage_service_sets_keeps_and_clears_the_limit():
    stage = opportunity_stage_set(actor=None, name="Needs Analysis", stall_days=40)
    assert stage.stall_days == 40
    stage = opportunity_stage_set(actor=None, name="Needs Analysis", probability=25)
    assert (stage.stall_days, stage.probability) == (40, 25)
    stage = opportunity_stage_set(actor=None, name="Needs Analysis", stall_days=None)
    assert OpportunityStage.objects.get(pk=stage.pk).stall_days is None


@pytest.mark.parametrize("value", [0, -3, 3651, "10", True, 2.5])
def test_the_stage_service_refuses_a_bad_limit(value):
    with pytest.raises(DomainError) as refusal:
        opportunity_stage_set(actor=None, name="Needs Analysis", stall_days=value)
    assert refusal.value.fields == ["stall_days"]
    assert OpportunityStage.objects.get(name="Needs Analysis").stall_days == 21
