"""The hall's shared queue (docs/sync-protocol.md §8): the client's ``QueueService`` over
the site's store on the server, for every window of the caller's site, and the display
feed as server-sent events."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from app.domain.queue import QueueRuleError, Ticket, TicketClass
from app.errors import UserError
from app.notifications import ChangeHub
from app.services.queue import QueueService
from app.storage.db import DatabaseBusyError
from server.accounts import ApiError, check_session
from server.api.deps import current_claims, database
from server.queue_models import SiteQueueFeedRow
from server.queue_store import SiteQueueStore
from server.tokens import AccessClaims

router = APIRouter(prefix="/v1/queue")
T = TypeVar("T")
FEED_CHECK_SECONDS = 0.2     # how often the feed looks for new rows (one indexed query)
FEED_KEEPALIVE_SECONDS = 15  # a comment line, so proxies keep an idle stream open
# A display's stream outlives its token's check at connect: its device and user are
# checked again this often, and a revoked device or a disabled user ends the stream.
FEED_RECHECK_SECONDS = 5.0
MAX_FEED_ID = 2**63 - 1      # a BIGINT: what the database can number
_FEED_ID = re.compile(r"[0-9]{1,19}")
Caller = Annotated[AccessClaims, Depends(current_claims)]


class TakeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: str = Field(min_length=1, max_length=1)
    ticket_class: Literal["普通", "预约", "优先"] = "普通"
    priority_reason: str = Field(default="", max_length=32)
    appointment: str = Field(default="", max_length=32)
    id_number: str = Field(default="", max_length=18)


class ResumeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str = Field(min_length=2, max_length=8)


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: str = Field(default="", max_length=1)
    to_window: str = Field(default="", max_length=8)


def ticket_json(t: Ticket | None) -> dict[str, Any] | None:
    """A ticket as windows and displays see it (the ID number stays on the server)."""
    if t is None:
        return None
    return {"number": t.number, "category": t.category, "class": str(t.ticket_class),
            "status": str(t.status), "window": t.window, "day": t.day.isoformat(),
            "issued_at": t.issued_at.isoformat(), "priority_reason": t.priority_reason,
            "target_window": t.target_window, "recalls": t.recalls, "returns": t.returns}


def _queue(request: Request, who: AccessClaims) -> QueueService:
    return QueueService(SiteQueueStore(database(request), who.site), ChangeHub())


def _ruled(work: Callable[[], T]) -> T:
    """A refusal of the queue's rules is a 409 with the rule's own Chinese message."""
    try:
        return work()
    except QueueRuleError as exc:
        raise ApiError(409, "queue_rule", str(exc)) from None
    except DatabaseBusyError:
        raise   # the server's state, not the request's fault: a 503 (server/api/app.py)
    except UserError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None


@router.post("/tickets", status_code=201)
def take(request: Request, body: TakeIn, who: Caller) -> dict[str, Any]:
    queue = _queue(request, who)
    issued = _ruled(lambda: queue.take(body.category, TicketClass(body.ticket_class),
                                       priority_reason=body.priority_reason,
                                       appointment=body.appointment, id_number=body.id_number))
    return {"ticket": ticket_json(issued.ticket), "category_name": issued.category_name,
            "waiting_ahead": issued.waiting_ahead}


@router.post("/windows/{window}/call")
def call(request: Request, window: str, who: Caller) -> dict[str, Any]:
    queue = _queue(request, who)
    return {"ticket": ticket_json(_ruled(lambda: queue.call_next(window,
                                                                 clerk_id=who.user_id)))}


@router.post("/windows/{window}/resume")
def resume(request: Request, window: str, body: ResumeIn, who: Caller) -> dict[str, Any]:
    queue = _queue(request, who)
    return {"ticket": ticket_json(_ruled(lambda: queue.resume(window, body.number,
                                                              clerk_id=who.user_id)))}


@router.post("/windows/{window}/transfer")
def transfer(request: Request, window: str, body: TransferIn, who: Caller) -> dict[str, Any]:
    queue = _queue(request, who)
    return {"ticket": ticket_json(_ruled(lambda: queue.transfer(
        window, category=body.category, to_window=body.to_window, clerk_id=who.user_id)))}


# Declared after resume and transfer: their own paths must match first.
@router.post("/windows/{window}/{action}")
def act(request: Request, window: str,
        action: Literal["recall", "serve", "skip", "suspend", "finish"],
        who: Caller) -> dict[str, Any]:
    queue = _queue(request, who)
    method = getattr(queue, action)
    return {"ticket": ticket_json(_ruled(lambda: method(window, clerk_id=who.user_id)))}


@router.get("/status")
def status(request: Request, who: Caller) -> dict[str, Any]:
    now = _ruled(lambda: _queue(request, who).status())
    return {"day": now.day.isoformat(), "waiting": now.waiting,
            "current": {w: ticket_json(t) for w, t in now.current.items()},
            "suspended": {w: [t.number for t in ts] for w, ts in now.suspended.items()},
            "paused": sorted(now.paused)}


def _feed_start(after: int | None, last_event_id: str | None) -> int | None:
    """Where a stream begins: ``after``, else the ``Last-Event-ID`` a reconnecting display
    sends (the last number it got), else None (from now on)."""
    if after is not None or last_event_id is None:
        return after
    if not _FEED_ID.fullmatch(last_event_id) or int(last_event_id) > MAX_FEED_ID:
        raise ApiError(422, "invalid_request", "Last-Event-ID 须为事件编号（非负整数）。")
    return int(last_event_id)


@router.get("/feed", responses={200: {"content": {"text/event-stream": {}}}})
async def feed(request: Request, who: Caller,
               after: Annotated[int | None, Query(ge=0, le=MAX_FEED_ID)] = None,
               last_event_id: Annotated[str | None, Header()] = None) -> StreamingResponse:
    """Server-sent events: one ``queue`` event per change of the caller's site's queue
    after ``after`` (or ``Last-Event-ID`` on a reconnect; by default from now on). The
    display re-reads ``/status`` on each and announces ``called`` / ``recalled`` ones.
    A device revoked or a user disabled while the stream is open gets one ``closed``
    event with the reason, and the stream ends."""
    db = database(request)
    start = _feed_start(after, last_event_id)

    def latest() -> int:
        """The newest feed number of the site: a stream with no starting point begins there."""
        with db.read() as session:
            return session.scalars(select(SiteQueueFeedRow.id).where(
                SiteQueueFeedRow.site == who.site).order_by(
                SiteQueueFeedRow.id.desc()).limit(1)).first() or 0

    def newer(since: int) -> list[SiteQueueFeedRow]:
        with db.read() as session:
            return list(session.scalars(select(SiteQueueFeedRow).where(
                SiteQueueFeedRow.site == who.site, SiteQueueFeedRow.id > since)
                .order_by(SiteQueueFeedRow.id).limit(200)))

    def refusal() -> ApiError | None:
        with db.read_connection() as conn:
            try:
                check_session(conn, who)
            except ApiError as exc:
                return exc
        return None

    async def events() -> AsyncIterator[str]:
        since = start if start is not None else await asyncio.to_thread(latest)
        yield f": 一窗通叫号 {who.site}\n\n"
        quiet = unchecked = 0.0
        while not await request.is_disconnected():
            if unchecked >= FEED_RECHECK_SECONDS:
                unchecked = 0.0
                refused = await asyncio.to_thread(refusal)
                if refused is not None:
                    data = json.dumps({"error": refused.code, "message": refused.message},
                                      ensure_ascii=False)
                    yield f"event: closed\ndata: {data}\n\n"
                    return
            rows = await asyncio.to_thread(newer, since)
            for row in rows:
                since = row.id
                data = json.dumps({"number": row.number, "kind": row.kind,
                                   "window": row.window, "at": row.at}, ensure_ascii=False)
                yield f"id: {row.id}\nevent: queue\ndata: {data}\n\n"
            quiet = 0.0 if rows else quiet + FEED_CHECK_SECONDS
            unchecked += FEED_CHECK_SECONDS
            if quiet >= FEED_KEEPALIVE_SECONDS:
                quiet = 0.0
                yield ": keep-alive\n\n"
            await asyncio.sleep(FEED_CHECK_SECONDS)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
