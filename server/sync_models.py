"""The server's tables for sync (docs/sync-protocol.md §5–§6), on ``server.models.Base``.

* ``sync_ops`` — every pushed op the server answered for good (applied, conflict,
  rejected), under its ``op_id`` as primary key: an op is applied at most once, and a
  concurrent duplicate fails on the key instead of being applied twice.
* ``sync_cases`` / ``sync_case_events`` — the server's copy of each case: its applied
  events (from terminals, or from the back office with ``origin`` = ``server``) and a
  small projection for listing and scoping. The state itself is always replayed from the
  events through ``app.domain.case``.
* ``chain_heads`` / ``chain_links`` — the server as the log's second witness: per
  site + terminal, every event hash it acknowledged, in chain order, and the head.
* ``sync_flags`` — what a supervisor must look at: a rewritten chain, a conflict.
* ``sync_changes`` / ``sync_counters`` — what pull serves, numbered by a counter row
  taken at the end of the writing transaction (see :mod:`server.sync_changes`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.models import Base

__all__ = ["Base", "ChainHeadRow", "ChainLinkRow", "SyncCaseEventRow", "SyncCaseRow",
           "SyncChangeRow", "SyncCounterRow", "SyncFlagRow", "SyncOpRow"]


class SyncOpRow(Base):
    """A pushed op as received, with the answer it got (never changed afterwards)."""
    __tablename__ = "sync_ops"
    __table_args__ = (Index("ix_sync_ops_entity", "entity", "entity_id"),)

    op_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    site: Mapped[str] = mapped_column(ForeignKey("sites.code"))
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    device_seq: Mapped[int] = mapped_column(BigInteger)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(32))
    base_version: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    blob_refs: Mapped[list[Any]] = mapped_column(JSON)
    client_time: Mapped[str] = mapped_column(String(40))
    result: Mapped[str] = mapped_column(String(16))       # applied | conflict | rejected
    reason: Mapped[str] = mapped_column(String(32))       # a rejection's code, else ""
    message: Mapped[str] = mapped_column(Text)            # its Chinese message, else ""
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class SyncCaseRow(Base):
    """A case as the server knows it: who may see it, and where its history stands."""
    __tablename__ = "sync_cases"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    site: Mapped[str] = mapped_column(ForeignKey("sites.code"), index=True)
    terminal: Mapped[str] = mapped_column(String(2))        # the accepting terminal
    owner_id: Mapped[str] = mapped_column(String(36))       # who opened it (agents: theirs)
    # Unique (s0006): each terminal issues its own numbers, and the back office finds a
    # case by its number.
    number: Mapped[str] = mapped_column(String(32), index=True, unique=True)
    item_code: Mapped[str] = mapped_column(String(64))
    item_name: Mapped[str] = mapped_column(String(200))
    applicant_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(8))
    version: Mapped[int] = mapped_column(Integer)
    # An op based on another history was stored beside it: later ops of the case are
    # conflicts too until a supervisor settles it.
    conflicted: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class SyncCaseEventRow(Base):
    """An applied event of a case, exactly as its writer hashed it. Events written by the
    back office have ``origin`` = ``server``, no op and empty chain hashes."""
    __tablename__ = "sync_case_events"
    __table_args__ = (UniqueConstraint("case_id", "case_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("sync_cases.id"), index=True)
    case_seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    clerk_id: Mapped[str] = mapped_column(String(36))
    clerk_name: Mapped[str] = mapped_column(String(64))
    site: Mapped[str] = mapped_column(String(12))
    terminal: Mapped[str] = mapped_column(String(2))
    window: Mapped[str] = mapped_column(String(8))
    occurred_at: Mapped[str] = mapped_column(String(40))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(8))          # terminal | server
    op_id: Mapped[str | None] = mapped_column(String(36))


class ChainHeadRow(Base):
    """The acknowledged head of one terminal's event chain: how many events, the last
    one and its hash. Its row lock serialises the pushes of that terminal."""
    __tablename__ = "chain_heads"

    site: Mapped[str] = mapped_column(String(12), primary_key=True)
    terminal: Mapped[str] = mapped_column(String(2), primary_key=True)
    sequence: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[str] = mapped_column(String(36))
    hash: Mapped[str] = mapped_column(String(64))
    acknowledged_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ChainLinkRow(Base):
    """One witnessed event of a terminal's chain, at its position (1-based)."""
    __tablename__ = "chain_links"
    __table_args__ = (Index("ix_chain_links_hash", "site", "terminal", "hash"),)

    site: Mapped[str] = mapped_column(String(12), primary_key=True)
    terminal: Mapped[str] = mapped_column(String(2), primary_key=True)
    sequence: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    op_id: Mapped[str] = mapped_column(String(36))


class SyncFlagRow(Base):
    """Something a supervisor must settle: ``chain_rewritten``, ``hash_mismatch``,
    ``conflict``."""
    __tablename__ = "sync_flags"
    __table_args__ = (Index("ix_sync_flags_site", "site", "resolved_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    site: Mapped[str] = mapped_column(ForeignKey("sites.code"))
    kind: Mapped[str] = mapped_column(String(32))
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    terminal: Mapped[str] = mapped_column(String(2))
    op_id: Mapped[str] = mapped_column(String(36))
    entity_id: Mapped[str] = mapped_column(String(36))
    message: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[str | None] = mapped_column(String(36))
    resolution: Mapped[str | None] = mapped_column(Text)   # what the supervisor found and did


class SyncChangeRow(Base):
    """One change pull serves, numbered by ``seq`` (allocated, never a client's clock).
    ``owner_id`` lets an agent pull only the cases it registered."""
    __tablename__ = "sync_changes"
    __table_args__ = (Index("ix_sync_changes_site_seq", "site", "seq"),)

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    site: Mapped[str] = mapped_column(ForeignKey("sites.code"))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(32))
    owner_id: Mapped[str | None] = mapped_column(String(36))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class SyncCounterRow(Base):
    """Named counters shared by every server process (``changes``: the last change
    number handed out). Created by the migration."""
    __tablename__ = "sync_counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
