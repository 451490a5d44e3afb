"""The statements of the hall queue's hot paths (server/queue_store.py), written once as
SQL that SQLite and PostgreSQL both read.

叫号 and 办结 run while the other windows of the hall wait for their turn to write, so
their cost is paid once per window in line. Through the ORM a call and a finish cost
about 30 statements in 6 transactions and 12 ms; as prebuilt statements on a Core
connection, without the unit of work, a fraction of that (bench/server.py). The client's
store does the same with sqlite3 directly (app/services/queue_store.py).

Times are ISO 8601 UTC text with microseconds (``app.services.queue_store.iso``): they
sort as the times do. ``window`` is quoted: it is a keyword of PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Date, TextClause, bindparam, text

from app.domain.queue import AT_WINDOW, TicketClass
from app.services.queue_store import TICKET_SQL as TICKET_COLUMNS

_AT_WINDOW = ", ".join(f"'{s}'" for s in sorted(AT_WINDOW))
_DAY = bindparam("day", type_=Date)


def _sql(statement: str, *params: Any) -> TextClause:
    return text(statement).bindparams(*params) if params else text(statement)


WINDOW = ("SELECT number, name, categories, paused, preferred_streak, version "
          "FROM queue_windows WHERE site = :site")
WINDOWS = _sql(WINDOW)
ONE_WINDOW = _sql(WINDOW + " AND number = :number")
# The window's row, held to the end of the call: one window's calls take turns.
ONE_WINDOW_LOCKED = _sql(WINDOW + " AND number = :number FOR UPDATE")
ADD_WINDOW = _sql("INSERT INTO queue_windows (site, number, name, categories, paused, "
                  "preferred_streak, version) VALUES (:site, :number, :name, :categories, "
                  "FALSE, 0, 1) ON CONFLICT DO NOTHING", bindparam("categories", type_=JSON))
MOVE_WINDOW = _sql("UPDATE queue_windows SET preferred_streak = :streak, version = :version "
                   "WHERE site = :site AND number = :number AND version = :was_version")
POLICY = _sql("SELECT value FROM server_meta WHERE key = :key")

TICKETS = _sql(f"SELECT {TICKET_COLUMNS} FROM queue_tickets WHERE site = :site AND day = :day "
               "ORDER BY queued_at, number", _DAY)
TICKETS_IN = _sql(f"SELECT {TICKET_COLUMNS} FROM queue_tickets WHERE site = :site "
                  "AND day = :day AND status IN :statuses ORDER BY queued_at, number",
                  _DAY, bindparam("statuses", expanding=True))
# PostgreSQL: a ticket another window's call holds is passed over, not waited for.
TAKE_LOCK = _sql("SELECT id FROM queue_tickets WHERE id = :id FOR UPDATE SKIP LOCKED")
MOVE = _sql("UPDATE queue_tickets SET category = :category, status = :status, "
            "queued_at = :queued_at, target_window = :target_window, \"window\" = :window, "
            "recalls = :recalls, returns = :returns, version = :version "
            "WHERE id = :id AND version = :was_version AND status = :was_status")
EVENT = _sql('INSERT INTO queue_ticket_events (ticket_id, seq, kind, payload, "window", '
             "clerk_id, occurred_at) VALUES (:ticket_id, :seq, :kind, :payload, :window, "
             ":clerk_id, :occurred_at)", bindparam("payload", type_=JSON))
# PostgreSQL: the site's row, held to the end of the change, so the feed rows of one site
# commit in the order of their numbers (SQLite has one writer: they always do).
SITE_LOCK = _sql("SELECT code FROM sites WHERE code = :site FOR UPDATE")
FEED = _sql('INSERT INTO queue_feed (site, number, kind, "window", at) '
            "VALUES (:site, :number, :kind, :window, :at)")


def candidates(prefixes: int, skipping: bool) -> TextClause:
    """What 叫号 needs to decide, for a window serving ``prefixes`` categories (parameters
    :site, :day, :window and :p0, :p1, …; :skip when ``skipping``): the tickets the window
    holds (it may not call while it holds one) and the head of each waiting lane it may
    call from.

    A lane is the waiting tickets of one category, class and target window; within it the
    call order differs only by (queued_at, number), a unique key, so the lane's first
    ticket is the only one of it the rules could choose. The client's store reads the
    same (tests/app/test_queue_call_candidates.py compares the heads with the whole queue
    on random queues). Each head is one step on the lane index (ix_queue_tickets_lane)."""
    key = (prefixes, skipping)
    if key not in _CANDIDATES:
        skip = " AND id NOT IN :skip" if skipping else ""
        waiting = "site = :site AND day = :day AND status = 'waiting'" + skip
        parts = [f"SELECT {TICKET_COLUMNS} FROM queue_tickets WHERE site = :site "
                 f'AND day = :day AND status IN ({_AT_WINDOW}) AND "window" = :window']
        parts += [f"SELECT * FROM (SELECT {TICKET_COLUMNS} FROM queue_tickets WHERE {waiting} "
                  f"AND category = :p{i} AND ticket_class = '{k}' AND target_window = '' "
                  f"ORDER BY queued_at, number LIMIT 1) AS h{i}_{n}"
                  for i in range(prefixes) for n, k in enumerate(TicketClass)]
        # Transferred to this window by name: few, of any category; one per lane likewise.
        parts.append(f"SELECT {TICKET_COLUMNS} FROM (SELECT {TICKET_COLUMNS}, row_number() "
                     "OVER (PARTITION BY category, ticket_class ORDER BY queued_at, number) "
                     f"AS place FROM queue_tickets WHERE {waiting} "
                     "AND target_window = :window) AS named WHERE place = 1")
        params = [_DAY, *([bindparam("skip", expanding=True)] if skipping else [])]
        _CANDIDATES[key] = _sql(" UNION ALL ".join(parts), *params)
    return _CANDIDATES[key]


# Built when first used: one per number of categories a window serves, with and without
# tickets to pass over.
_CANDIDATES: dict[tuple[int, bool], TextClause] = {}


def json_value(value: Any) -> Any:
    """A JSON column as read by text SQL: a string from SQLite, parsed by PostgreSQL's
    driver."""
    return json.loads(value) if isinstance(value, str) else value


def window_row(r: Sequence[Any]) -> tuple[str, str, tuple[tuple[str, int], ...], bool, int, int]:
    """(number, name, categories, paused, preferred streak, version) of a WINDOW row."""
    return (r[0], r[1], tuple((str(p), int(k)) for p, k in json_value(r[2])), bool(r[3]),
            int(r[4]), int(r[5]))
