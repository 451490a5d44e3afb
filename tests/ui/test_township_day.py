"""Issue 10's "Done when", played as one township morning on one PC and one data directory.

The kiosk takes tickets by its buttons (printed on the ESC/POS file target), two clerk
workbenches — window 1 and window 2, each its own Workstation over the same home, as
``yichuang --window 2`` runs — call by keyboard only and never get the same ticket, the
hall display shows both calls and asks its voice (Qt's mock engine) to say them, window 1
receives a case for its ticket (the case records it), accepts it and finishes the ticket,
the evaluation screen of window 1 rates it (stored with the clerk and the case), and
Ctrl+Shift+Q in window 1 shows the day's figures. Every screen is its own Workstation, so
news between them travels as it does between processes: through the database's
data_version watch. Screenshots go to /tmp/shots/township-*.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QPushButton, QTableWidget, QTableWidgetItem, QWidget
from pytestqt.qtbot import QtBot

from app.domain.case import CaseStatus
from app.domain.queue import TicketStatus
from app.domain.rating import Grade
from app.services.accounts import DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD, ClerkSession
from app.services.permissions import Role
from app.workstation import Workstation, open_workstation
from tests.support import PaperTray
from tests.ui.previews import preview_shown, sheet_text
from tests.ui.test_acceptance_workbench import (
    APPLICANT,
    GOOD_ID,
    Keyboard,
    _choose_food_item,
    _type_applicant,
)
from ui import ops
from ui.queue.display import HallDisplay
from ui.queue.evaluation import EvaluationView
from ui.queue.kiosk import KioskView
from ui.workbench.main_window import MainWindow
from ui.workbench.queue_stats import QueueStatsDialog

SHOTS = Path("/tmp/shots")
ADMIN_PASSWORD = "Township2026"            # the administrator's own, after the first login
CLERK, CLERK_NAME, CLERK_PASSWORD = "lisi", "李四", "Window2clerk"


@dataclass
class Hall:
    """Every screen of the hall, each on its own Workstation over one data directory."""

    home: Path
    lp0: Path                   # the kiosk's thermal printer (a file for /dev/usb/lp0)
    display: HallDisplay
    said: list[str]             # what the display asked its voice to say
    evaluation: EvaluationView
    kiosk: KioskView
    window_1: MainWindow
    window_2: MainWindow


def _shot(widget: QWidget, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    assert widget.grab().save(str(SHOTS / f"township-{name}.png"))


def _sessions(home: Path) -> tuple[ClerkSession, ClerkSession]:
    """The administrator (window 1) and a clerk of their making (window 2), both past
    their first-login password change, as on a PC that has been set up."""
    station = open_workstation(home)
    try:
        accounts = station.accounts
        first = accounts.login(DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD)
        admin = accounts.change_password(first.user_id, DEFAULT_ADMIN_PASSWORD, ADMIN_PASSWORD)
        accounts.add_user(admin, CLERK, CLERK_NAME, Role.CLERK, "Initial2026")
        new = accounts.login(CLERK, "Initial2026")
        clerk = accounts.change_password(new.user_id, "Initial2026", CLERK_PASSWORD)
    finally:
        station.close()
    return admin, clerk


def _workbench(qtbot: QtBot, home: Path, window: str, session: ClerkSession) -> MainWindow:
    station = open_workstation(home, window=window)
    win = MainWindow(station, session)
    win.resize(1280, 800)
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: win.catalogue_panel.index is not None, timeout=30_000)
    return win


@pytest.fixture
def hall(qtbot: QtBot, tmp_path: Path) -> Iterator[Hall]:
    home, lp0 = tmp_path / "home", tmp_path / "lp0"
    home.mkdir()
    (home / "settings.toml").write_text(
        '[printers]\na4 = "system:窗口打印机"\n'
        f'ticket = "escpos:{lp0}"\n'
        '[thermal]\ntext_mode = true\n'          # the ticket's number as GB18030 text
        '[voice]\nengine = "mock"\nrepeat = 1\n', encoding="utf-8")
    admin, clerk = _sessions(home)

    # The hall wakes up: display and evaluation screen first, then the kiosk, then the
    # two clerks log in.
    display = HallDisplay(open_workstation(home))
    said: list[str] = []
    display.announcer.spoken.connect(said.append)
    display.resize(1366, 768)
    display.show()
    qtbot.waitUntil(lambda: display.announcer.done and display.snapshot is not None,
                    timeout=15_000)
    rating_station = open_workstation(home)
    evaluation = EvaluationView(rating_station, "1", rating_station.ratings)
    evaluation.resize(1366, 768)
    evaluation.show()
    kiosk = KioskView(open_workstation(home))
    kiosk.resize(1366, 768)
    kiosk.show()
    qtbot.waitExposed(kiosk)
    qtbot.waitUntil(lambda: set(kiosk.category_buttons) == {"A", "B", "C"} and all(
        b.isVisible() for b in kiosk.category_buttons.values()), timeout=15_000)
    window_1 = _workbench(qtbot, home, "1", admin)
    window_2 = _workbench(qtbot, home, "2", clerk)
    made = Hall(home, lp0, display, said, evaluation, kiosk, window_1, window_2)
    yield made

    # The evening: every screen closes once its operations are done, then its engine.
    ops.wait_idle(30_000)
    stations: list[Workstation] = []
    for win in (window_1, window_2):
        win.setEnabled(True)
        win.close()
        ops.wait_idle(30_000)
        assert not win.isVisible()
        stations.append(win.station)
    for view in (kiosk, evaluation, display):
        view.close()
        ops.wait_idle(30_000)
    stations += [kiosk.station, rating_station, display.station]
    for widget in (window_1, window_2, kiosk, evaluation, display):
        widget.deleteLater()
    for station in stations:
        station.close()


def _at(qtbot: QtBot, hall: Hall, win: MainWindow) -> None:
    """The clerk turns to this workbench: its window gets the keyboard.

    On the PC each workbench is its own process, so one clerk's keys never reach the
    other's shortcuts. Here both share one QApplication, whose workbench actions are
    application-wide: the other workbench is disabled meanwhile (still shown, still
    following the queue) so that Alt+Q is not an ambiguous shortcut of two windows."""
    other = hall.window_2 if win is hall.window_1 else hall.window_1
    other.setEnabled(False)
    win.setEnabled(True)
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win)


def _tap(qtbot: QtBot, hall: Hall, prefix: str) -> str:
    """An applicant taps a category; the ticket is saved and printed (the file target
    holds the last ticket printed, as the device would have just received it)."""
    kiosk = hall.kiosk
    button: QPushButton = kiosk.category_buttons[prefix]
    qtbot.waitUntil(lambda: kiosk.pages.currentWidget() is kiosk.start_page
                    and button.isEnabled(), timeout=30_000)
    with qtbot.waitSignal(kiosk.printed, timeout=30_000) as printed:
        QTest.mouseClick(button, Qt.MouseButton.LeftButton)
    number, ok, message = printed.args
    assert ok, message
    assert str(number).encode("gb18030") in hall.lp0.read_bytes()
    kiosk.start_over()   # the next applicant does not wait for the screen's timer
    return str(number)


def _queue_key(qtbot: QtBot, keys: Keyboard, win: MainWindow, key: Qt.Key) -> None:
    """An F-key on the workbench's queue panel, and the queue read again after it."""
    panel = win.queue_panel
    keys.press(key)
    assert not panel.settled   # the action is under way
    qtbot.waitUntil(lambda: panel.settled, timeout=15_000)


