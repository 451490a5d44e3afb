"""Which waiting ticket a window calls next (叫号顺序), and the queue's configuration.

The call order at a window, in words (the same words are in docs for administrators):

1. A window calls only tickets it may serve: waiting tickets of the categories it serves,
   unless transferred to another window, and tickets transferred to it by name.
2. 优先 and 预约 tickets ("preferred") go before ordinary ones; 优先 before 预约.
3. Within a class, the window's category ranks decide (rank 1 before rank 2), then the
   place in the queue (issue time; a ticket back from 过号 at the time it was missed),
   then the number.
4. **Fairness bound**: a window that has made ``K = policy.fair_after`` preferred calls
   in a row calls an ordinary ticket next, if it has one to call. So while an ordinary
   ticket is waiting at a window, at most K preferred tickets are called there before an
   ordinary one; the ticket at the head of the window's ordinary order is called within
   K+1 calls of that window (tests/app/test_queue_rules.py checks both as properties).

Pure: no storage, no clock. The stores hand in plain :class:`Ticket` values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from app.domain.queue import (
    QueueRuleError,
    Ticket,
    TicketClass,
    TicketStatus,
    check_prefix,
    check_window,
)

MAX_CATEGORY_NAME = 20
_CLASS_RANK = {TicketClass.PRIORITY: 0, TicketClass.APPOINTMENT: 1, TicketClass.ORDINARY: 2}


@dataclass(frozen=True, slots=True)
class Category:
    """A business category (业务类别): its letter starts every ticket number of it."""

    prefix: str
    name: str
    active: bool = True        # inactive: no new tickets (the kiosk hides it)
    position: int = 0          # order on the kiosk and the display


@dataclass(frozen=True, slots=True)
class WindowConfig:
    """A window (窗口): the categories it serves, by rank (1 first), and its state."""

    number: str
    name: str = ""
    categories: tuple[tuple[str, int], ...] = ()   # (prefix, rank)
    paused: bool = False       # 暂停: calls nothing until resumed
    preferred_streak: int = 0  # preferred calls in a row (the fairness counter)
    version: int = 1

    def rank(self, prefix: str) -> int | None:
        for p, rank in self.categories:
            if p == prefix:
                return rank
        return None

    @property
    def prefixes(self) -> tuple[str, ...]:
        return tuple(p for p, _ in self.categories)


def check_category(category: Category) -> Category:
    check_prefix(category.prefix)
    name = category.name.strip()
    if not 1 <= len(name) <= MAX_CATEGORY_NAME:
        raise QueueRuleError(f"业务类别名称应为1至{MAX_CATEGORY_NAME}个字。")
    return replace(category, name=name)


def check_window_config(window: WindowConfig, known: Iterable[str]) -> WindowConfig:
    """A window's settings as an administrator gives them (raise QueueRuleError)."""
    check_window(window.number)
    known_set = set(known)
    seen: set[str] = set()
    for prefix, rank in window.categories:
        check_prefix(prefix)
        if prefix not in known_set:
            raise QueueRuleError(f"没有业务类别“{prefix}”，请先添加该类别。")
        if prefix in seen:
            raise QueueRuleError(f"{window.number}号窗口的业务类别“{prefix}”重复。")
        if not 1 <= rank <= 9:
            raise QueueRuleError(f"{window.number}号窗口“{prefix}”类的优先级应为1至9。")
        seen.add(prefix)
    if len(window.name) > 20:
        raise QueueRuleError("窗口名称不能超过20个字。")
    return window


def eligible(window: WindowConfig, ticket: Ticket) -> bool:
    """May ``window`` call ``ticket`` (rule 1)?"""
    if ticket.status is not TicketStatus.WAITING:
        return False
    if ticket.target_window:
        return ticket.target_window == window.number
    return window.rank(ticket.category) is not None


def _key(window: WindowConfig, ticket: Ticket) -> tuple[int, int, Any, str]:
    # A ticket transferred to this window by name ranks like the window's first category.
    rank = window.rank(ticket.category)
    return (rank if rank is not None else 0, _CLASS_RANK[ticket.ticket_class],
            ticket.queued_at, ticket.number)


def _best(window: WindowConfig, tickets: Sequence[Ticket], *, preferred: bool
          ) -> Ticket | None:
    lane = [t for t in tickets if t.preferred is preferred]
    if not lane:
        return None
    if preferred:   # rule 2: 优先 before 预约, then rule 3
        return min(lane, key=lambda t: (_CLASS_RANK[t.ticket_class], _key(window, t)))
    return min(lane, key=lambda t: _key(window, t))


def ordinary_head(window: WindowConfig, waiting: Iterable[Ticket]) -> Ticket | None:
    """The ordinary ticket this window would call first among ordinary ones."""
    return _best(window, [t for t in waiting if eligible(window, t)], preferred=False)


def choose_next(window: WindowConfig, waiting: Iterable[Ticket], fair_after: int
                ) -> Ticket | None:
    """The ticket ``window`` calls next (None: nothing to call), by the rules above."""
    candidates = [t for t in waiting if eligible(window, t)]
    ordinary = _best(window, candidates, preferred=False)
    if ordinary is not None and window.preferred_streak >= fair_after:
        return ordinary   # rule 4: the fairness bound
    preferred = _best(window, candidates, preferred=True)
    return preferred if preferred is not None else ordinary


def after_call(window: WindowConfig, called: Ticket) -> WindowConfig:
    """The window after it called ``called``: the fairness counter moves on."""
    streak = window.preferred_streak + 1 if called.preferred else 0
    return replace(window, preferred_streak=streak, version=window.version + 1)


def waiting_ahead(ticket: Ticket, waiting: Iterable[Ticket]) -> int:
    """People before ``ticket`` in its own queue by place (printed on the ticket)."""
    return sum(1 for t in waiting
               if t.id != ticket.id and t.status is TicketStatus.WAITING
               and t.category == ticket.category
               and (t.queued_at, t.number) < (ticket.queued_at, ticket.number))


# The demo site's queue: 综合受理, 出件, 咨询 on three windows.
DEFAULT_CATEGORIES = (Category("A", "综合受理", position=1), Category("B", "出件", position=2),
                      Category("C", "咨询", position=3))
DEFAULT_WINDOWS = (WindowConfig("1", "1号窗口", (("A", 1), ("C", 2))),
                   WindowConfig("2", "2号窗口", (("A", 1), ("B", 2))),
                   WindowConfig("3", "3号窗口", (("B", 1), ("C", 1))))
