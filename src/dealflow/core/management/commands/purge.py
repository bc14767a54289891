"""`dealflow purge`: delete expired idempotency records, for an install without a Celery worker."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dealflow.core.idempotency import idempotency_purge


class Command(BaseCommand):
    help = (
        "Delete expired idempotency records. A Celery beat does this every hour; without "
        "workers, run it from cron."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than-hours",
            type=int,
            default=settings.DEALFLOW_IDEMPOTENCY_HOURS,
            metavar="HOURS",
            help="delete the records older than this "
            "(default: DEALFLOW_IDEMPOTENCY_HOURS, now %(default)s)",
        )

    def handle(self, *args, **options):
        hours = options["older_than_hours"]
        if hours < 0:
            raise CommandError("--older-than-hours: 0 or more")
        deleted = idempotency_purge(older_than=datetime.timedelta(hours=hours))
        self.stdout.write(f"Deleted {deleted} idempotency records older than {hours} hours.")
