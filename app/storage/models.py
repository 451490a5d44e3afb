"""SQLAlchemy 2 typed models. Alembic migrations in ``migrations/`` create these tables.

JSON columns hold frozen plain data (an item as the catalogue file writes it, an event
payload); the columns beside them exist for lookups and indexes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.storage.base import Base

# ---- catalogue -------------------------------------------------------------------------


class CatalogueRelease(Base):
    """One import of a catalogue file (or one download from the server)."""

    __tablename__ = "catalogue_releases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(64))
    publisher: Mapped[str] = mapped_column(String(200), default="")
    published_at: Mapped[dt.date | None] = mapped_column(Date)
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime)
    origin: Mapped[str] = mapped_column(String(500))  # file path or "server"
    sha256: Mapped[str] = mapped_column(String(64))
    item_count: Mapped[int] = mapped_column(Integer)
    bundle_count: Mapped[int] = mapped_column(Integer)
    is_current: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class CatalogueItemRow(Base):
    """An item at one version; once stored, a (code, version) never changes content."""

    __tablename__ = "catalogue_items"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(8))
    withdrawn_at: Mapped[dt.date | None] = mapped_column(Date)
    # Computed once at import so start-up does not run pypinyin over the whole catalogue.
    name_pinyin: Mapped[str] = mapped_column(String(1000))
    name_initials: Mapped[str] = mapped_column(String(200))
    search_keywords: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    body_sha256: Mapped[str] = mapped_column(String(64))


class CatalogueReleaseItem(Base):
    __tablename__ = "catalogue_release_items"

    release_id: Mapped[int] = mapped_column(
        ForeignKey("catalogue_releases.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("catalogue_items.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)


class CatalogueBundleRow(Base):
    __tablename__ = "catalogue_bundles"
    __table_args__ = (UniqueConstraint("release_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(
        ForeignKey("catalogue_releases.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    name_pinyin: Mapped[str] = mapped_column(String(1000))
    name_initials: Mapped[str] = mapped_column(String(200))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)


# ---- working-day calendar --------------------------------------------------------------


class CalendarYear(Base):
    """A year whose holiday notice is loaded: the calendar *covers* it."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(500), default="")
    origin: Mapped[str] = mapped_column(String(32))  # package | file | server | admin
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime)


class CalendarDay(Base):
    """An exception to the Monday-Friday week: a holiday or a 调休 working weekend day."""

    __tablename__ = "calendar_days"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(64))
    notice_year: Mapped[int] = mapped_column(
        ForeignKey("calendar_years.year", ondelete="CASCADE"), index=True)


# ---- accounts --------------------------------------------------------------------------


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))  # clerk | agent | supervisor | admin
    password_hash: Mapped[str] = mapped_column(String(255))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


# ---- cases -----------------------------------------------------------------------------


class CaseNumberCounter(Base):
    """Last sequence issued per terminal per day; bumped inside the write transaction."""

    __tablename__ = "case_number_counters"

    site: Mapped[str] = mapped_column(String(12), primary_key=True)
    terminal: Mapped[str] = mapped_column(String(2), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer)


class DocumentNumberCounter(Base):
    """Last 文号 sequence issued per printed prefix, year, site and terminal (never reused).

    Keyed by the prefix the number prints with, not the authority's name: two authorities
    can never print the same number, and an authority renamed in a new catalogue keeps
    counting under its prefix."""

    __tablename__ = "document_number_counters"

    prefix: Mapped[str] = mapped_column(String(40), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(12), primary_key=True)
    terminal: Mapped[str] = mapped_column(String(2), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer)