def _open_queue(qtbot: QtBot, keys: Keyboard, win: MainWindow) -> None:
    keys.press(Qt.Key.Key_Q, Qt.KeyboardModifier.AltModifier)
    assert win.tabs.currentWidget() is win.queue_panel
    qtbot.waitUntil(lambda: win.queue_panel.settled and win.queue_panel.status is not None,
                    timeout=15_000)


def cells(table: QTableWidget) -> list[list[str]]:
    def text(item: QTableWidgetItem | None) -> str:
        assert item is not None
        return item.text()

    return [[text(table.item(r, c)) for c in range(table.columnCount())]
            for r in range(table.rowCount())]


def test_one_pc_hall_day_tickets_two_windows_call_announce_case_finish_rate_figures(
        qtbot: QtBot, hall: Hall, tmp_path: Path) -> None:
    kiosk, display, w1, w2 = hall.kiosk, hall.display, hall.window_1, hall.window_2
    tray = PaperTray(w1.station)   # window 1's A4 printer

    # -- the kiosk: two applicants take 综合受理 tickets, a third one for 咨询.
    taken = [_tap(qtbot, hall, "A"), _tap(qtbot, hall, "A"), _tap(qtbot, hall, "C")]
    assert taken == ["A001", "A002", "C001"]
    _shot(kiosk, "1-kiosk")
    qtbot.waitUntil(lambda: display.snapshot is not None
                    and display.snapshot.status.waiting == {"A": 2, "B": 0, "C": 1},
                    timeout=15_000)

    # -- both clerks call by keyboard: Alt+Q, F9. Different tickets.
    keys = Keyboard(qtbot)
    _at(qtbot, hall, w1)
    _open_queue(qtbot, keys, w1)
    _queue_key(qtbot, keys, w1, Qt.Key.Key_F9)
    _at(qtbot, hall, w2)
    _open_queue(qtbot, keys, w2)
    _queue_key(qtbot, keys, w2, Qt.Key.Key_F9)
    first, second = w1.queue_panel.current, w2.queue_panel.current
    assert first is not None and second is not None
    assert (first.number, second.number) == ("A001", "A002")
    assert first.id != second.id
    assert "A001" in w1.queue_panel.ticket.text() and "A002" in w2.queue_panel.ticket.text()
    _shot(w2, "2-window-2-called")

    # -- the hall display shows both calls and says them.
    calls = ["请A001号到1号窗口办理", "请A002号到2号窗口办理"]
    qtbot.waitUntil(lambda: sorted(hall.said) == calls, timeout=15_000)
    assert [c.number for c in display.tracker.recent("1")] == ["A001"]
    assert [c.number for c in display.tracker.recent("2")] == ["A002"]
    assert display.tracker.latest is not None and display.tracker.latest.number == "A002"
    assert ">A002</span> 号" in display.headline.text()
    assert ">2</span> 号窗口" in display.headline.text()
    _shot(display, "3-display")

    # -- window 1 receives a case for A001 (F3), accepts it (F9) and prints the notice.
    _at(qtbot, hall, w1)
    keys.press(Qt.Key.Key_F3)
    assert w1.tabs.currentWidget() is w1.catalogue_panel
    _choose_food_item(qtbot, w1)
    form = _type_applicant(qtbot, keys, w1, GOOD_ID)
    assert "排队号 A001" in form.subtitle.text()
    _shot(w1, "4-window-1-receives-for-A001")
    with qtbot.waitSignal(form.case_opened, timeout=15_000):
        keys.press(Qt.Key.Key_Return)
    keys.press(Qt.Key.Key_F4)      # every material received
    keys.press(Qt.Key.Key_F9)
    qtbot.waitUntil(lambda: form.confirm is not None
                    and QApplication.activeWindow() is form.confirm, timeout=15_000)
    with qtbot.waitSignal(form.decided, timeout=20_000):
        keys.press(Qt.Key.Key_Return)
    preview = preview_shown(qtbot, form)
    with qtbot.waitSignal(preview.printed, timeout=20_000) as notice:
        keys.press(Qt.Key.Key_Return)
    assert notice.args is not None and notice.args[0].ok, preview.status.text()
    assert form.case is not None
    case = w1.station.cases.get(form.case.id)
    assert case.queue_ticket == "A001" and case.status is CaseStatus.ACCEPTED
    assert case.number in sheet_text(tray.sheets[0], tmp_path)
    assert APPLICANT in sheet_text(tray.sheets[0], tmp_path)

    keys.press(Qt.Key.Key_Escape)  # the preview closes
    assert not preview.isVisible()
    _at(qtbot, hall, w1)           # as a window manager would make it (offscreen does not)
    keys.press(Qt.Key.Key_Escape)  # the decided case: back to the catalogue
    assert w1.tabs.currentWidget() is w1.catalogue_panel

    # -- F12 finishes A001 at window 1; its evaluation screen asks the applicant.
    _open_queue(qtbot, keys, w1)
    _queue_key(qtbot, keys, w1, Qt.Key.Key_F12)
    assert w1.station.queue.ticket("A001").status is TicketStatus.FINISHED
    evaluation = hall.evaluation
    qtbot.waitUntil(lambda: evaluation.pages.currentWidget() is evaluation.grade_page,
                    timeout=15_000)
    assert evaluation.grade_title.text() == "A001号，请对1号窗口的服务作出评价"
    _shot(evaluation, "5-evaluation")
    with qtbot.waitSignal(evaluation.recorded, timeout=15_000):
        QTest.mouseClick(evaluation.grade_buttons[Grade.VERY_SATISFIED],
                         Qt.MouseButton.LeftButton)
    assert evaluation.pages.currentWidget() is evaluation.thanks_page
    [rating] = w1.station.ratings.ratings()
    assert (rating.number, rating.window, rating.grade) == ("A001", "1", Grade.VERY_SATISFIED)
    assert (rating.clerk_id, rating.case_id) == (w1.clerk.clerk_id, case.id)

    # -- window 2 finishes A002 (no evaluation screen there today).
    _at(qtbot, hall, w2)
    assert w2.tabs.currentWidget() is w2.queue_panel
    _queue_key(qtbot, keys, w2, Qt.Key.Key_F12)
    assert w2.station.queue.ticket("A002").status is TicketStatus.FINISHED

    # -- Ctrl+Shift+Q at window 1: the day's figures.
    _at(qtbot, hall, w1)
    keys.press(Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier
               | Qt.KeyboardModifier.ShiftModifier)
    dialog = w1.queue_stats
    assert isinstance(dialog, QueueStatsDialog)
    qtbot.waitUntil(lambda: dialog.figures is not None, timeout=15_000)
    heading = dialog.heading.text()
    assert "取号 3，已叫 2，办结 2" in heading and "等候中 1" in heading
    assert "评价 1，满意率 100.0%" in heading
    assert [r[:2] for r in cells(dialog.categories)] == [
        ["全部", "3"], ["A 综合受理", "2"], ["B 出件", "0"], ["C 咨询", "1"]]
    # 叫号, 办结 | 评价, 满意率 per window and per clerk
    assert [r[:3] + r[8:10] for r in cells(dialog.windows)] == [
        ["1号窗口", "1", "1", "1", "100.0%"], ["2号窗口", "1", "1", "0", "—"]]
    clerks = {r[0]: r[1:3] + r[8:9] for r in cells(dialog.clerks)}
    assert clerks == {w1.session.display_name: ["1", "1", "1"], CLERK_NAME: ["1", "1", "0"]}
    dialog.resize(1280, 800)
    _shot(dialog, "6-statistics")


def test_a_ticket_still_being_served_counts_as_a_call_of_its_window_and_clerk(
        qtbot: QtBot, station: Workstation) -> None:
    station.queue.take("A")
    station.queue.call_next("2", clerk_id="clerk-2")   # served at window 2, not finished
    dialog = QueueStatsDialog(station)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.figures is not None, timeout=15_000)
    assert "已叫 1，办结 0" in dialog.heading.text()
    assert [r[:3] for r in cells(dialog.windows)] == [["2号窗口", "1", "0"]]
    assert [r[:3] for r in cells(dialog.clerks)] == [["clerk-2", "1", "0"]]
