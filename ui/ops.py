"""Background operations: the one way work leaves the Qt main thread.

In the manner of Anki's QueryOp/CollectionOp::

    Operation(self, lambda: catalogue.item(code), self._show_item) \\
        .failure(self._not_found).run()

``work`` runs on this module's thread pool; ``success`` or ``failure`` then runs on the
main thread. Delivery is explicit: the worker emits a signal of a relay QObject that
lives on the main thread, connected to the relay's own slot with
``Qt.ConnectionType.QueuedConnection`` — the slot runs in the main thread's event loop
whatever PySide would do with a bare lambda. Callbacks are skipped when ``parent`` was
destroyed meanwhile (a closed dialog), or when the operation was cancelled.

Work that can report progress or stop part-way is made with :meth:`Operation.reporting`;
it receives a :class:`Reporter`. :func:`running` counts the operations started and not
yet delivered; the main window waits for it to reach zero (:func:`wait_idle`) before the
workstation's database engine is disposed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import shiboken6
from PySide6.QtCore import (
    QCoreApplication,
    QEventLoop,
    QObject,
    QRunnable,
    Qt,
    QThread,
    QThreadPool,
    QTimer,
    Signal,
    Slot,
)

T = TypeVar("T")
log = logging.getLogger(__name__)


class Cancelled(Exception):
    """Raised by :meth:`Reporter.check` once the operation was cancelled."""


@dataclass(frozen=True)
class ProgressUpdate:
    label: str
    done: int | None = None
    total: int | None = None


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    value: Any


class _Relay(QObject):
    """Carries one operation's results from the worker to the main thread."""

    finished = Signal(object)     # _Outcome
    progressed = Signal(object)   # ProgressUpdate

    def __init__(self, on_finished: Callable[[_Outcome], None],
                 on_progress: Callable[[ProgressUpdate], None]) -> None:
        super().__init__()
        self._on_finished = on_finished
        self._on_progress = on_progress
        # Queued explicitly: the worker emits, this object's thread (main) runs the slot.
        self.finished.connect(self._finish, Qt.ConnectionType.QueuedConnection)
        self.progressed.connect(self._progress, Qt.ConnectionType.QueuedConnection)

    @Slot(object)
    def _finish(self, outcome: _Outcome) -> None:
        self._on_finished(outcome)

    @Slot(object)
    def _progress(self, update: ProgressUpdate) -> None:
        self._on_progress(update)


class Reporter:
    """What reporting work gets: progress to the main thread, and the cancel flag."""

    def __init__(self, relay: _Relay, cancel: threading.Event) -> None:
        self._relay = relay
        self._cancel = cancel

    def report(self, label: str, done: int | None = None, total: int | None = None) -> None:
        self._relay.progressed.emit(ProgressUpdate(label, done, total))

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        """Stop here (raise :class:`Cancelled`) if the operation was cancelled."""
        if self._cancel.is_set():
            raise Cancelled


class _Job(QRunnable):
    def __init__(self, work: Callable[[], Any], relay: _Relay, cancel: threading.Event) -> None:
        super().__init__()
        self._work = work
        self._relay = relay
        self._cancel = cancel

    def run(self) -> None:
        outcome = _Outcome(False, Cancelled())
        try:
            if not self._cancel.is_set():   # cancelled while still queued: skip the work
                outcome = _Outcome(True, self._work())
        except Exception as exc:
            outcome = _Outcome(False, exc)
        finally:
            # Always: the running count drops only when this arrives.
            self._relay.finished.emit(outcome)


class _Tracker(QObject):
    """The operations started and not yet delivered (main thread only)."""

    idle = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.count = 0


_tracker: _Tracker | None = None
_pool: QThreadPool | None = None


def tracker() -> _Tracker:
    global _tracker
    if _tracker is None:
        _tracker = _Tracker()
    return _tracker


def _thread_pool() -> QThreadPool:
    # Our own pool, not the global one: waiting for it waits for our work only.
    global _pool
    if _pool is None:
        _pool = QThreadPool()
    return _pool


def running() -> int:
    """How many operations have started and not yet delivered their result."""
    return tracker().count


def wait_idle(timeout_ms: int) -> bool:
    """Run the event loop until no operation is running, at most ``timeout_ms``.

    True when idle. The loop runs so that results are delivered meanwhile (their
    callbacks run before the engine goes away, not after).
    """
    if running() == 0:
        return True
    loop = QEventLoop()
    tracker().idle.connect(loop.quit)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    tracker().idle.disconnect(loop.quit)
    return running() == 0


def _on_main_thread() -> bool:
    app = QCoreApplication.instance()
    return app is not None and QThread.currentThread() is app.thread()


class Operation(Generic[T]):
    """One piece of work off the main thread, its result back on it."""

    def __init__(self, parent: QObject, work: Callable[[], T],
                 success: Callable[[T], None]) -> None:
        self._setup(parent, lambda _reporter: work(), success)

    def _setup(self, parent: QObject, work: Callable[[Reporter], T],
               success: Callable[[T], None]) -> None:
        self._parent = parent
        self._work = work
        self._success = success
        self._failure: Callable[[Exception], None] | None = None
        self._on_progress: Callable[[ProgressUpdate], None] | None = None
        self._cancel = threading.Event()
        self._relay: _Relay | None = None
        self.done = False

    @classmethod
    def reporting(cls, parent: QObject, work: Callable[[Reporter], T],
                  success: Callable[[T], None]) -> Operation[T]:
        """An operation whose work takes a :class:`Reporter` (progress, cancellation)."""
        op = cls.__new__(cls)
        op._setup(parent, work, success)
        return op

    def failure(self, callback: Callable[[Exception], None]) -> Operation[T]:
        self._failure = callback
        return self

    def progress(self, callback: Callable[[ProgressUpdate], None]) -> Operation[T]:
        self._on_progress = callback
        return self

    def run(self) -> Operation[T]:
        """Start the work; returns self (to cancel it later)."""
        if not _on_main_thread():
            raise RuntimeError("operations are started from the Qt main thread")
        if self._relay is not None:
            raise RuntimeError("an operation runs once")
        relay = _Relay(self._finished, self._progressed)
        # Owned by Qt (a parent on the main thread), not by Python: the worker's last
        # reference may drop on its own thread after delivery, and a Python-owned relay
        # would then be deleted there, racing the deleteLater below (a crash, rarely).
        relay.setParent(tracker())
        self._relay = relay
        _live.add(self)   # the operation itself: kept until it delivers
        tracker().count += 1
        reporter = Reporter(relay, self._cancel)
        _thread_pool().start(_Job(lambda: self._work(reporter), relay, self._cancel))
        return self

    def cancel(self) -> None:
        """Neither callback will run; work that checks its Reporter stops early."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def _alive(self) -> bool:
        return not self._cancel.is_set() and shiboken6.isValid(self._parent)

    def _progressed(self, update: ProgressUpdate) -> None:
        if self._on_progress is not None and not self.done and self._alive():
            self._on_progress(update)

    def _finished(self, outcome: _Outcome) -> None:
        self.done = True
        _live.discard(self)
        if self._relay is not None:
            self._relay.deleteLater()
        t = tracker()
        t.count -= 1
        try:
            if not self._alive():
                return
            if outcome.ok:
                self._success(outcome.value)
            elif self._failure is not None:
                self._failure(outcome.value)
            else:
                log.error("后台操作失败", exc_info=outcome.value)
        finally:
            if t.count == 0:
                t.idle.emit()


_live: set[Operation[Any]] = set()
