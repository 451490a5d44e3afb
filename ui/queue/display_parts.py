"""What the hall display shows, and how it learns which ticket was just called.

Qt-free. :func:`read_hall` runs on a worker thread (an Operation) and returns one
:class:`HallSnapshot`; :class:`CallTracker` compares each snapshot with the previous one.
A call made in another process reaches the display only as "the database changed", so
the tracker finds the calls itself: a ticket now *called* at a window that was not
called there before is a new call (叫号, or 回呼 of a suspended one), one whose 重呼
count went up is a recall. Calls that land between two refreshes come out in window
order (their exact order is not in the tickets; a core ``recent_calls`` would say).
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import dataclass, field

from app.config import CALL_REPEAT, CALL_TEMPLATE, DEFAULT_NOTICE, Settings
from app.domain.queue import AT_WINDOW, Ticket, TicketStatus
from app.domain.queue_policy import Category, WindowConfig
from app.services.queue import QueueService, QueueStatus

HISTORY_PER_WINDOW = 3
# Where a ticket can be, holding its window, only after it was called there.
_AFTER_A_CALL = frozenset({TicketStatus.SERVING, TicketStatus.FINISHED,
                           TicketStatus.SUSPENDED, TicketStatus.MISSED})


@dataclass(frozen=True)
class HallSettings:
    """The display's part of settings.toml: ``[display]`` and ``[voice]``."""

    notice: str = DEFAULT_NOTICE    # "" scrolls no notice
    voice_engine: str = ""          # "" the first with Mandarin; "none"; or an engine name
    call_template: str = CALL_TEMPLATE
    call_repeat: int = CALL_REPEAT

    @classmethod
    def of(cls, settings: Settings) -> HallSettings:
        return cls(notice=settings.display_notice, voice_engine=settings.voice_engine,
                   call_template=settings.call_template, call_repeat=settings.call_repeat)


@dataclass(frozen=True)
class HallSnapshot:
    """One reading of the hall (made off the GUI thread)."""

    status: QueueStatus
    categories: list[Category]
    windows: list[WindowConfig]
    tickets: list[Ticket]           # today's, every status

    @property
    def day(self) -> dt.date:
        return self.status.day


def read_hall(queue: QueueService) -> HallSnapshot:
    """Everything the display needs, in one go (worker thread)."""
    return HallSnapshot(queue.status(), queue.categories(), queue.windows(), queue.tickets())


@dataclass(frozen=True)
class Call:
    number: str
    window: str
    category: str
    recall: bool = False


@dataclass
class CallTracker:
    """The calls found by comparing snapshots, and the last few per window."""

    history: int = HISTORY_PER_WINDOW
    latest: Call | None = None
    _seen: dict[str, Ticket] = field(default_factory=dict)
    _day: dt.date | None = None
    _recent: dict[str, deque[Call]] = field(default_factory=dict)

    def update(self, snapshot: HallSnapshot) -> list[Call]:
        """The calls made since the previous snapshot, in window order. The first
        snapshot (and the first of a new day) announces nothing: it only records what
        windows are dealing with, so a display started mid-morning does not call out
        every ticket at a window."""
        first = self._day != snapshot.day
        if first:
            self._day, self.latest = snapshot.day, None
            self._seen.clear()
            self._recent.clear()
        calls: list[Call] = []
        for ticket in snapshot.tickets:
            before = self._seen.get(ticket.id)
            self._seen[ticket.id] = ticket
            if first:
                if ticket.status in AT_WINDOW:
                    self._remember(Call(ticket.number, ticket.window, ticket.category))
            elif ticket.status is TicketStatus.CALLED:
                call = _call_between(before, ticket)
                if call is not None:
                    calls.append(call)
            elif _passed_through_a_call(before, ticket):
                # Called and already served, finished or suspended before this reading:
                # a line in the window's history, nothing to announce any more.
                self._remember(Call(ticket.number, ticket.window, ticket.category))
        calls.sort(key=lambda c: (_window_key(c.window), c.number))
        for call in calls:
            self._remember(call)
            self.latest = call
        return calls

    def recent(self, window: str) -> list[Call]:
        """The last calls at ``window``, newest first (a recall is not repeated)."""
        return list(self._recent.get(window, ()))

    def _remember(self, call: Call) -> None:
        recent = self._recent.setdefault(call.window, deque(maxlen=self.history))
        if not recent or recent[0].number != call.number:   # a 重呼 stays one line
            recent.appendleft(call)


def _call_between(before: Ticket | None, now: Ticket) -> Call | None:
    """The call that took ``before`` to ``now`` (now CALLED), if any."""
    call = Call(now.number, now.window, now.category)
    if before is None or before.status is not TicketStatus.CALLED or before.window != now.window:
        return call
    if now.version == before.version:
        return None
    # Only 重呼 keeps a ticket called: each one adds one to both counters. Anything else
    # went through another status and back (过号 and called again, 挂起 and 回呼).
    if now.recalls - before.recalls == now.version - before.version:
        return Call(now.number, now.window, now.category, recall=True)
    return call


def _passed_through_a_call(before: Ticket | None, now: Ticket) -> bool:
    """``now`` is past a call this tracker never saw (it was waiting, or new)."""
    return (now.status in _AFTER_A_CALL and bool(now.window)
            and (before is None or before.status is TicketStatus.WAITING))


def _window_key(window: str) -> tuple[int, str]:
    return (int(window), "") if window.isdigit() else (10**9, window)


def waiting_lines(snapshot: HallSnapshot) -> list[tuple[str, str, int]]:
    """(prefix, name, people waiting) for each active category, in category order."""
    return [(c.prefix, c.name, snapshot.status.waiting.get(c.prefix, 0))
            for c in snapshot.categories if c.active]


def window_line(snapshot: HallSnapshot, window: WindowConfig) -> tuple[str, str]:
    """What a window is doing now: (its ticket or "", a short state)."""
    if window.number in snapshot.status.paused:
        return "", "暂停服务"
    ticket = snapshot.status.current.get(window.number)
    if ticket is None:
        return "", "空闲"
    return ticket.number, ("请到窗口" if ticket.status is TicketStatus.CALLED else "办理中")
