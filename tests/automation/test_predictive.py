"""Predictive scoring through the services, the task, the command and the lead page: on
generated history where conversion depends on known features (lead source Web, industry
Banking, demo requests), the held-out AUC, the calibration table, the factors in words,
likelihoods 1-99, the refusal below the minimum history, set-based query counts, no
leakage of events after conversion, and the model kept as JSON."""

from __future__ import annotations

import datetime
import io
import json
import math

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealflow.automation import predictive
from dealflow.automation.models import LeadEvent, LeadLikelihood, LeadScore, PredictiveModel
from dealflow.automation.predictive import (
    Encoder,
    lead_likelihood,
    lead_likelihoods_recompute,
    predictive_model_train,
    title_level,
)
from dealflow.automation.scoring import lead_event_record, scoring_settings_set
from dealflow.automation.tasks import predict_leads, refresh_lead_score, train_predictive_model
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import AuditEvent
from dealflow.leads.models import Lead
from dealflow.leads.services import lead_create, lead_update
from dealflow.people.models import Role
from tests.automation.predictive_data import (
    NOW,
    generate_history,
    lead_row,
    statuses,
)
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

XSS = "<script>alert(1)</script>"


@pytest.fixture
def owner():
    return UserFactory(username="owner")


@pytest.fixture
def history(owner):
    """1,500 closed leads by the known rule and 40 open ones: (converted, open leads)."""
    return generate_history(owner, closed=1500, open_leads=40)


def open_lead(owner, number, *, demos=0, **values):
    """An open lead with `demos` demo requests (bulk-created, as the history)."""
    import random

    _converted, _closed, open_status = statuses()
    lead = lead_row(random.Random(number), owner, open_status, 10_000 + number, **values)
    lead.save()
    moment = NOW - datetime.timedelta(days=3)
    LeadEvent.objects.bulk_create(
        LeadEvent(lead=lead, type="demo_request", occurred_at=moment, created_at=moment)
        for _ in range(demos)
    )
    return lead


def texts(factors):
    return [factor["text"] for factor in factors]


# ---------------------------------------------------------------------------------------
# Training


def test_the_model_learns_the_known_features_with_a_held_out_auc_of_at_least_0_8(history, owner):
    converted, _open = history

    model = predictive_model_train(now=NOW)

    figures = model.figures
    assert figures["auc"] >= 0.8
    assert figures["rows"] == {
        "leads": 1500,
        "converted": converted,
        "training": 900,  # 60%
        "calibration": 300,  # 20%
        "held_out": 300,  # 20%, stratified: the same share converted
        "held_out_converted": round(converted / 5),
    }
    # The three strongest columns are the known ones, each raising conversion.
    definition = model.definition
    strongest = sorted(
        zip(definition["columns"], definition["coefficients"], strict=True),
        key=lambda pair: -abs(pair[1]),
    )[:3]
    assert {(column["group"], column["label"]) for column, _weight in strongest} == {
        ("lead_source", "Web"),
        ("industry", "Banking"),
        ("events.demo_request", "log(1 + count)"),
    }
    assert all(weight > 0 for _column, weight in strongest)
    assert model.trained_at == NOW
    assert model.is_active


def test_the_calibration_table_splits_the_held_out_leads_into_deciles(history):
    converted, _open = history

    table = predictive_model_train(now=NOW).figures["calibration"]

    assert [line["decile"] for line in table] == list(range(1, 11))
    assert [line["leads"] for line in table] == [30] * 10
    # Observed shares are of 30 leads each; together they are the held-out converted.
    assert sum(round(line["observed"] * 30 / 100) for line in table) == round(converted / 5)
    predicted = [line["predicted"] for line in table]
    assert predicted == sorted(predicted)
    assert 0 < predicted[0] < predicted[-1] < 100
    # Calibrated: the top decile converts far more than the bottom one, as predicted.
    assert table[-1]["observed"] - table[0]["observed"] >= 40


