"""Imports through the API, the page, the command line and the Celery task."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from dealflow.dataio.models import ImportJob, ImportStatus
from dealflow.dataio.tasks import run_import
from dealflow.leads.models import Lead
from dealflow.people.models import Role
from dealflow.people.services import token_create
from tests.dataio.test_imports import LEAD_HEADER, counts, lead_rows, write_csv
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CSV = "LastName,Company,Email\nLee,Acme,lee@acme.test\nRay,Beta,bad\n"


def bearer(user) -> dict[str, str]:
    _record, token = token_create(actor=user, user=user, name="test")
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_the_api_imports_a_text_csv_body_and_reports_the_job(db):
    rep = UserFactory(username="rep")
    client = Client()

    response = client.post(
        "/api/v1/imports?object=leads", CSV, content_type="text/csv", **bearer(rep)
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["rows_read"], body["rows_created"], body["rows_failed"]) == (
        "done",
        2,
        1,
        1,
    )
    assert Lead.objects.get().owner_user == rep
    job_id = body["id"]
    got = client.get(f"/api/v1/imports/{job_id}", **bearer(rep)).json()
    assert got["errors"] == 1
    report = client.get(f"/api/v1/imports/{job_id}/errors", **bearer(rep))
    assert b"".join(report.streaming_content).decode().splitlines() == [
        "row,field,value,code,message",
        "2,email,bad,INVALID_EMAIL_ADDRESS,'bad' is not an email address",
    ]
    other = UserFactory(username="other")
    assert client.get(f"/api/v1/imports/{job_id}", **bearer(other)).status_code == 404
    reverted = client.post(f"/api/v1/imports/{job_id}/revert", **bearer(rep))
    assert reverted.status_code == 200
    assert reverted.json()["status"] == "reverted"
    assert Lead.objects.count() == 0


def test_the_api_takes_a_multipart_upload_and_refuses_a_bad_file(db):
    admin = UserFactory(username="boss", role=Role.ADMIN)
    client = Client()
    upload = io.BytesIO(CSV.encode())
    upload.name = "fair.csv"

    response = client.post(
        "/api/v1/imports?object=contacts&on_duplicate=update", {"file": upload}, **bearer(admin)
    )

    assert response.status_code == 201
    assert response.json()["file_name"] == "fair.csv"
    refused = client.post(
        "/api/v1/imports?object=leads", b"\xff", content_type="text/csv", **bearer(admin)
    )
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["message"].startswith("the file is not UTF-8")
    assert ImportJob.objects.count() == 1
    rep = UserFactory(username="rep")
    forbidden = client.post(
        "/api/v1/imports?object=accounts", CSV, content_type="text/csv", **bearer(rep)
    )
    assert forbidden.status_code == 403


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        (
            "multipart/form-data",  # no boundary: Django cannot split it
            b"LastName\nLee\n",
            ("INVALID_FIELD", "file: the multipart body cannot be read"),
        ),
        (
            "multipart/form-data; boundary=xx",
            b'--xx\r\nContent-Disposition: form-data; name="other"\r\n\r\n1\r\n--xx--\r\n',
            ("REQUIRED_FIELD_MISSING", "file: the multipart body has no part named file"),
        ),
    ],
)
def test_a_multipart_body_without_a_file_is_refused_naming_it(db, content_type, body, expected):
    admin = UserFactory(username="boss", role=Role.ADMIN)

    response = Client().generic(
        "POST", "/api/v1/imports?object=leads", body, content_type=content_type, **bearer(admin)
    )

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert (error["code"], error["fields"]) == (expected[0], ["file"])
    assert error["message"].startswith(expected[1])
    assert ImportJob.objects.count() == 0


def test_the_page_uploads_and_shows_the_progress_and_errors(db):
    rep = UserFactory(username="rep")
    client = Client()
    client.force_login(rep)
    upload = io.BytesIO(CSV.encode())
    upload.name = "fair.csv"

    response = client.post("/imports/", {"object": "Lead", "on_duplicate": "skip", "file": upload})

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/imports/{job.pk}/"
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert "Progress: Done" in page
    assert "<td>email</td><td>bad</td><td>&#x27;bad&#x27; is not an email address</td>" in page
    assert "Download the report (CSV)" in page
    assert "hx-trigger" not in page  # done: no more polling
    listing = client.get("/imports/").content.decode()
    assert "fair.csv" in listing
    other = UserFactory(username="other")
    client.force_login(other)
    assert client.get(f"/imports/{job.pk}/").status_code == 404


@pytest.mark.parametrize(
    ("role", "offered"),
    [
        (Role.REP, ["Lead"]),
        (Role.MANAGER, ["Lead", "Account", "Contact", "Opportunity"]),
        (Role.ADMIN, ["Lead", "Account", "Contact", "Opportunity"]),
    ],
)
def test_the_form_offers_the_objects_the_user_may_import(db, role, offered):
    client = Client()
    client.force_login(UserFactory(username="someone", role=role))

    page = client.get("/imports/").content.decode()

    assert re.findall(r'<option value="(Lead|Account|Contact|Opportunity)"', page) == offered


def test_a_dry_run_says_what_it_would_do(db):
    admin = UserFactory(username="boss", role=Role.ADMIN)
    client = Client()
    client.force_login(admin)
    upload = io.BytesIO(CSV.encode())
    upload.name = "check.csv"

    client.post("/imports/", {"object": "Lead", "file": upload, "dry_run": "on"})

    page = client.get(f"/imports/{ImportJob.objects.get().pk}/").content.decode()
    assert '<dt class="col-6 col-md-3">Would create</dt>' in page
    assert '<dt class="col-6 col-md-3">Would update</dt>' in page
    assert ">Created</dt>" not in page
    assert Lead.objects.count() == 0


def test_the_page_polls_while_the_job_runs(db):
    admin = UserFactory(username="boss", role=Role.ADMIN)
    job = ImportJob.objects.create(
        target="Lead", file_path="/nowhere.csv", file_name="x.csv", sha256="0", actor=admin
    )
    client = Client()
    client.force_login(admin)

    partial = client.get(f"/imports/{job.pk}/progress/").content.decode()

    assert f'hx-get="/imports/{job.pk}/progress/"' in partial
    assert 'hx-trigger="every 2s"' in partial


def test_the_page_shows_a_refused_file(db):
    admin = UserFactory(username="boss", role=Role.ADMIN)
    client = Client()
    client.force_login(admin)
    upload = io.BytesIO(b"LastName,Company\n")
    upload.name = "empty.csv"

    response = client.post("/imports/", {"object": "Lead", "file": upload})

    assert response.status_code == 400
    assert "the file has a header row but no data rows" in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_the_command_imports_resumes_and_reverts(db, tmp_path, capsys):
    admin = UserFactory(username="boss", role=Role.ADMIN)
    path = write_csv(tmp_path, [LEAD_HEADER, *lead_rows(3)])
    output = io.StringIO()

    call_command("import", "leads", str(path), "--batch-size", "2", stdout=output)

    job = ImportJob.objects.get()
    assert counts(job) == (3, 3, 0, 0, 0)
    assert job.actor == admin
    lines = output.getvalue().splitlines()
    assert lines[0] == f"import {job.pk}: file.csv into Lead"
    assert lines[-1] == (
        f"import {job.pk} done: 3 rows read, 3 created, 0 updated, 0 skipped, 0 failed"
    )
    call_command("import", "leads", "--resume", str(job.pk), stdout=output)
    assert Lead.objects.count() == 3
    call_command("import", "revert", str(job.pk), stdout=output)
    assert output.getvalue().splitlines()[-1] == (
        f"import {job.pk}: reverted: 3 records removed, 0 restored"
    )
    assert Lead.objects.count() == 0
    with pytest.raises(CommandError, match="the file is empty"):
        empty = tmp_path / "empty.csv"
        empty.write_bytes(b"")
        call_command("import", "leads", str(empty), stdout=output)
    with pytest.raises(CommandError, match="no active user 'ghost'"):
        call_command("import", "leads", str(path), "--user", "ghost", stdout=output)


def test_the_command_dry_run_writes_the_error_report(db, tmp_path, settings):
    UserFactory(username="boss", role=Role.ADMIN)
    settings.VAR_DIR = tmp_path
    path = write_csv(tmp_path, [["LastName", "Company", "Email"], ["Lee", "Acme", "bad"]])
    output = io.StringIO()

    call_command("import", "leads", str(path), "--dry-run", stdout=output)

    job = ImportJob.objects.get()
    report = tmp_path / "imports" / f"import-{job.pk}-errors.csv"
    assert output.getvalue().splitlines()[-1] == f"error report: {report}"
    assert report.read_text().splitlines()[1] == (
        "1,email,bad,INVALID_EMAIL_ADDRESS,'bad' is not an email address"
    )
    assert Lead.objects.count() == 0


def test_the_task_runs_a_job_and_is_safe_to_run_again(db, tmp_path):
    admin = UserFactory(username="boss", role=Role.ADMIN)
    from dealflow.dataio.services import import_start

    job = import_start(
        actor=admin, target="leads", path=write_csv(tmp_path, [LEAD_HEADER, *lead_rows(2)])
    )

    assert run_import(job.pk) == ImportStatus.DONE
    assert run_import(job.pk) == ImportStatus.DONE
    assert Lead.objects.count() == 2


def test_the_page_reverts_a_job_and_refuses_another_users(db, tmp_path):
    rep = UserFactory(username="rep")
    client = Client()
    client.force_login(rep)
    upload = io.BytesIO(CSV.encode())
    upload.name = "fair.csv"
    client.post("/imports/", {"object": "Lead", "file": upload})
    job = ImportJob.objects.get()
    other = UserFactory(username="other", role=Role.MANAGER)

    client.force_login(other)
    assert client.post(f"/imports/{job.pk}/revert/").status_code == 404
    assert Lead.objects.count() == 1
    client.force_login(rep)
    response = client.post(f"/imports/{job.pk}/revert/")

    assert response.status_code == 302
    assert Lead.objects.count() == 0
    job.refresh_from_db()
    assert job.status == ImportStatus.REVERTED
    again = client.post(f"/imports/{job.pk}/revert/")
    assert again.status_code == 400
    assert f"import {job.pk} was already reverted" in again.content.decode()
