"""Where the queue lives: the :class:`QueueStore` interface and its SQLite implementation.

The rules (app.domain.queue, app.domain.queue_policy) and the service run unchanged over
any store; the site server will implement the same interface over PostgreSQL. A store
promises one thing beyond storage: :meth:`QueueStore.commit` is a compare-and-set — the
ticket row changes only if it is still at the version and status the caller saw
(``UPDATE … WHERE id = ? AND version = ? AND status = ?``, exactly one row changed), and
the window's row likewise when given. A caller that loses the race reads again and
retries, so two windows never get the same ticket and none is skipped.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from app.domain.queue import (
    AT_WINDOW,
    QueuePolicy,
    QueueRuleError,
    Ticket,
    TicketClass,
    TicketEvent,
    TicketStatus,
)
from app.domain.queue_policy import Category, WindowConfig
from app.storage.case_log import utc_now_iso
from app.storage.db import Database
from app.storage.install_meta import meta_get, meta_set
from app.storage.models import (
    OutboxOp,
    QueueCategoryRow,
    QueueNumberCounter,
    QueueTicketEventRow,
    QueueTicketRow,
    QueueWindowRow,
)

POLICY_KEY = "queue_policy"

# 叫号 decides on the queue as one write transaction sees it: the window, the day's
# tickets waiting or at a window, and the policy; it returns the ticket before and after
# the call, the event, and the window after it — or None when nobody waits for it.
Called = tuple[Ticket, Ticket, TicketEvent, WindowConfig]
CallDecision = Callable[[WindowConfig, list[Ticket], QueuePolicy], Called | None]


class QueueStore(Protocol):
    """The queue's storage, local (SQLite) or on the site server."""

    def policy(self) -> QueuePolicy: ...
    def save_policy(self, policy: QueuePolicy) -> None: ...
    def categories(self) -> list[Category]: ...
    def save_category(self, category: Category) -> None: ...
    def windows(self) -> list[WindowConfig]: ...
    def save_window(self, window: WindowConfig) -> None:
        """Name, categories and paused; the fairness counter is the calls' business."""

    def tickets(self, day: dt.date, statuses: Iterable[TicketStatus] | None = None
                ) -> list[Ticket]: ...
    def issue(self, prefix: str, day: dt.date, make: Callable[[int], Ticket],
              event: TicketEvent) -> Ticket:
        """Take the next sequence of ``prefix`` for ``day`` and store ``make(seq)``."""

    def commit(self, before: Ticket, after: Ticket, event: TicketEvent, *,
               window: tuple[WindowConfig, WindowConfig] | None = None) -> bool:
        """Store ``after`` and ``event`` if the ticket (and the window) are still as the
        caller saw them; False when another caller changed them first."""

    def call(self, window: str, day: dt.date, decide: CallDecision) -> Ticket | None:
        """叫号 as one transaction: read, ``decide``, store; no other call between."""


def iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _ticket(row: QueueTicketRow) -> Ticket:
    return Ticket(
        id=row.id, number=row.number, category=row.category, day=row.day,
        ticket_class=TicketClass(row.ticket_class), status=TicketStatus(row.status),
        issued_at=dt.datetime.fromisoformat(row.issued_at),
        queued_at=dt.datetime.fromisoformat(row.queued_at),
        priority_reason=row.priority_reason, appointment=row.appointment,
        id_number=row.id_number, target_window=row.target_window, window=row.window,
        recalls=row.recalls, returns=row.returns, version=row.version)


def _fields(t: Ticket) -> dict[str, Any]:
    """The columns that events change (number, day and class never do)."""
    return {"category": t.category, "status": str(t.status), "queued_at": iso(t.queued_at),
            "target_window": t.target_window, "window": t.window, "recalls": t.recalls,
            "returns": t.returns, "version": t.version}


def _window(row: QueueWindowRow) -> WindowConfig:
    return WindowConfig(row.number, row.name, tuple((str(p), int(r)) for p, r in row.categories),
                        row.paused, row.preferred_streak, row.version)


class _Lost(Exception):
    """The window row moved under a commit: roll the whole transaction back."""


