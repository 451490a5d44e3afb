"""The back office over HTTP (docs/sync-protocol.md §9): list, show, advance a case and
tell the applicant to collect the result. Supervisors of the case's site and
administrators only; the rules are in :mod:`server.back_office`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from server import back_office
from server.accounts import utc_now
from server.api.deps import current_claims, database, transact
from server.tokens import AccessClaims

router = APIRouter(prefix="/v1/cases", tags=["back office"])
Claims = Annotated[AccessClaims, Depends(current_claims)]
Number = Annotated[str, Path(min_length=1, max_length=32, description="办件编号（取件通知单上印的）")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class AdvanceIn(_Strict):
    """Exactly one of ``to``, ``pause`` and ``resume``; ``result`` with ``to: 办结`` only."""
    to: Literal["审批中", "办结"] | None = None
    result: Literal["准予", "不予"] | None = None
    pause: bool = False
    resume: bool = False
    reason: str = Field("", max_length=back_office.MAX_TEXT, description="说明，如暂停计时的原因")


class NotifyIn(_Strict):
    note: str = Field("", max_length=back_office.MAX_TEXT, description="备注（取件时须知）")


@router.get("")
def list_cases(request: Request, who: Claims,
               status: Annotated[str | None, Query(max_length=8)] = None,
               site: Annotated[str | None, Query(max_length=12)] = None,
               limit: Annotated[int, Query(ge=1, le=back_office.MAX_LIST)] = back_office.DEFAULT_LIST,
               offset: Annotated[int, Query(ge=0, le=10**9)] = 0) -> dict[str, Any]:
    """The site's cases (an administrator's: every site's), most recently changed first."""
    with database(request).read() as session:
        actor = back_office.actor(session, who.user_id)
        return back_office.list_cases(session, actor, status=status, site=site, limit=limit,
                                      offset=offset)


@router.get("/{number}")
def show(request: Request, number: Number, who: Claims) -> dict[str, Any]:
    """One case with its events, its result and its pickup notices."""
    with database(request).read() as session:
        return back_office.show(session, back_office.actor(session, who.user_id), number)


@router.post("/{number}/advance")
def advance(request: Request, number: Number, body: AdvanceIn, who: Claims) -> dict[str, Any]:
    """审批中, 暂停计时, 恢复计时 or 办结 (准予/不予): a ``status_changed`` event for pull."""
    now = utc_now()

    def work(session: Session) -> dict[str, Any]:
        actor = back_office.actor(session, who.user_id)   # who asks first, then what
        payload = back_office.move(to=body.to, result=body.result, pause=body.pause,
                                   resume=body.resume, reason=body.reason)
        return back_office.advance(session, actor, number, payload, now, resume=body.resume)

    return transact(request, work)


@router.post("/{number}/notify-pickup")
def notify_pickup(request: Request, number: Number, who: Claims,
                  body: NotifyIn | None = None) -> dict[str, Any]:
    """通知取件: a ``case_notice`` change for pull, for a case that is 已办结."""
    note = body.note if body is not None else ""
    now = utc_now()
    return transact(request, lambda s: back_office.notify_pickup(
        s, back_office.actor(s, who.user_id), number, note, now))
