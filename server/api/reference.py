"""Reference data with ETag / 304 (docs/sync-protocol.md §4): read by any logged-in user,
published by administrators."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.domain.queue_policy import Category
from server import reference
from server.accounts import ApiError
from server.api.deps import current_claims, transact
from server.api.reference_schemas import QueueCategoriesIn
from server.models import UserRow
from server.tokens import AccessClaims

router = APIRouter(prefix="/v1/reference")
Claims = Annotated[AccessClaims, Depends(current_claims)]
IfNoneMatch = Annotated[str | None, Header()]
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {304: {"description": "unchanged"}}
REPUBLISHED: dict[int | str, dict[str, Any]] = {
    200: {"description": "that content was published before: no new version, now current"}}
# The body of a PUT is the file itself, in the client's file format.
FILE_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object",
                                    "description": "与客户端导入的文件相同的 JSON"}}}}}


def versioned(data: Any, if_none_match: str | None) -> Response:
    """``data`` with its ETag, or 304 when the caller has that version already."""
    etag = reference.etag_of(data)
    if reference.matches(etag, if_none_match):
        return Response(status_code=304, headers={"ETag": etag})
    return JSONResponse(data, headers={"ETag": etag, "Cache-Control": "no-cache"})


def _stored(served: reference.Served) -> Response:
    """A stored document as it is (canonical JSON, not parsed again), or 304."""
    if served.document is None:
        return Response(status_code=304, headers={"ETag": served.etag})
    return Response(served.document.encode(), media_type="application/json",
                    headers={"ETag": served.etag, "Cache-Control": "no-cache"})


def _admin(who: AccessClaims) -> None:
    if who.role != "admin":
        raise ApiError(403, "not_allowed", "只有管理员可以发布参考数据。")


@router.get("/users", responses=NOT_MODIFIED)
def users(request: Request, who: Claims, if_none_match: IfNoneMatch = None) -> Response:
    data = transact(request, lambda s: reference.site_users(s, who.site))
    return versioned(data, if_none_match)


@router.get("/catalogue", responses=NOT_MODIFIED)
def catalogue(request: Request, _who: Claims, if_none_match: IfNoneMatch = None,
              version: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    """The current catalogue, or an old version by name (``?version=``)."""
    return _stored(transact(request, lambda s: reference.served(
        s, "catalogue", if_none_match, version)))


@router.get("/catalogue/versions")
def catalogue_versions(request: Request, _who: Claims) -> dict[str, Any]:
    return transact(request, lambda s: reference.versions(s, "catalogue"))


@router.get("/calendar", responses=NOT_MODIFIED)
def calendar(request: Request, _who: Claims, if_none_match: IfNoneMatch = None) -> Response:
    return _stored(transact(request, lambda s: reference.served(s, "calendar", if_none_match)))


@router.get("/credit-list", responses=NOT_MODIFIED)
def credit_list(request: Request, _who: Claims, if_none_match: IfNoneMatch = None) -> Response:
    """The county's 失信名单: the same for every site."""
    return _stored(transact(request, lambda s: reference.served(
        s, "credit-list", if_none_match)))


@router.get("/queue-categories", responses=NOT_MODIFIED)
def queue_categories(request: Request, who: Claims,
                     if_none_match: IfNoneMatch = None) -> Response:
    return versioned(transact(request, lambda s: reference.categories_doc(s, who.site)),
                     if_none_match)


@router.put("/queue-categories")
def put_queue_categories(request: Request, who: Claims, body: QueueCategoriesIn) -> Response:
    """An administrator sets their own site's categories."""
    _admin(who)
    given = [Category(c.prefix, c.name, c.active, c.position) for c in body.categories]

    def work(session: Session) -> dict[str, Any]:
        reference.set_site_categories(session, who.site, given)
        return reference.categories_doc(session, who.site)

    return versioned(transact(request, work), None)


async def _read_capped(request: Request, kind: str) -> bytes:
    """The body, refused (413) beyond the kind's limit: by its Content-Length before a
    byte is read, and while reading for a body that does not say its size."""
    limit = reference.MAX_BYTES[kind]
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > limit):
        raise reference.too_large(kind)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise reference.too_large(kind)
        chunks.append(chunk)
    return b"".join(chunks)


async def _publish(request: Request, who: AccessClaims, kind: str, replace: bool) -> Response:
    _admin(who)
    data = await _read_capped(request, kind)
    # Parsing a large file takes seconds: outside the transaction, off the event loop.
    parsed = await run_in_threadpool(reference.parse, kind, data)
    now = dt.datetime.now(dt.UTC)

    def work(session: Session) -> reference.Published:
        user = session.get(UserRow, who.user_id)
        by = user.username if user is not None else who.user_id
        return reference.publish(session, kind, parsed, by, now, replace=replace)

    done = await run_in_threadpool(transact, request, work)
    return JSONResponse(done.to_json(), status_code=201 if done.created else 200,
                        headers={"ETag": done.etag})


@router.put("/catalogue", openapi_extra=FILE_BODY, status_code=201,
            responses=REPUBLISHED)
async def put_catalogue(request: Request, who: Claims) -> Response:
    """Publish a catalogue file (a new version; the old ones stay fetchable)."""
    return await _publish(request, who, "catalogue", False)


@router.put("/calendar", openapi_extra=FILE_BODY, status_code=201,
            responses=REPUBLISHED)
async def put_calendar(request: Request, who: Claims,
                       replace: Annotated[bool, Query()] = False) -> Response:
    """Add a calendar file's years; ``replace=true`` replaces a year already there."""
    return await _publish(request, who, "calendar", replace)


@router.put("/credit-list", openapi_extra=FILE_BODY, status_code=201,
            responses=REPUBLISHED)
async def put_credit_list(request: Request, who: Claims) -> Response:
    """Replace the county's 失信名单 with the file's."""
    return await _publish(request, who, "credit-list", False)
