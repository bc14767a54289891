"""Django's PostgreSQL backend, with two savings on the statements every request runs.

- A health check that costs no round trip. With CONN_HEALTH_CHECKS, Django checks a
  reused connection before each request's first query by running `SELECT 1`: a third
  statement on an API read that otherwise needs two. An idle connection has nothing to
  read until the server ends it (a restart, an administrator's terminate, an idle
  timeout), when the server sends its error and closes the socket. So a socket with
  nothing to read is healthy; only when something arrived does this ask the server.
- `prepared_cursor()`: statements PostgreSQL parses and plans once per connection. The
  token lookup and reads by primary key run on almost every request, and planning them
  costs PostgreSQL more than running them (140 us against 60 us for a lead by primary
  key, measured with bench-style data). Only these fixed statements are prepared:
  Django leaves preparing off, because a generic plan would serve list queries whose
  best plan depends on the filter's value. Behind a pooler that cannot keep prepared
  statements (PgBouncer before 1.21 in transaction mode), set
  DEALFLOW_PREPARED_STATEMENTS=off.
"""

from __future__ import annotations

import select
import sys
from typing import Any

from django.conf import settings
from django.db.backends.postgresql import base, operations


def _has_input(file_descriptor: int) -> bool:
    poller = select.poll()
    poller.register(file_descriptor, select.POLLIN)
    return bool(poller.poll(0))


class PreparingCursor(base.ServerBindingCursor):
    """Sends parameters apart from the SQL and prepares each statement on first use."""

    def execute(self, query: Any, params: Any = None, **options: Any) -> Any:
        return super().execute(query, params, **{**options, "prepare": True})


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor: Any, sql: str, params: Any) -> str | None:
        if isinstance(cursor, PreparingCursor):  # psycopg keeps no text of a prepared run
            return self.compose_sql(sql, params)
        return super().last_executed_query(cursor, sql, params)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        if params["prepare_threshold"] is None and settings.DEALFLOW_PREPARED_STATEMENTS:
            # psycopg ignores prepare=True while the threshold is None (Django's
            # default). A threshold no count reaches keeps preparing explicit: Django's
            # own cursors bind parameters on the client and never prepare anyway.
            params["prepare_threshold"] = sys.maxsize
        return params

    def is_usable(self) -> bool:
        if self.connection is None or self.connection.closed:
            return False
        if not _has_input(self.connection.fileno()):
            return True
        return super().is_usable()

    def prepared_cursor(self) -> Any:
        """A cursor for a fixed statement run on most requests, as `cursor()` makes them
        (health check, error wrapping, query logging) but preparing what it runs."""
        if not settings.DEALFLOW_PREPARED_STATEMENTS:
            return self.cursor()
        self.close_if_health_check_failed()
        self.ensure_connection()
        with self.wrap_database_errors:
            return self._prepare_cursor(PreparingCursor(self.connection))
