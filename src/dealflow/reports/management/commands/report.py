"""`dealflow report [NAME]`: run a report as a user and print it (a table, CSV or JSON)."""

from __future__ import annotations

import csv
import datetime
import json
from decimal import Decimal
from typing import IO, Any, cast

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.table import Table

from dealflow.core.errors import DomainError
from dealflow.people.models import Role, User
from dealflow.reports.definitions import (
    FILTER_NAMES,
    ReportResult,
    report_filters_parse,
    report_list,
    report_run,
)

RIGHT_ALIGNED = frozenset({"integer", "money", "fraction", "days"})


def readable(value: Any, kind: str) -> str:
    """A value for people: money with thousands separators, fractions as percentages."""
    if value is None:
        return ""
    if kind == "money" and isinstance(value, Decimal):
        return f"{value:,.2f}"
    if kind == "fraction" and isinstance(value, Decimal | float):
        return f"{Decimal(str(value)) * 100:.2f}%"
    if kind == "integer" and isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


class Command(BaseCommand):
    help = (
        "Run a report over the records a user may see and print it: a table, CSV or JSON. "
        "Without a name, list the reports with the filters each takes."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "name",
            nargs="?",
            help="the report: lead_conversion, pipeline_by_stage, forecast, ... "
            "(default: list the reports)",
        )
        parser.add_argument(
            "--format",
            choices=("table", "csv", "json"),
            default="table",
            help="table (for people), csv or json (as the API answers) (default: table)",
        )
        parser.add_argument(
            "--user",
            metavar="USERNAME",
            help="count only what this user may see (default: the first active admin)",
        )
        dates = "YYYY-MM-DD, inclusive"
        for option, text in (
            ("--period-start", f"first day of the period, {dates} (default: no limit)"),
            ("--period-end", f"last day of the period, {dates} (default: no limit)"),
            ("--owner", "only this owner's records: a username or user id (default: every owner)"),
            (
                "--team",
                "only records owned by this team's members: its name or id (default: every team)",
            ),
            ("--lead-source", "only this Lead Source (default: every source)"),
            (
                "--group-by",
                "source, owner or month, as the report offers (default: the report's first)",
            ),
            (
                "--as-of",
                "pipeline_by_stage and forecast: the pipeline as it was on this day, "
                "YYYY-MM-DD (default: now)",
            ),
        ):
            parser.add_argument(option, help=text)

    def handle(self, *args, **options):
        if not options["name"]:
            self._list()
            return
        user = self._user(options["user"])
        values = {
            "period_start": options["period_start"],
            "period_end": options["period_end"],
            "owner_id": self._owner(options["owner"]),
            "team_id": options["team"],
            "lead_source": options["lead_source"],
            "group_by": options["group_by"],
            "as_of": options["as_of"],
        }
        try:
            filters = report_filters_parse({k: v for k, v in values.items() if v})
            result = report_run(options["name"], user=user, filters=filters)
        except DomainError as error:
            raise CommandError(self._option_message(error)) from None
        {"table": self._table, "csv": self._csv, "json": self._json}[options["format"]](result)

    @staticmethod
    def _option_message(error: DomainError) -> str:
        """The error with the filter named as the option that sets it (owner_id: --owner)."""
        message = error.message
        for field in error.fields:
            if field in FILTER_NAMES:
                option = "--" + field.removesuffix("_id").replace("_", "-")
                message = message.replace(f"{field}:", f"{option}:", 1)
        return message

    def _user(self, username: str | None) -> User:
        if username:
            user = User.objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"--user: no user {username!r}")
            return user
        admin = User.objects.filter(role=Role.ADMIN, is_active=True).order_by("pk").first()
        if admin is None:
            raise CommandError("--user: no active admin; name a user with --user USERNAME")
        return admin

    @staticmethod
    def _owner(text: str | None) -> str | None:
        """A username as the owner's primary key; ids pass through to the parser."""
        if not text:
            return None
        owner_id = User.objects.filter(username=text).values_list("pk", flat=True).first()
        return str(owner_id) if owner_id is not None else text

    def _list(self) -> None:
        table = Table(title="Reports (`dealflow report NAME --help` for the options)")
        for column in ("name", "title", "filters", "group by"):
            table.add_column(column, no_wrap=column == "name")
        for definition in report_list():
            accepted = [name for name in FILTER_NAMES if name in definition.filters]
            table.add_row(
                definition.name,
                definition.title,
                ", ".join(accepted) or "none",
                ", ".join(definition.group_by),
            )
        Console(file=cast(IO[str], self.stdout), width=160).print(table)

    def _table(self, result: ReportResult) -> None:
        given = {name: value for name, value in result.filters.as_json().items() if value}
        table = Table(
            title=result.name,
            caption=", ".join(f"{name}={value}" for name, value in given.items()) or "no filters",
        )
        for column in result.columns:
            table.add_column(
                column.label, justify="right" if column.kind in RIGHT_ALIGNED else "left"
            )
        for row in result.rows:
            table.add_row(*(readable(row.get(c.name), c.kind) for c in result.columns))
        Console(file=cast(IO[str], self.stdout), width=200).print(table)
        count = len(result.rows)
        self.stdout.write(f"{count} row{'' if count == 1 else 's'}")

    def _csv(self, result: ReportResult) -> None:
        csv.writer(self.stdout, lineterminator="\n").writerows(result.csv_rows())

    def _json(self, result: ReportResult) -> None:
        self.stdout.write(json.dumps(result.as_json(), indent=2))
