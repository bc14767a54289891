"""Imports (docs/import.md): files, headers, options, duplicates, resume, revert, access."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from dealflow.accounts.models import Account, Contact
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import AuditEvent, PicklistValue
from dealflow.dataio import services
from dealflow.dataio.models import (
    ExternalId,
    ImportJob,
    ImportJobRecord,
    ImportMapping,
    ImportRowError,
    ImportStatus,
)
from dealflow.dataio.services import import_revert, import_run, import_start
from dealflow.leads.models import Lead
from dealflow.people.models import Role
from dealflow.sales.models import Opportunity, OpportunityHistory
from tests.factories import AccountFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

LEAD_HEADER = ["FirstName", "LastName", "Company", "Email", "LeadSource"]


@pytest.fixture
def admin(db):
    return UserFactory(username="boss", role=Role.ADMIN)


def write_csv(tmp_path: Path, rows, name="file.csv", *, delimiter=",", bom=False) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    for row in rows:
        writer.writerow(row)
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode("utf-8"))
    return path


def lead_rows(count: int, start: int = 0):
    return [
        [f"Ann{number}", f"Lee{number}", f"Acme {number}", f"ann{number}@acme.test", "Web"]
        for number in range(start, start + count)
    ]


def run(actor, target, path, **options) -> ImportJob:
    job = import_start(actor=actor, target=target, path=path, **options)
    return import_run(job_id=job.pk)


def counts(job: ImportJob):
    job.refresh_from_db()
    return (
        job.rows_read,
        job.rows_created,
        job.rows_updated,
        job.rows_skipped,
        job.rows_failed,
    )


def report(job):
    return list(
        ImportRowError.objects.filter(job=job).values_list("row_number", "field", "message")
    )


def test_a_lead_file_is_imported_with_the_services_rules(admin, tmp_path):
    path = write_csv(tmp_path, [LEAD_HEADER, *lead_rows(3)])

    job = run(admin, "leads", path)

    assert job.status == ImportStatus.DONE
    assert counts(job) == (3, 3, 0, 0, 0)
    leads = list(Lead.objects.order_by("pk"))
    assert [(lead.first_name, lead.email, lead.lead_source) for lead in leads] == [
        ("Ann0", "ann0@acme.test", "Web"),
        ("Ann1", "ann1@acme.test", "Web"),
        ("Ann2", "ann2@acme.test", "Web"),
    ]
    assert {lead.status.name for lead in leads} == {"Open - Not Contacted"}
    assert {lead.owner_user_id for lead in leads} == {admin.pk}
    assert [lead.email_key for lead in leads] == [f"ann{n}@acme.test" for n in range(3)]
    assert ImportJobRecord.objects.filter(job=job, action="created").count() == 3
    event = AuditEvent.objects.get(object_name="ImportJob", record_id=job.pk)
    assert event.changes["created"] == [None, [lead.pk for lead in leads]]
    assert job.last_committed_row == 3
