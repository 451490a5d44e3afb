"""The form being typed comes back after the window died before it was submitted."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.workstation import Workstation
from tests.ui.test_acceptance_workbench import Keyboard, _choose_food_item
from tests.ui.test_acceptance_workbench import window as window
from ui import ops
from ui.workbench.main_window import MainWindow


def _station(win: MainWindow) -> Workstation:
    return win.station


def test_a_form_typed_but_not_submitted_reopens_in_a_new_window(qtbot: QtBot,
                                                                window: MainWindow) -> None:
    keys = Keyboard(qtbot)
    _choose_food_item(qtbot, window)
    keys.press(Qt.Key.Key_F3)
    panel = window.acceptance
    assert panel is not None
    keys.type("示例县城关镇好味道餐饮店")
    store = _station(window).drafts
    qtbot.waitUntil(lambda: store.load() is not None, timeout=5000)   # saved in the background
    draft = store.load()
    assert draft is not None and draft.form["name"] == "示例县城关镇好味道餐饮店"
    # The window dies without submitting (a crash: nothing cleans up); a new one starts.
    again = MainWindow(_station(window), window.session)
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: again.acceptance is not None, timeout=5000)
    restored = again.acceptance
    assert restored is not None and restored.item.name == "食品经营许可（新办）"
    assert restored.form.name.text() == "示例县城关镇好味道餐饮店"
    assert "已恢复上次未完成的收件" in restored.message.text()
    ops.wait_idle(10_000)
    again.close()


def test_opening_the_case_clears_the_draft(qtbot: QtBot, window: MainWindow) -> None:
    keys = Keyboard(qtbot)
    _choose_food_item(qtbot, window)
    keys.press(Qt.Key.Key_F3)
    panel = window.acceptance
    assert panel is not None
    keys.type("王小明")
    keys.press(Qt.Key.Key_Return)
    keys.type("330102198001010026")
    store = _station(window).drafts
    qtbot.waitUntil(lambda: store.load() is not None, timeout=5000)
    with qtbot.waitSignal(panel.case_opened, timeout=10000):
        keys.press(Qt.Key.Key_Return)
        keys.press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: store.load() is None, timeout=5000)
