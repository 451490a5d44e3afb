"""The HTTP API (FastAPI): ``create_app(settings)`` builds it for ``yichuang-server serve``
and for tests. Every answer is JSON; every refusal is ``{"error": code, "message": 中文}``
with a precise 4xx status. No state lives in the process: a second server process on
the same database answers the same. Each area is a router of its own (ROUTERS).
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from app.storage.db import DatabaseBusyError
from server.accounts import ApiError
from server.api import auth, blobs, cases, queue, reference, sync
from server.db import ServerDatabase
from server.settings import ServerSettings, blob_url_from_env, server_home

MAX_JSON_BYTES = 1024 * 1024    # a push batch is far smaller; blobs have their own limit
# Paths whose bodies have limits of their own: blob chunks, and reference files (a real
# catalogue or credit list is larger than 1 MiB; their endpoint enforces each kind's limit).
UNLIMITED_PREFIXES: tuple[str, ...] = ("/v1/blobs/", "/v1/reference/catalogue",
                                       "/v1/reference/calendar", "/v1/reference/credit-list")
ROUTERS = (auth.router, reference.router, blobs.router, sync.router, queue.router,
           cases.router)
# Starlette's own refusals (no such path, wrong method, a body FastAPI could not parse)
# get a code of ours like every other refusal.
HTTP_CODES: dict[int, tuple[str, str]] = {
    404: ("not_found", "没有这个接口。"),
    405: ("method_not_allowed", "此接口不接受这种请求方法。"),
}


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None,
           **extra: Any) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status,
                        headers=headers)


class BodyLimit:
    """JSON bodies over MAX_JSON_BYTES are refused (413) before they are read, and so are
    bodies without a length (411): a chunked body could be read without end. Paths in
    UNLIMITED_PREFIXES have limits of their own.

    Plain ASGI rather than ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware
    runs every request's app in a task of its own and streams the answer through it,
    which cost a large share of a queue call (bench/server.py)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNLIMITED_PREFIXES):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        refusal: JSONResponse | None = None
        if length is None and "transfer-encoding" in headers:
            refusal = _error(411, "length_required", "请求须带 Content-Length（不接受分块传输）。")
        elif length is not None and (not length.isdigit() or not length.isascii()
                                     or int(length) > MAX_JSON_BYTES):
            refusal = _error(413, "body_too_large", f"请求体过大（上限 {MAX_JSON_BYTES} 字节）。")
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)


def app_from_environment() -> FastAPI:
    """The app of one worker of ``serve --workers N``: uvicorn starts each worker process
    with this factory, and the serving command put the settings in the environment."""
    return create_app(ServerSettings(server_home(),
                                     os.environ.get("YICHUANG_SERVER_DATABASE_URL", ""),
                                     blob_url_from_env()))


def create_app(settings: ServerSettings) -> FastAPI:
    app = FastAPI(title="一窗通服务器", version="1", docs_url="/docs",
                  openapi_url="/v1/openapi.json")
    app.state.db = ServerDatabase(settings)
    app.state.settings = settings

    app.add_middleware(BodyLimit)

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"where": ".".join(map(str, e.get("loc", ()))), "problem": e.get("msg", "")}
                   for e in exc.errors()]
        return _error(422, "invalid_request", "请求内容不符合接口要求。", details=details)

    @app.exception_handler(HTTPException)
    async def http_refusal(_request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 400:
            # FastAPI's "There was an error parsing the body": JSON it could not read other
            # than by a syntax error (nested too deep for the parser, say). Malformed JSON is
            # 422 invalid_request (§1): so is this.
            return _error(422, "invalid_request", "请求内容不符合接口要求（无法解析请求体）。",
                          details=[{"where": "body", "problem": str(exc.detail)}])
        if exc.status_code in (204, 304):   # no body allowed
            return Response(status_code=exc.status_code, headers=exc.headers)
        code, message = HTTP_CODES.get(exc.status_code,
                                       (f"http_{exc.status_code}", str(exc.detail)))
        return _error(exc.status_code, code, message, dict(exc.headers or {}))

    @app.exception_handler(DatabaseBusyError)
    async def busy(_request: Request, _exc: DatabaseBusyError) -> JSONResponse:
        # Another process held the database's write turn for the whole busy timeout: the
        # request changed nothing and may be sent again.
        return _error(503, "server_busy", "服务器忙，请稍后重试。", {"Retry-After": "5"})

    @app.exception_handler(DataError)
    async def unstorable(_request: Request, _exc: DataError) -> JSONResponse:
        # The last line of defence: a value the database cannot hold (PostgreSQL refuses
        # U+0000 in text, say) that got past the request's schema is the caller's fault,
        # not a server failure; the transaction was rolled back.
        return _error(422, "invalid_request", "请求中有数据库无法保存的值（如控制字符）。")

    @app.get("/v1/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "schema": app.state.db.revision()}

    for router in ROUTERS:
        app.include_router(router)
    return app
