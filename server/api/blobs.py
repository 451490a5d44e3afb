"""Blobs keyed by SHA-256: declare, upload in chunks, resume (docs/sync-protocol.md §7).

A chunk is streamed to the partial upload as it arrives, never held in memory: the app's
JSON body limit skips ``/v1/blobs/…`` (UNLIMITED_PREFIXES), so this router enforces its
own (``Content-Length`` required, at most MAX_CHUNK_BYTES). Database work runs in the
thread pool, in short transactions: the blob's lease, not a database lock, keeps a
second PATCH of the same blob out while a chunk streams in.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from server import blobs, blobs_fs
from server.accounts import ApiError, utc_now
from server.api.blob_schemas import DeclareIn
from server.api.deps import current_claims, database, transact
from server.tokens import AccessClaims

router = APIRouter(prefix="/v1")

CHUNK_TYPE = "application/offset+octet-stream"
# `{sha256:path}`: a name with slashes ("../x") reaches the handler and is refused as a
# bad name (422), instead of falling through to another route.
BLOB_PATH = "/blobs/{sha256:path}"
Who = Annotated[AccessClaims, Depends(current_claims)]


def blob_store(request: Request) -> blobs.BlobStore:
    """The app's blob store, opened on first use (it keeps no state but its root)."""
    store: blobs.BlobStore | None = getattr(request.app.state, "blob_store", None)
    if store is None:
        store = blobs.open_store(request.app.state.settings.blobs,
                                 request.app.state.settings.blob_url)
        request.app.state.blob_store = store
    return store


def _offsets(progress: blobs.Progress) -> dict[str, str]:
    return {"Upload-Offset": str(progress.received), "Upload-Length": str(progress.size),
            "Cache-Control": "no-store"}


def _refusal(exc: ApiError, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": exc.code, "message": exc.message, **extra},
                        status_code=exc.status, headers=exc.headers)


@router.post("/blobs", status_code=201, responses={
    200: {"description": "已有此文件：`{\"status\": \"have\"}`"},
    201: {"description": "请上传：`{\"status\": \"upload\", \"upload_url\", \"received\"}`"}})
def declare(request: Request, body: DeclareIn, who: Who) -> JSONResponse:
    store = blob_store(request)
    progress = transact(request, lambda s: blobs.declare(s, store, who, body.sha256, body.size,
                                                         body.type, utc_now()))
    if progress.accepted:
        return JSONResponse({"status": "have"}, status_code=200)
    return JSONResponse({"status": "upload", "upload_url": f"/v1/blobs/{body.sha256}",
                         "received": progress.received}, status_code=201,
                        headers=_offsets(progress))


@router.head(BLOB_PATH, responses={404: {"description": "not declared by the caller's site"}})
def offset(request: Request, sha256: str, who: Who) -> Response:
    store = blob_store(request)
    progress = transact(request, lambda s: blobs.progress(s, store, who, sha256))
    return Response(status_code=200, headers=_offsets(progress))


@router.get(BLOB_PATH, response_class=StreamingResponse,
            responses={200: {"content": {"application/octet-stream": {}}}})
def download(request: Request, sha256: str, who: Who) -> StreamingResponse:
    store = blob_store(request)
    row = transact(request, lambda s: blobs.readable(s, store, who, sha256))
    return StreamingResponse(store.read(sha256), media_type=row.media_type,
                             headers={"Content-Length": str(row.size), "ETag": f'"{sha256}"',
                                      "Cache-Control": "private, max-age=31536000, immutable"})


# ASCII digits only: str.isdigit() also takes "²" (int() then fails: a 500) and other
# scripts' digits (which int() decodes silently). 19 digits bound int() before the range.
_DIGITS = re.compile(r"[0-9]{1,19}")


def header_int(value: str | None, code: str, what: str, most: int) -> int:
    """A header holding a whole number from 0 to ``most``, or 422 ``code``."""
    if value is None or not _DIGITS.fullmatch(value) or int(value) > most:
        raise ApiError(422, code, f"请求头 {what} 应为 0 至 {most} 的整数（ASCII 数字）。")
    return int(value)


@router.patch(BLOB_PATH, openapi_extra={"requestBody": {
    "required": True, "content": {CHUNK_TYPE: {"schema": {"type": "string",
                                                          "format": "binary"}}}}})
