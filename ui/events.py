"""The core's change notifications as Qt signals on the main thread.

Modelled on Electrum's QtEventListener: the core publishes plain events from any thread
(:mod:`app.notifications`); one bridge object per window re-emits them as typed signals
through a queued connection, so panels connect ordinary slots and never see a worker
thread. The bridge also runs the :class:`~app.notifications.DatabaseWatch` on a timer —
its query runs as a background operation, never on the GUI thread — so writes by
another process (the CLI) reach the panels the same way.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from app.notifications import (
    CaseChanged,
    CatalogueChanged,
    Change,
    ChangeHub,
    DatabaseChanged,
    DatabaseWatch,
    DocumentPrinted,
    QueueChanged,
    changes_of,
)
from app.storage.db import Database
from ui.ops import Operation

# How often another process's writes are looked for: one PRAGMA, off the GUI thread.
WATCH_INTERVAL_MS = 2000
log = logging.getLogger(__name__)


class ChangeEvents(QObject):
    case_changed = Signal(str)             # case id
    catalogue_changed = Signal()
    document_printed = Signal(str, str)    # case id, DocumentKind value
    database_changed = Signal()            # another connection committed: re-read
    queue_changed = Signal(str, str, str)  # ticket number, event kind, window
    _arrived = Signal(object)              # emitted on the publisher's thread

    def __init__(self, hub: ChangeHub, watch: DatabaseWatch | None = None,
                 parent: QObject | None = None, *, interval_ms: int = WATCH_INTERVAL_MS,
                 owns_watch: bool = False) -> None:
        super().__init__(parent)
        self._owns_watch = owns_watch
        self._arrived.connect(self._dispatch, Qt.ConnectionType.QueuedConnection)
        self._unsubscribe = hub.subscribe(self._arrived.emit)
        # A plain function, not a method: it still runs while the object is destroyed.
        self.destroyed.connect(self._unsubscribe)
        self._watch = watch
        self._checking: Operation[bool] | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check_now)
        if watch is not None:
            self._timer.start()
            self.check_now()   # the first check only records where the database stands

    @classmethod
    def watching(cls, db: Database, database_path: Path, parent: QObject, *,
                 interval_ms: int = WATCH_INTERVAL_MS) -> ChangeEvents:
        """The bridge of a window of its own (workbench, kiosk, hall display, evaluator):
        this process's changes and, every ``interval_ms``, other processes' commits. It
        owns its watch: :meth:`stop` closes it."""
        hub = changes_of(db)
        return cls(hub, DatabaseWatch(database_path, hub), parent, interval_ms=interval_ms,
                   owns_watch=True)

    def check_now(self) -> None:
        """Look for other processes' writes now (in the background)."""
        if self._watch is None or (self._checking is not None and not self._checking.done):
            return
        self._checking = Operation(self, self._watch.check, lambda _changed: None).failure(
            lambda exc: log.warning("数据库变更检查失败：%s", exc)).run()

    def stop(self) -> None:
        """No more signals: the window is closing."""
        self._timer.stop()
        self._unsubscribe()
        if self._owns_watch and self._watch is not None:
            self._watch.close()

    @Slot(object)
    def _dispatch(self, change: Change) -> None:
        match change:
            case CaseChanged(case_id):
                self.case_changed.emit(case_id)
            case CatalogueChanged():
                self.catalogue_changed.emit()
            case DocumentPrinted(case_id, kind):
                self.document_printed.emit(case_id, kind)
            case DatabaseChanged():
                self.database_changed.emit()
            case QueueChanged(number, kind, window):
                self.queue_changed.emit(number, kind, window)
