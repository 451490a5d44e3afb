"""The HTTP API (FastAPI): ``create_app(settings)`` builds it for ``yichuang-server serve``
and for tests. Every answer is JSON; every refusal is ``{"error": code, "message": 中文}``
with a precise 4xx status. No state lives in the process: a second server process on
the same database answers the same.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from server import accounts, reference
from server.accounts import ApiError, utc_now
from server.api.schemas import LoginIn, RefreshIn, RegisterIn
from server.db import ServerDatabase
from server.settings import ServerSettings
from server.tokens import AccessClaims, TokenError, read_access, signing_key

T = TypeVar("T")
MAX_JSON_BYTES = 1024 * 1024    # a push batch is far smaller; blobs have their own limit
# Refusals whose bookkeeping must be kept although the request fails: a wrong password
# counts towards the lock-out, a replayed refresh token revokes its family.
_KEEP = frozenset({"wrong_credentials", "refresh_replayed"})


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None,
           **extra: Any) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status,
                        headers=headers)


def current_claims(request: Request,
                   authorization: Annotated[str | None, Header()] = None) -> AccessClaims:
    """The bearer token's claims (signature and expiry checked)."""
    if not authorization or not authorization.startswith("Bearer "):
        raise ApiError(401, "no_token", "缺少访问令牌（Authorization: Bearer …）。",
                       {"WWW-Authenticate": "Bearer"})
    token = authorization.removeprefix("Bearer ").strip()
    db: ServerDatabase = request.app.state.db
    with db.session() as session:
        key = signing_key(session)
    try:
        return read_access(key, token)
    except TokenError as exc:
        raise ApiError(401, exc.code, exc.message, {"WWW-Authenticate": "Bearer"}) from None


def device_token(x_device_token: Annotated[str | None, Header()] = None) -> str:
    if not x_device_token:
        raise ApiError(401, "no_device_token", "缺少终端令牌（X-Device-Token）。")
    return x_device_token


def create_app(settings: ServerSettings) -> FastAPI:
    db = ServerDatabase(settings)
    app = FastAPI(title="一窗通服务器", version="1", docs_url="/docs",
                  openapi_url="/v1/openapi.json")
    app.state.db = db

    def transact(work: Callable[[Session], T]) -> T:
        """``work`` in one transaction; kept (committed) for the refusals in _KEEP."""
        kept: ApiError | None = None
        with db.session() as session:
            try:
                return work(session)
            except ApiError as exc:
                if exc.code not in _KEEP:
                    raise
                kept = exc
        raise kept

    @app.middleware("http")
    async def limit_body(request: Request,
                         call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        length = request.headers.get("content-length")
        if length is None and "transfer-encoding" in request.headers:
            # A chunked body has no size up front: it could be read without end.
            return _error(411, "length_required", "请求须带 Content-Length（不接受分块传输）。")
        if length is not None and (not length.isdigit() or int(length) > MAX_JSON_BYTES):
            return _error(413, "body_too_large", f"请求体过大（上限 {MAX_JSON_BYTES} 字节）。")
        return await call_next(request)

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"where": ".".join(map(str, e.get("loc", ()))), "problem": e.get("msg", "")}
                   for e in exc.errors()]
        return _error(422, "invalid_request", "请求内容不符合接口要求。", details=details)

    @app.get("/v1/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "schema": db.revision()}

    @app.post("/v1/devices/register", status_code=201)
    def register(body: RegisterIn) -> dict[str, Any]:
        done = transact(lambda s: accounts.register_device(
            s, body.username, body.password, body.name, utc_now()))
        return {"device_id": done.device_id, "site": done.site_code,
                "site_name": done.site_name, "terminal": done.terminal,
                "device_token": done.device_token}

    @app.post("/v1/auth/login")
    def login(body: LoginIn, device: Annotated[str, Depends(device_token)]) -> dict[str, Any]:
        return transact(lambda s: accounts.login(s, device, body.username, body.password,
                                                 utc_now()))

    @app.post("/v1/auth/refresh")
    def refresh(body: RefreshIn,
                device: Annotated[str, Depends(device_token)]) -> dict[str, Any]:
        return transact(lambda s: accounts.refresh(s, device, body.refresh_token, utc_now()))

    @app.get("/v1/reference/users", responses={304: {"description": "unchanged"}})
    def reference_users(who: Annotated[AccessClaims, Depends(current_claims)],
                        if_none_match: Annotated[str | None, Header()] = None) -> Response:
        def read(session: Session) -> dict[str, Any]:
            accounts.check_session(session, who)
            return reference.site_users(session, who.site)
        data = transact(read)
        etag = reference.etag_of(data)
        if if_none_match is not None and etag in (t.strip() for t in if_none_match.split(",")):
            return Response(status_code=304, headers={"ETag": etag})
        return JSONResponse(data, headers={"ETag": etag, "Cache-Control": "no-cache"})

    @app.get("/v1/me")
    def me(who: Annotated[AccessClaims, Depends(current_claims)]) -> dict[str, Any]:
        def check(session: Session) -> dict[str, Any]:
            accounts.check_session(session, who)
            return {"user_id": who.user_id, "role": who.role, "site": who.site,
                    "device_id": who.device_id}
        return transact(check)

    return app

