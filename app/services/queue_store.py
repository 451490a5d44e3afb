"""Where the queue lives: the :class:`QueueStore` interface and its SQLite implementation.

The rules (app.domain.queue, app.domain.queue_policy) and the service run unchanged over
any store; the site server will implement the same interface over PostgreSQL. A store
promises one thing beyond storage: :meth:`QueueStore.commit` is a compare-and-set — the
ticket row changes only if it is still at the version and status the caller saw
(``UPDATE … WHERE id = ? AND version = ? AND status = ?``, exactly one row changed), and
the window's row likewise when given. A caller that loses the race reads again and
retries, so two windows never get the same ticket and none is skipped.

叫号 and the compare-and-set speak SQL to sqlite3 directly, in a write transaction of
``Database.write_cursor``: they run while every other window process waits for its turn to
write, so their cost is paid once per window in the queue behind them (bench/queue.py:
with 16 windows pressing 叫号 at once the last waits for 15 calls). Through the ORM a call
read every waiting ticket of the day and cost ~8 ms; through SQLAlchemy Core statements
with only the lane heads, ~1.2 ms; as plain SQL, ~0.7 ms. Ticket and window rows are
read the same way (a status read per finish, on a PC whose cores all windows share);
configuration and issuing a number go through the ORM models.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from sqlalchemy import Connection, select

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
from app.storage.db import Database, DatabaseError
from app.storage.install_meta import meta_set
from app.storage.models import (
    QueueCategoryRow,
    QueueNumberCounter,
    QueueTicketRow,
    QueueWindowRow,
)

POLICY_KEY = "queue_policy"

# 叫号 decides on the queue as one write transaction sees it: the window, the tickets
# this window holds and the waiting ones it may call, and the policy; it returns the
# ticket before and after the call, the event, and the window after it — or None when
# nobody waits for it.
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


# ---- SQL -----------------------------------------------------------------------------

# A ticket's columns as Ticket takes them (ticket_from_row); ``day`` is left out: every
# query here is for one day, which the caller knows.
_TICKET_COLUMNS = ("id", "number", "category", "ticket_class", "status", "issued_at",
                   "queued_at", "priority_reason", "appointment", "id_number",
                   "target_window", "window", "recalls", "returns", "version")
TICKET_SQL = ", ".join(f'"{c}"' for c in _TICKET_COLUMNS)
_AT_WINDOW_SQL = ", ".join(f"'{s}'" for s in sorted(AT_WINDOW))
_WINDOW_SQL = ("SELECT number, name, categories, paused, preferred_streak, version "
               "FROM queue_windows")
_POLICY_SQL = "SELECT value FROM install_meta WHERE key = ?"
_MOVE_SQL = ('UPDATE queue_tickets SET category = ?, status = ?, queued_at = ?, '
             'target_window = ?, "window" = ?, recalls = ?, returns = ?, version = ? '
             'WHERE id = ? AND version = ? AND status = ?')
_MOVE_WINDOW_SQL = ("UPDATE queue_windows SET preferred_streak = ?, version = ? "
                    "WHERE number = ? AND version = ?")
_EVENT_SQL = ('INSERT INTO queue_ticket_events (event_id, ticket_id, seq, kind, payload, '
              '"window", clerk_id, occurred_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
_OP_SQL = ("INSERT INTO outbox (op_id, entity, entity_id, kind, base_version, payload, "
           "blob_refs, client_time, state, attempts, last_error) "
           "VALUES (?, 'queue_ticket', ?, ?, ?, ?, '[]', ?, 'pending', 0, '')")


def _candidates_sql(prefixes: int) -> str:
    """What 叫号 needs to decide, for a window serving ``prefixes`` categories: the
    tickets the window holds (it may not call while it holds one) and the head of each
    waiting lane it may call from; named parameters :day, :window and :p0, :p1, … (the
    window's categories).

    A lane is the waiting tickets of one category, class and target window. Within a
    lane choose_next's order (window rank of the category, class, queue place, number)
    differs only by (queued_at, number) — a unique key, since numbers are unique per day
    — so the lane's first ticket by it is the only one of the lane choose_next could
    pick, and choose_next over the heads picks what it would over the whole queue
    (tests/app/test_queue_call_candidates.py compares the two on random queues).
    queued_at is ISO 8601 UTC text with microseconds (``iso``): it sorts as the times do.
    Each lane is ORDER BY … LIMIT 1 on the lane index (day, status, category, class,
    target window, queued_at, number; migration 0008): one index step per lane, a fraction
    of the cost of ranking every waiting ticket with ROW_NUMBER().
    """
    parts = [f'SELECT {TICKET_SQL} FROM queue_tickets WHERE day = :day '
             f'AND status IN ({_AT_WINDOW_SQL}) AND "window" = :window']
    parts += [f"SELECT * FROM (SELECT {TICKET_SQL} FROM queue_tickets WHERE day = :day "
              f"AND status = 'waiting' AND category = :p{i} AND ticket_class = '{k}' "
              "AND target_window = '' ORDER BY queued_at, number LIMIT 1)"
              for i in range(prefixes) for k in TicketClass]
    # Transferred to this window by name: few, of any category; one per lane likewise.
    parts.append(f"SELECT {TICKET_SQL} FROM (SELECT {TICKET_SQL}, row_number() OVER "
                 "(PARTITION BY category, ticket_class ORDER BY queued_at, number) AS place "
                 "FROM queue_tickets WHERE day = :day AND status = 'waiting' "
                 "AND target_window = :window) WHERE place = 1")
    return " UNION ALL ".join(parts)


# Built when first used, one per number of categories a window serves (1 to 26).
_CANDIDATES: dict[int, str] = {}


def _cursor(conn: Connection) -> sqlite3.Cursor:
    """A cursor in ``conn``'s transaction (a read, or the ORM's write of ``issue``)."""
    driver = conn.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    return driver.cursor()


def stored_utc(text: str, what: str) -> dt.datetime:
    """A time the queue stored (ISO 8601 with its offset); a row edited by hand into
    something else is named, not a TypeError deep in the figures."""
    try:
        at = dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        at = None
    if at is None or at.tzinfo is None:
        raise DatabaseError(f"排队记录中{what}“{str(text)[:40]}”不是有效的时间（应带时区，"
                            "可能被手工改动），请联系管理员核查数据库。")
    return at


def ticket_from_row(r: Sequence[Any], day: dt.date) -> Ticket:
    """A ticket from a row of TICKET_SQL's columns (the site server's store reads the same
    columns: server/queue_sql.py)."""
    return Ticket(
        id=r[0], number=r[1], category=r[2], day=day, ticket_class=TicketClass(r[3]),
        status=TicketStatus(r[4]), issued_at=stored_utc(r[5], f"{r[1]}号的取号时间"),
        queued_at=stored_utc(r[6], f"{r[1]}号的排队时间"), priority_reason=r[7], appointment=r[8],
        id_number=r[9], target_window=r[10], window=r[11], recalls=r[12], returns=r[13],
        version=r[14])


def _window(r: Sequence[Any]) -> WindowConfig:
    return WindowConfig(r[0], r[1], tuple((str(p), int(k)) for p, k in json.loads(r[2])),
                        bool(r[3]), r[4], r[5])


def _policy(cur: sqlite3.Cursor) -> QueuePolicy:
    row = cur.execute(_POLICY_SQL, (POLICY_KEY,)).fetchone()
    return QueuePolicy.from_json(json.loads(row[0])) if row else QueuePolicy()


def _move(cur: sqlite3.Cursor, before: Ticket, after: Ticket) -> bool:
    """``after``'s changing columns if the row is still ``before`` (number, day and class
    never change); False when it is not."""
    cur.execute(_MOVE_SQL, (after.category, str(after.status), iso(after.queued_at),
                            after.target_window, after.window, after.recalls, after.returns,
                            after.version, before.id, before.version, str(before.status)))
    return cur.rowcount == 1


def _move_window(cur: sqlite3.Cursor, seen: WindowConfig, new: WindowConfig) -> bool:
    cur.execute(_MOVE_WINDOW_SQL, (new.preferred_streak, new.version, seen.number,
                                   seen.version))
    return cur.rowcount == 1


def _append(cur: sqlite3.Cursor, before: Ticket, after: Ticket, event: TicketEvent) -> None:
    """The event and its outbox op, in the caller's transaction (json.dumps is what the
    models' JSON columns store)."""
    payload = event.to_json()
    if after.version == 1:   # ISSUED: what the county needs to count the ticket
        payload.update(number=after.number, category=after.category,
                       ticket_class=str(after.ticket_class),
                       priority_reason=after.priority_reason,
                       appointment=after.appointment, day=after.day.isoformat())
    event_id = str(uuid.uuid4())
    cur.execute(_EVENT_SQL, (event_id, after.id, after.version, str(event.kind),
                             json.dumps(payload), event.window, event.clerk_id,
                             iso(event.at)))
    # The ID number stays on this machine: the county counts tickets, it does not need it.
    op = {**payload, "event_id": event_id, "number": after.number,
          "status": str(after.status), "version": after.version}
    cur.execute(_OP_SQL, (str(uuid.uuid4()), after.id, str(event.kind),
                          before.version if after.version > 1 else 0, json.dumps(op),
                          utc_now_iso()))


