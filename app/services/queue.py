"""The queue's use cases: take a number, call it, and what the clerk does with it.

Each action reads the queue, lets the rules decide (app.domain.queue and
app.domain.queue_policy) and stores the result with :meth:`QueueStore.commit`, a
compare-and-set: if another window or process changed the ticket (or this window) in
between, the action reads again and decides again. Every change is a timestamped event
with its outbox op, then a ``queue_changed`` notification.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

from app.domain.queue import (
    AT_WINDOW,
    QueuePolicy,
    QueueRuleError,
    Ticket,
    TicketClass,
    TicketEvent,
    TicketEventKind,
    TicketStatus,
    apply_event,
    check_window,
    new_ticket,
)
from app.domain.queue_policy import (
    Category,
    WindowConfig,
    after_call,
    check_category,
    check_window_config,
    choose_next,
    waiting_ahead,
)
from app.domain.queue_stats import WAIT_ALERT_MINUTES, WaitingAlert, waiting_alerts
from app.notifications import ChangeHub
from app.services.queue_store import Called, QueueStore

# A compare-and-set lost this many times in a row means something is wrong, not busy.
MAX_ATTEMPTS = 200

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class IssuedTicket:
    """What the kiosk prints: the ticket, its category's name, people ahead of it."""

    ticket: Ticket
    category_name: str
    waiting_ahead: int


@dataclass(frozen=True, slots=True)
class QueueStatus:
    """The hall at a glance (the display and the clerk's panel)."""

    day: dt.date
    waiting: dict[str, int]              # prefix → tickets waiting, in category order
    current: dict[str, Ticket | None]    # window → the ticket it is dealing with
    suspended: dict[str, list[Ticket]]   # window → its suspended tickets
    paused: frozenset[str]


