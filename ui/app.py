"""Starting the window: one per data directory, Qt in Chinese, log in, show the workbench.

The login paints first; the workstation opens behind it (:mod:`ui.workbench.opening`).
So this module, and what it imports at its top, stay clear of SQLAlchemy, the services
and the workbench: they are imported on the worker thread that opens the workstation, or
once the clerk has logged in (a test checks it).
"""

from __future__ import annotations

import enum
import getpass
import hashlib
import os
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtNetwork import QAbstractSocket, QLocalServer, QLocalSocket
from PySide6.QtWidgets import QApplication, QDialog, QMainWindow, QMessageBox, QWidget

from app.config import ConfigError, data_dir
from ui import ops
from ui.qt_chinese import install_translations
from ui.widgets.style import apply_style
from ui.workbench.login import ChangePasswordDialog, LoginDialog
from ui.workbench.opening import WorkstationOpening

if TYPE_CHECKING:
    from app.services.accounts import ClerkSession
    from app.workstation import Workstation

# How long a second launch waits for the first window to answer. Generous: the first
# one may still be opening its database (a first start seeds the catalogue).
HANDOVER_TIMEOUT_MS = 10_000
# How long the end of the program waits for work still running (the login's; the
# workbench waits for its own when it closes). Not imported from the workbench: its
# module is not loaded before the clerk has logged in.
END_WAIT_MS = 30_000
_RAISE = b"raise\n"
_RAISED = b"ok\n"


# ---- one window per data directory -------------------------------------------------


def instance_name(directory: Path, window: str = "") -> str:
    """The local server name of the window working on ``directory`` (as ``window``, when
    one install serves several windows: each has its own workbench).

    The same directory spelt differently (a symlink, ``..``, a trailing slash) gives the
    same name. The OS user is part of it: the name is a socket file in the shared
    temporary directory (a named pipe on Windows), and another user's window could be
    neither asked nor replaced.
    """
    path = os.path.normcase(os.path.realpath(directory))
    try:
        user = getpass.getuser()
    except Exception:   # no user name in the environment or the password database
        user = str(os.getuid()) if hasattr(os, "getuid") else ""
    key = f"{user}\0{path}" + (f"\0{window}" if window else "")
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return f"yichuang-{digest}"


def own_window(directory: Path, window: str | None) -> str:
    """The window a workbench needs a name of its own for: "" for the install's own
    (``[terminal] window``: ``yichuang`` and ``yichuang --window 1`` are the same
    workbench), else ``window``. Settings are read only when a window was given."""
    if not window:
        return ""
    from app.config import ConfigError, load_settings

    try:
        default = load_settings(directory).window
    except ConfigError:
        return window   # the opening says what is wrong with the settings
    return "" if window == default else window


class Handover(enum.Enum):
    """What :meth:`InstanceGuard.claim` found."""

    OWNER = "owner"            # this process is the window for the directory
    UNGUARDED = "unguarded"    # no server could be set up: run anyway, unguarded
    RAISED = "raised"          # another window answered and came to the front
    SILENT = "silent"          # another window holds the name but did not answer


def ask_running_window(name: str, timeout_ms: int = HANDOVER_TIMEOUT_MS) -> Handover | None:
    """Ask the window listening on ``name`` to come to the front.

    RAISED when it answered, SILENT when it took the connection but never answered,
    None when nobody listens (no window, or a socket file left by a killed one).
    Blocking: for a process whose own event loop does not run yet.
    """
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(timeout_ms):
        return None
    socket.write(_RAISE)
    socket.waitForBytesWritten(timeout_ms)
    answer = b""
    while not answer.endswith(b"\n") and socket.waitForReadyRead(timeout_ms):
        answer += bytes(socket.readAll().data())
    socket.disconnectFromServer()
    return Handover.RAISED if answer == _RAISED else Handover.SILENT


class InstanceGuard(QObject):
    """Holds the directory's local server name for as long as the window runs; a
    second launch on the same directory asks this one to come to the front instead
    of opening a second login."""

    activated = Signal()   # another launch asked for this window

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        # No access options: with them Qt renames its socket over an existing one, so a
        # second launch would take the name from a live window instead of failing.
        self._server = QLocalServer(self)
        self._server.newConnection.connect(self._accept)

    def claim(self, timeout_ms: int = HANDOVER_TIMEOUT_MS) -> Handover:
        """Hand over to a running window, or become the one."""
        answer = ask_running_window(self.name, timeout_ms)
        if answer is not None:
            return answer
        if self._server.listen(self.name):
            return Handover.OWNER
        if self._server.serverError() != QAbstractSocket.SocketError.AddressInUseError:
            return Handover.UNGUARDED   # e.g. no writable temp dir: better than no window
        # The name is taken: by a window that started at the same moment (ask again), or
        # by a socket file a killed window left behind, which nobody answers on. (Two
        # launches racing over such a file can still both start: rare and harmless.)
        answer = ask_running_window(self.name, timeout_ms)
        if answer is not None:
            return answer
        QLocalServer.removeServer(self.name)
        return Handover.OWNER if self._server.listen(self.name) else Handover.UNGUARDED

    def close(self) -> None:
        self._server.close()

    def _accept(self) -> None:
        while (socket := self._server.nextPendingConnection()) is not None:
            socket.setParent(self)
            socket.readyRead.connect(partial(self._read, socket))
            socket.disconnected.connect(socket.deleteLater)
            self._read(socket)   # what arrived before readyRead was connected

    def _read(self, socket: QLocalSocket) -> None:
        if not socket.canReadLine():
            return
        line = bytes(socket.readLine().data())
        if line == _RAISE:
            self.activated.emit()
            socket.write(_RAISED)
            socket.flush()
        socket.disconnectFromServer()


