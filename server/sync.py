"""Push (docs/sync-protocol.md §5): each op answered on its own, applied at most once.

One request is one transaction; each op runs in a savepoint of its own, so an op that is
refused leaves nothing behind but its answer. The order of the checks is the protocol:

1. ``op_id`` kept before → ``duplicate`` (or the rejection it got once witnessed). The
   op's row is inserted first: a concurrent push of the same op waits on the primary key,
   fails on it and is answered ``duplicate`` — never a 500.
2. The op's shape, site, terminal and owner → ``rejected``; nothing is kept, so a copy
   pushed by someone else can never spoil the real op's ``op_id``.
3. Blobs the server has not accepted → ``missing_blobs`` (nothing kept); later events of
   the same chain in the batch wait with it.
4. A case event must extend its terminal's chain (:mod:`server.chain_witness`) →
   otherwise ``rejected: chain_rewritten`` (or ``hash_mismatch``) and a flag for a
   supervisor (one per op, however often it is retried).
5. Once witnessed, the event is the terminal's history whatever the case makes of it, and
   the op is kept: based on another version of the case → stored and flagged
   (``conflict``), never applied over the server's; a transition the domain refuses →
   ``rejected`` with the domain's own message; else ``applied``, a change for pull.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.domain.case import (
    CaseEventKind,
    CaseState,
    CaseTransitionError,
    ReplayError,
    apply_event,
    check_transition,
    replay,
)
from server import sync_cases
from server.accounts import ApiError
from server.chain_witness import (
    EVENT_KEYS,
    ChainRefusal,
    add_flag,
    extend,
    head_json,
    locked_head,
)
from server.models import DeviceRow
from server.sync_changes import Change, record_changes
from server.sync_models import (
    ChainHeadRow,
    SyncCaseEventRow,
    SyncCaseRow,
    SyncFlagRow,
    SyncOpRow,
)
from server.tokens import AccessClaims

MAX_OPS = 500
# Ops the server keeps and passes on without rules of its own yet (printed documents,
# queue tickets, manual calls, ratings): stored, applied, served by pull.
RECORDED_ENTITIES = frozenset({"case_document", "queue_ticket", "queue_manual_call",
                               "queue_rating", "queue_rating_followup"})
OTHER_SITE = "该办件不属于本终端所在的站点。"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_LIMITS = {"event_id": 36, "case_id": 36, "kind": 32, "clerk_id": 36, "clerk_name": 64,
           "site": 12, "terminal": 2, "window": 8, "occurred_at": 40}


@dataclass(frozen=True, slots=True)
class OpIn:
    op_id: str
    device_seq: int
    entity: str
    entity_id: str
    kind: str
    base_version: int
    payload: dict[str, Any]
    blob_refs: list[str]
    client_time: str


@dataclass(frozen=True, slots=True)
class Pusher:
    user_id: str
    role: str
    site: str
    device_id: str
    terminal: str


class Refused(Exception):
    """The op is rejected before anything of it is kept (``flag``: tell a supervisor)."""

    def __init__(self, reason: str, message: str, *, flag: dict[str, Any] | None = None
                 ) -> None:
        super().__init__(message)
        self.reason, self.message, self.flag = reason, message, flag


class Held(Exception):
    """The op waits for blobs: nothing of it is kept."""

    def __init__(self, blobs: list[str]) -> None:
        super().__init__(", ".join(blobs))
        self.blobs = blobs


def accepted_blobs(session: Session, hashes: Sequence[str]) -> set[str]:
    """Which of ``hashes`` the server holds, verified and accepted. Reads the ``blobs``
    table of server/blob_models.py (``sha256``, ``accepted_at`` set once verified) only
    through this function; without that table no blob is accepted yet."""
    if not hashes:
        return set()
    if not inspect(session.connection()).has_table("blobs"):
        return set()
    blobs = sa.table("blobs", sa.column("sha256"), sa.column("accepted_at"))
    return set(session.scalars(select(blobs.c.sha256).where(
        blobs.c.sha256.in_(sorted(set(hashes))), blobs.c.accepted_at.is_not(None))))


def pusher(session: Session, claims: AccessClaims) -> Pusher:
    device = session.get(DeviceRow, claims.device_id)
    if device is None or device.site_code != claims.site:
        raise ApiError(403, "device_revoked", "此终端已被停用，请联系管理员。")
    return Pusher(claims.user_id, claims.role, claims.site, device.id, device.terminal)


def push(session: Session, who: Pusher, ops: Sequence[OpIn], now: dt.datetime
         ) -> dict[str, Any]:
    """Answer every op in order; number the changes last (server.sync_changes)."""
    # Locked first: two pushes of one terminal are witnessed one after the other.
    head = locked_head(session, who.site, who.terminal, now)
    batch = _Batch(session, who, now, head)
    results = [batch.one(op) for op in ops]
    record_changes(session, batch.changes, now)
    session.refresh(head)
    return {"results": results, "head": head_json(head) if head.sequence else None}


class _Batch:
    def __init__(self, session: Session, who: Pusher, now: dt.datetime,
                 head: ChainHeadRow) -> None:
        self.session, self.who, self.now, self.head = session, who, now, head
        self.changes: list[Change] = []
        self.held: list[str] = []        # blobs the terminal's chain waits for

    def one(self, op: OpIn) -> dict[str, Any]:
        known = self.session.get(SyncOpRow, op.op_id)
        if known is not None:
            return self._repeat(known)
        change: Change | None = None
        try:
            with self.session.begin_nested():
                row = self._row(op)
                self.session.add(row)
                self.session.flush()     # a concurrent duplicate stops here
                answer, change = self._apply(op, row)
        except Held as held:
            return {"op_id": op.op_id, "result": "missing_blobs", "blobs": held.blobs}
        except Refused as refused:
            return self._refuse(op, refused)
        except IntegrityError:
            return self._after_race(op)
        if change is not None:
            self.changes.append(change)
        return answer

    def _row(self, op: OpIn) -> SyncOpRow:
        return SyncOpRow(op_id=op.op_id, site=self.who.site, device_id=self.who.device_id,
                         user_id=self.who.user_id, device_seq=op.device_seq,
                         entity=op.entity, entity_id=op.entity_id, kind=op.kind,
                         base_version=op.base_version, payload=op.payload,
                         blob_refs=op.blob_refs, client_time=op.client_time,
                         result="applied", reason="", message="", received_at=self.now)

    def _after_race(self, op: OpIn) -> dict[str, Any]:
        known = self.session.get(SyncOpRow, op.op_id, populate_existing=True)
        if known is None:
            raise RuntimeError(f"op {op.op_id} broke a constraint other than its own id")
        return self._repeat(known)

    def _repeat(self, known: SyncOpRow) -> dict[str, Any]:
        """An op kept before: ``duplicate``, or the rejection it got after it was
        witnessed. Another site learns nothing of it."""
        if known.site != self.who.site:
            return {"op_id": known.op_id, "result": "rejected", "reason": "other_site",
                    "message": OTHER_SITE}
        if known.result == "rejected":
            return {"op_id": known.op_id, "result": "rejected", "reason": known.reason,
                    "message": known.message}
        return {"op_id": known.op_id, "result": "duplicate"}

    def _refuse(self, op: OpIn, refused: Refused) -> dict[str, Any]:
        """Nothing of a refused op is kept (so nobody can spoil another's ``op_id`` by
        pushing a copy first), only its flag: one open flag per op, however often the
        terminal retries."""
        if refused.flag is not None and self.session.scalars(select(SyncFlagRow.id).where(
                SyncFlagRow.op_id == op.op_id, SyncFlagRow.resolved_at.is_(None))).first() is None:
            add_flag(self.session, site=self.who.site, kind=refused.reason,
                     device_id=self.who.device_id, terminal=self.who.terminal,
                     op_id=op.op_id, entity_id=op.entity_id, message=refused.message,
                     detail=refused.flag, now=self.now)
        return {"op_id": op.op_id, "result": "rejected", "reason": refused.reason,
                "message": refused.message}

    # ---- what an op does ------------------------------------------------------------

    def _apply(self, op: OpIn, row: SyncOpRow) -> tuple[dict[str, Any], Change | None]:
        if op.entity == "case":
            return self._case(op, row)
        if op.entity in RECORDED_ENTITIES:
            return self._recorded(op)
        raise Refused("unknown_entity", f"服务器不认识“{op.entity}”类操作，请升级客户端或联系管理员。")

    def _blobs(self, op: OpIn) -> None:
        missing = sorted(set(op.blob_refs) - accepted_blobs(self.session, op.blob_refs))
        if missing:
            raise Held(missing)

    def _recorded(self, op: OpIn) -> tuple[dict[str, Any], Change | None]:
        owner = None
        case_id = op.payload.get("case_id")
        if isinstance(case_id, str):
            case = self.session.get(SyncCaseRow, case_id)
            if case is not None:
                self._may_touch(case.site, case.owner_id)
                owner = case.owner_id
        self._blobs(op)
        return ({"op_id": op.op_id, "result": "applied"},
                Change(self.who.site, op.entity, op.entity_id, op.kind, dict(op.payload),
                       owner))

    def _may_touch(self, site: str, owner_id: str) -> None:
        if site != self.who.site:
            raise Refused("other_site", OTHER_SITE)
        if self.who.role == "agent" and owner_id != self.who.user_id:
            raise Refused("not_yours", "代办员只能上传自己登记的办件。")

    def _case(self, op: OpIn, row: SyncOpRow) -> tuple[dict[str, Any], Change | None]:
        event = _event_of(op)
        if event["site"] != self.who.site:
            raise Refused("other_site", OTHER_SITE)
        if event["terminal"] != self.who.terminal:
            raise Refused("other_terminal", f"这条记录由终端 {event['terminal']} 写入，只能由该终端上传"
                          f"（本终端为 {self.who.terminal}）。")
        case = self.session.get(SyncCaseRow, op.entity_id, with_for_update=True)
        self._may_touch(case.site if case else event["site"],
                        case.owner_id if case else event["clerk_id"])
        if self.held:
            raise Held(self.held)      # an earlier link waits for blobs: so does this one
        try:
            self._blobs(op)
        except Held as held:
            self.held = held.blobs
            raise
        try:
            extend(self.session, self.head, event, op.op_id, self.now)
        except ChainRefusal as refusal:
            raise Refused(refusal.reason, refusal.message, flag=refusal.detail) from None
        # Witnessed: from here the op is kept whatever its answer.
        return _CaseStep(self, op, row, event, case).run()


class _CaseStep:
    """Conflict, transition check and application of one witnessed case event."""

    def __init__(self, batch: _Batch, op: OpIn, row: SyncOpRow, event: dict[str, Any],
                 case: SyncCaseRow | None) -> None:
        self.batch, self.op, self.row, self.event, self.case = batch, op, row, event, case

    def _rejected(self, reason: str, message: str) -> tuple[dict[str, Any], None]:
        self.row.result, self.row.reason, self.row.message = "rejected", reason, message
        return ({"op_id": self.op.op_id, "result": "rejected", "reason": reason,
                 "message": message}, None)

    def run(self) -> tuple[dict[str, Any], Change | None]:
        event, case, op = self.event, self.case, self.op
        logged = sync_cases.logged(event)
        if case is None:
            if op.kind != CaseEventKind.OPENED:
                return self._rejected("unknown_case", f"服务器上没有办件 {op.entity_id}：它的收件记录"
                                      "尚未上传，或已被拒绝。")
            try:
                state = replay([logged])
            except ReplayError as exc:
                return self._rejected("bad_payload", str(exc))
            return self._applied(state)
        if op.kind == CaseEventKind.OPENED:
            try:
                check_transition(sync_cases.case_state(self.batch.session, case.id), CaseEventKind.OPENED)
            except CaseTransitionError as exc:
                return self._rejected("invalid_transition", str(exc))
        if case.conflicted or op.base_version != case.version:
            return self._conflict(case)
        before = sync_cases.case_state(self.batch.session, case.id)
        try:
            after = apply_event(before, CaseEventKind(op.kind), event["payload"])
        except CaseTransitionError as exc:
            return self._rejected("invalid_transition", str(exc))
        except (KeyError, TypeError, ValueError) as exc:
            return self._rejected("bad_payload", f"办件记录内容不完整或无法识别：{exc!r}")
        return self._applied(after)

    def _conflict(self, case: SyncCaseRow) -> tuple[dict[str, Any], None]:
        message = (f"办件 {case.number} 的这次修改基于第{self.op.base_version}版，服务器上已是第"
                   f"{case.version}版" + ("（且有未处理的冲突）" if case.conflicted else "")
                   + "：已保存，未覆盖，请值班长处理。")
        self.row.result, self.row.message = "conflict", message
        add_flag(self.batch.session, site=case.site, kind="conflict",
                 device_id=self.batch.who.device_id, terminal=self.batch.who.terminal,
                 op_id=self.op.op_id, entity_id=case.id, message=message,
                 detail={"base_version": self.op.base_version, "server_version": case.version,
                         "kind": self.op.kind}, now=self.batch.now)
        case.conflicted = True
        return ({"op_id": self.op.op_id, "result": "conflict", "server_version": case.version,
                 "message": message}, None)

    def _applied(self, state: CaseState) -> tuple[dict[str, Any], Change]:
        event, session, now = self.event, self.batch.session, self.batch.now
        case = self.case
        if case is None:
            case = SyncCaseRow(id=state.id, site=state.site, terminal=state.terminal,
                               owner_id=state.clerk_id, number=state.number,
                               item_code=state.item_code, item_name=state.item_name[:200],
                               applicant_name=state.applicant.name[:200], conflicted=False)
            session.add(case)
        case.status, case.version, case.updated_at = str(state.status), state.version, now
        session.flush()
        session.add(SyncCaseEventRow(**{k: event[k] for k in EVENT_KEYS}, origin="terminal",
                                     op_id=self.op.op_id))
        change = Change(case.site, "case", case.id, self.op.kind,
                        {"event": event, "status": str(state.status),
                         "version": state.version, "origin": "terminal"}, case.owner_id)
        return ({"op_id": self.op.op_id, "result": "applied", "version": state.version},
                change)


def _event_of(op: OpIn) -> dict[str, Any]:
    """The op's case event, checked for shape and for agreeing with the op."""
    e = op.payload
    missing = [k for k in EVENT_KEYS if k not in e]
    unknown = sorted(set(e) - set(EVENT_KEYS))
    if missing or unknown:
        raise Refused("bad_op", f"办件记录字段不符：缺少 {', '.join(missing) or '无'}，"
                      f"多出 {', '.join(unknown) or '无'}。")
    bad = [k for k, n in _LIMITS.items() if not isinstance(e[k], str) or len(e[k]) > n]
    bad += [k for k in ("prev_hash", "hash")
            if not isinstance(e[k], str) or not _HEX64.fullmatch(e[k])]
    if type(e["case_seq"]) is not int or not isinstance(e["payload"], dict):
        bad.append("case_seq/payload")
    if bad:
        raise Refused("bad_op", f"办件记录字段类型或长度不对：{', '.join(bad)}。")
    if (e["case_id"], e["kind"], e["case_seq"]) != (op.entity_id, op.kind,
                                                     op.base_version + 1):
        raise Refused("bad_op", "办件记录与操作不一致（case_id、kind 应相同，case_seq 应为 "
                      "base_version + 1）。")
    try:
        CaseEventKind(op.kind)
    except ValueError:
        raise Refused("unknown_kind", f"未知的办件事件：{op.kind}。") from None
    return e

