"""`dealflow assign`: run the assignment rules on queue-owned leads they never decided."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from dealflow.automation.selectors import active_rule_set, undecided_queue_leads
from dealflow.automation.services import BULK_BATCH_SIZE, leads_assign_bulk
from dealflow.people.models import Queue


class Command(BaseCommand):
    help = (
        "Run the assignment rules on queue-owned leads they have not decided yet. These are "
        "open, unconverted leads owned by a queue (created with assign=false, or before the "
        f"rules), oldest first, dealt set-based in transactions of {BULK_BATCH_SIZE:,} leads; "
        "each decision is recorded."
    )

    def add_arguments(self, parser):
        parser.add_argument("--queue", help="only leads of the queue with this name")
        parser.add_argument("--limit", type=int, help="at most this many leads")

    def handle(self, *args, **options):
        if active_rule_set() is None:
            raise CommandError("no assignment rules are active (PUT /api/v1/assignment-rules)")
        queue = None
        if options["queue"]:
            queue = Queue.objects.filter(name=options["queue"]).first()
            if queue is None:
                raise CommandError(f"no queue {options['queue']!r}")
        lead_ids = undecided_queue_leads(queue=queue, limit=options["limit"])
        owners = leads_assign_bulk(actor=None, lead_ids=lead_ids) if lead_ids else {}
        self.stdout.write(f"assigned {len(lead_ids)} leads")
        for owner, count in sorted(owners.items()):
            self.stdout.write(f"  {owner}: {count}")
