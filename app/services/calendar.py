"""The working-day calendar as stored: seeding, import/export, deadline queries."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, func, select

from app.domain.calendar import DayInfo, DayKind, SpecialDay, WorkCalendar
from app.domain.calendar_format import (
    MAX_FILE_BYTES,
    CalendarFileError,
    YearNotice,
    notices_to_json,
    parse_calendar_bytes,
)
from app.domain.catalogue import TimeLimit
from app.services.reference_cache import ReferenceCache
from app.storage.db import Database
from app.storage.files import describe_os_error, write_atomically
from app.storage.models import CalendarDay, CalendarYear

# chinesecalendar names its holidays in English.
_PACKAGE_NAMES = {
    "New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节", "Dragon Boat Festival": "端午节", "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节", "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}


class ReferenceFileRefused(ValueError):
    """A reference file that is not read at all: missing, not a plain file, too large."""


def _size_text(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}MB" if size >= 1024 * 1024 else f"{size}字节"


def read_reference_file(path: Path, *, max_bytes: int, what: str) -> bytes:
    """The bytes of a catalogue or calendar file, checked before a byte is read.

    The file's type and size come from ``stat()``: a directory, a device or a FIFO (which
    would block, or never end) is refused without being opened, and so is a file over
    ``max_bytes`` — a 6 GB file must not be read into memory to learn that it is too big.
    The opened descriptor is checked again, so a file swapped in between changes nothing.
    Raises ReferenceFileRefused with the reason in Chinese.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError as exc:
        raise ReferenceFileRefused(f"无法读取文件 {path}：文件不存在") from exc
    except OSError as exc:
        raise ReferenceFileRefused(f"无法读取文件 {path}：{describe_os_error(exc)}") from exc
    _check_stat(path, info, max_bytes, what)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    flags |= getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ReferenceFileRefused(f"无法读取文件 {path}：{describe_os_error(exc)}") from exc
    try:
        with os.fdopen(fd, "rb") as stream:
            _check_stat(path, os.fstat(stream.fileno()), max_bytes, what)
            data = stream.read(max_bytes + 1)
    except OSError as exc:
        raise ReferenceFileRefused(f"无法读取文件 {path}：{describe_os_error(exc)}") from exc
    if len(data) > max_bytes:  # it grew while being read
        raise ReferenceFileRefused(
            f"文件 {path} 超过{_size_text(max_bytes)}，不像是{what}文件")
    return data


def _check_stat(path: Path, info: os.stat_result, max_bytes: int, what: str) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise ReferenceFileRefused(f"{path} 是一个目录，请给出{what}文件的路径")
    if not stat.S_ISREG(info.st_mode):
        raise ReferenceFileRefused(
            f"{path} 不是普通文件（是设备、管道或套接字），不能作为{what}文件导入")
    if info.st_size > max_bytes:
        raise ReferenceFileRefused(
            f"文件 {path} 大小为{_size_text(info.st_size)}，超过上限{_size_text(max_bytes)}，"
            f"不像是{what}文件")


@dataclass(frozen=True, slots=True)
class YearInfo:
    year: int
    source: str
    origin: str
    holidays: int
    adjusted_workdays: int


def package_notices() -> list[YearNotice]:
    """The yearly notices as the maintained ``chinesecalendar`` package knows them."""
    import chinese_calendar

    by_year: dict[int, list[SpecialDay]] = {}
    for day, name in chinese_calendar.holidays.items():
        by_year.setdefault(day.year, []).append(
            SpecialDay(day, DayKind.HOLIDAY, _PACKAGE_NAMES.get(name, name)))
    for day, name in chinese_calendar.workdays.items():
        label = _PACKAGE_NAMES.get(name, name) + "调休"
        by_year.setdefault(day.year, []).append(SpecialDay(day, DayKind.ADJUSTED_WORKDAY, label))
    return [YearNotice(year, f"chinesecalendar {chinese_calendar.__version__}",
                       tuple(sorted(days, key=lambda s: s.day)))
            for year, days in sorted(by_year.items())]


