"""Service levels for leads (issue 7, Build item 3): working hours, the last touch, the
overdue rule, the owners' emails with their managers copied, re-routing, the setting and
the lead page's badge."""

from __future__ import annotations

import datetime
import io
import zoneinfo

import pytest
from django.core import mail
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealflow.automation.models import AssignmentDecision
from dealflow.automation.services import assignment_rules_set
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import AuditEvent
from dealflow.leads import service_levels as module
from dealflow.leads.models import Lead, LeadStatus
from dealflow.leads.service_levels import (
    ServiceLevels,
    hours_text,
    overdue_leads,
    overdue_queryset,
    service_levels,
    service_levels_set,
    working_hours_before,
    working_hours_between,
)
from dealflow.leads.services import lead_update
from dealflow.leads.tasks import email_overdue_leads
from dealflow.people.models import Role
from dealflow.sales.services import task_complete, task_create
from tests.factories import LeadFactory, QueueFactory, TeamFactory, UserFactory

UTC = datetime.UTC
OFFICE = ServiceLevels(time_zone="UTC")
NEW_YORK = ServiceLevels(time_zone="America/New_York")
# 2026-11-23 is a Monday.
MONDAY_9 = datetime.datetime(2026, 11, 23, 9, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime.datetime:
    """A moment of the week of Monday 2026-11-23 (day 0) in UTC."""
    return MONDAY_9.replace(hour=hour, minute=minute) + datetime.timedelta(days=day)


# ---------------------------------------------------------------------------------------
# Working hours (pure)


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        (at(0, 10), at(0, 12, 30), 2.5),  # inside one day
        (at(0, 7), at(0, 19), 8),  # before opening to after closing
        (at(0, 16), at(1, 10), 2),  # across a night
        (at(4, 15), at(7, 11), 4),  # Friday afternoon to Monday morning: the weekend is free
        (at(5, 10), at(6, 20), 0),  # a weekend
        (at(0, 18), at(1, 8, 59), 0),  # a night
        (at(0, 9), at(14, 9), 80),  # two whole weeks
        (at(1, 12), at(0, 12), 0),  # the end before the start
    ],
)
def test_working_hours_count_only_the_working_windows(start, end, hours):
    assert working_hours_between(start, end, OFFICE) == hours


def test_working_hours_are_read_in_the_site_time_zone():
    # 13:00 UTC is 08:00 in New York (EST): the day opens an hour later.
    assert working_hours_between(at(0, 13), at(0, 16), NEW_YORK) == 2
    assert working_hours_between(at(0, 13), at(0, 16), OFFICE) == 3
    # 21:30 UTC on Monday is 16:30 in New York: half an hour before closing.
    assert working_hours_between(at(0, 21, 30), at(1, 15), NEW_YORK) == 1.5


def test_working_hours_follow_a_daylight_saving_change():
    # New York moved its clocks forward at 02:00 on Sunday 2026-03-08: that day's window
    # 00:00-12:00 lasts 11 hours.
    every_day = ServiceLevels(
        working_days=tuple(range(7)),
        day_start=datetime.time(0),
        day_end=datetime.time(12),
        time_zone="America/New_York",
    )
    zone = zoneinfo.ZoneInfo("America/New_York")
    start = datetime.datetime(2026, 3, 8, 0, tzinfo=zone)
    end = datetime.datetime(2026, 3, 8, 12, tzinfo=zone)
    assert working_hours_between(start, end, every_day) == 11


@pytest.mark.parametrize("hours", [0.5, 1, 8, 9, 40, 41.25])
@pytest.mark.parametrize("levels", [OFFICE, NEW_YORK])
def test_the_calendar_lower_bound_is_exactly_the_limit_ago(hours, levels):
    end = at(2, 11, 15)
    since = working_hours_before(end, hours, levels)
    assert working_hours_between(since, end, levels) == pytest.approx(hours)
    assert working_hours_between(since + datetime.timedelta(seconds=1), end, levels) < hours


def test_no_working_time_has_no_lower_bound():
    assert working_hours_before(at(0, 12), 8, ServiceLevels(working_days=())) is None


def test_hours_are_shown_without_rounding_up_to_the_limit():
    assert [hours_text(value) for value in (8, 8.04, 8.5, 12.99)] == ["8", "8", "8.5", "12.9"]


# ---------------------------------------------------------------------------------------
# The rule


@pytest.fixture
def monday_lead(db, freeze_clock, actor):
    """A lead of the actor created on Monday at 09:00."""
    freeze_clock(MONDAY_9)
    return LeadFactory(owner_user=actor)


