"""`dealflow import`: import a CSV file into leads, accounts, contacts or opportunities,
resume a stopped import, or revert one (docs/import.md)."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from dealflow.core.errors import DomainError
from dealflow.dataio.models import ImportJob, OnDuplicate
from dealflow.dataio.services import (
    DEFAULT_BATCH_SIZE,
    error_report_write,
    import_revert,
    import_run,
    import_start,
)
from dealflow.people.models import User

OBJECTS = ("leads", "accounts", "contacts", "opportunities")


class Command(BaseCommand):
    help = (
        "Import a CSV file (UTF-8, Salesforce Data Loader headers, API names, labels or "
        "native names) into leads, accounts, contacts or opportunities, in batches that "
        "each commit; `dealflow import leads --resume JOB` continues a stopped import, "
        "`dealflow import revert JOB` undoes one."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "object", choices=[*OBJECTS, "revert"], help="what to import, or revert"
        )
        parser.add_argument(
            "source", nargs="?", help="the CSV file; for revert, the import job's number"
        )
        parser.add_argument("--user", help="act as this user (default: the first active admin)")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="check every row and report, keep nothing (default: import)",
        )
        parser.add_argument(
            "--on-duplicate",
            choices=OnDuplicate.values,
            default=OnDuplicate.SKIP,
            help="a row whose email (or Id) matches a record: skip it, update the record, "
            "or create another (default: skip)",
        )
        parser.add_argument(
            "--mapping", help="use the saved header mapping with this name (default: none)"
        )
        parser.add_argument(
            "--save-mapping", help="save this file's header mapping under a name (default: none)"
        )
        parser.add_argument(
            "--resume", type=int, help="continue the import job with this number (default: none)"
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help=f"rows per committed batch (default: {DEFAULT_BATCH_SIZE})",
        )

    def _actor(self, username: str | None) -> User:
        if username:
            user = User.objects.filter(username=username, is_active=True).first()
            if user is None:
                raise CommandError(f"no active user {username!r}")
            return user
        admin = (
            User.objects.filter(is_active=True, role="admin").order_by("pk").first()
            or User.objects.filter(is_active=True, is_superuser=True).order_by("pk").first()
        )
        if admin is None:
            raise CommandError("no active admin to act as; pass --user NAME")
        return admin

    def handle(self, *args, **options):
        try:
            if options["object"] == "revert":
                self._revert(options)
            else:
                self._import(options)
        except DomainError as error:
            raise CommandError(error.message) from None

    def _revert(self, options) -> None:
        if not (options["source"] or "").isdigit():
            raise CommandError("dealflow import revert JOB: give the import job's number")
        actor = self._actor(options["user"])
        job = import_revert(actor=actor, job_id=int(options["source"]))
        self.stdout.write(f"import {job.pk}: {job.message}")

    def _import(self, options) -> None:
        actor = self._actor(options["user"])
        if options["resume"]:
            job = ImportJob.objects.filter(pk=options["resume"]).first()
            if job is None:
                raise CommandError(f"no import job {options['resume']}")
            self.stdout.write(f"resuming import {job.pk} after row {job.last_committed_row}")
        else:
            if not options["source"]:
                raise CommandError("give the CSV file to import")
            job = import_start(
                actor=actor,
                target=options["object"],
                path=options["source"],
                on_duplicate=options["on_duplicate"],
                dry_run=options["dry_run"],
                mapping_name=options["mapping"],
                save_mapping=options["save_mapping"],
                batch_size=options["batch_size"],
            )
            self.stdout.write(f"import {job.pk}: {job.file_name} into {job.target}")
        ignored = job.errors.filter(row_number=0)
        for note in ignored:
            self.stdout.write(f"  {note.message}")
        progress = _Progress(self.stdout, job)
        try:
            job = import_run(job_id=job.pk, progress=progress.update)
        except DomainError:
            progress.close()
            raise
        except Exception as error:
            progress.close()
            raise CommandError(
                f"import {job.pk} stopped: {error}; continue it with --resume {job.pk}"
            ) from error
        progress.close()
        prefix = "dry run: would have " if job.options.get("dry_run") else ""
        self.stdout.write(
            f"import {job.pk} {job.status}: {job.rows_read} rows read, {prefix}"
            f"{job.rows_created} created, {job.rows_updated} updated, "
            f"{job.rows_skipped} skipped, {job.rows_failed} failed"
        )
        if job.errors.exists():
            self.stdout.write(f"error report: {error_report_write(job)}")


class _Progress:
    """A rich progress bar on a terminal (by file size: rows are not counted ahead);
    plain lines otherwise."""

    def __init__(self, stdout, job: ImportJob) -> None:
        self.stdout = stdout
        self.bar = None
        if sys.stdout.isatty():
            from rich.progress import Progress

            self.bar = Progress()
            self.bar.start()
            self.task = self.bar.add_task(f"import {job.pk}", total=None)

    def update(self, job: ImportJob) -> None:
        text = (
            f"{job.rows_read} rows: {job.rows_created} created, {job.rows_updated} updated, "
            f"{job.rows_skipped} skipped, {job.rows_failed} failed"
        )
        if self.bar is not None:
            self.bar.update(self.task, completed=job.rows_read, description=text)
        else:
            self.stdout.write(f"  {text}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