def test_the_model_is_stored_as_json_with_everything_needed_to_predict(history):
    model = predictive_model_train(now=NOW)

    stored = PredictiveModel.objects.get(pk=model.pk)
    definition = json.loads(json.dumps(stored.definition))  # plain JSON, no pickle
    width = len(definition["columns"])
    assert definition["version"] == 1
    assert len(definition["mean"]) == len(definition["scale"]) == width
    assert len(definition["coefficients"]) == width
    assert definition["calibration"]["method"] == "platt"
    assert definition["calibration"]["slope"] > 0
    assert definition["bins"] == {
        "number_of_employees": [10, 100, 1000, 10000],
        "annual_revenue": [1_000_000, 10_000_000, 100_000_000, 1_000_000_000],
    }
    # Every generated lead has one page view: a constant column, which weighs nothing.
    page_views = next(
        index
        for index, column in enumerate(definition["columns"])
        if column["group"] == "events.page_view"
    )
    assert definition["coefficients"][page_views] == 0.0
    assert definition["scale"][page_views] == 1.0
    # Never the outcome: no column reads the status or the conversion fields.
    groups = {column["group"] for column in definition["columns"]}
    assert groups == {
        "lead_source",
        "industry",
        "rating",
        "country",
        "title",
        "employees",
        "revenue",
        "phone",
        "email",
        *(f"events.{type}" for type in predictive.EVENT_WORDS),
    }


def test_retraining_retires_the_previous_model_and_keeps_it_audited(history, owner):
    first = predictive_model_train(now=NOW)
    admin = UserFactory(role=Role.ADMIN)

    second = predictive_model_train(actor=admin, now=NOW + datetime.timedelta(days=7))

    assert list(PredictiveModel.objects.values_list("pk", "is_active")) == [
        (second.pk, True),  # newest first
        (first.pk, False),
    ]
    assert second.definition["coefficients"] == first.definition["coefficients"]  # seeded
    events = AuditEvent.objects.filter(object_name="PredictiveModel").order_by("pk")
    assert [(event.record_id, event.actor_id) for event in events] == [
        (first.pk, None),
        (second.pk, admin.pk),
    ]
    assert events[1].changes["auc"] == [None, second.figures["auc"]]
    assert second.trained_by == admin


def test_training_reads_the_leads_in_batches_with_a_fixed_number_of_queries(history, monkeypatch):
    monkeypatch.setattr(predictive, "BATCH_SIZE", 500)

    with CaptureQueriesContext(connection) as captured:
        predictive_model_train(now=NOW)

    # The counts, one grouped query per categorical feature (4), per batch of 500 the
    # leads and their event counts (3 x 2), then a savepoint, the retirement of the
    # active model, the insert, the configuration version, the audit event and the
    # savepoint's release.
    assert len(captured) == 1 + 4 + 6 + 6


MESSAGE = (
    "Predictive scoring needs a history of at least 1,000 closed leads, 120 of them "
    "converted and 10 not; there are {leads} closed leads, {converted} of them "
    "converted. The model is not trained."
)


def test_training_is_refused_below_the_minimum_history_and_stores_nothing(owner):
    converted, _open = generate_history(owner, closed=300, open_leads=5)

    with pytest.raises(DomainError) as refused:
        predictive_model_train(now=NOW)

    assert refused.value.code == ErrorCode.PRECONDITION_FAILED
    assert refused.value.message == MESSAGE.format(leads=300, converted=converted)
    assert not PredictiveModel.objects.exists()
    assert not AuditEvent.objects.filter(object_name="PredictiveModel").exists()


def test_training_is_refused_without_enough_converted_leads(owner):
    generate_history(owner, closed=1000)
    Lead.objects.filter(pk=Lead.objects.filter(is_converted=True).order_by("pk")[0].pk).delete()
    converted = Lead.objects.filter(is_converted=True).count()

    with pytest.raises(DomainError) as refused:
        predictive_model_train(now=NOW, minimum_leads=900, minimum_converted=converted + 1)

    assert refused.value.message == (
        f"Predictive scoring needs a history of at least 900 closed leads, "
        f"{converted + 1} of them converted and 10 not; there are 999 closed leads, "
        f"{converted} of them converted. The model is not trained."
    )
    assert not PredictiveModel.objects.exists()


def test_open_leads_never_count_as_history(owner):
    generate_history(owner, closed=0, open_leads=30)

    with pytest.raises(DomainError) as refused:
        predictive_model_train(minimum_leads=1, minimum_converted=1)

    assert refused.value.message.endswith(
        "there are 0 closed leads, 0 of them converted. The model is not trained."
    )


