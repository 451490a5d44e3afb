"""Push, pull and the audit heads (docs/sync-protocol.md §5–§6)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from server import chain_witness, sync, sync_changes
from server.accounts import ApiError, utc_now
from server.api.deps import current_claims, database, transact
from server.api.schemas import Text
from server.api.sync_schemas import PushIn
from server.tokens import AccessClaims

router = APIRouter(prefix="/v1")
Claims = Annotated[AccessClaims, Depends(current_claims)]


@router.post("/sync/push")
def push(request: Request, body: PushIn, who: Claims) -> dict[str, Any]:
    """Each op answered in order: applied, duplicate, rejected, conflict, missing_blobs."""
    ops = [sync.OpIn(**op.model_dump()) for op in body.ops]
    now = utc_now()
    return transact(request, lambda s: sync.push(s, sync.pusher(s, who), ops, now))


@router.get("/sync/pull")
def pull(request: Request, who: Claims,
         cursor: Annotated[str | None, Query(max_length=64)] = None,
         limit: Annotated[int, Query(ge=1, le=sync_changes.MAX_PULL)] = sync_changes.DEFAULT_PULL
         ) -> dict[str, Any]:
    """The site's changes after ``cursor`` (an agent: its own cases'), oldest first."""
    after = sync_changes.decode_cursor(cursor)
    owner = who.user_id if who.role == "agent" else None
    # A read: one statement, so one snapshot; it never waits for a writer (change numbers
    # become visible in order, see server/sync_changes.py).
    with database(request).read() as session:
        return sync_changes.pull(session, who.site, after=after, limit=limit,
                                 only_owner=owner)


@router.get("/audit/heads")
def heads(request: Request, who: Claims) -> dict[str, Any]:
    """The acknowledged chain heads: of the caller's site; of every site for an admin."""
    site = None if who.role == "admin" else who.site
    with database(request).read() as session:
        return {"heads": chain_witness.heads(session, site)}


@router.get("/audit/flags")
def flags(request: Request, who: Claims) -> dict[str, Any]:
    """What a supervisor must settle at the caller's site (rewritten chains, conflicts)."""
    if who.role not in ("supervisor", "admin"):
        raise ApiError(403, "not_allowed", "只有值班长或管理员可以查看待处理的同步问题。")
    with database(request).read() as session:
        return {"flags": chain_witness.open_flags(session, who.site)}


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    resolution: Text = Field(min_length=2, max_length=500,
                             description="核查结果和处理情况，如“已核对纸质受理单，终端硬盘曾被还原”")


@router.post("/audit/flags/{flag_id}/resolve")
def resolve(request: Request, flag_id: Annotated[str, Path(max_length=36)], body: ResolveIn,
            who: Claims) -> dict[str, Any]:
    """A supervisor of the flag's site (or an administrator) settles a flag with a note;
    it leaves the open list and is kept, settled, as the audit trail."""
    if who.role not in ("supervisor", "admin"):
        raise ApiError(403, "not_allowed", "只有值班长或管理员可以处理同步问题。")
    note = body.resolution.strip()
    if len(note) < 2:
        raise ApiError(422, "invalid_request", "请写明核查结果和处理情况。")
    return transact(request, lambda s: chain_witness.resolve_flag(
        s, flag_id, site=who.site, admin=who.role == "admin", user_id=who.user_id,
        resolution=note, now=utc_now()))