def overdue_ids(now=None):
    return [lead.id for lead in overdue_leads(actor=None, now=now)]


def test_a_lead_untouched_past_the_limit_is_overdue(monday_lead, freeze_clock):
    assert overdue_ids(at(1, 9)) == []  # exactly 8 working hours: not more than the limit
    freeze_clock(at(1, 9, 30))
    [found] = overdue_leads(actor=None)
    assert found.id == monday_lead.pk
    assert found.reason == "Untouched for 8.5 working hours (limit 8)"
    assert found.last_touch == MONDAY_9


def _status_change(actor, lead):
    lead_update(
        actor=actor, lead=lead, data={"status": LeadStatus.objects.get(name="Working - Contacted")}
    )


def _owner_change(actor, lead):
    lead_update(actor=actor, lead=lead, data={"owner": UserFactory()})


def _queue_change(actor, lead):
    lead_update(actor=actor, lead=lead, data={"owner": QueueFactory()})


def _task_created(actor, lead):
    task_create(actor=actor, subject="Call", who=lead)


@pytest.mark.parametrize(
    "touch", [_status_change, _owner_change, _queue_change, _task_created], ids=lambda f: f.__name__
)
def test_each_touch_restarts_the_clock(monday_lead, freeze_clock, actor, touch):
    freeze_clock(at(0, 16))
    touch(actor, monday_lead)
    freeze_clock(at(1, 9, 30))
    assert overdue_ids() == []  # 1.5 working hours since the touch
    freeze_clock(at(1, 16, 30))
    [found] = overdue_leads(actor=None)
    assert found.last_touch == at(0, 16)
    assert found.reason == "Untouched for 8.5 working hours (limit 8)"


def test_completing_a_task_restarts_the_clock(freeze_clock, actor):
    freeze_clock(at(0, 8))
    lead = LeadFactory(owner_user=actor)
    task = task_create(actor=actor, subject="Call", who=lead)
    freeze_clock(at(0, 16))
    task_complete(actor=actor, task=task)
    freeze_clock(at(1, 9, 30))
    assert overdue_ids() == []
    assert [lead.last_touch for lead in overdue_leads(actor=None, now=at(1, 16, 30))] == [at(0, 16)]


def test_other_changes_do_not_touch_the_lead(monday_lead, freeze_clock, actor):
    freeze_clock(at(0, 16))
    lead_update(actor=actor, lead=monday_lead, data={"title": "CEO"})
    assert overdue_ids(at(1, 9, 30)) == [monday_lead.pk]


def test_closed_and_converted_leads_are_never_overdue(monday_lead, actor):
    closed = LeadStatus.objects.get(is_closed=True, is_converted=False)
    LeadFactory(owner_user=actor, status=closed)
    converted = LeadFactory(owner_user=actor)
    Lead.objects.filter(pk=converted.pk).update(is_converted=True)
    assert overdue_ids(at(30, 12)) == [monday_lead.pk]


def test_no_limit_means_no_lead_is_overdue(monday_lead, admin):
    service_levels_set(actor=admin, response_hours=None)
    assert overdue_ids(at(30, 12)) == []


def test_a_rep_sees_only_the_overdue_leads_they_may_see(monday_lead, actor):
    from dealflow.core.services import sharing_default_set

    sharing_default_set(actor=None, object_name="Lead", access="private")
    other = LeadFactory()
    assert [lead.id for lead in overdue_leads(actor=actor, now=at(3, 12))] == [monday_lead.pk]
    assert overdue_ids(at(3, 12)) == [monday_lead.pk, other.pk]


def test_candidates_are_measured_in_batches(monday_lead, actor, monkeypatch):
    others = [LeadFactory(owner_user=actor) for _ in range(4)]
    monkeypatch.setattr(module, "BATCH_SIZE", 2)
    service_levels.get()
    with CaptureQueriesContext(connection) as queries:
        found = overdue_ids(at(3, 12))
    assert found == [monday_lead.pk, *(lead.pk for lead in others)]
    # The configuration version, the candidates' ids, then one query per batch of two.
    assert len(queries) == 1 + 1 + 3


@pytest.mark.parametrize(
    "created",
    [at(4, 16, 59), at(4, 17), at(5, 12), at(7, 8), at(7, 9), at(7, 9, 1), at(3, 12), at(7, 12)],
)
def test_the_sql_condition_agrees_with_the_exact_hours(db, freeze_clock, actor, created):
    # Monday 17:00: eight working hours back is Monday's opening, and the weekend and
    # Friday's evening before it add nothing (a lead made on Saturday has exactly 8).
    freeze_clock(created)
    lead = LeadFactory(owner_user=actor)
    now = at(7, 17)
    exact = working_hours_between(created, now, service_levels.get()) > 8
    in_sql = overdue_queryset(now).filter(pk=lead.pk, is_overdue=True).exists()
    assert in_sql == exact == (created < at(4, 17))
    assert overdue_ids(now) == ([lead.pk] if exact else [])


