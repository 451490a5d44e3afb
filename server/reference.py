"""Reference data the terminals keep a copy of, each version named by an ETag (the hash
of its canonical JSON): a terminal that has it gets ``304 Not Modified`` and keeps using
it (docs/sync-protocol.md §4).

Files are read with the client's own code (``app.domain``): what the server publishes, the
client's import accepts, and a file is refused with the message the client would give.
The catalogue, calendar and credit list are published by administrators; every version is
kept (pushed ops cite old catalogue versions). Queue categories belong to a site.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain import calendar_format, catalogue_format, credit
from app.domain.catalogue_format import CatalogueFileError, parse_catalogue_bytes
from app.domain.catalogue_writer import catalogue_to_json, item_to_json
from app.domain.queue import QueueRuleError
from app.domain.queue_policy import DEFAULT_CATEGORIES, Category, check_category
from app.services.catalogue import _check_conflicts
from server.accounts import ApiError
from server.models import UserRow
from server.reference_models import (
    CatalogueItemVersionRow,
    QueueCategoryRow,
    ReferenceCurrentRow,
    ReferenceVersionRow,
)

# What each kind is called in messages, and the client's own size limit for its file.
KINDS: dict[str, str] = {"catalogue": "事项目录", "calendar": "工作日历", "credit-list": "失信名单"}
MAX_BYTES: dict[str, int] = {"catalogue": catalogue_format.MAX_FILE_BYTES,
                             "calendar": calendar_format.MAX_FILE_BYTES,
                             "credit-list": credit.MAX_FILE_BYTES}
# The county's dates: a list published this morning in China is not "in the future".
CHINA = ZoneInfo("Asia/Shanghai")
SHOWN_ISSUES = 20


def canonical(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def etag_of(data: Any) -> str:
    return _etag(_sha256(canonical(data)))


def _etag(sha256: str) -> str:
    return '"' + sha256[:32] + '"'


def matches(etag: str, if_none_match: str | None) -> bool:
    return if_none_match is not None and (
        if_none_match.strip() == "*" or etag in (t.strip() for t in if_none_match.split(",")))


# Whose password hashes every terminal of the site receives for offline login: the people
# who work at the hall's windows. Clerks and agents, and supervisors (值班长) too: they take
# cases, back up and follow up bad ratings at a terminal like anyone else
# (app/services/permissions.py), and a hall whose server is down still needs its
# supervisor. An administrator's hash is never handed out: any clerk's terminal holds this
# list, and an offline guess at the admin's password (which publishes reference data,
# manages users) is the one worth making. An administrator logging in at a terminal still
# gets their own hash there in the login answer (§3), for that terminal only.
OFFLINE_ROLES = frozenset({"clerk", "agent", "supervisor"})


def site_users(session: Session, site: str) -> dict[str, Any]:
    """The site's accounts, with the hashes a terminal needs to let a clerk in offline
    (disabled accounts too, without one: the terminal must stop letting them in)."""
    rows = session.scalars(select(UserRow).where(UserRow.site_code == site)
                           .order_by(UserRow.username))
    return {"site": site, "users": [
        {"id": u.id, "username": u.username, "display_name": u.display_name, "role": u.role,
         "active": u.active,
         "password_hash": u.password_hash if u.active and u.role in OFFLINE_ROLES else ""}
        for u in rows]}


# ---- reading a published file with the client's code ---------------------------------


@dataclass(frozen=True, slots=True)
class Parsed:
    """A valid file: its version name, the document to serve, and how many entries."""
    version: str
    doc: dict[str, Any]
    entries: int
    calendar: tuple[calendar_format.YearNotice, ...] = ()


def _refused(kind: str, message: str) -> ApiError:
    return ApiError(422, f"invalid_{kind.replace('-', '_')}", message)


def parse(kind: str, data: bytes, today: dt.date | None = None) -> Parsed:
    """Check ``data`` as the client's import does; ApiError 422 with its message if not.
    The document kept is what the client's writer makes of it (normalised, same meaning)."""
    if len(data) > MAX_BYTES[kind]:
        raise too_large(kind)
    if kind == "catalogue":
        try:
            catalogue = parse_catalogue_bytes(data)
        except CatalogueFileError as exc:
            raise _refused(kind, _issues(exc)) from None
        return Parsed(catalogue.version, catalogue_to_json(catalogue), len(catalogue.items))
    if kind == "calendar":
        try:
            notices = calendar_format.parse_calendar_bytes(data)
        except calendar_format.CalendarFileError as exc:
            raise _refused(kind, str(exc)) from None
        return Parsed("", calendar_format.notices_to_json(notices), len(notices), tuple(notices))
    day = today or dt.datetime.now(CHINA).date()
    try:
        listed = credit.parse_credit_bytes(data, today=day)
    except credit.CreditFileError as exc:
        raise _refused(kind, str(exc)) from None
    doc = {"format": credit.FORMAT_NAME, "format_version": credit.FORMAT_VERSION,
           "version": listed.version, "published_at": listed.published_at.isoformat(),
           "publisher": listed.publisher, "entries": [e.to_json() for e in listed.entries]}
    return Parsed(listed.version, doc, len(listed.entries))


