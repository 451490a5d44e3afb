"""The back office (docs/sync-protocol.md §9): what the departments do with a case after
the window accepted it — 审批中, 暂停/恢复计时, 办结 with the result 准予 or 不予 — and
telling the applicant the result is ready (通知取件).

The same functions serve ``/v1/cases`` and ``yichuang-server case``. Only a supervisor
(值班长) of the case's site or an administrator (county-wide, as for the audit heads) may
act, and every change names who made it. A case is found by its case NUMBER, what the
clerk prints and the applicant holds, never the internal id.

A move is a ``status_changed`` event checked by the client's own reducer
(:func:`server.sync_cases.apply_server_event`), so the server can never give a case a
status the window would refuse to replay. ``app.domain`` has no event kind for a pickup
notice (it does not change the case), so 通知取件 is a change of its own entity
``case_notice`` in the pull log, which is also where it is kept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.case import CaseEventKind, CaseStatus, deferred_outstanding
from app.domain.numbering import CaseNumber, CaseNumberError
from app.domain.text_checks import forbidden_character
from server.accounts import ApiError, checked_user
from server.db import ServerDatabase
from server.models import UserRow
from server.sync_cases import apply_server_event, case_state
from server.sync_changes import Change, record_changes
from server.sync_models import SyncCaseEventRow, SyncCaseRow, SyncChangeRow

ROLES = ("supervisor", "admin")
TARGETS = {"审批中": CaseStatus.IN_REVIEW, "办结": CaseStatus.COMPLETED}
RESULTS = ("准予", "不予")
NOTICE_ENTITY, NOTICE_KIND = "case_notice", "pickup_notified"
SOURCE = "back_office"      # in the event payload: the window writes "window"
MAX_LIST, DEFAULT_LIST = 500, 100
MAX_TEXT = 200


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: recorded as the event's clerk, so the history says who moved the case."""
    user_id: str
    name: str
    role: str
    site: str


def _actor(user: UserRow) -> Actor:
    if user.role not in ROLES:
        raise ApiError(403, "not_allowed", "只有值班长或管理员可以办理后台业务（查看、推进办件，通知取件）。")
    return Actor(user.id, user.display_name, user.role, user.site_code)


def actor(session: Session, user_id: str) -> Actor:
    """The caller of the API (its token already checked) as an actor."""
    user = session.get(UserRow, user_id)
    if user is None or not user.active:
        raise ApiError(401, "user_inactive", "账号已停用。")
    return _actor(user)


def operator(db: ServerDatabase, username: str, password: str, now: dt.datetime) -> Actor:
    """The server operator of the CLI, by password. A wrong password counts towards the
    lock-out like a login (its own transaction, kept although the command fails)."""
    refused: ApiError | None = None
    with db.session() as session:
        try:
            return _actor(checked_user(session, username, password, now))
        except ApiError as exc:
            if exc.code != "wrong_credentials":
                raise
            refused = exc
    raise refused


def _may_act_on(who: Actor, site: str) -> None:
    if who.role != "admin" and site != who.site:
        raise ApiError(403, "other_site", "该办件不属于您所在的站点。")


def _text(label: str, value: str) -> str:
    value = value.strip()
    if len(value) > MAX_TEXT:
        raise ApiError(422, "bad_text", f"{label}最多{MAX_TEXT}个字。")
    bad = forbidden_character(value)
    if bad:
        raise ApiError(422, "bad_text", f"{label}中有不可见的控制字符（{bad}），请删除后重新输入。")
    return value


