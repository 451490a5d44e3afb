"""The one place work leaves the Qt main thread.

``run_in_background(parent, fn, on_done, on_error)`` runs ``fn`` on the global thread
pool and delivers its result (or exception) back on the main thread through a queued
signal, so widgets never create threads and never block on slow work (password hashing,
imports, later printing and network).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class _Relay(QObject):
    done = Signal(object)
    failed = Signal(object)


class _Job(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self._fn = fn
        self._relay = relay

    def run(self) -> None:
        try:
            result = self._fn()
        except Exception as exc:  # delivered to on_error on the main thread
            self._relay.failed.emit(exc)
        else:
            self._relay.done.emit(result)


_live: set[_Relay] = set()


def run_in_background(parent: QObject, fn: Callable[[], Any],
                      on_done: Callable[[Any], None],
                      on_error: Callable[[Exception], None]) -> None:
    """Run ``fn()`` off the main thread; call ``on_done``/``on_error`` on the main thread.

    The callbacks are skipped if ``parent`` was destroyed meanwhile (a closed dialog).
    """
    # The relay has no Qt parent so it outlives a closed dialog until the job reports;
    # the module-level set keeps it from being garbage-collected before then.
    relay = _Relay()
    _live.add(relay)

    def finish(callback: Callable[[Any], None], value: Any) -> None:
        _live.discard(relay)
        relay.deleteLater()
        if shiboken6.isValid(parent):
            callback(value)

    relay.done.connect(lambda value: finish(on_done, value))
    relay.failed.connect(lambda exc: finish(on_error, exc))
    QThreadPool.globalInstance().start(_Job(fn, relay))
