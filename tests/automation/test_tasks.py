"""Background work of issue 7 through Celery tasks, run in-process as without a broker:
assignment on commit (DEALFLOW_ASSIGNMENT=worker), scoring of new leads, the scheduled
service-level check and stalled-deal digest; tests/core/test_worker.py runs a real worker."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.core.cache import cache

from dealflow.automation.models import AssignmentDecision, AssignmentRuleEntry, LeadScore
from dealflow.automation.scoring import lead_event_record, new_leads_scored, scoring_settings_set
from dealflow.automation.services import assignment_rules_set
from dealflow.automation.tasks import assign_leads, refresh_lead_score, score_leads
from dealflow.leads.models import Lead
from dealflow.leads.service_levels import service_levels_set
from dealflow.leads.services import lead_convert, lead_create
from dealflow.leads.tasks import check_service_levels
from dealflow.people.models import Role
from dealflow.sales.tasks import email_stalled_digests
from tests.factories import LeadFactory, OpportunityFactory, UserFactory

pytestmark = pytest.mark.django_db

# 2026-11-23 is a Monday; the default working hours are 9 to 17, Monday to Friday (UTC).
MONDAY_9 = datetime.datetime(2026, 11, 23, 9, tzinfo=datetime.UTC)
WEB_LEAD = {"last_name": "Hopper", "company": "Navy", "lead_source": "Web"}


@pytest.fixture
def admin():
    return UserFactory(username="admin", role=Role.ADMIN)


@pytest.fixture
def pool():
    return [UserFactory(username="ada"), UserFactory(username="grace")]


@pytest.fixture
def worker_assignment(settings):
    settings.DEALFLOW_ASSIGNMENT = "worker"


@pytest.fixture
def queued(monkeypatch):
    """The jobs sent on commit, as (task name, lead ids), instead of being performed."""
    sent = []
    for task in (assign_leads, score_leads):
        monkeypatch.setattr(task, "delay", lambda ids, name=task.name: sent.append((name, ids)))
    monkeypatch.setattr(
        refresh_lead_score,
        "delay",
        lambda lead_id, rescore: sent.append((refresh_lead_score.name, [lead_id], rescore)),
    )
    return sent


def round_robin(admin, pool, default_owner=None):
    assignment_rules_set(
        actor=admin,
        rules={
            "default_owner_id": default_owner.public_id if default_owner else None,
            "entries": [
                {
                    "criteria": [{"field": "lead_source", "operator": "equals", "value": "Web"}],
                    "match": "all",
                    "assign_to": {
                        "kind": "round_robin",
                        "user_ids": [user.public_id for user in pool],
                        "capacity": None,
                    },
                }
            ],
        },
    )


# ---------------------------------------------------------------------------------------
# Assignment by a worker


def test_with_worker_assignment_the_rules_run_after_commit(
    worker_assignment, admin, pool, actor, queued, django_capture_on_commit_callbacks
):
    round_robin(admin, pool)

    with django_capture_on_commit_callbacks(execute=True):
        lead = lead_create(actor=actor, data=WEB_LEAD)

    # Saved owned by the acting user (no default owner), nothing decided yet.
    assert Lead.objects.get(pk=lead.pk).owner_user_id == actor.pk
    assert not AssignmentDecision.objects.exists()
    # The assignment job only: without fit rules a new lead is not scored.
    assert queued == [("dealflow.automation.tasks.assign_leads", [lead.pk])]

    assign_leads(*queued[0][1:])  # what a worker does with it

    assert Lead.objects.get(pk=lead.pk).owner_user_id == pool[0].pk
    decision = AssignmentDecision.objects.get(lead=lead)
    assert (decision.owner_user_id, decision.actor_id) == (pool[0].pk, None)
    assert decision.reason.endswith("round-robin: user 1 of 2 in its pool")


def test_with_worker_assignment_the_default_owner_holds_the_lead_meanwhile(
    worker_assignment, admin, pool, actor, queued, django_capture_on_commit_callbacks
):
    catcher = UserFactory(username="catcher")
    round_robin(admin, pool, default_owner=catcher)

    with django_capture_on_commit_callbacks(execute=True):
        lead = lead_create(actor=actor, data=WEB_LEAD)

    assert Lead.objects.get(pk=lead.pk).owner_user_id == catcher.pk
    assert queued == [("dealflow.automation.tasks.assign_leads", [lead.pk])]


def test_with_worker_assignment_and_no_rules_nothing_is_queued(
    worker_assignment, actor, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        lead = lead_create(actor=actor, data=WEB_LEAD)

    assert queued == []
    assert Lead.objects.get(pk=lead.pk).owner_user_id == actor.pk


def test_an_owner_given_or_assign_false_queues_no_assignment(
    worker_assignment, admin, pool, actor, queued, django_capture_on_commit_callbacks
):
    round_robin(admin, pool)

    with django_capture_on_commit_callbacks(execute=True):
        given = lead_create(actor=actor, data=WEB_LEAD | {"owner": pool[1]})
        kept = lead_create(actor=actor, data=WEB_LEAD | {"email": "k@navy.test"}, assign=False)

    assert queued == []
    assert Lead.objects.get(pk=given.pk).owner_user_id == pool[1].pk
    assert Lead.objects.get(pk=kept.pk).owner_user_id == actor.pk
    assert not AssignmentDecision.objects.exists()


def test_inline_assignment_decides_in_the_create(settings, admin, pool, actor):
    settings.DEALFLOW_ASSIGNMENT = "inline"
    round_robin(admin, pool)

    lead = lead_create(actor=actor, data=WEB_LEAD)

    assert lead.owner_user_id == pool[0].pk
    assert AssignmentDecision.objects.get(lead=lead).actor_id == actor.pk


def test_assigning_again_is_skipped_and_deals_no_second_turn(admin, pool, actor):
    round_robin(admin, pool)
    lead = LeadFactory(owner_user=actor, lead_source="Web")

    first = assign_leads([lead.pk])
    retry = assign_leads([lead.pk])

    assert (first, retry) == ({"assigned": 1, "skipped": 0}, {"assigned": 0, "skipped": 1})
    assert AssignmentDecision.objects.filter(lead=lead).count() == 1
    assert AssignmentRuleEntry.objects.get().next_position == 1  # one turn taken, not two
    assert Lead.objects.get(pk=lead.pk).owner_user_id == pool[0].pk


def test_deleted_and_converted_leads_are_skipped(admin, pool, actor):
    round_robin(admin, pool)
    converted = LeadFactory(owner_user=actor, lead_source="Web")
    lead_convert(actor=actor, lead=converted)
    missing = LeadFactory(owner_user=actor)
    missing_id = missing.pk
    missing.delete()

    counts = assign_leads([converted.pk, missing_id])

    assert counts == {"assigned": 0, "skipped": 2}
    assert not AssignmentDecision.objects.exists()


# ---------------------------------------------------------------------------------------
# Scoring a new lead


def test_a_new_lead_is_scored_on_commit_when_fit_rules_are_set(
    admin, actor, django_capture_on_commit_callbacks
):
    scoring_settings_set(
        actor=admin,
        settings={
            "fit_rules": [
                {"field": "title", "operator": "contains_word", "value": "CTO", "points": 40}
            ]
        },
    )

    with django_capture_on_commit_callbacks(execute=True):
        lead = lead_create(actor=actor, data={"last_name": "A", "company": "B", "title": "CTO"})

    score = LeadScore.objects.get(lead=lead)
    assert (score.score, score.parts) == (40.0, [{"rule": "Title contains CTO", "points": 40.0}])
    assert Lead.objects.get(pk=lead.pk).rating == "Warm"


def test_without_fit_rules_a_new_lead_is_not_scored(
    actor, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        lead = lead_create(actor=actor, data={"last_name": "A", "company": "B", "rating": "Hot"})

    assert queued == []
    assert not LeadScore.objects.filter(lead=lead).exists()
    assert Lead.objects.get(pk=lead.pk).rating == "Hot"


def test_an_event_queues_one_refresh_of_its_lead_on_commit(
    actor, queued, django_capture_on_commit_callbacks
):
    lead = LeadFactory(owner_user=actor)

    with django_capture_on_commit_callbacks(execute=True):
        lead_event_record(actor=actor, lead=lead, type="page_view")
        assert queued == []  # not before the commit

    assert queued == [("dealflow.automation.tasks.refresh_lead_score", [lead.pk], True)]


def test_the_refresh_task_rescores_the_lead_in_process(actor, django_capture_on_commit_callbacks):
    lead = LeadFactory(owner_user=actor, rating="Hot")

    with django_capture_on_commit_callbacks(execute=True):
        lead_event_record(actor=actor, lead=lead, type="page_view")

    assert LeadScore.objects.get(lead=lead).parts == [{"rule": "Page view \u00d71", "points": 1.0}]
    assert Lead.objects.get(pk=lead.pk).rating == "Cold"
    assert refresh_lead_score(lead.pk) == {"scored": 1, "predicted": 0}  # no model


def test_saving_the_scoring_settings_is_seen_at_once(admin):
    rule = {"field": "industry", "operator": "equals", "value": "Banking", "points": 5}

    before = new_leads_scored()
    scoring_settings_set(actor=admin, settings={"fit_rules": [rule]})
    with_rules = new_leads_scored()
    scoring_settings_set(actor=admin, settings={"fit_rules": []})

    assert (before, with_rules, new_leads_scored()) == (False, True, False)


# ---------------------------------------------------------------------------------------
# Scheduled checks


@pytest.fixture
def overdue_lead(freeze_clock, actor):
    """A lead untouched since Monday 9:00 (limit 8 working hours), and no email sent."""
    cache.clear()
    actor.email = "actor@x.test"
    actor.save(update_fields=["email"])
    freeze_clock(MONDAY_9)
    lead = LeadFactory(owner_user=actor, last_name="Ames")
    yield lead
    cache.clear()


def test_the_hourly_check_emails_the_owners_of_overdue_leads(overdue_lead, freeze_clock):
    freeze_clock(MONDAY_9 + datetime.timedelta(days=1, hours=2))  # Tuesday 11:00: 10 hours

    counts = check_service_levels()

    assert counts == {
        "overdue": 1,
        "rerouted": 0,
        "sent": 1,
        "already_sent": 0,
        "no_address": 0,
        "queue_owned": 0,
    }
    [message] = mail.outbox
    assert message.to == ["actor@x.test"]
    assert "Robin Ames" in message.body
    assert check_service_levels()["already_sent"] == 1  # the next hour: not twice a day
    assert len(mail.outbox) == 1


def test_the_check_does_nothing_after_an_hour_without_working_time(overdue_lead, freeze_clock):
    freeze_clock(MONDAY_9 + datetime.timedelta(days=1, hours=11))  # Tuesday 20:00

    assert check_service_levels() == {"overdue": 0, "rerouted": 0}
    assert mail.outbox == []


def test_the_check_reroutes_when_the_setting_says_so(overdue_lead, freeze_clock, admin):
    catcher = UserFactory(username="catcher")
    assignment_rules_set(actor=admin, rules={"default_owner_id": catcher.public_id})
    service_levels_set(actor=admin, reroute_when_breached=True)
    freeze_clock(MONDAY_9 + datetime.timedelta(days=1, hours=2))

    counts = check_service_levels()

    assert (counts["overdue"], counts["rerouted"]) == (1, 1)
    assert Lead.objects.get(pk=overdue_lead.pk).owner_user_id == catcher.pk


def test_the_check_does_nothing_without_a_limit(overdue_lead, freeze_clock, admin):
    service_levels_set(actor=admin, response_hours=None)
    freeze_clock(MONDAY_9 + datetime.timedelta(days=1, hours=2))

    assert check_service_levels() == {"overdue": 0, "rerouted": 0}
    assert mail.outbox == []


def test_the_daily_digest_emails_every_owner_of_a_stalled_deal(freeze_clock):
    cache.clear()
    freeze_clock(datetime.datetime(2026, 9, 1, 12, tzinfo=datetime.UTC))
    robin = UserFactory(username="robin", email="r@x.test")
    sam = UserFactory(username="sam", email="s@x.test")
    OpportunityFactory(owner=robin, name="Robin late", close_date=datetime.date(2026, 8, 1))
    OpportunityFactory(owner=sam, name="Sam fine", close_date=datetime.date(2027, 1, 1))

    counts = email_stalled_digests()

    assert counts == {"sent": 1, "already_sent": 0, "no_address": 0}
    [message] = mail.outbox
    assert message.to == ["r@x.test"]
    assert "Robin late" in message.body
    assert email_stalled_digests() == {"sent": 0, "already_sent": 1, "no_address": 0}
    cache.clear()


def test_the_digest_without_stalled_deals_sends_nothing():
    assert email_stalled_digests() == {"sent": 0, "already_sent": 0, "no_address": 0}
    assert mail.outbox == []
