"""Push (docs/sync-protocol.md §5): each op answered on its own, applied at most once.

One request is one transaction; each op runs in a savepoint of its own, so an op that is
refused leaves nothing behind but its answer. The order of the checks is the protocol:

1. ``op_id`` kept before → ``duplicate`` (or the rejection it got once witnessed); the
   same ``op_id`` with other content → ``rejected: op_id_reused`` and a flag. The op's
   row is inserted first: a concurrent push of the same op waits on the primary key,
   fails on it and is answered ``duplicate`` — never a 500.
2. What makes a case event a link of this terminal's chain at all: its shape
   (:mod:`server.sync_checks`), its site and terminal, an ``event_id`` not used before →
   otherwise ``rejected`` and nothing is kept, so a copy pushed by someone else can never
   spoil the real op's ``op_id``.
3. Blobs the server has not accepted → ``missing_blobs`` (nothing kept); later events of
   the same chain in the batch wait with it.
4. A case event must extend its terminal's chain (:mod:`server.chain_witness`) →
   otherwise ``rejected: chain_rewritten`` (or ``hash_mismatch``) and a flag for a
   supervisor (one per op, however often it is retried).
5. Once witnessed, the event is the terminal's history whatever the case makes of it, and
   the op is kept (:class:`server.sync_case_step.CaseStep`): an unknown kind, a field
   that cannot be stored, another site's case, an agent's event on a case it did not
   register, a bad case number → ``rejected``; based on another version of the case →
   stored and flagged (``conflict``), never applied over the server's; a transition the
   domain refuses → ``rejected`` with the domain's own message; else ``applied``, a
   change for pull. So one refused op never blocks the terminal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.accounts import ApiError
from server.chain_witness import ChainRefusal, add_flag, extend, head_json, locked_head
from server.models import DeviceRow
from server.sync_case_step import OTHER_SITE, CaseStep, Rejection
from server.sync_changes import Change, record_changes
from server.sync_checks import OpProblem, event_of, named_pages, payload_problem
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
# What must be the same for an op pushed again to be the same op (device_seq and
# client_time are the outbox's bookkeeping, not the op).
_SAME_OP = ("entity", "entity_id", "kind", "base_version", "payload")


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
            return self._repeat(known, op)
        change: Change | None = None
        try:
            with self.session.begin_nested():
                problem = payload_problem(op.payload)
                if problem is not None:   # neither database could store it
                    raise Refused("bad_op", problem)
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
            # Another terminal created the same case or event id at the same moment (only
            # a forged op can): nothing of this batch is kept, and pushed again the op
            # meets what the other one stored.
            raise ApiError(409, "push_race", "另一终端同时上传了同一办件的记录：本批未保存，请重新上传。")
        return self._repeat(known, op)

    def _repeat(self, known: SyncOpRow, op: OpIn) -> dict[str, Any]:
        """An op kept before: ``duplicate``, or the rejection it got after it was
        witnessed. Another site learns nothing of it. The same ``op_id`` with other
        content is not that op: refused and flagged, since only a rewritten outbox or a
        forger reuses an ``op_id``."""
        if known.site != self.who.site:
            return {"op_id": known.op_id, "result": "rejected", "reason": "other_site",
                    "message": OTHER_SITE}
        if any(getattr(known, k) != getattr(op, k) for k in _SAME_OP):
            message = (f"操作 {op.op_id} 已按另一内容上传过（{_received(known)}）："
                       "同一操作被改写后重传。已报值班长核查。")
            self._flag_once(op, "op_id_reused", message,
                            {"stored_kind": known.kind, "pushed_kind": op.kind,
                             "stored_result": known.result})
            return {"op_id": op.op_id, "result": "rejected", "reason": "op_id_reused",
                    "message": message}
        if known.result == "rejected":
            return {"op_id": known.op_id, "result": "rejected", "reason": known.reason,
                    "message": known.message}
        return {"op_id": known.op_id, "result": "duplicate"}

    def _refuse(self, op: OpIn, refused: Refused) -> dict[str, Any]:
        """Nothing of a refused op is kept (so nobody can spoil another's ``op_id`` by
        pushing a copy first), only its flag."""
        if refused.flag is not None:
            self._flag_once(op, refused.reason, refused.message, refused.flag)
        return {"op_id": op.op_id, "result": "rejected", "reason": refused.reason,
                "message": refused.message}

    def _flag_once(self, op: OpIn, kind: str, message: str, detail: dict[str, Any]) -> None:
        """One open flag per op and kind, however often the terminal retries."""
        if self.session.scalars(select(SyncFlagRow.id).where(
                SyncFlagRow.op_id == op.op_id, SyncFlagRow.kind == kind,
                SyncFlagRow.resolved_at.is_(None))).first() is None:
            add_flag(self.session, site=self.who.site, kind=kind,
                     device_id=self.who.device_id, terminal=self.who.terminal,
                     op_id=op.op_id, entity_id=op.entity_id, message=message,
                     detail=detail, now=self.now)

    # ---- what an op does ------------------------------------------------------------

    def _apply(self, op: OpIn, row: SyncOpRow) -> tuple[dict[str, Any], Change | None]:
        if op.entity == "case":
            return self._case(op, row)
        if op.entity in RECORDED_ENTITIES:
            return self._recorded(op)
        raise Refused("unknown_entity", f"服务器不认识“{op.entity}”类操作，请升级客户端或联系管理员。")

    def _blobs(self, op: OpIn) -> None:
        # A case event that names scanned pages needs them here whatever its blob_refs
        # say: a client that leaves a page out must not land an event naming nothing.
        wanted = sorted(set(op.blob_refs) | named_pages(op.entity, op.kind, op.payload))
        missing = sorted(set(wanted) - accepted_blobs(self.session, wanted))
        if missing:
            raise Held(missing)

    def _recorded(self, op: OpIn) -> tuple[dict[str, Any], Change | None]:
        owner = None
        case_id = op.payload.get("case_id")
        if isinstance(case_id, str):
            case = self.session.get(SyncCaseRow, case_id)
            if case is not None:
                if case.site != self.who.site:
                    raise Refused("other_site", OTHER_SITE)
                if self.who.role == "agent" and case.owner_id != self.who.user_id:
                    raise Refused("not_yours", "代办员只能上传自己登记的办件。")
                owner = case.owner_id
        self._blobs(op)
        return ({"op_id": op.op_id, "result": "applied"},
                Change(self.who.site, op.entity, op.entity_id, op.kind, dict(op.payload),
                       owner))

    def _case(self, op: OpIn, row: SyncOpRow) -> tuple[dict[str, Any], Change | None]:
        try:
            event = event_of(op)
        except OpProblem as problem:
            raise Refused(problem.reason, problem.message) from None
        if event["site"] != self.who.site:
            raise Refused("other_site", OTHER_SITE)
        if event["terminal"] != self.who.terminal:
            raise Refused("other_terminal", f"这条记录由终端 {event['terminal']} 写入，只能由该终端上传"
                          f"（本终端为 {self.who.terminal}）。")
        if self.session.scalars(select(SyncCaseEventRow.id).where(
                SyncCaseEventRow.event_id == event["event_id"])).first() is not None:
            raise Refused("bad_op", f"办件记录编号 {event['event_id']} 已被另一条记录使用。")
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
        step = CaseStep(self.session, self.now, op, event)
        try:
            state = step.run()
        except Rejection as rejection:
            row.result, row.reason, row.message = "rejected", rejection.reason, rejection.message
            if rejection.flag is not None:
                add_flag(self.session, site=self.who.site, kind=rejection.reason,
                         device_id=self.who.device_id, terminal=self.who.terminal,
                         op_id=op.op_id, entity_id=op.entity_id, message=rejection.message,
                         detail=rejection.flag, now=self.now)
            return ({"op_id": op.op_id, "result": "rejected", "reason": rejection.reason,
                     "message": rejection.message}, None)
        if state is None:   # stored beside the server's history, flagged
            row.result, row.message = "conflict", step.conflict_message
            add_flag(self.session, site=self.who.site, kind="conflict",
                     device_id=self.who.device_id, terminal=self.who.terminal,
                     op_id=op.op_id, entity_id=op.entity_id, message=step.conflict_message,
                     detail=step.conflict_detail, now=self.now)
            return ({"op_id": op.op_id, "result": "conflict",
                     "server_version": step.conflict_detail["server_version"],
                     "message": step.conflict_message}, None)
        return ({"op_id": op.op_id, "result": "applied", "version": state.version},
                step.change(state))


def _received(known: SyncOpRow) -> str:
    when = known.received_at if known.received_at.tzinfo else known.received_at.replace(
        tzinfo=dt.UTC)
    return f"{when:%Y-%m-%d %H:%M} UTC"
