"""The beat schedule names registered tasks; `dealflow worker` and `dealflow beat` need a
broker (a real worker runs in tests/core/test_worker.py)."""

from __future__ import annotations

import pytest
from celery.schedules import crontab
from django.core.management import call_command
from django.core.management.base import CommandError

from dealflow.celery import app
from tests.core.test_cli import run_cli


def registered_tasks() -> set[str]:
    app.loader.import_default_modules()  # what a worker imports: every app's tasks module
    return set(app.tasks)


def test_every_scheduled_task_is_registered():
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}

    missing = scheduled - registered_tasks()

    assert missing == set()
    assert len(scheduled) == 8


def test_the_schedule():
    schedules = {entry["task"]: entry["schedule"] for entry in app.conf.beat_schedule.values()}

    assert schedules == {
        "dealflow.core.tasks.purge_idempotency_records": crontab(minute=0),
        "dealflow.automation.tasks.score_leads": crontab(hour=1, minute=30),
        "dealflow.automation.tasks.predict_leads": crontab(hour=2, minute=30),
        "dealflow.automation.tasks.train_predictive_model": crontab(
            hour=3, minute=30, day_of_week="sun"
        ),
        "dealflow.leads.tasks.check_service_levels": crontab(minute=0),
        "dealflow.sales.tasks.email_stalled_digests": crontab(
            hour=7, minute=0, day_of_week="mon-fri"
        ),
        "dealflow.reports.tasks.take_pipeline_snapshot": crontab(hour=23, minute=45),
        "dealflow.duplicates.tasks.scan_duplicates": crontab(hour=4, minute=30),
    }


def test_the_schedule_is_in_the_organisations_time_zone(settings):
    assert app.conf.timezone == settings.TIME_ZONE


@pytest.mark.parametrize("command", ["worker", "beat"])
def test_without_a_broker_worker_and_beat_refuse(command, settings, monkeypatch, capsys):
    settings.CELERY_BROKER_URL = ""
    monkeypatch.setattr(app, "worker_main", lambda *args: pytest.fail("a worker started"))
    monkeypatch.setattr(app, "Beat", lambda *args, **options: pytest.fail("beat started"))

    with pytest.raises(CommandError) as refused:
        call_command(command)
    code, output, errors = run_cli(capsys, command)

    assert str(refused.value) == (
        "no broker is configured (REDIS_URL and CELERY_BROKER_URL are empty): jobs run "
        "in-process; set REDIS_URL to run a worker"
    )
    assert (code, output) == (1, "")
    assert errors == f"CommandError: {refused.value}\n"


def test_worker_passes_its_options_to_celery(settings, monkeypatch):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/15"
    started = []
    monkeypatch.setattr(app, "worker_main", started.append)

    call_command(
        "worker",
        "--concurrency",
        "3",
        "--loglevel",
        "warning",
        "--queues",
        "celery,imports",
        "--pool",
        "threads",
    )

    assert started == [
        [
            "worker",
            "--loglevel=WARNING",
            "--concurrency=3",
            "--queues=celery,imports",
            "--pool=threads",
            "--hostname=dealflow@%h",
        ]
    ]


def test_beat_keeps_its_schedule_file_under_the_var_directory(settings, monkeypatch):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/15"
    started = []

    class Beat:
        def __init__(self, **options):
            started.append(options)

        def run(self):
            started.append("run")

    monkeypatch.setattr(app, "Beat", Beat)

    call_command("beat")

    assert started == [
        {"loglevel": "INFO", "schedule": str(settings.VAR_DIR / "beat-schedule")},
        "run",
    ]


def test_ping_without_an_answer_fails(settings, monkeypatch):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/15"
    monkeypatch.setattr(app.control, "ping", lambda timeout: [])

    with pytest.raises(CommandError) as refused:
        call_command("worker", "--ping", "--timeout", "0.5")

    assert str(refused.value) == "no worker answered within 0.5 s"
