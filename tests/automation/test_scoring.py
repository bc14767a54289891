"""Rule scoring through the services: points and decay on a frozen clock, fit rules,
thresholds to Rating, the set-based recompute's queries, events' access and validation,
the settings' errors, `dealflow score`, the task, and the lead page's Score panel."""

from __future__ import annotations

import datetime

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealflow.automation import scoring
from dealflow.automation.models import LeadEvent, LeadScore, LeadScoreHistory
from dealflow.automation.scoring import (
    lead_event_record,
    lead_scores_recompute,
    scoring_configuration,
    scoring_settings_set,
)
from dealflow.automation.tasks import score_leads
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.services import sharing_default_set
from dealflow.leads.models import Lead, LeadStatus
from dealflow.people.models import Role
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.UTC)
XSS = "<script>alert(1)</script>"
TIMES = "\N{MULTIPLICATION SIGN}"  # of a part's rule: "Page view x2"


@pytest.fixture
def admin():
    return UserFactory(username="admin", role=Role.ADMIN)


def add_event(lead, type, days_ago=0.0):
    moment = NOW - datetime.timedelta(days=days_ago)
    return LeadEvent.objects.create(lead=lead, type=type, occurred_at=moment, created_at=moment)


def score_of(lead):
    return LeadScore.objects.get(lead=lead)


def test_each_event_counts_its_points_halved_every_half_life(freeze_clock):
    freeze_clock(NOW)
    lead = LeadFactory()
    add_event(lead, "form_submit")
    add_event(lead, "demo_request", days_ago=30)  # one half-life: 50 -> 25
    add_event(lead, "page_view", days_ago=15)  # half a half-life: 1 * 0.5 ** 0.5 = 0.7071...
    add_event(lead, "page_view", days_ago=15)

    assert lead_scores_recompute() == 1

    score = score_of(lead)
    assert score.parts == [
        {"rule": f"Form submit {TIMES}1", "points": 50.0},
        {"rule": f"Demo request {TIMES}1", "points": 25.0},
        {"rule": f"Page view {TIMES}2", "points": 1.41},  # 2 * 0.70710678, rounded to 2 places
    ]
    assert score.score == 76.41
    assert score.computed_at == NOW
    lead.refresh_from_db()
    assert lead.rating == "Hot"


def test_configured_points_and_half_life_replace_the_defaults(freeze_clock, admin):
    freeze_clock(NOW)
    scoring_settings_set(actor=admin, settings={"points": {"page_view": 2}, "half_life_days": 10})
    lead = LeadFactory()
    add_event(lead, "page_view", days_ago=20)  # two half-lives: 2 -> 0.5
    add_event(lead, "form_error")  # -5, no decay yet
    add_event(lead, "event_attended", days_ago=5)  # 20 * 0.5 ** 0.5 = 14.142...

    lead_scores_recompute()

    assert score_of(lead).parts == [
        {"rule": f"Event attended {TIMES}1", "points": 14.14},
        {"rule": f"Page view {TIMES}1", "points": 0.5},
        {"rule": f"Form error {TIMES}1", "points": -5.0},
    ]
    assert score_of(lead).score == 9.64
    lead.refresh_from_db()
    assert lead.rating == "Cold"


def test_fit_rules_add_points_for_the_fields_they_match(freeze_clock, admin):
    freeze_clock(NOW)
    scoring_settings_set(
        actor=admin,
        settings={
            "fit_rules": [
                {"field": "industry", "operator": "equals", "value": "Banking", "points": 10},
                {
                    "field": "number_of_employees",
                    "operator": "at_least",
                    "value": 500,
                    "points": 15,
                },
                {"field": "title", "operator": "contains_word", "value": "VP", "points": 5},
            ]
        },
    )
    fits = LeadFactory(industry="banking", number_of_employees=500, title="VP of Sales")
    near = LeadFactory(industry="Banking Software", number_of_employees=499, title="SVP")
    blank = LeadFactory(industry="", number_of_employees=None, title="")

    lead_scores_recompute()

    assert score_of(fits).parts == [
        {"rule": "Industry is Banking", "points": 10.0},
        {"rule": "Employees at least 500", "points": 15.0},
        {"rule": "Title contains VP", "points": 5.0},
    ]
    assert score_of(fits).score == 30.0
    assert score_of(near).parts == score_of(blank).parts == []
    assert score_of(near).score == 0.0


