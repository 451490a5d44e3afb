"""Writing files so that a power cut leaves either the old file or the new one."""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

_REASONS = {
    errno.ENOENT: "所在目录不存在", errno.EACCES: "没有权限", errno.EPERM: "没有权限",
    errno.EEXIST: "已有同名文件", errno.ENOTDIR: "路径中有一段不是目录",
    errno.EISDIR: "这是一个目录", errno.ENOSPC: "磁盘空间已满", errno.EROFS: "磁盘只读",
}


def describe_os_error(exc: OSError) -> str:
    """The reason of an OSError in Chinese (the system's own text as a fallback)."""
    return _REASONS.get(exc.errno or 0, exc.strerror or str(exc))


class FileWriteError(OSError):
    """A file could not be written; the message says which and why, in Chinese."""


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` via a temp file, fsync and rename.

    A failure removes the temp file and raises FileWriteError; the old file, if any,
    is untouched.
    """
    if path.is_dir():
        raise FileWriteError(f"{path} 是一个目录，请给出文件名")
    try:
        replace_with_bytes(path, text.encode("utf-8"), path.with_name(f".{path.name}.tmp"))
    except OSError as exc:
        raise FileWriteError(f"无法写入 {path}：{describe_os_error(exc)}") from exc


def replace_with_bytes(path: Path, data: bytes, tmp: Path) -> None:
    """Write ``data`` to ``tmp``, fsync it, rename it over ``path`` and fsync the folder.

    On failure the temp file is removed and the OSError propagates.
    """
    try:
        with open(tmp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    # The rename itself must reach the disk too; directories cannot be opened on Windows.
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
