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

叫号, the moves of the ticket at a window and the reads they need speak prebuilt SQL on a
Core connection (server/queue_sql.py); configuration and issuing a number go through the
ORM models.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Connection

from app.domain.queue import (
    QueuePolicy,
    QueueRuleError,
    Ticket,
    TicketEvent,
    TicketStatus,
)
from app.domain.queue_policy import Category, WindowConfig
from app.services.queue_store import CallDecision, iso, ticket_from_row
from server import queue_sql as sql
from server.db import ServerDatabase
from server.models import ServerMetaRow
from server.queue_models import SiteQueueCounterRow, SiteQueueTicketRow, SiteQueueWindowRow
from server.reference import set_site_categories, site_categories

# A site that has set up nothing gets the demo hall of the client (its migration 0007).
DEMO_WINDOWS = (("1", (("A", 1), ("C", 2))), ("2", (("A", 1), ("B", 2))),
                ("3", (("B", 1), ("C", 1))))


def _fields(t: Ticket) -> dict[str, Any]:
    return {"category": t.category, "status": str(t.status), "queued_at": iso(t.queued_at),
            "target_window": t.target_window, "window": t.window, "recalls": t.recalls,
            "returns": t.returns, "version": t.version}


def _window(r: Sequence[Any]) -> WindowConfig:
    return WindowConfig(*sql.window_row(r))


class _Lost(Exception):
    """Another caller changed the ticket or the window first: roll back, report False."""


