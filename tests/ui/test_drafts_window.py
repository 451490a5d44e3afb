"""The form being typed comes back after the window died before it was submitted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.services.accounts import DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD
from app.workstation import Workstation, open_workstation
from tests.support import FOOD
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


_TYPING_WINDOW = r"""
import sys, time
from pathlib import Path
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from app.services.accounts import DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD
from app.workstation import open_workstation
from ui.workbench.main_window import MainWindow

app = QApplication([])
station = open_workstation(Path(sys.argv[1]))
win = MainWindow(station, station.accounts.login(DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD))
win.show()
win.start_acceptance(station.catalogue.item(sys.argv[2]), frozenset())
form = win.acceptance.form
QTest.keyClicks(form.id_number, "330102198001010026")
QTest.keyClicks(form.phone, "13800138000")
deadline = time.monotonic() + 20
while station.drafts.load() is None and time.monotonic() < deadline:
    app.processEvents()
    time.sleep(0.02)
print("TYPED" if station.drafts.load() is not None else "NO DRAFT", flush=True)
while True:   # the clerk goes on working; the power goes
    app.processEvents()
    time.sleep(0.02)
"""


def test_a_window_process_killed_while_typing_reopens_the_form_in_the_next_window(
        qtbot: QtBot, tmp_path: Path) -> None:
    """A real window in its own process, typed into, then SIGKILL (a power cut): the next
    window opens the form again with what was typed."""
    home = tmp_path / "home"
    script = tmp_path / "typing_window.py"
    script.write_text(_TYPING_WINDOW, encoding="utf-8")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.Popen([sys.executable, str(script), str(home), FOOD], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        line = child.stdout.readline().strip()
        assert line == "TYPED", child.stderr.read() if child.stderr else line
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    station = open_workstation(home)
    try:
        again = MainWindow(station, station.accounts.login(DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD))
        qtbot.waitUntil(lambda: again.acceptance is not None, timeout=10000)
        restored = again.acceptance
        assert restored is not None and restored.item.code == FOOD
        assert restored.form.id_number.text() == "330102198001010026"
        assert restored.form.phone.text() == "13800138000"
        ops.wait_idle(10_000)
        again.close()
        ops.wait_idle(10_000)
    finally:
        station.close()
