"""The two hash chains of a terminal: its case events and its print archive.

Each row's ``hash`` covers its own fields and ``prev_hash``, the hash of the row before
it in the same site/terminal chain, so an edited row breaks the link to its successor.
A chain re-hashed from the edit onward is internally consistent again; what catches it is
the head kept outside the database (:mod:`app.storage.anchor`), on paper and at the
server. The hash formats below are frozen: stored rows were hashed with them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import Session

from app.storage.models import CaseDocumentRow, CaseEventRow

GENESIS_HASH = "0" * 64
ChainName = Literal["events", "documents"]


def _digest(prev_hash: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps({"prev": prev_hash, **fields}, ensure_ascii=False, sort_keys=True,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def chain_name(name: str) -> ChainName:
    """A chain's name as read from an anchor line (validated there) in its typed form."""
    return "documents" if name == "documents" else "events"


def event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    return _digest(prev_hash, fields)


def document_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    # A separate name space: an event and a print record can never hash alike.
    return _digest(prev_hash, {"chain": "documents", **fields})


def event_fields(row: CaseEventRow) -> dict[str, Any]:
    return {"event_id": row.event_id, "case_id": row.case_id, "case_seq": row.case_seq,
            "kind": row.kind, "payload": row.payload, "clerk_id": row.clerk_id,
            "clerk_name": row.clerk_name, "site": row.site, "terminal": row.terminal,
            "window": row.window, "occurred_at": row.occurred_at}


def document_fields(row: CaseDocumentRow) -> dict[str, Any]:
    return {"id": row.id, "case_id": row.case_id, "kind": row.kind, "title": row.title,
            "sha256": row.sha256, "size": row.size, "pages": row.pages,
            "reprint": bool(row.reprint), "outcome": row.outcome,
            "attempt_of": row.attempt_of, "target": row.target, "message": row.message,
            "clerk_id": row.clerk_id, "clerk_name": row.clerk_name, "site": row.site,
            "terminal": row.terminal, "window": row.window,
            "printed_at": row.printed_at.strftime("%Y-%m-%dT%H:%M:%S.%f")}


def row_hash(row: CaseEventRow | CaseDocumentRow) -> str:
    """What ``row.hash`` must be, given its fields and its ``prev_hash``."""
    if isinstance(row, CaseEventRow):
        return event_hash(row.prev_hash, event_fields(row))
    return document_hash(row.prev_hash, document_fields(row))


def row_key(row: CaseEventRow | CaseDocumentRow) -> str:
    return row.event_id if isinstance(row, CaseEventRow) else row.id


@dataclass(frozen=True, slots=True)
class ChainHead:
    """Where a chain ends: how many rows, the last row's key and hash."""

    chain: ChainName
    site: str
    terminal: str
    count: int
    key: str
    hash: str


def chain_rows(session: Session, chain: ChainName, site: str, terminal: str
               ) -> Iterator[CaseEventRow | CaseDocumentRow]:
    """The chain's rows in the order they were written."""
    if chain == "events":
        yield from session.scalars(select(CaseEventRow).where(
            CaseEventRow.site == site, CaseEventRow.terminal == terminal)
            .order_by(CaseEventRow.id).execution_options(yield_per=2000))
    else:
        yield from session.scalars(select(CaseDocumentRow).where(
            CaseDocumentRow.site == site, CaseDocumentRow.terminal == terminal)
            .order_by(literal_column("rowid")).execution_options(yield_per=2000))


def last_hash(session: Session, chain: ChainName, site: str, terminal: str) -> str:
    if chain == "events":
        query = (select(CaseEventRow.hash).where(CaseEventRow.site == site,
                                                 CaseEventRow.terminal == terminal)
                 .order_by(CaseEventRow.id.desc()).limit(1))
    else:
        query = (select(CaseDocumentRow.hash).where(CaseDocumentRow.site == site,
                                                    CaseDocumentRow.terminal == terminal)
                 .order_by(literal_column("rowid").desc()).limit(1))
    return session.scalars(query).first() or GENESIS_HASH


def chains_present(session: Session) -> set[tuple[ChainName, str, str]]:
    """Every (chain, site, terminal) that has at least one row in this database."""
    found: set[tuple[ChainName, str, str]] = set()
    for site, terminal in session.execute(
            select(CaseEventRow.site, CaseEventRow.terminal).distinct()):
        found.add(("events", site, terminal))
    for site, terminal in session.execute(
            select(CaseDocumentRow.site, CaseDocumentRow.terminal).distinct()):
        found.add(("documents", site, terminal))
    return found


def head_of(session: Session, chain: ChainName, site: str, terminal: str) -> ChainHead | None:
    """The chain's head without walking it (count by index, last row by order)."""
    last: CaseEventRow | CaseDocumentRow | None
    if chain == "events":
        where = (CaseEventRow.site == site, CaseEventRow.terminal == terminal)
        count = session.scalar(select(func.count()).select_from(CaseEventRow).where(*where))
        last = session.scalars(select(CaseEventRow).where(*where)
                               .order_by(CaseEventRow.id.desc()).limit(1)).first()
    else:
        where = (CaseDocumentRow.site == site, CaseDocumentRow.terminal == terminal)
        count = session.scalar(select(func.count()).select_from(CaseDocumentRow).where(*where))
        last = session.scalars(select(CaseDocumentRow).where(*where)
                               .order_by(literal_column("rowid").desc()).limit(1)).first()
    if last is None:
        return None
    return ChainHead(chain, site, terminal, int(count or 0), row_key(last), last.hash)


def position_of(session: Session, chain: ChainName, site: str, terminal: str,
                key: str) -> int | None:
    """The 1-based position of the row ``key`` in its chain (by index, without a walk)."""
    if chain == "events":
        row_id = session.scalars(select(CaseEventRow.id).where(
            CaseEventRow.event_id == key)).first()
        if row_id is None:
            return None
        return session.scalar(select(func.count()).select_from(CaseEventRow).where(
            CaseEventRow.site == site, CaseEventRow.terminal == terminal,
            CaseEventRow.id <= row_id))
    rowid = session.scalars(select(literal_column("rowid")).select_from(CaseDocumentRow)
                            .where(CaseDocumentRow.id == key)).first()
    if rowid is None:
        return None
    return session.scalar(select(func.count()).select_from(CaseDocumentRow).where(
        CaseDocumentRow.site == site, CaseDocumentRow.terminal == terminal,
        literal_column("rowid") <= rowid))


@dataclass(frozen=True, slots=True)
class ChainWalk:
    """The result of walking one chain from its genesis."""

    chain: ChainName
    site: str
    terminal: str
    count: int
    broken_at: str | None          # key of the first row whose link or hash is wrong
    broken_position: int | None    # its 1-based position in the chain
    positions: dict[str, tuple[int, str]]  # key -> (position, hash), for the anchor check

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def walk_chain(session: Session, chain: ChainName, site: str, terminal: str,
               *, want_positions: frozenset[str] = frozenset()) -> ChainWalk:
    """Walk a chain from genesis, checking each link and each row's own hash."""
    prev, count, broken, broken_pos = GENESIS_HASH, 0, None, None
    positions: dict[str, tuple[int, str]] = {}
    for row in chain_rows(session, chain, site, terminal):
        count += 1
        key = row_key(row)
        if key in want_positions:
            positions[key] = (count, row.hash)
        if broken is None and (row.prev_hash != prev or row_hash(row) != row.hash):
            broken, broken_pos = key, count
        prev = row.hash
    return ChainWalk(chain, site, terminal, count, broken, broken_pos, positions)
