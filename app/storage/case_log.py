"""Writing the case log: event + projection + outbox op, inside the caller's transaction.

Every change of a case goes through :func:`append_event`, so the audit trail, the
current state and the sync outbox can never disagree: they commit or roll back together.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.case import (
    CaseEventKind,
    CaseState,
    CaseStatus,
    Clerk,
    Decision,
    agent_from_json,
    agent_to_json,
    applicant_from_json,
    applicant_to_json,
    material_state_from_json,
    material_state_to_json,
)
from app.domain.numbering import MAX_DAILY_SEQ, CaseNumber, CaseNumberError
from app.storage.models import CaseEventRow, CaseNumberCounter, CaseRow, OutboxOp

GENESIS_HASH = "0" * 64


def utc_now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def next_case_number(session: Session, site: str, terminal: str, day: dt.date) -> CaseNumber:
    """Issue the next number for this terminal and day (caller holds the write lock)."""
    counter = session.get(CaseNumberCounter, (site, terminal, day))
    if counter is None:
        counter = CaseNumberCounter(site=site, terminal=terminal, day=day, last_seq=0)
        session.add(counter)
    if counter.last_seq >= MAX_DAILY_SEQ:
        raise CaseNumberError(f"本终端今天已编号{MAX_DAILY_SEQ}件，达到上限。")
    counter.last_seq += 1
    return CaseNumber(site=site, terminal=terminal, day=day, seq=counter.last_seq)


def event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps({"prev": prev_hash, **fields}, ensure_ascii=False, sort_keys=True,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _hashed_fields(row: CaseEventRow) -> dict[str, Any]:
    return {"event_id": row.event_id, "case_id": row.case_id, "case_seq": row.case_seq,
            "kind": row.kind, "payload": row.payload, "clerk_id": row.clerk_id,
            "clerk_name": row.clerk_name, "site": row.site, "terminal": row.terminal,
            "window": row.window, "occurred_at": row.occurred_at}


def _last_hash(session: Session, site: str, terminal: str) -> str:
    last = session.scalars(
        select(CaseEventRow.hash).where(CaseEventRow.site == site,
                                        CaseEventRow.terminal == terminal)
        .order_by(CaseEventRow.id.desc()).limit(1)).first()
    return last or GENESIS_HASH


def append_event(session: Session, case_id: str, case_seq: int, kind: CaseEventKind,
                 payload: dict[str, Any], clerk: Clerk, base_version: int) -> CaseEventRow:
    """Append one event to the chain of the clerk's site/terminal and queue it for sync."""
    row = CaseEventRow(
        event_id=str(uuid.uuid4()), case_id=case_id, case_seq=case_seq, kind=str(kind),
        payload=payload, clerk_id=clerk.clerk_id, clerk_name=clerk.clerk_name,
        site=clerk.site, terminal=clerk.terminal, window=clerk.window,
        occurred_at=utc_now_iso(), prev_hash=_last_hash(session, clerk.site, clerk.terminal),
        hash="")
    row.hash = event_hash(row.prev_hash, _hashed_fields(row))
    session.add(row)
    session.add(OutboxOp(
        op_id=str(uuid.uuid4()), entity="case", entity_id=case_id, kind=str(kind),
        base_version=base_version,
        payload={**_hashed_fields(row), "prev_hash": row.prev_hash, "hash": row.hash},
        blob_refs=[], client_time=row.occurred_at, state="pending", attempts=0,
        last_error=""))
    return row


@dataclass(frozen=True, slots=True)
class ChainReport:
    site: str
    terminal: str
    events: int
    broken_at: str | None  # event_id of the first event whose hash does not match

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def verify_chain(session: Session, site: str, terminal: str) -> ChainReport:
    prev = GENESIS_HASH
    count = 0
    rows = session.scalars(select(CaseEventRow).where(
        CaseEventRow.site == site, CaseEventRow.terminal == terminal)
        .order_by(CaseEventRow.id))
    for row in rows:
        count += 1
        if row.prev_hash != prev or event_hash(prev, _hashed_fields(row)) != row.hash:
            return ChainReport(site, terminal, count, row.event_id)
        prev = row.hash
    return ChainReport(site, terminal, count, None)


# ---- projection <-> domain state ------------------------------------------------------


def state_from_row(row: CaseRow) -> CaseState:
    return CaseState(
        id=row.id, number=row.number, status=CaseStatus(row.status),
        item_code=row.item_code, item_version=row.item_version, item_name=row.item_name,
        applicant=applicant_from_json(row.applicant), site=row.site, terminal=row.terminal,
        window=row.window, clerk_id=row.clerk_id, opened_at=row.opened_at,
        agent=agent_from_json(row.agent), bundle_code=row.bundle_code,
        parent_id=row.parent_id, queue_ticket=row.queue_ticket,
        scenarios=tuple(row.scenarios),
        materials=tuple(material_state_from_json(m) for m in row.materials),
        decision=Decision(row.decision) if row.decision else None,
        decision_reason=row.decision_reason, competent_authority=row.competent_authority,
        accepted_on=row.accepted_on, promised_date=row.promised_date,
        promised_estimated=row.promised_estimated, version=row.version)


def write_projection(row: CaseRow, state: CaseState) -> None:
    row.number = state.number
    row.status = str(state.status)
    row.item_code, row.item_version, row.item_name = (
        state.item_code, state.item_version, state.item_name)
    row.bundle_code, row.parent_id = state.bundle_code, state.parent_id
    row.applicant_name = state.applicant.name
    row.applicant_id_number = state.applicant.id_number
    row.applicant = applicant_to_json(state.applicant)
    row.agent = agent_to_json(state.agent)
    row.scenarios = list(state.scenarios)
    row.materials = [material_state_to_json(m) for m in state.materials]
    row.decision = str(state.decision) if state.decision else ""
    row.decision_reason = state.decision_reason
    row.competent_authority = state.competent_authority
    row.accepted_on, row.promised_date = state.accepted_on, state.promised_date
    row.promised_estimated = state.promised_estimated
    row.site, row.terminal, row.window = state.site, state.terminal, state.window
    row.clerk_id, row.queue_ticket = state.clerk_id, state.queue_ticket
    row.opened_at = state.opened_at
    row.updated_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    row.version = state.version
