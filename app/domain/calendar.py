"""The working-day calendar (工作日历) and deadline arithmetic.

Which days are worked follows the State Council's yearly holiday notice: 法定节假日 are
off, and 调休 weekend days are *working* days. The notice lists only the exceptions to
the ordinary Monday-Friday week, so a :class:`WorkCalendar` holds those exceptions for
the years it *covers*; a date in a year it does not cover raises
:class:`CalendarNotCovered` instead of guessing.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from app.domain.catalogue import LimitUnit, TimeLimit
from app.errors import UserError


class DayKind(StrEnum):
    WORKDAY = "工作日"
    WEEKEND = "休息日"
    HOLIDAY = "法定节假日"
    ADJUSTED_WORKDAY = "调休上班"


@dataclass(frozen=True, slots=True)
class SpecialDay:
    """An exception from the notice: a holiday, or a weekend day that is worked."""

    day: dt.date
    kind: DayKind  # HOLIDAY or ADJUSTED_WORKDAY
    name: str


@dataclass(frozen=True, slots=True)
class DayInfo:
    day: dt.date
    kind: DayKind
    name: str = ""

    @property
    def is_workday(self) -> bool:
        return self.kind in (DayKind.WORKDAY, DayKind.ADJUSTED_WORKDAY)


class CalendarNotCovered(UserError, LookupError):
    """The calendar holds no holiday notice for a year the computation needs."""

    def __init__(self, year: int) -> None:
        self.year = year
        super().__init__(
            f"工作日历尚未包含{year}年的节假日安排，无法准确计算日期。"
            f"请管理员导入国务院办公厅{year}年节假日安排（yichuang calendar import 文件）。"
        )


def estimate_promised_date(accepted_on: dt.date, limit: TimeLimit) -> dt.date:
    """The deadline on a plain Monday-Friday week, for a year no notice covers yet.

    Only ever used with the result marked as an estimate (办件 promised_estimated);
    the real notice usually moves a deadline by a few days around the holidays.
    """
    week = WorkCalendar(set(range(accepted_on.year, accepted_on.year + 20)), [])
    return week.promised_date(accepted_on, limit)


_WORKING = frozenset({DayKind.WORKDAY, DayKind.ADJUSTED_WORKDAY})


def _weekdays(first: dt.date, last: dt.date) -> int:
    """Monday-Friday days in [first, last]."""
    days = (last - first).days + 1
    weeks, rest = divmod(days, 7)
    start = first.weekday()
    return weeks * 5 + sum(1 for i in range(rest) if (start + i) % 7 < 5)


class WorkCalendar:
    """Working days for the covered years; pure and immutable once built."""

    def __init__(self, covered_years: set[int], special_days: list[SpecialDay]) -> None:
        self._years = frozenset(covered_years)
        self._special = {s.day: s for s in special_days}
        self._special_order = sorted(self._special)

    @property
    def covered_years(self) -> frozenset[int]:
        return self._years

    @property
    def special_days(self) -> list[SpecialDay]:
        return sorted(self._special.values(), key=lambda s: s.day)

    def covers(self, day: dt.date) -> bool:
        return day.year in self._years or day in self._special

    def day_info(self, day: dt.date) -> DayInfo:
        special = self._special.get(day)
        if special is not None:
            return DayInfo(day, special.kind, special.name)
        if day.year not in self._years:
            raise CalendarNotCovered(day.year)
        return DayInfo(day, DayKind.WEEKEND if day.weekday() >= 5 else DayKind.WORKDAY)

    def is_workday(self, day: dt.date) -> bool:
        return self.day_info(day).is_workday

    def add_workdays(self, start: dt.date, count: int) -> dt.date:
        """The ``count``-th working day after ``start`` (``start`` itself never counts).

        ``count`` 0 means ``start`` itself. Negative counts go backwards.
        """
        day = start
        step = dt.timedelta(days=1 if count >= 0 else -1)
        remaining = abs(count)
        while remaining:
            day += step
            if self.is_workday(day):
                remaining -= 1
        return day

    def next_workday_on_or_after(self, day: dt.date) -> dt.date:
        while not self.is_workday(day):
            day += dt.timedelta(days=1)
        return day

    def workdays_between(self, start: dt.date, end: dt.date) -> int:
        """Working days in (start, end]; negative when ``end`` is before ``start``.

        Counted, not walked: Monday-Friday by arithmetic, then each special day in the
        range corrected (a case list computes this for hundreds of rows, some of them
        years overdue). CalendarNotCovered if the range enters a year without a notice.
        """
        if end < start:
            return -self.workdays_between(end, start)
        if end == start:
            return 0
        first = start + dt.timedelta(days=1)
        for year in range(first.year, end.year + 1):
            if year not in self._years:
                raise CalendarNotCovered(year)
        count = _weekdays(first, end)
        lo = bisect.bisect_left(self._special_order, first)
        hi = bisect.bisect_right(self._special_order, end)
        for day in self._special_order[lo:hi]:
            count += int(self._special[day].kind in _WORKING) - int(day.weekday() < 5)
        return count

    def promised_date(self, accepted_on: dt.date, limit: TimeLimit) -> dt.date:
        """承诺办结日期 for a case accepted on ``accepted_on`` under ``limit``.

        工作日: the Nth working day after the acceptance day. 自然日: N calendar days
        later, moved to the next working day when that falls on a rest day (the rule of
        民法典 第二百零三条 for periods ending on a holiday). A limit of 0 is the day itself.
        """
        if limit.value == 0:
            return accepted_on
        if limit.unit is LimitUnit.WORKING_DAYS:
            return self.add_workdays(accepted_on, limit.value)
        return self.next_workday_on_or_after(accepted_on + dt.timedelta(days=limit.value))
