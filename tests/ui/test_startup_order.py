"""The login paints first; the workstation opens behind it (issue 9: cold start to login
paint ≤ 2.5× a bare PySide6 window).

Each opening here is held at its start by an Event, so that what the clerk sees while
the database is still opening is checked, not raced. Whatever goes wrong with the
installation is still said as before: the login closes, the reason is shown, status 2.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from app.services.accounts import DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD
from app.storage.files import InUse
from app.workstation import Workstation, open_workstation
from tests.support import accepted_case
from ui.app import log_in_while_opening, open_and_log_in, open_for_window
from ui.workbench.login import WAITING_FOR_DATABASE, ChangePasswordDialog, LoginDialog
from ui.workbench.opening import WorkstationOpening

NEW_PASSWORD = "Window2026a"
HOLD_S = 60   # an opening held longer than this gives up waiting: a failure, not a hang

IMPORTS_CHILD = """
import json, sys
import ui.app, ui.workbench.login, ui.workbench.opening
print(json.dumps(sorted(sys.modules)))
"""


class _Gate:
    """An opener held until released; it notes when it began and ended in ``order``."""

    def __init__(self, open_: Callable[[], Workstation], order: list[str]) -> None:
        self._open = open_
        self.order = order
        self.release = threading.Event()

    def __call__(self) -> Workstation:
        self.order.append("opening began")
        self.release.wait(HOLD_S)
        station = self._open()
        self.order.append("opened")
        return station


class _LoginPainted(QObject):
    """Application-wide: notes the first paint of a login dialog in ``order``."""

    def __init__(self, order: list[str]) -> None:
        super().__init__()
        self.order = order

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (event.type() == QEvent.Type.Paint and isinstance(watched, LoginDialog)
                and "login painted" not in self.order):
            self.order.append("login painted")
        return False


@pytest.fixture
def order() -> Iterator[list[str]]:
    seen: list[str] = []
    watch = _LoginPainted(seen)
    app = QApplication.instance()
    assert app is not None
    app.installEventFilter(watch)
    yield seen
    app.removeEventFilter(watch)


class _Drive:
    """Handles each modal dialog the program opens (it waits in exec()) once, by type,
    until every type was handled or :meth:`stop`. A failing handler closes its dialog,
    so that the test fails instead of hanging. Keep a reference while it drives: PySide
    holds the bound method a timer calls back weakly."""

    def __init__(self, handlers: dict[type[QWidget], Callable[[Any], None]]) -> None:
        self.handlers = handlers
        self.handled: list[QWidget] = []
        self._stopped = False
        QTimer.singleShot(0, self._poll)

    def stop(self) -> None:
        self._stopped = True

    def _poll(self) -> None:
        if self._stopped:
            return
        modal = QApplication.activeModalWidget()
        kind = next((k for k in self.handlers if isinstance(modal, k)), None)
        if modal is not None and kind is not None and modal not in self.handled:
            self.handled.append(modal)
            try:
                self.handlers[kind](modal)
            except BaseException:
                modal.close()
                raise
        if len(self.handled) < len(self.handlers):
            QTimer.singleShot(20, self._poll)


def _type_and_enter(qtbot: QtBot, fields: list[tuple[QWidget, str]]) -> None:
    for field, text in fields:
        qtbot.keyClicks(field, text)
        qtbot.keyClick(field, Qt.Key.Key_Return)


# ---- the login module is light -------------------------------------------------------


def test_the_start_up_and_login_modules_import_neither_the_database_nor_the_services() -> None:
    out = subprocess.run([sys.executable, "-c", IMPORTS_CHILD], capture_output=True,
                         text=True, timeout=120, check=True)
    loaded = set(json.loads(out.stdout))
    heavy = {m for m in loaded if m.split(".")[0] in ("sqlalchemy", "alembic", "argon2")
             or m.startswith(("app.services", "app.storage.db", "app.workstation",
                              "ui.workbench.main_window"))}
    assert heavy == set()


# ---- the order ---------------------------------------------------------------------------


def test_the_login_paints_before_the_workstation_opens_and_a_login_typed_meanwhile_runs_once_it_is_open(
        qtbot: QtBot, tmp_path: Path, order: list[str]) -> None:
    gate = _Gate(lambda: open_for_window(tmp_path / "home"), order)
    opening = WorkstationOpening(gate)
    while_opening: dict[str, Any] = {}

    def at_login(login: LoginDialog) -> None:
        qtbot.waitUntil(lambda: "opening began" in order)
        assert order == ["login painted", "opening began"]
        assert login.isVisible() and not login.is_ready and login.site.text() == ""
        # The clerk is faster than the database: the login is held, not refused.
        _type_and_enter(qtbot, [(login.username, DEFAULT_ADMIN),
                                (login.password, DEFAULT_ADMIN_PASSWORD)])
        while_opening.update(error=login.error.text(), enabled=login.isEnabled(),
                             visible=login.isVisible(), done=opening.done,
                             grey=login.error.styleSheet() == "color: #555;")   # no error
        gate.release.set()
        qtbot.waitUntil(lambda: login.is_ready, timeout=HOLD_S * 1000)
        while_opening["site"] = login.site.text()

    def at_change(change: ChangePasswordDialog) -> None:
        _type_and_enter(qtbot, [(change.old, DEFAULT_ADMIN_PASSWORD),
                                (change.new, NEW_PASSWORD), (change.confirm, NEW_PASSWORD)])

    drive = _Drive({LoginDialog: at_login, ChangePasswordDialog: at_change})
    try:
        session = log_in_while_opening(opening)
        assert while_opening == {"error": WAITING_FOR_DATABASE, "enabled": False,
                                 "visible": True, "done": False, "grey": True,
                                 "site": opening.station.settings.site_name
                                 if opening.station else None}
        assert order == ["login painted", "opening began", "opened"]
        assert len(drive.handled) == 2
        # The held login ran against the opened workstation, then the forced change.
        assert session is not None and session.username == DEFAULT_ADMIN
        assert not session.must_change_password
    finally:
        gate.release.set()
        opening.close()


def test_quitting_while_the_workstation_opens_waits_for_it_then_closes_it(
        qtbot: QtBot, tmp_path: Path, order: list[str]) -> None:
    home = tmp_path / "home"
    gate = _Gate(lambda: open_for_window(home), order)
    opening = WorkstationOpening(gate)

    def at_login(login: LoginDialog) -> None:
        qtbot.waitUntil(lambda: "opening began" in order)
        qtbot.keyClick(login.username, Qt.Key.Key_Escape)   # 退出
        assert not login.isVisible()
        # Released only now: the program is past its login, at its end, waiting.
        QTimer.singleShot(50, gate.release.set)

    drive = _Drive({LoginDialog: at_login})
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    try:
        assert open_and_log_in(app, opening) == 0
    finally:
        gate.release.set()
    # It returned after the opening had finished, and closed what it opened: nothing
    # holds the installation any more (a restore takes this lock).
    assert order == ["login painted", "opening began", "opened"]
    assert len(drive.handled) == 1
    assert opening.done and opening.station is None
    InUse(home, exclusive=True).release()


# ---- failures are said as before ---------------------------------------------------------


def _unreadable_settings(home: Path) -> None:
    home.mkdir()
    (home / "settings.toml").write_text("[deadlines]\nyellow_warning_days = 99\n",
                                        encoding="utf-8")


def _anchors_removed(home: Path) -> None:
    station = open_workstation(home)
    try:
        clerk = station.clerk(station.accounts.login(DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD))
        accepted_case(station, clerk)
    finally:
        station.close()
    for segment in station.integrity.anchor.segments():
        segment.unlink()


@pytest.mark.parametrize(("damage", "reason"), [
    (_unreadable_settings, "yellow_warning_days 应为0至30的整数"),   # ConfigError
    (_anchors_removed, "锚定目录"),                                 # IntegrityAlarm
])
def test_an_installation_that_cannot_be_opened_closes_the_login_and_says_why_with_status_2(
        qtbot: QtBot, tmp_path: Path, order: list[str], damage: Callable[[Path], None],
        reason: str) -> None:
    home = tmp_path / "home"
    damage(home)
    shown: dict[str, Any] = {}

    def at_message(box: QMessageBox) -> None:
        logins = [w for w in QApplication.topLevelWidgets()
                  if isinstance(w, LoginDialog) and w.isVisible()]
        shown.update(title=box.windowTitle(), text=box.text(), icon=box.icon(),
                     logins_open=len(logins))
        qtbot.keyClick(box, Qt.Key.Key_Return)

    drive = _Drive({QMessageBox: at_message})
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    status = open_and_log_in(app, WorkstationOpening(lambda: open_for_window(home)))
    assert status == 2
    assert order == ["login painted"] and len(drive.handled) == 1
    assert shown["title"] == "一窗通无法启动" and shown["icon"] == QMessageBox.Icon.Critical
    assert reason in shown["text"] and "yichuang doctor" in shown["text"]
    assert shown["logins_open"] == 0


def test_an_error_that_is_not_about_the_installation_is_not_reported_as_one(
        qtbot: QtBot) -> None:
    def broken() -> Workstation:
        raise RuntimeError("程序错误")

    # None expected; one would be recorded and closed (not left waiting for a clerk).
    boxes = _Drive({QMessageBox: QMessageBox.accept})
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    try:
        with pytest.raises(RuntimeError, match="程序错误"):
            open_and_log_in(app, WorkstationOpening(broken))
    finally:
        boxes.stop()
    assert boxes.handled == []
