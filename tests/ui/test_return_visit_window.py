"""Return visits at the window, keyboard only: F5, the number scanned from the notice the
applicant brings, the checklist as recorded; a 补正 case then accepted, a 容缺受理 case
given its deferred paper (容缺补交). The 信用核查 result is shown on the checklist page and
closes F12 for a listed applicant. Checked afterwards: the database, the event log
replayed, and the printed PDF's text.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.domain.case import CaseState, CaseStatus, Decision, MaterialStatus
from tests.app.test_credit import credit_file, entry
from tests.app.test_documents import FOOD, case_with, marked, resident_id
from tests.support import PaperTray
from tests.ui.previews import preview_shown, sheet_text
from tests.ui.test_acceptance_workbench import Keyboard, _shot
from tests.ui.test_acceptance_workbench import window as window
from ui.workbench.acceptance import AcceptancePanel
from ui.workbench.main_window import MainWindow


def _reopen(qtbot: QtBot, keys: Keyboard, win: MainWindow, number: str) -> AcceptancePanel:
    keys.press(Qt.Key.Key_F5)
    prompt = win.return_prompt
    assert prompt is not None
    qtbot.waitUntil(lambda: QApplication.activeWindow() is prompt)
    keys.type(number)                        # what a scanner types, then Enter
    keys.press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: win.acceptance is not None and win.acceptance.case is not None
                    and win.acceptance.case.number == number)
    panel = win.acceptance
    assert panel is not None and win.tabs.currentWidget() is panel
    qtbot.waitUntil(lambda: keys.here() is panel.table)
    return panel


def _correction_case(win: MainWindow) -> CaseState:
    ws = win.station
    return case_with(ws, FOOD, Decision.CORRECTION,
                     m4=marked(ws, FOOD, "m4", MaterialStatus.MISSING))


def test_a_correction_case_reopened_by_its_number_is_accepted_and_printed(
        qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    tray = PaperTray(window.station)
    case = _correction_case(window)
    keys = Keyboard(qtbot)
    panel = _reopen(qtbot, keys, window, case.number)
    assert "补正后收件" in panel.title.text()
    assert panel.table.marks["m4"].status is MaterialStatus.MISSING   # as recorded
    assert panel.table.marks["m1"].status is MaterialStatus.RECEIVED
    assert not panel.bar.open[Decision.ACCEPT] and panel.bar.open[Decision.CORRECTION]
    for _ in range(3):
        keys.press(Qt.Key.Key_Down)           # row 4: 经营场所使用证明, brought now
    keys.type("1")
    assert panel.table.marks["m4"].status is MaterialStatus.RECEIVED
    assert panel.bar.open[Decision.ACCEPT]
    _shot(window, "7-correction-return")
    keys.press(Qt.Key.Key_F9)
    qtbot.waitUntil(lambda: panel.confirm is not None
                    and QApplication.activeWindow() is panel.confirm)
    with qtbot.waitSignal(panel.decided, timeout=20000):
        keys.press(Qt.Key.Key_Return)
    preview = preview_shown(qtbot, panel)
    with qtbot.waitSignal(preview.printed, timeout=20000):
        keys.press(Qt.Key.Key_Return)
    stored = window.station.cases.by_number(case.number)
    assert stored.status is CaseStatus.ACCEPTED and stored.promised_date is not None
    assert window.station.integrity.verify().ok
    text = sheet_text(tray.sheets[0], tmp_path)
    assert "受理通知书" in text and case.number in text


def test_a_deferred_case_reopened_by_its_barcode_records_the_supply_and_prints_the_receipt(
        qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    tray = PaperTray(window.station)
    ws = window.station
    m7 = marked(ws, FOOD, "m7", MaterialStatus.DEFERRED,
                deferred_until=dt.date.today() + dt.timedelta(days=7))
    case = case_with(ws, FOOD, Decision.ACCEPT_DEFERRED, m7=m7)
    keys = Keyboard(qtbot)
    panel = _reopen(qtbot, keys, window, case.number.lower())   # a scanner's lower-case x
    assert panel.supplying and "容缺补交" in panel.title.text()
    assert not panel.bar.isVisible() and "0 / 1" in panel.supply_line.text()
    keys.type("2")                              # 申请书 was checked at the acceptance
    assert "补交时只登记容缺材料" in panel.message.text()
    assert panel.table.marks["m1"].status is MaterialStatus.RECEIVED
    keys.press(Qt.Key.Key_F9)                   # nothing brought yet: said, not recorded
    assert "没有补交任何容缺材料" in panel.message.text()
    row = [m.id for m in panel.table.checklist].index("m7")
    panel.table.selectRow(row)
    keys.type("1")
    assert panel.table.marks["m7"].status is MaterialStatus.RECEIVED
    assert "1 / 1" in panel.supply_line.text()
    _shot(window, "8-deferred-supply")
    keys.press(Qt.Key.Key_F9)
    qtbot.waitUntil(lambda: panel.confirm_supply is not None
                    and QApplication.activeWindow() is panel.confirm_supply)
    assert panel.confirm_supply is not None
    assert "全部补齐" in panel.confirm_supply.text()
    with qtbot.waitSignal(panel.decided, timeout=20000):
        keys.press(Qt.Key.Key_Return)
    preview = preview_shown(qtbot, panel)
    assert preview.document is not None and preview.document.title == "收件凭证"
    with qtbot.waitSignal(preview.printed, timeout=20000):
        keys.press(Qt.Key.Key_Return)
    stored = ws.cases.by_number(case.number)
    assert stored.status is CaseStatus.ACCEPTED
    assert {m.material_id: m.status for m in stored.materials}["m7"] is MaterialStatus.RECEIVED
    assert ws.integrity.verify().ok
    text = sheet_text(tray.sheets[0], tmp_path)
    assert "收件凭证" in text and case.number in text


def test_f5_on_a_case_with_nothing_owed_says_so_and_opens_nothing(
        qtbot: QtBot, window: MainWindow) -> None:
    case = case_with(window.station, FOOD, Decision.ACCEPT)
    keys = Keyboard(qtbot)
    keys.press(Qt.Key.Key_F5)
    prompt = window.return_prompt
    assert prompt is not None
    qtbot.waitUntil(lambda: QApplication.activeWindow() is prompt)
    keys.type(case.number)
    keys.press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.notice is not None and window.notice.isVisible())
    assert window.notice is not None
    assert "没有待补正或待补交的材料" in window.notice.text()
    assert window.acceptance is None


def test_f5_with_a_number_that_does_not_exist_is_told_plainly(
        qtbot: QtBot, window: MainWindow) -> None:
    keys = Keyboard(qtbot)
    keys.press(Qt.Key.Key_F5)
    prompt = window.return_prompt
    assert prompt is not None
    qtbot.waitUntil(lambda: QApplication.activeWindow() is prompt)
    keys.type("not-a-number")
    keys.press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.notice is not None and window.notice.isVisible())
    assert window.notice is not None and "不是有效的办件编号" in window.notice.text()


def test_a_listed_applicant_is_shown_on_the_checklist_and_f12_is_closed(
        qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    ws = window.station
    admin = ws.clerk(window.session)
    ws.credit.import_file(credit_file(tmp_path, [entry(resident_id(), "王小明")]), admin)
    case = _correction_case(window)     # 王小明, opened after the import: checked at OPENED
    keys = Keyboard(qtbot)
    panel = _reopen(qtbot, keys, window, case.number)
    qtbot.waitUntil(lambda: panel.credit is not None)
    assert panel.credit_label.isVisible() and "失信" in panel.credit_label.text()
    m7 = [m.id for m in panel.table.checklist].index("m7")
    m4 = [m.id for m in panel.table.checklist].index("m4")
    panel.table.selectRow(m4)
    keys.type("1")
    panel.table.selectRow(m7)
    keys.type("4")                               # 容缺: asks the date; Enter takes the default
    prompt = panel.table.prompt
    assert prompt is not None
    qtbot.waitUntil(lambda: QApplication.activeWindow() is prompt)
    keys.press(Qt.Key.Key_Return)
    assert panel.table.marks["m7"].status is MaterialStatus.DEFERRED
    assert not panel.bar.open[Decision.ACCEPT_DEFERRED]
    assert "失信名单" in panel.bar.lines[Decision.ACCEPT_DEFERRED].text()
    _shot(window, "9-credit-hit")


def test_a_second_correction_at_the_return_visit_asks_its_reason(
        qtbot: QtBot, window: MainWindow) -> None:
    case = _correction_case(window)
    keys = Keyboard(qtbot)
    panel = _reopen(qtbot, keys, window, case.number)
    keys.press(Qt.Key.Key_F10)                   # m4 still missing: 补正 again
    qtbot.waitUntil(lambda: panel.confirm is not None
                    and QApplication.activeWindow() is panel.confirm)
    confirm = panel.confirm
    assert confirm is not None and keys.here() is confirm.reason
    keys.press(Qt.Key.Key_Return)                # no reason: said, not decided
    assert "再次补正的理由" in confirm.error.text() and confirm.isVisible()
    keys.type("补交的场所证明仍缺盖章")
    with qtbot.waitSignal(panel.decided, timeout=20000):
        keys.press(Qt.Key.Key_Return)
    stored = window.station.cases.by_number(case.number)
    assert stored.status is CaseStatus.CORRECTION
    assert stored.decision_reason == "补交的场所证明仍缺盖章"
    preview = preview_shown(qtbot, panel)
    keys.press(Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not preview.isVisible())


def test_an_undecided_case_is_continued_from_its_recorded_marks(
        qtbot: QtBot, window: MainWindow) -> None:
    """A 一件事's item left undecided by a 补正 of its sibling, or an interrupted 收件."""
    ws = window.station
    case = case_with(ws, FOOD, m4=marked(ws, FOOD, "m4", MaterialStatus.MISSING))
    keys = Keyboard(qtbot)
    panel = _reopen(qtbot, keys, window, case.number)
    assert "继续收件" in panel.title.text()
    assert panel.table.marks["m4"].status is MaterialStatus.MISSING
    assert panel.bar.open[Decision.CORRECTION]
