"""The queue's tables (排队叫号): categories, windows, tickets and their events, the daily
number series, 好差评 and manual calls. Alembic migrations 0007 and 0008 create them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.storage.base import Base


class QueueCategoryRow(Base):
    """A business category: its letter starts the ticket numbers of its daily series."""
    __tablename__ = "queue_categories"

    prefix: Mapped[str] = mapped_column(String(1), primary_key=True)
    name: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class QueueWindowRow(Base):
    """A window: the categories it serves with their ranks, paused or not, and the
    fairness counter of app.domain.queue_policy (bumped only by a conditional update)."""
    __tablename__ = "queue_windows"

    number: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(20), default="")
    categories: Mapped[list[Any]] = mapped_column(JSON)   # [[prefix, rank], …]
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    preferred_streak: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)


class QueueNumberCounter(Base):
    """Last ticket sequence per business day and category (a new day, a new row)."""
    __tablename__ = "queue_number_counters"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(1), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer)


class QueueTicketRow(Base):
    """Current state of a ticket, projected from its events. Times are ISO 8601 UTC text
    (like ``case_events.occurred_at``): they sort as text and keep the microseconds."""
    __tablename__ = "queue_tickets"
    __table_args__ = (UniqueConstraint("day", "number"),
                      # 叫号 reads each lane's head by this index (migration 0008).
                      Index("ix_queue_tickets_lane", "day", "status", "category", "ticket_class",
                            "target_window", "queued_at", "number"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date)
    seq: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(8))
    category: Mapped[str] = mapped_column(String(1))
    ticket_class: Mapped[str] = mapped_column(String(8))
    priority_reason: Mapped[str] = mapped_column(String(32), default="")
    appointment: Mapped[str] = mapped_column(String(32), default="")
    id_number: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16))
    issued_at: Mapped[str] = mapped_column(String(32))
    queued_at: Mapped[str] = mapped_column(String(32))
    target_window: Mapped[str] = mapped_column(String(8), default="")
    window: Mapped[str] = mapped_column(String(8), default="")
    recalls: Mapped[int] = mapped_column(Integer, default=0)
    returns: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer)


class QueueTicketEventRow(Base):
    """What happened to a ticket and when; waiting and service times come from these."""
    __tablename__ = "queue_ticket_events"
    __table_args__ = (UniqueConstraint("ticket_id", "seq"),
                      Index("ix_queue_ticket_events_at", "occurred_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("queue_tickets.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)        # the ticket's version after it
    kind: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    window: Mapped[str] = mapped_column(String(8), default="")
    clerk_id: Mapped[str] = mapped_column(String(36), default="")
    occurred_at: Mapped[str] = mapped_column(String(32))   # ISO 8601 UTC


class QueueRatingRow(Base):
    """好差评 of one finished ticket (append-only: triggers refuse UPDATE and DELETE).
    ``clerk_id`` is the one of the ticket's 办结 event; ``case_id`` "" without a case."""
    __tablename__ = "queue_ratings"
    __table_args__ = (CheckConstraint("grade BETWEEN 1 AND 5", name="ck_queue_ratings_grade"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("queue_tickets.id"), unique=True)
    ticket_number: Mapped[str] = mapped_column(String(8))
    day: Mapped[dt.date] = mapped_column(Date, index=True)
    case_id: Mapped[str] = mapped_column(String(36), default="")
    window: Mapped[str] = mapped_column(String(8))
    clerk_id: Mapped[str] = mapped_column(String(36), default="")
    grade: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[list[Any]] = mapped_column(JSON)
    rated_at: Mapped[str] = mapped_column(String(32))   # ISO 8601 UTC
    follow_up_required: Mapped[bool] = mapped_column(Boolean)


class QueueRatingFollowUpRow(Base):
    """A supervisor's 回访 of a 差评."""
    __tablename__ = "queue_rating_followups"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    rating_id: Mapped[str] = mapped_column(ForeignKey("queue_ratings.id"), index=True)
    supervisor_id: Mapped[str] = mapped_column(String(36))
    note: Mapped[str] = mapped_column(Text)
    at: Mapped[str] = mapped_column(String(32))   # ISO 8601 UTC


class QueueManualCallRow(Base):
    """A number a clerk called by voice while the queue could not be used (手工叫号),
    kept for the day's figures and sent to the county like the tickets' events."""
    __tablename__ = "queue_manual_calls"
    __table_args__ = (UniqueConstraint("day", "number"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, index=True)
    number: Mapped[str] = mapped_column(String(16))       # as announced, upper-case
    window: Mapped[str] = mapped_column(String(8))
    clerk_id: Mapped[str] = mapped_column(String(36))
    reason: Mapped[str] = mapped_column(String(200))      # why the queue was not used
    called_at: Mapped[str] = mapped_column(String(32))    # ISO 8601 UTC
