"""手工叫号 kept on this machine (app.domain.manual_call), with an outbox op for the county.

It writes to this database whichever queue authority is in use: a manual call is what a
window does when that authority is out of reach.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.domain.case import Clerk
from app.domain.manual_call import ManualCall, checked_number, checked_reason
from app.domain.queue import STATUS_NAMES, QueueRuleError, TicketStatus, check_window
from app.notifications import ChangeHub
from app.services.permissions import Action, require
from app.services.queue import Clock, utc_now
from app.services.queue_store import iso
from app.storage.case_log import utc_now_iso
from app.storage.db import Database
from app.storage.models import OutboxOp
from app.storage.queue_models import QueueManualCallRow, QueueTicketRow

# A queue ticket in these states is over: its number may be called aloud again.
_DONE = frozenset({str(TicketStatus.FINISHED), str(TicketStatus.MISSED)})


def _call(row: QueueManualCallRow) -> ManualCall:
    return ManualCall(row.id, row.day, row.number, row.window, row.clerk_id, row.reason,
                      dt.datetime.fromisoformat(row.called_at))


class ManualCalls:
    def __init__(self, db: Database, hub: ChangeHub, *, clock: Clock = utc_now) -> None:
        self._db = db
        self._hub = hub
        self._clock = clock

    def record(self, window: str, number: str, clerk: Clerk, *, reason: str = "") -> ManualCall:
        """Record that ``clerk`` called ``number`` aloud at ``window``; once per number
        and day (a second window calling the same paper number is refused, as the queue
        would refuse it)."""
        require(clerk.role, Action.WRITE_CASES)
        window, number = check_window(window), checked_number(number)
        reason = checked_reason(reason)
        at = self._clock()
        day = at.astimezone().date()
        row = QueueManualCallRow(id=str(uuid.uuid4()), day=day, number=number, window=window,
                                 clerk_id=clerk.clerk_id, reason=reason, called_at=iso(at))
        try:
            with self._db.write() as session:
                earlier = session.scalars(select(QueueManualCallRow).where(
                    QueueManualCallRow.day == day,
                    QueueManualCallRow.number == number)).first()
                if earlier is not None:
                    raise QueueRuleError(self._already(earlier))
                queued = session.execute(select(QueueTicketRow.status).where(
                    QueueTicketRow.day == day, QueueTicketRow.number == number)).scalar()
                if queued is not None and queued not in _DONE:
                    # The queue has this number and may call it itself: one applicant
                    # must not be called twice (aloud here, by the system elsewhere).
                    raise QueueRuleError(
                        f"{number}号在排队系统中（{STATUS_NAMES[TicketStatus(queued)]}），"
                        "请用 F9 叫号或 Ctrl+R 回呼，不要手工叫号。")
                session.add(row)
                session.add(OutboxOp(
                    op_id=str(uuid.uuid4()), entity="queue_manual_call", entity_id=row.id,
                    kind="called", base_version=0,
                    payload={"id": row.id, "day": day.isoformat(), "number": number,
                             "window": window, "clerk_id": clerk.clerk_id, "reason": reason,
                             "called_at": row.called_at},
                    blob_refs=[], client_time=utc_now_iso(), state="pending", attempts=0,
                    last_error=""))
                call = _call(row)
        except IntegrityError:   # another process recorded the same number first
            raise QueueRuleError(f"{number}号今天已手工叫过，请核对号码。") from None
        self._hub.queue_changed(number, "manual", window)
        return call

    def of(self, day: dt.date | None = None) -> list[ManualCall]:
        """The manual calls of ``day`` (today), in the order they were made."""
        day = day or self._clock().astimezone().date()
        with self._db.read() as session:
            rows = session.scalars(select(QueueManualCallRow)
                                   .where(QueueManualCallRow.day == day)
                                   .order_by(QueueManualCallRow.called_at))
            return [_call(r) for r in rows]

    @staticmethod
    def _already(row: QueueManualCallRow) -> str:
        at = dt.datetime.fromisoformat(row.called_at).astimezone()
        return f"{row.number}号今天已在{row.window}号窗口手工叫过（{at:%H:%M}），请核对号码。"