def test_events_after_a_conversion_are_not_counted_for_training(owner):
    converted_status, _closed, _open = statuses()
    lead = LeadFactory(owner_user=owner, status=converted_status)
    Lead.objects.filter(pk=lead.pk).update(
        is_converted=True, converted_date=datetime.date(2026, 11, 20)
    )
    for day in (19, 20, 21):  # the 21st comes after the conversion
        moment = datetime.datetime(2026, 11, day, 23, 0, tzinfo=datetime.UTC)
        LeadEvent.objects.create(
            lead=lead, type="demo_request", occurred_at=moment, created_at=moment
        )

    assert predictive._event_counts([lead.pk], before_conversion=True) == {
        lead.pk: {"demo_request": 2}
    }
    assert predictive._event_counts([lead.pk], before_conversion=False) == {
        lead.pk: {"demo_request": 3}
    }


def test_event_counts_of_many_leads_are_read_by_range_without_the_leads_between(owner, monkeypatch):
    monkeypatch.setattr(predictive, "RANGE_ABOVE", 1)
    first, between, last = (open_lead(owner, 20 + number, demos=1) for number in range(3))

    counts = predictive._event_counts([first.pk, last.pk], before_conversion=False)

    assert counts == {first.pk: {"demo_request": 1}, last.pk: {"demo_request": 1}}
    assert between.pk not in counts


# ---------------------------------------------------------------------------------------
# Prediction


def test_each_open_lead_gets_a_likelihood_from_1_to_99_with_factors_in_words(history, owner):
    predictive_model_train(now=NOW)
    likely = open_lead(owner, 1, demos=3, lead_source="Web", industry="Banking")
    unlikely = open_lead(owner, 2, lead_source="Purchased List", industry="Retail")

    assert lead_likelihoods_recompute(now=NOW) == 42

    values = list(LeadLikelihood.objects.values_list("likelihood", flat=True))
    assert len(values) == 42
    assert all(1 <= value <= 99 for value in values)
    high = LeadLikelihood.objects.get(lead=likely)
    low = LeadLikelihood.objects.get(lead=unlikely)
    assert high.likelihood >= 90
    assert low.likelihood <= 15
    # The known features are the top three positive factors (their order is the data's).
    assert sorted(texts(high.factors["positive"])) == [
        "3 demo requests",
        "Industry is Banking",
        "Lead source is Web",
    ]
    assert "No demo request" in texts(low.factors["negative"])
    assert len(low.factors["negative"]) == 3
    for factors in (high.factors, low.factors):
        positive = [factor["weight"] for factor in factors["positive"]]
        negative = [factor["weight"] for factor in factors["negative"]]
        assert positive == sorted(positive, reverse=True) and all(w > 0 for w in positive)
        assert negative == sorted(negative) and all(w < 0 for w in negative)
    assert high.computed_at == NOW


def test_factors_sum_to_the_calibrated_log_odds(history, owner):
    model = predictive_model_train(now=NOW)
    lead = open_lead(owner, 3, demos=1, lead_source="Web", industry="Media")
    loaded = predictive._Loaded.of(model)
    row = Lead.objects.filter(pk=lead.pk).values_list(*predictive._LEAD_FIELDS).get()
    events = predictive._event_counts([lead.pk], before_conversion=False)

    likelihoods, contributions, _codes = loaded.predict([row], events)

    calibration = model.definition["calibration"]
    base = calibration["intercept"] + calibration["slope"] * model.definition["intercept"]
    probability = 1 / (1 + math.exp(-(base + contributions[0].sum())))
    assert likelihoods[0] == max(1, min(99, round(probability * 100)))


@pytest.mark.parametrize(
    ("title", "level"),
    [
        ("Vice President of Sales", "vice_president"),
        ("SVP Marketing", "vice_president"),
        ("President", "executive"),
        ("Chief Revenue Officer", "executive"),
        ("Head of IT", "director"),
        ("Office Manager", "manager"),
        ("Analyst", "other"),
        ("", "blank"),
        ("  ", "blank"),
    ],
)
def test_the_title_seniority_is_read_from_its_words(title, level):
    assert title_level(title) == level