@pytest.mark.parametrize(
    ("events", "rating"),
    [
        (["link_click"] * 8, "Cold"),  # 24 < 25
        (["event_attended", "link_click", "link_click"], "Warm"),  # 26
        (["demo_request", "link_click", *["email_open"] * 6], "Warm"),  # 59 < 60
        (["demo_request", "event_attended"], "Hot"),  # 70
    ],
)
def test_thresholds_decide_the_rating(freeze_clock, events, rating):
    freeze_clock(NOW)
    lead = LeadFactory(rating="")
    for type in events:
        add_event(lead, type)

    lead_scores_recompute()

    lead.refresh_from_db()
    assert lead.rating == rating


def test_the_thresholds_are_inclusive_and_configurable(freeze_clock, admin):
    freeze_clock(NOW)
    scoring_settings_set(actor=admin, settings={"thresholds": {"hot": 50, "warm": 20}})
    hot, warm, cold = LeadFactory(), LeadFactory(), LeadFactory()
    add_event(hot, "demo_request")  # exactly 50
    add_event(warm, "event_attended")  # exactly 20
    add_event(cold, "link_click")  # 3

    lead_scores_recompute()

    ratings = dict(Lead.objects.values_list("pk", "rating"))
    assert [ratings[hot.pk], ratings[warm.pk], ratings[cold.pk]] == ["Hot", "Warm", "Cold"]


def test_a_rating_already_right_is_not_written(freeze_clock):
    freeze_clock(NOW)
    lead = LeadFactory(rating="Cold")
    before = Lead.objects.get(pk=lead.pk).updated_at
    freeze_clock(NOW + datetime.timedelta(hours=1))

    lead_scores_recompute()

    assert Lead.objects.get(pk=lead.pk).updated_at == before
    assert score_of(lead).score == 0.0


def test_converted_and_closed_leads_are_not_scored(freeze_clock):
    freeze_clock(NOW)
    closed_status = LeadStatus.objects.filter(is_closed=True, is_converted=False).first()
    open_lead = LeadFactory()
    closed = LeadFactory(status=closed_status) if closed_status else None
    converted = LeadFactory()
    Lead.objects.filter(pk=converted.pk).update(is_converted=True)

    assert lead_scores_recompute() == 1

    assert list(LeadScore.objects.values_list("lead_id", flat=True)) == [open_lead.pk]
    assert closed is None or not LeadScore.objects.filter(lead=closed).exists()


def recompute_queries(count):
    leads = LeadFactory.create_batch(count, rating="")
    LeadEvent.objects.bulk_create(
        LeadEvent(lead=lead, type=type, occurred_at=NOW, created_at=NOW)
        for lead in leads
        for type in ("event_attended", "link_click", "page_view")  # 24: Cold
    )
    with CaptureQueriesContext(connection) as captured:
        assert lead_scores_recompute(now=NOW) == count
    return len(captured)


def test_recomputing_200_leads_takes_a_fixed_number_of_queries(freeze_clock):
    freeze_clock(NOW)

    queries = recompute_queries(200)

    # The settings, the leads with their previous scores, their events, a savepoint, the
    # scores' upsert, the history's insert (every score is new), one UPDATE for the
    # Rating they all change to (Cold), the savepoint's release.
    assert queries == 8
    assert LeadScoreHistory.objects.count() == 200
    assert LeadScore.objects.count() == 200
    assert set(LeadScore.objects.values_list("score", flat=True)) == {24.0}
    assert set(Lead.objects.values_list("rating", flat=True)) == {"Cold"}


def test_recomputing_again_updates_the_scores_in_place(freeze_clock):
    freeze_clock(NOW)
    recompute_queries(20)
    LeadEvent.objects.filter(type="page_view").update(type="demo_request")  # 23 + 50 = 73

    with CaptureQueriesContext(connection) as captured:
        lead_scores_recompute(now=NOW)

    assert len(captured) == 8
    assert set(LeadScore.objects.values_list("score", flat=True)) == {73.0}
    assert set(Lead.objects.values_list("rating", flat=True)) == {"Hot"}
    assert (
        sorted(LeadScoreHistory.objects.values_list("score", "rating"))
        == [(24.0, "Cold")] * 20 + [(73.0, "Hot")] * 20
    )


