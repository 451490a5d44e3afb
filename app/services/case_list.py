"""The clerk's case lists: today's cases, waiting for pickup, in 补正, and 电子监察 flags.

Queries read the ``cases`` projection only (indexed on status, promised date, item,
opened time and the applicant's ID number), so a list stays fast with 100,000 cases
stored. Each row is a plain :class:`CaseSummary`; the flag says how the promised date
stands against today on the working-day calendar: yellow when at most
``yellow_warning_days`` working days remain, red when it has passed.

Only the eight columns a list shows are selected. Loading whole rows cost seven times
more (the JSON columns — materials, applicant — were decoded for every row), and the
thousands of short-lived objects this made set off the garbage collector's full passes:
those were the slow outliers of the newest-200 query (p99 106 ms against a 5.8 ms
median; now about 1 ms for both, bench/acceptance.py).
"""

from __future__ import annotations

import datetime as dt
import heapq
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select, func, literal, literal_column, select
from sqlalchemy.orm import Session

from app.domain.calendar import WorkCalendar
from app.domain.case import Applicant, CaseStatus, applicant_from_json
from app.services.calendar import CalendarService
from app.storage.db import Database
from app.storage.models import CaseRow

if TYPE_CHECKING:
    from app.services.catalogue import CatalogueService

# The clock runs for these; their promised date is watched (电子监察).
RUNNING = (CaseStatus.ACCEPTED, CaseStatus.ACCEPTED_DEFERRED, CaseStatus.IN_REVIEW)
MAX_ROWS = 1000
# Typed or scanned ID numbers (身份证, 统一社会信用代码, passports): letters and digits, no
# Chinese — a name is searched by any part of it instead.
_ID_LIKE = re.compile(r"[0-9A-Za-z]{8,32}")


def is_id_number(text: str) -> bool:
    """Whether ``text`` is searched as a whole ID number: letters and digits, at least
    one digit (身份证, 统一社会信用代码 and passports all have some; "MUHAMMAD" is a name)."""
    return bool(_ID_LIKE.fullmatch(text)) and any(c.isdigit() for c in text)
# What a list shows, in CaseSummary's order (no JSON column: see the module's note).
_COLUMNS = (CaseRow.id, CaseRow.number, CaseRow.status, CaseRow.item_code, CaseRow.item_name,
            CaseRow.applicant_name, CaseRow.opened_at, CaseRow.promised_date)
_STATUSES = {str(s): s for s in CaseStatus}
# A status filter matching at least this many cases is dense: walking the opened-time
# index from the newest finds a page of them soon, where the status index would fetch
# and sort every match (all 95,000 已出件 of a year's cases: 115 ms).
DENSE_STATUS = 2000
_Rows = Select[str, str, str, str, str, str, dt.datetime, dt.date | None]


class Flag(StrEnum):
    NONE = ""
    YELLOW = "黄牌"     # due within the warning days
    RED = "红牌"        # overdue


@dataclass(frozen=True, slots=True)
class CaseSummary:
    id: str
    number: str
    status: CaseStatus
    item_code: str
    item_name: str
    applicant_name: str
    opened_at: dt.datetime          # UTC, as stored
    promised_date: dt.date | None
    flag: Flag = Flag.NONE
    workdays_left: int | None = None


@dataclass(frozen=True, slots=True)
class CaseQuery:
    """Filters; all optional. ``opened_on`` is a local day."""

    statuses: tuple[CaseStatus, ...] = ()
    item_code: str = ""
    applicant: str = ""             # a name (any part) or a whole ID number
    opened_on: dt.date | None = None
    flagged_only: bool = False       # yellow or red only
    limit: int = 200
    item_codes: tuple[str, ...] = ()   # any of these items (with item_code, if given)


class ListView(StrEnum):
    """The clerk's standing lists; the window switches them with Alt+1…5 in this order."""

    TODAY = "今日收件"
    PICKUP = "待取件"          # 已办结: the result waits for the applicant
    CORRECTION = "补正中"
    FLAGGED = "电子监察"        # 黄牌 and 红牌 only, the most overdue first
    ALL = "全部"


_VIEW_STATUSES = {ListView.PICKUP: (CaseStatus.COMPLETED,),
                  ListView.CORRECTION: (CaseStatus.CORRECTION,)}
ITEM_MATCHES = 20   # catalogue entries one typed item filter may stand for


