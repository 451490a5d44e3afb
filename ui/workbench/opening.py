"""Opening the workstation behind the login, so that the login is on screen at once.

Opening an installation (importing SQLAlchemy and the services, migrating, checking the
record against its anchors; at a first start, seeding the calendar and the catalogue)
takes about half a second on a normal morning and seconds on the first one. The clerk
needs longer than that to type a user name and a password, so the window paints its
login first and opens the workstation meanwhile, on an operation's worker thread.

This module imports nothing of the core: importing it costs the login nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer, Signal
from PySide6.QtWidgets import QWidget

from ui.ops import Operation

if TYPE_CHECKING:
    from app.workstation import Workstation

# Started at the login's first paint; this is only for a window that is never painted
# (shown minimized), which must still open its workstation.
START_ANYWAY_MS = 300


class _FirstPaint(QObject):
    """Calls back once, after the watched widget's first paint has been handled."""

    def __init__(self, widget: QWidget, callback: Callable[[], None]) -> None:
        super().__init__(widget)
        self._callback = callback
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            # Queued: the rest of the window paints and reaches the screen first, before
            # the worker starts competing for the interpreter.
            QTimer.singleShot(0, self._callback)
        return False


class WorkstationOpening(QObject):
    """One opening of the workstation, off the GUI thread.

    ``opener`` does the work (``open_workstation(...)``, imports included) on a worker
    thread; :attr:`opened` or :attr:`failed` is emitted on the main thread. Whatever the
    login does meanwhile, :meth:`close` leaves nothing open behind: it waits for an
    opening still under way and closes what it opened.
    """

    opened = Signal(object)     # the Workstation
    failed = Signal(object)     # the exception the opener raised
    finished = Signal()         # after either

    def __init__(self, opener: Callable[[], Workstation],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._opener = opener
        self.station: Workstation | None = None
        self.error: Exception | None = None
        self.started = False
        self.done = False

    @classmethod
    def of(cls, station: Workstation, parent: QObject | None = None) -> WorkstationOpening:
        """An opening that has already ended with ``station`` (opened by the caller)."""
        opening = cls(lambda: station, parent)
        opening.station = station
        opening.started = opening.done = True
        return opening

    def start(self) -> None:
        """Start opening now (once; later calls do nothing)."""
        if self.started:
            return
        self.started = True
        Operation(self, self._opener, self._opened).failure(self._failed).run()

    def start_after_paint(self, widget: QWidget) -> None:
        """Start once ``widget`` has painted for the first time (it must be shown to
        the clerk before the worker competes with it for the interpreter)."""
        _FirstPaint(widget, self.start)
        QTimer.singleShot(START_ANYWAY_MS, self, self.start)

    def wait(self) -> None:
        """Run the event loop until the opening has ended (started now if it was not)."""
        if self.done:
            return
        self.start()
        loop = QEventLoop()
        self.finished.connect(loop.quit)
        loop.exec()
        self.finished.disconnect(loop.quit)

    def close(self) -> None:
        """Close the workstation, after waiting for an opening still under way (it
        cannot be stopped half-way through a migration). Nothing is waited for if the
        opening never started."""
        if self.started:
            self.wait()
        else:
            self.started = self.done = True   # a start still pending must not open it
        if self.station is not None:
            self.station.close()
            self.station = None

    def _opened(self, station: Workstation) -> None:
        self.station = station
        self.done = True
        self.opened.emit(station)
        self.finished.emit()

    def _failed(self, exc: Exception) -> None:
        self.error = exc
        self.done = True
        self.failed.emit(exc)
        self.finished.emit()