class CalendarService:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._cache = ReferenceCache(self._fingerprint, self._load_calendar)

    def seed_from_package(self) -> int:
        """Add the package's years that the calendar lacks; returns how many were added.

        Runs at every start, so a newer chinesecalendar that knows next year reaches an
        existing install; a year already loaded (from a file or the server) is kept.
        """
        with self._db.read() as session:
            present = set(session.scalars(select(CalendarYear.year)))
        missing = [n for n in package_notices() if n.year not in present]
        if missing:
            self._store(missing, origin="package", replace_existing=False)
        return len(missing)

    def _fingerprint(self) -> tuple[int, dt.datetime | None]:
        with self._db.read() as session:
            count, latest = session.execute(
                select(func.count(), func.max(CalendarYear.imported_at))).one()
        return int(count), latest

    def import_file(self, path: Path, *, replace: bool = False) -> list[int]:
        """Import one or more yearly notices; returns the years of the file, in order.

        A year the calendar already covers (from the package, a file or the server) is
        refused unless ``replace``: a second file for 2027 is more often a mistake than a
        correction, and replacing a notice moves the deadlines of open cases. Either the
        whole file is stored or nothing is. The caller then recomputes the open cases'
        promised dates (:class:`app.services.deadlines.DeadlineRecompute`).
        """
        try:
            data = read_reference_file(path, max_bytes=MAX_FILE_BYTES, what="工作日历")
        except ReferenceFileRefused as exc:
            raise CalendarFileError(str(exc)) from exc
        notices = parse_calendar_bytes(data)
        self._store(notices, origin="file", replace_existing=True, refuse_covered=not replace)
        return [n.year for n in notices]

    def _store(self, notices: list[YearNotice], *, origin: str, replace_existing: bool,
               refuse_covered: bool = False) -> None:
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        with self._db.write() as session:
            if refuse_covered:
                wanted = [n.year for n in notices]
                covered = sorted(session.scalars(
                    select(CalendarYear.year).where(CalendarYear.year.in_(wanted))))
                if covered:
                    names = "、".join(f"{y}年" for y in covered)
                    raise CalendarFileError(
                        f"工作日历已包含{names}的节假日安排，未作任何改动。如确需用本文件替换，"
                        f"请加 --replace 重新导入（替换后会重新计算在办件的承诺办结日期）")
            for notice in notices:
                existing = session.get(CalendarYear, notice.year)
                if existing is not None:
                    if not replace_existing:
                        continue
                    session.execute(delete(CalendarDay).where(
                        CalendarDay.notice_year == notice.year))
                    existing.source, existing.origin, existing.imported_at = (
                        notice.source, origin, now)
                else:
                    session.add(CalendarYear(year=notice.year, source=notice.source,
                                             origin=origin, imported_at=now))
                session.flush()
                for s in notice.days:
                    # A day from a neighbouring year's notice (元旦 over 31 December) is
                    # replaced by the newer notice's word on it.
                    session.execute(delete(CalendarDay).where(CalendarDay.day == s.day))
                    session.add(CalendarDay(day=s.day, kind=str(s.kind), name=s.name,
                                            notice_year=notice.year))
        self._cache.invalidate()

    def export_file(self, path: Path) -> list[int]:
        notices = self.notices()
        write_atomically(path, json.dumps(notices_to_json(notices), ensure_ascii=False,
                                          indent=2) + "\n")
        return [n.year for n in notices]

    def notices(self) -> list[YearNotice]:
        with self._db.read() as session:
            years = session.scalars(select(CalendarYear).order_by(CalendarYear.year)).all()
            days = session.scalars(select(CalendarDay).order_by(CalendarDay.day)).all()
            grouped: dict[int, list[SpecialDay]] = {y.year: [] for y in years}
            for d in days:
                grouped[d.notice_year].append(SpecialDay(d.day, DayKind(d.kind), d.name))
            return [YearNotice(y.year, y.source, tuple(grouped[y.year])) for y in years]

    def years(self) -> list[YearInfo]:
        with self._db.read() as session:
            origins = {year: origin for year, origin in session.execute(
                select(CalendarYear.year, CalendarYear.origin))}
        out = []
        for n in self.notices():
            holidays = sum(1 for s in n.days if s.kind is DayKind.HOLIDAY)
            out.append(YearInfo(n.year, n.source, origins.get(n.year, ""), holidays,
                                len(n.days) - holidays))
        return out

    def calendar(self) -> WorkCalendar:
        """The working calendar, reloaded when another process imported a year."""
        return self._cache.get()

    def _load_calendar(self) -> WorkCalendar:
        notices = self.notices()
        return WorkCalendar({n.year for n in notices}, [s for n in notices for s in n.days])

    def check(self, day: dt.date) -> DayInfo:
        return self.calendar().day_info(day)

    def add_workdays(self, day: dt.date, count: int) -> dt.date:
        return self.calendar().add_workdays(day, count)

    def promised_date(self, accepted_on: dt.date, limit: TimeLimit) -> dt.date:
        return self.calendar().promised_date(accepted_on, limit)
