"""Helpers shared by the test packages (imported as ``tests.support``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def forget_calendar_years_from(home: Path, year: int) -> None:
    """Drop seeded notices from ``year`` on (a no-op with chinesecalendar 1.11).

    The tests play a machine whose calendar package predates the 2027 notice; a newer
    package that already knows 2027 must not turn them into tests of nothing.
    """
    raw = sqlite3.connect(home / "yichuang.db")
    try:
        with raw:
            raw.execute("DELETE FROM calendar_days WHERE notice_year >= ?", (year,))
            raw.execute("DELETE FROM calendar_years WHERE year >= ?", (year,))
    finally:
        raw.close()
