"""好差评 view: a ticket finished at the window is shown with five grades; 满意 is sent at
once, 不满意 / 非常不满意 only with a reason; a ticket finished at another window is not
shown; a screen left unanswered, or a ticket already rated, is not asked about again; a
ticket finished while the screen was asking is not missed. Most tests send ratings to an
in-memory sink, to see exactly what the view sends; one sends them to the workstation's
real RatingService. The queue is the real one of a workstation in tmp_path. Screenshots at
1920×1080 and 1366×768 go to /tmp/shots/."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QThread
from PySide6.QtWidgets import QPushButton, QWidget
from pytestqt.qtbot import QtBot

from app.domain.queue import QueueRuleError, Ticket, TicketStatus
from app.workstation import Workstation
from ui import ops
from ui.launcher import NO_DISPLAY, NO_DISPLAY_STATUS
from ui.queue.evaluation import EvaluationView, Grade, Rating, RatingSink

SHOTS = Path("/tmp/shots")


class MemorySink:
    """A RatingSink in memory: awaiting = the window's last finished, unrated ticket."""

    def __init__(self, station: Workstation) -> None:
        self.station = station
        self.ratings: list[Rating] = []
        self._lock = threading.Lock()

    def awaiting(self, window: str) -> Ticket | None:
        with self._lock:
            rated = {r.ticket_id for r in self.ratings}
        done = [t for t in self.station.queue.tickets()
                if t.window == window and t.status is TicketStatus.FINISHED
                and t.id not in rated]
        return done[-1] if done else None

    def record(self, rating: Rating) -> None:
        if rating.grade.needs_reason and not rating.reasons:
            raise QueueRuleError("差评须说明原因。")
        with self._lock:
            if any(r.ticket_id == rating.ticket_id for r in self.ratings):
                raise QueueRuleError(f"{rating.number}号已经评价过。")
            self.ratings.append(rating)


class HeldSink(MemorySink):
    """A MemorySink whose answers can be held back after they were read: a question out
    while the hall changes (the answer read before the change arrives after it)."""

    def __init__(self, station: Workstation) -> None:
        super().__init__(station)
        self.read = threading.Event()     # an answer was read and is being held
        self._go = threading.Event()
        self._go.set()

    def hold(self) -> None:
        self.read.clear()
        self._go.clear()

    def release(self) -> None:
        self._go.set()

    def awaiting(self, window: str) -> Ticket | None:
        found = super().awaiting(window)
        if not self._go.is_set():
            self.read.set()
            self._go.wait(30)
        return found


def _shown(qtbot: QtBot, station: Workstation, sink: RatingSink) -> Iterator[EvaluationView]:
    v = EvaluationView(station, "1", sink)
    v.resize(1366, 768)
    v.show()
    qtbot.waitExposed(v)
    yield v
    ops.wait_idle(30_000)
    v.close()
    v.deleteLater()
    ops.wait_idle(30_000)


@pytest.fixture
def view(qtbot: QtBot, station: Workstation) -> Iterator[EvaluationView]:
    yield from _shown(qtbot, station, MemorySink(station))


@pytest.fixture
def held_view(qtbot: QtBot, station: Workstation) -> Iterator[EvaluationView]:
    yield from _shown(qtbot, station, HeldSink(station))


@pytest.fixture
def stored_view(qtbot: QtBot, station: Workstation) -> Iterator[EvaluationView]:
    yield from _shown(qtbot, station, station.ratings)


def _finish(station: Workstation, window: str, clerk_id: str = "") -> str:
    """Take a ticket of a category the window serves, call it there and finish it."""
    number = station.queue.take("A").ticket.number
    called = station.queue.call_next(window, clerk_id=clerk_id)
    assert called is not None and called.number == number
    station.queue.finish(window, clerk_id=clerk_id)
    return number


