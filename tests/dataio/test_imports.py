"""Imports (docs/import.md): files, headers, options, duplicates, resume, revert, access."""

from __future__ import annotations

import csv
import decimal
import io
from pathlib import Path

import pytest

from dealflow.accounts.models import Account, Contact
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import AuditEvent
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


@pytest.mark.parametrize(
    "header",
    [
        ["FirstName", "LastName", "Company", "Email", "LeadSource"],  # API names
        ["FIRSTNAME", "LASTNAME", "COMPANY", "EMAIL", "LEADSOURCE"],  # Data Loader
        ["First Name", "Last Name", "Company", "Email", "Lead Source"],  # labels
        ["first_name", "last_name", "company", "email", "lead_source"],  # native names
        [" first name ", "LAST_NAME", "company", "E-mail", "lead source"],  # mixed
    ],
)
def test_headers_match_names_api_names_data_loader_headers_and_labels(admin, tmp_path, header):
    path = write_csv(tmp_path, [header, *lead_rows(1)])

    job = run(admin, "leads", path)

    assert counts(job) == (1, 1, 0, 0, 0)
    lead = Lead.objects.get()
    assert (lead.first_name, lead.last_name, lead.company, lead.email, lead.lead_source) == (
        "Ann0",
        "Lee0",
        "Acme 0",
        "ann0@acme.test",
        "Web",
    )


def test_a_saved_mapping_is_reused_by_name(admin, tmp_path):
    first = write_csv(
        tmp_path, [["Surname", "Firm", "E-mail"], ["Lee", "Acme", "lee@acme.test"]], "one.csv"
    )
    ImportMapping.objects.create(
        name="fair", target="Lead", mapping={"Surname": "last_name", "Firm": "company"}
    )

    job = run(admin, "leads", first, mapping_name="fair", save_mapping="fair2")

    assert counts(job) == (1, 1, 0, 0, 0)
    assert ImportMapping.objects.get(name="fair2").mapping == {
        "Surname": "last_name",
        "Firm": "company",
        "E-mail": "email",
    }
    second = write_csv(tmp_path, [["E-MAIL", "Surname", "Firm"], ["bo@beta.test", "Bo", "Beta"]])
    job = run(admin, "leads", second, mapping_name="fair2")
    assert Lead.objects.get(last_name="Bo").email == "bo@beta.test"
    with pytest.raises(DomainError) as caught:
        import_start(actor=admin, target="leads", path=second, mapping_name="nope")
    assert caught.value.message == "mapping: no saved mapping 'nope' for Lead"


def test_values_are_checked_as_the_services_check_them_and_reported(admin, tmp_path):
    path = write_csv(
        tmp_path,
        [
            ["LastName", "Company", "Email", "LeadSource", "NumberOfEmployees", "DoNotCall"],
            ["Ok", "Acme", "ok@acme.test", "Web", "12", "yes"],
            ["Bad", "Acme", "not-an-email", "Carrier Pigeon", "many", "perhaps"],
            ["", "Acme", "", "", "", ""],
            ["X" * 81, "Acme", "", "", "", ""],
        ],
    )

    job = run(admin, "leads", path)

    assert counts(job) == (4, 1, 0, 0, 3)
    messages = [message for _row, _field, message in report(job)]
    assert [row for row, _field, _message in report(job)] == [2, 2, 2, 2, 3, 4]
    assert "'not-an-email' is not an email address" in messages
    assert "expected a whole number, got 'many'" in messages
    assert "expected true or false, got 'perhaps'" in messages
    assert any(message.startswith("'Carrier Pigeon' is not one of") for message in messages)
    assert "Required fields are missing: last_name" in messages
    assert "at most 80 characters, got 81" in messages
    lead = Lead.objects.get()
    assert (lead.last_name, lead.number_of_employees, lead.do_not_call) == ("Ok", 12, True)


