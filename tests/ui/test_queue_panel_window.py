"""叫号 at the clerk's window, keyboard only: Alt+Q, F9 calls the next ticket, F3 receives
a case for it (the case records the ticket), F12 finishes it, F11 skips a no-show, and an
empty queue is said so. Checked afterwards in the queue's own records."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.domain.queue import TicketStatus
from tests.ui.test_acceptance_workbench import (
    GOOD_ID,
    Keyboard,
    _choose_food_item,
    _shot,
    _type_applicant,
)
from tests.ui.test_acceptance_workbench import window as window
from ui.workbench.main_window import MainWindow


def _act(qtbot: QtBot, keys: Keyboard, window: MainWindow, key: Qt.Key) -> None:
    """One F-key on the queue panel, and the queue read again afterwards."""
    panel = window.queue_panel
    keys.press(key)
    assert not panel.settled   # the action is under way
    qtbot.waitUntil(lambda: panel.settled, timeout=10_000)


def test_call_receive_finish_and_call_again_by_keyboard(qtbot: QtBot, window: MainWindow) -> None:
    ws = window.station
    first, second = ws.queue.take("A"), ws.queue.take("A")
    keys = Keyboard(qtbot)
    keys.press(Qt.Key.Key_Q, Qt.KeyboardModifier.AltModifier)
    panel = window.queue_panel
    assert window.tabs.currentWidget() is panel
    # Taken while the tab was hidden: read again as it is shown.
    qtbot.waitUntil(lambda: "综合受理（A）2人" in panel.waiting.text())
    _act(qtbot, keys, window, Qt.Key.Key_F9)
    assert panel.current is not None and panel.current.number == first.ticket.number
    assert first.ticket.number in panel.ticket.text()
    _shot(window, "16-queue-called")
    keys.press(Qt.Key.Key_F3)                      # 收件 for this ticket
    assert window.tabs.currentWidget() is window.catalogue_panel
    _choose_food_item(qtbot, window)
    panel_a = _type_applicant(qtbot, keys, window, GOOD_ID)
    assert f"排队号 {first.ticket.number}" in panel_a.subtitle.text()
    with qtbot.waitSignal(panel_a.case_opened, timeout=10_000):
        keys.press(Qt.Key.Key_Return)
    assert panel_a.case is not None
    assert ws.cases.get(panel_a.case.id).queue_ticket == first.ticket.number
    keys.press(Qt.Key.Key_Q, Qt.KeyboardModifier.AltModifier)
    _act(qtbot, keys, window, Qt.Key.Key_F12)      # 办结
    assert ws.queue.ticket(first.ticket.number).status is TicketStatus.FINISHED
    _act(qtbot, keys, window, Qt.Key.Key_F9)
    assert panel.current is not None and panel.current.number == second.ticket.number
    _act(qtbot, keys, window, Qt.Key.Key_F11)      # 过号: back to the end, once
    assert ws.queue.ticket(second.ticket.number).status is TicketStatus.WAITING
    _act(qtbot, keys, window, Qt.Key.Key_F9)
    assert panel.current is not None and panel.current.number == second.ticket.number
    _act(qtbot, keys, window, Qt.Key.Key_F12)
    _act(qtbot, keys, window, Qt.Key.Key_F9)       # nobody left
    assert panel.current is None and "没有等候的号" in panel.message.text()


def test_a_ticket_taken_at_the_kiosk_shows_in_the_waiting_counts(
        qtbot: QtBot, window: MainWindow) -> None:
    keys = Keyboard(qtbot)
    keys.press(Qt.Key.Key_Q, Qt.KeyboardModifier.AltModifier)
    panel = window.queue_panel
    qtbot.waitUntil(lambda: panel.status is not None)
    assert "综合受理（A）0人" in panel.waiting.text()
    with qtbot.waitSignal(panel.changed, timeout=10_000):
        window.station.queue.take("A")             # the kiosk, in this process
    assert "综合受理（A）1人" in panel.waiting.text()


def test_f3_with_no_ticket_in_hand_says_to_call_first(qtbot: QtBot, window: MainWindow) -> None:
    keys = Keyboard(qtbot)
    keys.press(Qt.Key.Key_Q, Qt.KeyboardModifier.AltModifier)
    keys.press(Qt.Key.Key_F3)
    assert "先按 F9 叫号" in window.queue_panel.message.text()
    assert window.tabs.currentWidget() is window.queue_panel
