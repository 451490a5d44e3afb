"""The hall queue of one site in the server's database: ``app.services.queue_store``'s
``QueueStore`` interface, so the client's own ``QueueService`` (its rules, its call order,
its events) runs unchanged on the server for every window of a hall (the ``site``
authority of architecture.md).

Two windows never get the same ticket: 叫号 is one transaction that locks the window's row
(its calls take turns), chooses by the shared rules, and takes the chosen ticket with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL — a ticket another window is taking at that
moment is skipped, not waited for — then changes it with a conditional update (version
and status as read: exactly one row). SQLite serialises writers anyway. Every change also
writes a feed row for the hall displays, numbered in commit order per site (the site's row
is locked for it).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

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
from app.services.queue_store import CallDecision, iso
from server.db import ServerDatabase
from server.models import ServerMetaRow, SiteRow
from server.queue_models import (
    SiteQueueCounterRow,
    SiteQueueEventRow,
    SiteQueueFeedRow,
    SiteQueueTicketRow,
    SiteQueueWindowRow,
)
from server.reference import set_site_categories, site_categories

# A site that has set up nothing gets the demo hall of the client (its migration 0007).
DEMO_WINDOWS = (("1", (("A", 1), ("C", 2))), ("2", (("A", 1), ("B", 2))),
                ("3", (("B", 1), ("C", 1))))


def _ticket(r: SiteQueueTicketRow) -> Ticket:
    return Ticket(
        id=r.id, number=r.number, category=r.category, day=r.day,
        ticket_class=TicketClass(r.ticket_class), status=TicketStatus(r.status),
        issued_at=dt.datetime.fromisoformat(r.issued_at),
        queued_at=dt.datetime.fromisoformat(r.queued_at), priority_reason=r.priority_reason,
        appointment=r.appointment, id_number=r.id_number, target_window=r.target_window,
        window=r.window, recalls=r.recalls, returns=r.returns, version=r.version)


def _fields(t: Ticket) -> dict[str, Any]:
    return {"category": t.category, "status": str(t.status), "queued_at": iso(t.queued_at),
            "target_window": t.target_window, "window": t.window, "recalls": t.recalls,
            "returns": t.returns, "version": t.version}


def _window(r: SiteQueueWindowRow) -> WindowConfig:
    return WindowConfig(r.number, r.name, tuple((str(p), int(k)) for p, k in r.categories),
                        r.paused, r.preferred_streak, r.version)


class _Lost(Exception):
    """Another caller changed the ticket or the window first: roll back, report False."""


def _changed(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


class SiteQueueStore:
    """The queue of ``site`` (implements ``app.services.queue_store.QueueStore``)."""

    def __init__(self, db: ServerDatabase, site: str) -> None:
        self._db = db
        self.site = site

    # ---- configuration ----------------------------------------------------------------

    def _configured(self, session: Session) -> bool:
        return session.scalars(select(SiteQueueWindowRow.number).where(
            SiteQueueWindowRow.site == self.site).limit(1)).first() is not None

    def _reading(self) -> AbstractContextManager[Session]:
        """A read session, after seeding the demo hall once (a write) if the site has no
        queue configuration yet."""
        with self._db.read() as session:
            configured = self._configured(session)
        if not configured:
            with self._db.session() as session:
                self._ensure_demo(session)
        return self._db.read()

    def _ensure_demo(self, session: Session) -> None:
        """The demo hall's windows for a site that has none (its categories are the
        reference data's: server/reference.py gives the demo set until it publishes)."""
        if self._configured(session):
            return
        for number, categories in DEMO_WINDOWS:
            session.add(SiteQueueWindowRow(site=self.site, number=number, name=f"{number}号窗口",
                                           categories=[list(c) for c in categories],
                                           paused=False, preferred_streak=0, version=1))
        session.flush()

    def policy(self) -> QueuePolicy:
        with self._db.read() as session:
            return self._policy(session)

    def _policy(self, session: Session) -> QueuePolicy:
        row = session.get(ServerMetaRow, f"queue_policy:{self.site}")
        return QueuePolicy.from_json(json.loads(row.value)) if row else QueuePolicy()

    def save_policy(self, policy: QueuePolicy) -> None:
        with self._db.session() as session:
            session.merge(ServerMetaRow(key=f"queue_policy:{self.site}",
                                        value=json.dumps(policy.to_json())))

    def categories(self) -> list[Category]:
        with self._db.read() as session:
            return site_categories(session, self.site)

    def save_category(self, category: Category) -> None:
        with self._db.session() as session:
            kept = [c for c in site_categories(session, self.site) if c.prefix != category.prefix]
            set_site_categories(session, self.site, [*kept, category])

    def windows(self) -> list[WindowConfig]:
        with self._reading() as session:
            rows = session.scalars(select(SiteQueueWindowRow).where(
                SiteQueueWindowRow.site == self.site))
            return sorted((_window(r) for r in rows),
                          key=lambda w: (not w.number.isdigit(), w.number.zfill(8)))

    def save_window(self, window: WindowConfig) -> None:
        categories = [[p, r] for p, r in window.categories]
        with self._db.session() as session:
            self._ensure_demo(session)
            row = session.get(SiteQueueWindowRow, (self.site, window.number),
                              with_for_update=True)
            if row is None:
                session.add(SiteQueueWindowRow(site=self.site, number=window.number,
                                               name=window.name, categories=categories,
                                               paused=window.paused, preferred_streak=0,
                                               version=1))
            else:   # a version bump: a call decided on the old settings tries again
                row.name, row.categories, row.paused = window.name, categories, window.paused
                row.version += 1

    # ---- tickets ----------------------------------------------------------------------

    def tickets(self, day: dt.date, statuses: Iterable[TicketStatus] | None = None
                ) -> list[Ticket]:
        query = select(SiteQueueTicketRow).where(SiteQueueTicketRow.site == self.site,
                                                 SiteQueueTicketRow.day == day)
        if statuses is not None:
            query = query.where(SiteQueueTicketRow.status.in_([str(s) for s in statuses]))
        with self._db.read() as session:
            return [_ticket(r) for r in session.scalars(query.order_by(
                SiteQueueTicketRow.queued_at, SiteQueueTicketRow.number))]

    def issue(self, prefix: str, day: dt.date, make: Callable[[int], Ticket],
              event: TicketEvent) -> Ticket:
        with self._db.session() as session:
            self._ensure_demo(session)
            category = next((c for c in site_categories(session, self.site)
                             if c.prefix == prefix), None)
            if category is None or not category.active:
                raise QueueRuleError(f"没有可取号的业务类别“{prefix}”。")
            counter = session.get(SiteQueueCounterRow, (self.site, day, prefix),
                                  with_for_update=True)
            if counter is None:
                counter = SiteQueueCounterRow(site=self.site, day=day, prefix=prefix,
                                              last_seq=0)
                session.add(counter)
            ticket = make(counter.last_seq + 1)
            counter.last_seq += 1
            session.add(SiteQueueTicketRow(
                id=ticket.id, site=self.site, day=day, seq=counter.last_seq,
                number=ticket.number, ticket_class=str(ticket.ticket_class),
                priority_reason=ticket.priority_reason, appointment=ticket.appointment,
                id_number=ticket.id_number, issued_at=iso(ticket.issued_at),
                **_fields(ticket)))
            session.flush()
            self._append(session, ticket, event)
        return ticket

    def commit(self, before: Ticket, after: Ticket, event: TicketEvent, *,
               window: tuple[WindowConfig, WindowConfig] | None = None) -> bool:
        try:
            with self._db.session() as session:
                if not self._take(session, before, after):
                    raise _Lost
                if window is not None:
                    seen, new = window
                    changed = session.execute(
                        update(SiteQueueWindowRow)
                        .where(SiteQueueWindowRow.site == self.site,
                               SiteQueueWindowRow.number == seen.number,
                               SiteQueueWindowRow.version == seen.version)
                        .values(preferred_streak=new.preferred_streak, version=new.version))
                    if _changed(changed) != 1:
                        raise _Lost   # the whole transaction rolls back
                self._append(session, after, event)
        except _Lost:
            return False
        return True

    def call(self, window: str, day: dt.date, decide: CallDecision) -> Ticket | None:
        with self._db.session() as session:
            self._ensure_demo(session)
            row = session.get(SiteQueueWindowRow, (self.site, window), with_for_update=True)
            if row is None:
                raise QueueRuleError(f"{window}号窗口没有配置排队业务，请管理员在排队设置中添加。")
            policy = self._policy(session)
            tickets = self._candidates(session, _window(row), day)
            skipped: set[str] = set()
            postgres = session.get_bind().dialect.name == "postgresql"
            while True:
                decided = decide(_window(row), tickets, policy)
                if decided is None:
                    return None
                before, after, event, new_window = decided
                if (postgres and session.scalars(
                        select(SiteQueueTicketRow.id).where(SiteQueueTicketRow.id == before.id)
                        .with_for_update(skip_locked=True)).first() is None) or not self._take(
                        session, before, after):
                    # Another window is taking it right now (or took it): choose again
                    # without it — its lane's next ticket comes up in its place.
                    skipped |= {before.id}
                    tickets = self._candidates(session, _window(row), day, frozenset(skipped))
                    continue
                row.preferred_streak, row.version = new_window.preferred_streak, new_window.version
                self._append(session, after, event)
                return after

    # ---- helpers ----------------------------------------------------------------------

    def _candidates(self, session: Session, window: WindowConfig, day: dt.date,
                    skip: frozenset[str] = frozenset()) -> list[Ticket]:
        """What the call order needs, not every waiting ticket: the window's own tickets
        at it, and the first waiting ticket of each lane it may call (category × class,
        and those transferred to it by name). Within a lane the order is (queued_at,
        number), so the lane's head is the only one of it the rules could choose — the
        client's store reads the same (app/services/queue_store.py; a property test there
        compares it with the whole queue)."""
        t = SiteQueueTicketRow
        mine = select(t).where(t.site == self.site, t.day == day,
                               t.status.in_([str(s) for s in AT_WINDOW]), t.window == window.number)
        rows = list(session.scalars(mine))
        waiting = select(t).where(t.site == self.site, t.day == day,
                                  t.status == str(TicketStatus.WAITING), t.id.not_in(skip))
        lanes = [waiting.where(t.category == prefix, t.ticket_class == str(k),
                               t.target_window == "")
                 for prefix, _rank in window.categories for k in TicketClass]
        for lane in lanes:
            head = session.scalars(lane.order_by(t.queued_at, t.number).limit(1)).first()
            if head is not None:
                rows.append(head)
        # Transferred to this window by name: few, of any category; one query, then the
        # head of each (category, class) lane among them.
        seen: set[tuple[str, str]] = set()
        for row in session.scalars(waiting.where(t.target_window == window.number)
                                   .order_by(t.queued_at, t.number)):
            if (row.category, row.ticket_class) not in seen:
                seen.add((row.category, row.ticket_class))
                rows.append(row)
        return sorted((_ticket(r) for r in rows), key=lambda x: (x.queued_at, x.number))

    def _take(self, session: Session, before: Ticket, after: Ticket) -> bool:
        """The conditional update: exactly one row, still as the caller saw it."""
        changed = session.execute(
            update(SiteQueueTicketRow)
            .where(SiteQueueTicketRow.id == before.id,
                   SiteQueueTicketRow.version == before.version,
                   SiteQueueTicketRow.status == str(before.status))
            .values(**_fields(after)))
        return _changed(changed) == 1

    def _append(self, session: Session, after: Ticket, event: TicketEvent) -> None:
        session.add(SiteQueueEventRow(
            ticket_id=after.id, seq=after.version, kind=str(event.kind),
            payload=event.to_json(), window=event.window, clerk_id=event.clerk_id,
            occurred_at=iso(event.at)))
        # The site's row, locked to the end of this transaction: feed rows of one site
        # commit in the order of their numbers, so a display reading "after N" misses none.
        session.get(SiteRow, self.site, with_for_update=True)
        session.add(SiteQueueFeedRow(site=self.site, number=after.number, kind=str(event.kind),
                                     window=event.window or after.window, at=iso(event.at)))
        session.flush()
