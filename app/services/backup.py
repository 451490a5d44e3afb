"""Backups that can be trusted, and a restore that never destroys what it replaces.

A backup is a folder ``yichuang-backup-<site>-<terminal>-<time>`` holding a consistent
copy of the database (SQLite's online backup API, safe while the window writes), the
anchor files, the blob store (scanned pages, archived PDFs) and ``manifest.json`` with
the SHA-256 of every file. It is written under a temporary name, verified (SQLite's
``integrity_check`` on the copy and every file's hash) and only then renamed into place,
so a half-written backup never looks like a backup.

The anchors are copied before the database: the copy's anchors can then only lag behind
its database, never run ahead of it (which would be a false alarm on restore).

Restore checks the backup the same way, compares its database with the anchors of the
live installation — a backup older than what was already witnessed (numbers issued
since, records printed since) is refused unless the administrator says so and why —
and moves the current database aside under ``replaced/<time>/``; nothing is deleted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app.config import Settings
from app.errors import UserError
from app.services.attachments import attachment_problems
from app.storage.anchor import ANCHOR_DIR, AnchorFile
from app.storage.blobs import BlobStore
from app.storage.db import Database, open_database
from app.storage.files import InUse, fsync_dir, private_tree
from app.storage.install_meta import meta_get
from app.storage.models import CaseRow

MANIFEST = "manifest.json"
PREFIX = "yichuang-backup-"
FORMAT = "yichuang-backup"
Progress = Callable[[int, int], None]   # done, total (files)


class BackupError(UserError, RuntimeError):
    """A backup or restore that cannot be done; the message says why, in Chinese."""


@dataclass(frozen=True, slots=True)
class BackupInfo:
    path: Path
    created_at: str
    files: int
    bytes: int
    cases: int
    install_id: str
    # Pages and documents the record names that are missing or damaged here, so not in
    # the backup either (app.services.attachments): said, never silently left out.
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RestoreInfo:
    restored_from: Path
    kept_aside: Path | None
    older_than_anchors: bool
    problems: tuple[str, ...]    # what the live anchors had that the backup lacks


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _copy_file(src: Path, dst: Path) -> None:
    """``src`` to ``dst`` whole or not at all: written beside it, then renamed over it (a
    damaged blob being replaced is never half old, half new)."""
    dst.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    part = dst.with_name(f".{dst.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        shutil.copyfile(src, part)
        with open(part, "rb+") as f:
            os.fsync(f.fileno())
        with contextlib.suppress(OSError):
            part.chmod(0o600)
        os.replace(part, dst)
    finally:
        with contextlib.suppress(OSError):
            part.unlink()


def _read_only_uri(path: Path) -> str:
    # as_uri() percent-encodes "#", "?" and "%": a raw "file:{path}" would cut the path at
    # a "#" (U盘#1) and quietly open, or create, some other database.
    return path.absolute().as_uri() + "?mode=ro"


def _sqlite_copy(src: Path, dst: Path) -> None:
    """A consistent snapshot of a live SQLite database (the online backup API)."""
    source = sqlite3.connect(_read_only_uri(src), uri=True, timeout=30)
    try:
        target = sqlite3.connect(dst)
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")   # one self-contained file
        finally:
            target.close()
    finally:
        source.close()
    with open(dst, "rb+") as f:
        os.fsync(f.fileno())
    with contextlib.suppress(OSError):
        dst.chmod(0o600)


def _integrity_ok(db: Path) -> str:
    try:
        conn = sqlite3.connect(_read_only_uri(db), uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return f"数据库副本无法打开：{exc}"
    return "" if result and result[0] == "ok" else f"数据库副本损坏：{result}"


def _meta(db: Path, key: str) -> str:
    try:
        conn = sqlite3.connect(_read_only_uri(db), uri=True)
        try:
            row = conn.execute("SELECT value FROM install_meta WHERE key = ?", (key,)).fetchone()
            return str(row[0]) if row else ""
        finally:
            conn.close()
    except sqlite3.Error:
        return ""


def _count_cases(db: Path) -> int:
    try:
        conn = sqlite3.connect(_read_only_uri(db), uri=True)
        try:
            return int(conn.execute("SELECT count(*) FROM cases").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


class BackupService:
    def __init__(self, settings: Settings, db: Database) -> None:
        self._settings = settings
        self._db = db

    # -- backup ----------------------------------------------------------------------------

    def backup(self, root: Path, *, progress: Progress | None = None) -> BackupInfo:
        """Write a verified backup folder under ``root``; returns where and what."""
        s = self._settings
        home = s.data_dir.resolve()
        try:
            root = root.expanduser().resolve()
        except OSError as exc:
            raise BackupError(f"备份位置 {root} 无法使用：{exc}") from exc
        if root == home or home in root.parents:
            raise BackupError(f"备份不能放在数据目录 {home} 里面：请选另一块磁盘或U盘")
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        final = root / f"{PREFIX}{s.site_code}-{s.terminal}-{stamp}"
        partial = root / f".partial-{uuid.uuid4().hex[:12]}"
        try:
            root.mkdir(parents=True, exist_ok=True)
            partial.mkdir(mode=0o700)
        except OSError as exc:
            raise BackupError(f"无法在 {root} 创建备份：{exc.strerror or exc}") from exc
        try:
            files = self._write(partial, progress)
            manifest = json.loads((partial / MANIFEST).read_text(encoding="utf-8"))
            self.verify(partial)
            if final.exists():
                final = final.with_name(final.name + f"-{uuid.uuid4().hex[:4]}")
            os.replace(partial, final)
            fsync_dir(root)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        with self._db.read() as session:
            problems = tuple(p.message for p in attachment_problems(
                session, BlobStore(s.data_dir / "blobs")))
        return BackupInfo(final, manifest["created_at"], files,
                          sum(int(f["size"]) for f in manifest["files"].values()),
                          int(manifest["cases"]), str(manifest["install_id"]), problems)

    def _write(self, folder: Path, progress: Progress | None) -> int:
        s = self._settings
        entries: dict[str, dict[str, Any]] = {}

        def add(rel: str) -> None:
            p = folder / rel
            entries[rel] = {"sha256": _sha256(p), "size": p.stat().st_size}

        with self._db.read() as session:
            live_id = meta_get(session, "install_id") or ""
            live_cases = session.scalar(select(func.count()).select_from(CaseRow)) or 0
        try:
            for src in sorted(AnchorFile(s.data_dir).segments()):
                _copy_file(src, folder / ANCHOR_DIR / src.name)
                add(f"{ANCHOR_DIR}/{src.name}")
            _sqlite_copy(s.database_path, folder / "yichuang.db")
            add("yichuang.db")
            if s.settings_path.is_file():
                _copy_file(s.settings_path, folder / "settings.toml")
                add("settings.toml")
            blobs = sorted(p for p in (s.data_dir / "blobs").rglob("*")
                           if p.is_file() and not p.name.startswith("."))
            for n, src in enumerate(blobs, 1):
                rel = f"blobs/{src.relative_to(s.data_dir / 'blobs').as_posix()}"
                _copy_file(src, folder / rel)
                add(rel)
                if entries[rel]["sha256"] != src.name:
                    # Damaged on disk: a copy would carry the damage into the backup and,
                    # restored, over a sound file elsewhere. attachment_problems names it.
                    (folder / rel).unlink()
                    del entries[rel]
                if progress:
                    progress(n, len(blobs))
        except sqlite3.Error as exc:
            raise BackupError(f"无法复制数据库：{exc}") from exc
        except OSError as exc:
            raise BackupError(f"备份写入失败：{exc.strerror or exc}（{exc.filename or ''}）") from exc
        db_copy = folder / "yichuang.db"
        # Cases are only ever added: the copy has this database's id and at least the
        # cases it had before copying began, or it is not a copy of it.
        if _meta(db_copy, "install_id") != live_id or _count_cases(db_copy) < live_cases:
            raise BackupError("数据库副本与本机数据库不符（安装编号或办件数不同），备份未完成")
        manifest = {"format": FORMAT, "format_version": 1,
                    "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    "site": s.site_code, "terminal": s.terminal,
                    "install_id": _meta(db_copy, "install_id"),
                    "cases": _count_cases(db_copy), "files": entries}
        (folder / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1),
                                       encoding="utf-8")
        with contextlib.suppress(OSError):
            (folder / MANIFEST).chmod(0o600)
        return len(entries)

    @staticmethod
    def verify(folder: Path) -> dict[str, Any]:
        """Check a backup folder: manifest, every file's hash, the database copy."""
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BackupError(f"{folder} 不是一窗通备份（没有 {MANIFEST}）") from None
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise BackupError(f"备份清单 {folder / MANIFEST} 无法读取：{exc}") from exc
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BackupError(f"{folder} 不是一窗通备份（清单格式不符）")
        files = manifest.get("files")
        if not isinstance(files, dict) or "yichuang.db" not in files:
            raise BackupError(f"备份 {folder} 的清单不完整（缺少数据库）")
        for rel, entry in files.items():
            if not isinstance(rel, str) or not isinstance(entry, dict):
                raise BackupError(f"备份清单 {folder / MANIFEST} 格式不符")
            path = folder / rel
            if ".." in Path(rel).parts or Path(rel).is_absolute():
                raise BackupError(f"备份清单中有不安全的路径：{rel}")
            try:
                if _sha256(path) != entry.get("sha256"):
                    raise BackupError(f"备份文件 {rel} 与清单不符（已损坏或被改动）")
            except OSError as exc:
                raise BackupError(f"备份文件 {rel} 缺失或无法读取：{exc.strerror or exc}") from exc
        problem = _integrity_ok(folder / "yichuang.db")
        if problem:
            raise BackupError(problem)
        return manifest

    # -- daily ------------------------------------------------------------------------------

    def backups(self, root: Path) -> list[Path]:
        try:
            return sorted(p for p in root.iterdir()
                          if p.is_dir() and p.name.startswith(PREFIX)
                          and (p / MANIFEST).is_file())
        except OSError:
            return []

    def backup_if_due(self, *, now: dt.datetime | None = None) -> BackupInfo | None:
        """The daily automatic backup to the configured place, keeping the newest N.

        Due when no backup of this terminal was made today. None when not configured or
        not due. Old backups beyond ``keep`` are removed from the backup place only.
        """
        s = self._settings
        if not s.backup_dir:
            return None
        root = Path(s.backup_dir)
        today = (now or dt.datetime.now()).strftime("%Y%m%d")
        mine = [p for p in self.backups(root)
                if p.name.startswith(f"{PREFIX}{s.site_code}-{s.terminal}-")]
        if any(f"-{today}-" in p.name for p in mine):
            return None
        info = self.backup(root)
        mine = [p for p in self.backups(root)
                if p.name.startswith(f"{PREFIX}{s.site_code}-{s.terminal}-")]
        for old in mine[:-s.backup_keep] if s.backup_keep > 0 else []:
            shutil.rmtree(old, ignore_errors=True)
        return info


