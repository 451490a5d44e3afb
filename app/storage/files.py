"""Writing files so that a power cut leaves either the old file or the new one."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

from app.errors import UserError

_REASONS = {
    errno.ENOENT: "所在目录不存在", errno.EACCES: "没有权限", errno.EPERM: "没有权限",
    errno.EEXIST: "已有同名文件", errno.ENOTDIR: "路径中有一段不是目录",
    errno.EISDIR: "这是一个目录", errno.ENOSPC: "磁盘空间已满", errno.EROFS: "磁盘只读",
}


def describe_os_error(exc: OSError) -> str:
    """The reason of an OSError in Chinese (the system's own text as a fallback)."""
    return _REASONS.get(exc.errno or 0, exc.strerror or str(exc))


class FileWriteError(UserError, OSError):
    """A file could not be written; the message says which and why, in Chinese."""


class UnsafePath(FileWriteError):
    """An output path that would overwrite the installation's own data, or a file that
    exists (without ``force``)."""


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` via a temp file, fsync and rename.

    A failure removes the temp file and raises FileWriteError; the old file, if any,
    is untouched.
    """
    if path.is_dir():
        raise FileWriteError(f"{path} 是一个目录，请给出文件名")
    try:
        replace_with_bytes(path, text.encode("utf-8"))
    except OSError as exc:
        raise FileWriteError(f"无法写入 {path}：{describe_os_error(exc)}") from exc


def replace_with_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a unique temp file beside ``path`` (mode 0600), fsync it, rename
    it over ``path`` and fsync the folder.

    Renaming replaces the directory entry, never writes through it: a symlink or a hard
    link at ``path`` is replaced, not followed. On failure the temp file is removed and
    the OSError propagates.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def check_output_path(path: Path, data_dir: Path, *, force: bool) -> Path:
    """Refuse an export or PDF path inside the data directory (however it is spelt:
    relative, through a symlink) or an existing file unless ``force``; a directory or
    device is refused always. Returns the path to write."""
    try:
        home = data_dir.resolve()
        target = path.expanduser().absolute()
        resolved = target.resolve()
    except (OSError, RuntimeError) as exc:   # a symlink loop
        raise UnsafePath(f"无法使用路径 {path}：{exc}") from exc
    for candidate in (target, resolved, resolved.parent):
        if candidate == home or home in candidate.parents:
            raise UnsafePath(f"不能写到数据目录 {home} 里面（{path}）：那里是本机的数据库和档案，"
                             "请换一个位置")
    if target.is_dir():
        raise UnsafePath(f"{path} 是一个目录，请给出文件名")
    if target.exists() or target.is_symlink():
        if not target.is_file():
            raise UnsafePath(f"{path} 不是普通文件，不能写入")
        if not force:
            raise UnsafePath(f"文件 {path} 已存在；确认要覆盖请加 --force")
    return target


def secure_data_dir(data_dir: Path, database: Path) -> None:
    """Keep the installation private: the folder 0700, the database files 0600.

    The folder's mode is what keeps other accounts out of everything below it; the
    files' modes are a second line. (On Windows the user's profile ACL does this.)
    """
    if os.name != "posix":
        return
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if stat.S_IMODE(data_dir.stat().st_mode) != 0o700:
            data_dir.chmod(0o700)
        if not database.exists():
            # Created here so SQLite (and its -wal/-shm, which copy its mode) start 0600.
            os.close(os.open(database, os.O_WRONLY | os.O_CREAT, 0o600))
        for f in (database, database.with_name(database.name + "-wal"),
                  database.with_name(database.name + "-shm")):
            if f.exists() and stat.S_IMODE(f.stat().st_mode) & 0o077:
                f.chmod(0o600)
    except OSError:
        return   # opening the database reports what is wrong with the folder


def private_tree(root: Path) -> None:
    """Make every folder below ``root`` 0700 and every file 0600 (older installs)."""
    if os.name != "posix" or not root.exists():
        return
    for folder, dirs, files in os.walk(root):
        with contextlib.suppress(OSError):
            os.chmod(folder, 0o700)
        for name in files:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(folder, name), 0o600)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]


class InUse:
    """A lock file every open installation holds shared, for as long as it is open.

    Restore takes it exclusively: with SQLite in WAL mode an idle window holds no
    database lock, and a restore under it would leave the window writing into the
    database that was just moved aside. (POSIX flock; elsewhere the check is skipped.)
    """

    NAME = ".in-use"

    def __init__(self, data_dir: Path, *, exclusive: bool = False) -> None:
        self._fd: int | None = None
        if os.name != "posix":
            return
        import fcntl

        fd = os.open(data_dir / self.NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX | fcntl.LOCK_NB) if exclusive else fcntl.LOCK_SH)
        except OSError:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


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
