"""排队统计 and 手工叫号 in the workbench, keyboard only: Ctrl+Shift+Q shows the day's
figures (and another day's by date), the queue panel raises the 30-minute alert, and
Ctrl+M records a number called aloud that F3 then puts on the case."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QTableWidget
from pytestqt.qtbot import QtBot

from app.domain.rating import Grade, Rating
from app.notifications import changes_of
from app.services.queue import QueueService
from app.services.queue_store import SqliteQueueStore
from app.storage.db import Database
from tests.ui.keys import type_text
from tests.ui.test_acceptance_workbench import Keyboard, _shot
from tests.ui.test_acceptance_workbench import window as window
from ui.workbench.main_window import MainWindow
from ui.workbench.queue_panel import QueuePanel
from ui.workbench.queue_stats import QueueStatsDialog


def cells(table: QTableWidget) -> list[list[str]]:
    return [[table.item(r, c).text() for c in range(table.columnCount())]
            for r in range(table.rowCount())]


def _open_stats(qtbot: QtBot, keys: Keyboard, window: MainWindow) -> QueueStatsDialog:
    keys.press(Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier
               | Qt.KeyboardModifier.ShiftModifier)
    dialog = window.queue_stats
    assert dialog is not None
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog)
    qtbot.waitUntil(lambda: dialog.figures is not None, timeout=10_000)
    return dialog


def test_ctrl_shift_q_shows_the_days_figures_per_category_window_and_clerk(
        qtbot: QtBot, window: MainWindow) -> None:
    ws, clerk = window.station, window.clerk.clerk_id
    for category in ("A", "A", "C"):
        ws.queue.take(category)
    ws.queue.call_next("1", clerk_id=clerk)
    done = ws.queue.finish("1", clerk_id=clerk)
    ws.ratings.record(Rating(done.id, done.number, "1", Grade.VERY_SATISFIED))
    ws.queue.call_next("1", clerk_id=clerk)
    ws.queue.skip("1", clerk_id=clerk)
    keys = Keyboard(qtbot)
    dialog = _open_stats(qtbot, keys, window)
    assert "取号 3，已叫 2，办结 1" in dialog.heading.text()
    assert "评价 1，满意率 100.0%" in dialog.heading.text()
    rows = cells(dialog.categories)
    assert [r[:8] for r in rows] == [
        ["全部", "3", "3/0/0", "2", "1", "0", "2", "0"],
        ["A 综合受理", "2", "2/0/0", "2", "1", "0", "1", "0"],
        ["B 出件", "0", "0/0/0", "0", "0", "0", "0", "0"],
        ["C 咨询", "1", "1/0/0", "0", "0", "0", "1", "0"]]
    assert [r[:5] + r[8:10] for r in cells(dialog.windows)] == [
        ["1号窗口", "2", "1", "1", "0", "1", "100.0%"]]
    assert cells(dialog.clerks)[0][0] == window.clerk.clerk_name
    assert not dialog.alert.isVisible()
    dialog.resize(1280, 800)
    _shot(dialog, "20-queue-stats")

    # Another day, typed as digits after Ctrl+D: nothing happened then.
    keys.press(Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert dialog.date.hasFocus()
    dialog.figures = None
    type_text(qtbot, "20200102")
    keys.press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.figures is not None, timeout=10_000)
    assert dialog.figures is not None and dialog.figures.day == dt.date(2020, 1, 2)
    assert "2020年01月02日" in dialog.heading.text() and "取号 0" in dialog.heading.text()


def test_a_ticket_waiting_half_an_hour_raises_the_alert_in_panel_and_figures(
        qtbot: QtBot, window: MainWindow) -> None:
    ws = window.station
    earlier = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=31)
    back_then = QueueService(SqliteQueueStore(ws.db), changes_of(ws.db), clock=lambda: earlier)
    back_then.take("C")          # taken 31 minutes ago, nobody has called it
    keys = Keyboard(qtbot)
    keys.press(Qt.Key.Key_Q, Qt.KeyboardModifier.AltModifier)
    panel = window.queue_panel
    qtbot.waitUntil(lambda: panel.alert.isVisible(), timeout=10_000)
    assert "等候超过30分钟：C001（31分钟）" in panel.alert.text()
    _shot(window, "21-queue-alert")
    dialog = _open_stats(qtbot, keys, window)
    assert dialog.alert.isVisible() and "C001（31分钟）" in dialog.alert.text()
    assert cells(dialog.categories)[3][7] == "1"   # C: one waited too long


def _manual_call(qtbot: QtBot, keys: Keyboard, window: MainWindow, number: str) -> QueuePanel:
    """Alt+Q, Ctrl+M, the number, Enter; back when the panel has settled."""
    keys.press(Qt.Key.Key_Q, Qt.KeyboardModifier.AltModifier)
    panel = window.queue_panel
    qtbot.waitUntil(lambda: panel.status is not None)
    keys.press(Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    prompt = panel.prompt
    assert prompt is not None
    qtbot.waitUntil(lambda: QApplication.activeWindow() is prompt)
    assert keys.here() is prompt.line
    keys.type(number)
    keys.press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: panel.settled, timeout=10_000)
    return panel


def test_ctrl_m_records_a_number_called_aloud_and_f3_receives_for_it(
        qtbot: QtBot, window: MainWindow) -> None:
    keys = Keyboard(qtbot)
    panel = _manual_call(qtbot, keys, window, "a050")
    (call,) = window.station.manual_calls.of()
    assert (call.number, call.window, call.clerk_id) == (
        "A050", panel.window_number, window.clerk.clerk_id)
    assert "A050　手工叫号" in panel.ticket.text()
    with qtbot.waitSignal(panel.start_case, timeout=5_000) as started:
        keys.press(Qt.Key.Key_F3)
    assert started.args == ["A050"]


def test_a_queue_that_cannot_be_read_offers_the_manual_call(
        qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    # The queue's database is a folder: it cannot be opened at all.
    (tmp_path / "gone.db").mkdir()
    window.station.queue = QueueService(SqliteQueueStore(Database(tmp_path / "gone.db")),
                                        changes_of(window.station.db))
    keys = Keyboard(qtbot)
    keys.press(Qt.Key.Key_Q, Qt.KeyboardModifier.AltModifier)
    panel = window.queue_panel
    qtbot.waitUntil(lambda: "Ctrl+M" in panel.message.text(), timeout=10_000)
    assert "排队系统暂时不可用" in panel.message.text()
    assert "unable to open database file" in panel.message.toolTip()   # for the admin
    _shot(window, "22-queue-unavailable")


def test_ctrl_shift_h_opens_the_follow_up_list_for_a_supervisor(
        qtbot: QtBot, window: MainWindow) -> None:
    ws = window.station
    ws.queue.take("A")
    ws.queue.call_next("1", clerk_id="another-clerk")
    done = ws.queue.finish("1", clerk_id="another-clerk")
    ws.ratings.record(Rating(done.id, done.number, "1", Grade.VERY_DISSATISFIED,
                             ("服务态度不好",)))
    keys = Keyboard(qtbot)
    keys.press(Qt.Key.Key_H, Qt.KeyboardModifier.ControlModifier
               | Qt.KeyboardModifier.ShiftModifier)
    dialog = window.followups
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 1, timeout=10_000)
    assert dialog.table.item(0, 1).text() == done.number


def test_a_manual_call_that_cannot_be_recorded_says_to_note_it_on_paper(
        qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    from app.services.queue_manual import ManualCalls

    (tmp_path / "gone.db").mkdir()   # the database cannot be opened at all
    window.station.manual_calls = ManualCalls(Database(tmp_path / "gone.db"),
                                              changes_of(window.station.db))
    panel = _manual_call(qtbot, Keyboard(qtbot), window, "A050")
    assert "请在纸上记下号码、窗口和时间" in panel.message.text()
    assert panel.manual_number == ""