def find(session: Session, who: Actor, number: str, *, lock: bool = False) -> SyncCaseRow:
    """The case with this number, if ``who`` may act on it (locked for a change).

    A case number names its site (app.domain.numbering), and the server takes a case only
    with a number of its own terminal (server.sync_checks): so a supervisor asking for
    another site's number is refused from the number alone, and the lookup is limited to
    the number's site before anything is counted — no other site's case can answer, or
    make an answer ambiguous."""
    try:
        parsed = CaseNumber.parse(number)
    except CaseNumberError as exc:
        raise ApiError(422, "bad_case_number", str(exc)) from None
    _may_act_on(who, parsed.site)
    text = str(parsed)
    query = select(SyncCaseRow).where(SyncCaseRow.number == text,
                                      SyncCaseRow.site == parsed.site).limit(2)
    rows = list(session.scalars(query.with_for_update() if lock else query))
    if not rows:
        raise ApiError(404, "unknown_case",
                       f"服务器上没有编号为 {text} 的办件（尚未同步到服务器，或编号有误）。")
    if len(rows) > 1:   # the number is unique (s0006): only a database edited by hand
        raise ApiError(409, "ambiguous_number", f"编号 {text} 对应多个办件，请联系管理员核查。")
    return rows[0]


def summary(row: SyncCaseRow) -> dict[str, Any]:
    return {"number": row.number, "case_id": row.id, "site": row.site,
            "terminal": row.terminal, "item_code": row.item_code, "item_name": row.item_name,
            "applicant_name": row.applicant_name, "status": row.status,
            "version": row.version, "conflicted": row.conflicted,
            "updated_at": _utc(row.updated_at).isoformat()}


