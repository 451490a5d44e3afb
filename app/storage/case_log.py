"""Writing the case log: event + projection + outbox op, inside the caller's transaction.

Every change of a case goes through :func:`append_event`, so the audit trail, the
current state and the sync outbox can never disagree: they commit or roll back together.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
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
    LoggedEvent,
    agent_from_json,
    agent_to_json,
    applicant_from_json,
    applicant_to_json,
    material_state_from_json,
    material_state_to_json,
    replay,
)
from app.domain.case_pages import pages_from_json, pages_to_json
from app.domain.numbering import MAX_DAILY_SEQ, CaseNumber, CaseNumberError
from app.storage.chain import event_fields, last_hash, row_hash
from app.storage.models import (
    CaseEventRow,
    CaseNumberCounter,
    CaseRow,
    DocumentNumberCounter,
    OutboxOp,
)


def utc_now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


# The printed form 第01-0001号 has four digits: a terminal issuing more than that for one
# prefix in a year is a misconfiguration worth stopping for, not a number to wrap.
MAX_YEARLY_DOCUMENTS = 9999


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


@dataclass(frozen=True, slots=True)
class IssuedDocumentNumber:
    """One 文号 sequence taken from the register (the caller formats and anchors it)."""

    prefix: str
    year: int
    site: str
    terminal: str
    seq: int


def next_document_number(session: Session, prefix: str, year: int, site: str,
                         terminal: str) -> IssuedDocumentNumber:
    """Take the next 文号 printed with ``prefix`` for ``year`` at this terminal (caller holds the
    write lock; the decision that prints it commits in the same transaction)."""
    key = (prefix, year, site, terminal)
    counter = session.get(DocumentNumberCounter, key)
    if counter is None:
        counter = DocumentNumberCounter(prefix=prefix, year=year, site=site,
                                        terminal=terminal, last_seq=0)
        session.add(counter)
    if counter.last_seq >= MAX_YEARLY_DOCUMENTS:
        raise CaseNumberError(f"文号“{prefix}〔{year}〕”在本终端已用到第{MAX_YEARLY_DOCUMENTS}号：请管理员为"
                              "该实施主体另设文号前缀（settings.toml 的 prefix）。")
    counter.last_seq += 1
    return IssuedDocumentNumber(prefix, year, site, terminal, counter.last_seq)


def append_event(session: Session, case_id: str, case_seq: int, kind: CaseEventKind,
                 payload: dict[str, Any], clerk: Clerk, base_version: int,
                 *, occurred_at: str | None = None,
                 blob_refs: Sequence[str] = ()) -> CaseEventRow:
    """Append one event to the chain of the clerk's site/terminal and queue it for sync.

    ``blob_refs`` names the blobs (scanned pages) the event needs: sync uploads them
    before the event, and the server checks their hashes.

    The caller anchors the returned row's hash (see app.services.integrity) after commit.
    """
    row = CaseEventRow(
        event_id=str(uuid.uuid4()), case_id=case_id, case_seq=case_seq, kind=str(kind),
        payload=payload, clerk_id=clerk.clerk_id, clerk_name=clerk.clerk_name,
        site=clerk.site, terminal=clerk.terminal, window=clerk.window,
        occurred_at=occurred_at or utc_now_iso(),
        prev_hash=last_hash(session, "events", clerk.site, clerk.terminal), hash="")
    row.hash = row_hash(row)
    session.add(row)
    session.flush()   # the next append in this transaction must see this row as the head
    session.add(OutboxOp(
        op_id=str(uuid.uuid4()), entity="case", entity_id=case_id, kind=str(kind),
        base_version=base_version,
        payload={**event_fields(row), "prev_hash": row.prev_hash, "hash": row.hash},
        blob_refs=list(blob_refs), client_time=row.occurred_at, state="pending", attempts=0,
        last_error=""))
    return row


def latest_event(session: Session, case_id: str, kinds: Sequence[CaseEventKind]
                 ) -> CaseEventRow | None:
    """The case's most recent event of one of ``kinds`` (documents state such events)."""
    return session.scalars(
        select(CaseEventRow).where(CaseEventRow.case_id == case_id,
                                   CaseEventRow.kind.in_([str(k) for k in kinds]))
        .order_by(CaseEventRow.case_seq.desc()).limit(1)).first()


def logged_event(row: CaseEventRow) -> LoggedEvent:
    return LoggedEvent(row.case_id, row.case_seq, row.kind, row.payload, row.clerk_id,
                       row.site, row.terminal, row.window, row.occurred_at)


def case_events(session: Session, case_id: str) -> list[CaseEventRow]:
    return list(session.scalars(select(CaseEventRow).where(CaseEventRow.case_id == case_id)
                                .order_by(CaseEventRow.case_seq)))


# What each projection column is called when it disagrees with the log.
COLUMN_NAMES = {
    "number": "办件编号", "status": "状态", "item_code": "事项编码", "item_version": "事项版本",
    "item_name": "事项名称", "bundle_code": "一件事编码", "parent_id": "上级办件",
    "applicant_name": "申请人姓名", "applicant_id_number": "申请人证件号码",
    "applicant": "申请人信息", "agent": "代理人", "scenarios": "办理情形",
    "materials": "收件材料", "decision": "决定", "decision_reason": "决定理由",
    "competent_authority": "有权机关", "accepted_on": "受理日期", "pages": "扫描页面",
    "promised_date": "承诺办结日期", "promised_estimated": "承诺日期是否估算",
    "site": "站点", "terminal": "终端", "window": "窗口", "clerk_id": "收件人",
    "queue_ticket": "排队号", "opened_at": "收件时间", "version": "版本",
}


def projection_diff(row: CaseRow, events: list[CaseEventRow]) -> list[str]:
    """Columns of the ``cases`` row that differ from what its events replay to.

    Raises ReplayError when the events themselves cannot be replayed.
    """
    expected = CaseRow(id=row.id)
    write_projection(expected, replay([logged_event(e) for e in events]))
    return [column for column in COLUMN_NAMES
            if getattr(row, column) != getattr(expected, column)]


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
        promised_estimated=row.promised_estimated, pages=pages_from_json(row.pages),
        version=row.version)


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
    row.pages = pages_to_json(state.pages)
    row.site, row.terminal, row.window = state.site, state.terminal, state.window
    row.clerk_id, row.queue_ticket = state.clerk_id, state.queue_ticket
    row.opened_at = state.opened_at
    row.updated_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    row.version = state.version
