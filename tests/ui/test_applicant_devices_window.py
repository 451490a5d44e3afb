"""The applicant form as the workbench wires it: a returning applicant found by the number
an ID-card reader types (shown masked, Ctrl+O fills), and a card file dropped by the
reader program into the folder that settings.toml names."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from tests.support import accepted_case
from tests.ui.test_acceptance_workbench import Keyboard, _choose_food_item, _shot
from tests.ui.test_acceptance_workbench import window as window
from tests.ui.test_applicant_form import ADDRESS, CARD, wedge
from ui.workbench.main_window import MainWindow

PHONE = "13800138000"   # what accepted_case stored for 王小明


def test_a_returning_applicant_typed_by_the_reader_is_shown_masked_and_recalled(
        qtbot: QtBot, window: MainWindow) -> None:
    ws = window.station
    accepted_case(ws, ws.clerk(window.session))
    _choose_food_item(qtbot, window)
    keys = Keyboard(qtbot)
    keys.press(Qt.Key.Key_F3)
    panel = window.acceptance
    assert panel is not None
    form = panel.form
    with qtbot.waitSignal(form.returning_shown, timeout=10000):
        wedge(qtbot, "王小明\t330102198001010026\n")
    shown = form.returning.text()
    assert "王*明" in shown and "138****8000" in shown and PHONE not in shown
    _shot(window, "13-returning-applicant")
    keys.press(Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    assert form.phone.text() == PHONE
    with qtbot.waitSignal(panel.case_opened, timeout=10000):
        keys.press(Qt.Key.Key_Return)
    assert panel.case is not None and panel.case.applicant.phone == PHONE


def test_a_card_file_in_the_configured_folder_fills_the_form_and_is_deleted(
        qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    folder = tmp_path / "reader"
    folder.mkdir()
    ws = window.station
    ws.settings = replace(ws.settings, id_card_folder=str(folder))   # as settings.toml says
    _choose_food_item(qtbot, window)
    Keyboard(qtbot).press(Qt.Key.Key_F3)
    panel = window.acceptance
    assert panel is not None
    form = panel.form
    qtbot.waitUntil(lambda: QApplication.focusWidget() is form.name)
    card = folder / "wz.txt"
    with qtbot.waitSignal(form.card_filled, timeout=10000):
        card.write_bytes(CARD.encode("gbk"))   # the reader program writes the card read
    assert form.name.text() == "王小明"
    assert form.id_number.text() == "330102198001010026"
    assert form.address.text() == ADDRESS
    qtbot.waitUntil(lambda: not card.exists())   # personal data does not linger
