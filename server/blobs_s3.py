"""Blobs in an S3-compatible bucket (AWS S3, MinIO, Aliyun OSS, Ceph …): the store of a
county whose server processes run on several machines (docs/sync-protocol.md §7).

The URL (``--blob-url`` or YICHUANG_SERVER_BLOB_URL)::

    s3://BUCKET/PREFIX?endpoint=https://oss-cn-hangzhou.aliyuncs.com&region=cn-hangzhou

``endpoint`` (omit it for AWS), ``region`` and ``addressing`` (``auto``, ``path`` for most
MinIO set-ups, ``virtual`` for OSS) are the only options. Credentials never go in the URL
(it shows in ``ps`` and in logs): boto3 finds them as usual, in AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws/credentials or an instance role.

Keys, beside the filesystem store's layout::

    PREFIX<ab>/<sha256>                   an accepted blob
    PREFIX partial/<sha256>/<start:015d>  one object per acknowledged chunk of an upload

Why one object per chunk, rather than a partial file on the local disk or an S3 multipart
upload: a chunk may reach any server process on any machine, so the upload's progress
must be in the bucket; and S3 multipart parts must be at least 5 MiB except the last,
while a client's chunks are 1–8 MiB, and a cut link ends one anywhere. The PUT of a chunk
answers once the bucket holds it: the durability the filesystem store gets from fsync.
The partial upload's size is the run of parts contiguous from byte 0, so a part whose
writer died before it was counted is harmless (``blobs._truth`` takes the smaller figure,
and the next chunk cuts it off). On acceptance the parts are read in order, hashed again
and written as one object, which appears whole or not at all; then the parts are
deleted. Hashing again while copying means parts rewritten meanwhile (by a writer that
took the blob over after this one's lease ran out) can never be accepted under a name
that is not theirs.

The bucket must be strongly consistent, LIST included (AWS S3 since 2020, MinIO, OSS and
Ceph are). Uploads that are never finished leave parts behind: a lifecycle rule expiring
``PREFIX partial/`` after some weeks, and one aborting incomplete multipart uploads, keep
the bucket tidy; ``HEAD`` stays true when parts vanish.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
import logging
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Literal, ParamSpec, TypeAlias, TypeVar
from urllib.parse import parse_qs, urlsplit

from server.accounts import ApiError
from server.blobs import Hash, PartialWriter
from server.blobs_fs import READ_PIECE
from server.settings import ServerSettingsError

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:   # the 'server' extra installs it; a filesystem store needs none
    raise ServerSettingsError("使用对象存储须安装 boto3：pip install 'yichuang[server]'") from None

if TYPE_CHECKING:
    from botocore.response import StreamingBody
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

ASSEMBLE_BYTES = 8 * 1024 * 1024   # multipart parts of an accepted blob (S3: ≥ 5 MiB)
SPOOL_IN_MEMORY = 1024 * 1024      # a chunk's bytes beyond this wait on disk for the PUT
HEAD_BYTES = 16                    # what the type check looks at
Addressing: TypeAlias = Literal["auto", "path", "virtual"]
ADDRESSING: tuple[Addressing, ...] = ("auto", "path", "virtual")
_EXAMPLE = "s3://桶名/前缀?endpoint=https://对象存储地址"
# S3's rule for bucket names; it also keeps "key:secret@bucket" out of a URL.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


@dataclass(frozen=True, slots=True)
class S3Location:
    bucket: str
    prefix: str = ""                # "" or ending in "/"
    endpoint: str | None = None     # None = AWS itself
    region: str | None = None       # None = boto3's own default (AWS_DEFAULT_REGION …)
    addressing: Addressing = "auto"

    @classmethod
    def parse(cls, url: str) -> S3Location:
        """A blob URL, or ServerSettingsError saying what is wrong (in Chinese)."""
        where = urlsplit(url)
        if where.scheme != "s3" or not where.netloc or where.fragment:
            raise ServerSettingsError(f"材料存储地址“{url}”无法识别，应如 {_EXAMPLE}")
        if not _BUCKET.fullmatch(where.netloc):
            raise ServerSettingsError(f"材料存储桶名“{where.netloc}”不合规（小写字母、数字、"
                                      "点和连字符，3–63 个字符；密钥请放在环境变量中）。")
        try:
            options = parse_qs(where.query, keep_blank_values=True, strict_parsing=True) \
                if where.query else {}
        except ValueError:
            raise ServerSettingsError(f"材料存储地址“{url}”的参数无法识别。") from None
        unknown = sorted(set(options) - {"endpoint", "region", "addressing"})
        if unknown:
            raise ServerSettingsError(f"材料存储地址中有不认识的参数：{'、'.join(unknown)}"
                                      "（只认 endpoint、region、addressing；密钥请放在环境变量中）。")
        if any(len(values) != 1 or not values[0] for values in options.values()):
            raise ServerSettingsError("材料存储地址的每个参数都应恰好给一个非空值。")
        endpoint = options.get("endpoint", [None])[0]
        if endpoint is not None and urlsplit(endpoint).scheme not in ("http", "https"):
            raise ServerSettingsError(f"对象存储地址“{endpoint}”应以 http:// 或 https:// 开头。")
        addressing = next((a for a in ADDRESSING
                           if a == options.get("addressing", ["auto"])[0]), None)
        if addressing is None:
            raise ServerSettingsError(f"addressing 应为 {'、'.join(ADDRESSING)} 之一。")
        prefix = where.path.strip("/")
        if ".." in prefix.split("/") or "//" in prefix:
            raise ServerSettingsError(f"材料存储前缀“{prefix}”不合规。")
        return cls(where.netloc, f"{prefix}/" if prefix else "", endpoint,
                   options.get("region", [None])[0], addressing)

    def client(self) -> S3Client:
        config = Config(connect_timeout=5, read_timeout=60,
                        retries={"mode": "standard", "max_attempts": 4},
                        s3={"addressing_style": self.addressing})
        # A session of its own (sessions are not thread-safe; the client made from one is).
        return boto3.session.Session().client("s3", endpoint_url=self.endpoint,
                                              region_name=self.region, config=config)


def _reachable(method: Callable[P, R]) -> Callable[P, R]:
    """The bucket's failures (unreachable, refused, a part gone missing) become a 503 the
    client retries later, not a bare 500; the cause goes to the log."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except (BotoCoreError, ClientError) as exc:
            log.warning("blob store: %s failed: %s", method.__name__, exc)
            raise ApiError(503, "blob_store_unavailable", "材料存储暂时无法访问，请稍后重试。",
                           {"Retry-After": "5"}) from exc
    return wrapper


