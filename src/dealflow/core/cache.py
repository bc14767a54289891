"""A tiny per-process cache for small configuration tables read on every request.

Sharing defaults, lead statuses and opportunity stages change rarely and are read by
almost every write. Each process keeps them for a few seconds: a change shows at once in
the process that made it (the writing service calls `forget`) and within `seconds`
everywhere else.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

Value = TypeVar("Value")

_ALL: list[TimedCache] = []


class TimedCache(Generic[Value]):
    """The value `load()` returns, reloaded when older than `seconds`."""

    def __init__(self, load: Callable[[], Value], seconds: float = 30.0) -> None:
        self._load = load
        self._seconds = seconds
        self._lock = threading.Lock()
        self._loaded_at = float("-inf")
        self._value: Value | None = None
        _ALL.append(self)

    def get(self) -> Value:
        with self._lock:
            if time.monotonic() - self._loaded_at > self._seconds:
                self._value = self._load()
                self._loaded_at = time.monotonic()
            return self._value  # type: ignore[return-value]

    def find(self, matches: Callable[[Any], bool]) -> Any | None:
        """The first cached item that matches; reloaded once first if none does.

        The reload lets a process see at once a row another process just added.
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
            self._loaded_at = float("-inf")


def forget_all() -> None:
    """Drop every cached table (tests do this between tests)."""
    for cache in _ALL:
        cache.forget()