def too_large(kind: str) -> ApiError:
    limit = MAX_BYTES[kind] // (1024 * 1024)
    return ApiError(413, "reference_too_large",
                    f"文件超过{limit}MB，不像是{KINDS[kind]}文件，未作任何改动。")


def _issues(exc: CatalogueFileError) -> str:
    """Every problem (up to SHOWN_ISSUES), so an administrator fixes the file in one go."""
    shown = "；".join(str(i) for i in exc.issues[:SHOWN_ISSUES]) or str(exc)
    more = f"（共{len(exc.issues)}处问题）" if len(exc.issues) > 1 else ""
    return f"事项目录文件有误，未作任何改动：{shown}{more}"


# ---- publishing -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Published:
    kind: str
    version: str
    etag: str
    entries: int
    created: bool        # False: that very content was published before (now current)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "version": self.version, "etag": self.etag,
                "entries": self.entries, "created": self.created}


def _current_row(session: Session, kind: str, *, lock: bool) -> ReferenceCurrentRow:
    row = session.get(ReferenceCurrentRow, kind, with_for_update=lock)
    if row is None:   # a database made without the migration's rows
        row = ReferenceCurrentRow(kind=kind, version_id=None, changed_at=None)
        session.add(row)
        session.flush()
    return row


def publish(session: Session, kind: str, parsed: Parsed, by: str, now: dt.datetime, *,
            replace: bool = False) -> Published:
    """Make ``parsed`` the current version of ``kind``, in the caller's transaction.

    The same content again makes no new version (it becomes current if it was not); a
    different content under a version name already used is refused (409). A calendar
    file adds its years to the calendar; a year already there with other days is refused
    unless ``replace`` (it moves the deadlines of open cases).
    """
    pointer = _current_row(session, kind, lock=True)
    current = session.get(ReferenceVersionRow, pointer.version_id) if pointer.version_id else None
    if kind == "calendar":
        parsed = _merged_calendar(current, parsed, replace)
    document = canonical(parsed.doc)
    sha = _sha256(document)
    version = parsed.version or _calendar_version(parsed, sha)
    same = session.scalars(select(ReferenceVersionRow).where(
        ReferenceVersionRow.kind == kind, ReferenceVersionRow.sha256 == sha)).first()
    if same is not None:
        if pointer.version_id != same.id:
            pointer.version_id, pointer.changed_at = same.id, now
        return Published(kind, same.version, _etag(sha), same.entries, created=False)
    if session.scalars(select(ReferenceVersionRow.id).where(
            ReferenceVersionRow.kind == kind, ReferenceVersionRow.version == version)).first():
        raise ApiError(409, "version_exists",
                       f"{KINDS[kind]}版本“{version}”已发布过且内容不同：修改后请提高版本号"
                       "（version）再发布。")
    row = ReferenceVersionRow(kind=kind, version=version, sha256=sha, document=document,
                              size=len(document.encode()), entries=parsed.entries,
                              published_by=by[:64], published_at=now)
    session.add(row)
    session.flush()
    if kind == "catalogue":
        _record_items(session, parsed, row.id)
    pointer.version_id, pointer.changed_at = row.id, now
    return Published(kind, version, _etag(sha), parsed.entries, created=True)


def _record_items(session: Session, parsed: Parsed, version_id: int) -> None:
    """Each (code, version) keeps its content for ever: the client refuses a catalogue
    that changes one, so the server refuses to publish it (the client's own check)."""
    catalogue = catalogue_format.parse_catalogue(parsed.doc)
    bodies = [item_to_json(item) for item in catalogue.items]
    digests = [_sha256(canonical(body)) for body in bodies]
    codes = sorted({item.code for item in catalogue.items})
    stored: dict[tuple[str, str], tuple[int, str]] = {}
    for start in range(0, len(codes), 500):   # well under any database's parameter limit
        for r in session.scalars(select(CatalogueItemVersionRow).where(
                CatalogueItemVersionRow.code.in_(codes[start:start + 500]))):
            stored[(r.code, r.version)] = (r.first_version_id, r.sha256)
    try:
        _check_conflicts(catalogue.items, digests, stored)
    except CatalogueFileError as exc:
        raise _refused("catalogue", _issues(exc)) from None
    session.add_all(CatalogueItemVersionRow(code=item.code, version=item.version, sha256=digest,
                                            first_version_id=version_id)
                    for item, digest in zip(catalogue.items, digests, strict=True)
                    if (item.code, item.version) not in stored)


