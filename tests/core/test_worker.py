"""A real `dealflow worker` process against Redis assigns and scores a lead created
through the API, on SQLite and on PostgreSQL.

The test process plays the web process with a broker: its API request only queues the
jobs (DEALFLOW_ASSIGNMENT=worker, Celery not eager). The jobs wait in Redis until the
worker starts; the worker shares the test's database (PostgreSQL: the live test
database; SQLite: a file copy of it, since pytest's SQLite test database lives in this
process's memory) and its log names each job it performed.

Redis: DEALFLOW_TEST_REDIS_URL (default redis://127.0.0.1:6379/15, a database of its own
that the test empties); `.ci/run` starts Redis when it is down. Without Redis the test
fails: it never skips.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.db import connection, connections

from dealflow.automation.models import AssignmentDecision, LeadScore
from dealflow.automation.scoring import scoring_settings_set
from dealflow.automation.services import assignment_rules_set
from dealflow.celery import app
from dealflow.leads.models import Lead
from dealflow.people.models import Role
from tests.api.conftest import ApiClient
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

REDIS_URL = os.environ.get("DEALFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
QUEUE = "celery"  # the default queue, a Redis list of that name
WAIT_SECONDS = 60  # for the worker to start and finish; it usually takes a few seconds


@pytest.fixture
def broker():
    """The test's Redis database, emptied before and after."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.fail(
            f"Redis does not answer at {REDIS_URL} ({error}): start it (`.ci/run` does) "
            "or point DEALFLOW_TEST_REDIS_URL at one"
        )
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def shared_database_url(tmp_path):
    """A DATABASE_URL with which another process sees what this test writes."""
    if connection.vendor == "postgresql":
        yield _postgres_url(connection.settings_dict)
        return
    # SQLite: copy the migrated in-memory test database to a file and use the file for
    # the rest of the test (the in-memory one is left as it was and comes back after).
    path = tmp_path / "shared.sqlite3"
    with connection.cursor() as cursor:
        cursor.execute("VACUUM INTO %s", [str(path)])
    in_memory = connections["default"]
    on_file = in_memory.__class__({**in_memory.settings_dict, "NAME": str(path)}, "default")
    connections["default"] = on_file
    try:
        yield f"sqlite:///{path}"
    finally:
        on_file.close()
        connections["default"] = in_memory


def _postgres_url(database: dict) -> str:
    user = quote(database["USER"] or "", safe="")
    password = f":{quote(database['PASSWORD'], safe='')}" if database["PASSWORD"] else ""
    host = database["HOST"] or "127.0.0.1"
    port = f":{database['PORT']}" if database["PORT"] else ""
    return f"postgres://{user}{password}@{host}{port}/{quote(database['NAME'], safe='')}"


@contextmanager
def web_process_with_a_broker(settings):
    """This process as a web process with REDIS_URL set: jobs go to Redis, not in-process."""
    settings.DEALFLOW_ASSIGNMENT = "worker"  # the default with a broker
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}
    forget_publishing_connections()
    app.conf.update(broker_url=REDIS_URL, task_always_eager=False)
    try:
        yield
    finally:
        app.conf.update(saved)
        forget_publishing_connections()


def forget_publishing_connections():
    """Celery keeps the pool of connections it publishes with once made (an eager job
    of an earlier test makes one, to the empty broker); the next send opens a new one."""
    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def running_worker(database_url, var_dir: Path, hostname: str):
    """`dealflow worker` in a subprocess, stopped (SIGTERM, then SIGKILL) on the way out."""
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "DEALFLOW_VAR_DIR": str(var_dir),
    }
    environment.pop("CELERY_BROKER_URL", None)
    log_path = var_dir / "worker.log"
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            [
                *(sys.executable, "-m", "dealflow.cli", "worker"),
                *("--pool", "solo", "--concurrency", "1", "--hostname", hostname),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
        )
        try:
            yield worker, log_path
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


def wait_until(check, worker: subprocess.Popen, log_path: Path):
    """Poll `check` until it holds; fail with the worker's log if it stopped or took too long."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if check():
            return
        if worker.poll() is not None:
            pytest.fail(
                f"the worker stopped (exit {worker.returncode}); its log:\n{log_path.read_text()}"
            )
        time.sleep(0.25)
    pytest.fail(f"the worker did not finish in {WAIT_SECONDS} s; its log:\n{log_path.read_text()}")


def test_a_worker_assigns_and_scores_a_lead_created_through_the_api(
    broker, shared_database_url, settings, tmp_path
):
    admin = UserFactory(username="admin", role=Role.ADMIN)
    creator = UserFactory(username="creator")
    ada, grace = UserFactory(username="ada"), UserFactory(username="grace")
    assignment_rules_set(
        actor=admin,
        rules={
            "default_owner_id": None,
            "entries": [
                {
                    "criteria": [{"field": "lead_source", "operator": "equals", "value": "Web"}],
                    "match": "all",
                    "assign_to": {
                        "kind": "round_robin",
                        "user_ids": [ada.public_id, grace.public_id],
                        "capacity": None,
                    },
                }
            ],
        },
    )
    scoring_settings_set(
        actor=admin,
        settings={
            "fit_rules": [
                {"field": "industry", "operator": "equals", "value": "Banking", "points": 30}
            ]
        },
    )
    api = ApiClient(creator)
    body = {
        "last_name": "Lovelace",
        "company": "Analytical Engines",
        "industry": "Banking",
        "lead_source": "Web",
    }

    with web_process_with_a_broker(settings):
        response = api.post("/leads", body)

    # Answered at once: owned by the acting user (no default owner) until the rules run.
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["owner_id"] == creator.public_id
    lead = Lead.objects.get(last_name="Lovelace")
    assert not AssignmentDecision.objects.filter(lead=lead).exists()
    assert not LeadScore.objects.filter(lead=lead).exists()
    assert broker.llen(QUEUE) == 2  # assign_leads and refresh_lead_score, waiting

    hostname = f"test-{uuid.uuid4().hex[:8]}@%h"
    with running_worker(shared_database_url, tmp_path, hostname) as (worker, log_path):
        wait_until(
            lambda: (
                AssignmentDecision.objects.filter(lead=lead).exists()
                and LeadScore.objects.filter(lead=lead).exists()
            ),
            worker,
            log_path,
        )

    lead.refresh_from_db()
    assert lead.owner_user_id == ada.pk  # the first of the round
    decision = AssignmentDecision.objects.get(lead=lead)
    assert decision.owner_user_id == ada.pk
    assert decision.actor_id is None  # the system
    assert decision.reason.startswith("entry 1 matched (lead_source equals 'Web'): ")
    assert decision.reason.endswith("round-robin: user 1 of 2 in its pool")
    score = LeadScore.objects.get(lead=lead)
    assert (score.score, score.parts) == (30.0, [{"rule": "Industry is Banking", "points": 30.0}])
    assert lead.rating == "Warm"  # 30: at or above 25, below 60
    assigned = ApiClient(admin).get(f"/leads/{created['id']}/assignment").json()
    assert assigned["assignment"]["owner_id"] == ada.public_id
    assert assigned["assignment"]["entry"] == 1
    assert broker.llen(QUEUE) == 0
    log = log_path.read_text()
    worker_name = hostname.replace("%h", "")
    assert f"{worker_name}" in log and " ready." in log
    assert "Task dealflow.automation.tasks.assign_leads[" in log
    assert "Task dealflow.automation.tasks.refresh_lead_score[" in log
    assert log.count(" succeeded in ") == 2
