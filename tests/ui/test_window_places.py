"""The workbench's places reached by their keys: F7 出件, Ctrl+K 咨询登记 (about the item
on the page, or any), Ctrl+Shift+K today's consultations."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from tests.ui.test_acceptance_workbench import Keyboard, _choose_food_item, _shot
from tests.ui.test_acceptance_workbench import window as window
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
