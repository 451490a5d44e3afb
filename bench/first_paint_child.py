"""Child process of bench/startup.py: start like the real program, report first paint.

``python -m bench.first_paint_child login|main|bare`` on the data directory
``YICHUANG_HOME``:

- ``login`` runs the program's own start (``ui.app.run``: the instance guard, Qt in
  Chinese, the login painted while the workstation opens behind it) and prints the
  wall-clock time of the login's first paint (``PAINT``) and of the moment the
  workstation is open and a login could run (``READY``); then it quits as a clerk
  pressing 退出 would, which closes the workstation.
- ``main USER PASSWORD`` opens the workstation, logs in programmatically (password
  hashing included) and shows the workbench: the non-interactive sum of the start.
- ``bare`` shows an empty QWidget and imports nothing of ours: the floor a PySide6
  program cannot go below on this machine.
"""

from __future__ import annotations

import sys
import time

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QWidget


def _say(what: str) -> None:
    print(f"{what} {time.time():.6f}", flush=True)


class _FirstPaint(QObject):
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            _say("PAINT")
            watched.removeEventFilter(self)
            QTimer.singleShot(0, QApplication.quit)
        return False


class _LoginProbe(QObject):
    """Application-wide: the first paint of the program's login, then its readiness."""

    def __init__(self, app: QApplication) -> None:
        super().__init__()
        # Imported by ui.app anyway; here first, to recognise the login when it paints.
        from ui.workbench.login import LoginDialog

        self._app = app
        self._login_type = LoginDialog

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and isinstance(watched, self._login_type):
            _say("PAINT")
            self._app.removeEventFilter(self)
            watched.ready.connect(lambda: self._ready(watched))
        return False

    def _ready(self, login: QDialog) -> None:
        _say("READY")
        QTimer.singleShot(0, login.reject)   # 退出: the program closes the workstation


def main() -> int:
    which = sys.argv[1] if len(sys.argv) > 1 else "main"
    app = QApplication(sys.argv)
    if which == "bare":
        bare = QWidget()
        painted = _FirstPaint()
        bare.installEventFilter(painted)
        bare.show()
        return app.exec()
    # Imported after the bare case returns: the comparison counts our imports.
    if which == "login":
        login = _LoginProbe(app)
        app.installEventFilter(login)
        from ui.app import run

        return run()
    from app.workstation import open_workstation
    from ui.widgets.style import apply_style
    from ui.workbench.main_window import MainWindow

    apply_style(app)
    station = open_workstation()
    session = station.accounts.login(sys.argv[2], sys.argv[3])
    window = MainWindow(station, session)
    workbench_painted = _FirstPaint()
    window.installEventFilter(workbench_painted)
    window.show()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
