"""The catalogue use cases: import, export, releases, list, show and search."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from app.domain.catalogue import Bundle, Catalogue, ServiceItem
from app.domain.catalogue_format import (
    CatalogueFileError,
    CatalogueIssue,
    item_from_json,
    parse_catalogue_bytes,
)
from app.domain.catalogue_writer import bundle_to_json, catalogue_to_json, item_to_json
from app.services.reference_cache import ReferenceCache
from app.services.search import (
    CatalogueIndex,
    SearchEntry,
    SearchHit,
    keyword_tokens,
    pinyin_keys,
)
from app.storage.db import Database
from app.storage.files import describe_os_error, write_atomically
from app.storage.models import (
    CatalogueBundleRow,
    CatalogueItemRow,
    CatalogueRelease,
    CatalogueReleaseItem,
)


class NotFound(LookupError):
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

    # ---- import / export --------------------------------------------------------------

    def import_file(self, path: Path) -> ImportResult:
        """Validate and import a catalogue file; on any error nothing is changed."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CatalogueFileError([CatalogueIssue(
                "", "", f"无法读取文件 {path}：{describe_os_error(exc)}")]) from exc
        catalogue = parse_catalogue_bytes(data)
        return self.import_catalogue(catalogue, origin=str(path), sha256=_sha256(data))

    def import_catalogue(self, catalogue: Catalogue, *, origin: str,
                         sha256: str) -> ImportResult:
        # Everything slow happens before the write lock is taken: pypinyin over thousands
        # of names takes seconds, and other windows must not wait on it.
        bodies = {item.code: item_to_json(item) for item in catalogue.items}
        digests = {code: _sha256(_canonical(body)) for code, body in bodies.items()}
        keys = {item.code: (*pinyin_keys(item.name), keyword_tokens(item.keywords))
                for item in catalogue.items}
        bundle_keys = {b.code: pinyin_keys(b.name) for b in catalogue.bundles}
        with self._db.write() as session:
            current = session.scalars(
                select(CatalogueRelease).where(CatalogueRelease.is_current)).first()
            if current is not None and current.sha256 == sha256:
                return ImportResult(catalogue.version, len(catalogue.items), 0,
                                    len(catalogue.bundles), unchanged=True)
            existing = {
                (r.code, r.version): r for r in session.scalars(
                    select(CatalogueItemRow).where(
                        CatalogueItemRow.code.in_([i.code for i in catalogue.items])))
            }
            conflicts: list[CatalogueIssue] = []
            rows: list[CatalogueItemRow] = []
            new_items = 0
            for item in catalogue.items:
                body, digest = bodies[item.code], digests[item.code]
                row = existing.get((item.code, item.version))
                if row is not None:
                    if row.body_sha256 != digest:
                        conflicts.append(CatalogueIssue(
                            f"事项 {item.code}（{item.name}）", "version",
                            f"版本“{item.version}”已导入过但内容不同；修改事项后请提高 version"))
                    rows.append(row)
                    continue
                full, initials, keywords = keys[item.code]
                row = CatalogueItemRow(
                    code=item.code, version=item.version, name=item.name,
                    department=item.department.name, level=str(item.level),
                    kind=str(item.kind), withdrawn_at=item.withdrawn_at,
                    name_pinyin=full, name_initials=initials, search_keywords=keywords,
                    body=body, body_sha256=digest)
                session.add(row)
                rows.append(row)
                new_items += 1
            if conflicts:
                raise CatalogueFileError(conflicts)  # rolls the transaction back
            session.execute(update(CatalogueRelease).values(is_current=False))
            release = CatalogueRelease(
                version=catalogue.version, publisher=catalogue.publisher,
                published_at=catalogue.published_at, imported_at=_now(), origin=origin,
                sha256=sha256, item_count=len(catalogue.items),
                bundle_count=len(catalogue.bundles), is_current=True)
            session.add(release)
            session.flush()
            for position, row in enumerate(rows):
                session.add(CatalogueReleaseItem(
                    release_id=release.id, item_id=row.id, position=position))
            for bundle in catalogue.bundles:
                full, initials = bundle_keys[bundle.code]
                session.add(CatalogueBundleRow(
                    release_id=release.id, code=bundle.code, name=bundle.name,
                    name_pinyin=full, name_initials=initials, body=bundle_to_json(bundle)))
        self._snap.invalidate()
        return ImportResult(catalogue.version, len(catalogue.items), new_items,
                            len(catalogue.bundles), unchanged=False)

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
        with self._db.read() as session:
            rows = session.scalars(
                select(CatalogueRelease).order_by(CatalogueRelease.id.desc())).all()
            return [ReleaseInfo(r.id, r.version, r.publisher, r.published_at, r.imported_at,
                                r.origin, r.item_count, r.bundle_count, r.is_current)
                    for r in rows]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