class _Lost(Exception):
    """The window row moved under a commit: roll the whole transaction back."""


class SqliteQueueStore:
    """The queue in the client's own database (the ``local`` authority)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def policy(self) -> QueuePolicy:
        with self._db.read() as session:
            return _policy(_cursor(session.connection()))

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
            rows = _cursor(session.connection()).execute(_WINDOW_SQL + " ORDER BY number")
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
        sql = f"SELECT {TICKET_SQL} FROM queue_tickets WHERE day = ?"
        params: list[str] = [day.isoformat()]
        if statuses is not None:
            params += [str(s) for s in statuses]
            sql += f" AND status IN ({', '.join('?' * (len(params) - 1))})"
        with self._db.read() as session:
            rows = _cursor(session.connection()).execute(
                sql + " ORDER BY queued_at, number", params)
            return [ticket_from_row(r, day) for r in rows]

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
                issued_at=iso(ticket.issued_at), category=ticket.category,
                status=str(ticket.status), queued_at=iso(ticket.queued_at),
                target_window=ticket.target_window, window=ticket.window,
                recalls=ticket.recalls, returns=ticket.returns, version=ticket.version))
            session.flush()
            _append(_cursor(session.connection()), ticket, ticket, event)
        return ticket

    def call(self, window: str, day: dt.date, decide: CallDecision) -> Ticket | None:
        # One write turn: windows in every process take turns, and none decides on a
        # queue another is changing (a compare-and-set loop re-read the whole queue
        # for every loser: 1.3 s p99 with 16 windows).
        with self._db.write_cursor() as cur:
            return _call_in(cur, window, day, decide)

    def commit(self, before: Ticket, after: Ticket, event: TicketEvent, *,
               window: tuple[WindowConfig, WindowConfig] | None = None) -> bool:
        try:
            with self._db.write_cursor() as cur:
                if not _move(cur, before, after):
                    raise _Lost
                if window is not None and not _move_window(cur, *window):
                    raise _Lost
                _append(cur, before, after, event)
        except _Lost:
            return False
        return True


def _call_in(cur: sqlite3.Cursor, window: str, day: dt.date, decide: CallDecision
             ) -> Ticket | None:
    row = cur.execute(_WINDOW_SQL + " WHERE number = ?", (window,)).fetchone()
    if row is None:
        raise QueueRuleError(f"{window}号窗口没有配置排队业务，请管理员在排队设置中添加。")
    config = _window(row)
    prefixes = config.prefixes
    sql = _CANDIDATES.get(len(prefixes))
    if sql is None:
        sql = _CANDIDATES[len(prefixes)] = _candidates_sql(len(prefixes))
    params = {"day": day.isoformat(), "window": window}
    params.update((f"p{i}", p) for i, p in enumerate(prefixes))
    tickets = [ticket_from_row(r, day) for r in cur.execute(sql, params)]
    decided = decide(config, tickets, _policy(cur))
    if decided is None:
        return None
    before, after, event, new_window = decided
    # Read and written in the one write turn: nothing can have moved in between.
    if not _move(cur, before, after):
        raise RuntimeError(f"叫号时{before.number}号的记录被改动，已撤销本次叫号。")
    if not _move_window(cur, config, new_window):
        raise RuntimeError(f"叫号时{window}号窗口的设置被改动，已撤销本次叫号。")
    _append(cur, before, after, event)
    return after