def test_an_unchanged_score_appends_no_history(freeze_clock):
    freeze_clock(NOW)
    recompute_queries(20)

    with CaptureQueriesContext(connection) as captured:
        assert lead_scores_recompute(now=NOW) == 20

    # The settings, the leads, their events, a savepoint, the upsert, its release: no
    # history insert and no Rating update.
    assert len(captured) == 6
    assert LeadScoreHistory.objects.count() == 20


def test_batches_read_the_previous_scores_and_the_events_of_their_own_leads(
    freeze_clock, monkeypatch
):
    """Batches of 2 leads: each reads its leads' previous scores through a join bounded
    by the batch (so a second recompute finds them all and appends no history), and its
    events by the range of its keys, in which a closed lead's events count for nobody."""
    freeze_clock(NOW)
    monkeypatch.setattr(scoring, "BATCH_SIZE", 2)
    monkeypatch.setattr(scoring, "EVENT_RANGE_ABOVE", 1)
    closed = LeadStatus.objects.filter(is_closed=True, is_converted=False).first()
    leads = []
    for number in range(5):
        leads.append(LeadFactory())
        add_event(leads[-1], "demo_request", days_ago=30 * number)  # 50, 25, 12.5, ...
        shut = LeadFactory(status=closed)  # between two open leads, in their range
        add_event(shut, "form_submit")

    assert lead_scores_recompute(now=NOW) == 5
    assert lead_scores_recompute(now=NOW) == 5

    assert [score_of(lead).score for lead in leads] == [
        50.0,
        25.0,
        12.5,
        6.25,
        3.12,
    ]  # 3.125 rounds down (a float)
    assert LeadScoreHistory.objects.count() == 5  # the first scores only
    assert not LeadScore.objects.filter(lead__status=closed).exists()
    assert [Lead.objects.get(pk=lead.pk).rating for lead in leads] == [
        "Warm",
        "Warm",
        "Cold",
        "Cold",
        "Cold",
    ]


def test_history_keeps_moves_of_a_point_or_more_from_its_newest_row(freeze_clock):
    """Decay moves a 50-point demo request by about 0.57 points in half a day (half-life
    30 days): the history gets a row only once the score is a whole point or more from
    its newest row, not from the last recompute's score."""
    freeze_clock(NOW)
    lead = LeadFactory(rating="")
    add_event(lead, "demo_request")
    history = LeadScoreHistory.objects.filter(lead=lead)

    for days in (0, 0.5, 1, 1.5):
        lead_scores_recompute(now=NOW + datetime.timedelta(days=days))

    # 50, then 49.43 (0.57 from 50: no row), 48.86 (1.14 from 50: a row), 48.3 (0.56).
    assert list(history.values_list("score", "rating")) == [(48.86, "Warm"), (50.0, "Warm")]
    assert LeadScore.objects.filter(lead=lead).values_list("score", "history_score").get() == (
        48.3,
        48.86,
    )


def test_a_score_kept_before_its_history_score_compares_with_itself(freeze_clock):
    """Rows scored before migration automation 0006 have no history_score: their newest
    history row has their score, so the recompute compares with that."""
    freeze_clock(NOW)
    lead = LeadFactory(rating="")
    add_event(lead, "demo_request")
    lead_scores_recompute(now=NOW)
    LeadScore.objects.update(score=49.5, history_score=None)

    lead_scores_recompute(now=NOW + datetime.timedelta(days=1))  # 48.86: 0.64 from 49.5

    assert list(LeadScoreHistory.objects.filter(lead=lead).values_list("score", flat=True)) == [
        50.0
    ]
    assert score_of(lead).history_score == 49.5


def test_a_changed_rating_alone_is_history_too(freeze_clock, admin):
    freeze_clock(NOW)
    lead = LeadFactory(rating="")
    add_event(lead, "event_attended")
    lead_scores_recompute()  # 20: Cold
    scoring_settings_set(actor=admin, settings={"thresholds": {"hot": 60, "warm": 20}})

    lead_scores_recompute()

    assert list(LeadScoreHistory.objects.values_list("score", "rating")) == [
        (20.0, "Warm"),  # newest first: the same score, now Warm
        (20.0, "Cold"),
    ]


def test_only_the_given_leads_are_recomputed(freeze_clock):
    freeze_clock(NOW)
    first, second = LeadFactory(), LeadFactory()

    assert lead_scores_recompute(lead_ids=[second.pk]) == 1

    assert list(LeadScore.objects.values_list("lead_id", flat=True)) == [second.pk]
    assert not LeadScore.objects.filter(lead=first).exists()


