"""`dealflow demo`: fill an empty database with a demo sales organisation."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from dealflow.demo.data import DemoDataExists, load_demo_data


class Command(BaseCommand):
    help = (
        "Load demo data into an empty database: users, leads, accounts, contacts, "
        "opportunities with nine months of stage history, tasks. `dealflow bootstrap` "
        "then gives the demo's users their passwords and prints one login per role."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--seed",
            type=int,
            default=7,
            help="random seed; the same seed on the same day gives the same data "
            "(default: %(default)s)",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing (and succeed) when the database already has leads or accounts "
            "(default: fail then)",
        )

    def handle(self, *args, **options):
        try:
            counts = load_demo_data(seed=options["seed"], stdout=self.stdout)
        except DemoDataExists as error:
            if options["if_empty"]:
                return
            raise CommandError(str(error)) from None
        width = max(len(name) for name in counts)
        self.stdout.write("demo data loaded:")
        for name, count in counts.items():
            self.stdout.write(f"  {name.replace('_', ' '):<{width}}  {count:>5}")