def _not_found(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


def _rebatch(pieces: Iterable[bytes], size: int) -> Iterator[bytes]:
    """The same bytes in pieces of exactly ``size`` (the last one shorter)."""
    batch = bytearray()
    for piece in pieces:
        batch += piece
        while len(batch) >= size:
            yield bytes(batch[:size])
            del batch[:size]
    if batch:
        yield bytes(batch)


def _body_pieces(body: StreamingBody) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(READ_PIECE)
    finally:
        body.close()


class _PartWriter:
    """One chunk's bytes, spooled until ``sync`` PUTs them as one part object."""

    def __init__(self, store: S3BlobStore, key: str) -> None:
        self._store, self._key = store, key
        # Open for the writer's life: ``close`` closes it (the BlobStore protocol's order).
        self._buffer: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=SPOOL_IN_MEMORY)
        self._size = self._sent = 0

    def write(self, data: bytes) -> None:
        self._buffer.write(data)
        self._size += len(data)

    @_reachable
    def sync(self) -> None:
        if self._size == self._sent:   # e.g. an empty chunk that only asks for verification
            return
        self._buffer.seek(0)
        self._store._put(self._key, self._buffer, self._size)
        self._buffer.seek(0, 2)
        self._sent = self._size

    def close(self) -> None:
        self._buffer.close()