def test_given_leads_are_read_a_batch_of_keys_at_a_time(freeze_clock, monkeypatch):
    """Many given keys (SQLite refused more than 32,766 parameters in one query) are read
    BATCH_SIZE at a time, in order, once each; a closed lead or an unknown key among
    them scores nothing."""
    freeze_clock(NOW)
    monkeypatch.setattr(scoring, "BATCH_SIZE", 2)
    closed = LeadStatus.objects.filter(is_closed=True, is_converted=False).first()
    leads = [LeadFactory() for _ in range(5)]
    for number, lead in enumerate(leads):
        add_event(lead, "demo_request", days_ago=30 * number)  # 50, 25, 12.5, 6.25, 3.12
    shut = LeadFactory(status=closed)
    add_event(shut, "form_submit")
    given = [leads[4].pk, leads[0].pk, shut.pk, leads[2].pk, 10**9, leads[0].pk]

    with CaptureQueriesContext(connection) as captured:
        assert lead_scores_recompute(lead_ids=given) == 3

    reads = [query["sql"] for query in captured if 'FROM "leads_lead"' in query["sql"]]
    assert len(reads) == 3  # 5 distinct keys, 2 a time
    assert sorted(LeadScore.objects.values_list("lead_id", "score")) == [
        (leads[0].pk, 50.0),
        (leads[2].pk, 12.5),
        (leads[4].pk, 3.12),
    ]
    assert [Lead.objects.get(pk=lead.pk).rating for lead in leads] == [
        "Warm",
        leads[1].rating,
        "Cold",
        leads[3].rating,
        "Cold",
    ]
    assert LeadScoreHistory.objects.count() == 3


# ---------------------------------------------------------------------------------------
# Events


def test_an_event_is_recorded_and_the_lead_rescored_after_commit(
    freeze_clock, actor, django_capture_on_commit_callbacks
):
    freeze_clock(NOW)
    lead = LeadFactory(owner_user=actor)

    with django_capture_on_commit_callbacks(execute=True):
        event = lead_event_record(
            actor=actor,
            lead=lead.public_id,
            type="demo_request",
            occurred_at="2026-11-29T12:00:00Z",
        )

    assert event.occurred_at == NOW - datetime.timedelta(days=1)
    assert event.created_at == NOW
    assert score_of(lead).score == 48.86  # 50 * 0.5 ** (1 / 30) = 48.858...
    lead.refresh_from_db()
    assert lead.rating == "Warm"


def test_an_event_without_a_time_happened_now(freeze_clock, actor):
    freeze_clock(NOW)
    lead = LeadFactory(owner_user=actor)

    event = lead_event_record(actor=actor, lead=lead, type="page_view")

    assert event.occurred_at == NOW


def test_an_event_on_a_lead_the_actor_cannot_see_is_not_found(actor):
    sharing_default_set(actor=None, object_name="Lead", access="private")
    lead = LeadFactory(owner_user=UserFactory())

    with pytest.raises(DomainError) as refused:
        lead_event_record(actor=actor, lead=lead.public_id, type="page_view")

    assert refused.value.code == ErrorCode.NOT_FOUND
    assert not LeadEvent.objects.exists()


@pytest.mark.parametrize(
    ("type", "occurred_at", "field"),
    [
        ("visit", None, "type"),
        (None, None, "type"),
        ("page_view", "yesterday", "occurred_at"),
        ("page_view", "2026-11-29T12:00:00", "occurred_at"),  # no time zone
        ("page_view", "2026-12-01T12:00:00Z", "occurred_at"),  # the future
        ("page_view", 12, "occurred_at"),
        ("page_view", "0103-09-09T20:14:11-21:39", "occurred_at"),  # an offset beyond 15:59
        ("page_view", "1989-12-31T23:59:59Z", "occurred_at"),  # before 1990
        ("page_view", "0001-01-01T00:00:00+01:00", "occurred_at"),
    ],
)
def test_a_bad_event_is_refused_naming_its_field(freeze_clock, actor, type, occurred_at, field):
    freeze_clock(NOW)
    lead = LeadFactory(owner_user=actor)

    with pytest.raises(DomainError) as refused:
        lead_event_record(actor=actor, lead=lead, type=type, occurred_at=occurred_at)

    assert refused.value.fields == [field]
    assert not LeadEvent.objects.exists()


# ---------------------------------------------------------------------------------------
# Settings


