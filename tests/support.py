"""Helpers shared by the test packages (imported as ``tests.support``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from app.domain.case import (
    Applicant,
    ApplicantKind,
    CaseState,
    Clerk,
    Decision,
    IdType,
    MaterialState,
    MaterialStatus,
)
from app.workstation import Workstation

FOOD = "11330100MB0000001X4000215001000"   # 食品经营许可（新办）: 承诺件, 3 工作日


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


def accepted_case(ws: Workstation, clerk: Clerk, item_code: str = FOOD) -> CaseState:
    """A case of 王小明 with every listed material received, accepted today."""
    item = ws.catalogue.item(item_code)
    applicant = Applicant(ApplicantKind.PERSON, "王小明", IdType.RESIDENT_ID,
                          "330102198001010026", phone="13800138000")
    case = ws.cases.open_case(item_code, applicant, clerk)
    ws.cases.record_materials(case.id, [
        MaterialState(m.id, m.name, MaterialStatus.RECEIVED, str(m.form), m.copies)
        for m in item.checklist()], clerk)
    return ws.cases.decide(case.id, Decision.ACCEPT, clerk)
