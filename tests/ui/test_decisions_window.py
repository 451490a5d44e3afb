"""The other decisions at the window, keyboard only: F11 不予受理 (reason and competent
authority asked, the 不予受理决定书 printed) and F12 容缺受理 (a deferred material with its
补交 date, the 容缺受理通知书 printed). Checked afterwards: the database, the event log
replayed, the printed PDF's text."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.domain.case import CaseStatus, Decision, MaterialStatus
from tests.support import PaperTray
from tests.ui.previews import preview_shown, sheet_text
from tests.ui.test_acceptance_workbench import (
    GOOD_ID,
    Keyboard,
    _choose_food_item,
    _shot,
    _type_applicant,
)
from tests.ui.test_acceptance_workbench import window as window
from ui.workbench.acceptance import AcceptancePanel
from ui.workbench.main_window import MainWindow

REASON = "申请经营场所位于居民住宅楼内"
AUTHORITY = "示例县自然资源和规划局"


def _checklist(qtbot: QtBot, keys: Keyboard, window: MainWindow) -> AcceptancePanel:
    _choose_food_item(qtbot, window)
    panel = _type_applicant(qtbot, keys, window, GOOD_ID)
    with qtbot.waitSignal(panel.case_opened):
        keys.press(Qt.Key.Key_Return)
    return panel


def _print(qtbot: QtBot, keys: Keyboard, panel: AcceptancePanel) -> str:
    preview = preview_shown(qtbot, panel)
    assert preview.document is not None
    with qtbot.waitSignal(preview.printed, timeout=20000):
        keys.press(Qt.Key.Key_Return)
    return preview.document.title


def test_a_rejection_by_keyboard_prints_the_decision_with_its_reason(
        qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    tray = PaperTray(window.station)
    keys = Keyboard(qtbot)
    panel = _checklist(qtbot, keys, window)
    keys.press(Qt.Key.Key_F11)                  # open whatever the marks: it is no paper matter
    qtbot.waitUntil(lambda: panel.confirm is not None
                    and QApplication.activeWindow() is panel.confirm)
    confirm = panel.confirm
    assert confirm is not None and keys.here() is confirm.reason
    keys.press(Qt.Key.Key_Return)               # no reason: refused in the dialog
    assert "不予受理的理由" in confirm.error.text()
    keys.type(REASON)
    keys.press(Qt.Key.Key_Tab)
    keys.type(AUTHORITY)
    _shot(confirm, "15-confirm-rejection")
    with qtbot.waitSignal(panel.decided, timeout=20000):
        keys.press(Qt.Key.Key_Return)
    assert _print(qtbot, keys, panel) == "不予受理决定书"
    case = panel.case
    assert case is not None
    stored = window.station.cases.by_number(case.number)
    assert stored.status is CaseStatus.REJECTED and stored.decision_reason == REASON
    assert stored.competent_authority == AUTHORITY
    assert window.station.integrity.verify().ok
    text = sheet_text(tray.sheets[0], tmp_path)
    assert "不予受理" in text and REASON in text and AUTHORITY in text and case.number in text


def test_a_deferred_acceptance_by_keyboard_prints_the_deferred_notice(
        qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    tray = PaperTray(window.station)
    keys = Keyboard(qtbot)
    panel = _checklist(qtbot, keys, window)
    for _ in range(6):
        keys.press(Qt.Key.Key_Down)             # row 7: 食品安全管理人员基本情况, 可容缺
    keys.type("4")
    prompt = panel.table.prompt
    assert prompt is not None
    qtbot.waitUntil(lambda: QApplication.activeWindow() is prompt)
    keys.press(Qt.Key.Key_Return)               # the default 补交 date: a week on
    qtbot.waitUntil(lambda: QApplication.focusWidget() is panel.table)
    keys.press(Qt.Key.Key_F4)                   # the rest received
    assert panel.table.marks["m7"].status is MaterialStatus.DEFERRED
    assert panel.bar.open[Decision.ACCEPT_DEFERRED] and not panel.bar.open[Decision.ACCEPT]
    keys.press(Qt.Key.Key_F12)
    qtbot.waitUntil(lambda: panel.confirm is not None
                    and QApplication.activeWindow() is panel.confirm)
    assert panel.confirm is not None and "承诺办结日期" in panel.confirm.promised.text()
    with qtbot.waitSignal(panel.decided, timeout=20000):
        keys.press(Qt.Key.Key_Return)
    assert _print(qtbot, keys, panel) == "容缺受理通知书"
    case = panel.case
    assert case is not None
    stored = window.station.cases.by_number(case.number)
    assert stored.status is CaseStatus.ACCEPTED_DEFERRED and stored.promised_date is not None
    due = panel.table.marks["m7"].deferred_until
    assert due is not None and stored.promised_date >= due
    assert window.station.integrity.verify().ok
    text = sheet_text(tray.sheets[0], tmp_path)
    assert "容缺" in text and "食品安全管理人员基本情况" in text and f"{due:%Y}" in text