def test_amounts_may_group_thousands_as_the_pages_show_them(admin, tmp_path):
    """ "1,679,000.50" reads as the forms read it; a decimal comma is refused, saying how."""
    path = write_csv(
        tmp_path,
        [
            ["LastName", "Company", "AnnualRevenue"],
            ["Grouped", "Acme", "1,679,000.50"],
            ["Plain", "Acme", "2500.5"],
            ["Comma", "Acme", "1,5"],
        ],
    )

    job = run(admin, "leads", path)

    assert counts(job) == (3, 2, 0, 0, 1)
    assert report(job) == [
        (3, "annual_revenue", "expected a number, got '1,5'; decimals take a point, as in 1.5")
    ]
    assert sorted(Lead.objects.values_list("last_name", "annual_revenue")) == [
        ("Grouped", decimal.Decimal("1679000.50")),
        ("Plain", decimal.Decimal("2500.50")),
    ]


def duplicates_file(tmp_path):
    return write_csv(
        tmp_path,
        [
            [*LEAD_HEADER, "Title"],
            ["Ann", "Lee", "Acme", "ANN@Acme.test", "Web", "CEO"],  # matches the base
            ["Bo", "Ray", "Beta", "bo@beta.test", "Web", "CTO"],  # new
            ["Bob", "Ray", "Beta", "Bo@Beta.Test", "", "VP"],  # matches row 2
        ],
    )


def test_duplicates_are_skipped_by_default(admin, tmp_path):
    existing = LeadFactory(email="ann@acme.test", title="", first_name="Annie")

    job = run(admin, "leads", duplicates_file(tmp_path))

    assert counts(job) == (3, 1, 0, 2, 0)
    assert report(job) == [
        (1, "email", "skipped: a duplicate of an existing record"),
        (3, "email", "skipped: a duplicate of row 2"),
    ]
    existing.refresh_from_db()
    assert (existing.first_name, existing.title) == ("Annie", "")
    assert Lead.objects.get(last_name="Ray").title == "CTO"


def test_on_duplicate_update_changes_the_existing_record_and_keeps_its_old_values(admin, tmp_path):
    existing = LeadFactory(
        email="ann@acme.test",
        title="",
        first_name="Annie",
        last_name="Lee",
        company="Acme",
        lead_source="",
    )

    job = run(admin, "leads", duplicates_file(tmp_path), on_duplicate="update")

    assert counts(job) == (3, 1, 2, 0, 0)
    existing.refresh_from_db()
    assert (existing.first_name, existing.title, existing.lead_source) == ("Ann", "CEO", "Web")
    record = ImportJobRecord.objects.get(job=job, action="updated")
    assert record.record_id == existing.pk
    # Only what changed ("ANN@Acme.test" is another spelling: stored as the file has it).
    assert record.previous_values == {
        "first_name": "Annie",
        "email": "ann@acme.test",
        "title": "",
        "lead_source": "",
    }
    bo = Lead.objects.get(last_name="Ray")
    # Row 3 updated the lead row 2 created; its blank lead source left row 2's value.
    assert (bo.first_name, bo.email, bo.title, bo.lead_source) == (
        "Bob",
        "Bo@Beta.Test",
        "VP",
        "Web",
    )
    assert bo.email_key == "bo@beta.test"
    event = AuditEvent.objects.get(object_name="Lead", record_id=existing.pk, action="update")
    assert event.changes["title"] == ["", "CEO"]


def test_on_duplicate_create_refuses_a_second_unconverted_lead_with_one_email(admin, tmp_path):
    LeadFactory(email="ann@acme.test")

    job = run(admin, "leads", duplicates_file(tmp_path), on_duplicate="create")

    assert counts(job) == (3, 1, 0, 0, 2)
    assert [row for row, _field, _message in report(job)] == [1, 3]
    assert [message for _row, _field, message in report(job)] == [
        "an unconverted lead already has the email 'ANN@Acme.test' (an existing "
        "record); emails are unique among unconverted leads, so it cannot be created again",
        "an unconverted lead already has the email 'Bo@Beta.Test' (row 2); emails "
        "are unique among unconverted leads, so it cannot be created again",
    ]
    assert Lead.objects.count() == 2


