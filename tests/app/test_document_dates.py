"""Dates and details on documents: the window's local dates though the database keeps
UTC, the decision's own date and clerk on every reprint, and what receipts, correction
notices and bundle checklists must show."""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.documents import templates
from app.documents.form import DocumentKind as K
from app.documents.form import Stamp
from app.domain.case import (
    Applicant,
    ApplicantKind,
    CaseState,
    CaseStatus,
    Clerk,
    Decision,
    IdType,
    MaterialState,
    MaterialStatus,
)
from app.domain.numbering import CaseNumber
from app.workstation import Workstation
from tests.app.test_documents import FOOD, applicant, clerk, cn_date, pdf_text, squash
from tests.support import accepted_case

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


# ---- dates -----------------------------------------------------------------------------


@pytest.fixture
def local_day_is_not_utc_day() -> Iterator[None]:
    """A time zone in which today's local date differs from the UTC date right now
    (China is UTC+8: before 08:00 the UTC date is still yesterday)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "<-12>12" if dt.datetime.now(dt.UTC).hour < 12 else "<+14>-14"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_documents_date_the_application_by_the_local_day(
        module_ws: Workstation, local_day_is_not_utc_day: None, tmp_path: Path) -> None:
    c = clerk(module_ws)
    case = module_ws.cases.open_case(FOOD, applicant(), c)   # today: the local date
    today = dt.date.today()
    assert today != dt.datetime.now(dt.UTC).date()
    assert CaseNumber.parse(case.number).day == today
    doc = module_ws.documents.render_case_document(K.RECEIPT, case.number, c)
    flat = squash(pdf_text(doc.pdf, tmp_path))
    assert re.findall(r"收件时间(\d+年\d+月\d+日)", flat) == [cn_date(today)]


def test_a_reprint_a_month_later_keeps_the_decision_date_and_clerk(
        fresh_ws: Workstation, tmp_path: Path) -> None:
    """Only the 补打 mark differs: the decision's date, time and 经办人 are the log's."""
    decider = Clerk("c1", "张三", fresh_ws.settings.site_code, fresh_ws.settings.terminal, "1")
    case = accepted_case(fresh_ws, decider, day=dt.date(2026, 11, 23))
    docs = fresh_ws.documents
    original = docs.render_case_document(K.ACCEPTANCE, case.number, decider)
    month_later = dt.datetime.now().replace(microsecond=0) + dt.timedelta(days=30)
    docs.now = lambda: month_later
    later_clerk = Clerk("c2", "周八", decider.site, decider.terminal, "5")
    reprint = docs.render_case_document(K.ACCEPTANCE, case.number, later_clerk, reprint=True)
    first, again = (squash(pdf_text(d.pdf, tmp_path)) for d in (original, reprint))
    decided = re.search(r"日期：(\d{4}-\d\d-\d\d\d\d:\d\d)", first)
    assert decided and f"日期：{decided.group(1)}" in again
    assert "经办人：张三" in again and "周八" not in first
    stamp = f"{month_later:%Y-%m-%d%H:%M}周八"
    assert f"补打{stamp}" in again and f"【补打{stamp}】" in again
    # Take the two marks away and the reprint reads exactly as the original.
    assert again.replace(f"【补打{stamp}】", "").replace(f"补打{stamp}", "") == first


def test_the_receipt_masks_the_id_and_lists_every_paper_taken_in(
        fresh_ws: Workstation, tmp_path: Path) -> None:
    c = clerk(fresh_ws)
    item = fresh_ws.catalogue.item(FOOD)
    case = fresh_ws.cases.open_case(FOOD, applicant(), c)
    fresh_ws.cases.record_materials(case.id, [
        MaterialState(m.id, m.name, MaterialStatus.FAULTY, str(m.form), m.copies,
                      fault="缺少法定代表人签字") if m.id == "m1" else
        MaterialState(m.id, m.name, MaterialStatus.RECEIVED, str(m.form), m.copies)
        for m in item.checklist()], c)
    text = squash(pdf_text(fresh_ws.documents.render_case_document(
        K.RECEIPT, case.number, c).pdf, tmp_path))
    number = applicant().id_number
    assert number not in text and f"{number[:4]}**********{number[-4:]}" in text
    assert "有误：缺少法定代表人签字" in text and "食品经营许可申请书" in text
    assert re.search(r"收件时间\d{4}年\d+月\d+日\d\d:\d\d", text)


def test_a_correction_notice_never_demands_a_shared_material_and_notes_come_first(
        fresh_ws: Workstation, tmp_path: Path) -> None:
    c = clerk(fresh_ws)
    item = fresh_ws.catalogue.item(FOOD)
    case = fresh_ws.cases.open_case(FOOD, applicant(), c)
    fresh_ws.cases.record_materials(case.id, [
        MaterialState(m.id, m.name, MaterialStatus.MISSING) if m.id in ("m2", "m4") else
        MaterialState(m.id, m.name, MaterialStatus.RECEIVED, str(m.form), m.copies)
        for m in item.checklist()], c)
    fresh_ws.cases.decide(case.id, Decision.CORRECTION, c, reason="租赁协议须在有效期内")
    text = squash(pdf_text(fresh_ws.documents.render_case_document(
        K.CORRECTION, case.number, c).pdf, tmp_path))
    assert "经营场所使用证明" in text
    assert "营业执照" not in text   # 共享获取: fetched from the other department, not asked
    note, closing = text.index("补充说明"), text.index("除上述材料外，不再要求你补正其他材料")
    assert note < closing


def test_a_bundle_checklist_is_complete_and_asks_for_a_signature(module_ws: Workstation,
                                                                 tmp_path: Path) -> None:
    bundle = module_ws.catalogue.bundle("YJS330100-0001")   # 开办餐饮店
    items = module_ws.catalogue.bundle_items(bundle)
    doc = module_ws.documents.render_checklist(bundle.code, clerk(module_ws))
    text = squash(pdf_text(doc.pdf, tmp_path))
    assert "必要性" in text and "申请人（签收）" in text
    situational = [(items[c].name, s.name) for c in bundle.item_codes
                   for s in items[c].scenarios]
    assert situational, "the demo bundle should have an item with 办理情形"
    for item_name, scenario in situational:
        assert f"{item_name}·{scenario}" in text