def test_each_feature_reads_in_words():
    definition = {
        "columns": predictive._columns(
            {
                "lead_source": [["web", "Web"]],
                "industry": [["banking", "Banking"]],
                "rating": [],
                "country": [],
            }
        )
    }
    encoder = Encoder(definition)
    row = (1, "WEB", "", "Hot", "Iceland", "CTO", 1200, 25_000_000, "", "+1 555", "")
    events = {"demo_request": 1, "page_view": 4}

    words = {group: encoder.words(group, row, events) for group in encoder.groups}

    assert words == {
        "lead_source": "Lead source is Web",  # the common spelling, matched folded
        "industry": "No industry",
        "rating": "Rating is Hot",
        "country": "Country is Iceland",
        "title": "Title is at executive level",
        "employees": "Employees 1,000-9,999",
        "revenue": "Annual revenue 10M-100M",
        "phone": "Has a phone number",
        "email": "No email address",
        "events.form_submit": "No form submit",
        "events.demo_request": "1 demo request",
        "events.event_attended": "No event attended",
        "events.link_click": "No link click",
        "events.email_open": "No email open",
        "events.page_view": "4 page views",
        "events.form_error": "No form error",
    }


def test_predicting_takes_one_read_of_the_model_and_three_queries_per_batch(
    history, owner, monkeypatch
):
    predictive_model_train(now=NOW)
    for number in range(80):
        open_lead(owner, 100 + number, demos=number % 3)
    monkeypatch.setattr(predictive, "BATCH_SIZE", 50)

    with CaptureQueriesContext(connection) as captured:
        assert lead_likelihoods_recompute(now=NOW) == 120  # 40 + 80: batches of 50, 50, 20

    # The model, then per batch the leads, their event counts and one upsert.
    assert len(captured) == 1 + 3 * 3
    assert LeadLikelihood.objects.count() == 120


def test_only_open_leads_are_predicted_and_again_in_place(history, owner):
    model = predictive_model_train(now=NOW)
    lead = open_lead(owner, 4, lead_source="Web")

    assert lead_likelihoods_recompute(lead_ids=[lead.pk], now=NOW) == 1
    assert lead_likelihoods_recompute(lead_ids=[lead.pk], now=NOW) == 1
    closed = Lead.objects.filter(status__is_closed=True).values_list("pk", flat=True)[:5]
    assert lead_likelihoods_recompute(lead_ids=list(closed)) == 0

    assert list(LeadLikelihood.objects.values_list("lead_id", "model_id")) == [(lead.pk, model.pk)]


def test_without_a_model_nothing_is_predicted(owner):
    open_lead(owner, 5)

    assert lead_likelihoods_recompute() == 0
    assert not LeadLikelihood.objects.exists()


# ---------------------------------------------------------------------------------------
# The tasks and the command


def test_the_tasks_take_ids_and_are_safe_to_retry(history, owner):
    lead = open_lead(owner, 6, lead_source="Web")

    assert train_predictive_model(minimum_leads=100_000) is None  # refused: logged, nothing
    assert not PredictiveModel.objects.exists()
    model_id = train_predictive_model()
    assert PredictiveModel.objects.get(is_active=True).pk == model_id
    assert predict_leads([lead.pk]) == predict_leads([lead.pk]) == 1
    assert LeadLikelihood.objects.get().lead_id == lead.pk


def test_score_train_prints_the_figures_and_predicts(history, freeze_clock):
    freeze_clock(NOW)
    output = io.StringIO()

    call_command("score", "train", stdout=output)

    model = PredictiveModel.objects.get()
    rows = model.figures["rows"]
    lines = output.getvalue().splitlines()
    assert lines[0].startswith(f"trained on 1500 closed leads ({rows['converted']} converted) in ")
    assert lines[0].endswith(" s, 2026-11-30 12:00 UTC")
    assert lines[1] == (
        f"rows: 900 to fit, 300 to calibrate, 300 held out ({rows['held_out_converted']} converted)"
    )
    assert lines[2] == f"held-out AUC: {model.figures['auc']:.3f}"
    assert lines[3:5] == [
        "calibration on the held-out leads (percent):",
        "  decile  leads  predicted  observed",
    ]
    first = model.figures["calibration"][0]
    assert lines[5] == f"       1     30  {first['predicted']:>9.1f}  {first['observed']:>8.1f}"
    assert lines[15].startswith("predicted the likelihoods of 40 leads in ")
    assert LeadLikelihood.objects.count() == 40