def test_on_duplicate_create_makes_a_second_contact(admin, tmp_path):
    path = write_csv(
        tmp_path,
        [["LastName", "Email"], ["Lee", "ann@acme.test"], ["Lee", "ANN@acme.test"]],
    )

    job = run(admin, "contacts", path, on_duplicate="create")

    assert counts(job) == (2, 2, 0, 0, 0)
    assert Contact.objects.filter(email_key="ann@acme.test").count() == 2


def test_a_dry_run_counts_and_reports_but_keeps_nothing(admin, tmp_path):
    LeadFactory(email="ann@acme.test")
    before = Lead.objects.count()

    job = run(admin, "leads", duplicates_file(tmp_path), dry_run=True, batch_size=1)

    assert counts(job) == (3, 1, 0, 2, 0)
    assert Lead.objects.count() == before
    assert ImportJobRecord.objects.filter(job=job).count() == 0
    assert report(job) == [
        (1, "email", "skipped: a duplicate of an existing record"),
        (3, "email", "skipped: a duplicate of row 2"),
    ]
    with pytest.raises(DomainError):
        import_revert(actor=admin, job_id=job.pk)


class Crash(Exception):
    pass


@pytest.mark.parametrize("crash_batch", [1, 3, 5])
def test_an_import_stopped_in_any_batch_resumes_with_no_row_lost_or_doubled(
    admin, tmp_path, monkeypatch, crash_batch
):
    rows = lead_rows(23)
    rows[6] = ["Dup", "Lee", "Acme", "ann2@acme.test", "Web"]  # row 7 duplicates row 3
    rows[15] = ["", "", "Acme", "", "Web"]  # row 16 fails
    path = write_csv(tmp_path, [LEAD_HEADER, *rows])
    job = import_start(actor=admin, target="leads", path=path, batch_size=5)
    calls = []

    def crash(last_row):
        calls.append(last_row)
        if len(calls) == crash_batch:
            raise Crash

    monkeypatch.setattr(services, "batch_hook", crash)
    with pytest.raises(Crash):
        import_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert job.last_committed_row == (crash_batch - 1) * 5
    assert Lead.objects.count() == ImportJobRecord.objects.filter(job=job).count()

    monkeypatch.setattr(services, "batch_hook", None)
    job = import_run(job_id=job.pk)

    assert job.status == ImportStatus.DONE
    assert counts(job) == (23, 21, 0, 1, 1)
    assert job.last_committed_row == 23
    assert Lead.objects.count() == 21
    assert ImportJobRecord.objects.filter(job=job).count() == 21
    assert [row for row, _field, _message in report(job)] == [7, 16]
    assert sorted(Lead.objects.values_list("email", flat=True)) == sorted(
        f"ann{n}@acme.test" for n in range(23) if n not in (6, 15)
    )


def test_a_job_refuses_to_resume_on_a_changed_file(admin, tmp_path):
    path = write_csv(tmp_path, [LEAD_HEADER, *lead_rows(2)])
    job = import_start(actor=admin, target="leads", path=path)
    path.write_text(path.read_text() + "Ann9,Lee9,Acme,ann9@acme.test,Web\n")

    with pytest.raises(DomainError) as caught:
        import_run(job_id=job.pk)

    assert caught.value.code == ErrorCode.FIELD_INTEGRITY_EXCEPTION
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert Lead.objects.count() == 0


def test_revert_removes_what_the_job_created_and_restores_what_it_updated(admin, tmp_path):
    existing = LeadFactory(email="ann@acme.test", title="", first_name="Annie", lead_source="")
    other = LeadFactory(email="zed@zeta.test")
    job = run(admin, "leads", duplicates_file(tmp_path), on_duplicate="update")
    assert Lead.objects.count() == 3

    reverted = import_revert(actor=admin, job_id=job.pk)

    assert reverted.status == ImportStatus.REVERTED
    assert reverted.message == "reverted: 1 records removed, 1 restored"
    assert set(Lead.objects.values_list("pk", flat=True)) == {existing.pk, other.pk}
    existing.refresh_from_db()
    assert (existing.first_name, existing.title, existing.lead_source) == ("Annie", "", "")
    assert existing.first_name_key == "annie"
    with pytest.raises(DomainError) as caught:
        import_revert(actor=admin, job_id=job.pk)
    assert caught.value.message == f"import {job.pk} was already reverted"