async def upload_chunk(request: Request, sha256: str, who: Who,
                       upload_offset: Annotated[str | None, Header(
                           description="此块在文件中的起始字节位置")] = None) -> JSONResponse:
    blobs.check_sha256(sha256)
    # Read from the request, not declared as parameters: they describe the body.
    content_type = request.headers.get("content-type")
    content_length = request.headers.get("content-length")
    if content_type is None or content_type.split(";")[0].strip().lower() != CHUNK_TYPE:
        raise ApiError(415, "bad_content_type", f"分块的 Content-Type 应为 {CHUNK_TYPE}。")
    if content_length is None:
        raise ApiError(411, "length_required", "上传分块须带 Content-Length（不接受分块传输）。")
    # Any length parses (one over the limit is 413, not 422); no offset reaches past a blob.
    length = header_int(content_length, "bad_length", "Content-Length", 10 ** 19 - 1)
    if length > blobs.MAX_CHUNK_BYTES:
        raise ApiError(413, "chunk_too_large",
                       f"分块过大（上限 {blobs.MAX_CHUNK_BYTES // (1024 * 1024)} MiB）。")
    start = header_int(upload_offset, "bad_offset", "Upload-Offset", blobs.MAX_BLOB_BYTES)
    store = blob_store(request)
    if isinstance(store, blobs_fs.FilesystemBlobStore):
        return await _local_chunk(request, store, who, sha256, start, length)
    lease = secrets.token_hex(16)
    try:
        begun = await run_in_threadpool(transact, request, lambda s: blobs.begin_chunk(
            s, store, who, sha256, start, length, lease, utc_now()))
    except blobs.OffsetMismatch as exc:
        return _refusal(exc, received=exc.received)
    if begun.accepted:   # e.g. the last chunk again, its answer lost: nothing to write
        return JSONResponse({"status": "accepted", "received": begun.size},
                            headers=_offsets(begun))
    received, digest = await _receive(request, store, sha256, lease, start, length, begun)
    progress = blobs.Progress(begun.size, received, begun.media_type, False)
    if received < begun.size:
        return JSONResponse({"status": "partial", "received": received},
                            headers=_offsets(progress))
    if digest is None:   # earlier chunks went to another process: read it all again
        verified, head = await run_in_threadpool(store.digest_partial, sha256)
    else:
        verified, head = digest, await run_in_threadpool(store.head_partial, sha256, 16)
    problem = await run_in_threadpool(transact, request, lambda s: blobs.finish(
        s, sha256, who.site, begun.size, verified, head, utc_now(), keep=lambda: store.accept(sha256),
        drop=lambda: store.discard(sha256), lease=lease))
    return _accepted(begun) if problem is None else _refusal(problem)


def _accepted(begun: blobs.Progress) -> JSONResponse:
    return JSONResponse({"status": "accepted", "received": begun.size},
                        headers=_offsets(blobs.Progress(begun.size, begun.size,
                                                        begun.media_type, True)))


def _hold(request: Request, store: blobs_fs.FilesystemBlobStore, who: AccessClaims, sha256: str,
          start: int, length: int) -> tuple[blobs.Progress, blobs_fs.LocalPartial | None]:
    """The blob as declared, and its partial file held for this chunk (None: accepted).
    One read and a file lock: a chunk to a filesystem store writes nothing in the
    database until the blob is complete."""
    with database(request).read() as session:
        begun = blobs.chunk_target(session, who, sha256)
    if begun.accepted:
        return begun, None
    try:
        held = store.hold(sha256, create=start == 0)
    except FileNotFoundError:
        raise blobs.OffsetMismatch(0) from None
    if held is None:
        raise blobs_fs.busy()
    try:
        if start != held.size:
            held.sync()   # the offset told must be durable (bytes of a writer that died)
            raise blobs.OffsetMismatch(held.size)
        if start + length > begun.size:
            raise ApiError(413, "chunk_past_end",
                           f"此块超出登记的文件大小（{begun.size} 字节）。")
    except BaseException:
        held.close()
        raise
    return begun, held


async def _local_chunk(request: Request, store: blobs_fs.FilesystemBlobStore, who: AccessClaims,
                       sha256: str, start: int, length: int) -> JSONResponse:
    """A chunk to a filesystem store: appended under the file's lock, fsynced before it
    is answered; the last one verified (hashed as it arrived when this process saw every
    chunk, else read again) and accepted, all before the lock is let go."""
    try:
        begun, held = await run_in_threadpool(_hold, request, store, who, sha256, start, length)
    except blobs.OffsetMismatch as exc:
        return _refusal(exc, received=exc.received)
    if held is None:   # e.g. the last chunk again, its answer lost: nothing to write
        return _accepted(begun)
    try:
        hashes = running_hashes(request)
        running = hashes.take(sha256, await run_in_threadpool(held.identity), start)
        spool = _Spool(held, running)
        written, loop = 0, asyncio.get_running_loop()
        try:
            # A client that stops sending would hold the upload for ever: after a silence
            # of LEASE_SECONDS the chunk ends with what arrived.
            async with asyncio.timeout_at(loop.time() + blobs.LEASE_SECONDS) as silence:
                async for piece in request.stream():
                    silence.reschedule(loop.time() + blobs.LEASE_SECONDS)
                    piece = piece[:length - written]   # no more than declared is read
                    if piece:
                        await spool.add(piece)
                        written += len(piece)
        except (ClientDisconnect, TimeoutError):
            pass   # the bytes that arrived are kept, and counted once fsynced
        finally:
            await asyncio.shield(spool.drain())   # no thread may still write when it closes
        await run_in_threadpool(held.sync)   # durable before it is acknowledged
        received = held.size
        if received < begun.size:
            if running is not None:
                hashes.keep(sha256, await run_in_threadpool(held.identity), received, running)
            progress = blobs.Progress(begun.size, received, begun.media_type, False)
            return JSONResponse({"status": "partial", "received": received},
                                headers=_offsets(progress))
        if running is None:   # earlier chunks went to another process: read it all again
            verified, head = await run_in_threadpool(store.digest_partial, sha256)
        else:
            verified, head = running.hexdigest(), await run_in_threadpool(
                store.head_partial, sha256, 16)
        problem = await run_in_threadpool(transact, request, lambda s: blobs.finish(
            s, sha256, who.site, received, verified, head, utc_now(),
            keep=lambda: store.accept(sha256), drop=held.drop))
    finally:
        await run_in_threadpool(held.close)
    return _accepted(begun) if problem is None else _refusal(problem)