def test_score_train_refuses_below_the_minimum_with_exit_status_1(owner):
    converted, _open = generate_history(owner, closed=200)

    with pytest.raises(CommandError) as refused:
        call_command("score", "train", "--minimum-leads", "201", "--minimum-converted", "5")
    with pytest.raises(CommandError) as by_default:
        call_command("score", "train")

    # `dealflow` prints "CommandError: <message>" and exits with the error's status.
    assert refused.value.returncode == by_default.value.returncode == 1
    assert str(refused.value) == (
        "Predictive scoring needs a history of at least 201 closed leads, 5 of them "
        f"converted and 10 not; there are 200 closed leads, {converted} of them converted. "
        "The model is not trained."
    )
    assert str(by_default.value) == MESSAGE.format(leads=200, converted=converted)
    assert not PredictiveModel.objects.exists()


def test_score_trains_with_lower_minimums_when_told(owner):
    generate_history(owner, closed=300, open_leads=2)

    call_command(
        "score",
        "train",
        "--minimum-leads",
        "300",
        "--minimum-converted",
        "20",
        stdout=io.StringIO(),
    )

    assert PredictiveModel.objects.get().figures["rows"]["leads"] == 300
    assert LeadLikelihood.objects.count() == 2


def test_score_also_predicts_once_a_model_exists(history, freeze_clock):
    freeze_clock(NOW)
    before = io.StringIO()
    call_command("score", stdout=before)
    predictive_model_train(now=NOW)
    after = io.StringIO()

    call_command("score", stdout=after)
    call_command("score", "predict", stdout=io.StringIO())

    assert before.getvalue().startswith("scored 40 leads in ")
    assert "predicted" not in before.getvalue()
    assert after.getvalue().splitlines()[1].startswith("predicted the likelihoods of 40 leads")
    assert LeadLikelihood.objects.count() == 40


def test_score_predict_without_a_model_says_so():
    output = io.StringIO()

    call_command("score", "predict", stdout=output)

    assert output.getvalue() == "No predictive model is trained yet: run `dealflow score train`.\n"


# ---------------------------------------------------------------------------------------
# The lead page


def test_the_score_panel_shows_the_likelihood_its_factors_and_the_history(
    history, owner, client, freeze_clock
):
    from dealflow.automation.scoring import lead_scores_recompute

    freeze_clock(NOW)
    predictive_model_train(now=NOW)
    lead = open_lead(owner, 7, demos=2, lead_source="Web", industry=XSS)
    lead_scores_recompute()
    lead_likelihoods_recompute()
    likelihood = lead_likelihood(lead)
    client.force_login(owner)

    page = client.get(f"/leads/{lead.public_id}/").content.decode()

    assert f'<strong class="h3" data-likelihood>{likelihood.likelihood}%</strong>' in page
    assert 'model trained <time datetime="2026-11-30T12:00:00+00:00">2026-11-30</time>' in page
    web = next(f for f in likelihood.factors["positive"] if f["text"] == "Lead source is Web")
    assert f'<span class="text-success">+{web["weight"]:.2f}</span> Lead source is Web' in page
    assert 'id="score-history-title">Score history</h3>' in page
    # 2 demo requests 3 days old: 2 * 50 * 0.5 ** (3 / 30) = 93.30
    assert '<td class="text-end">93.30</td><td>Hot</td>' in page
    assert XSS not in page


def test_the_score_panel_without_a_prediction_says_how_to_get_one(client):
    rep = UserFactory()
    lead = LeadFactory(owner_user=rep)
    client.force_login(rep)

    page = client.get(f"/leads/{lead.public_id}/").content.decode()

    assert "No prediction yet" in page
    assert "Score history" not in page


