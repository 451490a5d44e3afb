"""The hall queue of each site on the server (the ``site`` authority): the client's queue
tables with a site column, plus the feed the hall displays follow. The categories are
reference data (server/reference_models.py, ``site_queue_categories``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.models import Base


class SiteQueueWindowRow(Base):
    __tablename__ = "queue_windows"

    site: Mapped[str] = mapped_column(String(12), primary_key=True)
    number: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(20))
    categories: Mapped[Any] = mapped_column(JSON)       # [[prefix, rank], …]
    paused: Mapped[bool] = mapped_column(Boolean)
    preferred_streak: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)


class SiteQueueCounterRow(Base):
    __tablename__ = "queue_counters"

    site: Mapped[str] = mapped_column(String(12), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(1), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer)


class SiteQueueTicketRow(Base):
    __tablename__ = "queue_tickets"
    # 叫号 reads each lane's head by the lane index (server/queue_store.py _candidates).
    __table_args__ = (UniqueConstraint("site", "day", "number"),
                      Index("ix_queue_tickets_lane", "site", "day", "status", "category",
                            "ticket_class", "target_window", "queued_at", "number"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    site: Mapped[str] = mapped_column(String(12))
    day: Mapped[dt.date] = mapped_column(Date)
    seq: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(8))
    category: Mapped[str] = mapped_column(String(1))
    ticket_class: Mapped[str] = mapped_column(String(8))
    priority_reason: Mapped[str] = mapped_column(String(32))
    appointment: Mapped[str] = mapped_column(String(32))
    id_number: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    issued_at: Mapped[str] = mapped_column(String(40))    # ISO 8601 UTC, sorts as text
    queued_at: Mapped[str] = mapped_column(String(40))
    target_window: Mapped[str] = mapped_column(String(8))
    window: Mapped[str] = mapped_column(String(8))
    recalls: Mapped[int] = mapped_column(Integer)
    returns: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)


class SiteQueueEventRow(Base):
    """Every state change of a ticket, as on the client (waiting and service times)."""
    __tablename__ = "queue_ticket_events"
    __table_args__ = (UniqueConstraint("ticket_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(String(36), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    payload: Mapped[Any] = mapped_column(JSON)
    window: Mapped[str] = mapped_column(String(8))
    clerk_id: Mapped[str] = mapped_column(String(36))
    occurred_at: Mapped[str] = mapped_column(String(40))


class SiteQueueFeedRow(Base):
    """What the hall displays follow: one row per change, numbered in commit order per
    site (written in the transaction of the change itself)."""
    __tablename__ = "queue_feed"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(12), index=True)
    number: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(16))
    window: Mapped[str] = mapped_column(String(8))
    at: Mapped[str] = mapped_column(String(40))
