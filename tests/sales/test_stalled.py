"""Stalled deals (issue 7, Stalled deals): the stage limits, the rules and their reasons,
and the query condition that lists them (sales/selectors.py)."""

import datetime
import io

import pytest
from django.core import mail
from django.core.cache import cache
from django.core.management import CommandError, call_command, get_commands

from dealflow.cli import own_commands
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
from dealflow.sales.tasks import email_stalled_deals
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


# ---------------------------------------------------------------------------------------
# `dealflow stalled` and the owners' emails


@pytest.fixture
def no_digests_sent():
    """Each test starts with no digest marked sent (sales/tasks.py keeps them in the cache)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def stalled_book(freeze_clock, no_digests_sent):
    """Two owners with stalled deals, one deal that is fine, a closed late one."""
    freeze_clock(START)
    robin = UserFactory(username="robin", first_name="Robin", last_name="Rep", email="r@x.test")
    sam = UserFactory(username="sam", first_name="Sam", last_name="Seller", email="s@x.test")
    OpportunityFactory(owner=robin, name="Robin late", close_date=datetime.date(2026, 8, 1))
    OpportunityFactory(owner=robin, name="Robin later", close_date=datetime.date(2026, 8, 20))
    OpportunityFactory(owner=sam, name="Sam late", close_date=datetime.date(2026, 7, 1))
    OpportunityFactory(owner=sam, name="Sam fine", close_date=datetime.date(2027, 1, 1))
    OpportunityFactory(
        owner=sam,
        name="Sam won",
        stage=OpportunityStage.objects.get(name="Closed Won"),
        is_closed=True,
        is_won=True,
        close_date=datetime.date(2026, 7, 1),
    )
    return robin, sam


def run_stalled(*arguments):
    out = io.StringIO()
    call_command("stalled", *arguments, stdout=out)
    return out.getvalue()


def test_the_command_lists_the_stalled_deals_with_their_reasons(stalled_book):
    output = run_stalled()
    assert output.startswith("3 stalled deals.\n")
    assert "Robin late  Prospecting  Close Date 2026-08-01  Owner Robin Rep\n" in output
    assert "    Close date 2026-07-01 has passed\n" in output
    assert "Sam fine" not in output and "Sam won" not in output
    assert mail.outbox == []


def test_the_command_lists_one_owners_deals(stalled_book):
    output = run_stalled("--owner", "sam")
    assert output.startswith("1 stalled deal.\n")
    assert "Sam late" in output and "Robin" not in output
    with pytest.raises(CommandError, match="no user 'nobody'"):
        run_stalled("--owner", "nobody")


def test_notify_emails_each_owner_their_stalled_deals_once(stalled_book):
    output = run_stalled("--notify")
    assert "Emailed 2 owners; 0 already emailed" in output
    assert sorted(message.to[0] for message in mail.outbox) == ["r@x.test", "s@x.test"]
    to_robin = next(message for message in mail.outbox if message.to == ["r@x.test"])
    assert to_robin.subject == "2 stalled deals need your attention"
    assert to_robin.body.startswith("Hello Robin Rep,")
    assert "- Robin late (Prospecting, Close Date 2026-08-01)" in to_robin.body
    assert "    Close date 2026-08-20 has passed" in to_robin.body
    assert "Sam" not in to_robin.body
    # A retry, or a second run the same day, does not email the same deals again.
    assert "Emailed 0 owners; 2 already emailed" in run_stalled("--notify")
    assert len(mail.outbox) == 2


def test_the_task_sends_again_when_an_owners_deals_change(stalled_book):
    robin, _sam = stalled_book
    assert email_stalled_deals([robin.pk]) == {"sent": 1, "already_sent": 0, "no_address": 0}
    OpportunityFactory(owner=robin, name="Robin new", close_date=datetime.date(2026, 8, 2))
    assert email_stalled_deals.delay([robin.pk]).get()["sent"] == 1
    assert "Robin new" in mail.outbox[-1].body
    assert len(mail.outbox) == 2


def test_the_task_skips_owners_without_an_address_or_stalled_deals(freeze_clock, no_digests_sent):
    freeze_clock(START)
    silent = UserFactory(email="")
    fine = UserFactory(email="f@x.test")
    OpportunityFactory(owner=silent, close_date=datetime.date(2026, 8, 1))
    OpportunityFactory(owner=fine, close_date=datetime.date(2027, 8, 1))
    counts = email_stalled_deals([silent.pk, fine.pk])
    assert counts == {"sent": 0, "already_sent": 0, "no_address": 1}
    assert mail.outbox == []


def test_dealflow_lists_the_stalled_command():
    assert "stalled" in own_commands(dict(get_commands()))