def test_the_panel_reads_a_lead_in_one_query_and_its_history_in_one_more(
    owner, django_assert_num_queries
):
    from dealflow.automation.models import LeadScore, LeadScoreHistory
    from dealflow.automation.scoring import lead_score_summary

    lead = open_lead(owner, 8)
    model = PredictiveModel.objects.create(
        definition={}, figures={}, trained_at=NOW, is_active=True
    )
    LeadLikelihood.objects.create(
        lead=lead, model=model, likelihood=12, factors={}, computed_at=NOW
    )
    with django_assert_num_queries(1):  # no score, so no history
        unscored = lead_score_summary(lead)
    LeadScore.objects.create(lead=lead, score=3.0, parts=[], computed_at=NOW)
    LeadScoreHistory.objects.create(lead=lead, score=3.0, rating="Cold", computed_at=NOW)

    with django_assert_num_queries(2):
        summary = lead_score_summary(lead)
        trained_at = summary.likelihood.model.trained_at  # read with the lead

    assert (unscored.score, unscored.likelihood.likelihood, unscored.history) == (None, 12, [])
    assert summary.score.score == 3.0
    assert trained_at == NOW
    assert [(row.score, row.rating) for row in summary.history] == [(3.0, "Cold")]


# ---------------------------------------------------------------------------------------
# Refreshed soon after a change: events and fields the model reads


@pytest.fixture
def refreshes(monkeypatch):
    """The one-lead refreshes sent on commit, as (lead id, rescore), instead of run."""
    sent = []
    monkeypatch.setattr(
        refresh_lead_score, "delay", lambda lead_id, rescore: sent.append((lead_id, rescore))
    )
    return sent


def likelihood_of(lead):
    return LeadLikelihood.objects.get(lead=lead)


def test_an_event_refreshes_the_lead_likelihood_after_commit(
    history, owner, django_capture_on_commit_callbacks
):
    predictive_model_train(now=NOW)
    lead = open_lead(owner, 7, lead_source="Purchased List", industry="Retail")
    lead_likelihoods_recompute(lead_ids=[lead.pk])
    before = likelihood_of(lead)

    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            lead_event_record(actor=owner, lead=lead, type="demo_request")

    after = likelihood_of(lead)
    assert after.likelihood > before.likelihood
    assert "3 demo requests" in texts(after.factors["positive"])
    assert "3 demo requests" not in texts(before.factors["positive"])
    # What the nightly run would write, and the rule score came first (the model reads
    # the Rating it sets): three demo requests today are Hot.
    assert LeadScore.objects.get(lead=lead).score == 150.0
    assert Lead.objects.get(pk=lead.pk).rating == "Hot"
    assert lead_likelihoods_recompute(lead_ids=[lead.pk]) == 1
    assert likelihood_of(lead).likelihood == after.likelihood


def test_a_change_of_a_field_the_model_reads_refreshes_the_likelihood(
    history, owner, django_capture_on_commit_callbacks
):
    predictive_model_train(now=NOW)
    lead = open_lead(owner, 8, lead_source="Purchased List", industry="Retail")
    lead_likelihoods_recompute(lead_ids=[lead.pk])
    before = likelihood_of(lead).likelihood

    with django_capture_on_commit_callbacks(execute=True):
        lead_update(actor=owner, lead=lead, data={"industry": "Banking"})

    after = likelihood_of(lead)
    assert after.likelihood > before
    assert "Industry is Banking" in texts(after.factors["positive"])
    # No fit rules: the rule score was not recomputed, only the likelihood.
    assert not LeadScore.objects.filter(lead=lead).exists()


def test_a_new_lead_is_predicted_after_its_create_commits(
    history, owner, django_capture_on_commit_callbacks
):
    predictive_model_train(now=NOW)
    with django_capture_on_commit_callbacks(execute=True):
        lead = lead_create(
            actor=owner,
            data={
                "last_name": "Newcomb",
                "company": "Fresh Leads Ltd",
                "lead_source": "Purchased List",
                "industry": "Banking",
            },
            assign=False,
        )
        assert not LeadLikelihood.objects.filter(lead=lead).exists()  # not before commit

    created = likelihood_of(lead)
    assert 1 <= created.likelihood <= 99
    assert "Industry is Banking" in texts(created.factors["positive"])
    # What the nightly run would write; no fit rules, so no rule score.
    assert lead_likelihoods_recompute(lead_ids=[lead.pk]) == 1
    assert likelihood_of(lead).likelihood == created.likelihood
    assert not LeadScore.objects.filter(lead=lead).exists()