# ---- restore ------------------------------------------------------------------------------


def restore(settings: Settings, source: Path, *, accept_older: bool, reason: str,
            os_user: str) -> RestoreInfo:
    """Put the backup at ``source`` in place of the live database (see module doc).

    The window must be closed. Raises BackupError when the backup is damaged, older than
    the live anchors without ``accept_older``, or the live database is in use.
    """
    from app.services.audit import compare_with_anchors

    manifest = BackupService.verify(source)
    other = (manifest.get("site"), manifest.get("terminal")) != (settings.site_code,
                                                                  settings.terminal)
    if other and not accept_older:
        raise BackupError(f"这是站点{manifest.get('site')}终端{manifest.get('terminal')}的备份，"
                          f"本机是站点{settings.site_code}终端{settings.terminal}："
                          "恢复会造成办件编号重复，如确需恢复请加 --accept-older --reason 原因")
    live_anchor = AnchorFile(settings.data_dir)
    problems: list[str] = []
    # Compared as a copy inside the data directory: opening a database changes its file
    # (WAL mode), and the backup must stay as it was verified.
    tmp = settings.database_path.with_name(f".restore-{uuid.uuid4().hex[:8]}.db")
    _copy_file(source / "yichuang.db", tmp)
    try:
        if live_anchor.exists():
            candidate = Database(tmp)
            try:
                with candidate.read() as session:
                    findings = compare_with_anchors(
                        session, live_anchor.state(everything=True),
                        meta_get(session, "install_id"))
                problems = [f.problem for f in findings]
            finally:
                candidate.dispose()
        older = bool(problems)
        if older and not accept_older:
            raise BackupError("备份比本机已锚定的记录旧：" + "；".join(problems[:3])
                              + "。恢复后这些记录将不在数据库中（编号会从已发出的之后继续）。"
                              "确认要恢复请加 --accept-older --reason 原因")
        if older and len(" ".join(reason.split())) < 4:
            raise BackupError("恢复较旧的备份须用 --reason 写明原因（至少4个字）")
        lock = _ensure_not_in_use(settings.data_dir)
    except BaseException:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                tmp.with_name(tmp.name + suffix).unlink()
        raise
    try:
        return _put_in_place(settings, source, manifest, tmp, live_anchor, older, problems,
                             reason, os_user)
    finally:
        lock.release()


