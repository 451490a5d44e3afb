"""Reference data (catalogue, calendar) cached in memory, refreshed when it changes.

An administrator may import a new catalogue or next year's calendar from the CLI
while the window is open; the window must see it without a restart. A cheap
fingerprint query, run at most every few seconds, tells when to reload.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")
RECHECK_SECONDS = 2.0


class ReferenceCache(Generic[T]):
    def __init__(self, fingerprint: Callable[[], Hashable], load: Callable[[], T],
                 recheck_seconds: float = RECHECK_SECONDS) -> None:
        self._fingerprint = fingerprint
        self._load = load
        self._recheck = recheck_seconds
        self._lock = threading.Lock()
        self._value: T | None = None
        self._stamp: Hashable = None
        self._checked = 0.0

    def get(self) -> T:
        now = time.monotonic()
        with self._lock:
            if self._value is not None and now - self._checked < self._recheck:
                return self._value
        stamp = self._fingerprint()
        with self._lock:
            if self._value is not None and stamp == self._stamp:
                self._checked = now
                return self._value
        value = self._load()
        with self._lock:
            self._value, self._stamp, self._checked = value, stamp, now
        return value

    def expire(self) -> None:
        """Check the fingerprint at the next get (another process may have changed it)."""
        with self._lock:
            self._checked = 0.0

    def invalidate(self) -> None:
        """Forget the value (this process changed the data itself)."""
        with self._lock:
            self._value = None
