"""The working-day calendar: holiday notices, 调休, deadlines and uncovered years."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.domain.calendar import CalendarNotCovered, DayKind, WorkCalendar
from app.domain.calendar_format import CalendarFileError, parse_calendar_bytes
from app.domain.catalogue import LimitUnit, TimeLimit
from app.services.calendar import package_notices
from app.workstation import Workstation

D = dt.date.fromisoformat
PROPERTY = settings(max_examples=60, deadline=None)

# The package seed as a pure calendar, for the property tests (no database needed).
PACKAGE = WorkCalendar({n.year for n in package_notices()},
                       [s for n in package_notices() for s in n.days])

# A realistic 2027 notice: 元旦 over a long weekend, 春节 with two 调休 weekend days.
NOTICE_2027: dict[str, Any] = {
    "format": "yichuang-calendar",
    "years": [{
        "year": 2027,
        "source": "国务院办公厅关于2027年部分节假日安排的通知（示例）",
        "holidays": [
            {"name": "元旦", "from": "2027-01-01", "to": "2027-01-03"},
            {"name": "春节", "from": "2027-02-06", "to": "2027-02-13"},
            {"name": "清明节", "from": "2027-04-03", "to": "2027-04-05"},
            {"name": "劳动节", "from": "2027-05-01", "to": "2027-05-05"},
            {"name": "国庆节", "from": "2027-10-01", "to": "2027-10-07"},
        ],
        "workdays": [
            {"name": "春节调休", "date": "2027-02-14"},
            {"name": "春节调休", "date": "2027-02-20"},
            {"name": "劳动节调休", "date": "2027-04-25"},
            {"name": "国庆节调休", "date": "2027-10-09"},
        ],
    }],
}


def write_json(path: Path, doc: object) -> Path:
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


# ---- known facts of the seeded calendar ----------------------------------------------


@pytest.mark.parametrize(("day", "kind", "name", "workday"), [
    ("2026-10-01", DayKind.HOLIDAY, "国庆节", False),
    ("2026-10-03", DayKind.HOLIDAY, "国庆节", False),      # a Saturday inside the holiday
    ("2026-10-10", DayKind.ADJUSTED_WORKDAY, "国庆节调休", True),  # 调休: Saturday worked
    ("2026-02-14", DayKind.ADJUSTED_WORKDAY, "春节调休", True),
    ("2026-02-17", DayKind.HOLIDAY, "春节", False),
    ("2026-11-21", DayKind.WEEKEND, "", False),
    ("2026-11-23", DayKind.WORKDAY, "", True),
])
def test_seeded_calendar_knows_the_2026_notice(module_ws: Workstation, day: str,
                                               kind: DayKind, name: str,
                                               workday: bool) -> None:
    info = module_ws.calendar.check(D(day))
    assert (info.kind, info.name, info.is_workday) == (kind, name, workday)
    assert D(day).weekday() >= 5 or kind is not DayKind.ADJUSTED_WORKDAY


def test_the_third_workday_after_30_september_2026_is_the_adjusted_saturday(
        module_ws: Workstation) -> None:
    assert module_ws.calendar.add_workdays(D("2026-09-30"), 3) == D("2026-10-10")
    assert module_ws.calendar.add_workdays(D("2026-09-30"), 0) == D("2026-09-30")
    assert module_ws.calendar.add_workdays(D("2026-10-10"), -3) == D("2026-09-30")


@PROPERTY
@given(start=st.dates(min_value=D("2005-01-01"), max_value=D("2025-12-31")),
       n=st.integers(1, 200))
def test_add_workdays_lands_on_a_workday_after_start(start: dt.date, n: int) -> None:
    end = PACKAGE.add_workdays(start, n)
    assert end > start
    assert PACKAGE.is_workday(end)
    assert PACKAGE.workdays_between(start, end) == n
    assert PACKAGE.workdays_between(end, start) == -n
    # The day before the result is still short of n working days.
    assert PACKAGE.workdays_between(start, end - dt.timedelta(days=1)) == n - 1


@PROPERTY
@given(start=st.dates(min_value=D("2005-01-01"), max_value=D("2025-12-31")),
       n=st.integers(1, 120))
def test_promised_date_in_working_days_is_add_workdays(start: dt.date, n: int) -> None:
    limit = TimeLimit(n, LimitUnit.WORKING_DAYS)
    assert PACKAGE.promised_date(start, limit) == PACKAGE.add_workdays(start, n)


@PROPERTY
@given(start=st.dates(min_value=D("2005-01-01"), max_value=D("2025-12-31")),
       n=st.integers(1, 120))
def test_promised_date_in_calendar_days_moves_off_rest_days(start: dt.date, n: int) -> None:
    due = start + dt.timedelta(days=n)
    result = PACKAGE.promised_date(start, TimeLimit(n, LimitUnit.CALENDAR_DAYS))
    assert result >= due
    assert PACKAGE.is_workday(result)
    assert PACKAGE.workdays_between(due - dt.timedelta(days=1), result) == 1


@pytest.mark.parametrize(("accepted", "limit", "expected"), [
    ("2026-09-29", TimeLimit(3, LimitUnit.WORKING_DAYS), "2026-10-09"),
    ("2026-09-30", TimeLimit(3, LimitUnit.WORKING_DAYS), "2026-10-10"),
    ("2026-11-20", TimeLimit(1, LimitUnit.WORKING_DAYS), "2026-11-23"),
    ("2026-09-24", TimeLimit(7, LimitUnit.CALENDAR_DAYS), "2026-10-08"),   # ends in 国庆节
    ("2026-11-16", TimeLimit(5, LimitUnit.CALENDAR_DAYS), "2026-11-23"),   # ends on Saturday
    ("2026-11-02", TimeLimit(10, LimitUnit.CALENDAR_DAYS), "2026-11-12"),  # ends on Thursday
    ("2026-09-26", TimeLimit(14, LimitUnit.CALENDAR_DAYS), "2026-10-10"),  # adjusted Saturday
    ("2026-10-03", TimeLimit(0, LimitUnit.WORKING_DAYS), "2026-10-03"),    # 即办: same day
])
def test_promised_dates(module_ws: Workstation, accepted: str, limit: TimeLimit,
                        expected: str) -> None:
    assert module_ws.calendar.promised_date(D(accepted), limit) == D(expected)


def test_a_year_without_a_notice_is_refused_not_guessed(module_ws: Workstation) -> None:
    assert 2026 in module_ws.calendar.calendar().covered_years
    assert 2027 not in module_ws.calendar.calendar().covered_years
    with pytest.raises(CalendarNotCovered, match="2027年") as info:
        module_ws.calendar.check(D("2027-03-01"))
    assert info.value.year == 2027
    assert "calendar import" in str(info.value)
    with pytest.raises(CalendarNotCovered):
        module_ws.calendar.add_workdays(D("2026-12-28"), 5)
    with pytest.raises(CalendarNotCovered):
        module_ws.calendar.promised_date(D("2026-12-20"),
                                         TimeLimit(15, LimitUnit.CALENDAR_DAYS))


# ---- importing a new year ------------------------------------------------------------


def test_after_importing_2027_dates_in_2027_compute(fresh_ws: Workstation,
                                                    tmp_path: Path) -> None:
    cal = fresh_ws.calendar
    with pytest.raises(CalendarNotCovered):
        cal.add_workdays(D("2026-12-28"), 5)
    assert cal.import_file(write_json(tmp_path / "2027.json", NOTICE_2027)) == [2027]

    # 29, 30, 31 December; 1-3 January is 元旦; Monday 4 and Tuesday 5 January.
    assert cal.add_workdays(D("2026-12-28"), 5) == D("2027-01-05")
    assert cal.check(D("2027-01-01")).kind is DayKind.HOLIDAY
    assert cal.check(D("2027-01-01")).name == "元旦"
    sunday = cal.check(D("2027-02-14"))
    assert (sunday.kind, sunday.is_workday) == (DayKind.ADJUSTED_WORKDAY, True)
    # Friday 5 February is a workday, 6-13 is 春节, Sunday 14 is worked.
    assert cal.add_workdays(D("2027-02-05"), 1) == D("2027-02-14")
    assert cal.check(D("2027-03-01")).kind is DayKind.WORKDAY
    # The package's 2026 notice is untouched.
    assert cal.check(D("2026-10-01")).name == "国庆节"
    years = {y.year: y for y in cal.years()}
    assert years[2027].origin == "file"
    assert years[2027].adjusted_workdays == 4
    assert years[2027].holidays == 3 + 8 + 3 + 5 + 7
    # The data is in the database, not only in the service's cache.
    reopened = type(cal)(fresh_ws.db)
    assert reopened.add_workdays(D("2026-12-28"), 5) == D("2027-01-05")


def test_exported_calendar_reads_back_to_the_same_notices(fresh_ws: Workstation,
                                                          tmp_path: Path) -> None:
    fresh_ws.calendar.import_file(write_json(tmp_path / "2027.json", NOTICE_2027))
    out = tmp_path / "export.json"
    years = fresh_ws.calendar.export_file(out)
    assert years[-1] == 2027 and 2026 in years
    assert parse_calendar_bytes(out.read_bytes()) == fresh_ws.calendar.notices()


def test_reimporting_a_year_replaces_it_only_when_asked(fresh_ws: Workstation,
                                                       tmp_path: Path) -> None:
    cal = fresh_ws.calendar
    cal.import_file(write_json(tmp_path / "a.json", NOTICE_2027))
    corrected = json.loads(json.dumps(NOTICE_2027))
    corrected["years"][0]["workdays"] = [{"name": "春节调休", "date": "2027-02-20"}]
    fix = write_json(tmp_path / "b.json", corrected)
    with pytest.raises(CalendarFileError, match="已包含2027年") as info:
        cal.import_file(fix)
    assert "--replace" in str(info.value)
    assert cal.check(D("2027-02-14")).kind is DayKind.ADJUSTED_WORKDAY   # unchanged
    assert cal.import_file(fix, replace=True) == [2027]
    assert cal.check(D("2027-02-14")).kind is DayKind.WEEKEND
    assert cal.check(D("2027-02-20")).kind is DayKind.ADJUSTED_WORKDAY


def test_a_file_touching_a_covered_year_changes_nothing(fresh_ws: Workstation,
                                                        tmp_path: Path) -> None:
    """2026 came from the package: a file that also holds 2026 is refused whole."""
    cal = fresh_ws.calendar
    before = cal.notices()
    year_2026 = {"year": 2026, "source": "另一份通知",
                 "holidays": [{"name": "国庆节", "from": "2026-10-01", "to": "2026-10-03"}]}
    both = {"format": "yichuang-calendar", "years": [NOTICE_2027["years"][0], year_2026]}
    with pytest.raises(CalendarFileError, match="已包含2026年的节假日安排") as info:
        cal.import_file(write_json(tmp_path / "both.json", both))
    assert "2027" not in str(info.value)
    assert cal.notices() == before
    with pytest.raises(CalendarNotCovered):
        cal.check(D("2027-01-04"))
    assert cal.import_file(write_json(tmp_path / "both.json", both), replace=True) == [
        2027, 2026]
    assert cal.check(D("2026-10-05")).kind is DayKind.WORKDAY


# ---- bad calendar files --------------------------------------------------------------


def _year(**changes: object) -> dict[str, object]:
    doc: dict[str, object] = json.loads(json.dumps(NOTICE_2027["years"][0]))
    doc.update(changes)
    return doc


@pytest.mark.parametrize(("data", "fragment"), [
    (json.dumps(_year(workdays=[{"name": "春节调休", "date": "2027-02-10"}])).encode(),
     "2027-02-10是周一至周五，本来就上班"),
    (json.dumps(_year(workdays=[{"name": "春节调休", "date": "2027-02-13"}])).encode(),
     "2027-02-13同时被列为放假和调休上班"),
    (b'{"year": 2027, "holidays": [', "不是有效的JSON"),
    (json.dumps(_year(holidays=[{"name": "春节", "from": "2027-02-13", "to": "2027-02-06"}]),
                ensure_ascii=False).encode(), "结束日期2027-02-06早于开始日期2027-02-13"),
    ('{"year": 2027, "source": "节假日安排"}'.encode("gbk"), "UTF-8"),
    (json.dumps(_year(year=1850)).encode(), "year 应为1990至2200之间的年份"),
    (json.dumps(_year(holidays=[{"name": "春节", "from": "2027-02-30"}])).encode(),
     "日期“2027-02-30”无效"),
    (json.dumps(_year(holidays=[{"from": "2027-02-06"}])).encode(), "缺少节日名称"),
    (json.dumps(_year(holidays=[{"name": "春节", "from": "2028-02-06"}])).encode(),
     "不在2027年的通知范围内"),
    (json.dumps(_year(holidays=[{"name": "春节", "from": "2027-02-01",
                                 "to": "2027-02-28"}])).encode(), "放假超过15天"),
    (json.dumps({"years": [_year(), _year()]}).encode(), "出现了多次"),
    (json.dumps({"format": "other", "years": [_year()]}).encode(), "format 应为"),
    (json.dumps({"years": []}).encode(), "years 应为非空数组"),
    # Unknown keys, at every level: a typo must not silently drop the 调休 days.
    (json.dumps({"format": "yichuang-calendar", "years": [_year()], "note": 1}).encode(),
     "文件：有未知字段 note"),
    (json.dumps({"years": [_year(workday=[])]}).encode(), "2027年：有未知字段 workday"),
    (json.dumps(_year(holidays=[{"name": "春节", "from": "2027-02-06", "until": "x"}])
                ).encode(), r"holidays\[0\]：有未知字段 until"),
    (json.dumps(_year(workdays=[{"name": "春节调休", "date": "2027-02-14", "off": True}])
                ).encode(), r"workdays\[0\]：有未知字段 off"),
    (json.dumps({**_year(), "format": "yichuang-calendar", "years2": []}).encode(),
     "有未知字段 years2"),
    # Caps on what the database stores and on the size of a year.
    (json.dumps(_year(holidays=[{"name": "节" * 65, "from": "2027-02-06"}])).encode(),
     "name 长度65超过上限64"),
    (json.dumps(_year(source="通" * 501)).encode(), "source 长度501超过上限500"),
    (json.dumps(_year(holidays=[{"name": "元旦", "from": "2027-01-01"}] * 101)).encode(),
     "holidays 有101项，超过上限100项"),
    (json.dumps(_year(holidays=[
        {"name": "假", "from": (D("2027-01-01") + dt.timedelta(days=15 * i)).isoformat(),
         "to": (D("2027-01-01") + dt.timedelta(days=15 * i + 14)).isoformat()}
        for i in range(7)])).encode(), "合计超过100天"),
    # Control, format and lone surrogate characters in names and sources.
    (json.dumps(_year(holidays=[{"name": "春\u0000节", "from": "2027-02-06"}])
                ).encode(), r"name 第2个字符是控制字符 U\+0000"),
    (b'{"year": 2027, "holidays": [{"name": "\\ud800", "from": "2027-02-06"}]}',
     r"name 第1个字符是不成对的代理字符 U\+D800"),
    (json.dumps(_year(holidays=[{"name": "春节\u202e", "from": "2027-02-06"}])).encode(),
     r"name 第3个字符是不可见的格式字符 U\+202E"),
    (json.dumps(_year(source="国务院\x1b[31m通知")).encode(), r"source 第4个字符是控制字符 U\+001B"),
])
def test_bad_calendar_files_are_refused_with_the_reason(data: bytes, fragment: str) -> None:
    with pytest.raises(CalendarFileError, match=fragment):
        parse_calendar_bytes(data)


def test_a_bad_calendar_file_changes_nothing(fresh_ws: Workstation, tmp_path: Path) -> None:
    cal = fresh_ws.calendar
    before = cal.notices()
    bad = _year(workdays=[{"name": "春节调休", "date": "2027-02-14"},
                          {"name": "错误", "date": "2027-02-10"}])
    with pytest.raises(CalendarFileError, match="本来就上班"):
        cal.import_file(write_json(tmp_path / "bad.json", bad))
    assert cal.notices() == before
    with pytest.raises(CalendarNotCovered):
        cal.check(D("2027-01-04"))
    with pytest.raises(CalendarFileError, match="无法读取文件"):
        cal.import_file(tmp_path / "missing.json")


@PROPERTY
@given(start=st.dates(min_value=D("2005-01-01"), max_value=D("2025-12-31")),
       span=st.integers(-800, 800))
def test_counting_working_days_agrees_with_walking_the_days(start: dt.date, span: int) -> None:
    end = start + dt.timedelta(days=span)
    assume(end.year in PACKAGE.covered_years)
    lo, hi = sorted((start, end))
    walked = sum(1 for k in range(1, (hi - lo).days + 1)
                 if PACKAGE.is_workday(lo + dt.timedelta(days=k)))
    assert PACKAGE.workdays_between(start, end) == (walked if end >= start else -walked)