# ---------------------------------------------------------------------------------------
# Emails and the command


@pytest.fixture
def admin(db):
    return UserFactory(role=Role.ADMIN)


@pytest.fixture
def overdue_book(db, freeze_clock):
    """Two owners with overdue leads (one in a team with two managers), on Wednesday."""
    cache.clear()
    team = TeamFactory()
    managers = [UserFactory(role=Role.MANAGER, team=team) for _ in range(2)]
    UserFactory(role=Role.REP, team=team)  # a teammate is not copied
    freeze_clock(MONDAY_9)
    teamed = UserFactory(team=team)
    alone = UserFactory()
    leads = [
        LeadFactory(owner_user=teamed, last_name="Ames"),
        LeadFactory(owner_user=teamed, last_name="Baker"),
        LeadFactory(owner_user=alone, last_name="Cole"),
        LeadFactory(owner_user=None, owner_queue=QueueFactory()),
    ]
    freeze_clock(at(2, 12))
    yield teamed, alone, managers, leads
    cache.clear()


def test_each_owner_gets_one_email_with_their_managers_copied(overdue_book):
    teamed, alone, managers, leads = overdue_book
    counts = email_overdue_leads([lead.pk for lead in leads])
    assert counts == {"sent": 2, "already_sent": 0, "no_address": 0, "queue_owned": 1}
    by_owner = {message.to[0]: message for message in mail.outbox}
    assert sorted(by_owner) == sorted([teamed.email, alone.email])
    first = by_owner[teamed.email]
    assert first.subject == "2 leads waiting past the response time"
    assert sorted(first.cc) == sorted(manager.email for manager in managers)
    assert "Robin Ames" in first.body and "Robin Baker" in first.body
    assert "Untouched for 19 working hours (limit 8)" in first.body
    assert f"/leads/{leads[0].public_id}/" in first.body
    assert by_owner[alone.email].cc == []
    assert by_owner[alone.email].subject == "1 lead waiting past the response time"


def test_a_retry_sends_nothing_twice(overdue_book):
    leads = overdue_book[3]
    email_overdue_leads([lead.pk for lead in leads])
    counts = email_overdue_leads([lead.pk for lead in leads])
    assert counts["sent"] == 0 and counts["already_sent"] == 2
    assert len(mail.outbox) == 2


def test_a_lead_touched_since_it_was_listed_is_left_out(overdue_book):
    teamed, _alone, _managers, leads = overdue_book
    lead_update(
        actor=teamed,
        lead=leads[0],
        data={"status": LeadStatus.objects.get(name="Working - Contacted")},
    )
    email_overdue_leads([lead.pk for lead in leads])
    [message] = [message for message in mail.outbox if message.to == [teamed.email]]
    assert "Robin Baker" in message.body and "Robin Ames" not in message.body


def command(*arguments):
    out = io.StringIO()
    call_command("service-levels", *arguments, stdout=out)
    return out.getvalue()


def test_the_command_lists_and_notifies(overdue_book):
    leads = overdue_book[3]
    output = command("--notify")
    assert output.startswith("4 overdue leads (limit 8 working hours).")
    assert f"{leads[0].public_id}  Robin Ames  {leads[0].company}" in output
    assert "    Untouched for 19 working hours (limit 8)" in output
    assert "Emailed 2 owners; 0 already emailed today" in output
    assert "1 leads owned by a queue" in output
    assert len(mail.outbox) == 2


def test_the_command_without_notify_sends_nothing(overdue_book):
    command()
    assert mail.outbox == []


def test_rerouting_runs_the_rules_and_records_why(overdue_book, admin):
    _teamed, _alone, _managers, leads = overdue_book
    catcher = UserFactory(username="catcher")
    assignment_rules_set(actor=admin, rules={"default_owner_id": catcher.public_id})
    output = command("--reroute")
    assert f"Re-routed {leads[0].public_id}: Service level: untouched for 19" in output
    assert set(Lead.objects.values_list("owner_user", flat=True)) == {catcher.pk}
    decision = AssignmentDecision.objects.filter(lead=leads[0]).get()
    assert decision.reason.startswith(
        "Service level: untouched for 19 working hours (limit 8); no entry matched: "
        "the default owner"
    )
    assert decision.actor is None
    # The owner change touched the leads: none is overdue now.
    assert overdue_leads(actor=None) == []