class S3BlobStore:
    """The BlobStore protocol of server/blobs.py on a bucket. Keeps nothing but the bucket's
    address: any number of server processes, on any machines, may share one bucket."""

    def __init__(self, location: S3Location, client: S3Client | None = None) -> None:
        self.location = location
        self._bucket = location.bucket
        self._client = client if client is not None else location.client()

    @classmethod
    def from_url(cls, url: str) -> S3BlobStore:
        return cls(S3Location.parse(url))

    def check(self) -> None:
        """That the bucket answers (for ``serve`` to say so at start, not at a first upload)."""
        try:
            self._client.head_bucket(Bucket=self._bucket)
        except (BotoCoreError, ClientError) as exc:
            raise ServerSettingsError(f"无法访问材料存储桶“{self._bucket}”：{exc}") from exc

    # ---- keys and parts

    def _final(self, sha256: str) -> str:
        return f"{self.location.prefix}{sha256[:2]}/{sha256}"

    def _parts_prefix(self, sha256: str) -> str:
        return f"{self.location.prefix}partial/{sha256}/"

    def _parts(self, sha256: str) -> list[tuple[int, int, str]]:
        """Every part object of an upload: (start, size, key), by start."""
        prefix = self._parts_prefix(sha256)
        found: list[tuple[int, int, str]] = []
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self._bucket,
                                                                        Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", []):
                name = item["Key"].removeprefix(prefix)
                if name.isdigit():
                    found.append((int(name), item["Size"], item["Key"]))
        return sorted(found)

    @staticmethod
    def _chain(parts: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
        """The parts that make the partial upload: contiguous from byte 0."""
        chain, end = [], 0
        for start, size, key in parts:
            if start == end and size > 0:
                chain.append((start, size, key))
                end += size
            elif start > end:
                break
        return chain

    def _stream(self, chain: list[tuple[int, int, str]]) -> Iterator[bytes]:
        for _start, _size, key in chain:
            yield from _body_pieces(self._client.get_object(Bucket=self._bucket,
                                                            Key=key)["Body"])

    def _put(self, key: str, body: IO[bytes] | bytes, size: int,
             sha256: bytes | None = None) -> None:
        if sha256 is None:
            self._client.put_object(Bucket=self._bucket, Key=key, Body=body,
                                    ContentLength=size)
        else:   # the bucket checks the bytes it stored against the name
            self._client.put_object(Bucket=self._bucket, Key=key, Body=body,
                                    ContentLength=size,
                                    ChecksumSHA256=base64.b64encode(sha256).decode())

    def _delete(self, keys: list[str]) -> None:
        for at in range(0, len(keys), 1000):   # DeleteObjects takes 1000 at most
            self._client.delete_objects(Bucket=self._bucket, Delete={
                "Objects": [{"Key": key} for key in keys[at:at + 1000]], "Quiet": True})

    # ---- the BlobStore protocol

    @_reachable
    def has(self, sha256: str) -> bool:
        try:
            self._client.head_object(Bucket=self._bucket, Key=self._final(sha256))
        except ClientError as exc:
            if _not_found(exc):
                return False
            raise
        return True

    @_reachable
    def partial_size(self, sha256: str) -> int:
        return sum(size for _start, size, _key in self._chain(self._parts(sha256)))

    @_reachable
    def open_partial(self, sha256: str, offset: int) -> PartialWriter:
        """Cut the upload at ``offset`` (parts from there deleted, one across it shortened),
        then a writer whose ``sync`` stores the chunk as the part at ``offset``."""
        doomed: list[str] = []
        for start, size, key in self._parts(sha256):
            if start >= offset:
                doomed.append(key)
            elif start + size > offset:
                kept = self._client.get_object(Bucket=self._bucket, Key=key,
                                               Range=f"bytes=0-{offset - start - 1}")
                self._put(key, kept["Body"].read(), offset - start)
        self._delete(doomed)
        return _PartWriter(self, f"{self._parts_prefix(sha256)}{offset:015d}")

    @_reachable
    def digest_partial(self, sha256: str) -> tuple[str, bytes]:
        digest, head = hashlib.sha256(), b""
        for piece in self._stream(self._chain(self._parts(sha256))):
            if len(head) < HEAD_BYTES:
                head += piece[:HEAD_BYTES - len(head)]
            digest.update(piece)
        return digest.hexdigest(), head

    @_reachable
    def head_partial(self, sha256: str, count: int) -> bytes:
        head = b""
        for piece in self._stream(self._chain(self._parts(sha256))):
            head += piece[:count - len(head)]
            if len(head) >= count:
                break
        return head

    @_reachable
    def accept(self, sha256: str) -> None:
        chain = self._chain(self._parts(sha256))
        pieces = _rebatch(self._stream(chain), ASSEMBLE_BYTES)
        first = next(pieces, b"")
        second = next(pieces, None)
        if second is None:
            digest = hashlib.sha256(first)
            self._verified(sha256, digest)
            self._put(self._final(sha256), first, len(first), digest.digest())
        else:
            self._assemble(sha256, itertools.chain((first, second), pieces))
        try:   # the blob is in place: leftover parts are only untidy
            self._delete([key for _start, _size, key in self._parts(sha256)])
        except Exception as exc:   # logged: the acceptance stands
            log.warning("blob store: parts of %s not deleted: %s", sha256, exc)

    def _assemble(self, sha256: str, pieces: Iterable[bytes]) -> None:
        """A multipart upload of ``pieces``, completed only if they hash to ``sha256``."""
        key = self._final(sha256)
        upload = self._client.create_multipart_upload(Bucket=self._bucket, Key=key)["UploadId"]
        try:
            digest = hashlib.sha256()
            done: list[CompletedPartTypeDef] = []
            for number, piece in enumerate(pieces, start=1):
                digest.update(piece)
                etag = self._client.upload_part(Bucket=self._bucket, Key=key, UploadId=upload,
                                                PartNumber=number, Body=piece)["ETag"]
                done.append({"ETag": etag, "PartNumber": number})
            self._verified(sha256, digest)
            self._client.complete_multipart_upload(Bucket=self._bucket, Key=key,
                                                   UploadId=upload,
                                                   MultipartUpload={"Parts": done})
        except BaseException:
            try:
                self._client.abort_multipart_upload(Bucket=self._bucket, Key=key,
                                                    UploadId=upload)
            except Exception as exc:   # the first failure is the one to report
                log.warning("blob store: multipart upload of %s not aborted: %s", sha256, exc)
            raise

    @staticmethod
    def _verified(sha256: str, digest: Hash) -> None:
        if digest.hexdigest() != sha256:
            # The parts changed after they were verified: another writer has the blob.
            raise ApiError(409, "upload_busy", "此文件已由另一请求接手上传，请稍后从服务器告知的位置继续。",
                           {"Retry-After": "1"})

    @_reachable
    def discard(self, sha256: str) -> None:
        self._delete([key for _start, _size, key in self._parts(sha256)])

    @_reachable
    def read(self, sha256: str) -> Iterator[bytes]:
        # Opened now, not at the first piece: a missing object or an unreachable bucket is
        # still an answer with a status, before the 200 is sent.
        return _body_pieces(self._client.get_object(Bucket=self._bucket,
                                                    Key=self._final(sha256))["Body"])

