"""`dealflow worker`: run a Celery worker for dealflow's background jobs (needs a broker)."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

NO_BROKER = (
    "no broker is configured (REDIS_URL and CELERY_BROKER_URL are empty): "
    "jobs run in-process; set REDIS_URL to run a worker"
)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
POOLS = ("prefork", "threads", "solo")
DEFAULT_QUEUE = "celery"  # Celery's task_default_queue, which every dealflow task goes to
DEFAULT_HOSTNAME = "dealflow@%h"  # %h: this machine's name (Celery expands it)


def require_broker() -> None:
    """CommandError (exit 1) when jobs run in-process: there is nothing to consume."""
    if not settings.CELERY_BROKER_URL:
        raise CommandError(NO_BROKER)


def add_log_level_argument(parser) -> None:
    parser.add_argument(
        "--loglevel",
        type=str.upper,
        choices=LOG_LEVELS,
        default="INFO",
        help="what the log shows, one of %(choices)s (default: %(default)s)",
    )


class Command(BaseCommand):
    help = (
        "Run a Celery worker that performs dealflow's background jobs (assignment, scoring, "
        "notifications) from the broker in REDIS_URL or CELERY_BROKER_URL. Run as many as "
        "the load needs, on any machine that reaches the database and the broker; stop one "
        "with SIGTERM (it finishes its current jobs). `--ping` asks the running workers to "
        "answer instead."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--concurrency",
            type=int,
            default=os.cpu_count() or 1,
            help="jobs run at the same time, in as many child processes or threads "
            "(default: %(default)s, this machine's processors)",
        )
        add_log_level_argument(parser)
        parser.add_argument(
            "--queues",
            default=DEFAULT_QUEUE,
            help="comma-separated queues to consume (default: %(default)s, where every "
            "dealflow job goes)",
        )
        parser.add_argument(
            "--pool",
            choices=POOLS,
            default="prefork",
            help="how jobs run side by side: child processes, threads, or one at a time in "
            "this process (default: %(default)s)",
        )
        parser.add_argument(
            "--hostname",
            default=DEFAULT_HOSTNAME,
            help="the worker's name in logs and in --ping's answers; %%h is this machine's "
            "name (default: %(default)s)",
        )
        parser.add_argument(
            "--ping",
            action="store_true",
            help="instead of working, ask the running workers to answer within --timeout "
            "seconds, list them, and exit 1 when none answers (default: run a worker)",
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=5.0,
            help="with --ping: seconds to wait for answers (default: %(default)s)",
        )

    def handle(self, *args, **options):
        require_broker()
        from dealflow.celery import app

        if options["ping"]:
            self._ping(app, options["timeout"])
            return
        if options["concurrency"] < 1:
            raise CommandError("--concurrency: expected 1 or more")
        app.worker_main(
            [
                "worker",
                f"--loglevel={options['loglevel']}",
                f"--concurrency={options['concurrency']}",
                f"--queues={options['queues']}",
                f"--pool={options['pool']}",
                f"--hostname={options['hostname']}",
            ]
        )

    def _ping(self, app, timeout: float) -> None:
        answers = app.control.ping(timeout=timeout) or []
        if not answers:
            raise CommandError(f"no worker answered within {timeout:g} s")
        for answer in answers:
            for name, reply in answer.items():
                self.stdout.write(f"{name}: {reply.get('ok', reply)}")
