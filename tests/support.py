"""Helpers shared by the test packages (imported as ``tests.support``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

from app.documents.targets import PrintTarget
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
from app.services.printing import DocumentService
from app.storage.blobs import BlobStore
from app.storage.chain import ChainWalk, walk_chain
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


def accepted_case(ws: Workstation, clerk: Clerk, item_code: str = FOOD,
                  day: dt.date | None = None) -> CaseState:
    """A case of 王小明 with every listed material received, accepted on ``day``."""
    item = ws.catalogue.item(item_code)
    applicant = Applicant(ApplicantKind.PERSON, "王小明", IdType.RESIDENT_ID,
                          "330102198001010026", phone="13800138000")
    case = ws.cases.open_case(item_code, applicant, clerk, today=day)
    ws.cases.record_materials(case.id, [
        MaterialState(m.id, m.name, MaterialStatus.RECEIVED, str(m.form), m.copies)
        for m in item.checklist()], clerk, today=day)
    return ws.cases.decide(case.id, Decision.ACCEPT, clerk, today=day)


class PaperTray:
    """A printer stand-in for A4 paper: the system spooler hook appends every PDF sent.

    There is no CUPS or physical printer in the test machine; the Qt path to a real
    printer is tested on its own (tests/ui/test_system_printer.py).
    """

    def __init__(self, ws: Workstation) -> None:
        self.sheets: list[bytes] = []
        ws.documents.system_spooler = lambda pdf, _printer: self.sheets.append(pdf)

    target = PrintTarget("system", "窗口打印机")


def chain_walk(ws: Workstation, site: str, terminal: str) -> ChainWalk:
    """The events chain of a terminal, walked from its genesis."""
    with ws.db.read() as session:
        return walk_chain(session, "events", site, terminal)


def documents_with(ws: Workstation, **changes: Any) -> DocumentService:
    """The workstation's document service under changed settings (same database)."""
    settings = dataclasses.replace(ws.settings, **changes)
    return DocumentService(settings, ws.db, ws.catalogue, ws.cases,
                           BlobStore(settings.data_dir / "blobs"), ws.integrity.witness)
