"""咨询登记 at the window, keyboard only: an enquiry about an item picked by its pinyin
initials with the 一次性告知单 printed; a general question with no item; a bad phone
number refused beside the form with nothing lost; today's log with the ID masked.

The printer is a PaperTray; the checks read the consultations back from the database
and the printed PDF's text. Screenshots go to /tmp/shots/ for a person to look at.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QTableWidget, QWidget
from pytestqt.qtbot import QtBot

from app.domain.case import Clerk
from app.services.accounts import DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD
from app.services.consultations import Enquiry
from app.storage.models import ConsultationRow
from app.workstation import Workstation, open_workstation
from tests.support import FOOD, PaperTray
from tests.ui.keys import here, press, type_text
from tests.ui.previews import sheet_text
from ui import ops
from ui.workbench.consultation import LOG_COLUMNS, ConsultationDialog, ConsultationLogDialog
from ui.workbench.consultation_subject import GENERAL

SHOTS = Path("/tmp/shots")
NAME, GOOD_ID, PHONE = "王小明", "330102198001010026", "13800138000"
QUESTION, ANSWER = "开小饭馆要办什么证？", "办食品经营许可，材料见一次性告知单"
Ctrl, Alt = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.AltModifier


@pytest.fixture
def station(tmp_path: Path) -> Iterator[Workstation]:
    home = tmp_path / "home"
    home.mkdir()
    (home / "settings.toml").write_text('[printers]\na4 = "system:窗口打印机"\n', encoding="utf-8")
    ws = open_workstation(home)
    yield ws
    ops.wait_idle(30_000)
    ws.close()


@pytest.fixture
def clerk(station: Workstation) -> Clerk:
    return station.clerk(station.accounts.login(DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD))


def shown(qtbot: QtBot, dialog: QWidget) -> None:
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog)


def text_at(table: QTableWidget, row: int, column: int) -> str:
    cell = table.item(row, column)
    assert cell is not None
    return cell.text()


def shot(widget: QWidget, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    assert widget.grab().save(str(SHOTS / f"{name}.png"))


def test_an_enquiry_about_an_item_picked_by_pinyin_is_logged_and_its_checklist_printed(
        qtbot: QtBot, station: Workstation, clerk: Clerk, tmp_path: Path) -> None:
    tray = PaperTray(station)
    dialog = ConsultationDialog(station, clerk)   # from the menu: no item yet
    shown(qtbot, dialog)
    picker = dialog.picker
    assert picker is not None and here() is picker.line
    qtbot.waitUntil(lambda: picker.index is not None)
    assert not dialog.checklist.isEnabled()       # no item, no 告知单
    type_text(qtbot, "spjy")                        # 食品经营…
    assert picker.results.count() > 0
    press(qtbot, Qt.Key.Key_Return)               # takes the first match, moves on
    assert picker.subject is not None and picker.subject.code == FOOD
    assert here() is dialog.name and dialog.checklist.isEnabled()
    type_text(qtbot, NAME)
    press(qtbot, Qt.Key.Key_Return)
    assert here() is dialog.phone
    type_text(qtbot, PHONE)
    press(qtbot, Qt.Key.Key_Return)
    assert here() is dialog.id_number
    type_text(qtbot, GOOD_ID)
    press(qtbot, Qt.Key.Key_Return)
    type_text(qtbot, QUESTION)
    press(qtbot, Qt.Key.Key_Return)
    assert here() is dialog.answer
    type_text(qtbot, ANSWER)
    press(qtbot, Qt.Key.Key_P, Alt)               # 打印一次性告知单
    assert dialog.checklist.isChecked()
    shot(dialog, "consultation-dialog")
    with qtbot.waitSignal(dialog.saved, timeout=20000):
        press(qtbot, Qt.Key.Key_Return)           # Enter in the last field saves
    assert not dialog.isVisible()
    preview = dialog.preview
    assert preview is not None
    if preview.document is None and not preview.status.text():
        with qtbot.waitSignal(preview.rendered, timeout=20000):
            pass
    assert preview.document is not None and preview.document.title == "一次性告知单"
    qtbot.waitUntil(lambda: QApplication.activeWindow() is preview)
    with qtbot.waitSignal(preview.printed, timeout=20000) as printed:
        press(qtbot, Qt.Key.Key_Return)           # Enter prints
    assert printed.args is not None and printed.args[0].ok, preview.status.text()
    preview.close()

    [logged] = station.consultations.find()
    assert (logged.name, logged.phone, logged.id_number) == (NAME, PHONE, GOOD_ID)
    assert (logged.question, logged.answer) == (QUESTION, ANSWER)
    assert (logged.item_code, logged.item_name) == (FOOD, "食品经营许可（新办）")
    assert logged.checklist and logged.clerk_name == clerk.clerk_name
    assert dialog.logged == logged
    assert len(tray.sheets) == 1
    text = sheet_text(tray.sheets[0], tmp_path)
    assert "一次性告知单" in text and "食品经营许可" in text


def test_a_general_question_with_no_item_is_logged_without_a_checklist(
        qtbot: QtBot, station: Workstation, clerk: Clerk) -> None:
    tray = PaperTray(station)
    dialog = ConsultationDialog(station, clerk)
    shown(qtbot, dialog)
    assert dialog.picker is not None and here() is dialog.picker.line
    press(qtbot, Qt.Key.Key_Return)               # empty: a general question
    assert here() is dialog.name and dialog.subject is None
    assert dialog.picker.note.text() == GENERAL and not dialog.checklist.isEnabled()
    type_text(qtbot, "李四")
    press(qtbot, Qt.Key.Key_Return)
    press(qtbot, Qt.Key.Key_Return)               # no phone
    press(qtbot, Qt.Key.Key_Return)               # no ID
    type_text(qtbot, "大厅几点下班？")
    with qtbot.waitSignal(dialog.saved, timeout=20000):
        press(qtbot, Qt.Key.Key_Return, Ctrl)     # Ctrl+Enter saves from anywhere
    [logged] = station.consultations.find()
    assert (logged.name, logged.question, logged.answer) == ("李四", "大厅几点下班？", "")
    assert (logged.item_code, logged.item_name, logged.checklist) == ("", "", False)
    assert (logged.phone, logged.id_number) == ("", "")
    assert dialog.preview is None and tray.sheets == []


def test_a_bad_phone_number_is_refused_beside_the_form_and_nothing_typed_is_lost(
        qtbot: QtBot, station: Workstation, clerk: Clerk) -> None:
    dialog = ConsultationDialog(station, clerk, item=station.catalogue.item(FOOD))
    shown(qtbot, dialog)
    assert here() is dialog.name                  # the item is known: straight to the name
    assert dialog.picker is None and dialog.subject_label is not None
    assert "食品经营许可（新办）" in dialog.subject_label.text()
    type_text(qtbot, NAME)
    press(qtbot, Qt.Key.Key_Return)
    type_text(qtbot, "1380013800")                  # ten digits
    press(qtbot, Qt.Key.Key_Return)
    press(qtbot, Qt.Key.Key_Return)
    type_text(qtbot, QUESTION)
    press(qtbot, Qt.Key.Key_P, Alt)
    with qtbot.waitSignal(dialog.problems_shown, timeout=20000):
        press(qtbot, Qt.Key.Key_Return, Ctrl)
    shot(dialog, "consultation-bad-phone")
    assert "电话" in dialog.problems.text() and "11位" in dialog.problems.text()
    assert station.consultations.find() == []
    assert dialog.isVisible() and dialog.preview is None
    assert (dialog.name.text(), dialog.phone.text(), dialog.question.text()) == (
        NAME, "1380013800", QUESTION)
    assert dialog.checklist.isChecked()
    assert here() is dialog.phone and dialog.phone.selectedText() == "1380013800"
    type_text(qtbot, PHONE)                         # the selection is typed over
    with qtbot.waitSignal(dialog.saved, timeout=20000):
        press(qtbot, Qt.Key.Key_Return, Ctrl)
    [logged] = station.consultations.find()
    assert (logged.name, logged.phone, logged.checklist) == (NAME, PHONE, True)
    preview = dialog.preview
    assert preview is not None
    qtbot.addWidget(preview)


def test_esc_closes_an_empty_form_at_once_and_asks_before_dropping_what_was_typed(
        qtbot: QtBot, station: Workstation, clerk: Clerk) -> None:
    empty = ConsultationDialog(station, clerk)
    shown(qtbot, empty)
    press(qtbot, Qt.Key.Key_Escape)
    assert not empty.isVisible() and empty.discard_box is None
    dialog = ConsultationDialog(station, clerk, item=station.catalogue.item(FOOD))
    shown(qtbot, dialog)
    type_text(qtbot, NAME)
    press(qtbot, Qt.Key.Key_Escape)
    box = dialog.discard_box
    assert box is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is box)
    press(qtbot, Qt.Key.Key_Escape)               # Esc again: keep typing
    assert dialog.isVisible() and dialog.name.text() == NAME
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog)
    assert here() is dialog.name                  # back where the clerk was typing
    press(qtbot, Qt.Key.Key_Escape)
    box = dialog.discard_box
    assert box is not None
    qtbot.waitUntil(lambda: QApplication.activeWindow() is box)
    box.button(QMessageBox.StandardButton.Yes).click()
    assert not dialog.isVisible() and station.consultations.find() == []


def test_the_log_lists_todays_entries_newest_first_with_the_id_masked(
        qtbot: QtBot, station: Workstation, clerk: Clerk) -> None:
    service = station.consultations
    old = service.add(Enquiry("赵六", "昨天问的", item_code=FOOD), clerk)
    with station.db.write() as session:           # an entry of yesterday
        row = session.get(ConsultationRow, old.id)
        assert row is not None
        row.day = dt.date.today() - dt.timedelta(days=1)
    service.add(Enquiry(NAME, QUESTION, ANSWER, FOOD, PHONE, id_number=GOOD_ID), clerk,
                checklist=True)
    service.add(Enquiry("李四", "大厅几点下班？", "下午五点"), clerk)
    dialog = ConsultationLogDialog(station)
    with qtbot.waitSignal(dialog.loaded, timeout=20000):
        shown(qtbot, dialog)
    shot(dialog, "consultation-log")
    table = dialog.table
    assert [table.model().headerData(c, Qt.Orientation.Horizontal)
            for c in range(table.columnCount())] == list(LOG_COLUMNS)
    cells = [[text_at(table, r, c) for c in range(table.columnCount())]
             for r in range(table.rowCount())]
    assert [r[2] for r in cells] == ["李四", NAME]   # today's only, newest first
    general, about_food = cells
    assert about_food[3] == GOOD_ID[:4] + "*" * 10 + GOOD_ID[-4:]
    assert not any(GOOD_ID in cell for row in cells for cell in row)
    assert (about_food[4], about_food[5], about_food[7]) == (
        "食品经营许可（新办）", QUESTION, "已给")
    assert about_food[1] == clerk.clerk_name
    assert (general[3], general[4], general[7]) == ("", "（一般性咨询）", "")
    assert "共 2 条" in dialog.heading.text()
    service.add(Enquiry("钱七", "还要带什么？"), clerk)
    with qtbot.waitSignal(dialog.loaded, timeout=20000):
        press(qtbot, Qt.Key.Key_F5)
    assert table.rowCount() == 3 and text_at(table, 0, 2) == "钱七"
