"""The PostgreSQL backend's health check: no round trip while healthy, a new connection
after the server ended the old one."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connection
from django.db.backends.postgresql.base import DatabaseWrapper as DjangoWrapper

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _start_request() -> None:
    """What Django does when a request starts: the next query checks the connection."""
    connection.close_if_unusable_or_obsolete()
    assert connection.health_check_enabled and not connection.health_check_done


def test_a_healthy_connection_is_checked_without_asking_the_server(monkeypatch):
    pid = _backend_pid()
    asked = []
    monkeypatch.setattr(DjangoWrapper, "is_usable", lambda self: asked.append(1) or True)

    _start_request()
    assert _backend_pid() == pid

    assert asked == []
    assert connection.health_check_done


def test_a_connection_the_server_ended_is_replaced_before_the_next_query():
    pid = _backend_pid()
    settings = connection.get_connection_params()
    with psycopg.connect(**settings, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    time.sleep(0.2)  # the server's goodbye reaches the socket

    _start_request()
    new_pid = _backend_pid()  # no error: the dead connection was closed and replaced

    assert new_pid != pid


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [statement for (statement,) in cursor.fetchall()]


def test_reads_by_primary_key_and_token_lookups_are_prepared_once_per_connection():
    from django.utils import timezone

    from dealflow.core import rows
    from dealflow.leads.models import Lead
    from dealflow.people.selectors import token_user

    connection.close()
    for primary_key in (1, 2, 3):
        assert rows.by_primary_key(Lead, primary_key) is None
        assert token_user(digest="0" * 64, used_since=timezone.now()) is None
    statements = _prepared_statements()
    assert len(statements) == 2
    assert sum('FROM "leads_lead"' in statement for statement in statements) == 1
    assert sum('FROM "people_apitoken"' in statement for statement in statements) == 1
    Lead.objects.filter(pk__in=[1, 2]).exists()  # ORM queries stay unprepared
    assert len(_prepared_statements()) == 2


def test_prepared_statements_can_be_turned_off(settings):
    from dealflow.core import rows
    from dealflow.leads.models import Lead

    settings.DEALFLOW_PREPARED_STATEMENTS = False
    connection.close()
    assert rows.by_primary_key(Lead, 1) is None
    assert _prepared_statements() == []
