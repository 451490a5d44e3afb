"""Blobs (scanned materials) keyed by SHA-256: the rules of a resumable upload, shared by
every store (docs/sync-protocol.md §7).

The **store** keeps bytes: a partial upload being appended to, then the whole blob moved
into place atomically once its hash is verified. ``BlobStore`` is the interface;
``server.blobs_fs.FilesystemBlobStore`` keeps them under the server home (``blobs/``),
``server.blobs_s3.S3BlobStore`` in an S3-compatible bucket (open_store picks one by URL).
The **bookkeeping** (the ``blobs`` and ``blob_sites`` tables) is what every server
process shares: the declarations and the acceptance, for every store.

Who may write a partial upload, and how far it got, depends on the store: on a
filesystem the partial file, held with ``flock`` (server/blobs_fs.py); on S3
``blobs.received`` and a lease in the table, taken and given back by a conditional update
(the bucket has no lock), the offset being the smaller of what the table counts and what
the bucket holds.

**Whose upload.** An unfinished upload belongs to the site that first declared it (the
earliest ``blob_sites`` row while the blob is not accepted). Another site declaring the
same hash is told to come back later (409 upload_elsewhere), and is not recorded: it
never learns the upload's progress, cannot restart it with another size, and cannot
write a byte of it — so it cannot make it fail the hash either. Why a wait rather than
a partial upload per site: the hash names the content, so two sites uploading it would
send and store the same bytes twice, and per-site progress would need per-site
bookkeeping (a new migration) for what is, between honest sites, a rare coincidence.
Once accepted, a blob is shared by content: any site declaring it gets "have" and may
read it. A hash mismatch forgets only the uploader's bytes and declaration.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, cast

from sqlalchemy import CursorResult, Update, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.accounts import ApiError
from server.blob_models import BlobRow, BlobSiteRow
from server.blobs_fs import FilesystemBlobStore, busy
from server.settings import blob_url_from_env
from server.tokens import AccessClaims

if TYPE_CHECKING:
    from hashlib import _Hash

Hash: TypeAlias = "_Hash"   # a running SHA-256 (hashlib names no public type for it)

MAX_BLOB_BYTES = 200 * 1024 * 1024      # a scanned file of many pages is far smaller
MAX_CHUNK_BYTES = 8 * 1024 * 1024       # one PATCH; a client sends 1–8 MiB per chunk
LEASE_SECONDS = 30                      # a writer that died frees the blob after this
RENEW_SECONDS = 10                      # a streaming writer renews its lease this often
ELSEWHERE_RETRY_SECONDS = 60            # another site's upload: ask again after this
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


class RunningHashes:
    """The SHA-256 state of uploads this process is receiving, so that the last chunk
    need not read the whole blob again. Only a cache, never the truth: a state counts
    only when the partial upload is as the chunk of this process left it — the same
    ``mark`` (on S3 the blob's last writer, ``blobs.lease``; on a filesystem the file's
    device, inode, size and modification time) and offset; otherwise the partial upload
    is read again. Chunks that go to another server process simply miss it. (Were a state
    ever taken wrongly, the digest would not match the name and the upload would be
    refused, never accepted: a wrong cache can cost a re-upload, not a wrong blob.)"""

    def __init__(self, limit: int = 64) -> None:
        self._limit = limit
        self._states: OrderedDict[str, tuple[str, int, Hash]] = OrderedDict()

    def take(self, sha256: str, mark: str | None, offset: int) -> Hash | None:
        state = self._states.pop(sha256, None)
        if offset == 0:
            return hashlib.sha256()
        if state is not None and state[:2] == (mark, offset):
            return state[2]
        return None

    def keep(self, sha256: str, mark: str, offset: int, state: Hash) -> None:
        self._states[sha256] = (mark, offset, state)
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


def _busy(row: BlobRow, now: dt.datetime) -> ApiError:
    wait = 1
    if row.lease_until is not None:
        wait = max(1, int((_aware(row.lease_until) - now).total_seconds()) + 1)
    return busy(wait)


def _truth(row: BlobRow, store: BlobStore) -> int:
    """Bytes the client may resume after: durable, and still held by the store."""
    if row.accepted_at is not None:
        return row.size
    if isinstance(store, FilesystemBlobStore):   # the file is the truth (module docstring)
        return store.durable_size(row.sha256)
    return min(row.received, store.partial_size(row.sha256))


def _elsewhere() -> ApiError:
    return ApiError(409, "upload_elsewhere",
                    "另一站点正在上传内容相同的文件；它上传完成后，重新登记即可直接使用，请稍后再试。",
                    {"Retry-After": str(ELSEWHERE_RETRY_SECONDS)})


def _owner(session: Session, sha256: str) -> str | None:
    """The site whose unfinished upload this is: the first that declared it."""
    return session.scalars(select(BlobSiteRow.site_code).where(BlobSiteRow.sha256 == sha256)
                           .order_by(BlobSiteRow.declared_at, BlobSiteRow.site_code)
                           .limit(1)).first()


def _own(session: Session, sha256: str, who: AccessClaims) -> BlobRow:
    """The blob, if the caller's site declared it (otherwise as if it did not exist) and,
    while unfinished, only for the site whose upload it is."""
    row = session.get(BlobRow, sha256)
    if row is not None and row.accepted_at is None:
        owner = _owner(session, sha256)
        if owner == who.site:
            return row
        if owner is not None and session.get(BlobSiteRow, (sha256, who.site)) is not None:
            raise _elsewhere()   # a second declaration recorded before uploads had owners
    elif row is not None and session.get(BlobSiteRow, (sha256, who.site)) is not None:
        return row
    raise ApiError(404, "blob_not_found", "服务器上没有此文件（或未由本站点登记）。")


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
    if row is None:
        _insert_once(session, BlobRow(sha256=sha256, size=size, media_type=media_type,
                                      received=0, declared_at=now))
        row = session.get(BlobRow, sha256, with_for_update=True)
    assert row is not None   # inserted now, or by a concurrent declaration
    if row.accepted_at is not None and not store.has(sha256):
        # Accepted once, but the store no longer holds it (a database restored without
        # its blobs): "have" would be a lie, so take the bytes again, as this site's
        # upload. The other sites' declarations go: they declare again (wait, then "have").
        row.accepted_at, row.received = None, 0
        session.execute(delete(BlobSiteRow).where(BlobSiteRow.sha256 == sha256,
                                                  BlobSiteRow.site_code != who.site))
    if row.accepted_at is None:
        owner = _owner(session, sha256)
        if owner is not None and owner != who.site:
            # Another site's upload: not a word of its progress, no hand on its bytes
            # (module docstring, "Whose upload"). Nothing is recorded for this site.
            raise _elsewhere()
        if owner is None or (row.size, row.media_type) != (size, media_type):
            # New (or nobody's: its bytes, if any, are no one's progress), or this site
            # declares it otherwise: the hash fixes the content, so one of its declarations
            # is wrong, and the bytes will tell which. Start again with this one, unless a
            # chunk is being written right now.
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


def finish(session: Session, sha256: str, site: str, size: int, digest: str, head: bytes,
           now: dt.datetime, keep: Callable[[], None], drop: Callable[[], None],
           lease: str | None = None) -> ApiError | None:
    """Accept a complete upload of ``size`` bytes, made by ``site``, whose bytes hash to
    its name (``keep`` moves them into place); or ``drop`` them, forget that site's
    declaration, and return the refusal to send. (Returned, not raised: raising would roll
    the deletion back.) ``lease``: the S3 writer's, which must still be the blob's."""
    row = session.get(BlobRow, sha256, with_for_update=True)
    if row is None or (lease is not None and row.lease != lease):
        return busy()   # another writer took over, or a mismatch dropped it
    if row.accepted_at is not None:   # a concurrent request accepted it meanwhile
        drop()
        return None
    if row.size != size:   # declared again with another size while this chunk streamed
        return busy()
    problem: ApiError | None = None
    if digest != sha256:
        problem = ApiError(422, "hash_mismatch",
                           f"收到的 {row.size} 字节的 SHA-256 与文件标识不符，已丢弃；"
                           "请重新登记并从头上传。")
    elif not head.startswith(MEDIA_TYPES[row.media_type]):
        problem = ApiError(422, "type_mismatch",
                           f"文件内容不是登记的类型 {row.media_type}，已丢弃；请按实际类型重新登记。")
    if problem is not None:
        drop()   # the uploader's own bytes: only the owning site writes (``_own``)
        session.execute(delete(BlobSiteRow).where(BlobSiteRow.sha256 == sha256,
                                                  BlobSiteRow.site_code == site))
        if _owner(session, sha256) is None:
            session.delete(row)
        else:   # declared by another site before uploads had owners: it starts from 0
            row.received, row.lease_until = 0, None
        return problem
    keep()
    row.accepted_at, row.received, row.lease_until = now, row.size, None
    return None


def chunk_target(session: Session, who: AccessClaims, sha256: str) -> Progress:
    """For a chunk to a filesystem store: the blob as the caller's site declared it (a
    read; the partial file's lock, not the table, keeps other writers out)."""
    row = _own(session, sha256, who)
    return Progress(row.size, row.size if row.accepted_at is not None else 0,
                    row.media_type, row.accepted_at is not None)


def readable(session: Session, store: BlobStore, who: AccessClaims, sha256: str) -> BlobRow:
    row = _own(session, check_sha256(sha256), who)
    if row.accepted_at is None or not store.has(sha256):
        raise ApiError(404, "blob_incomplete", "此文件尚未上传完成。")
    return row
