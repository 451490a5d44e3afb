"""The server's copy of a case: replayed from its applied events through app.domain, and
changed by the back office (审批中, 暂停计时, 办结…) with the same reducer."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.case import (
    CaseEventKind,
    CaseState,
    CaseTransitionError,
    LoggedEvent,
    apply_event,
    replay,
)
from server.accounts import ApiError
from server.sync_changes import Change, record_changes
from server.sync_models import SyncCaseEventRow, SyncCaseRow


def logged(e: dict[str, Any]) -> LoggedEvent:
    """A case event (as pushed, or as stored) in the form the domain replays."""
    return LoggedEvent(e["case_id"], e["case_seq"], e["kind"], e["payload"], e["clerk_id"],
                       e["site"], e["terminal"], e["window"], e["occurred_at"])


def case_state(session: Session, case_id: str) -> CaseState:
    """The case replayed from the events the server applied, through app.domain."""
    rows = session.scalars(select(SyncCaseEventRow).where(SyncCaseEventRow.case_id == case_id)
                           .order_by(SyncCaseEventRow.case_seq))
    return replay([LoggedEvent(r.case_id, r.case_seq, r.kind, r.payload, r.clerk_id, r.site,
                               r.terminal, r.window, r.occurred_at) for r in rows])


def apply_server_event(session: Session, case_id: str, kind: CaseEventKind,
                       payload: dict[str, Any], actor_id: str, actor_name: str,
                       now: dt.datetime) -> CaseState:
    """A back-office event (审批中, 办结…): checked by the same reducer, stored with
    ``origin`` = ``server`` (it belongs to no terminal's chain) and served by pull.
    Numbers its change, so it must be the caller's last write."""
    case = session.get(SyncCaseRow, case_id, with_for_update=True)
    if case is None:
        raise ApiError(404, "unknown_case", f"服务器上没有办件 {case_id}。")
    try:
        after = apply_event(case_state(session, case_id), kind, payload)
    except CaseTransitionError as exc:
        raise ApiError(409, "invalid_transition", str(exc)) from None
    event = {"event_id": str(uuid.uuid4()), "case_id": case_id, "case_seq": after.version,
             "kind": str(kind), "payload": payload, "clerk_id": actor_id,
             "clerk_name": actor_name, "site": case.site, "terminal": "", "window": "",
             "occurred_at": now.isoformat(timespec="microseconds"), "prev_hash": "",
             "hash": ""}
    session.add(SyncCaseEventRow(**event, origin="server", op_id=None))
    case.status, case.version, case.updated_at = str(after.status), after.version, now
    session.flush()
    record_changes(session, [Change(case.site, "case", case_id, str(kind),
                                    {"event": event, "status": str(after.status),
                                     "version": after.version, "origin": "server"},
                                    case.owner_id)], now)
    return after
