"""Calendar files: one State Council holiday notice per year, as JSON.

```json
{"format": "yichuang-calendar", "years": [{
   "year": 2027, "source": "国务院办公厅关于2027年部分节假日安排的通知",
   "holidays": [{"name": "春节", "from": "2027-02-06", "to": "2027-02-13"}],
   "workdays": [{"name": "春节调休", "date": "2027-02-14"}]}]}
```
A single year object (without the ``years`` wrapper) is accepted too. ``holidays`` are
ranges of days off; ``workdays`` are the weekend days worked instead (调休).

The reader is strict: a key the format does not define is refused at every level (a
typo such as ``"workday"`` would otherwise silently drop the 调休 days), names and
sources are capped to what the database stores and may hold no control, format or
surrogate characters, and the number of days and entries per year is capped.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from app.domain.calendar import DayKind, SpecialDay
from app.domain.text_checks import forbidden_character, printable
from app.errors import UserError

FORMAT_NAME = "yichuang-calendar"
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_NAME_CHARS = 64      # calendar_days.name
MAX_SOURCE_CHARS = 500   # calendar_years.source
MAX_DAYS_PER_YEAR = 100  # real notices list about 30-45 days (2026: 33 off, 2013: 12 worked)
MAX_ENTRIES = 100        # per holidays / workdays array
MAX_YEARS = 1 + 2200 - 1990

_TOP_KEYS = frozenset({"format", "years"})
_YEAR_KEYS = frozenset({"year", "source", "holidays", "workdays"})
_HOLIDAY_KEYS = frozenset({"name", "from", "to"})
_WORKDAY_KEYS = frozenset({"name", "date"})


class CalendarFileError(UserError, ValueError):
    """A bad calendar file; the message says where and what, in Chinese.

    Values quoted from the file are made printable (a lone surrogate or a control
    character would otherwise break the terminal or the log that shows the message).
    """

    def __init__(self, message: str) -> None:
        super().__init__(printable(message))


@dataclass(frozen=True, slots=True)
class YearNotice:
    """The holiday arrangement of one year, as the notice publishes it."""

    year: int
    source: str
    days: tuple[SpecialDay, ...]


def _quote(value: str, limit: int = 40) -> str:
    """A value from the file as a message quotes it: at most ``limit`` characters."""
    return value if len(value) <= limit else value[:limit] + "…"


def _no_unknown_keys(doc: dict[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(_quote(str(k)) for k in doc if k not in allowed)
    if unknown:
        raise CalendarFileError(
            f"{where}：有未知字段 {'、'.join(unknown)}（拼写错误？允许的字段："
            f"{'、'.join(sorted(allowed))}）")


def _clean_text(value: str, field: str, where: str, max_chars: int) -> str:
    text = value.strip()
    if len(text) > max_chars:
        raise CalendarFileError(f"{where}：{field} 长度{len(text)}超过上限{max_chars}个字")
    bad = forbidden_character(text)
    if bad is not None:
        raise CalendarFileError(f"{where}：{field} {bad}")
    return text


def _date(value: Any, where: str) -> dt.date:
    if not isinstance(value, str):
        raise CalendarFileError(f"{where}：应为日期文本 YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CalendarFileError(
            f"{where}：日期“{_quote(value)}”无效，应为 YYYY-MM-DD") from None


def _name(entry: dict[str, Any], where: str) -> str:
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise CalendarFileError(f"{where}：缺少节日名称 name")
    return _clean_text(name, "name", where, MAX_NAME_CHARS)


def _entries(doc: dict[str, Any], key: str, where: str) -> list[Any]:
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise CalendarFileError(f"{where}：holidays 和 workdays 应为数组")
    if len(value) > MAX_ENTRIES:
        raise CalendarFileError(f"{where}：{key} 有{len(value)}项，超过上限{MAX_ENTRIES}项，"
                                "不像是一年的节假日安排")
    return value


def _parse_year(doc: Any, where: str, extra_keys: frozenset[str] = frozenset()) -> YearNotice:
    if not isinstance(doc, dict):
        raise CalendarFileError(f"{where}：应为对象")
    year = doc.get("year")
    if isinstance(year, bool) or not isinstance(year, int) or not 1990 <= year <= 2200:
        raise CalendarFileError(f"{where}：year 应为1990至2200之间的年份")
    where = f"{year}年"
    _no_unknown_keys(doc, _YEAR_KEYS | extra_keys, where)
    source = doc.get("source", "")
    if not isinstance(source, str):
        raise CalendarFileError(f"{where}：source 应为文本（通知名称和文号）")
    source = _clean_text(source, "source", where, MAX_SOURCE_CHARS)
    # A notice may reach into the neighbouring years (元旦 across 31 December).
    lo, hi = dt.date(year - 1, 12, 1), dt.date(year + 1, 1, 31)
    days: dict[dt.date, SpecialDay] = {}

    def put(day: dt.date, kind: DayKind, name: str, at: str) -> None:
        if not lo <= day <= hi:
            raise CalendarFileError(f"{at}：日期{day}不在{year}年的通知范围内")
        if day in days and days[day].kind is not kind:
            raise CalendarFileError(f"{at}：{day}同时被列为放假和调休上班")
        days[day] = SpecialDay(day, kind, name)
        if len(days) > MAX_DAYS_PER_YEAR:
            raise CalendarFileError(f"{where}：放假和调休上班合计超过{MAX_DAYS_PER_YEAR}天，"
                                    "不像是一年的节假日安排，请核对")

    holidays = _entries(doc, "holidays", where)
    workdays = _entries(doc, "workdays", where)
    for i, entry in enumerate(holidays):
        at = f"{where} holidays[{i}]"
        if not isinstance(entry, dict):
            raise CalendarFileError(f"{at}：应为对象")
        _no_unknown_keys(entry, _HOLIDAY_KEYS, at)
        name = _name(entry, at)
        start = _date(entry.get("from"), f"{at}.from")
        end = _date(entry.get("to", entry.get("from")), f"{at}.to")
        if end < start:
            raise CalendarFileError(f"{at}：结束日期{end}早于开始日期{start}")
        if (end - start).days > 14:
            raise CalendarFileError(f"{at}：{name}放假超过15天，请核对日期")
        day = start
        while day <= end:
            put(day, DayKind.HOLIDAY, name, at)
            day += dt.timedelta(days=1)
    for i, entry in enumerate(workdays):
        at = f"{where} workdays[{i}]"
        if not isinstance(entry, dict):
            raise CalendarFileError(f"{at}：应为对象")
        _no_unknown_keys(entry, _WORKDAY_KEYS, at)
        name = _name(entry, at)
        day = _date(entry.get("date"), f"{at}.date")
        if day.weekday() < 5:
            raise CalendarFileError(f"{at}：{day}是周一至周五，本来就上班，不是调休上班日")
        put(day, DayKind.ADJUSTED_WORKDAY, name, at)
    return YearNotice(year, source, tuple(sorted(days.values(), key=lambda s: s.day)))


def parse_calendar_bytes(data: bytes) -> list[YearNotice]:
    """Parse a calendar file; raise CalendarFileError naming the first problem."""
    if len(data) > MAX_FILE_BYTES:
        raise CalendarFileError(f"文件超过{MAX_FILE_BYTES // (1024 * 1024)}MB，不像是工作日历文件")
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise CalendarFileError("文件不是UTF-8编码") from None
    except json.JSONDecodeError as exc:
        raise CalendarFileError(
            f"不是有效的JSON：第{exc.lineno}行第{exc.colno}列，{exc.msg}") from None
    except (RecursionError, ValueError):  # absurd nesting, a number of thousands of digits
        raise CalendarFileError("文件嵌套过深或含有过大的数字，不是工作日历文件") from None
    if isinstance(doc, dict) and doc.get("format") not in (None, FORMAT_NAME):
        raise CalendarFileError(f"format 应为“{FORMAT_NAME}”")
    if isinstance(doc, dict) and "years" in doc:
        _no_unknown_keys(doc, _TOP_KEYS, "文件")
        years = doc["years"]
        if not isinstance(years, list) or not years:
            raise CalendarFileError("years 应为非空数组")
        if len(years) > MAX_YEARS:
            raise CalendarFileError(f"years 有{len(years)}项，超过上限{MAX_YEARS}项")
        notices = [_parse_year(y, f"years[{i}]") for i, y in enumerate(years)]
    else:
        # A single year object may carry the format marker beside its own keys.
        notices = [_parse_year(doc, "文件", frozenset({"format"}))]
    seen = [n.year for n in notices]
    if len(set(seen)) != len(seen):
        raise CalendarFileError("同一年份在文件中出现了多次")
    return notices


def notices_to_json(notices: list[YearNotice]) -> dict[str, Any]:
    """Write notices back in the file format, holidays folded into ranges."""
    years = []
    for n in notices:
        holidays: list[dict[str, str]] = []
        workdays: list[dict[str, str]] = []
        for s in n.days:
            if s.kind is DayKind.ADJUSTED_WORKDAY:
                workdays.append({"name": s.name, "date": s.day.isoformat()})
                continue
            last = holidays[-1] if holidays else None
            if (last is not None and last["name"] == s.name
                    and dt.date.fromisoformat(last["to"]) + dt.timedelta(days=1) == s.day):
                last["to"] = s.day.isoformat()
            else:
                holidays.append({"name": s.name, "from": s.day.isoformat(),
                                 "to": s.day.isoformat()})
        years.append({"year": n.year, "source": n.source, "holidays": holidays,
                      "workdays": workdays})
    return {"format": FORMAT_NAME, "years": years}
