"""ID-card readers and returning applicants at the applicant form (issue 9, item 2).

A reader in keyboard mode is played key by key into whatever has the focus, as the
device does; a reader program's file is written into a real folder under a real
QFileSystemWatcher; the returning applicant comes from a case opened through the
services. Screenshots go to /tmp/shots/.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeyEvent
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from app.domain.case import Applicant, ApplicantKind, Clerk, IdType
from app.services.accounts import DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD
from app.workstation import Workstation
from tests.support import FOOD
from tests.ui.keys import commit, here
from ui import ops
from ui.workbench.applicant_form import ApplicantForm
from ui.workbench.id_card_reader import FRESH_S

SHOTS = Path("/tmp/shots")
GOOD_ID = "330102198001010026"
AGENT_ID = "330102198505050013"
CARD = ("姓名：王小明\r\n性别：男\r\n民族：汉\r\n出生：1980年1月1日\r\n"
        "住址：浙江省杭州市上城区清波街道劳动路100号\r\n公民身份号码：330102198001010026\r\n"
        "签发机关：杭州市公安局上城分局\r\n有效期限：2015.01.01-2035.01.01\r\n")
ADDRESS = "浙江省杭州市上城区清波街道劳动路100号"


def wedge(qtbot: QtBot, text: str) -> None:
    """A reader in keyboard mode: each character one key press, sent to whatever has the
    focus at that moment (the device does not know the form); Tab and Enter as keys."""
    for ch in text:
        target = here()
        if ch == "\t":
            qtbot.keyClick(target, Qt.Key.Key_Tab)
        elif ch == "\n":
            qtbot.keyClick(target, Qt.Key.Key_Return)
        elif ch.isascii():
            qtbot.keyClick(target, ch)
        else:   # readers type Chinese as key events carrying the character
            for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
                QApplication.sendEvent(target, QKeyEvent(kind, Qt.Key.Key_unknown,
                                                         Qt.KeyboardModifier.NoModifier, ch))


def shot(widget: QWidget, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    assert widget.grab().save(str(SHOTS / f"{name}.png"))


def shown(qtbot: QtBot, form: ApplicantForm) -> ApplicantForm:
    qtbot.addWidget(form)
    form.resize(1280, 640)   # the acceptance page of a 1280x800 window
    form.show()
    qtbot.waitExposed(form)
    form.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is form)
    form.focus_first()
    return form


@pytest.fixture
def submitted() -> list[bool]:
    return []


@pytest.fixture
def form(qtbot: QtBot, submitted: list[bool]) -> Iterator[ApplicantForm]:
    form = shown(qtbot, ApplicantForm())
    form.submitted.connect(lambda: submitted.append(True))
    yield form
    ops.wait_idle(10_000)


@pytest.fixture
def clerk(station: Workstation) -> Clerk:
    return station.clerk(station.accounts.login(DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD))


# -- keyboard wedge --------------------------------------------------------------------------

def test_a_wedge_burst_of_name_tab_number_enter_into_the_name_field_fills_both(
        qtbot: QtBot, form: ApplicantForm, submitted: list[bool]) -> None:
    assert here() is form.name
    wedge(qtbot, f"王小明\t{GOOD_ID}\n")
    assert form.name.text() == "王小明"
    assert form.id_number.text() == GOOD_ID
    assert form.id_type.currentText() == str(IdType.RESIDENT_ID)
    assert here() is form.phone            # on to the first field still to type
    assert not submitted
    assert form.card_status.text() == "已读取身份证：王小明"


def test_a_wedge_typing_only_the_number_into_the_name_field_moves_it_and_returns_to_the_name(
        qtbot: QtBot, form: ApplicantForm, submitted: list[bool]) -> None:
    wedge(qtbot, f"{GOOD_ID}\n")
    assert (form.name.text(), form.id_number.text()) == ("", GOOD_ID)
    assert here() is form.name             # the name is what is left to type
    assert not submitted
    commit(form.name, "王小明")
    qtbot.keyClick(form.name, Qt.Key.Key_Return)
    assert here() is form.id_number        # Enter walks as it always does
    assert form.id_number.text() == GOOD_ID


def test_a_wedge_typing_number_tab_name_fills_both_and_the_clerks_name_is_replaced(
        qtbot: QtBot, form: ApplicantForm, submitted: list[bool]) -> None:
    commit(form.name, "王晓明")             # typed by the clerk, then the card read
    wedge(qtbot, f"{GOOD_ID}\t王小明\n")
    assert (form.name.text(), form.id_number.text()) == ("王小明", GOOD_ID)
    assert here() is form.phone and not submitted


def test_a_wedge_burst_while_the_number_field_has_the_focus_puts_the_name_back_up(
        qtbot: QtBot, form: ApplicantForm, submitted: list[bool]) -> None:
    qtbot.keyClick(form.name, Qt.Key.Key_Return)      # the clerk moved on to the number
    assert here() is form.id_number
    wedge(qtbot, f"王小明\t{GOOD_ID}\n")               # the name lands in the number field,
    assert form.name.text() == "王小明"                 # Tab takes the number to the phone
    assert form.id_number.text() == GOOD_ID
    assert form.phone.text() == ""
    assert here() is form.phone and not submitted


def test_the_agents_card_read_in_the_agents_fields_fills_the_agent_only(
        qtbot: QtBot, form: ApplicantForm) -> None:
    commit(form.name, "王小明")
    form.has_agent.setChecked(True)
    form.agent_name.setFocus()
    wedge(qtbot, f"李四\t{AGENT_ID}\n")
    assert (form.agent_name.text(), form.agent_id_number.text()) == ("李四", AGENT_ID)
    assert form.agent_id_type.currentText() == str(IdType.RESIDENT_ID)
    assert (form.name.text(), form.id_number.text()) == ("王小明", "")
    assert form.card_status.text() == "已读取代理人身份证：李四"


def test_typing_a_name_without_digits_is_untouched_and_enter_still_walks(
        qtbot: QtBot, form: ApplicantForm, submitted: list[bool]) -> None:
    wedge(qtbot, "欧阳娜娜")                 # key by key, like a fast typist
    assert form.name.text() == "欧阳娜娜" and here() is form.name
    qtbot.keyClick(form.name, Qt.Key.Key_Return)
    assert here() is form.id_number
    qtbot.keyClicks(form.id_number, GOOD_ID)
    qtbot.keyClick(form.id_number, Qt.Key.Key_Return)
    assert here() is form.phone
    qtbot.keyClicks(form.phone, "13800138000")
    qtbot.keyClick(form.phone, Qt.Key.Key_Return)    # the last field submits, as before
    assert submitted == [True]
    assert (form.name.text(), form.id_number.text(), form.phone.text()) == (
        "欧阳娜娜", GOOD_ID, "13800138000")
    assert form.card_status.text() == ""    # typed by hand: no card was read


def test_a_number_with_a_wrong_check_digit_typed_into_the_name_stays_where_it_was_typed(
        qtbot: QtBot, form: ApplicantForm) -> None:
    qtbot.keyClicks(form.name, "330102198001010027")
    assert form.name.text() == "330102198001010027" and form.id_number.text() == ""
    assert form.card_status.text() == ""


# -- reader files ----------------------------------------------------------------------------

@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "reader"
    path.mkdir()
    return path


def watched_form(qtbot: QtBot, folder: Path) -> ApplicantForm:
    form = shown(qtbot, ApplicantForm(reader_dir=folder))
    reader = form.reader
    assert reader is not None
    qtbot.waitUntil(lambda: reader.watching and reader.idle and reader.scans >= 2)
    return form


def test_a_card_file_written_into_the_reader_folder_fills_the_form_and_is_deleted(
        qtbot: QtBot, folder: Path) -> None:
    form = watched_form(qtbot, folder)
    scans = form.reader.scans if form.reader else 0
    (folder / "wz.txt").write_bytes(CARD.encode("gbk"))   # the reader program writes it
    qtbot.waitUntil(lambda: form.id_number.text() == GOOD_ID, timeout=5000)
    assert form.reader is not None and form.reader.scans > scans   # seen by the watcher
    assert form.name.text() == "王小明"
    assert form.id_type.currentText() == str(IdType.RESIDENT_ID)
    assert form.address.text() == ADDRESS
    assert form.card_status.text() == "已读取身份证：王小明"
    shot(form, "applicant-card-read")
    qtbot.waitUntil(lambda: not (folder / "wz.txt").exists())
    ops.wait_idle(10_000)


def test_a_utf16_card_file_does_not_overwrite_a_typed_address(
        qtbot: QtBot, folder: Path) -> None:
    form = watched_form(qtbot, folder)
    commit(form.address, "杭州市西湖区文三路1号")
    (folder / "card.txt").write_bytes(CARD.encode("utf-16"))
    qtbot.waitUntil(lambda: form.id_number.text() == GOOD_ID, timeout=5000)
    assert form.address.text() == "杭州市西湖区文三路1号"
    ops.wait_idle(10_000)


def test_garbage_and_a_100_mb_file_in_the_folder_are_refused_with_a_message_and_left(
        qtbot: QtBot, folder: Path) -> None:
    form = watched_form(qtbot, folder)
    huge = folder / "huge.txt"
    with huge.open("wb") as handle:
        handle.truncate(100 * 1024 * 1024)    # sparse: read whole, it would be 100 MB
    qtbot.waitUntil(lambda: "huge.txt" in form.card_status.text(), timeout=10000)
    assert "文件有 100 MB" in form.card_status.text()
    (folder / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    qtbot.waitUntil(lambda: "photo.txt" in form.card_status.text(), timeout=10000)
    assert "读卡文件未能使用" in form.card_status.text()
    shot(form, "applicant-card-refused")
    assert huge.exists() and (folder / "photo.txt").exists()   # not ours to delete
    assert (form.name.text(), form.id_number.text()) == ("", "")
    ops.wait_idle(10_000)


def test_a_card_read_long_before_the_form_opened_is_deleted_unread(
        qtbot: QtBot, folder: Path) -> None:
    old = folder / "wz.txt"
    old.write_bytes(CARD.encode("gbk"))
    long_ago = time.time() - FRESH_S - 600
    os.utime(old, (long_ago, long_ago))
    form = watched_form(qtbot, folder)
    assert not old.exists()
    assert (form.name.text(), form.id_number.text()) == ("", "")
    ops.wait_idle(10_000)


def test_a_card_read_just_before_the_form_opened_is_taken(qtbot: QtBot, folder: Path) -> None:
    (folder / "wz.txt").write_bytes(CARD.encode("gbk"))
    form = shown(qtbot, ApplicantForm(reader_dir=folder))
    qtbot.waitUntil(lambda: form.id_number.text() == GOOD_ID, timeout=5000)
    qtbot.waitUntil(lambda: not (folder / "wz.txt").exists())
    ops.wait_idle(10_000)


def drop(widget: QWidget, path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    dropped = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime,
                         Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, dropped)


def test_a_card_file_dropped_on_a_field_fills_the_form_and_is_left_where_it_was(
        qtbot: QtBot, form: ApplicantForm, tmp_path: Path) -> None:
    path = tmp_path / "desktop" / "王小明.txt"
    path.parent.mkdir()
    path.write_bytes(CARD.encode("utf-16"))
    drop(form.name, path)
    qtbot.waitUntil(lambda: form.id_number.text() == GOOD_ID, timeout=5000)
    assert form.name.text() == "王小明"           # not the file's path pasted in
    assert path.exists() and "用完请删除" in form.card_status.text()


def test_a_card_file_dropped_from_the_reader_folder_is_consumed(
        qtbot: QtBot, folder: Path) -> None:
    form = watched_form(qtbot, folder)
    form.reader.stop() if form.reader else None   # the drop alone must take it
    path = folder / "wz.txt"
    path.write_bytes(CARD.encode("gbk"))
    drop(form, path)
    qtbot.waitUntil(lambda: form.id_number.text() == GOOD_ID, timeout=5000)
    assert not path.exists() and form.card_status.text() == "已读取身份证：王小明"
    ops.wait_idle(10_000)


def test_an_organisations_card_read_fills_the_legal_representative(
        qtbot: QtBot, form: ApplicantForm, tmp_path: Path) -> None:
    form.kind.setCurrentIndex(form.kind.findData(ApplicantKind.ORGANISATION))
    commit(form.name, "示例县好味道餐饮店")
    path = tmp_path / "card.txt"
    path.write_bytes(CARD.encode("gbk"))
    drop(form, path)
    qtbot.waitUntil(lambda: form.legal_rep.text() == "王小明", timeout=5000)
    assert form.name.text() == "示例县好味道餐饮店" and form.id_number.text() == ""


# -- returning applicants --------------------------------------------------------------------

def test_a_returning_applicant_is_shown_masked_and_ctrl_o_fills_only_the_empty_fields(
        qtbot: QtBot, station: Workstation, clerk: Clerk) -> None:
    stored = Applicant(ApplicantKind.PERSON, "王小明", IdType.RESIDENT_ID, GOOD_ID,
                       "13800138000", ADDRESS)
    station.cases.open_case(FOOD, stored, clerk)
    form = shown(qtbot, ApplicantForm(lookup=station.case_list.returning_applicant))
    commit(form.name, "王晓明")                         # typed: must survive 调出
    form.address.setFocus()
    commit(form.address, "杭州市西湖区文三路1号")
    form.id_number.setFocus()
    qtbot.keyClicks(form.id_number, GOOD_ID)
    with qtbot.waitSignal(form.returning_shown, timeout=5000):
        qtbot.keyClick(form.id_number, Qt.Key.Key_Return)   # Enter: the lookup runs
    assert here() is form.phone
    line = form.returning.text()
    assert line == "曾办理过业务的申请人：王*明 138****8000 地址 浙江省****　按 Ctrl+O 调出"
    assert form.returning_row.isVisible() and form.phone.text() == ""
    shot(form, "applicant-returning")
    qtbot.keyClick(here(), Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    assert form.phone.text() == "13800138000"
    assert form.name.text() == "王晓明"
    assert form.address.text() == "杭州市西湖区文三路1号"
    assert form.returning.text() == "已调出：联系电话（已填写的姓名、地址未改动）"
    assert form.applicant().phone == "13800138000"


def test_an_unknown_number_shows_no_returning_line(
        qtbot: QtBot, station: Workstation) -> None:
    form = shown(qtbot, ApplicantForm(lookup=station.case_list.returning_applicant))
    form.id_number.setFocus()
    qtbot.keyClicks(form.id_number, GOOD_ID)
    with qtbot.waitSignal(form.returning_shown, timeout=5000):
        qtbot.keyClick(form.id_number, Qt.Key.Key_Return)
    assert not form.returning_row.isVisible() and form.returning_applicant is None
    qtbot.keyClick(here(), Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    assert form.phone.text() == ""


def test_a_card_read_looks_up_the_returning_applicant_without_an_enter(
        qtbot: QtBot, station: Workstation, clerk: Clerk) -> None:
    station.cases.open_case(FOOD, Applicant(ApplicantKind.PERSON, "王小明", IdType.RESIDENT_ID,
                                            GOOD_ID, "13800138000"), clerk)
    form = shown(qtbot, ApplicantForm(lookup=station.case_list.returning_applicant))
    with qtbot.waitSignal(form.returning_shown, timeout=5000):
        wedge(qtbot, f"王小明\t{GOOD_ID}")               # a wedge set up without Enter
    assert form.returning.text().startswith("曾办理过业务的申请人：王*明 138****8000")
