"""The filesystem blob store: blobs under the server home (``blobs/``), the default of a
county whose server processes share one machine or one filesystem (docs/sync-protocol.md
§7). The rules of an upload, and the store's interface, are in ``server.blobs``.

The partial file itself is an upload's truth. A PATCH holds it with ``flock`` (any
process on the machine, or on one shared filesystem), which the kernel releases when the
request ends or its process dies (kill -9 included) — so a chunk costs no database
write. The file only ever grows by appends made under that lock, so its size is the
offset; every offset told to a client is fsynced first (``durable_size``, and each chunk
before its answer), so it is never one that a power cut could take back.

This module imports nothing of ``server.blobs`` (which imports it): the store knows
bytes, not declarations.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from server.accounts import ApiError

READ_PIECE = 1024 * 1024


def busy(wait: int = 1) -> ApiError:
    """409 upload_busy: another request is writing this upload; retry after ``wait`` s."""
    return ApiError(409, "upload_busy", "此文件正由另一请求上传，请稍后从服务器告知的位置继续。",
                    {"Retry-After": str(wait)})


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


class LocalPartial:
    """A partial upload file held exclusively (``flock``) by one PATCH until ``close``.
    Appends only: the offset is always the file's size."""

    def __init__(self, fd: int, path: Path) -> None:
        self._fd, self.path = fd, path
        self._at = os.lseek(fd, 0, os.SEEK_END)

    @property
    def size(self) -> int:
        return self._at

    def identity(self) -> str:
        """Names this file at this size and time: a running hash of it is still good only
        while this does not change (bytes appended, or the file replaced)."""
        info = os.fstat(self._fd)
        return f"{info.st_dev}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}"

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:   # a write may take less than asked
            done = os.write(self._fd, view)
            view = view[done:]
            self._at += done

    def sync(self) -> None:
        os.fsync(self._fd)

    def drop(self) -> None:
        """Forget the upload (while held: no other writer can be appending to it)."""
        self.path.unlink(missing_ok=True)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)   # the lock goes with it
            self._fd = -1


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

    def open_partial(self, sha256: str, offset: int) -> _FileWriter:
        if not self._partial.is_dir():
            self._partial.mkdir(parents=True, mode=0o700, exist_ok=True)
        path = self._part(sha256)
        new = not path.exists()
        writer = _FileWriter(path, offset)
        if new:   # the file's name must survive a power cut as well as its bytes
            _fsync_dir(self._partial)
        return writer

    def hold(self, sha256: str, create: bool) -> LocalPartial | None:
        """The partial upload, held exclusively; None while another request holds it.
        FileNotFoundError when there is none and ``create`` is false."""
        self._partial.mkdir(parents=True, mode=0o700, exist_ok=True)
        path = self._part(sha256)
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
                created = True
            except FileExistsError:
                try:
                    fd, created = os.open(path, os.O_RDWR), False
                except FileNotFoundError:   # accepted or discarded just now
                    continue
            if created and not create:
                os.unlink(path)
                os.close(fd)
                raise FileNotFoundError(path)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return None
            # Between open and lock, the holder may have accepted (renamed) or discarded
            # the file: then this one is no longer the upload, and the name is tried again.
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                if created:   # the file's name must survive a power cut as well as its bytes
                    _fsync_dir(self._partial)
                return LocalPartial(fd, path)
            os.close(fd)

    def durable_size(self, sha256: str) -> int:
        """The partial upload's size, made durable first: bytes a writer appended but had
        not yet fsynced (it was killed, or is still writing) are correct bytes at their
        place, and once fsynced here they are as safe as any acknowledged chunk."""
        try:
            fd = os.open(self._part(sha256), os.O_RDONLY)
        except FileNotFoundError:
            return 0
        try:
            os.fsync(fd)
            return os.fstat(fd).st_size
        finally:
            os.close(fd)

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
        """Forget a partial upload; 409 upload_busy while a request is writing it."""
        try:
            held = self.hold(sha256, create=False)
        except FileNotFoundError:
            return
        if held is None:
            raise busy()
        try:
            held.drop()
        finally:
            held.close()

    def read(self, sha256: str) -> Iterator[bytes]:
        with self._final(sha256).open("rb") as f:
            while piece := f.read(READ_PIECE):
                yield piece
