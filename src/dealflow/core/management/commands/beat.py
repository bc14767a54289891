"""`dealflow beat`: run Celery beat, which sends dealflow's scheduled jobs to the workers."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from dealflow.core.management.commands.worker import add_log_level_argument, require_broker


class Command(BaseCommand):
    help = (
        "Run Celery beat: it sends dealflow's scheduled jobs (nightly scores, hourly "
        "service-level checks, daily stalled-deal digests, ...; docs/operations.md lists "
        "them) to the broker for `dealflow worker` to perform. Run exactly one, whatever "
        "the number of web processes and workers: two would send every job twice."
    )

    def add_arguments(self, parser):
        add_log_level_argument(parser)
        parser.add_argument(
            "--schedule",
            default=str(settings.CELERY_BEAT_SCHEDULE_FILENAME),
            help="the file where beat remembers when each job last ran "
            "(default: %(default)s, under DEALFLOW_VAR_DIR)",
        )

    def handle(self, *args, **options):
        require_broker()
        from dealflow.celery import app

        app.Beat(loglevel=options["loglevel"], schedule=options["schedule"]).run()
