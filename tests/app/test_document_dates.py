"""Dates on documents are the window's local dates, though the database keeps UTC."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest

from app.documents import templates
from app.documents.form import Stamp
from app.domain.case import Applicant, ApplicantKind, CaseState, CaseStatus, IdType
from app.workstation import Workstation

GETI = "11330100MB0000001X4000116001000"


@pytest.fixture
def beijing_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_a_case_opened_early_morning_prints_todays_date(beijing_time: None,
                                                        module_ws: Workstation) -> None:
    # 07:30 in Beijing on 23 November is 23:30 UTC on the 22nd, as stored.
    opened_utc = dt.datetime(2026, 11, 22, 23, 30)
    case = CaseState("id", "330100001012026112300019", CaseStatus.RECEIVING, GETI, "4",
                     "个体工商户设立登记",
                     Applicant(ApplicantKind.PERSON, "王小明", IdType.RESIDENT_ID, "x"),
                     "330100001", "01", "1", "k", opened_utc)
    stamp = Stamp("城关镇中心", "1", "张三", dt.datetime(2026, 11, 23, 7, 31))
    text = templates.receipt(case, module_ws.catalogue.item(GETI), stamp).text()
    assert "收件时间2026年11月23日 07:31" in text
    assert "2026年11月22日" not in text
    assert templates.local_time(opened_utc) == dt.datetime(2026, 11, 23, 7, 30)
