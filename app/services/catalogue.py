"""The catalogue use cases: import, export, releases, list, show and search."""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.domain.catalogue import Bundle, Catalogue, ServiceItem
from app.domain.catalogue_format import (
    MAX_FILE_BYTES,
    CatalogueFileError,
    CatalogueIssue,
    item_from_json,
    parse_catalogue_bytes,
)
from app.domain.catalogue_writer import bundle_to_json, catalogue_to_json, item_to_json
from app.errors import UserError
from app.notifications import DatabaseChanged, changes_of
from app.services.calendar import ReferenceFileRefused, read_reference_file
from app.services.reference_cache import ReferenceCache
from app.services.search import (
    CatalogueIndex,
    SearchEntry,
    SearchHit,
    pinyin_keys,
    search_tokens,
)
from app.storage.db import Database
from app.storage.files import write_atomically
from app.storage.models import (
    CatalogueBundleRow,
    CatalogueItemRow,
    CatalogueRelease,
    CatalogueReleaseItem,
)

Row = dict[str, Any]   # one row for a bulk insert, by column name


class NotFound(UserError, LookupError):
    """No item or bundle with that code; the message is for the clerk."""


@dataclass(frozen=True, slots=True)
class ImportResult:
    version: str
    items: int
    new_items: int       # (code, version) pairs not seen before
    bundles: int
    unchanged: bool      # the very same file was already the current catalogue


@dataclass(frozen=True, slots=True)
class ReleaseInfo:
    id: int
    version: str
    publisher: str
    published_at: dt.date | None
    imported_at: dt.datetime
    origin: str
    items: int
    bundles: int
    current: bool


@dataclass(frozen=True, slots=True)
class SearchResult:
    kind: str  # "item" | "bundle"
    code: str
    name: str
    department: str
    rank: int


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """What the current release needs in memory for searching and look-ups."""

    version: str
    publisher: str
    published_at: dt.date | None
    versions: dict[str, str]  # item code -> version, in catalogue order
    bundles: tuple[Bundle, ...]
    index: CatalogueIndex