def test_revert_is_refused_when_an_imported_lead_was_converted(admin, tmp_path):
    job = run(admin, "leads", write_csv(tmp_path, [LEAD_HEADER, *lead_rows(2)]))
    lead = Lead.objects.order_by("pk").first()
    Lead.objects.filter(pk=lead.pk).update(is_converted=True)

    with pytest.raises(DomainError) as caught:
        import_revert(actor=admin, job_id=job.pk)

    assert caught.value.message == (
        f"leads this import created were converted since ({lead.public_id}); nothing was reverted"
    )
    assert Lead.objects.count() == 2
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE


def test_salesforce_ids_link_a_contacts_file_to_the_accounts_file(admin, tmp_path):
    accounts = write_csv(
        tmp_path,
        [["Id", "Name", "Industry"], ["001A0000001", "Acme", ""], ["001A0000002", "Beta", ""]],
        "accounts.csv",
    )
    contacts = write_csv(
        tmp_path,
        [
            ["Id", "LastName", "AccountId", "Email"],
            ["003A1", "Lee", "001A0000002", "lee@beta.test"],
            ["003A2", "Ray", "001A0000001", ""],
            ["003A3", "Nobody", "001Z9999999", ""],
        ],
        "contacts.csv",
    )

    run(admin, "accounts", accounts)
    job = run(admin, "contacts", contacts)

    assert counts(job) == (3, 2, 0, 0, 1)
    beta, acme = Account.objects.get(name="Beta"), Account.objects.get(name="Acme")
    assert Contact.objects.get(last_name="Lee").account == beta
    assert Contact.objects.get(last_name="Ray").account == acme
    assert report(job) == [
        (
            3,
            "account_id",
            "no Account with the id '001Z9999999' (neither imported earlier "
            "nor a dealflow id, username or email)",
        )
    ]
    assert ExternalId.objects.get(target="Contact", external_id="003A1").record_id == (
        Contact.objects.get(last_name="Lee").pk
    )
    # The same accounts file again: matched by Id, skipped.
    again = run(admin, "accounts", accounts)
    assert counts(again) == (2, 0, 0, 2, 0)


def test_opportunities_take_their_stage_rules_from_the_service(admin, tmp_path):
    account = AccountFactory(name="Acme")
    path = write_csv(
        tmp_path,
        [
            ["Name", "StageName", "CloseDate", "Amount", "AccountId"],
            ["Big", "Prospecting", "2026-12-31", "1000.005", account.public_id],
            ["Lost", "Closed Lost", "2026-12-31", "5", ""],
            ["Odd", "Nope", "31/12/2026", "", ""],
        ],
    )

    job = run(admin, "opportunities", path)

    assert counts(job) == (3, 1, 0, 0, 2)
    assert [row for row, _field, _message in report(job)] == [2, 3, 3]
    deal = Opportunity.objects.get()
    assert (deal.name, deal.stage.name, str(deal.amount), deal.account) == (
        "Big",
        "Prospecting",
        "1000.01",
        account,
    )
    assert (deal.probability, deal.forecast_category) == (
        deal.stage.probability,
        deal.stage.forecast_category,
    )
    assert OpportunityHistory.objects.filter(opportunity=deal).count() == 1
    messages = [message for _row, _field, message in report(job)]
    assert "required when moving to the lost stage 'Closed Lost'" in messages
    assert "expected a date YYYY-MM-DD, got '31/12/2026'" in messages


