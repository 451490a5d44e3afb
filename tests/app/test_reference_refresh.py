"""A window left open sees what another process imported; new package years arrive."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from app.domain.calendar import CalendarNotCovered, DayKind
from app.services.calendar import CalendarService
from app.services.catalogue import CatalogueService
from app.services.reference_cache import ReferenceCache
from app.storage.db import open_database

D = "2027-01-01"


def _notice_2027(path: Path) -> Path:
    path.write_text(json.dumps({
        "year": 2027, "source": "测试通知",
        "holidays": [{"name": "元旦", "from": "2027-01-01", "to": "2027-01-03"}],
        "workdays": [],
    }, ensure_ascii=False), encoding="utf-8")
    return path


def test_calendar_import_by_another_process_reaches_an_open_window(tmp_path: Path) -> None:
    import datetime as dt

    window_db = open_database(tmp_path / "y.db")
    window = CalendarService(window_db)
    window.seed_from_package()
    window._cache._recheck = 0  # check the fingerprint on every call, for the test
    with pytest.raises(CalendarNotCovered):
        window.check(dt.date.fromisoformat(D))
    admin = CalendarService(open_database(tmp_path / "y.db"))  # the CLI, elsewhere
    admin.import_file(_notice_2027(tmp_path / "2027.json"))
    assert window.check(dt.date.fromisoformat(D)).kind is DayKind.HOLIDAY


def test_catalogue_import_by_another_process_reaches_an_open_window(tmp_path: Path) -> None:
    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    window = CatalogueService(open_database(tmp_path / "y.db"))
    window._snap._recheck = 0
    assert window.search("个体") == []
    CatalogueService(open_database(tmp_path / "y.db")).import_file(
        fixtures / "catalogue-small.json")
    assert [r.name for r in window.search("个体")] == ["个体工商户设立登记"]


def test_seeding_adds_missing_package_years_and_keeps_imported_ones(tmp_path: Path) -> None:
    db = open_database(tmp_path / "y.db")
    service = CalendarService(db)
    assert service.seed_from_package() >= 23  # 2004-2026 with chinesecalendar 1.11
    assert service.seed_from_package() == 0   # nothing new the second time
    # An install seeded by an older package lacks 2026; the administrator replaced 2025
    # from the official notice file.
    raw = sqlite3.connect(tmp_path / "y.db")
    with raw:
        raw.execute("DELETE FROM calendar_days WHERE notice_year = 2026")
        raw.execute("DELETE FROM calendar_years WHERE year = 2026")
        raw.execute("UPDATE calendar_years SET origin = 'file', source = '通知原文' "
                    "WHERE year = 2025")
    raw.close()
    assert service.seed_from_package() == 1
    years = {y.year: y for y in service.years()}
    assert years[2026].origin == "package"
    assert (years[2025].origin, years[2025].source) == ("file", "通知原文")


def test_reference_cache_reloads_only_when_the_fingerprint_changes() -> None:
    stamp = [1]
    loads: list[int] = []

    def load() -> int:
        loads.append(stamp[0])
        return stamp[0] * 10

    cache = ReferenceCache(lambda: stamp[0], load, recheck_seconds=0)
    assert (cache.get(), cache.get()) == (10, 10)
    stamp[0] = 2
    assert cache.get() == 20
    cache.invalidate()
    assert cache.get() == 20
    assert loads == [1, 2, 2]
    slow = ReferenceCache(lambda: stamp[0], load, recheck_seconds=3600)
    slow.get()
    stamp[0] = 3
    assert slow.get() == 20  # within the recheck interval the cached value stands
