"""The clerk's case lists: today's cases, waiting for pickup, in 补正, and 电子监察 flags.

Queries read the ``cases`` projection only (indexed on status, promised date and the
applicant's ID number), so a list stays fast with 100,000 cases stored. Each row is a
plain :class:`CaseSummary`; the flag says how the promised date stands against today on
the working-day calendar: yellow when at most ``yellow_warning_days`` working days
remain, red when it has passed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select

from app.domain.calendar import WorkCalendar
from app.domain.case import Applicant, CaseStatus, applicant_from_json
from app.services.calendar import CalendarService
from app.storage.db import Database
from app.storage.models import CaseRow

# The clock runs for these; their promised date is watched (电子监察).
RUNNING = (CaseStatus.ACCEPTED, CaseStatus.ACCEPTED_DEFERRED, CaseStatus.IN_REVIEW)
MAX_ROWS = 1000
# Typed or scanned ID numbers (身份证, 统一社会信用代码, passports): letters and digits, no
# Chinese — a name is searched by any part of it instead.
_ID_LIKE = re.compile(r"[0-9A-Za-z]{8,32}")


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


class CaseList:
    def __init__(self, db: Database, calendar: CalendarService, yellow_days: int) -> None:
        self._db = db
        self._calendar = calendar
        self._yellow_days = yellow_days

    def find(self, query: CaseQuery, *, today: dt.date | None = None) -> list[CaseSummary]:
        day = today or dt.date.today()
        stmt = select(CaseRow)
        statuses = query.statuses
        if query.flagged_only:
            statuses = tuple(s for s in (statuses or RUNNING) if s in RUNNING)
            # Only what is due by the last yellow day can be flagged: the index does the rest.
            horizon = self._horizon(day)
            stmt = stmt.where(CaseRow.promised_date <= horizon)
        if statuses:
            stmt = stmt.where(CaseRow.status.in_([str(s) for s in statuses]))
        if query.item_code:
            stmt = stmt.where(CaseRow.item_code == query.item_code.strip())
        if query.applicant.strip():
            text = query.applicant.strip()
            if _ID_LIKE.fullmatch(text):   # a whole ID number: the index finds it
                stmt = stmt.where(CaseRow.applicant_id_number == text.upper())
            else:
                stmt = stmt.where(CaseRow.applicant_name.contains(text, autoescape=True))
        if query.opened_on:
            start, end = _utc_bounds(query.opened_on)
            stmt = stmt.where(CaseRow.opened_at >= start, CaseRow.opened_at < end)
        order = CaseRow.promised_date if query.flagged_only else CaseRow.opened_at.desc()
        stmt = stmt.order_by(order).limit(max(1, min(query.limit, MAX_ROWS)))
        with self._db.read() as session:
            rows = session.scalars(stmt).all()
            calendar = self._calendar.calendar()
            summaries = [self._summary(r, calendar, day) for r in rows]
        if query.flagged_only:
            summaries = [s for s in summaries if s.flag is not Flag.NONE]
        return summaries

    def returning_applicant(self, id_number: str) -> Applicant | None:
        """The applicant as their latest case recorded them (phone, address, legal
        representative), found by the whole ID number — so a returning applicant's data
        is offered, masked by the window until the clerk opens it, not typed again."""
        number = id_number.strip().upper()
        if not _ID_LIKE.fullmatch(number):
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

    def _summary(self, row: CaseRow, calendar: WorkCalendar, day: dt.date) -> CaseSummary:
        status = CaseStatus(row.status)
        flag, left = Flag.NONE, None
        if status in RUNNING and row.promised_date is not None:
            try:
                left = calendar.workdays_between(day, row.promised_date)
            except LookupError:
                left = (row.promised_date - day).days
            flag = (Flag.RED if row.promised_date < day
                    else Flag.YELLOW if left <= self._yellow_days else Flag.NONE)
        return CaseSummary(row.id, row.number, status, row.item_code, row.item_name,
                           row.applicant_name, row.opened_at, row.promised_date, flag, left)


def _utc_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """A local day as the UTC range the projection stores times in."""
    start = dt.datetime.combine(day, dt.time()).astimezone().astimezone(dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time()).astimezone().astimezone(dt.UTC)
    return start.replace(tzinfo=None), end.replace(tzinfo=None)
