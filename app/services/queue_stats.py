"""排队统计: a day's figures, read from this database's queue (the ``local`` authority).

The arithmetic is :func:`app.domain.queue_stats.day_statistics`; this module only reads
what it needs — the day's tickets, their events, their ratings and the names to print.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.domain.queue import TicketEventKind
from app.domain.queue_stats import WAIT_ALERT_MINUTES, DayStatistics, EventRecord, day_statistics
from app.services.queue import Clock, QueueService, utc_now
from app.services.queue_manual import ManualCalls
from app.services.queue_store import stored_utc
from app.services.ratings import RatingService
from app.storage.db import Database
from app.storage.models import UserRow
from app.storage.queue_models import QueueTicketEventRow, QueueTicketRow


class QueueStatistics:
    def __init__(self, db: Database, queue: QueueService, ratings: RatingService,
                 manual: ManualCalls, *, clock: Clock = utc_now) -> None:
        self._db = db
        self._manual = manual
        self._queue = queue
        self._ratings = ratings
        self._clock = clock

    def day(self, day: dt.date | None = None, *,
            limit_minutes: int = WAIT_ALERT_MINUTES) -> DayStatistics:
        """The figures of ``day`` (today, the business day) as they stand now."""
        now = self._clock()
        today = now.astimezone().date()
        day = day or today
        live = day >= today
        if not live:   # a day that is over: figures as they stood at its end
            end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
            now = min(now, end.astimezone())
        tickets = self._queue.tickets(day)
        with self._db.read() as session:
            rows = session.execute(
                select(QueueTicketEventRow.ticket_id, QueueTicketEventRow.seq,
                       QueueTicketEventRow.kind, QueueTicketEventRow.occurred_at,
                       QueueTicketEventRow.window, QueueTicketEventRow.clerk_id)
                .join(QueueTicketRow, QueueTicketRow.id == QueueTicketEventRow.ticket_id)
                .where(QueueTicketRow.day == day)).all()
            clerk_names = dict(session.execute(select(UserRow.id, UserRow.display_name)).all())
        events = [EventRecord(ticket_id, seq, TicketEventKind(kind),
                              stored_utc(at, "事件时间"), window, clerk_id)
                  for ticket_id, seq, kind, at, window, clerk_id in rows]
        return day_statistics(
            day, tickets, events, self._ratings.ratings(day), now=now,
            category_names={c.prefix: c.name for c in self._queue.categories()},
            window_names={w.number: w.name or f"{w.number}号窗口"
                          for w in self._queue.windows()},
            clerk_names=clerk_names,
            open_follow_ups=[r.id for r in self._ratings.open_followups()],
            manual_calls=self._manual.of(day), live=live, limit_minutes=limit_minutes)
