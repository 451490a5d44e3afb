"""Reference data with ETag / 304 (docs/sync-protocol.md §4)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response

from server import reference
from server.api.deps import current_claims, transact
from server.tokens import AccessClaims

router = APIRouter(prefix="/v1/reference")


def versioned(data: Any, if_none_match: str | None) -> Response:
    """``data`` with its ETag, or 304 when the caller has that version already."""
    etag = reference.etag_of(data)
    if if_none_match is not None and etag in (t.strip() for t in if_none_match.split(",")):
        return Response(status_code=304, headers={"ETag": etag})
    return JSONResponse(data, headers={"ETag": etag, "Cache-Control": "no-cache"})


@router.get("/users", responses={304: {"description": "unchanged"}})
def users(request: Request, who: Annotated[AccessClaims, Depends(current_claims)],
          if_none_match: Annotated[str | None, Header()] = None) -> Response:
    data = transact(request, lambda s: reference.site_users(s, who.site))
    return versioned(data, if_none_match)
