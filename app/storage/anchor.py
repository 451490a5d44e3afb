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

from app.errors import IntegrityProblem
from app.storage.files import fsync_dir

ANCHOR_DIR = "anchors"
SEGMENT_BYTES = 1024 * 1024   # start-up reads one segment: keep it quick to parse
_PREFIX, _SUFFIX = "segment-", ".jsonl"


class AnchorError(IntegrityProblem, OSError):
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
    # Every head line since the last recovery, per chain: (key, rows that commit wrote).
    # Together they say which rows of a chain this program wrote (see app.services.audit).
    written: dict[tuple[str, str, str], list[tuple[str, int]]] = field(default_factory=dict)
    # (site, terminal) -> (day ISO, seq): the highest number issued
    numbers: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    # (prefix, year, site, terminal) -> the highest 文号 sequence issued
    docnos: dict[tuple[str, int, str, str], int] = field(default_factory=dict)
    latest_time: str = ""          # newest row time any line mentions (UTC ISO)
    recoveries: list[dict[str, Any]] = field(default_factory=list)
    # Rows found at a start beyond the anchored head and anchored then (see
    # IntegrityService.start): a power cut's last commit, or rows written around the program.
    adopted: list[dict[str, str]] = field(default_factory=list)
    lines: int = 0
    unreadable: int = 0            # lines that are not valid anchor lines

    @property
    def empty(self) -> bool:
        return not self.install_id and not self.heads and not self.numbers

    def fold(self, line: dict[str, Any]) -> None:
        """Take one line; a line that is not a valid anchor line counts as unreadable."""
        self.lines += 1
        try:
            self._fold(line)
        except (KeyError, TypeError, ValueError, AttributeError):
            self.unreadable += 1

    def _fold(self, line: dict[str, Any]) -> None:
        kind = line.get("kind")
        if kind in ("install", "summary"):
            self.install_id = str(line.get("install_id", self.install_id))
        if kind == "summary":
            heads, numbers = line["heads"], line["numbers"]
            if not isinstance(heads, list) or not isinstance(numbers, list):
                raise TypeError("summary")
            for h in heads:
                self._head(h, written=False)
            for n in numbers:
                self._number(n)
            for n in line.get("docnos", []):
                self._docno(n)
            self.latest_time = max(self.latest_time, _utc_iso(line.get("latest_time", "")))
        elif kind == "head":
            self._head(line, written=True)
        elif kind == "number":
            self._number(line)
        elif kind == "docno":
            self._docno(line)
        elif kind == "recovery":
            numbers = line.get("numbers", [])
            if not isinstance(numbers, list):
                raise TypeError("recovery")
            # The database accepted here does not contain the heads anchored before it.
            self.recoveries.append(line)
            self.heads.clear()
            self.written.clear()
            self.adopted.clear()
            # An administrator looked at the file and accepted it as it is.
            self.unreadable = 0
            # The times witnessed before it are no longer a floor for the clock either
            # (a clock that once ran fast, or a forged line, must not stop numbering).
            self.latest_time = ""
            self.install_id = str(line.get("install_id", self.install_id))
            for n in numbers:
                self._number(n)
            for n in line.get("docnos", []):
                self._docno(n)
        elif kind not in ("install", "restore", "probe", "torn"):
            raise ValueError(f"unknown kind {kind!r}")

    def _head(self, h: dict[str, Any], *, written: bool) -> None:
        chain = str(h["chain"])
        if chain not in ("events", "documents"):
            raise ValueError(chain)
        head = AnchoredHead(chain, str(h["site"]), str(h["terminal"]), str(h["key"]),
                            str(h["hash"]), _utc_iso(h.get("time", "")))
        if len(head.hash) != 64 or not head.key:
            raise ValueError("hash")
        where = (head.chain, head.site, head.terminal)
        self.heads[where] = head
        if written:
            rows = int(h.get("n", 1))
            if rows < 1:
                raise ValueError("n")
            self.written.setdefault(where, []).append((head.key, rows))
            if h.get("adopted"):
                self.adopted.append({"chain": head.chain, "site": head.site,
                                     "terminal": head.terminal, "rows": str(rows),
                                     "at": str(h.get("at", ""))})
        self.latest_time = max(self.latest_time, head.time)

    def _number(self, n: dict[str, Any]) -> None:
        where = (str(n["site"]), str(n["terminal"]))
        mark = (dt.date.fromisoformat(str(n["day"])).isoformat(), int(n["seq"]))
        if mark[1] < 1:
            raise ValueError("seq")
        if where not in self.numbers or mark > self.numbers[where]:
            self.numbers[where] = mark

    def _docno(self, n: dict[str, Any]) -> None:
        where = (str(n["prefix"]), int(n["year"]), str(n["site"]), str(n["terminal"]))
        seq = int(n["seq"])
        if seq < 1:
            raise ValueError("docno")
        self.docnos[where] = max(seq, self.docnos.get(where, 0))

    def docno_lines(self) -> list[dict[str, Any]]:
        return [docno_line(a, y, s, t, q) for (a, y, s, t), q in sorted(self.docnos.items())]

    def summary(self) -> dict[str, Any]:
        return {"kind": "summary", "install_id": self.install_id,
                "heads": [{"chain": h.chain, "site": h.site, "terminal": h.terminal,
                           "key": h.key, "hash": h.hash, "time": h.time}
                          for h in self.heads.values()],
                "numbers": [{"site": s, "terminal": t, "day": d, "seq": q}
                            for (s, t), (d, q) in sorted(self.numbers.items())],
                "docnos": self.docno_lines(),
                "latest_time": self.latest_time}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _utc_iso(value: Any) -> str:
    """A time as comparable UTC ISO text; "" for none; ValueError for anything else."""
    if value in ("", None):
        return ""
    moment = dt.datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError("time without zone")
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


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
        chosen = segments if everything else segments[-1:]
        for path in chosen:
            lines = list(_lines(path))
            for n, line in enumerate(lines):
                if line is None:
                    last = path == segments[-1] and n == len(lines) - 1
                    closed = n + 1 < len(lines) and (lines[n + 1] or {}).get("kind") == "torn"
                    if not (last or closed):   # not a line a power cut tore off
                        state.lines += 1
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
                if segments:
                    _close_torn_line(current)
                if segments and current.stat().st_size + len(payload) > SEGMENT_BYTES:
                    summary = self.state().summary()
                    current = self.folder / _segment_name(_segment_number(current) + 1)
                    payload = (json.dumps({"at": _now(), **summary}, ensure_ascii=False,
                                          sort_keys=True) + "\n").encode("utf-8") + payload
                created = not current.exists()
                fd = os.open(current, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
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
              time: str, rows: int) -> dict[str, Any]:
    """The new head of a chain after a commit that appended ``rows`` rows to it."""
    return {"kind": "head", "chain": chain, "site": site, "terminal": terminal, "key": key,
            "hash": hash_, "time": time, "n": rows}


def number_line(site: str, terminal: str, day: dt.date, seq: int) -> dict[str, Any]:
    return {"kind": "number", "site": site, "terminal": terminal, "day": day.isoformat(),
            "seq": seq}


def docno_line(prefix: str, year: int, site: str, terminal: str, seq: int
               ) -> dict[str, Any]:
    """A 文号 issued (see app.domain.notice): numbering resumes above it after a restore."""
    return {"kind": "docno", "prefix": prefix, "year": year, "site": site,
            "terminal": terminal, "seq": seq}


def _close_torn_line(path: Path) -> None:
    """End a last line a power cut tore off, and say so: readers then tell it from a
    line someone spoiled, also once the segment is closed and the next one begins."""
    fd = os.open(path, os.O_RDWR | os.O_APPEND)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            os.write(fd, b'\n{"kind": "torn"}\n')
            os.fsync(fd)
    finally:
        os.close(fd)


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
