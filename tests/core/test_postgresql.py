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