def bring_to_front() -> None:
    """Show the running window on top: a dialog in front (the login, a message) above
    the workbench; a minimized workbench restored. Where the window manager refuses to
    hand over the focus, the taskbar entry at least flashes."""
    windows: list[QWidget] = [w for w in QApplication.topLevelWidgets()
                              if isinstance(w, QMainWindow) and w.isVisible()]
    modal = QApplication.activeModalWidget()
    if modal is not None:
        windows.append(modal)
    for window in windows:
        if window.isMinimized():
            window.setWindowState(window.windowState() & ~Qt.WindowState.WindowMinimized)
        window.show()
        window.raise_()
        window.activateWindow()
        QApplication.alert(window)


# ---- start-up ------------------------------------------------------------------------


def log_in(station: Workstation) -> ClerkSession | None:
    """Login against a workstation already open, then the forced password change if the
    account still has its first one."""
    return log_in_while_opening(WorkstationOpening.of(station))


def log_in_while_opening(opening: WorkstationOpening) -> ClerkSession | None:
    """The login shown at once, the workstation opening behind it from its first paint;
    the clerk types meanwhile. Then the forced password change if the account still has
    its first one. None when the clerk quits — or when the opening failed: the login
    closes and ``opening.error`` says why."""
    if opening.error is not None:
        return None
    login = LoginDialog(None)
    if opening.station is not None:
        _attach(login, opening.station)
    # Disconnected below: a late signal must not reach a dialog already gone.
    connections = [opening.opened.connect(partial(_attach, login)),
                   opening.failed.connect(login.reject)]
    opening.start_after_paint(login)
    try:
        accepted = login.exec() == QDialog.DialogCode.Accepted
    finally:
        for connection in connections:
            QObject.disconnect(connection)
    if not accepted or login.session is None or opening.station is None:
        return None
    return _first_password_changed(opening.station, login.session)


def _attach(login: LoginDialog, station: Workstation) -> None:
    login.attach(station.accounts, station.settings.site_name)


def _first_password_changed(station: Workstation, session: ClerkSession) -> ClerkSession | None:
    if not session.must_change_password:
        return session
    change = ChangePasswordDialog(station.accounts, session, forced=True)
    if change.exec() != QDialog.DialogCode.Accepted or change.session is None:
        return None
    return change.session


def open_for_window(directory: Path | None = None, window: str | None = None) -> Workstation:
    """The workstation as the window opens it; runs on the opening's worker thread,
    where the core (SQLAlchemy, the services, migrations…) is imported."""
    from app.workstation import open_workstation
    from ui.documents.spooler import qt_spooler

    # System printers print through Qt in the window (the CLI keeps CUPS).
    return open_workstation(directory, system_spooler=qt_spooler, window=window)


def cannot_open(exc: Exception) -> int:
    """Say why the installation could not be opened, as the exit status 2; an error
    that is not about the installation goes on up (a traceback and the log, as before)."""
    # Imported here: on the worker thread that failed, or now (the core is not loaded
    # before). IntegrityAlarm is a DatabaseError.
    from app.storage.db import DatabaseError

    if not isinstance(exc, (ConfigError, DatabaseError, OSError)):
        raise exc
    QMessageBox.critical(None, "一窗通无法启动", f"{exc}\n\n可运行 yichuang doctor 检查本机环境。")
    return 2


def start_application() -> QApplication:
    """The application object, named, styled and speaking Chinese."""
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setApplicationName("一窗通")
    install_translations(app)
    apply_style(app)
    return app


def run(window: str | None = None) -> int:
    """The window's life; the exit status: 0 closed normally (or handed over to the
    window already open on this data directory — for this ``window``, when given),
    1 that window did not answer, 2 the installation could not be opened."""
    app = start_application()
    directory = data_dir()
    guard = InstanceGuard(instance_name(directory, own_window(directory, window)), app)
    handover = guard.claim()
    if handover is Handover.RAISED:
        return 0
    if handover is Handover.SILENT:
        QMessageBox.warning(
            None, "一窗通已经打开",
            f"本机已有一个一窗通窗口在使用数据目录：\n{directory}\n\n"
            "它暂时没有响应（可能正在启动或处理中）。请稍候，在任务栏中切换到那个窗口；"
            "不要再打开第二个。")
        return 1
    guard.activated.connect(bring_to_front)
    try:
        return open_and_log_in(app, WorkstationOpening(
            lambda: open_for_window(window=window)))
    finally:
        guard.close()   # at once: the next launch must not find a name nobody answers


def open_and_log_in(app: QApplication, opening: WorkstationOpening) -> int:
    """Log in while ``opening`` runs, then the workbench until it is closed; the exit
    status. Whatever happens, the workstation is closed before this returns."""
    try:
        session = log_in_while_opening(opening)
        if opening.error is not None:
            return cannot_open(opening.error)
        if session is None or opening.station is None:
            return 0
        # Imported after the login, which must not wait for the workbench's modules.
        from ui.workbench.main_window import MainWindow

        window = MainWindow(opening.station, session)
        window.showMaximized()  # a window PC does nothing else all day
        return app.exec()
    finally:
        # The window waited already; this covers work started outside it (the login's).
        ops.wait_idle(END_WAIT_MS)
        opening.close()   # an opening still under way (the clerk quit early) ends first