def test_a_rep_imports_leads_they_own_and_nothing_else(db, tmp_path):
    rep = UserFactory(username="rep")
    other = UserFactory(username="other")
    accounts = write_csv(tmp_path, [["Name"], ["Acme"]], "accounts.csv")
    with pytest.raises(DomainError) as caught:
        import_start(actor=rep, target="accounts", path=accounts)
    assert caught.value.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY
    assert ImportJob.objects.count() == 0
    path = write_csv(
        tmp_path,
        [["LastName", "Company", "OwnerId"], ["Lee", "Acme", ""], ["Ray", "Beta", "other"]],
    )

    job = run(rep, "leads", path)

    assert counts(job) == (2, 1, 0, 0, 1)
    assert Lead.objects.get().owner_user == rep
    assert report(job) == [
        (2, "owner_id", "a sales rep imports leads they own; leave the owner blank")
    ]
    assert other.owned_leads.count() == 0


def test_owner_column_by_username_email_or_id(admin, tmp_path):
    ann = UserFactory(username="ann", email="ann@dealflow.test")
    path = write_csv(
        tmp_path,
        [
            ["LastName", "Company", "OwnerId"],
            ["A", "X", "ann"],
            ["B", "X", "ANN@dealflow.test"],
            ["C", "X", ann.public_id],
        ],
    )

    job = run(admin, "leads", path)

    assert counts(job) == (3, 3, 0, 0, 0)
    assert set(Lead.objects.values_list("owner_user", flat=True)) == {ann.pk}


def test_leads_without_an_owner_column_are_dealt_by_the_assignment_rules(admin, tmp_path):
    from dealflow.automation.models import AssignmentDecision
    from dealflow.automation.services import assignment_rules_set

    first, second = UserFactory(username="first"), UserFactory(username="second")
    assignment_rules_set(
        actor=admin,
        rules={
            "entries": [
                {
                    "criteria": [{"field": "lead_source", "operator": "equals", "value": "Web"}],
                    "assign_to": {
                        "kind": "round_robin",
                        "user_ids": [first.public_id, second.public_id],
                        "capacity": None,
                    },
                }
            ],
        },
    )
    path = write_csv(tmp_path, [LEAD_HEADER, *lead_rows(5)])

    job = run(admin, "leads", path, batch_size=2)

    owners = list(Lead.objects.order_by("pk").values_list("owner_user__username", flat=True))
    assert owners == ["first", "second", "first", "second", "first"]
    assert AssignmentDecision.objects.count() == 5
    assert counts(job) == (5, 5, 0, 0, 0)
    with_owner = write_csv(
        tmp_path, [["LastName", "Company", "LeadSource", "OwnerId"], ["Kim", "X", "Web", "boss"]]
    )
    run(admin, "leads", with_owner)
    assert Lead.objects.get(last_name="Kim").owner_user == admin
    assert AssignmentDecision.objects.count() == 5


def test_a_second_run_of_a_job_stops_where_another_has_committed(admin, tmp_path, monkeypatch):
    path = write_csv(tmp_path, [LEAD_HEADER, *lead_rows(6)])
    job = import_start(actor=admin, target="leads", path=path, batch_size=2)
    # As if another worker committed the first two batches while this run was reading.
    real = services._run_batch

    def other_worker_first(job, *args):
        if not getattr(other_worker_first, "done", False):
            other_worker_first.done = True
            import_run(job_id=job.pk)  # the "other" run, to the end
        return real(job, *args)

    monkeypatch.setattr(services, "_run_batch", other_worker_first)
    returned = import_run(job_id=job.pk)

    assert returned.status == ImportStatus.DONE
    assert counts(returned) == (6, 6, 0, 0, 0)
    assert Lead.objects.count() == 6
    assert ImportJobRecord.objects.filter(job=job).count() == 6


def test_a_batch_costs_the_same_queries_for_5_and_50_rows(admin, tmp_path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries(rows, start):
        path = write_csv(tmp_path, [LEAD_HEADER, *lead_rows(rows, start)], f"q{rows}.csv")
        job = import_start(actor=admin, target="leads", path=path)
        with CaptureQueriesContext(connection) as captured:
            import_run(job_id=job.pk)
        return len(captured.captured_queries)

    queries(2, 1000)  # warm the job-wide memory of picklist values and the caches
    assert queries(5, 0) == queries(50, 100)
