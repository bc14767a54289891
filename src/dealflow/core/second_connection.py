"""A second connection to the default database, for a pass that splits each of its
batches' writes over two server processes (automation's bulk assignment).

PostgreSQL runs one statement of one connection on one core. An UPDATE of many lead rows
is mostly the server's work (each new row version enters every index of the table), so
two connections each writing half of a batch take about half the time on a machine with
two cores or more (docs/benchmarks.md, "Assignment on two connections").

Django keeps one connection per thread, so the second connection is the connection of a
thread of its own: `run(function, *arguments)` runs a function there and returns its
Future. Its transaction spans several calls, from `begin()` to `commit()` or
`rollback()`, so the two halves of a batch are two transactions, committed one after the
other: a caller must be able to live with one half committed and the other not (each
half consistent on its own), and must take its locks in an order that cannot wait on the
other half (the server sees two unrelated transactions: a cycle through this process
would never be detected as a deadlock).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any, TypeVar

from django.db import connection, transaction

Result = TypeVar("Result")


class SecondConnection:
    """The default database's connection of one worker thread (see the module's text).

    Use as a context manager: leaving it rolls back a transaction still open, then closes
    the connection and ends the thread."""

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="second-connection")
        self._open = False

    def __enter__(self) -> SecondConnection:
        return self

    def run(self, function: Callable[..., Result], *arguments: Any) -> Future[Result]:
        """Run `function(*arguments)` on the second connection; its Future."""
        return self._thread.submit(function, *arguments)

    def begin(self) -> None:
        """Start a transaction that the calls after it share (autocommit off)."""
        self.run(transaction.set_autocommit, False).result()
        self._open = True

    def commit(self) -> None:
        """Commit the open transaction (raises what the commit raised: the transaction is
        then rolled back)."""
        self.commit_soon().result()

    def commit_soon(self) -> Future[None]:
        """Start committing the open transaction; the Future of the commit (its result
        raises what the commit raised: the transaction is then rolled back). Lets the
        caller commit its own transaction meanwhile."""
        self._open = False
        return self.run(_end_transaction, True)

    def rollback(self) -> None:
        """Roll the open transaction back; nothing when none is open."""
        if self._open:
            self._open = False
            self.run(_end_transaction, False).result()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self.rollback()
        finally:
            self.run(_close).result()
            self._thread.shutdown()


def _close() -> None:
    """In the second connection's thread: close its connection (`connection` is looked
    up there, in the thread's own connections)."""
    connection.close()


def _end_transaction(commit: bool) -> None:
    """In the second connection's thread: commit or roll back, then autocommit again
    (rolled back if the commit failed)."""
    try:
        if commit:
            connection.commit()
        else:
            connection.rollback()
    except BaseException:
        connection.rollback()
        raise
    finally:
        transaction.set_autocommit(True)
