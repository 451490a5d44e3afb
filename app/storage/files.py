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
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise FileWriteError(f"无法写入 {path}：{describe_os_error(exc)}") from exc
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
