"""The seeded calendar says what chinesecalendar says, for every day it covers.

The property tests elsewhere check add_workdays against workdays_between, which share
is_workday; this checks is_workday itself against an independent source.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import chinese_calendar

from app.domain.calendar import DayKind
from app.services.calendar import CalendarService
from app.storage.db import open_database


def test_every_covered_day_agrees_with_the_package(tmp_path: Path) -> None:
    service = CalendarService(open_database(tmp_path / "y.db"))
    service.seed_from_package()
    cal = service.calendar()
    years = sorted(cal.covered_years)
    assert years[0] <= 2004 and years[-1] >= 2026
    day, end = dt.date(years[0], 1, 1), dt.date(years[-1], 12, 31)
    checked = 0
    while day <= end:
        assert cal.is_workday(day) == chinese_calendar.is_workday(day), day
        checked += 1
        day += dt.timedelta(days=1)
    assert checked > 365 * 22
    # And the kinds read right: a 调休 Saturday and a holiday Monday of 2026.
    assert cal.day_info(dt.date(2026, 10, 10)).kind is DayKind.ADJUSTED_WORKDAY
    assert cal.day_info(dt.date(2026, 10, 5)).kind is DayKind.HOLIDAY
