"""What a witnessed case event does to the server's copy of its case (docs/sync-protocol.md §5).

By the time a :class:`CaseStep` runs, the event is a link of its terminal's chain
(:mod:`server.chain_witness`): the op is kept whatever happens here. So every refusal
here is a :class:`Rejection` the op is stored with, and the terminal's next event still
extends the chain — one refused op never blocks the terminal.

The checks, in order: a kind the server knows; event fields it can store; a case of the
terminal's own site; an agent's event only on a case that agent registered (judged by the
event's author, not by who happens to be logged in when the outbox is pushed: a terminal
may be shared by a clerk and an agent); for ``opened``, a case number the event's own
terminal issued and nobody holds yet; then conflict, then the domain's own transition
rules (``app.domain.case``, the reducer the window runs).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
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
from server.chain_witness import EVENT_KEYS
from server.models import UserRow
from server.sync_changes import Change
from server.sync_checks import opened_problem, stored_problem
from server.sync_models import SyncCaseEventRow, SyncCaseRow

if TYPE_CHECKING:
    from server.sync import OpIn

OTHER_SITE = "该办件不属于本终端所在的站点。"


class Rejection(Exception):
    """The witnessed op is kept as ``rejected`` (``flag``: also tell a supervisor)."""

    def __init__(self, reason: str, message: str, *, flag: dict[str, Any] | None = None
                 ) -> None:
        super().__init__(message)
        self.reason, self.message, self.flag = reason, message, flag


class CaseStep:
    """Conflict, transition check and application of one witnessed case event."""

    def __init__(self, session: Session, now: dt.datetime, op: OpIn,
                 event: dict[str, Any]) -> None:
        self.session, self.now, self.op, self.event = session, now, op, event
        self.case: SyncCaseRow | None = None
        self.conflict_message = ""
        self.conflict_detail: dict[str, Any] = {}

    def run(self) -> CaseState | None:
        """The case's state after the event (applied), or None: stored as a conflict.
        Raises Rejection."""
        op, event, session = self.op, self.event, self.session
        try:
            kind = CaseEventKind(op.kind)
        except ValueError:
            # A newer client's kind: final for this op (retrying cannot help before the
            # server is upgraded, and the op is kept verbatim), so a supervisor is told.
            raise Rejection("unknown_kind", f"服务器不认识办件事件“{op.kind}”（客户端比服务器新）："
                            "记录已保存但未应用，请升级服务器。", flag={"kind": op.kind}) from None
        problem = stored_problem(event)
        if problem is not None:
            raise Rejection("bad_payload", problem)
        case = self.case = session.get(SyncCaseRow, op.entity_id, with_for_update=True)
        if case is not None and case.site != event["site"]:
            raise Rejection("other_site", OTHER_SITE)
        author = session.get(UserRow, event["clerk_id"])
        if (case is not None and author is not None and author.role == "agent"
                and case.owner_id != author.id):
            raise Rejection("not_yours", f"代办员{author.display_name}只能修改自己登记的办件：这条记录"
                            f"写在办件 {case.number} 上。")
        if case is None:
            return self._opened(kind)
        if kind is CaseEventKind.OPENED:
            try:
                check_transition(sync_cases.case_state(session, case.id), kind)
            except CaseTransitionError as exc:
                raise Rejection("invalid_transition", str(exc)) from None
        if case.conflicted or op.base_version != case.version:
            self._conflict(case)
            return None
        before = sync_cases.case_state(session, case.id)
        try:
            after = apply_event(before, kind, event["payload"])
        except CaseTransitionError as exc:
            raise Rejection("invalid_transition", str(exc)) from None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise Rejection("bad_payload", f"办件记录内容不完整或无法识别：{exc!r}") from None
        self._store(after)
        return after

    def _opened(self, kind: CaseEventKind) -> CaseState:
        op, event = self.op, self.event
        if kind is not CaseEventKind.OPENED:
            raise Rejection("unknown_case", f"服务器上没有办件 {op.entity_id}：它的收件记录"
                            "尚未上传，或已被拒绝。")
        problem = opened_problem(event)
        if problem is not None:
            raise Rejection(problem.reason, problem.message)
        number = event["payload"]["number"]
        if self.session.scalars(select(SyncCaseRow.id).where(
                SyncCaseRow.number == number)).first() is not None:
            raise Rejection("number_taken", f"办件编号 {number} 已属于服务器上的另一件办件：同一终端"
                            "不会两次签发同一编号。")
        try:
            state = replay([sync_cases.logged(event)])
        except ReplayError as exc:
            raise Rejection("bad_payload", str(exc)) from None
        self._store(state)
        return state

    def _conflict(self, case: SyncCaseRow) -> None:
        self.conflict_message = (
            f"办件 {case.number} 的这次修改基于第{self.op.base_version}版，服务器上已是第"
            f"{case.version}版" + ("（且有未处理的冲突）" if case.conflicted else "")
            + "：已保存，未覆盖，请值班长处理。")
        self.conflict_detail = {"base_version": self.op.base_version,
                                "server_version": case.version, "kind": self.op.kind}
        case.conflicted = True

    def _store(self, state: CaseState) -> None:
        case = self.case
        if case is None:
            case = self.case = SyncCaseRow(
                id=state.id, site=state.site, terminal=state.terminal,
                owner_id=state.clerk_id, number=state.number, item_code=state.item_code,
                item_name=state.item_name, applicant_name=state.applicant.name,
                conflicted=False)
            self.session.add(case)
        case.status, case.version, case.updated_at = str(state.status), state.version, self.now
        self.session.flush()
        self.session.add(SyncCaseEventRow(**{k: self.event[k] for k in EVENT_KEYS},
                                          origin="terminal", op_id=self.op.op_id))
        self.session.flush()   # inside the op's savepoint: a clash refuses this op only

    def change(self, state: CaseState) -> Change:
        """What pull serves for the applied event."""
        assert self.case is not None
        return Change(self.case.site, "case", self.case.id, self.op.kind,
                      {"event": self.event, "status": str(state.status),
                       "version": state.version, "origin": "terminal"}, self.case.owner_id)
