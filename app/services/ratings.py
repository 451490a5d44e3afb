"""好差评: the applicant rates the service of a ticket just finished at a window.

The evaluation view (ui.queue.evaluation) asks :meth:`RatingService.awaiting` which ticket
a window's applicant may rate and sends the tap to :meth:`RatingService.record`. What the
view says is checked, never trusted: the ticket must have been finished (办结) at that
window within :data:`RATING_WINDOW`, it is rated once, and the clerk stored with the
rating is the one of the ticket's 办结 event — so no screen can put a rating on another
clerk's service. A 差评 (不满意, 非常不满意) needs reasons and waits for a supervisor's
回访 (:meth:`RatingService.follow_up`), by anyone but the rated clerk.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.case import Clerk
from app.domain.queue import Ticket, TicketEventKind, check_window
from app.domain.rating import (
    RATING_WINDOW,
    FollowUp,
    Grade,
    Rating,
    RatingError,
    StoredRating,
    checked_grade,
    checked_note,
)
from app.notifications import ChangeHub
from app.services.permissions import Action, require
from app.services.queue import Clock, utc_now
from app.services.queue_store import SqliteQueueStore, iso
from app.storage.case_log import utc_now_iso
from app.storage.db import Database
from app.storage.models import (
    CaseRow,
    OutboxOp,
    QueueRatingFollowUpRow,
    QueueRatingRow,
    QueueTicketEventRow,
    QueueTicketRow,
)

FINISHED = str(TicketEventKind.FINISHED)
MINUTES = int(RATING_WINDOW.total_seconds() // 60)


def _stored(row: QueueRatingRow) -> StoredRating:
    return StoredRating(
        id=row.id, ticket_id=row.ticket_id, number=row.ticket_number, day=row.day,
        case_id=row.case_id, window=row.window, clerk_id=row.clerk_id,
        grade=Grade(row.grade), reasons=tuple(str(r) for r in row.reasons),
        rated_at=dt.datetime.fromisoformat(row.rated_at),
        follow_up_required=row.follow_up_required)


def _follow_up(row: QueueRatingFollowUpRow) -> FollowUp:
    return FollowUp(row.id, row.rating_id, row.supervisor_id, row.note,
                    dt.datetime.fromisoformat(row.at))


def _outbox(entity: str, entity_id: str, kind: str, payload: dict[str, Any]) -> OutboxOp:
    return OutboxOp(op_id=str(uuid.uuid4()), entity=entity, entity_id=entity_id, kind=kind,
                    base_version=0, payload=payload, blob_refs=[],
                    client_time=utc_now_iso(), state="pending", attempts=0, last_error="")


def _utc_naive(day: dt.date) -> dt.datetime:
    """Local midnight starting ``day`` as ``cases.opened_at`` stores times (naive UTC)."""
    local = dt.datetime(day.year, day.month, day.day).astimezone()
    return local.astimezone(dt.UTC).replace(tzinfo=None)


class RatingService:
    """The local store of 好差评, over the workstation's database (a RatingSink)."""

    def __init__(self, db: Database, hub: ChangeHub, *, clock: Clock = utc_now) -> None:
        self._db = db
        self._hub = hub
        self._clock = clock
        self._tickets = SqliteQueueStore(db)

    # ---- the evaluation view -----------------------------------------------------------

    def awaiting(self, window: str) -> Ticket | None:
        """The ticket last finished at ``window``, if that was less than
        :data:`RATING_WINDOW` ago and it has no rating yet. Only the last one: the
        applicant in front of the screen is the one just served, not an earlier one."""
        check_window(window)
        since = iso(self._clock() - RATING_WINDOW)
        with self._db.read() as session:
            last = session.execute(
                select(QueueTicketEventRow.ticket_id)
                .where(QueueTicketEventRow.kind == FINISHED,
                       QueueTicketEventRow.window == window,
                       QueueTicketEventRow.occurred_at >= since)
                .order_by(QueueTicketEventRow.occurred_at.desc(),
                          QueueTicketEventRow.id.desc())
                .limit(1)).scalar()
            if last is None or self._rated(session, last):
                return None
            day = session.get_one(QueueTicketRow, last).day
        return next((t for t in self._tickets.tickets(day) if t.id == last), None)

    def record(self, rating: Rating) -> None:
        """Store ``rating`` with its day, case and clerk, and its outbox op; raise
        :class:`RatingError` if the ticket may not be rated (here, now, or again)."""
        grade, reasons = checked_grade(rating.grade, rating.reasons)
        check_window(rating.window)
        now = self._clock()
        with self._db.write() as session:
            ticket = session.get(QueueTicketRow, rating.ticket_id)
            if ticket is None or ticket.number != rating.number.strip().upper():
                raise RatingError(f"没有{rating.number}号的办理记录，无法评价。")
            finished = session.scalars(
                select(QueueTicketEventRow)
                .where(QueueTicketEventRow.ticket_id == ticket.id,
                       QueueTicketEventRow.kind == FINISHED)
                .order_by(QueueTicketEventRow.seq.desc()).limit(1)).first()
            if finished is None or finished.window != rating.window:
                raise RatingError(f"{ticket.number}号不是在{rating.window}号窗口办结的，"
                                  "不能在此评价。")
            if now - dt.datetime.fromisoformat(finished.occurred_at) > RATING_WINDOW:
                raise RatingError(f"{ticket.number}号办结已超过{MINUTES}分钟，不能再评价。")
            # Checked inside the write transaction (BEGIN IMMEDIATE): a second screen
            # racing this one waits for the lock and then finds this rating.
            if self._rated(session, ticket.id):
                raise RatingError(f"{ticket.number}号已经评价过，每个号只能评价一次。")
            row = QueueRatingRow(
                id=str(uuid.uuid4()), ticket_id=ticket.id, ticket_number=ticket.number,
                day=ticket.day, case_id=self._case_of(session, ticket), window=rating.window,
                clerk_id=finished.clerk_id, grade=int(grade), reasons=list(reasons),
                rated_at=iso(now), follow_up_required=grade.needs_reason)
            session.add(row)
            session.add(_outbox("queue_rating", row.id, "rated", {
                "ticket_id": row.ticket_id, "number": row.ticket_number,
                "day": row.day.isoformat(), "case_id": row.case_id, "window": row.window,
                "clerk_id": row.clerk_id, "grade": row.grade, "reasons": row.reasons,
                "rated_at": row.rated_at, "follow_up_required": row.follow_up_required}))
        self._hub.queue_changed(ticket.number, "rated", rating.window)

    # ---- statistics and 回访 -----------------------------------------------------------

    def ratings(self, day: dt.date | None = None) -> list[StoredRating]:
        """The ratings of ``day``'s tickets (today's), in the order they were given."""
        day = day or self._clock().astimezone().date()
        with self._db.read() as session:
            rows = session.scalars(select(QueueRatingRow).where(QueueRatingRow.day == day)
                                   .order_by(QueueRatingRow.rated_at))
            return [_stored(r) for r in rows]

    def rating_of(self, ticket_id: str) -> StoredRating | None:
        with self._db.read() as session:
            row = session.scalars(select(QueueRatingRow)
                                  .where(QueueRatingRow.ticket_id == ticket_id)).first()
            return None if row is None else _stored(row)

    def open_followups(self) -> list[StoredRating]:
        """差评 nobody has followed up yet, oldest first."""
        done = select(QueueRatingFollowUpRow.rating_id)
        with self._db.read() as session:
            rows = session.scalars(
                select(QueueRatingRow)
                .where(QueueRatingRow.follow_up_required.is_(True),
                       QueueRatingRow.id.not_in(done))
                .order_by(QueueRatingRow.rated_at))
            return [_stored(r) for r in rows]

    def follow_ups(self, rating_id: str) -> list[FollowUp]:
        with self._db.read() as session:
            rows = session.scalars(
                select(QueueRatingFollowUpRow)
                .where(QueueRatingFollowUpRow.rating_id == rating_id)
                .order_by(QueueRatingFollowUpRow.at))
            return [_follow_up(r) for r in rows]

    def follow_up(self, rating_id: str, note: str, clerk: Clerk) -> FollowUp:
        """回访 a 差评: a supervisor or administrator, never the rated clerk, says what
        was done about it."""
        require(clerk.role, Action.FOLLOW_UP_RATINGS)
        note = checked_note(note)
        at = self._clock()
        with self._db.write() as session:
            rating = session.get(QueueRatingRow, rating_id)
            if rating is None:
                raise RatingError("没有这条评价记录。")
            if not rating.follow_up_required:
                raise RatingError(f"{rating.ticket_number}号的评价不是差评，无需回访。")
            if rating.clerk_id == clerk.clerk_id:
                raise RatingError("不能回访对自己服务的差评，请由其他值班长或管理员回访。")
            row = QueueRatingFollowUpRow(id=str(uuid.uuid4()), rating_id=rating.id,
                                         supervisor_id=clerk.clerk_id, note=note, at=iso(at))
            session.add(row)
            session.add(_outbox("queue_rating_followup", row.id, "followed_up", {
                "rating_id": rating.id, "supervisor_id": row.supervisor_id,
                "note": note, "at": row.at}))
            number, window = rating.ticket_number, rating.window
            done = _follow_up(row)
        self._hub.queue_changed(number, "followed_up", window)
        return done

    # ---- helpers -----------------------------------------------------------------------

    @staticmethod
    def _rated(session: Session, ticket_id: str) -> bool:
        return session.scalars(select(QueueRatingRow.id)
                               .where(QueueRatingRow.ticket_id == ticket_id)).first() is not None

    @staticmethod
    def _case_of(session: Session, ticket: QueueTicketRow) -> str:
        """The case opened for the ticket on its day ("" if none). A bundle opens a
        parent and its parts with the same ticket: the parent ("" parent_id) first."""
        start = _utc_naive(ticket.day)
        end = _utc_naive(ticket.day + dt.timedelta(days=1))
        found = session.scalars(
            select(CaseRow.id)
            .where(CaseRow.queue_ticket == ticket.number, CaseRow.opened_at >= start,
                   CaseRow.opened_at < end)
            .order_by(CaseRow.parent_id, CaseRow.opened_at).limit(1)).first()
        return found or ""
