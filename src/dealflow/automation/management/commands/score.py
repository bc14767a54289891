"""`dealflow score`: recompute the rule scores and Ratings of every open lead."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from dealflow.automation.tasks import score_leads


class Command(BaseCommand):
    help = (
        "Recompute the rule scores and Ratings of every open lead, set-based, in batches "
        "of 5,000 leads (docs/scoring.md)."
    )

    def handle(self, *args, **options):
        started = time.monotonic()
        scored = score_leads(None)
        elapsed = time.monotonic() - started
        self.stdout.write(f"scored {scored} leads in {elapsed:.1f} s")