class SiteQueueStore:
    """The queue of ``site`` (implements ``app.services.queue_store.QueueStore``)."""

    def __init__(self, db: ServerDatabase, site: str) -> None:
        self._db = db
        self.site = site

    # ---- configuration ----------------------------------------------------------------

    def _ensure_demo(self, conn: Connection) -> None:
        """The demo hall's windows for a site that has none (its categories are the
        reference data's: server/reference.py gives the demo set until it publishes).
        Two processes seeding at once insert each window once."""
        if conn.execute(sql.WINDOWS, {"site": self.site}).first() is not None:
            return
        for number, categories in DEMO_WINDOWS:
            conn.execute(sql.ADD_WINDOW, {"site": self.site, "number": number,
                                          "name": f"{number}号窗口",
                                          "categories": [list(c) for c in categories]})

    def policy(self) -> QueuePolicy:
        with self._db.read_connection() as conn:
            return self._policy(conn)

    def _policy(self, conn: Connection) -> QueuePolicy:
        value = conn.execute(sql.POLICY, {"key": f"queue_policy:{self.site}"}).scalar()
        return QueuePolicy.from_json(json.loads(value)) if value else QueuePolicy()

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
        with self._db.read_connection() as conn:
            rows = conn.execute(sql.WINDOWS, {"site": self.site}).all()
        if not rows:   # a site that has set up nothing: the demo hall, seeded once
            with self._db.write_connection() as conn:
                self._ensure_demo(conn)
                rows = conn.execute(sql.WINDOWS, {"site": self.site}).all()
        return sorted((_window(r) for r in rows),
                      key=lambda w: (not w.number.isdigit(), w.number.zfill(8)))

    def save_window(self, window: WindowConfig) -> None:
        categories = [[p, r] for p, r in window.categories]
        with self._db.session() as session:
            self._ensure_demo(session.connection())
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
        params: dict[str, Any] = {"site": self.site, "day": day}
        if statuses is not None:
            params["statuses"] = [str(s) for s in statuses]
        with self._db.read_connection() as conn:
            rows = conn.execute(sql.TICKETS if statuses is None else sql.TICKETS_IN, params)
            return [ticket_from_row(r, day) for r in rows]

    def issue(self, prefix: str, day: dt.date, make: Callable[[int], Ticket],
              event: TicketEvent) -> Ticket:
        with self._db.session() as session:
            self._ensure_demo(session.connection())
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
            self._append(session.connection(), ticket, event)
        return ticket

    def commit(self, before: Ticket, after: Ticket, event: TicketEvent, *,
               window: tuple[WindowConfig, WindowConfig] | None = None) -> bool:
        def work(conn: Connection) -> None:
            if not self._take(conn, before, after):
                raise _Lost
            if window is not None:
                seen, new = window
                if not self._move_window(conn, seen, new):
                    raise _Lost   # the whole piece rolls back
            self._append(conn, after, event)

        try:
            self._db.write(work)
        except _Lost:
            return False
        return True

    def call(self, window: str, day: dt.date, decide: CallDecision) -> Ticket | None:
        return self._db.write(lambda conn: self._call(conn, window, day, decide))

    def _call(self, conn: Connection, window: str, day: dt.date, decide: CallDecision
              ) -> Ticket | None:
        postgres = conn.dialect.name == "postgresql"
        params = {"site": self.site, "number": window}
        locked = sql.ONE_WINDOW_LOCKED if postgres else sql.ONE_WINDOW
        row = conn.execute(locked, params).first()
        if row is None:
            self._ensure_demo(conn)
            row = conn.execute(locked, params).first()
        if row is None:
            raise QueueRuleError(f"{window}号窗口没有配置排队业务，请管理员在排队设置中添加。")
        config = _window(row)
        policy = self._policy(conn)
        skipped: set[str] = set()
        tickets = self._candidates(conn, config, day, skipped)
        while True:
            decided = decide(config, tickets, policy)
            if decided is None:
                return None
            before, after, event, new_window = decided
            if (postgres and conn.execute(sql.TAKE_LOCK, {"id": before.id}).first() is None
                    ) or not self._take(conn, before, after):
                # Another window is taking it right now (or took it): choose again
                # without it — its lane's next ticket comes up in its place.
                skipped.add(before.id)
                tickets = self._candidates(conn, config, day, skipped)
                continue
            # The window's row is held: its version cannot have moved.
            self._move_window(conn, config, new_window)
            self._append(conn, after, event)
            return after

    # ---- helpers ----------------------------------------------------------------------

    def _candidates(self, conn: Connection, window: WindowConfig, day: dt.date,
                    skip: set[str]) -> list[Ticket]:
        """What the call order needs, not every waiting ticket: the window's own tickets
        at it, and the first waiting ticket of each lane it may call (queue_sql.candidates)."""
        params: dict[str, Any] = {"site": self.site, "day": day, "window": window.number}
        params.update((f"p{i}", prefix) for i, (prefix, _rank) in enumerate(window.categories))
        if skip:
            params["skip"] = sorted(skip)
        rows = conn.execute(sql.candidates(len(window.categories), bool(skip)), params)
        return sorted((ticket_from_row(r, day) for r in rows),
                      key=lambda x: (x.queued_at, x.number))

    def _take(self, conn: Connection, before: Ticket, after: Ticket) -> bool:
        """The conditional update: exactly one row, still as the caller saw it."""
        changed = conn.execute(sql.MOVE, {**_fields(after), "id": before.id,
                                          "was_version": before.version,
                                          "was_status": str(before.status)})
        return changed.rowcount == 1

    def _move_window(self, conn: Connection, seen: WindowConfig, new: WindowConfig) -> bool:
        changed = conn.execute(sql.MOVE_WINDOW, {
            "site": self.site, "number": seen.number, "was_version": seen.version,
            "streak": new.preferred_streak, "version": new.version})
        return changed.rowcount == 1

    def _append(self, conn: Connection, after: Ticket, event: TicketEvent) -> None:
        conn.execute(sql.EVENT, {"ticket_id": after.id, "seq": after.version,
                                 "kind": str(event.kind), "payload": event.to_json(),
                                 "window": event.window, "clerk_id": event.clerk_id,
                                 "occurred_at": iso(event.at)})
        if conn.dialect.name == "postgresql":
            # Held to the end of this transaction: feed rows of one site commit in the
            # order of their numbers, so a display reading "after N" misses none.
            conn.execute(sql.SITE_LOCK, {"site": self.site})
        conn.execute(sql.FEED, {"site": self.site, "number": after.number,
                                "kind": str(event.kind),
                                "window": event.window or after.window, "at": iso(event.at)})