def running_hashes(request: Request) -> blobs.RunningHashes:
    hashes: blobs.RunningHashes | None = getattr(request.app.state, "blob_hashes", None)
    if hashes is None:
        hashes = blobs.RunningHashes()
        request.app.state.blob_hashes = hashes
    return hashes


class _Spool:
    """Writes (and hashes) the body in a worker thread, a batch at a time, while the
    event loop receives the next bytes: both release the GIL, so on two cores the disk
    and the network overlap. One batch in flight at a time keeps the order."""

    BATCH = 512 * 1024

    def __init__(self, writer: blobs.PartialWriter, running: blobs.Hash | None) -> None:
        self._writer, self._running = writer, running
        self._batch: list[bytes] = []
        self._batched = 0
        self._pending: asyncio.Future[None] | None = None

    def _write(self, data: bytes) -> None:
        self._writer.write(data)
        if self._running is not None:
            self._running.update(data)

    async def add(self, piece: bytes) -> None:
        self._batch.append(piece)
        self._batched += len(piece)
        if self._batched >= self.BATCH:
            await self._flush()

    async def _flush(self) -> None:
        await self.wait()
        if self._batch:
            data = b"".join(self._batch)
            self._batch, self._batched = [], 0
            self._pending = asyncio.get_running_loop().run_in_executor(None, self._write, data)

    async def wait(self) -> None:
        """Until the batch in flight is written (its error, if any, raised here)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            await pending

    async def drain(self) -> None:
        await self._flush()
        await self.wait()


async def _receive(request: Request, store: blobs.BlobStore, sha256: str, lease: str,
                   start: int, length: int, begun: blobs.Progress) -> tuple[int, str | None]:
    """Stream the body into the partial upload, make it durable, count it. Returns the
    blob's acknowledged offset, and its SHA-256 when complete and this process saw every
    byte. The lease is kept when the blob is complete (verification follows) and given
    back otherwise, whatever happens."""
    hashes = running_hashes(request)
    running = hashes.take(sha256, begun.last_writer, start)
    writer = await run_in_threadpool(store.open_partial, sha256, start)
    spool = _Spool(writer, running)
    written, renewed, durable = 0, time.monotonic(), False
    try:
        try:
            async for piece in request.stream():
                if not piece:
                    continue
                if time.monotonic() - renewed >= blobs.RENEW_SECONDS:
                    # A slow chunk keeps its lease; a writer that lost it (stalled past
                    # the lease while another took over) must not write another byte.
                    if not await run_in_threadpool(transact, request, lambda s: blobs.renew(
                            s, sha256, lease, utc_now())):
                        raise ApiError(409, "upload_busy", "此文件已由另一请求接手上传。")
                    renewed = time.monotonic()
                piece = piece[:length - written]   # the server reads no more than declared
                await spool.add(piece)
                written += len(piece)
        except ClientDisconnect:
            pass   # the link was cut: the bytes that arrived are kept and counted
        await spool.drain()
        await run_in_threadpool(writer.sync)   # durable before it is acknowledged
        durable = True
    finally:
        await asyncio.shield(spool.wait())   # no thread may still write when it closes
        await run_in_threadpool(writer.close)
        received = start + written if durable else None
        kept = await run_in_threadpool(transact, request, lambda s: blobs.end_chunk(
            s, sha256, lease, received, keep_lease=received == begun.size))
    if not kept:
        raise ApiError(409, "upload_busy", "此文件已由另一请求接手上传。")
    received = start + written
    if running is None:
        return received, None
    if received == begun.size:
        return received, running.hexdigest()
    hashes.keep(sha256, lease, received, running)
    return received, None