@dataclass(frozen=True, slots=True)
class ListFilters:
    """A list as the clerk asks for it: a view, narrowed by the filter fields as typed."""

    view: ListView = ListView.ALL
    applicant: str = ""                 # a name (any part) or a whole ID number
    item: str = ""                      # see :func:`items_matching`
    status: CaseStatus | None = None
    opened_on: dt.date | None = None     # ignored by 今日收件, which is today


def view_query(filters: ListFilters, *, today: dt.date, item_codes: tuple[str, ...] = (),
               limit: int = 200) -> CaseQuery | None:
    """The view and the filters together; None when they contradict each other (a status
    chosen inside 待取件 other than 已办结: nothing can match)."""
    statuses = _VIEW_STATUSES.get(filters.view, ())
    if filters.status is not None:
        if statuses and filters.status not in statuses:
            return None
        statuses = (filters.status,)
    opened_on = today if filters.view is ListView.TODAY else filters.opened_on
    return CaseQuery(statuses=statuses, applicant=filters.applicant, opened_on=opened_on,
                     flagged_only=filters.view is ListView.FLAGGED, limit=limit,
                     item_codes=item_codes)


def items_matching(catalogue: CatalogueService, text: str) -> tuple[str, ...]:
    """The item codes a typed item filter stands for, found as the catalogue search finds
    them (name, pinyin, initials, alias, result or code; a bundle stands for its items),
    or the text itself when the catalogue has nothing: a withdrawn item's code still
    finds its cases. Looking names up in the catalogue, not in the cases, keeps the list
    on the (item, opened time) index — no infix match on 100,000 rows."""
    text = text.strip()
    if not text:
        return ()
    codes: list[str] = []
    for hit in catalogue.index().search(text, ITEM_MATCHES):
        if hit.entry.kind == "bundle":
            codes.extend(catalogue.bundle(hit.entry.code).item_codes)
        else:
            codes.append(hit.entry.code)
    return tuple(dict.fromkeys(codes)) or (text.upper(),)