def _tap(qtbot: QtBot, button: QPushButton) -> None:
    assert button.isVisible() and button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _shot(widget: QWidget, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    image = widget.grab()
    assert (image.width(), image.height()) == (widget.width(), widget.height())
    assert image.save(str(SHOTS / f"{name}.png"))


def _sink(view: EvaluationView) -> MemorySink:
    assert isinstance(view.sink, MemorySink)
    return view.sink


def test_a_finished_ticket_is_rated_satisfied_with_one_tap(
        qtbot: QtBot, station: Workstation, view: EvaluationView) -> None:
    _shot(view, "evaluation-welcome-1366x768")
    number = _finish(station, "1")
    qtbot.waitUntil(lambda: view.pages.currentWidget() is view.grade_page)
    assert view.grade_title.text() == f"{number}号，请对1号窗口的服务作出评价"
    _shot(view, "evaluation-grades-1366x768")
    view.resize(1920, 1080)
    _shot(view, "evaluation-grades-1920x1080")

    view.thanks_ms = 50
    with qtbot.waitSignal(view.recorded) as recorded:
        _tap(qtbot, view.grade_buttons[Grade.SATISFIED])

    ticket = station.queue.ticket(number)
    assert recorded.args == [Rating(ticket.id, number, "1", Grade.SATISFIED)]
    assert _sink(view).ratings == recorded.args
    assert view.pages.currentWidget() is view.thanks_page
    qtbot.waitUntil(lambda: view.pages.currentWidget() is view.welcome_page)
    ops.wait_idle(30_000)
    assert view.pages.currentWidget() is view.welcome_page   # rated: not asked again


def test_very_dissatisfied_needs_a_reason_before_it_is_sent(
        qtbot: QtBot, station: Workstation, view: EvaluationView) -> None:
    _finish(station, "1")
    qtbot.waitUntil(lambda: view.pages.currentWidget() is view.grade_page)
    _tap(qtbot, view.grade_buttons[Grade.VERY_DISSATISFIED])
    assert view.pages.currentWidget() is view.reason_page
    _tap(qtbot, view.submit)
    assert view.reason_error.text() == "请至少选择一项不满意的原因。"
    ops.wait_idle(30_000)
    assert _sink(view).ratings == []
    _tap(qtbot, view.reason_buttons["办事效率低、等候时间长"])
    _tap(qtbot, view.reason_buttons["多次跑腿仍未办成"])
    _shot(view, "evaluation-reasons-1366x768")

    with qtbot.waitSignal(view.recorded):
        _tap(qtbot, view.submit)

    [rating] = _sink(view).ratings
    assert (rating.grade, rating.reasons) == (
        Grade.VERY_DISSATISFIED, ("办事效率低、等候时间长", "多次跑腿仍未办成"))


def test_a_ticket_finished_at_another_window_is_not_shown(
        qtbot: QtBot, station: Workstation, view: EvaluationView) -> None:
    _finish(station, "2")
    ops.wait_idle(30_000)
    view.look()
    ops.wait_idle(30_000)
    assert view.pages.currentWidget() is view.welcome_page
    assert view.ticket is None


def test_every_screen_fits_1366x768(view: EvaluationView) -> None:
    hint = view.minimumSizeHint()
    assert hint.width() <= 1366 and hint.height() <= 768, hint


def test_a_satisfied_tap_is_stored_with_the_clerk_who_finished_the_ticket(
        qtbot: QtBot, station: Workstation, stored_view: EvaluationView) -> None:
    number = _finish(station, "1", clerk_id="clerk-0007")
    qtbot.waitUntil(lambda: stored_view.pages.currentWidget() is stored_view.grade_page)
    assert stored_view.ticket is not None and stored_view.ticket.number == number

    with qtbot.waitSignal(stored_view.recorded):
        _tap(qtbot, stored_view.grade_buttons[Grade.SATISFIED])

    assert stored_view.pages.currentWidget() is stored_view.thanks_page
    [stored] = station.ratings.ratings()
    assert (stored.number, stored.window, stored.clerk_id, stored.grade, stored.reasons) == (
        number, "1", "clerk-0007", Grade.SATISFIED, ())
    assert station.ratings.awaiting("1") is None


def test_a_rating_screen_left_unanswered_goes_back_to_the_welcome_and_stays_there(
        qtbot: QtBot, station: Workstation, view: EvaluationView) -> None:
    view.idle_ms = 200
    _finish(station, "1")
    qtbot.waitUntil(lambda: view.pages.currentWidget() is view.grade_page)
    qtbot.waitUntil(lambda: view.pages.currentWidget() is view.welcome_page)
    ops.wait_idle(30_000)
    # The hall goes on (a ticket taken at the kiosk): every commit anywhere reaches the
    # screen as database_changed, and the unrated ticket is still the window's last.
    station.queue.take("B")
    with qtbot.waitSignal(view.events.database_changed, timeout=10_000):
        view.events.check_now()
    ops.wait_idle(30_000)
    assert view.pages.currentWidget() is view.welcome_page
    assert _sink(view).ratings == []

    number = _finish(station, "1")     # the next applicant at this window
    qtbot.waitUntil(lambda: view.pages.currentWidget() is view.grade_page)
    assert view.grade_title.text().startswith(f"{number}号")


@pytest.mark.skipif(QThread.idealThreadCount() < 2,
                    reason="one worker answers in the order asked: the late answer cannot be")
def test_an_answer_read_before_the_rating_was_stored_does_not_ask_again(
        qtbot: QtBot, station: Workstation, held_view: EvaluationView) -> None:
    sink = held_view.sink
    assert isinstance(sink, HeldSink)
    _finish(station, "1")
    qtbot.waitUntil(lambda: held_view.pages.currentWidget() is held_view.grade_page)
    ops.wait_idle(30_000)
    sink.hold()
    held_view.look()                   # as a commit elsewhere makes it: still unrated
    qtbot.waitUntil(sink.read.is_set)
    try:
        with qtbot.waitSignal(held_view.recorded):
            _tap(qtbot, held_view.grade_buttons[Grade.SATISFIED])
        assert held_view.pages.currentWidget() is held_view.thanks_page
    finally:
        sink.release()
    ops.wait_idle(30_000)
    assert held_view.pages.currentWidget() is held_view.thanks_page
    assert len(sink.ratings) == 1


def test_a_ticket_finished_while_the_screen_was_asking_is_not_missed(
        qtbot: QtBot, station: Workstation, held_view: EvaluationView) -> None:
    sink = held_view.sink
    assert isinstance(sink, HeldSink)
    ops.wait_idle(30_000)
    sink.hold()
    held_view.look()                   # reads "nothing to rate" and is held
    qtbot.waitUntil(sink.read.is_set)
    try:
        with qtbot.waitSignal(held_view.events.queue_changed,
                              check_params_cb=lambda _n, kind, _w: kind == "finished"):
            number = _finish(station, "1")
    finally:
        sink.release()
    ops.wait_idle(30_000)
    assert held_view.pages.currentWidget() is held_view.grade_page
    assert held_view.grade_title.text().startswith(f"{number}号")


def _run_evaluate(tmp_path: Path, window: str, env: dict[str, str]
                  ) -> subprocess.CompletedProcess[str]:
    code = ("import sys; from pathlib import Path; from ui.queue.evaluation import "
            f"run_evaluate; sys.exit(run_evaluate(Path({str(tmp_path / 'home')!r}), "
            f"{window!r}))")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120, check=False, cwd=Path(__file__).parents[2])


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="other systems need no display server")
def test_without_a_display_the_evaluation_screen_exits_2_with_one_chinese_line(
        tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    out = _run_evaluate(tmp_path, "1", env)
    assert (out.returncode, out.stderr) == (NO_DISPLAY_STATUS, NO_DISPLAY + "\n")
    assert not (tmp_path / "home").exists()


def test_the_evaluation_screen_of_a_window_without_queue_exits_2(tmp_path: Path) -> None:
    out = _run_evaluate(tmp_path, "9", {**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert (out.returncode, out.stderr) == (2, "9号窗口没有配置排队业务，无法打开评价屏。\n")
