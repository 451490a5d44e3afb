"""Device tokens, refresh tokens and short-lived access tokens.

* A **device token** is 32 random bytes shown once at registration; the server keeps its
  SHA-256. Revoking the device ends every session on it.
* An **access token** is a JWT (HS256) valid for :data:`ACCESS_MINUTES`, naming the user,
  role, site and device. The signing key lives in the database (``server_meta``), so every
  server process behind a load balancer accepts the others' tokens.
* A **refresh token** is random, stored hashed, and replaced at each use. A replaced token
  presented again was copied: its whole family is revoked (the thief and the owner both
  log in again).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import jwt
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from server.models import ServerMetaRow

ACCESS_MINUTES = 15
REFRESH_DAYS = 30
_KEY = "access_token_key"
_ALGORITHM = "HS256"
_ISSUER = "yichuang-server"
# Server processes on several machines keep slightly different clocks: a token issued by
# one whose clock runs a few seconds ahead has an ``iat`` in the future for the others.
# Accept that much difference (in ``iat`` and ``exp`` alike) rather than refuse the token.
CLOCK_LEEWAY_SECONDS = 60


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def current_key(conn: Session | Connection) -> str | None:
    """The shared key if one was made (a read: checking a token never writes). Once
    made it never changes: a process may keep it."""
    value = conn.execute(select(ServerMetaRow.value).where(ServerMetaRow.key == _KEY)).scalar()
    return None if value is None else str(value)


def signing_key(session: Session) -> str:
    """The shared key, created by the first process that needs it."""
    row = session.get(ServerMetaRow, _KEY)
    if row is None:
        row = ServerMetaRow(key=_KEY, value=secrets.token_urlsafe(48))
        session.add(row)
        session.flush()
    return row.value


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: str
    role: str
    site: str
    device_id: str


def issue_access(key: str, claims: AccessClaims, now: dt.datetime) -> str:
    payload: dict[str, Any] = {
        "iss": _ISSUER, "sub": claims.user_id, "role": claims.role, "site": claims.site,
        "dev": claims.device_id, "iat": int(now.timestamp()),
        "exp": int((now + dt.timedelta(minutes=ACCESS_MINUTES)).timestamp()),
        "jti": secrets.token_hex(8)}
    return jwt.encode(payload, key, algorithm=_ALGORITHM)


class TokenError(Exception):
    """Why a token is refused (English code for logs, Chinese message for people)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def read_access(key: str, token: str) -> AccessClaims:
    try:
        payload = jwt.decode(token, key, algorithms=[_ALGORITHM], issuer=_ISSUER,
                             leeway=CLOCK_LEEWAY_SECONDS,
                             options={"require": ["exp", "sub", "iss"]})
    except jwt.ExpiredSignatureError:
        raise TokenError("token_expired", "登录已过期，请刷新或重新登录。") from None
    except jwt.InvalidTokenError:
        raise TokenError("token_invalid", "访问令牌无效。") from None
    try:
        return AccessClaims(str(payload["sub"]), str(payload["role"]), str(payload["site"]),
                            str(payload["dev"]))
    except KeyError:
        raise TokenError("token_invalid", "访问令牌无效。") from None