class CaseList:
    def __init__(self, db: Database, calendar: CalendarService, yellow_days: int) -> None:
        self._db = db
        self._calendar = calendar
        self._yellow_days = yellow_days

    def find(self, query: CaseQuery, *, today: dt.date | None = None) -> list[CaseSummary]:
        """Newest first (flagged: the most overdue first), at most ``query.limit`` rows."""
        day = today or dt.date.today()
        limit = max(1, min(query.limit, MAX_ROWS))
        stmt: _Rows = select(*_COLUMNS)
        statuses = query.statuses
        if query.flagged_only:
            statuses = tuple(s for s in (statuses or RUNNING) if s in RUNNING)
            # Only what is due by the last yellow day can be flagged: the index does the rest.
            stmt = stmt.where(CaseRow.promised_date <= self._horizon(day))
        id_number, name_part = "", ""
        if query.applicant.strip():
            text = query.applicant.strip()
            if is_id_number(text):   # a whole ID number: the index finds it
                id_number = text.upper()
                stmt = stmt.where(CaseRow.applicant_id_number == id_number)
            else:
                name_part = text
                stmt = stmt.where(CaseRow.applicant_name.contains(text, autoescape=True))
        if query.opened_on:
            start, end = _utc_bounds(query.opened_on)
            stmt = stmt.where(CaseRow.opened_at >= start, CaseRow.opened_at < end)
        codes = _codes(query)
        order = CaseRow.promised_date if query.flagged_only else CaseRow.opened_at.desc()
        with self._db.read() as session:
            if statuses:
                values = [str(s) for s in statuses]
                walk_newest = (not (query.flagged_only or codes or id_number or query.opened_on)
                               and _at_least(session, CaseRow.status.in_(values)))
                # ``status || ''`` is no index: SQLite then walks the opened-time index.
                column: Any = CaseRow.status.concat("") if walk_newest else CaseRow.status
                stmt = stmt.where(column.in_(values))
            if name_part and not _at_least(session, CaseRow.applicant_name.contains(
                    name_part, autoescape=True)):
                # Few cases bear the name: find them in the (name, opened) index, which
                # SQLite scans instead of the table, rather than walk every case newest
                # first looking for them (100 ms for a name no case has).
                rowid: ColumnElement[Any] = literal_column("cases.rowid")
                stmt = stmt.where(rowid.in_(
                    select(literal_column("rowid")).select_from(CaseRow)
                    .where(CaseRow.applicant_name.contains(name_part, autoescape=True))))
            rows: Sequence[Any]
            if len(codes) > 1 and not query.flagged_only:
                rows = _newest_of_each(session, stmt, codes, limit)
            else:
                if codes:
                    stmt = stmt.where(CaseRow.item_code.in_(codes))
                rows = session.execute(stmt.order_by(order).limit(limit)).all()
        calendar = self._calendar.calendar()
        summaries = self._summaries(rows, calendar, day)
        if query.flagged_only:
            summaries = [s for s in summaries if s.flag is not Flag.NONE]
        return summaries

    def returning_applicant(self, id_number: str) -> Applicant | None:
        """The applicant as their latest case recorded them (phone, address, legal
        representative), found by the whole ID number — so a returning applicant's data
        is offered, masked by the window until the clerk opens it, not typed again."""
        number = id_number.strip().upper()
        if not is_id_number(number):
            return None
        with self._db.read() as session:
            row = session.scalars(select(CaseRow).where(CaseRow.applicant_id_number == number)
                                  .order_by(CaseRow.opened_at.desc()).limit(1)).first()
            return applicant_from_json(row.applicant) if row is not None else None

    def _horizon(self, day: dt.date) -> dt.date:
        calendar = self._calendar.calendar()
        try:
            return calendar.add_workdays(day, self._yellow_days)
        except LookupError:   # the calendar does not reach that far: calendar days
            return day + dt.timedelta(days=2 * self._yellow_days + 7)

    def _summaries(self, rows: Iterable[Any], calendar: WorkCalendar, day: dt.date
                   ) -> list[CaseSummary]:
        # Many rows share a promised date (a day's acceptances of one item): count once.
        standing: dict[dt.date, tuple[Flag, int]] = {}
        out = []
        for case_id, number, status_text, code, item, name, opened, promised in rows:
            status = _STATUSES[status_text]
            flag, left = Flag.NONE, None
            if status in RUNNING and promised is not None:
                known = standing.get(promised)
                if known is None:
                    known = standing[promised] = self._standing(calendar, day, promised)
                flag, left = known
            out.append(CaseSummary(case_id, number, status, code, item, name, opened,
                                   promised, flag, left))
        return out

    def _standing(self, calendar: WorkCalendar, day: dt.date, promised: dt.date
                  ) -> tuple[Flag, int]:
        try:
            left = calendar.workdays_between(day, promised)
        except LookupError:
            left = (promised - day).days
        flag = (Flag.RED if promised < day
                else Flag.YELLOW if left <= self._yellow_days else Flag.NONE)
        return flag, left


def _codes(query: CaseQuery) -> tuple[str, ...]:
    codes = [c.strip() for c in (query.item_code, *query.item_codes) if c.strip()]
    return tuple(dict.fromkeys(codes))


def _at_least(session: Session, condition: ColumnElement[bool]) -> bool:
    """Whether at least DENSE_STATUS cases meet ``condition`` (reading at most that many
    entries of whichever index serves it): then a walk of the cases newest first meets
    them soon, and is the faster way to the newest of them."""
    some = (select(literal(1)).select_from(CaseRow).where(condition)
            .limit(DENSE_STATUS).subquery())
    return (session.scalar(select(func.count()).select_from(some)) or 0) >= DENSE_STATUS


def _newest_of_each(session: Session, stmt: _Rows, codes: tuple[str, ...],
                    limit: int) -> list[Any]:
    """The newest ``limit`` rows of several items: each item's newest from its own
    (item, opened time) index, merged. ``item_code IN (…)`` would fetch and sort every
    case of those items instead (180 ms for an item with 100,000 cases)."""
    runs = [session.execute(stmt.where(CaseRow.item_code == code)
                            .order_by(CaseRow.opened_at.desc()).limit(limit)).all()
            for code in codes]
    return list(heapq.merge(*runs, key=lambda r: r.opened_at, reverse=True))[:limit]


def _utc_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """A local day as the UTC range the projection stores times in."""
    start = dt.datetime.combine(day, dt.time()).astimezone().astimezone(dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time()).astimezone().astimezone(dt.UTC)
    return start.replace(tzinfo=None), end.replace(tzinfo=None)
