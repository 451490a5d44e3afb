"""出件 at the window, keyboard only: a pickup slip scanned (the number typed + Enter),
the receiver checked by the pickup desk service, the hand-over one DELIVERED event in
the case log and the 送达回证 printed.

A real workstation in tmp_path; the printer is a PaperTray (the system spooler hook
collects the PDFs, read back with pdftotext). Screenshots of each way of handing over go
to /tmp/shots/ for a person to look at.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMainWindow, QWidget
from pytestqt.qtbot import QtBot

from app.domain.case import CaseEventKind, CaseState, CaseStatus, Clerk
from app.domain.pickup import DeliveryMethod
from app.notifications import changes_of
from app.services.accounts import DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD
from app.storage.case_log import case_events
from app.workstation import Workstation, open_workstation
from tests.support import PaperTray, accepted_case
from tests.ui.keys import here, press, type_text
from tests.ui.previews import preview_shown, sheet_text
from ui import ops
from ui.cases.pickup_desk import PickupPanel
from ui.documents.print_preview import DocumentPreview
from ui.events import ChangeEvents
from ui.widgets.style import apply_style

SHOTS = Path("/tmp/shots")
APPLICANT_ID = "330102198001010026"          # accepted_case's 王小明
MASKED_ID = "3301**********0026"
OTHER_ID = "330102197001010013"              # valid, someone else's


@dataclass
class Desk:
    station: Workstation
    clerk: Clerk
    host: QMainWindow
    panel: PickupPanel
    tray: PaperTray


@pytest.fixture
def desk(qtbot: QtBot, tmp_path: Path) -> Iterator[Desk]:
    home = tmp_path / "home"
    home.mkdir()
    (home / "settings.toml").write_text('[printers]\na4 = "system:窗口打印机"\n', encoding="utf-8")
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    # The program's font and style sheet, so the screenshots show what the clerk sees.
    style, font = app.styleSheet(), app.font()
    apply_style(app)
    station = open_workstation(home)
    clerk = station.clerk(station.accounts.login(DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD))
    host = QMainWindow()
    # Not the host's child: pytest-qt closes and deletes the host before this fixture's
    # teardown runs, and the events are stopped here.
    events = ChangeEvents(changes_of(station.db))
    panel = PickupPanel(station, clerk, events, host)
    host.setCentralWidget(panel)
    qtbot.addWidget(host)
    host.resize(1280, 800)   # the common window PC screen the layout must fit
    host.show()
    qtbot.waitExposed(host)
    host.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is host)
    panel.focus_entry()
    yield Desk(station, clerk, host, panel, PaperTray(station))
    ops.wait_idle(30_000)
    events.stop()
    if shiboken6.isValid(host):
        host.close()
    ops.wait_idle(30_000)
    station.close()
    app.setStyleSheet(style)
    app.setFont(font)


def completed_case(d: Desk) -> CaseState:
    case = accepted_case(d.station, d.clerk)
    return d.station.pickup.complete(case.id, d.clerk)


def scan(qtbot: QtBot, panel: PickupPanel, text: str) -> None:
    """What a barcode scanner does: the text typed into the focused field, then Enter."""
    assert here() is panel.number
    qtbot.keyClicks(panel.number, text)
    with qtbot.waitSignal(panel.case_shown):
        qtbot.keyClick(panel.number, Qt.Key.Key_Return)


def events_of(ws: Workstation, case_id: str) -> list[Any]:
    with ws.db.read() as session:
        return [(row.kind, row.payload) for row in case_events(session, case_id)]


def delivered_events(ws: Workstation, case_id: str) -> list[dict[str, Any]]:
    return [p for kind, p in events_of(ws, case_id) if kind == CaseEventKind.DELIVERED]


def print_receipt(qtbot: QtBot, panel: PickupPanel) -> DocumentPreview:
    """The 送达回证 preview that opened: Enter prints it."""
    preview = preview_shown(qtbot, panel)
    assert preview.document is not None and preview.document.title == "送达回证"
    with qtbot.waitSignal(preview.printed, timeout=20000) as printed:
        press(qtbot, Qt.Key.Key_Return)
    assert printed.args is not None and printed.args[0].ok, preview.status.text()
    return preview


def back_to(qtbot: QtBot, window: QWidget) -> None:
    """The window active again once a dialog closed, as a window manager makes it (the
    offscreen platform does not)."""
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)


def shot(widget: QWidget, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    assert widget.grab().save(str(SHOTS / f"{name}.png"))


# -- the tests ---------------------------------------------------------------------------

def test_scanning_the_slip_opens_the_case_and_the_applicant_takes_it_in_person(
        qtbot: QtBot, desk: Desk, tmp_path: Path) -> None:
    panel, case = desk.panel, completed_case(desk)
    scan(qtbot, panel, case.number)
    f = panel.summary.fields
    assert f["number"].text() == case.number and f["status"].text() == "已办结"
    assert f["item"].text() == "食品经营许可（新办）"
    assert f["applicant"].text() == f"王小明　居民身份证 {MASKED_ID}"
    assert APPLICANT_ID not in f["applicant"].text() + panel.form.applicant_hint.text()
    assert f["promised"].text() == f"{case.promised_date:%Y-%m-%d}"
    assert f["delivered"].text() == "尚未出件"
    assert here() is panel.form.radios[0]         # the method first: 1 本人领取
    press(qtbot, Qt.Key.Key_1)
    assert here() is panel.form.own_id
    type_text(qtbot, APPLICANT_ID)
    shot(desk.host, "pickup-1-in-person")
    with qtbot.waitSignal(panel.delivered, timeout=20000):
        press(qtbot, Qt.Key.Key_Return)           # what the ID reader sends after the number
    print_receipt(qtbot, panel)
    shot(panel, "pickup-4-delivered")

    [payload] = delivered_events(desk.station, case.id)
    assert payload["delivery"]["method"] == "本人领取"
    assert payload["delivery"]["recipient"] == "王小明"
    assert payload["delivery"]["id_number"] == APPLICANT_ID
    assert desk.station.cases.by_number(case.number).status is CaseStatus.DELIVERED
    assert desk.station.integrity.verify().ok
    assert "由 王小明" in f["delivered"].text() and "本人领取" in f["delivered"].text()
    assert len(desk.tray.sheets) == 1
    text = sheet_text(desk.tray.sheets[0], tmp_path)
    assert "送达回证" in text and "王小明" in text and case.number in text


def test_the_slips_qr_code_text_opens_the_case_too(qtbot: QtBot, desk: Desk) -> None:
    panel, case = desk.panel, completed_case(desk)
    witness = desk.station.cases.witness_hash(case.id)[:32].upper()
    scan(qtbot, panel, f"{case.number}:{witness}")
    assert panel.case is not None and panel.case.id == case.id


def test_a_slip_whose_qr_witness_is_not_the_records_opens_nothing(
        qtbot: QtBot, desk: Desk) -> None:
    panel, case = desk.panel, completed_case(desk)
    qtbot.keyClicks(panel.number, f"{case.number}:0123456789ABCDEF0123456789ABCDEF")
    with qtbot.waitSignal(panel.lookup_failed):
        qtbot.keyClick(panel.number, Qt.Key.Key_Return)
    assert "校验码与办件" in panel.error.text() and panel.case is None


def test_a_number_that_is_no_case_is_refused_and_selected_for_the_next_scan(
        qtbot: QtBot, desk: Desk) -> None:
    panel = desk.panel
    qtbot.keyClicks(panel.number, "12345")
    with qtbot.waitSignal(panel.lookup_failed):
        press(qtbot, Qt.Key.Key_Return)
    assert "不是有效的办件编号" in panel.error.text()
    assert here() is panel.number and panel.number.selectedText() == "12345"
    assert panel.case is None and not panel.form.isEnabled()
    press(qtbot, Qt.Key.Key_Escape)               # cleared for the next slip
    assert panel.number.text() == "" and panel.error.text() == "" and here() is panel.number
    with qtbot.waitSignal(panel.finished):        # Esc on an empty desk: leave 出件
        press(qtbot, Qt.Key.Key_Escape)


def test_a_case_whose_record_was_edited_by_hand_is_not_opened(qtbot: QtBot, desk: Desk) -> None:
    panel, case = desk.panel, completed_case(desk)
    with sqlite3.connect(desk.station.settings.database_path) as raw:
        raw.execute("UPDATE cases SET applicant_name = '李四' WHERE id = ?", (case.id,))
    qtbot.keyClicks(panel.number, case.number)
    with qtbot.waitSignal(panel.lookup_failed):
        press(qtbot, Qt.Key.Key_Return)
    assert "与办件记录不一致（申请人姓名）" in panel.error.text()
    assert panel.case is None and panel.number.selectedText() == case.number


def test_someone_elses_id_number_is_refused_beside_the_form_and_nothing_is_recorded(
        qtbot: QtBot, desk: Desk) -> None:
    panel, case = desk.panel, completed_case(desk)
    scan(qtbot, panel, case.number)
    press(qtbot, Qt.Key.Key_1)
    type_text(qtbot, OTHER_ID)
    with qtbot.waitSignal(panel.form.problems_shown, timeout=20000):
        press(qtbot, Qt.Key.Key_Return)
    shot(desk.host, "pickup-5-wrong-id")
    assert "领取人证件号码与申请人不一致" in panel.form.problems.text()
    assert delivered_events(desk.station, case.id) == []
    assert desk.station.cases.by_number(case.number).status is CaseStatus.COMPLETED
    assert panel.preview is None and not desk.tray.sheets
    # The field keeps the number, selected: the applicant's own card is scanned over it.
    assert here() is panel.form.own_id and panel.form.own_id.selectedText() == OTHER_ID


def test_a_proxy_without_the_letter_is_refused_and_with_it_takes_the_result(
        qtbot: QtBot, desk: Desk, tmp_path: Path) -> None:
    panel, case = desk.panel, completed_case(desk)
    form = panel.form
    scan(qtbot, panel, case.number)
    press(qtbot, Qt.Key.Key_2)
    assert here() is form.proxy_name
    type_text(qtbot, "李四")
    press(qtbot, Qt.Key.Key_Return)
    assert here() is form.proxy_id                # Enter walks the typed fields
    type_text(qtbot, OTHER_ID)
    press(qtbot, Qt.Key.Key_Return)
    type_text(qtbot, "配偶")
    press(qtbot, Qt.Key.Key_Return)
    assert here() is form.letter and not form.letter.isChecked()
    with qtbot.waitSignal(form.problems_shown, timeout=20000):
        press(qtbot, Qt.Key.Key_Return)           # Enter on the letter box: 出件, unticked
    shot(desk.host, "pickup-2-proxy-refused")
    assert "授权委托书" in form.problems.text()
    assert delivered_events(desk.station, case.id) == []
    assert here() is form.letter
    press(qtbot, Qt.Key.Key_Space)
    assert form.letter.isChecked()
    with qtbot.waitSignal(panel.delivered, timeout=20000):
        press(qtbot, Qt.Key.Key_F9)
    print_receipt(qtbot, panel)

    [payload] = delivered_events(desk.station, case.id)
    d = payload["delivery"]
    assert (d["method"], d["recipient"], d["id_number"], d["relation"], d["proxy_letter"]) == (
        "代领", "李四", OTHER_ID, "配偶", True)
    assert "李四" in sheet_text(desk.tray.sheets[0], tmp_path)


def test_a_posted_result_records_the_carrier_and_the_tracking_number(
        qtbot: QtBot, desk: Desk, tmp_path: Path) -> None:
    panel, case = desk.panel, completed_case(desk)
    form = panel.form
    scan(qtbot, panel, case.number)
    press(qtbot, Qt.Key.Key_3)
    assert here() is form.addressee
    press(qtbot, Qt.Key.Key_Return)               # the applicant, by default
    type_text(qtbot, "杭州市西湖区文三路90号")
    press(qtbot, Qt.Key.Key_Return)
    assert here() is form.carrier and form.carrier.currentText() == "中国邮政EMS"
    press(qtbot, Qt.Key.Key_Down)
    press(qtbot, Qt.Key.Key_Down)
    assert form.carrier.currentText() == "顺丰速运"
    press(qtbot, Qt.Key.Key_Return)
    assert here() is form.tracking
    type_text(qtbot, "SF1234567890")
    shot(desk.host, "pickup-3-mail")
    with qtbot.waitSignal(panel.delivered, timeout=20000):
        press(qtbot, Qt.Key.Key_Return)           # a waybill scanner's Enter
    shot(print_receipt(qtbot, panel), "pickup-7-service-receipt")

    facts = desk.station.pickup.delivery_facts(case.id)
    assert facts is not None
    assert facts.delivery.method is DeliveryMethod.MAIL
    assert (facts.delivery.carrier, facts.delivery.tracking) == ("顺丰速运", "SF1234567890")
    assert facts.delivery.address == "杭州市西湖区文三路90号"
    [payload] = delivered_events(desk.station, case.id)
    assert payload["delivery"]["tracking"] == "SF1234567890"
    assert "SF1234567890" in panel.summary.fields["delivered"].text()
    text = sheet_text(desk.tray.sheets[0], tmp_path)
    assert "顺丰速运" in text and "SF1234567890" in text


def test_an_accepted_case_is_recorded_as_completed_with_f5_and_then_handed_over(
        qtbot: QtBot, desk: Desk) -> None:
    panel = desk.panel
    case = accepted_case(desk.station, desk.clerk)
    scan(qtbot, panel, case.number)
    assert panel.summary.fields["status"].text() == "已受理"
    assert not panel.form.isEnabled() and "F5" in panel.message.text()
    shot(desk.host, "pickup-0-not-completed")
    press(qtbot, Qt.Key.Key_F9)                   # not yet: the desk says why
    assert "尚未办结" in panel.message.text()
    press(qtbot, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: panel.confirm is not None
                    and QApplication.activeWindow() is panel.confirm)
    assert panel.confirm is not None
    shot(panel.confirm, "pickup-6-confirm-completion")
    with qtbot.waitSignal(panel.completed, timeout=20000):
        press(qtbot, Qt.Key.Key_Return)
    back_to(qtbot, desk.host)
    assert panel.summary.fields["status"].text() == "已办结" and panel.form.isEnabled()
    assert here() is panel.form.radios[0]
    press(qtbot, Qt.Key.Key_1)
    type_text(qtbot, APPLICANT_ID)
    with qtbot.waitSignal(panel.delivered, timeout=20000):
        press(qtbot, Qt.Key.Key_F9)

    kinds = [kind for kind, _p in events_of(desk.station, case.id)]
    assert kinds[-2:] == [CaseEventKind.STATUS_CHANGED, CaseEventKind.DELIVERED]
    assert desk.station.integrity.verify().ok


def test_a_case_handed_over_says_who_took_it_and_is_not_handed_over_again(
        qtbot: QtBot, desk: Desk, tmp_path: Path) -> None:
    panel, case = desk.panel, completed_case(desk)
    scan(qtbot, panel, case.number)
    press(qtbot, Qt.Key.Key_1)
    type_text(qtbot, APPLICANT_ID)
    with qtbot.waitSignal(panel.delivered, timeout=20000):
        press(qtbot, Qt.Key.Key_Return)
    preview = print_receipt(qtbot, panel)
    press(qtbot, Qt.Key.Key_Escape)               # the preview closes
    assert not preview.isVisible()
    back_to(qtbot, desk.host)
    press(qtbot, Qt.Key.Key_Escape)               # the desk clears for the next slip
    assert panel.case is None and panel.number.text() == "" and here() is panel.number

    scan(qtbot, panel, case.number)               # the same slip again
    assert panel.summary.fields["status"].text() == "已出件"
    assert "由 王小明" in panel.summary.fields["delivered"].text()
    assert not panel.form.isVisible()
    press(qtbot, Qt.Key.Key_F9)
    assert "不能重复出件" in panel.message.text()
    ops.wait_idle(30_000)
    assert len(delivered_events(desk.station, case.id)) == 1
    panel.preview = None
    press(qtbot, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)   # reprint
    print_receipt(qtbot, panel)
    assert len(desk.tray.sheets) == 2
    assert "补打" in sheet_text(desk.tray.sheets[1], tmp_path)


def test_a_hand_over_recorded_elsewhere_meanwhile_is_refused_by_the_service(
        qtbot: QtBot, desk: Desk, tmp_path: Path) -> None:
    panel, case = desk.panel, completed_case(desk)
    scan(qtbot, panel, case.number)
    # Another window on this data directory (its own process: no notice reaches us
    # until it is looked for) hands the result over first.
    from app.domain.pickup import Delivery

    other = open_workstation(desk.station.settings.data_dir)
    try:
        other.pickup.deliver(case.id, Delivery(DeliveryMethod.IN_PERSON,
                                               id_number=APPLICANT_ID), desk.clerk)
    finally:
        other.close()
    press(qtbot, Qt.Key.Key_1)
    type_text(qtbot, APPLICANT_ID)
    with qtbot.waitSignal(panel.form.problems_shown, timeout=20000):
        press(qtbot, Qt.Key.Key_Return)
    assert "不能重复出件" in panel.form.problems.text()
    qtbot.waitUntil(lambda: panel.summary.fields["status"].text() == "已出件")   # re-read
    assert len(delivered_events(desk.station, case.id)) == 1


def test_the_case_on_screen_follows_a_change_made_elsewhere(qtbot: QtBot, desk: Desk) -> None:
    panel = desk.panel
    case = accepted_case(desk.station, desk.clerk)
    scan(qtbot, panel, case.number)
    assert not panel.form.isEnabled()
    with qtbot.waitSignal(panel.case_shown):      # case_changed: the desk re-reads it
        desk.station.pickup.complete(case.id, desk.clerk)
    assert panel.summary.fields["status"].text() == "已办结" and panel.form.isEnabled()


def _tab_round(qtbot: QtBot, start: QWidget) -> list[QWidget]:
    stops: list[QWidget] = []
    for _ in range(30):
        press(qtbot, Qt.Key.Key_Tab)
        if here() is start:
            return stops
        stops.append(here())
    raise AssertionError(f"Tab never came back: {[type(w).__name__ for w in stops]}")


def test_tab_walks_only_the_fields_of_the_chosen_method(qtbot: QtBot, desk: Desk) -> None:
    panel, case = desk.panel, completed_case(desk)
    form = panel.form
    scan(qtbot, panel, case.number)
    press(qtbot, Qt.Key.Key_1)
    assert _tab_round(qtbot, form.own_id) == [panel.number, form.radios[0]]
    press(qtbot, Qt.Key.Key_Tab)
    press(qtbot, Qt.Key.Key_2, Qt.KeyboardModifier.AltModifier)   # from a field
    assert here() is form.proxy_name
    assert _tab_round(qtbot, form.proxy_name) == [
        form.proxy_id_type, form.proxy_id, form.relation, form.letter, panel.number,
        form.radios[1]]
    press(qtbot, Qt.Key.Key_3, Qt.KeyboardModifier.AltModifier)
    assert _tab_round(qtbot, form.addressee) == [
        form.address, form.carrier, form.tracking, panel.number, form.radios[2]]
