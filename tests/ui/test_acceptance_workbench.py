"""收件受理 at the window, keyboard only: catalogue → F3 → applicant → checklist → F9 →
printed 受理通知书; a 补正 round; a bad ID number refused beside the form.

The printer is a PaperTray (the system spooler hook collects the PDFs); the checks read
the database, the event log and the printed PDF's text afterwards. Screenshots of each
step go to /tmp/wb/ for a person to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pypinyin import lazy_pinyin
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from app.domain.case import CaseStatus, Decision, MaterialStatus
from app.services.accounts import DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD
from app.workstation import open_workstation
from tests.support import FOOD, PaperTray
from tests.ui.keys import commit, here
from tests.ui.previews import preview_shown, sheet_text
from ui import ops
from ui.workbench.acceptance import AcceptancePanel
from ui.workbench.main_window import MainWindow

SHOTS = Path("/tmp/wb")
APPLICANT, GOOD_ID, PHONE = "王小明", "330102198001010026", "13800138000"


class Keyboard:
    """qtbot's keys, counted: one per key press, one per ASCII character typed; Chinese
    counts as its pinyin letters plus one key to commit them (a pinyin input method)."""

    def __init__(self, qtbot: QtBot) -> None:
        self.qtbot = qtbot
        self.count = 0

    here = staticmethod(here)

    def press(self, key: Qt.Key,
              modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
        self.count += 1
        self.qtbot.keyClick(self.here(), key, modifier)

    def type(self, text: str) -> None:
        if text.isascii():
            self.count += len(text)
            self.qtbot.keyClicks(self.here(), text)
        else:
            self.count += len("".join(lazy_pinyin(text))) + 1
            commit(self.here(), text)


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    home = tmp_path / "home"
    home.mkdir()
    (home / "settings.toml").write_text('[printers]\na4 = "system:窗口打印机"\n', encoding="utf-8")
    station = open_workstation(home)
    win = MainWindow(station, station.accounts.login(DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD))
    # Not qtbot.addWidget: pytest-qt would close and delete the window before this
    # fixture's own ending below, which closes it as the program does.
    win.resize(1280, 800)   # the common window PC screen the layout must fit
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win)
    qtbot.waitUntil(lambda: win.catalogue_panel.index is not None)
    yield win
    # As the program ends: the window closes once its operations are done (a change
    # notice may start one late), then the engine goes.
    ops.wait_idle(30_000)
    win.close()
    ops.wait_idle(30_000)
    assert not win.isVisible()
    win.deleteLater()
    station.close()


def _shot(widget: QWidget, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    assert widget.grab().save(str(SHOTS / f"{name}.png"))


def _choose_food_item(qtbot: QtBot, win: MainWindow) -> None:
    panel = win.catalogue_panel
    commit(panel.search, "食品经营")
    with qtbot.waitSignal(panel.opened):
        qtbot.keyClick(panel.search, Qt.Key.Key_Return)
    assert panel.detail.title.text() == "食品经营许可（新办）"


def _type_applicant(qtbot: QtBot, keys: Keyboard, win: MainWindow, id_number: str
                    ) -> AcceptancePanel:
    keys.press(Qt.Key.Key_F3)
    panel = win.acceptance
    assert panel is not None and win.tabs.currentWidget() is panel
    assert keys.here() is panel.form.name
    keys.type(APPLICANT)
    keys.press(Qt.Key.Key_Return)
    assert keys.here() is panel.form.id_number   # Enter walks to the next field
    keys.type(id_number)
    keys.press(Qt.Key.Key_Return)
    keys.type(PHONE)
    return panel


def test_full_acceptance_by_keyboard_prints_the_acceptance_notice(
        qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    tray = PaperTray(window.station)
    _choose_food_item(qtbot, window)
    keys = Keyboard(qtbot)                        # counted from "item chosen"
    panel = _type_applicant(qtbot, keys, window, GOOD_ID)
    _shot(window, "1-applicant-form")
    with qtbot.waitSignal(panel.case_opened):     # Enter in the last field opens the case
        keys.press(Qt.Key.Key_Return)
    assert panel.checklist_shown and keys.here() is panel.table
    assert not panel.bar.open[Decision.ACCEPT]    # nothing checked yet: the bar says so
    assert "尚未核验" in panel.bar.lines[Decision.ACCEPT].text()
    keys.press(Qt.Key.Key_F4)                     # everything received
    marks = panel.table.marks
    assert marks["m1"].status is MaterialStatus.RECEIVED
    assert marks["m2"].status is MaterialStatus.SHARED   # 共享获取 needs no paper
    _shot(window, "2-checklist")
    keys.press(Qt.Key.Key_F9)
    qtbot.waitUntil(lambda: panel.confirm is not None
                    and QApplication.activeWindow() is panel.confirm)
    assert panel.confirm is not None
    assert "承诺办结日期" in panel.confirm.promised.text()
    _shot(panel.confirm, "3-confirm-acceptance")
    with qtbot.waitSignal(panel.decided, timeout=20000):
        keys.press(Qt.Key.Key_Return)
    preview = preview_shown(qtbot, panel)
    assert preview.document is not None and preview.document.title == "受理通知书"
    _shot(preview, "4-preview")
    with qtbot.waitSignal(preview.printed, timeout=20000) as printed:
        keys.press(Qt.Key.Key_Return)             # Enter prints
    assert printed.args is not None and printed.args[0].ok, preview.status.text()
    print(f"\n从选中事项到打印受理通知书的按键数：{keys.count}")
    assert keys.count > 0

    ws, case = window.station, panel.case
    assert case is not None
    stored = ws.cases.by_number(case.number)
    assert stored.status is CaseStatus.ACCEPTED
    assert stored.applicant.name == APPLICANT and stored.promised_date is not None
    assert len(stored.materials) == len(ws.catalogue.item(FOOD).checklist())
    assert ws.integrity.verify().ok
    assert len(tray.sheets) == 1
    text = sheet_text(tray.sheets[0], tmp_path)
    assert "受理通知书" in text and APPLICANT in text and case.number in text
    assert f"{stored.promised_date:%Y}" in text


def test_a_missing_material_makes_a_correction_round(
        qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    tray = PaperTray(window.station)
    _choose_food_item(qtbot, window)
    keys = Keyboard(qtbot)
    panel = _type_applicant(qtbot, keys, window, GOOD_ID)
    with qtbot.waitSignal(panel.case_opened):
        keys.press(Qt.Key.Key_Return)
    keys.press(Qt.Key.Key_Down)
    keys.press(Qt.Key.Key_Down)
    keys.press(Qt.Key.Key_Down)                   # row 4: 经营场所使用证明
    keys.type("2")                                # 缺失
    assert panel.table.marks["m4"].status is MaterialStatus.MISSING
    keys.press(Qt.Key.Key_F4)                     # the rest received
    assert panel.bar.open[Decision.CORRECTION] and not panel.bar.open[Decision.ACCEPT]
    keys.press(Qt.Key.Key_F9)                     # refused: the window says why
    assert "缺失或有误" in panel.message.text() and panel.confirm is None
    keys.press(Qt.Key.Key_F10)
    qtbot.waitUntil(lambda: panel.confirm is not None
                    and QApplication.activeWindow() is panel.confirm)
    assert panel.confirm is not None
    _shot(panel.confirm, "5-confirm-correction")
    with qtbot.waitSignal(panel.decided, timeout=20000):
        keys.press(Qt.Key.Key_Return)
    preview = preview_shown(qtbot, panel)
    with qtbot.waitSignal(preview.printed, timeout=20000):
        keys.press(Qt.Key.Key_Return)
    case = panel.case
    assert case is not None
    stored = window.station.cases.by_number(case.number)
    assert stored.status is CaseStatus.CORRECTION and stored.promised_date is None
    assert window.station.integrity.verify().ok
    text = sheet_text(tray.sheets[0], tmp_path)
    assert "补正" in text and "经营场所使用证明" in text and APPLICANT in text


def test_a_bad_id_number_is_shown_beside_the_form_and_nothing_typed_is_lost(
        qtbot: QtBot, window: MainWindow) -> None:
    _choose_food_item(qtbot, window)
    keys = Keyboard(qtbot)
    panel = _type_applicant(qtbot, keys, window, "330102198001010027")   # bad check digit
    with qtbot.waitSignal(panel.form.problems_shown):   # checked off the GUI thread
        keys.press(Qt.Key.Key_Return)
    _shot(window, "6-bad-id")
    assert "申请人证件" in panel.form.problems.text()
    assert panel.case is None and not panel.checklist_shown
    form = panel.form
    assert (form.name.text(), form.phone.text()) == (APPLICANT, PHONE)
    assert keys.here() is form.id_number and form.id_number.selectedText()
    keys.type(GOOD_ID)                            # the selection is typed over
    keys.press(Qt.Key.Key_Return)
    with qtbot.waitSignal(panel.case_opened):
        keys.press(Qt.Key.Key_Return)
    assert panel.case is not None and panel.case.applicant.id_number == GOOD_ID


def test_keys_a_material_cannot_take_are_refused_with_the_reason(
        qtbot: QtBot, window: MainWindow) -> None:
    _choose_food_item(qtbot, window)
    keys = Keyboard(qtbot)
    panel = _type_applicant(qtbot, keys, window, GOOD_ID)
    with qtbot.waitSignal(panel.case_opened):
        keys.press(Qt.Key.Key_Return)
    keys.type("4")                                # 申请书: not deferrable
    assert "不在容缺受理范围内" in panel.message.text()
    assert "m1" not in panel.table.marks
    keys.type("6")
    assert "不是共享获取" in panel.message.text()
    keys.type("3")                                # 有误 asks what is wrong
    prompt = panel.table.prompt
    assert prompt is not None
    qtbot.waitUntil(lambda: QApplication.activeWindow() is prompt)
    assert keys.here() is prompt.line
    keys.type("缺少签名")
    keys.press(Qt.Key.Key_Return)
    assert panel.table.marks["m1"].fault == "缺少签名"
    assert panel.table.currentRow() == 1          # on to the next row
