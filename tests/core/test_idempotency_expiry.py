"""Idempotency keys expire: an expired key is unused again, and a job purges expired rows."""

import datetime

import pytest
from celery.schedules import crontab
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dealflow.celery import app
from dealflow.core import idempotency
from dealflow.core.idempotency import idempotency_purge, once
from dealflow.core.models import IdempotencyRecord
from dealflow.core.tasks import purge_idempotency_records
from dealflow.leads.models import Lead
from tests.api.conftest import ApiClient

pytestmark = pytest.mark.django_db

NEW_LEAD = {"last_name": "Hopper", "company": "Navy Labs"}
HOUR = datetime.timedelta(hours=1)


def age(key: str, by: datetime.timedelta) -> None:
    """Make a stored key look as if it had been written `by` ago."""
    IdempotencyRecord.objects.filter(key=key).update(created_at=timezone.now() - by)


def stored_keys() -> list[str]:
    return sorted(IdempotencyRecord.objects.values_list("key", flat=True))


def test_the_expiry_is_24_hours_by_default(settings):
    assert settings.DEALFLOW_IDEMPOTENCY_HOURS == 24
    assert idempotency.expiry() == datetime.timedelta(hours=24)


def test_a_key_older_than_the_expiry_is_performed_again(actor):
    api = ApiClient(actor)
    first = api.post("/leads", NEW_LEAD, headers={"Idempotency-Key": "k"})
    age("k", 24 * HOUR + datetime.timedelta(seconds=1))

    again = api.post("/leads", NEW_LEAD, headers={"Idempotency-Key": "k"})
    replayed = api.post("/leads", NEW_LEAD, headers={"Idempotency-Key": "k"})

    assert (first.status_code, again.status_code, replayed.status_code) == (201, 201, 201)
    assert again.json()["id"] != first.json()["id"]
    assert "Idempotent-Replayed" not in again
    assert (replayed.json(), replayed["Idempotent-Replayed"]) == (again.json(), "true")
    assert Lead.objects.count() == 2
    assert IdempotencyRecord.objects.get().result["body"]["id"] == again.json()["id"]


def test_a_key_within_the_expiry_is_replayed(actor):
    api = ApiClient(actor)
    first = api.post("/leads", NEW_LEAD, headers={"Idempotency-Key": "k"})
    age("k", 24 * HOUR - datetime.timedelta(minutes=1))

    again = api.post("/leads", NEW_LEAD, headers={"Idempotency-Key": "k"})

    assert (again.json(), again["Idempotent-Replayed"]) == (first.json(), "true")
    assert Lead.objects.count() == 1


def test_an_expired_key_may_be_used_for_another_request(actor):
    api = ApiClient(actor)
    api.post("/leads", NEW_LEAD, headers={"Idempotency-Key": "k"})
    age("k", 25 * HOUR)

    other = api.post(
        "/leads", {**NEW_LEAD, "last_name": "Lovelace"}, headers={"Idempotency-Key": "k"}
    )

    assert other.status_code == 201, other.content
    assert other.json()["last_name"] == "Lovelace"
    assert Lead.objects.count() == 2


def test_the_expiry_is_a_setting(actor, settings):
    settings.DEALFLOW_IDEMPOTENCY_HOURS = 1
    results = []

    def perform():
        results.append(len(results) + 1)
        return {"run": len(results)}

    def call():
        return once(scope="test", key="k", request_fingerprint="f", actor=actor, perform=perform)

    assert call() == ({"run": 1}, False)
    age("k", HOUR - datetime.timedelta(seconds=5))
    assert call() == ({"run": 1}, True)
    age("k", HOUR + datetime.timedelta(seconds=5))
    assert call() == ({"run": 2}, False)
    assert call() == ({"run": 2}, True)
    assert results == [1, 2]


def test_a_replay_adds_no_query_for_the_expiry(actor):
    api = ApiClient(actor)
    api.post("/leads", NEW_LEAD, headers={"Idempotency-Key": "k"})

    with CaptureQueriesContext(connection) as queries:
        replayed = api.post("/leads", NEW_LEAD, headers={"Idempotency-Key": "k"})

    statements = [query["sql"].split()[0].upper() for query in queries.captured_queries]
    assert replayed["Idempotent-Replayed"] == "true"
    assert statements.count("DELETE") == 0
    assert [sql for sql in statements if sql in ("SELECT", "INSERT", "UPDATE")] == [
        "SELECT",  # the token's user
        "INSERT",  # the key, refused: it is taken
        "SELECT",  # the stored result, with its age
    ]


def make_records(ages: dict[str, datetime.timedelta]) -> None:
    for key in ages:
        IdempotencyRecord.objects.create(
            operation="test", key=key, request_fingerprint="f", result={"key": key}
        )
        age(key, ages[key])


AGES = {
    "new": datetime.timedelta(0),
    "23h59m": 24 * HOUR - datetime.timedelta(minutes=1),
    "24h1m": 24 * HOUR + datetime.timedelta(minutes=1),
    "2 days": 48 * HOUR,
    "1 year": 365 * 24 * HOUR,
}


def test_the_purge_deletes_exactly_the_expired_rows_and_counts_them():
    make_records(AGES)

    assert idempotency_purge() == 3
    assert stored_keys() == ["23h59m", "new"]
    assert idempotency_purge() == 0


def test_the_purge_deletes_in_batches(monkeypatch):
    monkeypatch.setattr(idempotency, "PURGE_BATCH_SIZE", 2)
    make_records({f"old {number}": 25 * HOUR for number in range(5)} | {"new": HOUR})

    with CaptureQueriesContext(connection) as queries:
        deleted = idempotency_purge()

    deletes = [query for query in queries.captured_queries if query["sql"].startswith("DELETE")]
    assert deleted == 5
    assert len(deletes) == 3
    assert stored_keys() == ["new"]


def test_the_purge_takes_another_age_and_the_setting(settings):
    make_records(AGES)

    assert idempotency_purge(older_than=47 * HOUR) == 2
    assert stored_keys() == ["23h59m", "24h1m", "new"]
    settings.DEALFLOW_IDEMPOTENCY_HOURS = 1
    assert idempotency_purge() == 2
    assert stored_keys() == ["new"]


def test_the_command_purges_and_prints_the_count(capsys):
    make_records(AGES)

    call_command("purge")
    default = capsys.readouterr().out
    call_command("purge", "--older-than-hours", "0")
    everything = capsys.readouterr().out

    assert default == "Deleted 3 idempotency records older than 24 hours.\n"
    assert everything == "Deleted 2 idempotency records older than 0 hours.\n"
    assert stored_keys() == []


def test_the_command_default_is_the_setting(settings, capsys):
    settings.DEALFLOW_IDEMPOTENCY_HOURS = 47
    make_records(AGES)

    call_command("purge")

    assert capsys.readouterr().out == "Deleted 2 idempotency records older than 47 hours.\n"
    assert stored_keys() == ["23h59m", "24h1m", "new"]


def test_the_celery_task_runs_the_purge(settings):
    assert settings.CELERY_TASK_ALWAYS_EAGER is True
    make_records(AGES)

    result = purge_idempotency_records.delay()

    assert result.get() == 3
    assert stored_keys() == ["23h59m", "new"]


def test_beat_runs_the_purge_every_hour():
    entry = app.conf.beat_schedule["purge-idempotency-records"]

    assert entry["task"] == purge_idempotency_records.name
    assert app.tasks[entry["task"]].name == purge_idempotency_records.name
    assert entry["schedule"] == crontab(minute=0)