def _canonical(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _sha256(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


class CatalogueService:
    """Catalogue access for the window and the CLI; caches the current release."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        # The full catalogue, valid for the snapshot it was built from.
        self._current: tuple[_Snapshot, Catalogue] | None = None
        self._snap = ReferenceCache(self._current_release_id, self._load_snapshot)
        self._items: dict[tuple[str, str], ServiceItem] = {}
        # Another process's commit (an import from the CLI): recheck at the next read, so
        # a reload triggered by the same notice never gets the old release.
        changes_of(db).subscribe(
            lambda change: self._snap.expire() if isinstance(change, DatabaseChanged) else None)

    # ---- import / export --------------------------------------------------------------

    def import_file(self, path: Path) -> ImportResult:
        """Validate and import a catalogue file; on any error the current one stays."""
        try:
            data = read_reference_file(path, max_bytes=MAX_FILE_BYTES, what="事项目录")
        except ReferenceFileRefused as exc:
            raise CatalogueFileError([CatalogueIssue("", "", str(exc))]) from exc
        catalogue = parse_catalogue_bytes(data)
        return self.import_catalogue(catalogue, origin=str(path), sha256=_sha256(data))

    def import_catalogue(self, catalogue: Catalogue, *, origin: str,
                         sha256: str) -> ImportResult:
        """Store a validated catalogue as a new release and make it current.

        A large catalogue is written in many short write transactions (see
        :class:`_Batches`), so case writes of the window, here or in another process,
        never wait long behind an import. The order makes every interruption harmless:
        item rows first (content-addressed by (code, version) and immutable, so rows
        left behind are reused by the next import), then the release with its item and
        bundle rows while it is not current, and last one short transaction that makes
        it current (and sets its ``imported_at``). Until then the previous release stays
        current and intact; on an error the unfinished release is removed again (and
        hidden from :meth:`releases` if even that fails).
        """
        # Everything slow happens before the write lock is taken: pypinyin over thousands
        # of names takes seconds, and other windows must not wait on it.
        items = catalogue.items
        bodies = [item_to_json(item) for item in items]
        digests = [_sha256(_canonical(body)) for body in bodies]
        with self._db.read() as session:
            current_sha = session.scalar(
                select(CatalogueRelease.sha256).where(CatalogueRelease.is_current))
        if current_sha == sha256:
            return ImportResult(catalogue.version, len(items), 0, len(catalogue.bundles),
                                unchanged=True)
        stored = self._stored_items([item.code for item in items])
        _check_conflicts(items, digests, stored)
        new_rows: list[Row] = []
        for item, body, digest in zip(items, bodies, digests, strict=True):
            if (item.code, item.version) in stored:
                continue
            full, initials = pinyin_keys(item.name)
            new_rows.append(dict(
                code=item.code, version=item.version, name=item.name,
                department=item.department.name, level=str(item.level),
                kind=str(item.kind), withdrawn_at=item.withdrawn_at,
                name_pinyin=full, name_initials=initials,
                search_keywords=search_tokens(item.keywords, item.result), body=body,
                body_sha256=digest))
        bundle_rows: list[Row] = []
        for bundle in catalogue.bundles:
            full, initials = pinyin_keys(bundle.name)
            bundle_rows.append(dict(code=bundle.code, name=bundle.name, name_pinyin=full,
                                    name_initials=initials, body=bundle_to_json(bundle)))

        with paused_gc():
            return self._write_release(catalogue, origin, sha256, digests, new_rows,
                                       bundle_rows)

    def _write_release(self, catalogue: Catalogue, origin: str, sha256: str,
                       digests: list[str], new_rows: list[Row],
                       bundle_rows: list[Row]) -> ImportResult:
        items = catalogue.items
        batches = _Batches(self._db)
        batches.run(new_rows, _insert_items)
        # Another process may have stored some of the same (code, version) pairs meanwhile.
        stored = self._stored_items([item.code for item in items])
        _check_conflicts(items, digests, stored)

        with self._db.write() as session:
            release = CatalogueRelease(
                version=catalogue.version, publisher=catalogue.publisher,
                published_at=catalogue.published_at, imported_at=UNFINISHED, origin=origin,
                sha256=sha256, item_count=len(items),
                bundle_count=len(catalogue.bundles), is_current=False)
            session.add(release)
            session.flush()
            release_id = release.id
        try:
            links = [{"release_id": release_id, "item_id": stored[(i.code, i.version)][0],
                      "position": position} for position, i in enumerate(items)]
            batches.run(links, _insert_links)
            batches.run([{**b, "release_id": release_id} for b in bundle_rows],
                        _insert_bundles)
            with self._db.write() as session:
                linked = session.scalar(select(func.count()).select_from(CatalogueReleaseItem)
                                        .where(CatalogueReleaseItem.release_id == release_id))
                if linked != len(items):
                    raise RuntimeError(f"目录版本 {catalogue.version} 未完整写入"
                                       f"（{linked}/{len(items)}个事项），未启用")
                session.execute(update(CatalogueRelease).where(CatalogueRelease.is_current)
                                .values(is_current=False))
                session.execute(update(CatalogueRelease)
                                .where(CatalogueRelease.id == release_id)
                                .values(is_current=True, imported_at=_now()))
        except BaseException:
            self._discard_release(release_id)
            raise
        finally:
            self._snap.invalidate()
        changes_of(self._db).catalogue_changed()
        return ImportResult(catalogue.version, len(items), len(new_rows),
                            len(catalogue.bundles), unchanged=False)

    def _stored_items(self, codes: list[str]) -> dict[tuple[str, str], tuple[int, str]]:
        """(code, version) -> (row id, body hash) of the stored versions of ``codes``."""
        out: dict[tuple[str, str], tuple[int, str]] = {}
        unique = sorted(set(codes))
        with self._db.read() as session:
            for start in range(0, len(unique), _LOOKUP_CHUNK):
                chunk = unique[start:start + _LOOKUP_CHUNK]
                for row_id, code, version, digest in session.execute(
                        select(CatalogueItemRow.id, CatalogueItemRow.code,
                               CatalogueItemRow.version, CatalogueItemRow.body_sha256)
                        .where(CatalogueItemRow.code.in_(chunk))):
                    out[(code, version)] = (row_id, digest)
        return out

    def _discard_release(self, release_id: int) -> None:
        """Remove an unfinished (never current) release, in short transactions.

        Best effort: when this fails too (the disk is gone), the release stays behind,
        not current, and :meth:`releases` does not list it.
        """
        try:
            while True:
                with self._db.write() as session:
                    gone = session.execute(_DELETE_LINKS, {"release_id": release_id,
                                                           "n": _DELETE_CHUNK})
                if not getattr(gone, "rowcount", 0):
                    break
            with self._db.write() as session:
                session.execute(delete(CatalogueRelease).where(
                    CatalogueRelease.id == release_id, CatalogueRelease.is_current.is_(False)))
        except Exception:  # the original error is the one to report
            return

    def export_file(self, path: Path) -> int:
        """Write the current catalogue in the file format; returns the item count."""
        catalogue = self.current()
        doc = catalogue_to_json(catalogue)
        write_atomically(path, json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
        return len(catalogue.items)

    # ---- reading ----------------------------------------------------------------------

    def has_catalogue(self) -> bool:
        return self._current_release_id() is not None

    def current(self) -> Catalogue:
        """The whole current release, every item parsed (empty when nothing imported).

        For listing and export; the window only needs :meth:`index` and :meth:`item`,
        which do not parse thousands of items at start-up.
        """
        snap = self._snapshot()
        with self._lock:
            if self._current is not None and self._current[0] is snap:
                return self._current[1]
        catalogue = Catalogue(
            version=snap.version, publisher=snap.publisher, published_at=snap.published_at,
            items=tuple(self.item_version(code, version)
                        for code, version in snap.versions.items()),
            bundles=snap.bundles)
        with self._lock:
            self._current = (snap, catalogue)
        return catalogue

    def _snapshot(self) -> _Snapshot:
        """The current release, reloaded when another process imported a new one."""
        return self._snap.get()

    def _current_release_id(self) -> int | None:
        with self._db.read() as session:
            return session.scalar(
                select(CatalogueRelease.id).where(CatalogueRelease.is_current))

    def _load_snapshot(self) -> _Snapshot:
        """The current release's light columns: enough to search and to find an item."""
        with self._db.read() as session:
            release = session.scalars(
                select(CatalogueRelease).where(CatalogueRelease.is_current)).first()
            if release is None:
                return _Snapshot("", "", None, {}, (), CatalogueIndex())
            rows = session.execute(
                select(CatalogueItemRow.code, CatalogueItemRow.version, CatalogueItemRow.name,
                       CatalogueItemRow.department, CatalogueItemRow.name_pinyin,
                       CatalogueItemRow.name_initials, CatalogueItemRow.search_keywords,
                       CatalogueItemRow.withdrawn_at)
                .join(CatalogueReleaseItem, CatalogueReleaseItem.item_id == CatalogueItemRow.id)
                .where(CatalogueReleaseItem.release_id == release.id)
                .order_by(CatalogueReleaseItem.position)).all()
            bundle_rows = session.scalars(
                select(CatalogueBundleRow).where(CatalogueBundleRow.release_id == release.id)
                .order_by(CatalogueBundleRow.id)).all()
            bundles = tuple(Bundle(b.body["code"], b.body["name"], tuple(b.body["items"]),
                                   b.body.get("description", "")) for b in bundle_rows)
            today = dt.date.today()
            entries = [SearchEntry("bundle", b.code, b.name, "一件事一次办", b.name_pinyin,
                                   b.name_initials) for b in bundle_rows]
            entries += [SearchEntry("item", r.code, r.name, r.department, r.name_pinyin,
                                    r.name_initials, r.search_keywords)
                        for r in rows if r.withdrawn_at is None or r.withdrawn_at > today]
            return _Snapshot(release.version, release.publisher, release.published_at,
                             {r.code: r.version for r in rows}, bundles,
                             CatalogueIndex(entries))

    def index(self) -> CatalogueIndex:
        return self._snapshot().index

    def search(self, query: str, limit: int = 50) -> list[SearchResult]:
        hits: list[SearchHit] = self.index().search(query, limit)
        return [SearchResult(h.entry.kind, h.entry.code, h.entry.name, h.entry.department,
                             h.rank) for h in hits]

    def item(self, code: str) -> ServiceItem:
        """An item of the current release."""
        version = self._snapshot().versions.get(code.strip())
        if version is None:
            raise NotFound(f"目录中没有编码为“{code}”的事项。")
        return self.item_version(code.strip(), version)

    def bundle(self, code: str) -> Bundle:
        for b in self._snapshot().bundles:
            if b.code == code.strip():
                return b
        raise NotFound(f"目录中没有编码为“{code}”的一件事。")

    def bundle_items(self, bundle: Bundle) -> dict[str, ServiceItem]:
        """The items of a bundle by code, as Bundle.merged_materials() takes them."""
        return {code: self.item(code) for code in bundle.item_codes}

    def item_version(self, code: str, version: str) -> ServiceItem:
        """An item at the version a case was accepted under, even if since replaced.

        A stored (code, version) never changes content, so parsed items are cached.
        """
        key = (code, version)
        with self._lock:
            cached = self._items.get(key)
        if cached is not None:
            return cached
        with self._db.read() as session:
            row = session.scalars(select(CatalogueItemRow).where(
                CatalogueItemRow.code == code, CatalogueItemRow.version == version)).first()
            if row is None:
                raise NotFound(f"没有事项“{code}”的版本“{version}”。")
            item = item_from_json(row.body)
        with self._lock:
            self._items[key] = item
        return item

    def releases(self) -> list[ReleaseInfo]:
        """Every imported release, newest first; an unfinished import is not one."""
        with self._db.read() as session:
            rows = session.scalars(
                select(CatalogueRelease).where(CatalogueRelease.imported_at != UNFINISHED)
                .order_by(CatalogueRelease.id.desc())).all()
            return [ReleaseInfo(r.id, r.version, r.publisher, r.published_at, r.imported_at,
                                r.origin, r.item_count, r.bundle_count, r.is_current)
                    for r in rows]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


# ---- writing a large import in short transactions ------------------------------------

# imported_at of a release still being written: set when it is made current. A release
# left so by a power cut is never current and never listed.
UNFINISHED = dt.datetime(1970, 1, 1)
# Seconds the write lock is left free between the transactions of a long job.
WRITE_GAP = 0.05
_LOOKUP_CHUNK = 500          # codes per IN (…) look-up, well under SQLite's variable limit
_DELETE_CHUNK = 5000
_DELETE_LINKS = text(
    "DELETE FROM catalogue_release_items WHERE rowid IN (SELECT rowid FROM "
    "catalogue_release_items WHERE release_id = :release_id LIMIT :n)")

class _GcPause:
    """Counts the pauses in progress (threads may import and recompute at once)."""

    lock = threading.Lock()
    depth = 0
    was_enabled = True


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while short write transactions follow one another.

    With a whole catalogue in memory a full collection walks millions of objects and
    takes 300 ms — inside whichever transaction it happens to interrupt, holding the
    write lock. Reference counting still frees nearly everything; the collector is
    switched back on when the last pause ends.
    """
    with _GcPause.lock:
        if _GcPause.depth == 0:
            _GcPause.was_enabled = gc.isenabled()
            gc.disable()
        _GcPause.depth += 1
    try:
        yield
    finally:
        with _GcPause.lock:
            _GcPause.depth -= 1
            if _GcPause.depth == 0 and _GcPause.was_enabled:
                gc.enable()


class _Batches:
    """Writes rows in consecutive write transactions of about ``target`` seconds each.

    The first batch is small; each next one is sized from the rows per second the last
    one achieved, so the write lock is held for about ``target`` (100 ms) whatever the
    machine and the row width, and other writers (a clerk accepting a case, in this or
    another process) wait at most that long. Between batches the lock is left free for
    a moment (``WRITE_GAP``): SQLite's busy handler polls a waiting process's lock only
    every so often, and a writer that takes the lock again at once would keep winning.
    """

    def __init__(self, db: Database, *, target: float = 0.1, first: int = 200,
                 largest: int = 20_000) -> None:
        self._db = db
        self._target = target
        self._size = first
        self._largest = largest
        self.transactions: list[float] = []   # seconds each batch held the write lock

    def run(self, rows: list[Row], write: Callable[[Session, list[Row]], None]) -> None:
        done = 0
        while done < len(rows):
            if self.transactions:
                time.sleep(WRITE_GAP)
            batch = rows[done:done + self._size]
            started = time.perf_counter()
            with self._db.write() as session:
                write(session, batch)
            held = time.perf_counter() - started
            self.transactions.append(held)
            done += len(batch)
            # Grow at most fourfold at a time; shrink at once when a batch ran long.
            rate = len(batch) / max(held, 1e-4)
            self._size = max(20, min(self._largest, 4 * len(batch),
                                     int(rate * self._target * 0.8)))


def _insert_items(session: Session, rows: list[Row]) -> None:
    # Another process may store the same (code, version) meanwhile: its row is kept and
    # compared by hash afterwards (_check_conflicts).
    session.execute(sqlite_insert(CatalogueItemRow).on_conflict_do_nothing(
        index_elements=["code", "version"]), rows)


def _insert_links(session: Session, rows: list[Row]) -> None:
    session.execute(insert(CatalogueReleaseItem), rows)


def _insert_bundles(session: Session, rows: list[Row]) -> None:
    session.execute(insert(CatalogueBundleRow), rows)


def _check_conflicts(items: tuple[ServiceItem, ...], digests: list[str],
                     stored: dict[tuple[str, str], tuple[int, str]]) -> None:
    conflicts = [
        CatalogueIssue(f"事项 {item.code}（{item.name}）", "version",
                       f"版本“{item.version}”已导入过但内容不同；修改事项后请提高 version")
        for item, digest in zip(items, digests, strict=True)
        if (item.code, item.version) in stored
        and stored[(item.code, item.version)][1] != digest]
    if conflicts:
        raise CatalogueFileError(conflicts)
