"""Per-process caches of the small configuration tables nearly every request reads.

Sharing defaults, lead statuses, opportunity stages and picklist values change rarely and
are read by almost every request. Every service that changes one also replaces the
configuration version (the one row of `ConfigurationVersion`) in its own transaction
(`configuration_changed`). A cache remembers the version it was loaded at and reloads
when the version the current request read is another, so a change shows on the very
next request of every process, and nothing is ever kept for a time.

A request reads the version once: the API in the token's own statement (no extra round
trip, see people/selectors.py), other requests when they first use a cache. Outside
requests (commands, shells, jobs) it is read once per transaction, and on every use
outside a transaction.
"""

from __future__ import annotations

import secrets
import threading
import weakref
from collections.abc import Callable
from contextvars import ContextVar
from functools import cache
from typing import Any, Generic, TypeVar

from django.core.signals import request_finished, request_started
from django.db import DEFAULT_DB_ALIAS, connections

from dealflow.core.models import ConfigurationVersion
from dealflow.core.rows import prepared_cursor

Value = TypeVar("Value")
Version = int | None  # None when the row is missing (a flushed test database)

_ALL: list[ConfigurationCache[Any]] = []
_NOT_LOADED: Any = object()
_UNREAD: Any = object()


class _RequestReading:
    """The configuration version the current request read (`_UNREAD` until it does)."""

    __slots__ = ("version",)

    def __init__(self) -> None:
        self.version: Any = _UNREAD


class _TransactionEnd:
    """Registered as a commit hook and referenced only weakly from here: Django drops its
    hooks when the transaction (or the savepoint it was registered in) commits or rolls
    back, and the weak reference dies with them."""

    ended = False

    def __call__(self) -> None:
        self.ended = True


Held = tuple["weakref.ref[_TransactionEnd]", Version]

_request: ContextVar[_RequestReading | None] = ContextVar("configuration_request", default=None)
# Outside requests: the version read in the current transaction.
_transaction: ContextVar[Held | None] = ContextVar("configuration_transaction", default=None)
# The version the current transaction changed the configuration to, until it ends.
_changed: ContextVar[Held | None] = ContextVar("configuration_changed", default=None)


@cache
def version_sql(vendor: str) -> str:
    """The statement reading the configuration version; the token lookup embeds it."""
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    return (
        f"SELECT {quote('version')} FROM {quote(ConfigurationVersion._meta.db_table)} "
        f"WHERE {quote('id')} = 1"
    )


def _read_version() -> Version:
    database = connections[DEFAULT_DB_ALIAS]
    with prepared_cursor(database) as cursor:
        cursor.execute(version_sql(database.vendor))
        row = cursor.fetchone()
    return row[0] if row else None


def _until_transaction_ends(version: Version) -> Held | None:
    """`version`, held until the current transaction or savepoint ends; None outside one."""
    database = connections[DEFAULT_DB_ALIAS]
    if not database.in_atomic_block:
        return None
    end = _TransactionEnd()
    database.on_commit(end)
    return weakref.ref(end), version


def _still_held(held: Held | None) -> Any:
    """The held version while its transaction lasts, else `_UNREAD`."""
    if held is None:
        return _UNREAD
    end = held[0]()
    return _UNREAD if end is None or end.ended else held[1]


def current_version() -> Version:
    """The configuration version the caches must have been loaded at to be used now."""
    version = _still_held(_changed.get())  # this transaction's own change comes first
    if version is not _UNREAD:
        return version
    reading = _request.get()
    if reading is not None and reading.version is not _UNREAD:
        return reading.version
    if reading is None:
        version = _still_held(_transaction.get())
        if version is not _UNREAD:
            return version
    version = _read_version()
    if reading is not None:
        reading.version = version
    else:
        _transaction.set(_until_transaction_ends(version))
    return version


def version_read(version: Version) -> None:
    """Note the version the request's token statement read; its caches use that one."""
    reading = _request.get()
    if reading is not None:
        reading.version = version


def configuration_changed() -> None:
    """Replace the configuration version, in the caller's transaction.

    Every service that changes a cached table calls it. The new version is random, not
    the old one plus one, so a rolled-back change's version never comes back with other
    contents. This thread uses it until the transaction ends, then reads the version again.
    """
    version = secrets.randbits(63)
    if not ConfigurationVersion.objects.filter(pk=1).update(version=version):
        ConfigurationVersion.objects.create(pk=1, version=version)  # a flushed test database
    _changed.set(_until_transaction_ends(version))
    reading = _request.get()
    if reading is not None:
        reading.version = _UNREAD


def _request_started(**kwargs: Any) -> None:
    _request.set(_RequestReading())


def _request_finished(**kwargs: Any) -> None:
    _request.set(None)


request_started.connect(_request_started, dispatch_uid="dealflow.core.cache.request_started")
request_finished.connect(_request_finished, dispatch_uid="dealflow.core.cache.request_finished")


class ConfigurationCache(Generic[Value]):
    """The value `load()` returns, reloaded when the configuration version changes."""

    def __init__(self, load: Callable[[], Value]) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._version: Any = _NOT_LOADED
        self._value: Value | None = None
        _ALL.append(self)

    def get(self) -> Value:
        version = current_version()
        with self._lock:
            if self._version is _NOT_LOADED or self._version != version:
                self._value = self._load()
                self._version = version
            return self._value  # type: ignore[return-value]

    def find(self, matches: Callable[[Any], bool]) -> Any | None:
        """The first cached item that matches; reloaded once first if none does.

        The reload finds a row committed after this request read the version (a lead
        another process just gave a new status, say).
        """
        for attempt in range(2):
            for item in self.get():  # type: ignore[attr-defined]
                if matches(item):
                    return item
            if attempt == 0:
                self.forget()
        return None

    def forget(self) -> None:
        with self._lock:
            self._version = _NOT_LOADED


def forget_all() -> None:
    """Drop every cached table and the versions this thread read (tests do this between
    tests: a request that raised into a test never finished)."""
    for cache_ in _ALL:
        cache_.forget()
    _request.set(None)
    _transaction.set(None)
    _changed.set(None)