def test_the_defaults_until_an_admin_changes_them():
    configuration = scoring_configuration()

    assert configuration.as_json() == {
        "points": {
            "form_submit": 50,
            "demo_request": 50,
            "event_attended": 20,
            "link_click": 3,
            "email_open": 1,
            "page_view": 1,
            "form_error": -5,
        },
        "half_life_days": 30.0,
        "fit_rules": [],
        "thresholds": {"hot": 60.0, "warm": 25.0},
    }


def test_only_admins_change_the_settings(actor):
    with pytest.raises(DomainError) as refused:
        scoring_settings_set(actor=actor, settings={"half_life_days": 7})

    assert refused.value.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY
    assert scoring_configuration().half_life_days == 30.0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"points": {"visit": 5}}, "points.visit"),
        ({"points": {"page_view": "5"}}, "points.page_view"),
        ({"points": {"page_view": 10**6}}, "points.page_view"),
        ({"half_life_days": 0}, "half_life_days"),
        ({"half_life_days": True}, "half_life_days"),
        ({"fit_rules": {}}, "fit_rules"),
        ({"fit_rules": [{"field": "city", "operator": "equals"}]}, "fit_rules[0].field"),
        ({"fit_rules": [{"field": {}, "operator": []}]}, "fit_rules[0].field"),  # not text
        ({"fit_rules": [{"field": "title", "operator": {}}]}, "fit_rules[0].operator"),
        (
            {"fit_rules": [{"field": "title", "operator": "equals", "value": "VP"}]},
            "fit_rules[0].operator",
        ),
        (
            {"fit_rules": [{"field": "industry", "operator": "equals", "value": "  "}]},
            "fit_rules[0].value",
        ),
        (
            {
                "fit_rules": [
                    {"field": "number_of_employees", "operator": "at_least", "value": "big"}
                ]
            },
            "fit_rules[0].value",
        ),
        (
            {"fit_rules": [{"field": "industry", "operator": "equals", "value": "Banking"}]},
            "fit_rules[0].points",
        ),
        ({"thresholds": {"hot": 20, "warm": 30}}, "thresholds.hot"),
        ({"thresholds": {"cold": 0}}, "thresholds.cold"),
        ({"decay": 30}, "decay"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(admin, body, field):
    with pytest.raises(DomainError) as refused:
        scoring_settings_set(actor=admin, settings=body)

    assert refused.value.fields == [field]
    assert field in refused.value.message


# ---------------------------------------------------------------------------------------
# The command, the task, the page


def test_the_score_command_scores_every_open_lead(freeze_clock):
    freeze_clock(NOW)
    leads = LeadFactory.create_batch(3)
    add_event(leads[0], "demo_request")

    call_command("score")

    assert dict(LeadScore.objects.values_list("lead_id", "score")) == {
        leads[0].pk: 50.0,
        leads[1].pk: 0.0,
        leads[2].pk: 0.0,
    }


def test_the_task_takes_ids_and_is_safe_to_retry(freeze_clock):
    freeze_clock(NOW)
    lead = LeadFactory()
    add_event(lead, "link_click")

    assert score_leads([lead.pk]) == 1
    assert score_leads([lead.pk]) == 1

    assert LeadScore.objects.get().score == 3.0


def test_the_lead_page_shows_the_score_and_its_rules_escaped(freeze_clock, client, admin):
    freeze_clock(NOW)
    scoring_settings_set(
        actor=admin,
        settings={
            "fit_rules": [{"field": "industry", "operator": "equals", "value": XSS, "points": 7}]
        },
    )
    rep = UserFactory()
    lead = LeadFactory(owner_user=rep, industry=XSS)
    add_event(lead, "demo_request")
    lead_scores_recompute()
    client.force_login(rep)

    page = client.get(f"/leads/{lead.public_id}/").content.decode()

    assert 'id="score-title">Score</h2>' in page
    assert '<strong class="h3">57</strong> · Warm' in page
    assert f'Demo request {TIMES}1</td><td class="text-end">50</td>' in page
    assert "Industry is &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert XSS not in page


def test_the_lead_page_says_when_a_lead_is_not_scored_yet(client):
    rep = UserFactory()
    lead = LeadFactory(owner_user=rep)
    client.force_login(rep)

    page = client.get(f"/leads/{lead.public_id}/").content.decode()

    assert "Not computed yet: no scoring run has scored this lead" in page
