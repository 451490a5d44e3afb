"""Starting the window: open the workstation, log in, show the workbench."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication, QDialog, QMessageBox

from app.config import ConfigError
from app.services.accounts import ClerkSession
from app.storage.db import DatabaseError
from app.workstation import Workstation, open_workstation
from ui.login import ChangePasswordDialog, LoginDialog
from ui.main_window import MainWindow
from ui.style import apply_style


def log_in(station: Workstation) -> ClerkSession | None:
    """Login, then the forced password change if the account still has its first one."""
    login = LoginDialog(station.accounts, station.settings.site_name)
    if login.exec() != QDialog.DialogCode.Accepted or login.session is None:
        return None
    session = login.session
    if session.must_change_password:
        change = ChangePasswordDialog(station.accounts, session, forced=True)
        if change.exec() != QDialog.DialogCode.Accepted or change.session is None:
            return None
        session = change.session
    return session


def run() -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setApplicationName("一窗通")
    apply_style(app)
    try:
        station = open_workstation()
    except (ConfigError, DatabaseError, OSError) as exc:
        QMessageBox.critical(None, "一窗通无法启动", f"{exc}\n\n可运行 yichuang doctor 检查本机环境。")
        return 2
    try:
        session = log_in(station)
        if session is None:
            return 0
        window = MainWindow(station, session)
        window.showMaximized()  # a window PC does nothing else all day
        return app.exec()
    finally:
        station.close()
