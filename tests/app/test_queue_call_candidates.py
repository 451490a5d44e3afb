"""叫号 reads only the head of each lane (app/services/queue_store.py): on any queue, the
ticket chosen from those is the one choose_next chooses from every ticket of the day.

Random queues are written to a real SQLite database; the store's call hands its decision
the tickets its query found, and the test compares choose_next over them with
choose_next over the whole generated queue, for both branches of the fairness rule.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from app.domain.queue import (
    AT_WINDOW,
    QueuePolicy,
    Ticket,
    TicketClass,
    TicketEvent,
    TicketEventKind,
    TicketStatus,
    new_ticket,
)
from app.domain.queue_policy import Category, WindowConfig, choose_next
from app.notifications import ChangeHub
from app.services.queue import QueueService
from app.services.queue_store import Called, SqliteQueueStore, iso
from app.storage.db import Database, open_database
from app.storage.models import OutboxOp, QueueTicketEventRow, QueueTicketRow
from tests.app.test_queue_rules import DAY, PREFIXES, START

WINDOWS = ("1", "2", "3")
# Few distinct queue times: tickets sharing one are common, and the number decides.
TIMES = [START + dt.timedelta(seconds=s, microseconds=m) for s in range(4) for m in (0, 7)]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqliteQueueStore]:
    db = open_database(tmp_path_factory.mktemp("candidates") / "yichuang.db")
    yield SqliteQueueStore(db)
    db.dispose()


@st.composite
def tickets(draw: st.DrawFn) -> list[Ticket]:
    """A day's queue in any state, a few tickets of the next day among them."""
    seq = dict.fromkeys(PREFIXES, 0)
    drawn: list[Ticket] = []
    for _ in range(draw(st.integers(0, 40))):
        prefix = draw(st.sampled_from(PREFIXES))
        seq[prefix] += 1
        ticket_class = draw(st.sampled_from(list(TicketClass)))
        at = draw(st.sampled_from(TIMES))
        ticket = new_ticket(str(uuid.uuid4()), prefix, seq[prefix],
                            draw(st.sampled_from([DAY, DAY, DAY, DAY + dt.timedelta(1)])),
                            ticket_class, at,
                            priority_reason="残疾人" if ticket_class is TicketClass.PRIORITY
                            else "", appointment="AB12" if ticket_class
                            is TicketClass.APPOINTMENT else "")
        status = draw(st.sampled_from([TicketStatus.WAITING] * 4 + list(TicketStatus)))
        window = "" if status is TicketStatus.WAITING else draw(st.sampled_from(WINDOWS))
        sent = draw(st.sampled_from(["", "", "", *WINDOWS])) if status is TicketStatus.WAITING \
            else ""
        drawn.append(replace(ticket, category=draw(st.sampled_from(PREFIXES)), status=status,
                             window=window, target_window=sent,
                             queued_at=draw(st.sampled_from(TIMES)),
                             version=draw(st.integers(1, 5))))
    return drawn


windows = st.builds(
    WindowConfig, st.sampled_from(WINDOWS), st.just(""),
    st.lists(st.tuples(st.sampled_from(PREFIXES), st.integers(1, 3)), max_size=3,
             unique_by=lambda c: c[0]).map(tuple))


def _store_queue(db: Database, queue: list[Ticket]) -> None:
    with db.write() as session:
        session.execute(delete(QueueTicketRow))
        for t in queue:
            session.add(QueueTicketRow(
                id=t.id, day=t.day, seq=int(t.number[1:]), number=t.number,
                category=t.category, ticket_class=str(t.ticket_class),
                priority_reason=t.priority_reason, appointment=t.appointment,
                id_number=t.id_number, status=str(t.status), issued_at=iso(t.issued_at),
                queued_at=iso(t.queued_at), target_window=t.target_window, window=t.window,
                recalls=t.recalls, returns=t.returns, version=t.version))


def _what_call_sees(store: SqliteQueueStore, window: str) -> tuple[WindowConfig, list[Ticket]]:
    seen: list[tuple[WindowConfig, list[Ticket]]] = []

    def look(config: WindowConfig, found: list[Ticket], _policy: QueuePolicy) -> Called | None:
        seen.append((config, found))
        return None   # nothing is written: the next window looks at the same queue

    assert store.call(window, DAY, look) is None
    return seen[0]


@settings(max_examples=300, deadline=None)
@given(queue=tickets(), window=windows, fair_after=st.integers(1, 4))
def test_the_lane_heads_give_the_choice_the_whole_queue_gives(
        store: SqliteQueueStore, queue: list[Ticket], window: WindowConfig,
        fair_after: int) -> None:
    store.save_window(window)
    _store_queue(store._db, queue)
    config, found = _what_call_sees(store, window.number)
    assert config.categories == window.categories
    today = [t for t in queue if t.day == DAY]
    assert all(t in today for t in found)
    # The window's own tickets, for "finish the one you have first".
    assert ({t.id for t in found if t.status in AT_WINDOW and t.window == window.number}
            == {t.id for t in today if t.status in AT_WINDOW and t.window == window.number})
    # Both branches of the fairness rule: preferred first, and an ordinary one is due.
    for streak in (0, fair_after):
        at = replace(config, preferred_streak=streak)
        assert choose_next(at, found, fair_after) == choose_next(at, today, fair_after)
    # Narrow: the held ticket(s), a head per category and class, and the tickets sent
    # to this window by name one per category and class.
    held = sum(1 for t in today if t.status in AT_WINDOW and t.window == window.number)
    assert len(found) <= held + 3 * len(window.categories) + 3 * len(PREFIXES)


def test_a_call_leaves_an_event_and_an_outbox_op_as_the_models_read_them(
        tmp_path: Path) -> None:
    db = open_database(tmp_path / "yichuang.db")
    try:
        queue = QueueService(SqliteQueueStore(db), ChangeHub(), clock=lambda: START)
        queue.save_category(Category("A", "综合受理"))
        queue.save_window(WindowConfig("1", "", (("A", 1),)))
        taken = queue.take("A").ticket
        assert queue.call_next("1", clerk_id="u7") == replace(
            taken, status=TicketStatus.CALLED, window="1", version=2)
        with db.read() as session:
            event = session.scalars(select(QueueTicketEventRow).where(
                QueueTicketEventRow.kind == str(TicketEventKind.CALLED))).one()
            op = session.scalars(select(OutboxOp).where(
                OutboxOp.kind == str(TicketEventKind.CALLED))).one()
            row = session.get(QueueTicketRow, taken.id)
        assert (event.ticket_id, event.seq, event.window, event.clerk_id, event.occurred_at
                ) == (taken.id, 2, "1", "u7", iso(START))
        assert event.payload == TicketEvent(TicketEventKind.CALLED, START, "1", "u7").to_json()
        assert (op.entity, op.entity_id, op.base_version, op.state, op.attempts,
                op.blob_refs, op.last_error) == ("queue_ticket", taken.id, 1, "pending", 0,
                                                 [], "")
        assert op.payload == {**event.payload, "event_id": event.event_id,
                              "number": "A001", "status": "called", "version": 2}
        assert row is not None
        assert (row.status, row.window, row.target_window, row.version) == (
            "called", "1", "", 2)
    finally:
        db.dispose()