def test_the_setting_reroutes_without_the_flag(overdue_book, admin):
    catcher = UserFactory(username="catcher")
    assignment_rules_set(actor=admin, rules={"default_owner_id": catcher.public_id})
    service_levels_set(actor=admin, reroute_when_breached=True)
    command()
    assert AssignmentDecision.objects.count() == 4


def test_rerouting_to_the_same_owner_keeps_nothing(overdue_book, admin):
    teamed, _alone, _managers, leads = overdue_book
    assignment_rules_set(actor=admin, rules={"default_owner_id": teamed.public_id})

    output = command("--reroute")

    for kept in leads[:2]:  # teamed's own leads: the rules give them to teamed again
        assert f"Re-routed {kept.public_id}: not re-routed: the rules give its owner" in output
    assert set(Lead.objects.values_list("owner_user", flat=True)) == {teamed.pk}
    decided = AssignmentDecision.objects.values_list("lead", flat=True)
    assert sorted(decided) == sorted([leads[2].pk, leads[3].pk])


def test_rerouting_without_rules_says_so(overdue_book):
    lead = overdue_book[3][0]
    output = command("--reroute")
    assert f"Re-routed {lead.public_id}: not re-routed: no assignment rules are active" in output
    assert AssignmentDecision.objects.count() == 0


def test_the_command_without_a_limit_says_so(db, admin):
    service_levels_set(actor=admin, response_hours=None)
    assert command() == "No response-time limit is set: no lead is overdue.\n"


# ---------------------------------------------------------------------------------------
# The setting


def test_admins_change_the_setting_and_it_is_audited(admin):
    levels = service_levels_set(
        actor=admin,
        response_hours=4,
        working_days=["monday", "Tuesday"],
        day_start="08:30",
        day_end="16:00",
        reroute_when_breached=True,
    )
    assert levels == ServiceLevels(
        response_hours=4,
        working_days=(0, 1),
        day_start=datetime.time(8, 30),
        day_end=datetime.time(16),
        reroute_when_breached=True,
        time_zone="UTC",
    )
    event = AuditEvent.objects.get(object_name="ServiceLevelSetting")
    assert event.actor == admin
    assert event.changes["response_hours"] == [8, 4]
    assert event.changes["day_start"] == ["09:00", "08:30"]


def test_others_may_not_change_the_setting(actor):
    with pytest.raises(DomainError) as refusal:
        service_levels_set(actor=actor, response_hours=2)
    assert refusal.value.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY
    assert service_levels.get().response_hours == 8


@pytest.mark.parametrize(
    ("change", "code", "fields"),
    [
        ({"response_hours": 0}, ErrorCode.NUMBER_OUTSIDE_VALID_RANGE, ["response_hours"]),
        ({"response_hours": "8"}, ErrorCode.INVALID_TYPE, ["response_hours"]),
        ({"response_hours": True}, ErrorCode.INVALID_TYPE, ["response_hours"]),
        ({"working_days": []}, ErrorCode.INVALID_TYPE, ["working_days"]),
        ({"working_days": ["Funday"]}, ErrorCode.INVALID_FIELD, ["working_days"]),
        ({"day_start": "9"}, ErrorCode.INVALID_TYPE, ["day_start"]),
        ({"day_end": "08:00"}, ErrorCode.INVALID_FIELD, ["day_start", "day_end"]),
        ({"reroute_when_breached": "yes"}, ErrorCode.INVALID_TYPE, ["reroute_when_breached"]),
    ],
)
def test_bad_settings_are_refused_and_change_nothing(admin, change, code, fields):
    with pytest.raises(DomainError) as refusal:
        service_levels_set(actor=admin, **change)
    assert (refusal.value.code, refusal.value.fields) == (code, fields)
    assert service_levels.get() == ServiceLevels(time_zone="UTC")
    assert not AuditEvent.objects.filter(object_name="ServiceLevelSetting").exists()


# ---------------------------------------------------------------------------------------
# The lead page


def test_the_lead_page_shows_the_overdue_badge_with_its_reason(
    monday_lead, freeze_clock, client, actor
):
    client.force_login(actor)
    page = client.get(f"/leads/{monday_lead.public_id}/").content.decode()
    assert "Overdue" not in page
    freeze_clock(at(1, 9, 30))
    page = client.get(f"/leads/{monday_lead.public_id}/").content.decode()
    assert "Overdue</span>Untouched for 8.5 working hours (limit 8)" in page