def test_without_a_model_or_fit_rules_a_new_lead_queues_nothing(
    owner, refreshes, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        lead_create(actor=owner, data={"last_name": "Quiet", "company": "Nobody Ltd"}, assign=False)
    assert refreshes == []


def test_only_changes_the_model_or_the_fit_rules_read_are_refreshed(
    history, owner, refreshes, django_capture_on_commit_callbacks
):
    lead = open_lead(owner, 9, industry="Retail")

    with django_capture_on_commit_callbacks(execute=True):
        lead_update(actor=owner, lead=lead, data={"country": "Spain"})  # no model yet
    predictive_model_train(now=NOW)
    with django_capture_on_commit_callbacks(execute=True):
        lead_update(actor=owner, lead=lead, data={"description": "Met at the fair"})
        lead_update(actor=owner, lead=lead, data={"last_name": "Lovelace"})
    assert refreshes == []

    with django_capture_on_commit_callbacks(execute=True):
        lead_update(actor=owner, lead=lead, data={"title": "CEO"})
        lead_update(actor=owner, lead=lead, data={"rating": "Warm"})
    assert refreshes == [(lead.pk, False), (lead.pk, False)]


def test_with_fit_rules_a_change_of_a_field_they_read_rescores_first(
    owner, refreshes, django_capture_on_commit_callbacks
):
    admin = UserFactory(username="admin", role=Role.ADMIN)
    scoring_settings_set(
        actor=admin,
        settings={
            "fit_rules": [
                {"field": "industry", "operator": "equals", "value": "Banking", "points": 30}
            ]
        },
    )
    lead = open_lead(owner, 10, industry="Retail")

    with django_capture_on_commit_callbacks(execute=True):
        lead_update(actor=owner, lead=lead, data={"industry": "Banking"})
        lead_update(actor=owner, lead=lead, data={"country": "Spain"})  # no model: nothing

    assert refreshes == [(lead.pk, True)]
    assert refresh_lead_score(lead.pk) == {"scored": 1, "predicted": 0}  # no model
    assert LeadScore.objects.get(lead=lead).score == 30.0
    assert Lead.objects.get(pk=lead.pk).rating == "Warm"


def test_the_one_lead_task_takes_an_id_and_is_safe_to_retry(history, owner):
    model = predictive_model_train(now=NOW)
    lead = open_lead(owner, 11, lead_source="Web", demos=2)

    first = refresh_lead_score(lead.pk)
    written = likelihood_of(lead)
    again = refresh_lead_score(lead.pk, True)

    assert first == again == {"scored": 1, "predicted": 1}
    assert LeadLikelihood.objects.filter(lead=lead).count() == 1
    assert (likelihood_of(lead).likelihood, likelihood_of(lead).model_id) == (
        written.likelihood,
        model.pk,
    )
    assert refresh_lead_score(lead.pk, False) == {"scored": 0, "predicted": 1}


def test_the_one_lead_task_leaves_closed_and_missing_leads_alone(history, owner):
    predictive_model_train(now=NOW)
    closed = Lead.objects.filter(status__is_closed=True).order_by("pk").first()
    missing = Lead.objects.order_by("-pk").values_list("pk", flat=True)[0] + 1000

    assert refresh_lead_score(closed.pk) == {"scored": 0, "predicted": 0}
    assert refresh_lead_score(missing) == {"scored": 0, "predicted": 0}
    assert not LeadScore.objects.exists()
    assert not LeadLikelihood.objects.exists()


# ---------------------------------------------------------------------------------------
# Settings -> Scoring model

PAGE = "/settings/scoring-model/"


def hand_made_definition(label="Web"):
    """A stored model of three columns: lead source (per standard deviation 2.0, scale
    0.5), demo requests (0.8, scale 0.4) and a phone (-0.3, scale 1.0); slope 0.5."""
    return {
        "columns": [
            {"group": "lead_source", "kind": "value", "value": "web", "label": label},
            {"group": "events.demo_request", "kind": "count", "value": None, "label": "x"},
            {"group": "phone", "kind": "flag", "value": None, "label": "has a phone"},
        ],
        "mean": [0.3, 0.2, 0.5],
        "scale": [0.5, 0.4, 1.0],
        "coefficients": [2.0, 0.8, -0.3],
        "intercept": -1.0,
        "calibration": {"method": "platt", "slope": 0.5, "intercept": 0.1},
    }


def test_the_coefficients_read_in_words_against_a_lead_without_the_feature():
    positive, negative = predictive.model_coefficients(hand_made_definition())

    # 0.5 * 2.0 / 0.5 = 2.0; 0.5 * 0.8 / 0.4 * log(2) = 0.693...; 0.5 * -0.3 / 1.0 = -0.15
    assert [(c.text, c.weight, c.odds) for c in positive] == [
        ("Lead source is Web", 2.0, 7.39),
        ("1 demo request (against none)", 0.69, 2.0),
    ]
    assert [(c.text, c.weight, c.odds) for c in negative] == [("Has a phone number", -0.15, 0.86)]


def test_the_page_before_a_training_says_what_history_is_missing(history, client):
    admin = UserFactory(username="admin", role=Role.ADMIN)
    client.force_login(admin)
    closed = Lead.objects.filter(status__is_closed=True)
    converted = closed.filter(is_converted=True).count()
    closed.exclude(pk__in=closed.order_by("pk").values("pk")[:900]).delete()
    left = closed.filter(is_converted=True).count()

    page = client.get(PAGE).content.decode()

    assert converted > left
    assert "Not trained yet" in page
    assert f"There are <strong>900 closed leads, {left} of them converted</strong>" in page
    assert "at least 1,000 closed leads, 120 of them converted (and 10 not)" in page
    needed = "Still needed: 100 more closed leads"
    if left < 120:
        needed += f" and {120 - left} more converted lead{'s' if 120 - left != 1 else ''}"
    assert needed + ". Until then" in page
    assert 'aria-current="page">Scoring model</a>' in page


def test_the_page_shows_the_trained_model_figures(history, client, freeze_clock):
    freeze_clock(NOW)
    model = predictive_model_train(now=NOW)
    manager = UserFactory(username="manager", role=Role.MANAGER)
    client.force_login(manager)

    response = client.get(PAGE)
    page = response.content.decode()

    assert response.status_code == 200
    rows = model.figures["rows"]
    assert '<time datetime="2026-11-30T12:00:00+00:00">30 Nov 2026, 12:00</time>' in page
    assert (
        f"{rows['leads']:,} closed leads, {rows['converted']:,} of them converted: "
        f"{rows['training']:,} to fit the model, {rows['calibration']:,} to calibrate it, "
        f"{rows['held_out']:,} held out to measure it."
    ) in page
    assert f"<strong>{model.figures['auc']:.3f}</strong> (" in page
    for row in model.figures["calibration"]:
        assert (
            f'<tr><td>{row["decile"]}</td><td class="text-end">{row["leads"]}</td>'
            f'<td class="text-end">{row["predicted"]:.1f}%</td>'
            f'<td class="text-end">{row["observed"]:.1f}%</td></tr>'
        ) in page
    positive, negative = predictive.model_coefficients(model.definition)
    texts_shown = [coefficient.text for coefficient in positive]
    assert {"Lead source is Web", "Industry is Banking"} <= set(texts_shown)
    assert f'<tr><td>{positive[0].text}</td><td class="text-end text-success">+' in page
    assert len(negative) == predictive.COEFFICIENTS_SHOWN
    # A manager's Settings is this page: no sub-navigation to the admins' pages.
    assert (
        '<a class="nav-link active" href="/settings/scoring-model/" aria-current="page">'
        "Settings</a>"
    ) in page
    assert 'href="/settings/users/"' not in page
    assert 'href="/settings/"' not in page


def test_the_page_escapes_the_model_labels_and_is_refused_to_a_rep(client):
    PredictiveModel.objects.create(
        definition=hand_made_definition(XSS),
        figures={
            "auc": 0.75,
            "calibration": [{"decile": 1, "leads": 3, "predicted": 10.0, "observed": 0.0}],
            "rows": {
                "leads": 15,
                "converted": 5,
                "training": 9,
                "calibration": 3,
                "held_out": 3,
                "held_out_converted": 1,
            },
        },
        trained_at=NOW,
        is_active=True,
    )
    admin = UserFactory(username="admin", role=Role.ADMIN)
    rep = UserFactory(username="rep")
    client.force_login(admin)
    page = client.get(PAGE).content.decode()
    client.force_login(rep)
    refused = client.get(PAGE)

    assert XSS not in page
    assert "Lead source is &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<strong>0.750</strong> (fair)" in page
    assert 'href="/settings/users/"' in page  # an admin sees every settings page
    assert refused.status_code == 403
    assert "0.750" not in refused.content.decode()
