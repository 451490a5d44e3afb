"""A watched folder: where a network scanner's "scan to folder" (SMB or a local share)
drops its files.

The folder is polled, not watched through inotify or its kin: change notifications do
not cross SMB shares reliably, and a scanner writing a file in pieces is told apart from
a finished one by its size and mtime standing still for ``settle_seconds`` either way.
A finished file is read once, hashed (SHA-256) and taken unless that hash was taken
before — a scan copied twice or renamed is taken once. The ledger (JSON, replaced
atomically) remembers the hashes across restarts; files stay where they are, cleaning
the folder up is the administrator's call.

A file that cannot be decoded is *refused*: reported once (``progress`` and
``problems``), remembered in the ledger under its hash and not tried again; a corrected
file has another hash and is taken. A file that cannot be read (locked by the scanner,
a network hiccup) is tried again at the next poll. Only names with a picture or PDF
suffix are looked at, so the ``Thumbs.db`` and notes a share collects are not refused
every time; sub-folders are not entered.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from app.capture.files import FileUnavailable, display_name, load, pages_of
from app.capture.source import (
    Cancel,
    Cancelled,
    Capabilities,
    CaptureError,
    DeviceGone,
    Progress,
    RawPage,
    ScanSettings,
    SourceInfo,
    SourceKind,
    no_progress,
)
from app.storage.files import describe_os_error, replace_with_bytes

SUFFIXES = {".pdf", ".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".bmp", ".webp"}
# Names scanners and copy programs give files they are still writing.
_PARTIAL_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".crdownload", ".filepart",
                     ".download", "~")
_LEDGER_VERSION = 1


def is_candidate(name: str) -> bool:
    lowered = name.lower()
    if lowered.startswith((".", "~")) or lowered.endswith(_PARTIAL_SUFFIXES):
        return False
    return os.path.splitext(lowered)[1] in SUFFIXES


@dataclass(frozen=True, slots=True)
class FolderProblem:
    """A file of the folder that was refused, and why (the message for the clerk)."""
    path: Path
    sha256: str
    message: str


@dataclass(slots=True)
class _Sighting:
    signature: tuple[int, int]   # size, mtime_ns
    since: float                 # monotonic time the signature was first seen
    done: bool = False           # taken, a duplicate or refused: not read again
    reported: bool = False       # a read failure already told to the clerk


class WatchedFolder:
    """Pages from the files a scanner leaves in ``root`` (spec ``folder:<path>``)."""

    def __init__(self, root: Path, ledger: Path, *, settle_seconds: float = 2.0,
                 poll_seconds: float = 0.5) -> None:
        self.root = root
        self.ledger = ledger
        self.settle_seconds = settle_seconds
        self.poll_seconds = poll_seconds
        self.problems: list[FolderProblem] = []
        self._sightings: dict[str, _Sighting] = {}
        self._reachable = False

    @property
    def info(self) -> SourceInfo:
        shown = os.fsencode(self.root).decode("utf-8", errors="replace")
        return SourceInfo(f"folder:{shown}", SourceKind.FOLDER, f"扫描文件夹 {shown}",
                          Capabilities(colour=True, max_dpi=600))

    def acquire(self, settings: ScanSettings, cancel: Cancel,
                progress: Progress = no_progress) -> Iterator[RawPage]:
        """Every finished file in the folder not taken before; returns once no file is
        still being written. Files refused on the way are listed in one CaptureError at
        the end, after every good page was delivered."""
        refused_before = len(self.problems)
        yield from self._poll(settings, cancel, progress, until_quiet=True)
        refused = self.problems[refused_before:]
        if refused:
            raise CaptureError(f"文件夹中有 {len(refused)} 个文件无法读取，已跳过："
                               + "；".join(p.message for p in refused))

    def watch(self, cancel: Cancel, progress: Progress = no_progress,
              settings: ScanSettings | None = None) -> Iterator[RawPage]:
        """Keep taking files as the scanner writes them until ``cancel`` is set (then
        Cancelled is raised, as from any source). Refused files only go to
        ``progress`` and ``problems``: one bad file does not stop the watch."""
        yield from self._poll(settings or ScanSettings(), cancel, progress, until_quiet=False)

    def _poll(self, settings: ScanSettings, cancel: Cancel, progress: Progress, *,
              until_quiet: bool) -> Iterator[RawPage]:
        with _LedgerLock(self.ledger):
            ledger = _Ledger.read(self.ledger)
            while True:
                cancel.check()
                waiting = False
                for path in self._settled(ledger):
                    if path is None:
                        waiting = True
                    else:
                        yield from self._take(path, ledger, settings, cancel, progress)
                if until_quiet and not waiting:
                    return
                time.sleep(self.poll_seconds)

    def _settled(self, ledger: _Ledger) -> Iterator[Path | None]:
        """The files whose size and mtime stood still for ``settle_seconds`` and that
        were not dealt with yet; None for each file still being written."""
        now = time.monotonic()
        present: set[str] = set()
        known_files = ledger.known()
        for name, signature in self._listing():
            present.add(name)
            seen = self._sightings.get(name)
            if seen is None or seen.signature != signature:
                # A file the ledger took under this very name, size and mtime is not
                # read again (a folder of a year's scans is not re-hashed at each start).
                known = (name, *signature) in known_files
                self._sightings[name] = _Sighting(signature, now, done=known)
                if not known:
                    yield None
            elif not seen.done:
                yield self.root / name if now - seen.since >= self.settle_seconds else None
        for gone in set(self._sightings) - present:
            del self._sightings[gone]

    def _listing(self) -> list[tuple[str, tuple[int, int]]]:
        try:
            with os.scandir(self.root) as entries:
                found = []
                for entry in entries:
                    if not is_candidate(entry.name):
                        continue
                    with contextlib.suppress(OSError):   # removed while listing
                        info = entry.stat(follow_symlinks=False)
                        # An empty file is one the scanner has only created so far. A
                        # link is not a scan: it could point at another case's page.
                        if entry.is_file(follow_symlinks=False) and info.st_size > 0:
                            found.append((entry.name, (info.st_size, info.st_mtime_ns)))
        except NotADirectoryError as exc:
            raise CaptureError(f"{self._shown()} 不是文件夹，请检查扫描文件夹的设置。") from exc
        except OSError as exc:
            if self._reachable:
                raise self._gone(exc) from exc
            raise CaptureError(f"无法打开扫描文件夹 {self._shown()}（{describe_os_error(exc)}）。"
                               "请检查网络共享是否已连接、路径是否正确。") from exc
        self._reachable = True
        return found

    def _gone(self, exc: OSError | None = None) -> DeviceGone:
        why = f"（{describe_os_error(exc)}）" if exc is not None else ""
        return DeviceGone(f"扫描文件夹 {self._shown()} 无法访问了{why}。"
                          "请检查网络共享或存储是否断开，恢复后重新扫描。")

    def _shown(self) -> str:
        return os.fsencode(self.root).decode("utf-8", errors="replace")

    def _take(self, path: Path, ledger: _Ledger, settings: ScanSettings, cancel: Cancel,
              progress: Progress) -> Iterator[RawPage]:
        sighting = self._sightings[path.name]
        try:
            file = load(path, follow_symlinks=False)
        except FileUnavailable as exc:
            if not self.root.is_dir():
                raise self._gone() from exc
            # Held open by the scanner, moved away, a network hiccup: the next poll
            # tries again; the clerk hears of it once.
            if not sighting.reported:
                sighting.reported = True
                progress(str(exc))
            return
        except CaptureError as exc:   # too big, empty: its content will not change
            sighting.done = True
            self._refuse(path, "", str(exc), ledger, progress)
            return
        digest = file.sha256
        if digest in ledger.taken or digest in ledger.refused:
            sighting.done = True
            return
        progress(f"正在读取 {file.name}…")
        try:
            # Marked taken only once the last page was handed over and the caller came
            # back for more: a crash in between takes the file again, never loses it.
            yield from pages_of(file, dpi=settings.dpi, cancel=cancel, progress=progress)
        except Cancelled:
            raise
        except CaptureError as exc:
            sighting.done = True
            self._refuse(path, digest, str(exc), ledger, progress)
            return
        sighting.done = True
        ledger.taken[digest] = {**_entry(path), "size": str(sighting.signature[0]),
                                "mtime_ns": str(sighting.signature[1])}
        ledger.write()

    def _refuse(self, path: Path, digest: str, message: str, ledger: _Ledger,
                progress: Progress) -> None:
        self.problems.append(FolderProblem(path, digest, message))
        progress(message)
        if digest:
            ledger.refused[digest] = {**_entry(path), "reason": message}
            ledger.write()


def _entry(path: Path) -> dict[str, str]:
    return {"name": display_name(path), "at": datetime.now(UTC).isoformat(timespec="seconds")}


class _Ledger:
    """The hashes taken and refused, as ``{"version": 1, "taken": {sha: {name, at}},
    "refused": {sha: {name, at, reason}}}``: readable by an administrator."""

    def __init__(self, path: Path, taken: dict[str, dict[str, str]],
                 refused: dict[str, dict[str, str]]) -> None:
        self.path = path
        self.taken = taken
        self.refused = refused

    def known(self) -> set[tuple[str, int, int]]:
        """(name, size, mtime_ns) of the files taken."""
        found = set()
        for entry in self.taken.values():
            with contextlib.suppress(AttributeError, KeyError, TypeError, ValueError):
                found.add((str(entry["name"]), int(entry["size"]), int(entry["mtime_ns"])))
        return found

    @classmethod
    def read(cls, path: Path) -> _Ledger:
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError:
            return cls(path, {}, {})
        except (OSError, ValueError) as exc:
            raise CaptureError(f"扫描文件夹的接收记录 {path} 无法读取或已损坏。为免重复接收，"
                               "已停止；请管理员检查或移走该文件后重试。") from exc
        if (not isinstance(data, dict) or data.get("version") != _LEDGER_VERSION
                or not isinstance(data.get("taken"), dict)
                or not isinstance(data.get("refused"), dict)):
            raise CaptureError(f"扫描文件夹的接收记录 {path} 格式不对。为免重复接收，"
                               "已停止；请管理员检查或移走该文件后重试。")
        return cls(path, data["taken"], data["refused"])

    def write(self) -> None:
        text = json.dumps({"version": _LEDGER_VERSION, "taken": self.taken,
                           "refused": self.refused}, ensure_ascii=False, indent=1)
        try:
            replace_with_bytes(self.path, text.encode("utf-8"))
        except OSError as exc:
            raise CaptureError(f"无法写入扫描文件夹的接收记录 {self.path}"
                               f"（{describe_os_error(exc)}）。请检查数据目录的空间和权限。"
                               ) from exc


class _LedgerLock:
    """One watcher per ledger across processes (POSIX flock beside the ledger;
    elsewhere not checked): two would take every file twice."""

    def __init__(self, ledger: Path) -> None:
        self._path = ledger.with_name(ledger.name + ".lock")
        self._fd: int | None = None

    def __enter__(self) -> _LedgerLock:
        if os.name != "posix":
            return self
        import fcntl

        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise CaptureError(f"无法创建扫描文件夹的接收记录 {self._path}"
                               f"（{describe_os_error(exc)}）。请检查数据目录。") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            raise CaptureError("这个扫描文件夹正由另一个窗口或程序接收。"
                               "请在那里停止接收后再试。") from exc
        self._fd = fd
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
