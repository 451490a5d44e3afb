"""The window driven with the keyboard, as a clerk would: log in, search, open, go back."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QInputMethodEvent
from PySide6.QtWidgets import QApplication, QCheckBox, QDialog, QWidget
from pytestqt.qtbot import QtBot

from app.services.accounts import DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD
from app.workstation import Workstation
from ui.catalogue.panel import ResultRole
from ui.workbench.login import ChangePasswordDialog, LoginDialog
from ui.workbench.main_window import MainWindow

NEW_PASSWORD = "Window2026a"


def _type_chinese(widget: QWidget, text: str) -> None:
    """Chinese arrives through the input method, as a committed string (QTest's
    keyClicks handles ASCII only)."""
    event = QInputMethodEvent()
    event.setCommitString(text)
    QApplication.sendEvent(widget, event)


def _login(qtbot: QtBot, station: Workstation, user: str, password: str) -> LoginDialog:
    dialog = LoginDialog(station.accounts, station.settings.site_name)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.username, user)
    qtbot.keyClick(dialog.username, Qt.Key.Key_Return)
    assert dialog.focusWidget() is dialog.password
    qtbot.keyClicks(dialog.password, password)
    qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
    return dialog


def _main_window(qtbot: QtBot, station: Workstation) -> MainWindow:
    session = station.accounts.login(DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD)
    window = MainWindow(station, session)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.catalogue_panel.index is not None)   # loaded off-thread
    return window


def test_first_login_forces_password_change(qtbot: QtBot, station: Workstation) -> None:
    dialog = _login(qtbot, station, DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD)
    qtbot.waitUntil(lambda: dialog.result() == QDialog.DialogCode.Accepted)
    assert dialog.session is not None and dialog.session.must_change_password

    change = ChangePasswordDialog(station.accounts, dialog.session, forced=True)
    qtbot.addWidget(change)
    change.show()
    for field, text in ((change.old, DEFAULT_ADMIN_PASSWORD), (change.new, "abcdefgh"),
                        (change.confirm, "abcdefgh")):
        qtbot.keyClicks(field, text)
        qtbot.keyClick(field, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "字母和数字" in change.error.text())
    assert change.result() != QDialog.DialogCode.Accepted

    for field, text in ((change.new, NEW_PASSWORD), (change.confirm, NEW_PASSWORD)):
        qtbot.keyClicks(field, text)
        qtbot.keyClick(field, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: change.result() == QDialog.DialogCode.Accepted)
    assert change.session is not None and not change.session.must_change_password
    # The change is in the database: the new password logs in, the old one does not.
    assert not station.accounts.login(DEFAULT_ADMIN, NEW_PASSWORD).must_change_password
    again = _login(qtbot, station, DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD)
    qtbot.waitUntil(lambda: "不正确" in again.error.text())
    assert again.session is None


def test_wrong_password_keeps_dialog_open_with_message(qtbot: QtBot,
                                                       station: Workstation) -> None:
    dialog = _login(qtbot, station, DEFAULT_ADMIN, "nope")
    qtbot.waitUntil(lambda: "还可尝试4次" in dialog.error.text())
    assert dialog.isVisible() and dialog.session is None
    assert dialog.password.text() == ""


def test_search_open_item_and_back_with_keyboard(qtbot: QtBot, station: Workstation) -> None:
    window = _main_window(qtbot, station)
    panel = window.catalogue_panel
    assert window.focusWidget() is panel.search

    qtbot.keyClicks(panel.search, "yyzz")
    first = panel.model.index(0, 0).data(ResultRole)
    assert first.name.startswith("营业执照")
    with qtbot.waitSignal(panel.opened):
        qtbot.keyClick(panel.search, Qt.Key.Key_Return)
    assert panel.stack.currentWidget() is panel.detail
    item = station.catalogue.item(first.code)
    assert panel.detail.title.text() == item.name
    assert panel.detail.materials.rowCount() == len(item.checklist())
    shown = {panel.detail.materials.item(r, 1).text()
             for r in range(panel.detail.materials.rowCount())}
    assert shown == {m.name for m in item.checklist()}

    # A scenario switch re-derives the checklist.
    checks = panel.detail.findChildren(QCheckBox)
    delegate = next(c for c in checks if c.isVisible() and "委托" in c.text())
    delegate.setChecked(True)
    scenario = next(s for s in item.scenarios if s.name == delegate.text())
    assert panel.detail.materials.rowCount() == len(item.checklist(frozenset({scenario.id})))

    qtbot.keyClick(panel, Qt.Key.Key_Escape)
    assert panel.stack.currentIndex() == 0
    assert window.focusWidget() is panel.search
    assert panel.search.selectedText() == "yyzz"  # typing replaces the old query


def test_arrow_keys_choose_the_result_enter_opens(qtbot: QtBot, station: Workstation) -> None:
    window = _main_window(qtbot, station)
    panel = window.catalogue_panel
    qtbot.keyClicks(panel.search, "cjr")
    assert panel.model.rowCount() >= 2
    qtbot.keyClick(panel.search, Qt.Key.Key_Down)
    second = panel.model.index(1, 0).data(ResultRole)
    with qtbot.waitSignal(panel.opened):
        qtbot.keyClick(panel.search, Qt.Key.Key_Return)
    expected = (f"【一件事】{second.name}" if second.kind == "bundle" else second.name)
    assert panel.detail.title.text() == expected


def test_bundle_shows_merged_materials(qtbot: QtBot, station: Workstation) -> None:
    window = _main_window(qtbot, station)
    panel = window.catalogue_panel
    _type_chinese(panel.search, "开办餐饮店")
    assert panel.model.index(0, 0).data(ResultRole).kind == "bundle"
    with qtbot.waitSignal(panel.opened):
        qtbot.keyClick(panel.search, Qt.Key.Key_Return)
    bundle = station.catalogue.bundle(panel.model.index(0, 0).data(ResultRole).code)
    merged = bundle.merged_materials(station.catalogue.current().by_code)
    total = sum(len(station.catalogue.item(c).checklist()) for c in bundle.item_codes)
    assert panel.detail.materials.rowCount() == len(merged) < total


def test_no_results_says_so_in_chinese(qtbot: QtBot, station: Workstation) -> None:
    window = _main_window(qtbot, station)
    panel = window.catalogue_panel
    qtbot.keyClicks(panel.search, "zzzzqqq")
    assert panel.model.rowCount() == 0
    assert "没有找到" in panel.count.text()
    qtbot.keyClick(panel.search, Qt.Key.Key_Return)  # nothing to open: stays on search
    assert panel.stack.currentIndex() == 0


def test_status_bar_shows_site_window_and_mode(qtbot: QtBot, station: Workstation) -> None:
    window = _main_window(qtbot, station)
    assert station.settings.site_name in window.site_label.text()
    assert f"{station.settings.window}号" in window.window_label.text()
    assert "单机模式" in window.connection_label.text()


def test_log_in_flow_runs_login_then_forced_change(qtbot: QtBot, station: Workstation) -> None:
    """ui.app.log_in as the program runs it: modal login, then the forced change."""
    from PySide6.QtCore import QTimer

    from ui.app import log_in

    seen: list[str] = []

    def drive() -> None:
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, LoginDialog) and "login" not in seen:
            seen.append("login")
            qtbot.keyClicks(dialog.username, DEFAULT_ADMIN)
            qtbot.keyClick(dialog.username, Qt.Key.Key_Return)
            qtbot.keyClicks(dialog.password, DEFAULT_ADMIN_PASSWORD)
            qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
        elif isinstance(dialog, ChangePasswordDialog) and "change" not in seen:
            seen.append("change")
            for field, text in ((dialog.old, DEFAULT_ADMIN_PASSWORD),
                                (dialog.new, NEW_PASSWORD), (dialog.confirm, NEW_PASSWORD)):
                qtbot.keyClicks(field, text)
                qtbot.keyClick(field, Qt.Key.Key_Return)
        if len(seen) < 2:
            QTimer.singleShot(20, drive)

    QTimer.singleShot(20, drive)
    session = log_in(station)
    assert seen == ["login", "change"]
    assert session is not None and session.username == DEFAULT_ADMIN
    assert not session.must_change_password


def test_f2_returns_to_the_search_from_the_detail(qtbot: QtBot, station: Workstation) -> None:
    window = _main_window(qtbot, station)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    panel = window.catalogue_panel
    qtbot.keyClicks(panel.search, "cjr")
    with qtbot.waitSignal(panel.opened):
        qtbot.keyClick(panel.search, Qt.Key.Key_Return)
    assert panel.stack.currentIndex() == 1
    qtbot.keyClick(panel.detail, Qt.Key.Key_F2)
    assert panel.stack.currentIndex() == 0
    assert window.focusWidget() is panel.search
