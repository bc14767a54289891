"""`dealflow service-levels`: list the overdue leads; --notify emails their owners (with a
copy to the team's managers), --reroute runs the assignment rules on each."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from dealflow.leads.service_levels import overdue_leads, overdue_reroute, service_levels
from dealflow.leads.tasks import email_overdue_leads


class Command(BaseCommand):
    help = (
        "List the open leads untouched (no status or owner change, no task created or "
        "completed) for more working hours than the service-level limit. With --notify, "
        "email each owner theirs, copying their team's managers; with --reroute (or the "
        "setting re-route when breached), run the assignment rules on each. Run it hourly "
        "in working hours, from cron."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--notify",
            action="store_true",
            help="email each owner one message about their overdue leads, managers copied "
            "(default: only list them)",
        )
        parser.add_argument(
            "--reroute",
            action="store_true",
            help="run the assignment rules on each overdue lead and record why "
            "(default: as the service-level setting says)",
        )

    def handle(self, *args, **options):
        levels = service_levels.get()
        if levels.response_hours is None:
            self.stdout.write("No response-time limit is set: no lead is overdue.")
            return
        leads = overdue_leads(actor=None)
        count = len(leads)
        self.stdout.write(
            f"{count} overdue lead{'' if count == 1 else 's'} "
            f"(limit {levels.response_hours} working hours)."
        )
        for lead in leads:
            self.stdout.write(f"{lead.public_id}  {lead.name}  {lead.company}")
            self.stdout.write(f"    {lead.reason}")
        if options["notify"] and leads:
            self._notify([lead.id for lead in leads])
        if (options["reroute"] or levels.reroute_when_breached) and leads:
            for result in overdue_reroute(leads=leads):
                self.stdout.write(f"Re-routed {result.lead_public_id}: {result.reason}")

    def _notify(self, lead_ids: list[int]) -> None:
        result = email_overdue_leads.delay(lead_ids)
        if not settings.CELERY_TASK_ALWAYS_EAGER:
            self.stdout.write(f"Queued the emails about {len(lead_ids)} leads.")
            return
        counts = result.get()
        self.stdout.write(
            f"Emailed {counts['sent']} owners; {counts['already_sent']} already emailed "
            f"today about the same leads; {counts['no_address']} without an email address; "
            f"{counts['queue_owned']} leads owned by a queue."
        )
