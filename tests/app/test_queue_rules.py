"""The queue's rules (app.domain.queue, app.domain.queue_policy) under random use.

A hypothesis state machine plays a hall: tickets of every class are taken, windows call,
recall, skip, suspend, resume, transfer and finish in any order. After every step the
lifecycle and the call order are checked, including the fairness bound documented in
app/domain/queue_policy.py.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from app.domain.queue import (
    AT_WINDOW,
    MAX_DAILY_TICKETS,
    QueuePolicy,
    QueueRuleError,
    Ticket,
    TicketClass,
    TicketEvent,
    TicketEventKind,
    TicketStatus,
    TicketTransitionError,
    apply_event,
    new_ticket,
    ticket_number,
)
from app.domain.queue_policy import (
    DEFAULT_WINDOWS,
    WindowConfig,
    after_call,
    choose_next,
    eligible,
    ordinary_head,
)

START = dt.datetime(2026, 12, 1, 0, 30, tzinfo=dt.UTC)
DAY = dt.date(2026, 12, 1)
PREFIXES = ("A", "B", "C")
WINDOW_NUMBERS = tuple(w.number for w in DEFAULT_WINDOWS)
S, K = TicketStatus, TicketEventKind
# Every (status before, event, status after) the lifecycle diagram allows.
ALLOWED = {
    (S.WAITING, K.CALLED, S.CALLED), (S.CALLED, K.RECALLED, S.CALLED),
    (S.CALLED, K.SERVING, S.SERVING), (S.CALLED, K.SUSPENDED, S.SUSPENDED),
    (S.SERVING, K.SUSPENDED, S.SUSPENDED), (S.SUSPENDED, K.RESUMED, S.CALLED),
    (S.CALLED, K.MISSED, S.WAITING), (S.CALLED, K.MISSED, S.MISSED),
    (S.CALLED, K.FINISHED, S.FINISHED), (S.SERVING, K.FINISHED, S.FINISHED),
    *((s, K.TRANSFERRED, S.WAITING)
      for s in (S.WAITING, S.CALLED, S.SERVING, S.SUSPENDED)),
}
CLASS_RANK = {TicketClass.PRIORITY: 0, TicketClass.APPOINTMENT: 1, TicketClass.ORDINARY: 2}
classes = st.sampled_from(list(TicketClass))
windows = st.sampled_from(WINDOW_NUMBERS)


class Hall(RuleBasedStateMachine):
    """The rules as a store would run them, in memory."""

    def __init__(self) -> None:
        super().__init__()
        self.tickets: dict[str, Ticket] = {}
        self.windows = {w.number: w for w in DEFAULT_WINDOWS}
        self.policy = QueuePolicy()
        self.now = START
        self.seq = dict.fromkeys(PREFIXES, 0)
        # window → (ordinary head, calls of that window it stayed head without being called)
        self.head_passed: dict[str, tuple[str, int]] = {}
        self.called_ids: list[str] = []

    @initialize(fair_after=st.integers(1, 4), max_recalls=st.integers(0, 2),
                missed_returns=st.integers(0, 2))
    def configure(self, fair_after: int, max_recalls: int, missed_returns: int) -> None:
        self.policy = QueuePolicy(fair_after, max_recalls, missed_returns)

    def tick(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now

    def holding(self, window: str) -> Ticket | None:
        held = [t for t in self.tickets.values() if t.status in AT_WINDOW and t.window == window]
        return held[0] if held else None

    def event(self, ticket: Ticket, kind: TicketEventKind, window: str, **more: str) -> Ticket:
        after = apply_event(ticket, TicketEvent(kind, self.tick(), window, **more), self.policy)
        assert (ticket.status, kind, after.status) in ALLOWED
        assert after.version == ticket.version + 1
        self.tickets[after.id] = after
        return after

    @rule(prefix=st.sampled_from(PREFIXES), ticket_class=classes)
    def take(self, prefix: str, ticket_class: TicketClass) -> None:
        self.seq[prefix] += 1
        reason = "老年人（60周岁及以上）" if ticket_class is TicketClass.PRIORITY else ""
        code = "AB12CD" if ticket_class is TicketClass.APPOINTMENT else ""
        ticket = new_ticket(f"t{len(self.tickets)}", prefix, self.seq[prefix], DAY,
                            ticket_class, self.tick(), priority_reason=reason,
                            appointment=code)
        assert ticket.number == f"{prefix}{self.seq[prefix]:03d}"
        self.tickets[ticket.id] = ticket

    @rule(window=windows)
    def call(self, window: str) -> None:
        if self.holding(window) is not None:
            return   # the service refuses: the window must deal with its ticket first
        config = self.windows[window]
        waiting = [t for t in self.tickets.values() if t.status is S.WAITING]
        head = ordinary_head(config, waiting)
        chosen = choose_next(config, waiting, self.policy.fair_after)
        if chosen is None:
            assert not any(eligible(config, t) for t in waiting)
            return
        assert eligible(config, chosen)
        ordinary_waiting = head is not None
        if chosen.preferred and ordinary_waiting:
            # The bound: at most K preferred calls in a row while an ordinary one waits.
            assert config.preferred_streak < self.policy.fair_after
        # The documented order, written out again: class lane, 优先 before 预约, the
        # window's rank (a ticket sent to this window by name: first), queue time, number.
        lane = [t for t in waiting if eligible(config, t) and t.preferred is chosen.preferred]
        assert chosen == min(lane, key=lambda t: (
            CLASS_RANK[t.ticket_class], config.rank(t.category) or 0, t.queued_at, t.number))
        if not chosen.preferred:
            assert chosen == head
        self.windows[window] = after_call(config, chosen)
        self.event(chosen, K.CALLED, window)
        self.called_ids.append(chosen.id)
        if head is not None and head.id != chosen.id:
            last, passed = self.head_passed.get(window, ("", 0))
            passed = passed + 1 if last == head.id else 1
            # The head of the window's ordinary order is called within K+1 calls.
            assert passed <= self.policy.fair_after
            self.head_passed[window] = (head.id, passed)
        else:
            self.head_passed.pop(window, None)

    @rule(window=windows, kind=st.sampled_from([K.RECALLED, K.SERVING, K.MISSED,
                                                K.SUSPENDED, K.FINISHED]))
    def act(self, window: str, kind: TicketEventKind) -> None:
        ticket = self.holding(window)
        if ticket is None:
            return
        try:
            after = self.event(ticket, kind, window)
        except TicketTransitionError:
            assert ((kind is K.RECALLED and ticket.recalls >= self.policy.max_recalls)
                    or (kind in (K.RECALLED, K.SERVING, K.MISSED)
                    and ticket.status is S.SERVING))
            return
        if kind is K.MISSED:
            returned = after.status is S.WAITING
            assert returned == (ticket.returns < self.policy.missed_returns)
            if returned:   # back at the end of its queue
                assert after.queued_at == self.now
                assert all(t.queued_at < after.queued_at for t in self.tickets.values()
                           if t.id != after.id and t.status is S.WAITING)

    @rule(window=windows, data=st.data())
    def resume(self, window: str, data: st.DataObject) -> None:
        mine = sorted(t.id for t in self.tickets.values()
                      if t.status is S.SUSPENDED and t.window == window)
        if not mine or self.holding(window) is not None:
            return
        after = self.event(self.tickets[data.draw(st.sampled_from(mine))], K.RESUMED, window)
        assert (after.status, after.window) == (S.CALLED, window)

    @rule(window=windows, category=st.sampled_from(("", *PREFIXES)),
          to_window=st.sampled_from(("", *WINDOW_NUMBERS)))
    def transfer(self, window: str, category: str, to_window: str) -> None:
        ticket = self.holding(window)
        if ticket is None:
            return
        if not (category or to_window):
            with pytest.raises(TicketTransitionError):
                self.event(ticket, K.TRANSFERRED, window)
            return
        after = self.event(ticket, K.TRANSFERRED, window, category=category,
                           target_window=to_window)
        # It keeps its place: the queue time it had, in the queue it joins.
        assert after.queued_at == ticket.queued_at
        assert after.category == (category or ticket.category)

    @precondition(lambda self: bool(self.tickets))
    @rule(data=st.data(), kind=st.sampled_from(list(K)), window=windows)
    def anything(self, data: st.DataObject, kind: TicketEventKind, window: str) -> None:
        """Any event on any ticket: refused in Chinese, or a move the diagram allows."""
        ticket = self.tickets[data.draw(st.sampled_from(sorted(self.tickets)))]
        try:
            after = apply_event(ticket, TicketEvent(kind, self.now, window, category="A"),
                                self.policy)
        except TicketTransitionError as exc:
            assert any("\u4e00" <= ch <= "\u9fff" for ch in str(exc))
            return
        assert (ticket.status, kind, after.status) in ALLOWED   # not kept: no window rules

    @invariant()
    def one_ticket_per_window(self) -> None:
        for number in WINDOW_NUMBERS:
            held = [t for t in self.tickets.values()
                    if t.status in AT_WINDOW and t.window == number]
            assert len(held) <= 1

    @invariant()
    def tickets_are_consistent(self) -> None:
        for t in self.tickets.values():
            assert (t.window == "") == (t.status is S.WAITING) or t.status in (
                S.FINISHED, S.MISSED)
            assert t.recalls <= self.policy.max_recalls
            assert t.returns <= self.policy.missed_returns
            if t.status is S.MISSED:   # a no-show only once its returns were used
                assert t.returns == self.policy.missed_returns
        numbers = [t.number for t in self.tickets.values()]
        assert len(numbers) == len(set(numbers))

    @invariant()
    def a_ticket_is_called_again_only_after_it_went_back(self) -> None:
        # Each call took a waiting ticket; one is called twice only if it returned to
        # waiting in between (missed with a return left, or transferred).
        for ticket_id in set(self.called_ids):
            calls = self.called_ids.count(ticket_id)
            t = self.tickets[ticket_id]
            assert calls <= 1 + t.returns + (t.version - 1)


Hall.TestCase.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)
TestHall = Hall.TestCase


@given(prefix=st.sampled_from(PREFIXES), seq=st.integers(1, MAX_DAILY_TICKETS))
def test_a_ticket_number_is_the_letter_and_three_digits(prefix: str, seq: int) -> None:
    number = ticket_number(prefix, seq)
    assert len(number) == 4 and number[0] == prefix and int(number[1:]) == seq


@pytest.mark.parametrize("prefix, seq", [("A", 0), ("A", MAX_DAILY_TICKETS + 1), ("a", 1),
                                         ("AB", 1), ("1", 1)])
def test_a_number_out_of_the_series_is_refused(prefix: str, seq: int) -> None:
    with pytest.raises(QueueRuleError):
        ticket_number(prefix, seq)


@given(fair_after=st.integers(1, 5), preferred=st.integers(0, 30))
def test_an_ordinary_ticket_waits_for_at_most_k_preferred_calls(fair_after: int,
                                                                 preferred: int) -> None:
    """One window, one ordinary ticket taken first, then a stream of 优先 tickets."""
    window = WindowConfig("1", categories=(("A", 1),))
    ordinary = new_ticket("o", "A", 1, DAY, TicketClass.ORDINARY, START)
    waiting = [ordinary] + [
        new_ticket(f"p{i}", "A", i + 2, DAY, TicketClass.PRIORITY,
                   START + dt.timedelta(seconds=i + 1), priority_reason="残疾人")
        for i in range(preferred)]
    calls = 0
    while True:
        chosen = choose_next(window, waiting, fair_after)
        assert chosen is not None
        calls += 1
        window = after_call(window, chosen)
        waiting.remove(chosen)
        if chosen is ordinary:
            break
    assert calls == min(preferred, fair_after) + 1


def test_priority_goes_before_appointment_before_ordinary_within_the_bound() -> None:
    window = WindowConfig("1", categories=(("A", 1),))
    ordinary = new_ticket("o", "A", 1, DAY, TicketClass.ORDINARY, START)
    booked = new_ticket("b", "A", 2, DAY, TicketClass.APPOINTMENT,
                        START + dt.timedelta(seconds=1), appointment="X1234")
    elderly = new_ticket("p", "A", 3, DAY, TicketClass.PRIORITY,
                         START + dt.timedelta(seconds=2), priority_reason="军人依法优先")
    order = []
    waiting = [ordinary, booked, elderly]
    while waiting:
        chosen = choose_next(window, waiting, 2)
        assert chosen is not None
        order.append(chosen.number)
        window = after_call(window, chosen)
        waiting.remove(chosen)
    assert order == ["A003", "A002", "A001"]
    # With K = 1 the ordinary ticket comes second.
    window = replace(window, preferred_streak=0)
    first = choose_next(window, [ordinary, booked, elderly], 1)
    assert first is elderly
    assert choose_next(after_call(window, elderly), [ordinary, booked], 1) is ordinary
