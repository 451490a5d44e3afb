"""What every router needs: the database of the app, one transaction per piece of work,
the caller's access claims (checked against the database: a revoked device or disabled
user is refused at once) and the device token header."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Header, Request
from sqlalchemy.orm import Session

from server.accounts import ApiError, check_session
from server.db import ServerDatabase
from server.tokens import AccessClaims, TokenError, current_key, read_access

T = TypeVar("T")
# Refusals whose bookkeeping must be kept although the request fails: a wrong password
# counts towards the lock-out, a replayed refresh token revokes its family.
KEEP_ON_REFUSAL = frozenset({"wrong_credentials", "refresh_replayed"})


def database(request: Request) -> ServerDatabase:
    db: ServerDatabase = request.app.state.db
    return db


def transact(request: Request, work: Callable[[Session], T]) -> T:
    """``work`` in one transaction: committed on success, rolled back on a refusal
    (kept for those in KEEP_ON_REFUSAL)."""
    kept: ApiError | None = None
    with database(request).session() as session:
        try:
            return work(session)
        except ApiError as exc:
            if exc.code not in KEEP_ON_REFUSAL:
                raise
            kept = exc
    raise kept


async def current_claims(request: Request,
                         authorization: Annotated[str | None, Header()] = None) -> AccessClaims:
    """The bearer token's claims: signature and expiry checked, and its device and user
    still in good standing.

    Run on the event loop, not in a worker thread: its one read by primary key takes
    less time than handing it to a thread and back, which FastAPI does for a plain
    ``def`` dependency before it does the same again for the endpoint."""
    if not authorization or not authorization.startswith("Bearer "):
        raise ApiError(401, "no_token", "缺少访问令牌（Authorization: Bearer …）。",
                       {"WWW-Authenticate": "Bearer"})
    token = authorization.removeprefix("Bearer ").strip()
    db = database(request)
    # Every request passes here: one read, never a write turn. The signing key never
    # changes once made (server/tokens.py), so the process keeps it when it has seen it.
    with db.read_connection() as conn:
        key: str | None = getattr(request.app.state, "token_key", None) or current_key(conn)
        if key is None:   # no token was ever issued: none can be valid
            raise ApiError(401, "token_invalid", "访问令牌无效。", {"WWW-Authenticate": "Bearer"})
        request.app.state.token_key = key
        try:
            claims = read_access(key, token)
        except TokenError as exc:
            raise ApiError(401, exc.code, exc.message,
                           {"WWW-Authenticate": "Bearer"}) from None
        check_session(conn, claims)
    return claims


def device_token(x_device_token: Annotated[str | None, Header()] = None) -> str:
    if not x_device_token:
        raise ApiError(401, "no_device_token", "缺少终端令牌（X-Device-Token）。")
    return x_device_token


