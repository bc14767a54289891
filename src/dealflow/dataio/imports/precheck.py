"""The next batch's rows checked in a second process while this batch is written.

An import runs on one core: reading and checking a row in Python, then the database's
work. `Prechecker` forks a process that reads the same file from the same row and, for
each batch, runs the checks that need no database (`CompiledRows.pure_values`: text,
numbers, dates, checkboxes; the email's matching key; the record's duplicate keys),
one batch ahead of the writer. Everything that reads or writes the database stays in
the job's own process and transaction, so commits, resume after `kill -9` and revert
are exactly as without it: the second process writes nothing, and a row it refuses is
checked again by the writer (whose general path words the error report).

Used for files of at least MIN_BYTES, outside a transaction (a test's, or a caller's),
and not inside a daemonic process (a Celery prefork worker may not have children). If
the second process dies or falls out of step, the writer checks the rest itself.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import time
from pathlib import Path
from typing import Any

from django.db import connection

from dealflow.core.matching import email_key
from dealflow.dataio.imports.reader import Row, open_rows

ENABLED = True
MIN_BYTES = 4 << 20  # about 40,000 rows of ten columns
AHEAD = 2  # batches checked ahead of the writer (memory: AHEAD + 1 batches)
EMAIL_KEYED = ("Lead", "Contact")  # as writer.EMAIL_KEYED


def wanted(size: int) -> bool:
    """Whether a file of `size` bytes is checked in a second process, here and now."""
    return (
        ENABLED
        and size >= MIN_BYTES
        and not connection.in_atomic_block
        and not multiprocessing.current_process().daemon
    )


def _checked(compiled: Any, object_name: str, batch: list[Row]) -> list[Any]:
    """Per row: None (the writer checks it), or (pure values, duplicate keys or None,
    email matching keys)."""
    results: list[Any] = []
    email_keyed = object_name in EMAIL_KEYED
    for row in batch:
        pure = compiled.pure_values(row)
        if pure is None:
            results.append(None)
            continue
        key = email_key(pure.get("email") or "") if email_keyed else ""
        results.append((pure, compiled.blocking_keys(pure), [key] if key else []))
    return results


def _put(out: Any, parent: int, item: Any) -> None:
    """Put `item` for the writer. When the writer is gone (killed: its `kill -9` leaves
    this process to init), end at once: the queue's pipe is full and nobody reads it,
    so a normal exit would wait for it forever."""
    while True:
        try:
            out.put(item, timeout=1)
            return
        except queue.Full:
            if os.getppid() != parent:
                os._exit(0)


def _work(compiled: Any, path: str, dialect: Any, skip: int, size: int, out: Any) -> None:
    parent = os.getppid()
    object_name = compiled.object_def.name
    try:
        with open_rows(Path(path), dialect, skip=skip) as (_header, rows):
            batch: list[Row] = []
            for row in rows:
                batch.append(row)
                if len(batch) >= size:
                    _put(out, parent, (batch[0].number, _checked(compiled, object_name, batch)))
                    batch = []
            if batch:
                _put(out, parent, (batch[0].number, _checked(compiled, object_name, batch)))
        _put(out, parent, None)
    except Exception as error:  # the writer goes on alone
        _put(out, parent, ("failed", repr(error)))
    # Wait for the writer to end this process (Prechecker.close) or to die: returning
    # would wait for the queue's pipe to be read, which a dead writer never does.
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


class Prechecker:
    """The second process of one run of a job (see the module)."""

    def __init__(self, compiled: Any, path: Path, dialect: Any, skip: int, size: int) -> None:
        context = multiprocessing.get_context("fork")
        self.queue = context.Queue(maxsize=AHEAD)
        self.process = context.Process(
            target=_work,
            args=(compiled, str(path), dialect, skip, size, self.queue),
            daemon=True,
        )
        self.process.start()
        self.active = True

    def results(self, batch: list[Row]) -> list[Any] | None:
        """The checks of `batch` made ahead (one item a row), or None: check it here."""
        if not self.active or not batch:
            return None
        while True:
            try:
                item = self.queue.get(timeout=5)
                break
            except queue.Empty:
                if not self.process.is_alive():
                    self.close()
                    return None
        if not isinstance(item, tuple) or item[0] != batch[0].number or len(item[1]) != len(batch):
            self.close()  # ended, failed, or out of step: the writer checks the rest
            return None
        return item[1]

    def close(self) -> None:
        self.active = False
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(timeout=5)
        with contextlib.suppress(Exception):
            self.queue.close()
            self.queue.cancel_join_thread()
