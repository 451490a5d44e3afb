"""Blobs (scanned materials) keyed by SHA-256: where their bytes are kept, and the rules of
a resumable upload (docs/sync-protocol.md §7).

Two halves. The **store** keeps bytes: a partial upload being appended to, then the whole
blob moved into place atomically once its hash is verified. ``BlobStore`` is the
interface; ``FilesystemBlobStore`` keeps them under the server home (``blobs/``), and
``server.blobs_s3.S3BlobStore`` in an S3-compatible bucket (open_store picks one by URL).
The **bookkeeping** (the ``blobs`` table) is what every server process shares: the
declaration, the bytes acknowledged (each chunk made durable before it is counted),
acceptance, and a lease that lets one PATCH at a time write a blob without holding a
database lock for the whole chunk.

The acknowledged offset is the truth a client resumes from: the smaller of what the
table counts and what the store holds (bytes written after the last acknowledgement, by
a process that died, are cut off when the next chunk begins).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, cast

from sqlalchemy import CursorResult, Update, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.accounts import ApiError
from server.blob_models import BlobRow, BlobSiteRow
from server.settings import blob_url_from_env
from server.tokens import AccessClaims

if TYPE_CHECKING:
    from hashlib import _Hash

Hash: TypeAlias = "_Hash"   # a running SHA-256 (hashlib names no public type for it)

MAX_BLOB_BYTES = 200 * 1024 * 1024      # a scanned file of many pages is far smaller
MAX_CHUNK_BYTES = 8 * 1024 * 1024       # one PATCH; a client sends 1–8 MiB per chunk
LEASE_SECONDS = 30                      # a writer that died frees the blob after this
RENEW_SECONDS = 10                      # a streaming writer renews its lease this often
READ_PIECE = 1024 * 1024
# What a scan may be, and how its first bytes must start (checked before acceptance, so
# the server never serves a PDF labelled as a JPEG).
MEDIA_TYPES: dict[str, bytes] = {
    "image/jpeg": b"\xff\xd8\xff",
    "image/png": b"\x89PNG\r\n\x1a\n",
    "application/pdf": b"%PDF-",
}
_SHA256 = re.compile(r"[0-9a-f]{64}")


# ---- the store ------------------------------------------------------------------------


class PartialWriter(Protocol):
    def write(self, data: bytes) -> None: ...

    def sync(self) -> None:
        """Make everything written durable (before a chunk is acknowledged)."""

    def close(self) -> None: ...


class BlobStore(Protocol):
    def has(self, sha256: str) -> bool: ...

    def partial_size(self, sha256: str) -> int:
        """Bytes of the partial upload kept (0 when there is none)."""

    def open_partial(self, sha256: str, offset: int) -> PartialWriter:
        """A writer appending at ``offset``; anything the partial held beyond it is cut."""

    def digest_partial(self, sha256: str) -> tuple[str, bytes]:
        """The SHA-256 (hex) of the partial upload, and its first 16 bytes."""

    def head_partial(self, sha256: str, count: int) -> bytes:
        """The first ``count`` bytes of the partial upload."""

    def accept(self, sha256: str) -> None:
        """Move the verified partial upload into place, atomically and durably."""

    def discard(self, sha256: str) -> None:
        """Forget a partial upload (nothing if there is none)."""

    def read(self, sha256: str) -> Iterator[bytes]: ...


class _FileWriter:
    def __init__(self, path: Path, offset: int) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        self._file = os.fdopen(fd, "wb", buffering=0)
        self._file.truncate(offset)
        self._file.seek(offset)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:   # a raw file may write less than asked
            done = self._file.write(view)
            view = view[done or 0:]

    def sync(self) -> None:
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FilesystemBlobStore:
    """``root/<ab>/<sha256>`` for accepted blobs, ``root/partial/<sha256>.part`` while
    uploading. Files are 0600 and directories 0700: scans are private papers. Several
    server processes on one machine (or one shared filesystem) may use the same root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._partial = root / "partial"

    def _final(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def _part(self, sha256: str) -> Path:
        return self._partial / f"{sha256}.part"

    def has(self, sha256: str) -> bool:
        return self._final(sha256).is_file()

    def partial_size(self, sha256: str) -> int:
        try:
            return self._part(sha256).stat().st_size
        except FileNotFoundError:
            return 0

    def open_partial(self, sha256: str, offset: int) -> PartialWriter:
        if not self._partial.is_dir():
            self._partial.mkdir(parents=True, mode=0o700, exist_ok=True)
        path = self._part(sha256)
        new = not path.exists()
        writer = _FileWriter(path, offset)
        if new:   # the file's name must survive a power cut as well as its bytes
            _fsync_dir(self._partial)
        return writer

    def digest_partial(self, sha256: str) -> tuple[str, bytes]:
        digest = hashlib.sha256()
        with self._part(sha256).open("rb") as f:
            head = f.read(16)
            digest.update(head)
            while piece := f.read(READ_PIECE):
                digest.update(piece)
        return digest.hexdigest(), head

    def head_partial(self, sha256: str, count: int) -> bytes:
        with self._part(sha256).open("rb") as f:
            return f.read(count)

    def accept(self, sha256: str) -> None:
        final = self._final(sha256)
        final.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
        os.replace(self._part(sha256), final)
        _fsync_dir(final.parent)
        _fsync_dir(self._partial)

    def discard(self, sha256: str) -> None:
        self._part(sha256).unlink(missing_ok=True)

    def read(self, sha256: str) -> Iterator[bytes]:
        with self._final(sha256).open("rb") as f:
            while piece := f.read(READ_PIECE):
                yield piece


class RunningHashes:
    """The SHA-256 state of uploads this process is receiving, so that the last chunk
    need not read the whole blob again. Only a cache, never the truth: a state counts
    only when the blob's last writer (``blobs.lease``, in the database) is the chunk of
    this process that left it, at the offset it left it; otherwise the partial upload is
    read again. Chunks that go to another server process simply miss it."""

    def __init__(self, limit: int = 64) -> None:
        self._limit = limit
        self._states: OrderedDict[str, tuple[str, int, Hash]] = OrderedDict()

    def take(self, sha256: str, last_writer: str | None, offset: int) -> Hash | None:
        state = self._states.pop(sha256, None)
        if offset == 0:
            return hashlib.sha256()
        if state is not None and state[:2] == (last_writer, offset):
            return state[2]
        return None

    def keep(self, sha256: str, writer: str, offset: int, state: Hash) -> None:
        self._states[sha256] = (writer, offset, state)
        while len(self._states) > self._limit:
            self._states.popitem(last=False)


def open_store(root: Path, url: str | None = None) -> BlobStore:
    """The store for a server home: the folder ``root``, or the S3-compatible bucket that
    ``url`` names (``ServerSettings.blob_url``; None = its default, from
    YICHUANG_SERVER_BLOB_URL). A bad URL raises ServerSettingsError."""
    if url is None:
        url = blob_url_from_env()
    if url:
        from server.blobs_s3 import S3BlobStore  # boto3 is loaded only where it is used

        return S3BlobStore.from_url(url)
    root.mkdir(parents=True, mode=0o700, exist_ok=True)
    return FilesystemBlobStore(root)


# ---- the rules ------------------------------------------------------------------------


class OffsetMismatch(ApiError):
    """A chunk that does not start where the upload stands; carries the real offset."""

    def __init__(self, received: int) -> None:
        super().__init__(409, "offset_mismatch",
                         f"上传位置不符：服务器已收到 {received} 字节，请从该位置继续。",
                         {"Upload-Offset": str(received)})
        self.received = received


@dataclass(frozen=True, slots=True)
class Progress:
    size: int
    received: int
    media_type: str
    accepted: bool
    last_writer: str | None = None   # the lease of the chunk before this one


def check_sha256(value: str) -> str:
    if not _SHA256.fullmatch(value):
        raise ApiError(422, "bad_sha256", "文件标识应为64位小写十六进制的 SHA-256 值。")
    return value


def check_declaration(size: int, media_type: str) -> None:
    if media_type not in MEDIA_TYPES:
        raise ApiError(415, "unsupported_type",
                       f"不接受此文件类型，只接受 {'、'.join(MEDIA_TYPES)}。")
    if size < 1:
        raise ApiError(422, "bad_size", "文件大小应至少为1字节。")
    if size > MAX_BLOB_BYTES:
        raise ApiError(413, "blob_too_large",
                       f"文件过大（上限 {MAX_BLOB_BYTES // (1024 * 1024)} MiB）。")


def _aware(at: dt.datetime) -> dt.datetime:
    """SQLite gives naive datetimes back for timezone-aware columns: they are UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


def _leased(row: BlobRow, now: dt.datetime) -> bool:
    return row.lease_until is not None and _aware(row.lease_until) > now


def _busy_message(wait: int = 1) -> ApiError:
    return ApiError(409, "upload_busy", "此文件正由另一请求上传，请稍后从服务器告知的位置继续。",
                    {"Retry-After": str(wait)})


def _busy(row: BlobRow, now: dt.datetime) -> ApiError:
    wait = 1
    if row.lease_until is not None:
        wait = max(1, int((_aware(row.lease_until) - now).total_seconds()) + 1)
    return _busy_message(wait)


def _truth(row: BlobRow, store: BlobStore) -> int:
    """Bytes the client may resume after: acknowledged, and still held by the store."""
    if row.accepted_at is not None:
        return row.size
    return min(row.received, store.partial_size(row.sha256))


def _own(session: Session, sha256: str, who: AccessClaims) -> BlobRow:
    """The blob, if the caller's site declared it; otherwise as if it did not exist."""
    row = session.get(BlobRow, sha256)
    if row is None or session.get(BlobSiteRow, (sha256, who.site)) is None:
        raise ApiError(404, "blob_not_found", "服务器上没有此文件（或未由本站点登记）。")
    return row


def _insert_once(session: Session, row: BlobRow | BlobSiteRow) -> bool:
    """Insert, or find that a concurrent request (another process) just did: False."""
    try:
        with session.begin_nested():   # a savepoint: the losing insert leaves no trace
            session.add(row)
    except IntegrityError:
        return False
    return True


def declare(session: Session, store: BlobStore, who: AccessClaims, sha256: str, size: int,
            media_type: str, now: dt.datetime) -> Progress:
    """Record that the caller's site has this blob to send; say how far it got."""
    check_sha256(sha256)
    check_declaration(size, media_type)
    row = session.get(BlobRow, sha256, with_for_update=True)
    if row is None and _insert_once(session, BlobRow(sha256=sha256, size=size,
                                                     media_type=media_type, received=0,
                                                     declared_at=now)):
        store.discard(sha256)   # leftovers of an upload whose hash did not match
    row = session.get(BlobRow, sha256, with_for_update=True)
    assert row is not None   # inserted now, or by a concurrent declaration
    if row.accepted_at is not None and not store.has(sha256):
        # Accepted once, but the store no longer holds it (a database restored without
        # its blobs): "have" would be a lie, so take the bytes again.
        row.accepted_at, row.received = None, 0
    if row.accepted_at is None and (row.size, row.media_type) != (size, media_type):
        # The hash fixes the content, so one declaration is wrong; the bytes will tell
        # which. Start again with this one, unless a chunk is being written right now.
        if _leased(row, now):
            raise _busy(row, now)
        row.size, row.media_type, row.received = size, media_type, 0
        store.discard(sha256)
    if session.get(BlobSiteRow, (sha256, who.site)) is None:
        _insert_once(session, BlobSiteRow(sha256=sha256, site_code=who.site,
                                          declared_by=who.user_id, declared_at=now))
    return Progress(row.size, _truth(row, store), row.media_type, row.accepted_at is not None)


def progress(session: Session, store: BlobStore, who: AccessClaims, sha256: str) -> Progress:
    row = _own(session, check_sha256(sha256), who)
    return Progress(row.size, _truth(row, store), row.media_type, row.accepted_at is not None)


def _changed(session: Session, statement: Update) -> int:
    """Rows an UPDATE changed (the session's objects are not synchronised: callers
    re-read what they need)."""
    result = session.execute(statement.execution_options(synchronize_session=False))
    return int(cast(CursorResult[Any], result).rowcount)


def begin_chunk(session: Session, store: BlobStore, who: AccessClaims, sha256: str,
                offset: int, length: int, lease: str, now: dt.datetime) -> Progress:
    """Take the blob's lease for a chunk of ``length`` bytes at ``offset``, or refuse.
    An accepted blob takes no lease (the chunk is not needed)."""
    row = _own(session, sha256, who)
    if row.accepted_at is not None:
        return Progress(row.size, row.size, row.media_type, True)
    if _leased(row, now):
        raise _busy(row, now)
    truth = _truth(row, store)
    if offset != truth:
        raise OffsetMismatch(truth)
    if offset + length > row.size:
        raise ApiError(413, "chunk_past_end",
                       f"此块超出登记的文件大小（{row.size} 字节）。")
    # Conditional on the lease still being free: two processes racing here both read it
    # free, but only one update matches (the other waits for the row, then matches none).
    # ``received`` becomes the truth: bytes the store lost are no longer counted.
    taken = _changed(session,
        update(BlobRow).where(BlobRow.sha256 == sha256,
                              or_(BlobRow.lease_until.is_(None), BlobRow.lease_until <= now))
        .values(lease=lease, lease_until=now + dt.timedelta(seconds=LEASE_SECONDS),
                received=truth))
    if taken != 1:
        raise _busy(row, now)
    return Progress(row.size, truth, row.media_type, False, last_writer=row.lease)


def renew(session: Session, sha256: str, lease: str, now: dt.datetime) -> bool:
    """Extend a streaming writer's lease; False when another writer has taken it."""
    return _changed(session, update(BlobRow)
                    .where(BlobRow.sha256 == sha256, BlobRow.lease == lease,
                           BlobRow.lease_until.is_not(None))
                    .values(lease_until=now + dt.timedelta(seconds=LEASE_SECONDS))) == 1


def end_chunk(session: Session, sha256: str, lease: str, received: int | None,
              keep_lease: bool) -> bool:
    """Count the bytes of a chunk (already durable), and give the lease back unless the
    blob is now complete and about to be verified. False when the lease was lost: then
    nothing is counted."""
    values: dict[str, object] = {} if received is None else {"received": received}
    if not keep_lease:
        values.update(lease_until=None)   # ``lease`` stays: it names the last writer
    if not values:
        return True
    return _changed(session, update(BlobRow)
                    .where(BlobRow.sha256 == sha256, BlobRow.lease == lease)
                    .values(**values)) == 1


def finish(session: Session, store: BlobStore, sha256: str, lease: str, digest: str,
           head: bytes, now: dt.datetime) -> ApiError | None:
    """Accept a complete upload whose bytes hash to its name; or discard it and return
    the refusal to send. (Returned, not raised: raising would roll the discard back.)"""
    row = session.execute(select(BlobRow).where(BlobRow.sha256 == sha256,
                                                BlobRow.lease == lease)).scalar_one_or_none()
    if row is None:
        return _busy_message()
    problem: ApiError | None = None
    if digest != sha256:
        problem = ApiError(422, "hash_mismatch",
                           f"收到的 {row.size} 字节的 SHA-256 与文件标识不符，已丢弃；"
                           "请重新登记并从头上传。")
    elif not head.startswith(MEDIA_TYPES[row.media_type]):
        problem = ApiError(422, "type_mismatch",
                           f"文件内容不是登记的类型 {row.media_type}，已丢弃；请按实际类型重新登记。")
    if problem is not None:
        store.discard(sha256)
        session.execute(delete(BlobSiteRow).where(BlobSiteRow.sha256 == sha256))
        session.delete(row)
        return problem
    store.accept(sha256)
    row.accepted_at, row.received, row.lease_until = now, row.size, None
    return None


def readable(session: Session, store: BlobStore, who: AccessClaims, sha256: str) -> BlobRow:
    row = _own(session, check_sha256(sha256), who)
    if row.accepted_at is None or not store.has(sha256):
        raise ApiError(404, "blob_incomplete", "此文件尚未上传完成。")
    return row