class CaseRow(Base):
    """Current-state projection of a case, rebuilt from ``case_events`` by the reducer."""

    __tablename__ = "cases"
    # The case lists: newest first overall and per item (app.services.case_list).
    __table_args__ = (Index("ix_cases_item_opened", "item_code", "opened_at"),
                      Index("ix_cases_applicant_opened", "applicant_id_number", "opened_at"),
                      Index("ix_cases_name_opened", "applicant_name", "opened_at"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    item_code: Mapped[str] = mapped_column(String(64), index=True)
    item_version: Mapped[str] = mapped_column(String(32))
    item_name: Mapped[str] = mapped_column(String(200))
    bundle_code: Mapped[str] = mapped_column(String(64), default="")
    parent_id: Mapped[str] = mapped_column(String(36), default="")
    applicant_name: Mapped[str] = mapped_column(String(200))
    applicant_id_number: Mapped[str] = mapped_column(String(64), index=True)
    applicant: Mapped[dict[str, Any]] = mapped_column(JSON)
    agent: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    scenarios: Mapped[list[Any]] = mapped_column(JSON)
    materials: Mapped[list[Any]] = mapped_column(JSON)
    decision: Mapped[str] = mapped_column(String(16), default="")
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    competent_authority: Mapped[str] = mapped_column(String(200), default="")
    accepted_on: Mapped[dt.date | None] = mapped_column(Date)
    promised_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    # True when the calendar did not cover the deadline's year: the date is the plain
    # Monday-Friday estimate, shown and printed as such until recomputed.
    promised_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    # Scanned pages per material, [[material_id, [page, …]], …] (app.domain.case_pages).
    pages: Mapped[list[Any]] = mapped_column(JSON, default=list)
    site: Mapped[str] = mapped_column(String(12))
    terminal: Mapped[str] = mapped_column(String(2))
    window: Mapped[str] = mapped_column(String(8))
    clerk_id: Mapped[str] = mapped_column(String(36))
    queue_ticket: Mapped[str] = mapped_column(String(16), default="")
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)
    version: Mapped[int] = mapped_column(Integer)


class CaseEventRow(Base):
    """The audit trail (全程纪实): append-only (triggers refuse UPDATE and DELETE).

    ``hash`` covers the event and ``prev_hash`` — the hash of the previous event of the
    same site and terminal — so an edited or removed row breaks the chain.
    """

    __tablename__ = "case_events"
    __table_args__ = (
        UniqueConstraint("case_id", "case_seq"),
        Index("ix_case_events_chain", "site", "terminal", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    case_seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    clerk_id: Mapped[str] = mapped_column(String(36))
    clerk_name: Mapped[str] = mapped_column(String(64))
    site: Mapped[str] = mapped_column(String(12))
    terminal: Mapped[str] = mapped_column(String(2))
    window: Mapped[str] = mapped_column(String(8))
    occurred_at: Mapped[str] = mapped_column(String(32))  # ISO 8601 UTC, hashed as text
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class OutboxOp(Base):
    """An operation waiting to be pushed to the server; written with the change itself."""

    __tablename__ = "outbox"

    device_seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    op_id: Mapped[str] = mapped_column(String(36), unique=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    base_version: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    blob_refs: Mapped[list[Any]] = mapped_column(JSON)
    client_time: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")


class CaseDocumentRow(Base):
    """A document printed (or exported) for a case: its PDF sits in the blob store.

    Append-only like the event log. Each print is two rows: ``sending`` before the
    printer is tried, then the outcome (``printed`` / ``exported`` / ``failed``) naming
    the first in ``attempt_of`` — so a power cut in the middle leaves "result unknown",
    never no trace. A reprint is a new attempt marked ``reprint``.
    """

    __tablename__ = "case_documents"
    __table_args__ = (Index("ix_case_documents_chain", "site", "terminal"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    pages: Mapped[int] = mapped_column(Integer)
    reprint: Mapped[bool] = mapped_column(Boolean)
    outcome: Mapped[str] = mapped_column(String(16))   # sending | printed | exported | failed
    attempt_of: Mapped[str] = mapped_column(String(36), default="")  # outcome → its attempt
    target: Mapped[str] = mapped_column(String(300))   # where it was sent
    message: Mapped[str] = mapped_column(Text, default="")
    clerk_id: Mapped[str] = mapped_column(String(36))
    clerk_name: Mapped[str] = mapped_column(String(64))
    site: Mapped[str] = mapped_column(String(12))
    terminal: Mapped[str] = mapped_column(String(2))
    window: Mapped[str] = mapped_column(String(8))
    printed_at: Mapped[dt.datetime] = mapped_column(DateTime)
    # Chained per site/terminal like the event log (see app.storage.chain).
    prev_hash: Mapped[str] = mapped_column(String(64), default="")
    hash: Mapped[str] = mapped_column(String(64), default="")


# ---- the installation ------------------------------------------------------------------


class InstallMeta(Base):
    """Facts about this installation: its id, when it was seeded, what it was seeded with."""

    __tablename__ = "install_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class LoginAttempt(Base):
    """Failed logins per typed user name, known or not (so both answer alike).

    A lock is timed on the machine's monotonic clock (``locked_mono`` within boot
    ``boot_id``), so setting the wall clock back or forward neither extends nor lifts it.
    """

    __tablename__ = "login_attempts"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure: Mapped[dt.datetime | None] = mapped_column(DateTime)
    locked_wall: Mapped[dt.datetime | None] = mapped_column(DateTime)
    locked_mono: Mapped[float | None] = mapped_column(Float)
    boot_id: Mapped[str] = mapped_column(String(64), default="")


# ---- credit list (信用核查) and consultations (咨询登记) --------------------------------


class CreditListRow(Base):
    """One import of the 失信名单; the entries table holds the current one's entries."""

    __tablename__ = "credit_lists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(64))
    publisher: Mapped[str] = mapped_column(String(200), default="")
    published_at: Mapped[dt.date] = mapped_column(Date)
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime)   # UTC
    imported_by: Mapped[str] = mapped_column(String(64), default="")
    origin: Mapped[str] = mapped_column(String(500))   # file path or "server"
    sha256: Mapped[str] = mapped_column(String(64))
    entry_count: Mapped[int] = mapped_column(Integer)
    is_current: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class CreditEntryRow(Base):
    """One subject of the current list, looked up by its normalised number."""

    __tablename__ = "credit_entries"
    __table_args__ = (UniqueConstraint("id_number", "id_type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    id_type: Mapped[str] = mapped_column(String(32))
    id_number: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    measure: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(200), default="")
    until: Mapped[dt.date | None] = mapped_column(Date)


class ConsultationRow(Base):
    """One enquiry that opened no case (首问负责制: it is logged all the same)."""

    __tablename__ = "consultations"
    __table_args__ = (Index("ix_consultations_item_day", "item_code", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)       # UTC
    day: Mapped[dt.date] = mapped_column(Date, index=True)  # the clerk's local day
    site: Mapped[str] = mapped_column(String(12))
    terminal: Mapped[str] = mapped_column(String(2))
    window: Mapped[str] = mapped_column(String(8))
    clerk_id: Mapped[str] = mapped_column(String(36))
    clerk_name: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(20), default="")
    id_type: Mapped[str] = mapped_column(String(32), default="")
    id_number: Mapped[str] = mapped_column(String(64), default="")
    item_code: Mapped[str] = mapped_column(String(64), default="")
    item_name: Mapped[str] = mapped_column(String(200), default="")   # as it was then
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text, default="")
    checklist: Mapped[bool] = mapped_column(Boolean, default=False)   # 一次性告知单 given


# The queue's tables live in app.storage.queue_models; importing it here registers them
# with Base (Alembic, the schema test) and keeps ``from app.storage.models import …`` of
# a queue row working.
from app.storage.queue_models import (  # noqa: E402
    QueueCategoryRow,
    QueueManualCallRow,
    QueueNumberCounter,
    QueueRatingFollowUpRow,
    QueueRatingRow,
    QueueTicketEventRow,
    QueueTicketRow,
    QueueWindowRow,
)

__all__ = ["Base", "QueueCategoryRow", "QueueManualCallRow", "QueueNumberCounter",
           "QueueRatingFollowUpRow", "QueueRatingRow", "QueueTicketEventRow", "QueueTicketRow",
           "QueueWindowRow"]
