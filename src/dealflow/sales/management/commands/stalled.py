"""`dealflow stalled`: list the stalled deals, and with --notify email each owner theirs."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dealflow.people.models import User
from dealflow.sales.selectors import IDLE_DAYS, stalled_deals
from dealflow.sales.tasks import email_stalled_deals


class Command(BaseCommand):
    help = (
        "List the stalled deals: open deals longer in their stage than its stall days, "
        f"past their close date, or without activity for {IDLE_DAYS} days. With --notify, "
        "email each owner their stalled deals (run it daily, from cron)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--owner",
            action="append",
            metavar="USERNAME",
            help="only this owner's deals (repeat for several)",
        )
        parser.add_argument(
            "--notify",
            action="store_true",
            help="email each owner one message about their stalled deals (default: only list them)",
        )

    def handle(self, *args, **options):
        owner_ids = self._owner_ids(options["owner"])
        deals = stalled_deals(owner_ids=owner_ids)
        count = len(deals)
        self.stdout.write(f"{count} stalled deal{'' if count == 1 else 's'}.")
        for deal in deals:
            self.stdout.write(
                f"{deal.public_id}  {deal.name}  {deal.stage_name}  "
                f"Close Date {deal.close_date.isoformat()}  Owner {deal.owner_name}"
            )
            for reason in deal.reasons:
                self.stdout.write(f"    {reason}")
        if options["notify"]:
            self._notify(sorted({deal.owner_id for deal in deals}))

    def _owner_ids(self, usernames: list[str] | None) -> list[int] | None:
        if not usernames:
            return None
        found = dict(User.objects.filter(username__in=usernames).values_list("username", "pk"))
        unknown = [name for name in usernames if name not in found]
        if unknown:
            raise CommandError(f"--owner: no user {', '.join(map(repr, unknown))}")
        return list(found.values())

    def _notify(self, owner_ids: list[int]) -> None:
        if not owner_ids:
            self.stdout.write("No owner to email.")
            return
        result = email_stalled_deals.delay(owner_ids)
        if not settings.CELERY_TASK_ALWAYS_EAGER:
            self.stdout.write(f"Queued the emails to {len(owner_ids)} owners.")
            return
        counts = result.get()
        self.stdout.write(
            f"Emailed {counts['sent']} owners; {counts['already_sent']} already emailed "
            f"today about the same deals; {counts['no_address']} without an email address."
        )
