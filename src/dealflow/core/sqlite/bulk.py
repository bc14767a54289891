"""SQLite connection settings for a pass that writes many batches (assignment, scoring).

At SQLite's defaults (2 MB of page cache, a WAL checkpoint at each commit past 1,000
pages) a pass that rewrites many lead rows read most pages of the leads' indexes back
from the file, and copied them into it again, at every batch's commit: 1M leads with
their indexes are 1.5 GB. For the pass, the page cache is BULK_CACHE_KIB and the WAL is
checkpointed every BULK_CHECKPOINT_PAGES pages; the connection's own settings are put
back after it, then the WAL is checkpointed once (PASSIVE: nobody is waited for), so the
pass pays for its writes, unless it ran inside a caller's transaction (an import's batch).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

BULK_CACHE_KIB = 131_072  # 128 MiB
BULK_CHECKPOINT_PAGES = 32_768  # 128 MiB of 4 KiB pages


@contextmanager
def sqlite_bulk_writes() -> Iterator[None]:
    """The settings above for the duration of the `with` block (nothing on another
    database)."""
    if connection.vendor != "sqlite":
        yield
        return
    wanted = {"cache_size": -BULK_CACHE_KIB, "wal_autocheckpoint": BULK_CHECKPOINT_PAGES}
    previous = {}
    with connection.cursor() as cursor:
        for name, value in wanted.items():  # names and integers from code, not input
            cursor.execute(f"PRAGMA {name}")
            (previous[name],) = cursor.fetchone()
            cursor.execute(f"PRAGMA {name} = {int(value):d}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for name, value in previous.items():
                cursor.execute(f"PRAGMA {name} = {int(value):d}")
            if not connection.in_atomic_block:
                cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
