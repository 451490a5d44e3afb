"""The workbench's places reached by their keys: F7 出件, F8 办件 (Enter on a row goes
where the case's next step is done), Ctrl+K 咨询登记 (about the item on the page, or
any), Ctrl+Shift+K today's consultations."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.domain.case import Decision, MaterialStatus
from tests.app.test_documents import FOOD, GETI, case_with, marked
from tests.ui.test_acceptance_workbench import Keyboard, _choose_food_item, _shot
from tests.ui.test_acceptance_workbench import window as window
from ui.cases.documents import CaseDocumentsDialog
from ui.workbench.main_window import MainWindow


def test_f7_opens_the_pickup_desk_ready_for_a_scan(qtbot: QtBot, window: MainWindow) -> None:
    keys = Keyboard(qtbot)
    keys.press(Qt.Key.Key_F7)
    assert window.tabs.currentWidget() is window.pickup_panel
    assert keys.here() is window.pickup_panel.number
    keys.press(Qt.Key.Key_F2)
    assert window.tabs.currentWidget() is window.catalogue_panel
    assert keys.here() is window.catalogue_panel.search


def test_ctrl_k_on_an_item_page_logs_an_enquiry_about_that_item(
        qtbot: QtBot, window: MainWindow) -> None:
    _choose_food_item(qtbot, window)
    keys = Keyboard(qtbot)
    keys.press(Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    dialog = window.consultation
    assert dialog is not None
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog)
    assert dialog.picker is None and dialog.subject_label is not None   # fixed: this item
    assert "食品经营许可（新办）" in dialog.subject_label.text()
    _shot(dialog, "12-consult-item")
    keys.press(Qt.Key.Key_Escape)


def test_ctrl_k_from_the_search_page_lets_the_clerk_pick_the_item(
        qtbot: QtBot, window: MainWindow) -> None:
    keys = Keyboard(qtbot)
    keys.press(Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    dialog = window.consultation
    assert dialog is not None and dialog.picker is not None
    keys.press(Qt.Key.Key_Escape)


def test_ctrl_shift_k_shows_todays_consultations(qtbot: QtBot, window: MainWindow) -> None:
    keys = Keyboard(qtbot)
    keys.press(Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier
               | Qt.KeyboardModifier.ShiftModifier)
    log = window.consultation_log
    assert log is not None
    qtbot.waitUntil(log.isVisible)
    log.close()


def _listed(qtbot: QtBot, window: MainWindow, key: Qt.Key, number: str) -> None:
    """F8, a view by its Alt key, down to the case's row, Enter."""
    panel = window.case_list
    keys = Keyboard(qtbot)
    keys.press(Qt.Key.Key_F8)
    assert window.tabs.currentWidget() is panel
    with qtbot.waitSignal(panel.listed, timeout=10_000):
        keys.press(key, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: panel.table.rowCount() >= 1)
    keys.press(Qt.Key.Key_Down)
    assert keys.here() is panel.table
    rows = [panel.table.item(r, 0).text() for r in range(panel.table.rowCount())]
    panel.table.selectRow(rows.index(number))
    keys.press(Qt.Key.Key_Return)


def test_enter_on_a_case_in_correction_opens_its_return_visit(
        qtbot: QtBot, window: MainWindow) -> None:
    ws = window.station
    case = case_with(ws, FOOD, Decision.CORRECTION,
                     m4=marked(ws, FOOD, "m4", MaterialStatus.MISSING))
    _listed(qtbot, window, Qt.Key.Key_3, case.number)          # Alt+3 补正中
    qtbot.waitUntil(lambda: window.acceptance is not None and window.acceptance.case is not None)
    assert window.acceptance is not None and window.acceptance.case is not None
    assert window.acceptance.case.number == case.number
    assert window.tabs.currentWidget() is window.acceptance


def test_enter_on_a_case_waiting_for_pickup_opens_it_at_the_pickup_desk(
        qtbot: QtBot, window: MainWindow) -> None:
    ws = window.station
    case = case_with(ws, GETI, Decision.ON_THE_SPOT)           # 即办: waits for pickup
    _listed(qtbot, window, Qt.Key.Key_2, case.number)          # Alt+2 待取件
    qtbot.waitUntil(lambda: window.tabs.currentWidget() is window.pickup_panel)
    _shot(window, "14-pickup-from-list")
    assert window.pickup_panel.number.text() == case.number


def test_enter_on_an_accepted_case_opens_its_documents(qtbot: QtBot, window: MainWindow) -> None:
    ws = window.station
    case = case_with(ws, FOOD, Decision.ACCEPT)
    _listed(qtbot, window, Qt.Key.Key_5, case.number)          # Alt+5 全部
    qtbot.waitUntil(lambda: isinstance(QApplication.activeWindow(), CaseDocumentsDialog))
    dialog = QApplication.activeWindow()
    assert isinstance(dialog, CaseDocumentsDialog) and dialog.number.text() == case.number
    dialog.close()


def test_f5_on_the_pickup_desk_records_completion_not_a_return_visit(
        qtbot: QtBot, window: MainWindow) -> None:
    ws = window.station
    case = case_with(ws, FOOD, Decision.ACCEPT)             # the result not yet arrived
    keys = Keyboard(qtbot)
    keys.press(Qt.Key.Key_F7)
    desk = window.pickup_panel
    keys.type(case.number)
    with qtbot.waitSignal(desk.case_shown, timeout=10_000):
        keys.press(Qt.Key.Key_Return)
    keys.press(Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: desk.confirm is not None
                    and QApplication.activeWindow() is desk.confirm)
    assert window.return_prompt is None                     # not the window's F5
    with qtbot.waitSignal(desk.completed, timeout=10_000):
        keys.press(Qt.Key.Key_Return)
    assert ws.cases.get(case.id).status.value == "已办结"
    keys.press(Qt.Key.Key_F2)                               # elsewhere F5 is the return visit
    keys.press(Qt.Key.Key_F5)
    assert window.return_prompt is not None
