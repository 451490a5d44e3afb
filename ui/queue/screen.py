"""A hall screen's program (the kiosk, the evaluator): no display, exit 2 with one line;
open the installation, show the view full-screen until staff close it, wait for running
operations, close the installation."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QGuiApplication, QScreen
from PySide6.QtWidgets import QWidget

if TYPE_CHECKING:
    from app.workstation import Workstation


def run_screen(directory: Path | None, name: str,
               make_view: Callable[[Workstation], QWidget | str]) -> int:
    """``make_view`` returns the view, or why it cannot be shown here (one Chinese line,
    exit status 2: a setting to put right). Exit 0 when the view was closed."""
    from ui.launcher import NO_DISPLAY, NO_DISPLAY_STATUS, has_display

    if not has_display():
        print(NO_DISPLAY, file=sys.stderr)
        return NO_DISPLAY_STATUS
    from app.workstation import open_workstation
    from ui import ops
    from ui.app import END_WAIT_MS, cannot_open, start_application

    app = start_application()
    app.setApplicationName(name)
    try:
        station = open_workstation(directory)   # before any window: nothing to keep responsive
    except Exception as exc:
        return cannot_open(exc)
    try:
        view = make_view(station)
        if isinstance(view, str):
            print(view, file=sys.stderr)
            return 2
        show_full_screen(view)
        return app.exec()
    finally:
        ops.wait_idle(END_WAIT_MS)
        station.close()


def show_full_screen(view: QWidget, screen: QScreen | None = None) -> None:
    """``view`` full screen on ``screen`` (the primary one by default). The geometry is
    set as well: with no window manager to honour the full-screen request (a kiosk PC
    started straight into X, Xvfb) the window would keep its own size."""
    screen = screen or QGuiApplication.primaryScreen()
    if screen is not None:
        view.setScreen(screen)
        view.setGeometry(screen.geometry())
    view.showFullScreen()