def _merged_calendar(current: ReferenceVersionRow | None, parsed: Parsed,
                     replace: bool) -> Parsed:
    years: dict[int, calendar_format.YearNotice] = {}
    if current is not None:
        years = {n.year: n for n in calendar_format.parse_calendar_bytes(
            current.document.encode())}
    covered = sorted(n.year for n in parsed.calendar if n.year in years and years[n.year] != n)
    if covered and not replace:
        names = "、".join(f"{y}年" for y in covered)
        raise ApiError(409, "calendar_year_covered",
                       f"工作日历已包含{names}的节假日安排，且与本文件不同，未作任何改动。如确需替换，"
                       "请加 replace 重新发布（替换后各终端会重新计算在办件的承诺办结日期）。")
    years.update((n.year, n) for n in parsed.calendar)
    notices = [years[y] for y in sorted(years)]
    return Parsed("", calendar_format.notices_to_json(notices), len(notices), tuple(notices))


def _calendar_version(parsed: Parsed, sha: str) -> str:
    """A calendar file has no version name: its years and content hash make one."""
    years = [n.year for n in parsed.calendar]
    return f"{min(years)}-{max(years)}-{sha[:8]}" if years else sha[:12]


# ---- serving --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Served:
    etag: str
    document: str | None       # None: the caller has this version (304)


def served(session: Session, kind: str, if_none_match: str | None,
           version: str | None = None) -> Served:
    """The current (or the named) version; the document is only read when the caller's
    ETag differs, so a 304 costs one small query however large the catalogue is."""
    if version is not None:
        found = session.execute(select(ReferenceVersionRow.id, ReferenceVersionRow.sha256)
                                .where(ReferenceVersionRow.kind == kind,
                                       ReferenceVersionRow.version == version)).first()
        if found is None:
            raise ApiError(404, "unknown_version", f"服务器上没有{KINDS[kind]}版本“{version}”。")
        version_id, sha = found
    else:
        pointer = _current_row(session, kind, lock=False)
        if pointer.version_id is None:
            raise ApiError(404, "not_published", f"服务器尚未发布{KINDS[kind]}：请管理员先导入。")
        version_id = pointer.version_id
        sha = session.scalars(select(ReferenceVersionRow.sha256).where(
            ReferenceVersionRow.id == version_id)).one()
    etag = _etag(sha)
    if matches(etag, if_none_match):
        return Served(etag, None)
    document = session.scalars(select(ReferenceVersionRow.document).where(
        ReferenceVersionRow.id == version_id)).one()
    return Served(etag, document)


def versions(session: Session, kind: str) -> dict[str, Any]:
    """Every version of ``kind`` ever published, oldest first, and which is current."""
    pointer = _current_row(session, kind, lock=False)
    rows = session.execute(select(
        ReferenceVersionRow.id, ReferenceVersionRow.version, ReferenceVersionRow.sha256,
        ReferenceVersionRow.entries, ReferenceVersionRow.published_by,
        ReferenceVersionRow.published_at).where(ReferenceVersionRow.kind == kind)
        .order_by(ReferenceVersionRow.id))
    return {"kind": kind, "versions": [
        {"version": v, "etag": _etag(sha), "entries": n, "published_by": by,
         "published_at": _utc(at).isoformat(), "current": i == pointer.version_id}
        for i, v, sha, n, by, at in rows]}


def _utc(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


# ---- queue categories per site --------------------------------------------------------


def site_categories(session: Session, site: str) -> list[Category]:
    """The site's queue categories by position; the demo set (A 综合受理, B 出件, C 咨询,
    as the client's migration 0007 has them) for a site without its own."""
    rows = session.scalars(select(QueueCategoryRow).where(QueueCategoryRow.site_code == site)
                           .order_by(QueueCategoryRow.position, QueueCategoryRow.prefix)).all()
    if not rows:
        return list(DEFAULT_CATEGORIES)
    return [Category(r.prefix, r.name, r.active, r.position) for r in rows]


def categories_doc(session: Session, site: str) -> dict[str, Any]:
    return {"site": site, "categories": [
        {"prefix": c.prefix, "name": c.name, "active": c.active, "position": c.position}
        for c in site_categories(session, site)]}


def set_site_categories(session: Session, site: str, given: Iterable[Category]) -> None:
    """Replace the site's categories, checked with the client's rules. A category once
    served is never dropped (tickets and statistics name its letter): it is made
    inactive instead."""
    checked: list[Category] = []
    for category in given:
        try:
            checked.append(check_category(category))
        except QueueRuleError as exc:
            raise ApiError(422, "bad_category", str(exc)) from None
    prefixes = [c.prefix for c in checked]
    if len(set(prefixes)) != len(prefixes):
        raise ApiError(422, "bad_category", "业务类别字母重复：每个字母只能用于一个类别。")
    dropped = sorted({c.prefix for c in site_categories(session, site)} - set(prefixes))
    if dropped:
        raise ApiError(409, "category_removed",
                       f"业务类别{'、'.join(dropped)}已在使用，不能删除：请将其设为停用（active: false）。")
    existing = {r.prefix: r for r in session.scalars(
        select(QueueCategoryRow).where(QueueCategoryRow.site_code == site))}
    for c in checked:
        row = existing.get(c.prefix)
        if row is None:
            session.add(QueueCategoryRow(site_code=site, prefix=c.prefix, name=c.name,
                                         active=c.active, position=c.position))
        else:
            row.name, row.active, row.position = c.name, c.active, c.position
