"""A database that cannot be written or reached: 503 STORAGE_UNAVAILABLE, one log line, and
reads that keep working (api/middleware.py, api/auth.py)."""

import datetime
import logging
import sqlite3
from contextlib import contextmanager

import psycopg
import pytest
from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.utils import timezone

from dealflow.api import middleware
from dealflow.api.middleware import storage_failure
from dealflow.leads.models import Lead
from dealflow.people.models import ApiToken
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_log_throttle(monkeypatch):
    """Each test sees the first line of each kind (the throttle is per process)."""
    monkeypatch.setattr(middleware, "_throttle", middleware._LogThrottle(60))


@contextmanager
def refusing_writes():
    """The test's connection refuses writes with the database's own read-only error."""
    with transaction.atomic():  # rolling this savepoint back ends PostgreSQL's read-only mode
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET TRANSACTION READ ONLY")  # SQLSTATE 25006 on writes
            else:
                cursor.execute("PRAGMA query_only = ON")  # "attempt to write a readonly database"
        try:
            yield
        finally:
            if connection.vendor == "sqlite":
                with connection.cursor() as cursor:
                    cursor.execute("PRAGMA query_only = OFF")
            transaction.set_rollback(True)


def storage_lines(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "dealflow.storage"]


def test_a_write_answers_503_storage_unavailable_with_one_log_line(api, caplog):
    with refusing_writes():
        response = api.post("/leads", {"last_name": "Ng", "company": "Acme"})

    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/json")
    (error,) = response.json()["errors"]
    assert error["code"] == "STORAGE_UNAVAILABLE"
    (line,) = [record for record in storage_lines(caplog) if record.levelno >= logging.ERROR]
    assert "the database is read-only" in line.getMessage()
    assert "check" in line.getMessage()
    assert "POST /api/v1/leads" in line.getMessage()
    assert line.exc_info is None
    # Nothing else at ERROR: no traceback, no second "Service Unavailable" line.
    assert [record for record in caplog.records if record.levelno >= logging.ERROR] == [line]
    assert Lead.objects.count() == 0


def test_reads_keep_working_and_a_tokens_last_use_is_noted_at_best(actor, api, caplog):
    lead = LeadFactory(owner_user=actor)
    old = timezone.now() - datetime.timedelta(hours=1)
    ApiToken.objects.filter(user=actor).update(last_used_at=old)

    with refusing_writes():
        first = api.get(f"/leads/{lead.public_id}")
        listed = api.get("/leads")

    assert first.status_code == 200, first.content
    assert first.json()["id"] == lead.public_id
    assert listed.status_code == 200
    assert ApiToken.objects.get(user=actor).last_used_at == old
    lines = [record.getMessage() for record in storage_lines(caplog)]
    assert len(lines) == 1  # the second failure to note the use is held back
    assert "could not record when an API token was last used" in lines[0]
    assert all(record.levelno < logging.ERROR for record in caplog.records)

    api.get(f"/leads/{lead.public_id}")  # writable again: the use is noted
    assert ApiToken.objects.get(user=actor).last_used_at > old


def test_a_page_answers_a_plain_503(client):
    user = UserFactory(username="pat")
    user.set_password("a long enough password")
    user.save()
    with refusing_writes():
        # Signing in writes the session and the last login.
        response = client.post("/login/", {"username": "pat", "password": "a long enough password"})
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert b"dealflow is unavailable" in response.content


def _wrapped(django_error: type[Exception], driver_error: Exception) -> Exception:
    """A Django database error around a driver's, as Django raises them."""
    error = django_error(*driver_error.args)
    error.__cause__ = driver_error
    return error


@pytest.mark.parametrize(
    ("message", "cause"),
    [
        ("attempt to write a readonly database", "the database is read-only"),
        ("database or disk is full", "the disk that holds the database is full"),
        ("unable to open database file", "the database file cannot be opened"),
        ("disk I/O error", "the disk failed to read or write the database (I/O error)"),
    ],
)
def test_sqlite_storage_failures_are_recognised_by_their_message(message, cause):
    failure = storage_failure(_wrapped(OperationalError, sqlite3.OperationalError(message)))
    assert failure is not None
    assert failure.cause == cause


@pytest.mark.parametrize(
    ("driver_error", "cause"),
    [
        (psycopg.errors.ReadOnlySqlTransaction("read-only"), "the database is read-only"),
        (psycopg.errors.DiskFull("no space left"), "the database server's disk is full"),
        (psycopg.errors.AdminShutdown("terminating"), "the database server cannot be reached"),
        (psycopg.errors.ConnectionFailure("lost"), "the database server cannot be reached"),
        (psycopg.OperationalError("connection refused"), "the database server cannot be reached"),
    ],
)
def test_postgresql_storage_failures_are_recognised_by_their_sqlstate(driver_error, cause):
    failure = storage_failure(_wrapped(OperationalError, driver_error))
    assert failure is not None
    assert failure.cause.startswith(cause)


@pytest.mark.parametrize(
    "error",
    [
        _wrapped(IntegrityError, sqlite3.IntegrityError("UNIQUE constraint failed")),
        _wrapped(OperationalError, sqlite3.OperationalError("no such table: x")),
        _wrapped(IntegrityError, psycopg.errors.UniqueViolation("duplicate key")),
        _wrapped(DatabaseError, psycopg.errors.DivisionByZero("division by zero")),
        ValueError("attempt to write a readonly database"),
    ],
)
def test_other_errors_are_not_storage_failures(error):
    assert storage_failure(error) is None


def test_a_closed_connection_is_a_storage_failure():
    failure = storage_failure(InterfaceError("connection already closed"))
    assert failure is not None
    assert failure.cause == "the database server cannot be reached"


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_read_only_postgresql_session_answers_503_and_still_reads(caplog):
    from tests.api.conftest import ApiClient

    actor = UserFactory()
    lead = LeadFactory(owner_user=actor)
    api = ApiClient(actor)  # a new token: its first use is noted
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    try:
        written = api.post("/leads", {"last_name": "Ng", "company": "Acme"})
        read = api.get(f"/leads/{lead.public_id}")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE")

    assert written.status_code == 503
    assert written.json()["errors"][0]["code"] == "STORAGE_UNAVAILABLE"
    assert read.status_code == 200
    assert ApiToken.objects.get(user=actor).last_used_at is None
    assert any("read-only" in record.getMessage() for record in storage_lines(caplog))
