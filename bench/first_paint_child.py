"""Child process of bench/startup.py: start like the real program, report first paint.

``python -m bench.first_paint_child login|main|bare`` opens the workstation in
``YICHUANG_HOME`` and shows either the login dialog (the first window a clerk sees) or
the workbench (logged in programmatically, password hashing included), then prints the
wall-clock time of the first paint event and quits. ``bare`` shows an empty QWidget and
imports nothing of ours: the floor a PySide6 program cannot go below on this machine.
"""

from __future__ import annotations

import sys
import time

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget


class _FirstPaint(QObject):
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            print(f"PAINT {time.time():.6f}", flush=True)
            watched.removeEventFilter(self)
            QTimer.singleShot(0, QApplication.quit)
        return False


def main() -> int:
    which = sys.argv[1] if len(sys.argv) > 1 else "main"
    app = QApplication(sys.argv)
    probe = _FirstPaint()
    if which == "bare":
        bare = QWidget()
        bare.installEventFilter(probe)
        bare.show()
        return app.exec()
    # Imported after the bare case returns: the comparison counts our imports.
    from app.workstation import open_workstation
    from ui.widgets.style import apply_style
    from ui.workbench.login import LoginDialog
    from ui.workbench.main_window import MainWindow

    apply_style(app)
    station = open_workstation()
    if which == "login":
        window: QWidget = LoginDialog(station.accounts, station.settings.site_name)
    else:
        session = station.accounts.login(sys.argv[2], sys.argv[3])
        window = MainWindow(station, session)
    window.installEventFilter(probe)
    window.show()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
