"""The content-addressed store for attachments: generated PDFs now, scanned pages later.

A blob lives at ``blobs/ab/abcdef…`` named by the SHA-256 of its bytes, written to a
temp name, fsynced and renamed — a power cut leaves either no blob or a whole one, and
storing the same bytes twice costs nothing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from app.storage.files import FileWriteError, describe_os_error, replace_with_bytes


class BlobMissing(LookupError):
    """A blob the database names is not on disk (or no longer matches its hash)."""


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        """Store ``data``; return its SHA-256 (hex). Idempotent."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if self.intact(digest):
            return digest
        # Missing, or damaged on disk (a bit flipped, a truncated copy): storing the
        # bytes again is how a damaged page is mended, so the old file is replaced.
        try:
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            replace_with_bytes(target, data)
        except OSError as exc:
            raise FileWriteError(f"无法保存文件到 {self.root}：{describe_os_error(exc)}") from exc
        return digest

    def intact(self, sha256: str) -> bool:
        """Whether the blob is on disk and still matches its name."""
        target = self.path(sha256)
        try:
            with target.open("rb") as f:
                return hashlib.file_digest(f, "sha256").hexdigest() == sha256
        except OSError:
            return False

    def get(self, sha256: str) -> bytes:
        """The blob's bytes, verified against its name."""
        try:
            data = self.path(sha256).read_bytes()
        except OSError as exc:
            raise BlobMissing(f"存档文件 {sha256[:12]}… 不存在：{describe_os_error(exc)}") from exc
        if hashlib.sha256(data).hexdigest() != sha256:
            raise BlobMissing(f"存档文件 {sha256[:12]}… 已损坏（内容与校验值不符）")
        return data