def _put_in_place(settings: Settings, source: Path, manifest: dict[str, Any], tmp: Path,
                  live_anchor: AnchorFile, older: bool, problems: list[str], reason: str,
                  os_user: str) -> RestoreInfo:
    from app.services.integrity import IntegrityService

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    aside: Path | None = settings.data_dir / "replaced" / stamp
    moved = False
    for suffix in ("", "-wal", "-shm"):
        live = settings.database_path.with_name(settings.database_path.name + suffix)
        if live.exists():
            assert aside is not None
            aside.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.replace(live, aside / live.name)
            moved = True
    if not moved:
        aside = None
    os.replace(tmp, settings.database_path)
    fsync_dir(settings.data_dir)
    # Blobs are content-addressed: the backup's copy replaces a live one only when that
    # is missing or no longer matches its name (damaged); a sound one is left alone.
    live_blobs = BlobStore(settings.data_dir / "blobs")
    for rel in manifest["files"]:
        if rel.startswith("blobs/"):
            name = Path(rel).name
            if not live_blobs.intact(name):
                _copy_file(source / rel, settings.data_dir / rel)
    if not live_anchor.exists():
        # The live anchors were lost with the disk: the backup's are the best witness left.
        for rel in manifest["files"]:
            if rel.startswith(f"{ANCHOR_DIR}/"):
                _copy_file(source / rel, settings.data_dir / rel)
    private_tree(settings.data_dir / "blobs")
    db = open_database(settings.database_path)
    try:
        integrity = IntegrityService(db, AnchorFile(settings.data_dir))
        why = f"从备份 {source} 恢复" + (f"：{reason}" if reason.strip() else "")
        if older:
            integrity.recover(why, os_user=os_user)
        else:
            integrity.anchor.append({"kind": "restore", "source": str(source), "reason": why,
                                     "os_user": os_user})
    finally:
        db.dispose()
    return RestoreInfo(source, aside, older, tuple(problems))


def _ensure_not_in_use(data_dir: Path) -> InUse:
    """Take the installation's in-use lock exclusively, or say why not."""
    try:
        return InUse(data_dir, exclusive=True)
    except OSError as exc:
        raise BackupError("一窗通窗口或其他命令正在使用这个数据目录：请先关闭后再恢复") from exc