class SqliteQueueStore:
    """The queue in the client's own database (the ``local`` authority)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def policy(self) -> QueuePolicy:
        with self._db.read() as session:
            raw = meta_get(session, POLICY_KEY)
        return QueuePolicy.from_json(json.loads(raw)) if raw else QueuePolicy()

    def save_policy(self, policy: QueuePolicy) -> None:
        with self._db.write() as session:
            meta_set(session, POLICY_KEY, json.dumps(policy.to_json()))

    def categories(self) -> list[Category]:
        with self._db.read() as session:
            rows = session.scalars(select(QueueCategoryRow).order_by(
                QueueCategoryRow.position, QueueCategoryRow.prefix))
            return [Category(r.prefix, r.name, r.active, r.position) for r in rows]

    def save_category(self, category: Category) -> None:
        with self._db.write() as session:
            row = session.get(QueueCategoryRow, category.prefix)
            if row is None:
                session.add(QueueCategoryRow(prefix=category.prefix, name=category.name,
                                             active=category.active,
                                             position=category.position))
            else:
                row.name, row.active, row.position = (category.name, category.active,
                                                      category.position)

    def windows(self) -> list[WindowConfig]:
        with self._db.read() as session:
            rows = session.scalars(select(QueueWindowRow).order_by(QueueWindowRow.number))
            return [_window(r) for r in rows]

    def save_window(self, window: WindowConfig) -> None:
        categories = [[p, r] for p, r in window.categories]
        with self._db.write() as session:
            row = session.get(QueueWindowRow, window.number)
            if row is None:
                session.add(QueueWindowRow(number=window.number, name=window.name,
                                           categories=categories, paused=window.paused,
                                           preferred_streak=0, version=1))
            else:
                # A version bump: a call computed on the old settings retries.
                row.name, row.categories, row.paused = window.name, categories, window.paused
                row.version += 1

    def tickets(self, day: dt.date, statuses: Iterable[TicketStatus] | None = None
                ) -> list[Ticket]:
        query = select(QueueTicketRow).where(QueueTicketRow.day == day)
        if statuses is not None:
            query = query.where(QueueTicketRow.status.in_([str(s) for s in statuses]))
        with self._db.read() as session:
            return [_ticket(r) for r in session.scalars(
                query.order_by(QueueTicketRow.queued_at, QueueTicketRow.number))]

    def issue(self, prefix: str, day: dt.date, make: Callable[[int], Ticket],
              event: TicketEvent) -> Ticket:
        with self._db.write() as session:
            category = session.get(QueueCategoryRow, prefix)
            if category is None or not category.active:
                raise QueueRuleError(f"没有可取号的业务类别“{prefix}”。")
            counter = session.get(QueueNumberCounter, (day, prefix))
            if counter is None:
                counter = QueueNumberCounter(day=day, prefix=prefix, last_seq=0)
                session.add(counter)
            ticket = make(counter.last_seq + 1)   # raises past 999: nothing is written
            counter.last_seq += 1
            session.add(QueueTicketRow(
                id=ticket.id, day=day, seq=counter.last_seq, number=ticket.number,
                ticket_class=str(ticket.ticket_class), priority_reason=ticket.priority_reason,
                appointment=ticket.appointment, id_number=ticket.id_number,
                issued_at=iso(ticket.issued_at), **_fields(ticket)))
            session.flush()
            _append(session, ticket, ticket, event)
        return ticket

    def call(self, window: str, day: dt.date, decide: CallDecision) -> Ticket | None:
        # BEGIN IMMEDIATE: windows in every process take turns, and none decides on a
        # queue another is changing (a compare-and-set loop re-read the whole queue
        # for every loser: 1.3 s p99 with 16 windows).
        with self._db.write() as session:
            return _call_in(session, window, day, decide)

    def commit(self, before: Ticket, after: Ticket, event: TicketEvent, *,
               window: tuple[WindowConfig, WindowConfig] | None = None) -> bool:
        try:
            with self._db.write() as session:
                changed = session.execute(
                    update(QueueTicketRow)
                    .where(QueueTicketRow.id == before.id,
                           QueueTicketRow.version == before.version,
                           QueueTicketRow.status == str(before.status))
                    .values(**_fields(after)))
                if _rowcount(changed) != 1:
                    raise _Lost
                if window is not None:
                    seen, new = window
                    changed = session.execute(
                        update(QueueWindowRow)
                        .where(QueueWindowRow.number == seen.number,
                               QueueWindowRow.version == seen.version)
                        .values(preferred_streak=new.preferred_streak, version=new.version))
                    if _rowcount(changed) != 1:
                        raise _Lost
                _append(session, before, after, event)
        except _Lost:
            return False
        return True


def _call_in(session: Session, window: str, day: dt.date, decide: CallDecision
             ) -> Ticket | None:
    row = session.get(QueueWindowRow, window)
    if row is None:
        raise QueueRuleError(f"{window}号窗口没有配置排队业务，请管理员在排队设置中添加。")
    raw = meta_get(session, POLICY_KEY)
    policy = QueuePolicy.from_json(json.loads(raw)) if raw else QueuePolicy()
    statuses = [str(s) for s in (TicketStatus.WAITING, *AT_WINDOW)]
    tickets = [_ticket(r) for r in session.scalars(
        select(QueueTicketRow).where(QueueTicketRow.day == day,
                                     QueueTicketRow.status.in_(statuses))
        .order_by(QueueTicketRow.queued_at, QueueTicketRow.number))]
    decided = decide(_window(row), tickets, policy)
    if decided is None:
        return None
    before, after, event, new_window = decided
    changed = session.execute(
        update(QueueTicketRow)
        .where(QueueTicketRow.id == before.id, QueueTicketRow.version == before.version,
               QueueTicketRow.status == str(before.status))
        .values(**_fields(after)))
    # Read and written under the one write lock: nothing can have moved in between.
    if _rowcount(changed) != 1:
        raise RuntimeError(f"叫号时{before.number}号的记录被改动，已撤销本次叫号。")
    row.preferred_streak, row.version = new_window.preferred_streak, new_window.version
    _append(session, before, after, event)
    return after


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


def _append(session: Session, before: Ticket, after: Ticket, event: TicketEvent) -> None:
    """The event and its outbox op, in the caller's transaction."""
    payload = event.to_json()
    if after.version == 1:   # ISSUED: what the county needs to count the ticket
        payload.update(number=after.number, category=after.category,
                       ticket_class=str(after.ticket_class),
                       priority_reason=after.priority_reason,
                       appointment=after.appointment, day=after.day.isoformat())
    event_id = str(uuid.uuid4())
    session.add(QueueTicketEventRow(
        event_id=event_id, ticket_id=after.id, seq=after.version, kind=str(event.kind),
        payload=payload, window=event.window, clerk_id=event.clerk_id,
        occurred_at=iso(event.at)))
    # The ID number stays on this machine: the county counts tickets, it does not need it.
    session.add(OutboxOp(
        op_id=str(uuid.uuid4()), entity="queue_ticket", entity_id=after.id,
        kind=str(event.kind), base_version=before.version if after.version > 1 else 0,
        payload={**payload, "event_id": event_id, "number": after.number,
                 "status": str(after.status), "version": after.version},
        blob_refs=[], client_time=utc_now_iso(), state="pending", attempts=0,
        last_error=""))