def _utc(at: dt.datetime) -> dt.datetime:
    """SQLite gives naive datetimes back for timezone-aware columns: they are UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


def list_cases(session: Session, who: Actor, *, status: str | None = None,
               site: str | None = None, limit: int = DEFAULT_LIST, offset: int = 0
               ) -> dict[str, Any]:
    """The cases of the caller's site (an administrator: of every site, or of ``site``),
    most recently changed first."""
    if site:
        _may_act_on(who, site)
    query = select(SyncCaseRow)
    if site or who.role != "admin":
        query = query.where(SyncCaseRow.site == (site or who.site))
    if status:
        if status not in {str(s) for s in CaseStatus}:
            raise ApiError(422, "bad_status",
                           f"没有“{status}”这个办件状态；可选：{'、'.join(CaseStatus)}。")
        query = query.where(SyncCaseRow.status == status)
    rows = list(session.scalars(query.order_by(SyncCaseRow.updated_at.desc(),
                                               SyncCaseRow.number.desc())
                                .offset(offset).limit(limit + 1)))
    return {"cases": [summary(r) for r in rows[:limit]], "more": len(rows) > limit}


def show(session: Session, who: Actor, number: str) -> dict[str, Any]:
    """One case: its projection, the state replayed through app.domain, every event and
    every pickup notice."""
    row = find(session, who, number)
    state = case_state(session, row.id)
    events = list(session.scalars(select(SyncCaseEventRow).where(
        SyncCaseEventRow.case_id == row.id).order_by(SyncCaseEventRow.case_seq)))
    notices = session.scalars(select(SyncChangeRow).where(
        SyncChangeRow.entity == NOTICE_ENTITY, SyncChangeRow.entity_id == row.id)
        .order_by(SyncChangeRow.seq))
    return {**summary(row),
            "decision": str(state.decision) if state.decision else None,
            "accepted_on": state.accepted_on.isoformat() if state.accepted_on else None,
            "promised_date": state.promised_date.isoformat() if state.promised_date else None,
            "result": _result(events),
            "deferred_outstanding": [m.name for m in deferred_outstanding(state)],
            "events": [{"case_seq": e.case_seq, "kind": e.kind, "payload": e.payload,
                        "clerk_id": e.clerk_id, "clerk_name": e.clerk_name,
                        "terminal": e.terminal, "origin": e.origin,
                        "occurred_at": e.occurred_at} for e in events],
            "notices": [n.data for n in notices]}


def _result(events: list[SyncCaseEventRow]) -> str | None:
    """准予/不予 as the last 办结 event gave it (the domain keeps no result of its own)."""
    for e in reversed(events):
        if e.kind == CaseEventKind.STATUS_CHANGED and e.payload.get("status") == CaseStatus.COMPLETED:
            result = e.payload.get("result")
            return result if isinstance(result, str) else None
    return None


def move(*, to: str | None = None, result: str | None = None, pause: bool = False,
         resume: bool = False, reason: str = "") -> dict[str, Any]:
    """The ``status_changed`` payload of one back-office move; refuses a request that is
    not exactly one move (``to``, ``pause`` or ``resume``) or a result where none fits."""
    if (to is not None) + pause + resume != 1:
        raise ApiError(422, "bad_move", "请指定一种操作：转为审批中或办结（to），或暂停计时（pause），"
                       "或恢复计时（resume）。")
    if to is not None and to not in TARGETS:
        raise ApiError(422, "bad_move", f"办件只能转为{'或'.join(TARGETS)}。")
    if (to == "办结") != (result is not None):
        raise ApiError(422, "bad_move", "办结须注明审批结果（准予或不予）；其他操作不带结果。")
    if result is not None and result not in RESULTS:
        raise ApiError(422, "bad_move", f"审批结果应为{'或'.join(RESULTS)}。")
    status = (CaseStatus.PAUSED if pause else CaseStatus.IN_REVIEW if resume
              else TARGETS[str(to)])
    payload: dict[str, Any] = {"status": str(status), "source": SOURCE}
    if result is not None:
        payload["result"] = result
    reason = _text("说明", reason)
    if reason:
        payload["reason"] = reason
    return payload


def advance(session: Session, who: Actor, number: str, payload: dict[str, Any],
            now: dt.datetime, *, resume: bool = False) -> dict[str, Any]:
    """Move the case as :func:`move` said; the domain decides whether it may."""
    row = find(session, who, number, lock=True)
    before = row.status
    if resume and before != CaseStatus.PAUSED:
        # The reducer would let 已受理 → 审批中 through; "resume" means the clock was paused.
        raise ApiError(409, "invalid_transition", f"办件状态为“{before}”，没有暂停计时，不能恢复计时。")
    # Checks the transition with app.domain and numbers the change: the last write.
    after = apply_server_event(session, row.id, CaseEventKind.STATUS_CHANGED, payload,
                               who.user_id, who.name, now)
    return {**summary(row), "previous_status": before, "status": str(after.status),
            "version": after.version, "payload": payload, "by": who.name}


def notify_pickup(session: Session, who: Actor, number: str, note: str,
                  now: dt.datetime) -> dict[str, Any]:
    """通知取件 for a case that is 已办结: a ``case_notice`` change every terminal of the
    site pulls (and the applicant's SMS gateway may). Repeating it is a reminder."""
    row = find(session, who, number, lock=True)
    note = _text("备注", note)
    state = case_state(session, row.id)
    if state.status is CaseStatus.DELIVERED:
        raise ApiError(409, "already_delivered", "办件已出件，无须再通知取件。")
    if state.status is not CaseStatus.COMPLETED:
        raise ApiError(409, "not_completed", f"办件状态为“{state.status}”，尚未办结，不能通知取件。")
    events = list(session.scalars(select(SyncCaseEventRow).where(
        SyncCaseEventRow.case_id == row.id).order_by(SyncCaseEventRow.case_seq)))
    data = {"case_id": row.id, "number": row.number, "status": str(state.status),
            "result": _result(events), "note": note,
            # 容缺 materials still owed: the applicant brings them, or 出件 is refused.
            "deferred_outstanding": [m.name for m in deferred_outstanding(state)],
            "notified_by": who.user_id, "notified_by_name": who.name,
            "notified_at": now.isoformat(timespec="microseconds")}
    record_changes(session, [Change(row.site, NOTICE_ENTITY, row.id, NOTICE_KIND, data,
                                    row.owner_id)], now)
    return data