class QueueService:
    def __init__(self, store: QueueStore, hub: ChangeHub, *, clock: Clock = utc_now) -> None:
        self._store = store
        self._hub = hub
        self._clock = clock

    # ---- configuration -----------------------------------------------------------------

    def categories(self) -> list[Category]:
        return self._store.categories()

    def save_category(self, category: Category) -> Category:
        category = check_category(category)
        self._store.save_category(category)
        self._hub.queue_changed()
        return category

    def windows(self) -> list[WindowConfig]:
        return self._store.windows()

    def save_window(self, window: WindowConfig) -> WindowConfig:
        window = check_window_config(window, (c.prefix for c in self._store.categories()))
        self._store.save_window(window)
        self._hub.queue_changed()
        return window

    def policy(self) -> QueuePolicy:
        return self._store.policy()

    def set_policy(self, policy: QueuePolicy) -> None:
        self._store.save_policy(QueuePolicy.from_json(policy.to_json()))   # re-checked
        self._hub.queue_changed()

    def pause_window(self, window: str) -> WindowConfig:
        """暂停: the window calls nothing until :meth:`resume_window`."""
        return self.save_window(replace(self._window(window), paused=True))

    def resume_window(self, window: str) -> WindowConfig:
        return self.save_window(replace(self._window(window), paused=False))

    # ---- the kiosk ---------------------------------------------------------------------

    def today(self) -> dt.date:
        """The business day: the local date (tickets count from 001 each day)."""
        return self._clock().astimezone().date()

    def take(self, category: str, ticket_class: TicketClass = TicketClass.ORDINARY, *,
             priority_reason: str = "", appointment: str = "", id_number: str = ""
             ) -> IssuedTicket:
        """取号: the next number of ``category`` today, saved before anything is printed."""
        try:
            ticket_class = TicketClass(ticket_class)
        except ValueError:
            raise QueueRuleError(f"取号类型“{ticket_class}”无法识别（普通、预约或优先）。") from None
        prefix = category.strip().upper()
        names = {c.prefix: c.name for c in self._store.categories() if c.active}
        if prefix not in names:
            raise QueueRuleError(f"没有可取号的业务类别“{category}”，可选："
                                 + "、".join(f"{p} {n}" for p, n in names.items()) + "。")
        at = self._clock()
        day = at.astimezone().date()
        ticket_id = str(uuid.uuid4())

        def make(seq: int) -> Ticket:
            return new_ticket(ticket_id, prefix, seq, day, ticket_class, at,
                              priority_reason=priority_reason,
                              appointment=appointment.strip().upper(),
                              id_number=id_number.strip().upper())

        ticket = self._store.issue(prefix, day, make,
                                   TicketEvent(TicketEventKind.ISSUED, at))
        self._hub.queue_changed(ticket.number, str(TicketEventKind.ISSUED))
        ahead = waiting_ahead(ticket, self._store.tickets(day, [TicketStatus.WAITING]))
        return IssuedTicket(ticket, names[prefix], ahead)

    # ---- the window --------------------------------------------------------------------

    def call_next(self, window: str, *, clerk_id: str = "") -> Ticket | None:
        """叫号: the next ticket by the call order, or None when nobody waits for it.

        Read, chosen and stored in one write transaction (QueueStore.call): two windows
        pressing at once take turns, and the second sees the first's call."""
        check_window(window)

        def decide(config: WindowConfig, tickets: list[Ticket],
                   policy: QueuePolicy) -> Called | None:
            if config.paused:
                raise QueueRuleError(f"{window}号窗口已暂停，请先恢复。")
            busy = [t for t in tickets if t.status in AT_WINDOW and t.window == window]
            if busy:
                raise QueueRuleError(f"{window}号窗口正在办理{busy[0].number}号，"
                                     "请先办结、过号、挂起或转移。")
            chosen = choose_next(config, tickets, policy.fair_after)
            if chosen is None:
                return None
            event = TicketEvent(TicketEventKind.CALLED, self._clock(), window, clerk_id)
            return chosen, apply_event(chosen, event, policy), event, after_call(config, chosen)

        after = self._store.call(window, self.today(), decide)
        if after is not None:
            self._hub.queue_changed(after.number, str(TicketEventKind.CALLED), window)
        return after

    def recall(self, window: str, *, clerk_id: str = "") -> Ticket:
        """重呼 the ticket called at ``window`` (bounded by the policy)."""
        return self._at_window(window, TicketEventKind.RECALLED, clerk_id)

    def serve(self, window: str, *, clerk_id: str = "") -> Ticket:
        """开始办理: the applicant came to the window."""
        return self._at_window(window, TicketEventKind.SERVING, clerk_id)

    def skip(self, window: str, *, clerk_id: str = "") -> Ticket:
        """过号: back to the end of its queue while it has returns left, else a no-show."""
        return self._at_window(window, TicketEventKind.MISSED, clerk_id)

    def suspend(self, window: str, *, clerk_id: str = "") -> Ticket:
        """挂起: the applicant steps away; the window may call the next one."""
        return self._at_window(window, TicketEventKind.SUSPENDED, clerk_id)

    def finish(self, window: str, *, clerk_id: str = "") -> Ticket:
        """办结."""
        return self._at_window(window, TicketEventKind.FINISHED, clerk_id)

    def transfer(self, window: str, *, category: str = "", to_window: str = "",
                 clerk_id: str = "") -> Ticket:
        """转移 the ticket at ``window`` to a category or one window; it keeps its place
        by issue time in the queue it joins."""
        category = category.strip().upper()
        if category and category not in {c.prefix for c in self._store.categories()}:
            raise QueueRuleError(f"没有业务类别“{category}”。")
        if to_window:
            self._window(to_window)
        return self._at_window(window, TicketEventKind.TRANSFERRED, clerk_id,
                               category=category, target_window=to_window)

    def resume(self, window: str, number: str, *, clerk_id: str = "") -> Ticket:
        """回呼 a ticket this window suspended: it is called again here."""
        number = number.strip().upper()
        for _ in range(MAX_ATTEMPTS):
            config = self._window(window)
            day = self.today()
            tickets = self._store.tickets(day, [TicketStatus.SUSPENDED, *AT_WINDOW])
            busy = [t for t in tickets if t.status in AT_WINDOW and t.window == window]
            if busy:
                raise QueueRuleError(f"{window}号窗口正在办理{busy[0].number}号，"
                                     "请先办结、过号或挂起。")
            found = [t for t in tickets if t.number == number
                     and t.status is TicketStatus.SUSPENDED]
            if not found:
                raise QueueRuleError(f"今天没有挂起的{number}号。")
            event = TicketEvent(TicketEventKind.RESUMED, self._clock(), window, clerk_id)
            after = self._apply(found[0], event)
            # The window's version moves too: a call racing this one retries.
            if self._store.commit(found[0], after, event,
                                  window=(config, replace(config, version=config.version + 1))):
                self._hub.queue_changed(after.number, str(event.kind), window)
                return after
        raise QueueRuleError("回呼冲突过多，请稍后再试。")

    def current(self, window: str) -> Ticket | None:
        """The ticket ``window`` is dealing with (called or being served)."""
        for t in self._store.tickets(self.today(), AT_WINDOW):
            if t.window == window:
                return t
        return None

    def status(self) -> QueueStatus:
        day = self.today()
        tickets = self._store.tickets(day, [TicketStatus.WAITING, TicketStatus.SUSPENDED,
                                            *AT_WINDOW])
        windows = self._store.windows()
        waiting = {c.prefix: 0 for c in self._store.categories()}
        for t in tickets:
            if t.status is TicketStatus.WAITING:
                waiting[t.category] = waiting.get(t.category, 0) + 1
        current: dict[str, Ticket | None] = {w.number: None for w in windows}
        suspended: dict[str, list[Ticket]] = {w.number: [] for w in windows}
        for t in tickets:
            if t.status in AT_WINDOW:
                current[t.window] = t
            elif t.status is TicketStatus.SUSPENDED:
                suspended.setdefault(t.window, []).append(t)
        return QueueStatus(day, waiting, current, suspended,
                           frozenset(w.number for w in windows if w.paused))

    def waiting_alerts(self, limit_minutes: int = WAIT_ALERT_MINUTES) -> list[WaitingAlert]:
        """Today's tickets that have waited ``limit_minutes`` or more (hall practice: 30)."""
        waiting = self._store.tickets(self.today(), [TicketStatus.WAITING])
        return waiting_alerts(waiting, self._clock(), limit_minutes)

    def tickets(self, day: dt.date | None = None) -> list[Ticket]:
        """Every ticket of ``day`` (today), in queue order."""
        return self._store.tickets(day or self.today())

    def ticket(self, number: str, day: dt.date | None = None) -> Ticket:
        number = number.strip().upper()
        for t in self._store.tickets(day or self.today()):
            if t.number == number:
                return t
        raise QueueRuleError(f"{'今天' if day is None else day.isoformat()}没有{number}号。")

    # ---- helpers -----------------------------------------------------------------------

    def _window(self, number: str) -> WindowConfig:
        check_window(number)
        for w in self._store.windows():
            if w.number == number:
                return w
        raise QueueRuleError(f"{number}号窗口没有配置排队业务，请管理员在排队设置中添加。")

    def _apply(self, ticket: Ticket, event: TicketEvent) -> Ticket:
        # TicketTransitionError is a QueueRuleError: the clerk reads its message.
        return apply_event(ticket, event, self._store.policy())

    def _at_window(self, window: str, kind: TicketEventKind, clerk_id: str, *,
                   category: str = "", target_window: str = "") -> Ticket:
        """An action on the ticket ``window`` is dealing with (for 挂起 etc.)."""
        self._window(window)
        for _ in range(MAX_ATTEMPTS):
            ticket = self.current(window)
            if ticket is None:
                raise QueueRuleError(f"{window}号窗口当前没有叫到的号。")
            event = TicketEvent(kind, self._clock(), window, clerk_id, category,
                                target_window)
            after = self._apply(ticket, event)
            if self._store.commit(ticket, after, event):
                self._hub.queue_changed(after.number, str(kind), window)
                return after
        raise QueueRuleError("排队数据冲突过多，请稍后再试。")
