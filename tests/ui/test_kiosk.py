"""The kiosk (自助取号): tap a category → a ticket saved, its number shown big, the 80 mm
ticket printed; a printer fault keeps the number and says what to do; 绿色通道 with its
reason and 预约签到 by ID number or code are stored with the ticket.

The ticket printer is a file standing in for /dev/usb/lp0 (``escpos:`` file target),
in the thermal printer's text mode so the printed bytes carry the number as GB18030
text. Screenshots at 1920×1080 and 1366×768 go to /tmp/shots/ for a person to look at.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton, QWidget
from pytestqt.qtbot import QtBot

from app.domain.queue import TicketClass, TicketStatus
from app.workstation import Workstation, open_workstation
from ui import ops
from ui.launcher import NO_DISPLAY, NO_DISPLAY_STATUS
from ui.queue.kiosk import KioskView, printer_fault_message

SHOTS = Path("/tmp/shots")
GOOD_ID = "330102198001010026"
Kiosk = Callable[..., tuple[KioskView, Workstation]]


@pytest.fixture
def make_kiosk(qtbot: QtBot, tmp_path: Path) -> Iterator[Kiosk]:
    """A kiosk on a real workstation whose ticket printer is ``printer`` (a file path)."""
    made: list[tuple[KioskView, Workstation]] = []

    def make(printer: Path, size: tuple[int, int] = (1366, 768)) -> tuple[KioskView, Workstation]:
        home = tmp_path / "home"
        home.mkdir()
        (home / "settings.toml").write_text(
            f'[printers]\nticket = "escpos:{printer}"\n[thermal]\ntext_mode = true\n',
            encoding="utf-8")
        station = open_workstation(home)
        view = KioskView(station)
        view.resize(*size)
        view.show()
        qtbot.waitExposed(view)
        # Buttons added to a shown page appear once the event loop has run.
        qtbot.waitUntil(lambda: set(view.category_buttons) == {"A", "B", "C"} and all(
            b.isVisible() for b in view.category_buttons.values()))
        made.append((view, station))
        return view, station

    yield make
    for view, station in made:
        ops.wait_idle(30_000)
        view.close()
        view.deleteLater()
        ops.wait_idle(30_000)
        station.close()


def _tap(qtbot: QtBot, button: QPushButton) -> None:
    assert button.isVisible() and button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _take(qtbot: QtBot, view: KioskView, prefix: str) -> tuple[str, bool, str]:
    """Tap the category; wait until its ticket was printed (or failed to)."""
    with qtbot.waitSignal(view.printed, timeout=30_000) as printed:
        _tap(qtbot, view.category_buttons[prefix])
    number, ok, message = printed.args
    return number, ok, message


def _shot(widget: QWidget, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    image = widget.grab()
    assert (image.width(), image.height()) == (widget.width(), widget.height())
    assert image.save(str(SHOTS / f"{name}.png"))


def test_every_screen_fits_1366x768(qtbot: QtBot, tmp_path: Path, make_kiosk: Kiosk) -> None:
    view, _station = make_kiosk(tmp_path / "lp0")
    # The stack is as large as its largest page: none may push the kiosk off the screen.
    hint = view.minimumSizeHint()
    assert hint.width() <= 1366 and hint.height() <= 768, hint
    view.resize(1366, 768)
    assert (view.width(), view.height()) == (1366, 768)
    _shot(view, "kiosk-start-1366x768")
    _take(qtbot, view, "A")
    _shot(view, "kiosk-number-1366x768")


def test_tapping_a_category_saves_the_ticket_shows_it_and_prints_it(
        qtbot: QtBot, tmp_path: Path, make_kiosk: Kiosk) -> None:
    lp0 = tmp_path / "lp0"
    view, station = make_kiosk(lp0, (1920, 1080))
    station.queue.take("A")   # someone took A001 at another kiosk
    qtbot.waitUntil(lambda: "当前等候 1 人" in view.category_buttons["A"].text())
    _shot(view, "kiosk-start-1920x1080")

    number, ok, message = _take(qtbot, view, "A")

    assert (number, ok) == ("A002", True), message
    saved = station.queue.ticket("A002")
    assert (saved.status, saved.ticket_class) == (TicketStatus.WAITING, TicketClass.ORDINARY)
    assert view.pages.currentWidget() is view.result_page
    assert view.number_label.text() == "A002"
    assert view.business_label.text() == "综合受理"
    assert view.ahead_label.text() == "您前面还有 1 人等候"
    assert view.print_status.text() == "请取走号票，留意大厅叫号屏及语音提示"
    printed = lp0.read_bytes()
    for text in ("A002", "综合受理", station.settings.site_name, "您前面还有 1 人等候"):
        assert text.encode("gb18030") in printed, text
    assert b"\x1dV" in printed   # the paper is cut after the ticket
    _shot(view, "kiosk-number-1920x1080")


def test_the_number_screen_returns_to_the_start_by_itself(
        qtbot: QtBot, tmp_path: Path, make_kiosk: Kiosk) -> None:
    view, _station = make_kiosk(tmp_path / "lp0")
    view.result_ms = 50
    _take(qtbot, view, "C")
    qtbot.waitUntil(lambda: view.pages.currentWidget() is view.start_page)
    qtbot.waitUntil(lambda: "当前等候 1 人" in view.category_buttons["C"].text())
    assert view.number == ""


def test_a_printer_fault_keeps_the_number_and_says_what_to_do(
        qtbot: QtBot, tmp_path: Path, make_kiosk: Kiosk) -> None:
    view, station = make_kiosk(tmp_path / "no-such-dir" / "lp0")
    view.fault_ms = 50

    number, ok, message = _take(qtbot, view, "A")

    assert (number, ok) == ("A001", False)
    assert "热敏打印机" in message
    assert station.queue.ticket("A001").status is TicketStatus.WAITING   # saved first
    assert view.number_label.text() == "A001"
    assert view.print_status.text() == printer_fault_message("A001") == (
        "号码已取到：A001，打印机故障，请记下号码或联系工作人员")
    assert view.print_detail.text() == message   # the reason, small, for the staff
    view.resize(1920, 1080)
    _shot(view, "kiosk-printer-fault-1920x1080")
    # Back at the start, the next applicant gets the next number: A001 is not reused.
    qtbot.waitUntil(lambda: view.pages.currentWidget() is view.start_page)
    assert _take(qtbot, view, "A")[0] == "A002"


def test_a_second_tap_while_the_first_is_saved_takes_no_second_number(
        qtbot: QtBot, tmp_path: Path, make_kiosk: Kiosk) -> None:
    view, station = make_kiosk(tmp_path / "lp0")
    with qtbot.waitSignal(view.printed, timeout=30_000):
        view.take("A")
        view.take("A")   # before the first is delivered: the view is busy
        assert not view.category_buttons["B"].isEnabled()
    ops.wait_idle(30_000)
    assert [t.number for t in station.queue.tickets()] == ["A001"]


def test_green_channel_with_a_reason_stores_the_class_and_prints_it(
        qtbot: QtBot, tmp_path: Path, make_kiosk: Kiosk) -> None:
    lp0 = tmp_path / "lp0"
    view, station = make_kiosk(lp0)
    _tap(qtbot, view.green_button)
    assert view.pages.currentWidget() is view.reason_page
    _shot(view, "kiosk-reasons-1366x768")
    _tap(qtbot, view.reason_buttons["残疾人"])
    assert view.pages.currentWidget() is view.start_page
    assert view.mode.text() == "绿色通道：残疾人　请选择业务"
    _shot(view, "kiosk-green-chosen-1366x768")

    number, ok, message = _take(qtbot, view, "B")

    assert (number, ok) == ("B001", True), message
    saved = station.queue.ticket("B001")
    assert (saved.ticket_class, saved.priority_reason) == (TicketClass.PRIORITY, "残疾人")
    assert view.business_label.text() == "出件【绿色通道】"
    assert "【绿色通道】".encode("gb18030") in lp0.read_bytes()
    _shot(view, "kiosk-number-green-1366x768")


def test_cancelling_green_channel_takes_an_ordinary_ticket(
        qtbot: QtBot, tmp_path: Path, make_kiosk: Kiosk) -> None:
    view, station = make_kiosk(tmp_path / "lp0")
    _tap(qtbot, view.green_button)
    _tap(qtbot, view.reason_buttons["军人依法优先"])
    _tap(qtbot, view.cancel_choice)
    assert not view.mode.isVisible()
    _take(qtbot, view, "A")
    assert station.queue.ticket("A001").ticket_class is TicketClass.ORDINARY


def test_appointment_check_in_by_id_number_on_the_keypad(
        qtbot: QtBot, tmp_path: Path, make_kiosk: Kiosk) -> None:
    view, station = make_kiosk(tmp_path / "lp0")
    _tap(qtbot, view.check_in_button)
    keys = {b.text(): b for b in view.check_in_page.findChildren(QPushButton)}
    for digit in GOOD_ID[:-1] + "7":   # a wrong check digit first
        _tap(qtbot, keys[digit])
    _tap(qtbot, view.check_in_next)
    qtbot.waitUntil(lambda: "校验位" in view.check_in_error.text())
    assert view.pages.currentWidget() is view.check_in_page
    _shot(view, "kiosk-check-in-refused-1366x768")
    _tap(qtbot, keys["删除"])
    _tap(qtbot, keys["6"])
    _tap(qtbot, view.check_in_next)
    qtbot.waitUntil(lambda: view.pages.currentWidget() is view.start_page)
    assert view.mode.text() == "预约签到：3301**********0026　请选择业务"

    _take(qtbot, view, "A")

    saved = station.queue.ticket("A001")
    assert (saved.ticket_class, saved.id_number, saved.appointment) == (
        TicketClass.APPOINTMENT, GOOD_ID, "")
    assert view.business_label.text() == "综合受理【预约】"


def test_appointment_code_scanned_with_enter(
        qtbot: QtBot, tmp_path: Path, make_kiosk: Kiosk) -> None:
    view, station = make_kiosk(tmp_path / "lp0")
    _tap(qtbot, view.check_in_button)
    assert view.entry.hasFocus()
    qtbot.keyClicks(view.entry, "yy2026ab")   # a scanner types the code, then Enter
    qtbot.keyClick(view.entry, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: view.pages.currentWidget() is view.start_page)
    assert view.mode.text() == "预约签到：YY2026AB　请选择业务"
    _take(qtbot, view, "C")
    saved = station.queue.ticket("C001")
    assert (saved.ticket_class, saved.appointment) == (TicketClass.APPOINTMENT, "YY2026AB")


def test_an_empty_check_in_is_refused_beside_the_field(
        qtbot: QtBot, tmp_path: Path, make_kiosk: Kiosk) -> None:
    view, station = make_kiosk(tmp_path / "lp0")
    _tap(qtbot, view.check_in_button)
    _tap(qtbot, view.check_in_next)
    qtbot.waitUntil(lambda: view.check_in_error.text() == "请输入预约码或身份证号码。")
    assert view.pages.currentWidget() is view.check_in_page
    ops.wait_idle(30_000)
    assert station.queue.tickets() == []


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="other systems need no display server")
def test_without_a_display_the_kiosk_exits_2_with_one_chinese_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    code = ("import sys; from pathlib import Path; from ui.queue.kiosk import run_kiosk; "
            f"sys.exit(run_kiosk(Path({str(tmp_path / 'home')!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=120, check=False, cwd=Path(__file__).parents[2])
    assert (out.returncode, out.stderr) == (NO_DISPLAY_STATUS, NO_DISPLAY + "\n")
    assert not (tmp_path / "home").exists()
