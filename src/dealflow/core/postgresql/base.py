"""Django's PostgreSQL backend with a health check that costs no round trip.

With CONN_HEALTH_CHECKS, Django checks a reused connection before each request's first
query by running `SELECT 1`: a third statement on an API read that otherwise needs two.
An idle connection has nothing to read until the server ends it (a restart, an
administrator's terminate, an idle timeout), when the server sends its error and closes
the socket. So a socket with nothing to read is healthy; only when something arrived
does this ask the server, as Django does.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base


def _has_input(file_descriptor: int) -> bool:
    poller = select.poll()
    poller.register(file_descriptor, select.POLLIN)
    return bool(poller.poll(0))


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        if self.connection is None or self.connection.closed:
            return False
        if not _has_input(self.connection.fileno()):
            return True
        return super().is_usable()
