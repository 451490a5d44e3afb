"""The chain heads and issued numbers, kept outside the database as well.

A database can be replaced by an older copy, emptied, truncated or re-hashed by someone
with the file; the database alone cannot prove that it was not. So after every commit
that extends a chain or issues a case number, one line goes into an append-only,
fsynced file beside it (``anchors/segment-NNNNNN.jsonl``):

- ``install``: which installation (its id in ``install_meta``) these lines speak for;
- ``head``: the newest row of a chain (events or documents of a site/terminal): key and
  hash, and the time it was written;
- ``number``: the highest case number sequence issued for a terminal on a day;
- ``recovery``: an administrator accepted a database that does not match the lines
  before it (logged with who, when and why); numbering continues above every mark.

Lines are written after the commit, never before: a power cut between the two leaves
the file one step behind the database (harmless), never ahead of it (a false alarm).
A segment that passes :data:`SEGMENT_BYTES` is closed and the next one opens with a
``summary`` line of everything known so far, so start-up reads only the newest segment.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.storage.files import fsync_dir

ANCHOR_DIR = "anchors"
SEGMENT_BYTES = 1024 * 1024   # start-up reads one segment: keep it quick to parse
_PREFIX, _SUFFIX = "segment-", ".jsonl"


class AnchorError(OSError):
    """The anchor file cannot be written or read (message in Chinese)."""


@dataclass(frozen=True, slots=True)
class AnchoredHead:
    chain: str
    site: str
    terminal: str
    key: str
    hash: str
    time: str      # ISO UTC of the row, for the clock check


@dataclass
class AnchorState:
    """Everything the anchor lines say, folded (later lines win)."""

    install_id: str = ""
    heads: dict[tuple[str, str, str], AnchoredHead] = field(default_factory=dict)
    # (site, terminal) -> (day ISO, seq): the highest number issued
    numbers: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    latest_time: str = ""          # newest row time any line mentions
    recoveries: list[dict[str, Any]] = field(default_factory=list)
    lines: int = 0
    unreadable: int = 0            # lines that are not JSON (a torn last line after a crash)

    @property
    def empty(self) -> bool:
        return not self.install_id and not self.heads and not self.numbers

    def fold(self, line: dict[str, Any]) -> None:
        kind = line.get("kind")
        self.lines += 1
        if kind in ("install", "summary"):
            self.install_id = str(line.get("install_id", self.install_id))
        if kind == "summary":
            for h in line.get("heads", []):
                self._head(h)
            for n in line.get("numbers", []):
                self._number(n)
            self.latest_time = max(self.latest_time, str(line.get("latest_time", "")))
        elif kind == "head":
            self._head(line)
        elif kind == "number":
            self._number(line)
        elif kind == "recovery":
            # The database accepted here does not contain the heads anchored before it.
            self.recoveries.append(line)
            self.heads.clear()
            # The times witnessed before it are no longer a floor for the clock either
            # (a bogus far-future line must not stop numbering for good).
            self.latest_time = ""
            self.install_id = str(line.get("install_id", self.install_id))
            for n in line.get("numbers", []):
                self._number(n)

    def _head(self, h: dict[str, Any]) -> None:
        head = AnchoredHead(str(h["chain"]), str(h["site"]), str(h["terminal"]),
                            str(h["key"]), str(h["hash"]), str(h.get("time", "")))
        self.heads[(head.chain, head.site, head.terminal)] = head
        self.latest_time = max(self.latest_time, head.time)

    def _number(self, n: dict[str, Any]) -> None:
        where = (str(n["site"]), str(n["terminal"]))
        mark = (str(n["day"]), int(n["seq"]))
        if where not in self.numbers or mark > self.numbers[where]:
            self.numbers[where] = mark

    def summary(self) -> dict[str, Any]:
        return {"kind": "summary", "install_id": self.install_id,
                "heads": [{"chain": h.chain, "site": h.site, "terminal": h.terminal,
                           "key": h.key, "hash": h.hash, "time": h.time}
                          for h in self.heads.values()],
                "numbers": [{"site": s, "terminal": t, "day": d, "seq": q}
                            for (s, t), (d, q) in sorted(self.numbers.items())],
                "latest_time": self.latest_time}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class AnchorFile:
    """The anchor segments of one data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.folder = data_dir / ANCHOR_DIR

    # -- reading ------------------------------------------------------------------------

    def segments(self) -> list[Path]:
        try:
            found = sorted(p for p in self.folder.iterdir()
                           if p.name.startswith(_PREFIX) and p.name.endswith(_SUFFIX))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise AnchorError(f"无法读取锚定目录 {self.folder}：{exc}") from exc
        return found

    def exists(self) -> bool:
        return bool(self.segments())

    def state(self, *, everything: bool = False) -> AnchorState:
        """The folded lines: of the newest segment (it opens with a summary of the ones
        before), or of every segment with ``everything``."""
        state = AnchorState()
        segments = self.segments()
        for path in segments if everything else segments[-1:]:
            for line in _lines(path):
                if line is None:
                    state.unreadable += 1
                else:
                    state.fold(line)
        return state

    # -- writing ------------------------------------------------------------------------

    def append(self, *lines: dict[str, Any]) -> None:
        """Append ``lines`` (one write, fsynced) under an exclusive lock."""
        if not lines:
            return
        stamped = [{"at": _now(), **line} for line in lines]
        payload = "".join(json.dumps(x, ensure_ascii=False, sort_keys=True) + "\n"
                          for x in stamped).encode("utf-8")
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            with self._locked():
                segments = self.segments()
                current = segments[-1] if segments else self.folder / _segment_name(1)
                if segments and current.stat().st_size + len(payload) > SEGMENT_BYTES:
                    summary = self.state().summary()
                    current = self.folder / _segment_name(_segment_number(current) + 1)
                    payload = (json.dumps({"at": _now(), **summary}, ensure_ascii=False,
                                          sort_keys=True) + "\n").encode("utf-8") + payload
                created = not current.exists()
                fd = os.open(current, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, payload)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                if created:
                    fsync_dir(self.folder)
        except OSError as exc:
            raise AnchorError(f"无法写入锚定文件 {self.folder}：{exc}") from exc

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.name == "posix":
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)   # closing releases the lock


def head_line(chain: str, site: str, terminal: str, key: str, hash_: str,
              time: str) -> dict[str, Any]:
    return {"kind": "head", "chain": chain, "site": site, "terminal": terminal, "key": key,
            "hash": hash_, "time": time}


def number_line(site: str, terminal: str, day: dt.date, seq: int) -> dict[str, Any]:
    return {"kind": "number", "site": site, "terminal": terminal, "day": day.isoformat(),
            "seq": seq}


def _segment_name(n: int) -> str:
    return f"{_PREFIX}{n:06d}{_SUFFIX}"


def _segment_number(path: Path) -> int:
    return int(path.name[len(_PREFIX):-len(_SUFFIX)])


def _lines(path: Path) -> Iterator[dict[str, Any] | None]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AnchorError(f"无法读取锚定文件 {path}：{exc}") from exc
    for raw in data.splitlines():
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            yield None
            continue
        yield value if isinstance(value, dict) else None
