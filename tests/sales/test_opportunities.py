"""opportunity_create / opportunity_update: owners, overrides, access, history and audit."""

import datetime

import pytest

from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import Access, AuditEvent
from dealflow.core.services import sharing_default_set
from dealflow.sales.models import Opportunity, OpportunityHistory
from dealflow.sales.services import opportunity_create, opportunity_update
from tests.factories import OpportunityFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 27, 12, 0, tzinfo=datetime.UTC)


def new_deal(actor, **data):
    values = {"name": "Fleet", "close_date": "2026-12-15", "stage": "Prospecting"}
    values.update(data)
    return opportunity_create(actor=actor, data=values)


def events(action):
    return list(
        AuditEvent.objects.filter(object_name="Opportunity", action=action)
        .order_by("id")
        .values_list("actor_id", "record_id", "changes")
    )


def test_a_new_deal_is_owned_by_the_actor_audited_and_has_a_first_history_row(actor, freeze_clock):
    freeze_clock(NOW)

    deal = new_deal(actor, amount="1000")

    deal = Opportunity.objects.get(pk=deal.pk)
    assert deal.owner_id == actor.pk
    ((actor_id, record_id, changes),) = events("create")
    assert (actor_id, record_id) == (actor.pk, deal.pk)
    assert changes["name"] == [None, "Fleet"]
    assert changes["stage"] == [None, "Prospecting"]
    assert changes["owner"] == [None, actor.public_id]
    history = OpportunityHistory.objects.get(opportunity=deal)
    assert (history.created_by_id, history.created_at, history.stage_name) == (
        actor.pk,
        NOW,
        "Prospecting",
    )


def test_a_new_deal_may_be_owned_by_someone_else(actor):
    owner = UserFactory()
    deal = new_deal(actor, owner=owner)
    assert Opportunity.objects.get(pk=deal.pk).owner_id == owner.pk


def test_a_new_deal_takes_given_probability_and_forecast_over_the_stages(actor):
    deal = new_deal(actor, stage="Value Proposition", probability=0, forecast_category="Commit")
    deal = Opportunity.objects.get(pk=deal.pk)
    assert (deal.probability, deal.forecast_category) == (0, "Commit")


def test_a_stage_change_with_probability_0_keeps_the_0(actor):
    deal = new_deal(actor)

    opportunity_update(
        actor=actor, opportunity=deal, data={"stage": "Negotiation/Review", "probability": 0}
    )

    deal = Opportunity.objects.get(pk=deal.pk)
    assert (deal.stage.name, deal.probability, deal.forecast_category) == (
        "Negotiation/Review",
        0,
        "Pipeline",
    )


def test_a_stage_change_with_a_forecast_category_keeps_it(actor):
    deal = new_deal(actor)

    opportunity_update(
        actor=actor,
        opportunity=deal,
        data={"stage": "Negotiation/Review", "forecast_category": "Best Case"},
    )

    deal = Opportunity.objects.get(pk=deal.pk)
    assert (deal.probability, deal.forecast_category) == (90, "Best Case")


def test_an_update_is_audited_with_the_actor_and_a_history_row(actor, freeze_clock):
    deal = new_deal(actor, amount="1000")
    freeze_clock(NOW)

    opportunity_update(actor=actor, opportunity=deal, data={"amount": "1500"})

    assert events("update") == [(actor.pk, deal.pk, {"amount": ["1000.00", "1500.00"]})]
    latest = OpportunityHistory.objects.filter(opportunity=deal).order_by("id").last()
    assert (latest.created_by_id, latest.created_at, str(latest.previous_amount)) == (
        actor.pk,
        NOW,
        "1000.00",
    )


def test_an_update_that_changes_nothing_writes_nothing(actor):
    deal = new_deal(actor)
    before = Opportunity.objects.values().get(pk=deal.pk)

    opportunity_update(actor=actor, opportunity=deal, data={"name": "Fleet"})

    assert Opportunity.objects.values().get(pk=deal.pk) == before
    assert events("update") == []
    assert OpportunityHistory.objects.filter(opportunity=deal).count() == 1


def test_a_read_only_deal_may_not_be_changed(actor):
    sharing_default_set(actor=None, object_name="Opportunity", access=Access.READ)
    deal = OpportunityFactory(next_step="Call")

    with pytest.raises(DomainError) as raised:
        opportunity_update(actor=actor, opportunity=deal, data={"next_step": "Mine"})

    assert raised.value.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY
    assert Opportunity.objects.get(pk=deal.pk).next_step == "Call"


def test_the_update_works_on_the_stored_deal_not_the_callers_copy(actor):
    deal = new_deal(actor, amount="1000")
    stale = Opportunity.objects.get(pk=deal.pk)
    opportunity_update(actor=actor, opportunity=deal, data={"amount": "2000"})

    opportunity_update(actor=actor, opportunity=stale, data={"next_step": "Call"})

    stored = Opportunity.objects.get(pk=deal.pk)
    assert (str(stored.amount), stored.next_step) == ("2000.00", "Call")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"stage": "Closed Won", "forecast_category": "Commit"},
            "must be 'Closed' in stage 'Closed Won'",
        ),
        ({"forecast_category": "Closed"}, "'Closed' needs a closed stage, not 'Prospecting'"),
        ({"stage": "Closed Lost"}, "required when moving to the lost stage 'Closed Lost'"),
    ],
)
def test_stage_rule_refusals_say_what_is_wrong(actor, data, message):
    deal = new_deal(actor)
    with pytest.raises(DomainError) as raised:
        opportunity_update(actor=actor, opportunity=deal, data=data)
    assert message in raised.value.message
    assert events("update") == []


@pytest.mark.parametrize("missing", ["name", "close_date", "stage"])
def test_a_new_deal_needs_a_name_a_close_date_and_a_stage(actor, missing):
    data = {"name": "Fleet", "close_date": "2026-12-15", "stage": "Prospecting"}
    del data[missing]

    with pytest.raises(DomainError) as raised:
        opportunity_create(actor=actor, data=data)

    assert raised.value.code == ErrorCode.REQUIRED_FIELD_MISSING
    assert Opportunity.objects.count() == 0
