"""The printing service's promises: 补打 settled when printed, nothing unrecorded, and
documents that say only what is true of the case. Each test here guards a defect a
review of the first version found.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import subprocess
import threading
from pathlib import Path

import pytest
import zxingcpp

from app.config import ConfigError, load_settings
from app.documents import decisions, slips, templates
from app.documents.form import DocumentKind as K
from app.documents.form import Stamp
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
from app.domain.notice import frame_notice
from app.services.document_archive import Issue
from app.services.printing import DocumentError, DocumentIntegrityError, DocumentService
from app.storage.blobs import BlobStore
from app.workstation import Workstation
from tests.support import PaperTray, accepted_case, documents_with

GETI = "11330100MB0000001X4000116001000"   # 个体工商户设立登记: 即办件


def clerk(ws: Workstation, name: str = "张三") -> Clerk:
    return Clerk("clerk-0001", name, ws.settings.site_code, "01", ws.settings.window)


def text_of(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True,
                         text=True, check=True).stdout
    return "".join(out.split())


# ---- 补打 is decided when the paper goes out -------------------------------------------


def test_printing_one_preview_twice_makes_the_second_a_reprint(fresh_ws: Workstation,
                                                              tmp_path: Path) -> None:
    c = clerk(fresh_ws)
    case = accepted_case(fresh_ws, c)
    tray = PaperTray(fresh_ws)
    doc = fresh_ws.documents.render_case_document(K.ACCEPTANCE, case.number, c)
    first = fresh_ws.documents.print(doc, c, tray.target)
    second = fresh_ws.documents.print(doc, c, tray.target)
    assert (first.reprint, second.reprint) == (False, True)
    assert "补打" not in text_of(tray.sheets[0], tmp_path)
    assert "【补打" in text_of(tray.sheets[1], tmp_path)
    assert [d.reprint for d in fresh_ws.documents.history(case.id)] == [False, True]


def test_two_prints_at_once_make_one_original(fresh_ws: Workstation, tmp_path: Path) -> None:
    c = clerk(fresh_ws)
    case = accepted_case(fresh_ws, c)
    tray = PaperTray(fresh_ws)
    doc = fresh_ws.documents.render_case_document(K.RECEIPT, case.number, c)
    outcomes = []

    def press(n: int) -> None:
        outcomes.append(fresh_ws.documents.print(doc, c, tray.target))

    threads = [threading.Thread(target=press, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.reprint for o in outcomes) == [False, True, True, True]
    assert sum(not d.reprint for d in fresh_ws.documents.history(case.id)) == 1


# ---- the archive never loses a print ---------------------------------------------------


def test_a_print_cut_off_midway_shows_as_unknown_and_counts_as_issued(
        fresh_ws: Workstation) -> None:
    c = clerk(fresh_ws)
    case = accepted_case(fresh_ws, c)
    archive = fresh_ws.documents.archive
    # The process dies after recording the attempt and before the printer answers.
    archive.begin(Issue(case.id, K.ACCEPTANCE, "受理通知书", 1000, 1, False), c,
                  "system:", archive.keep(b"%PDF-1.4 cut off"))
    [entry] = fresh_ws.documents.history(case.id)
    assert entry.outcome == "unknown" and "结果未知" in entry.message
    assert fresh_ws.documents.was_issued(case.id, K.ACCEPTANCE)
    again = fresh_ws.documents.render_case_document(K.ACCEPTANCE, case.number, c)
    assert again.reprint


def test_a_full_disk_does_not_stop_the_paper(fresh_ws: Workstation, tmp_path: Path) -> None:
    c = clerk(fresh_ws)
    case = accepted_case(fresh_ws, c)
    blocked = tmp_path / "blobs"
    blocked.write_text("a file where the archive folder should be", encoding="utf-8")
    docs = DocumentService(fresh_ws.settings, fresh_ws.db, fresh_ws.catalogue,
                           fresh_ws.cases, BlobStore(blocked), fresh_ws.integrity.witness)
    doc = docs.render_case_document(K.RECEIPT, case.number, c)
    outcome = docs.print(doc, c, PrintTarget("pdf", str(tmp_path / "out.pdf")))
    assert outcome.ok and (tmp_path / "out.pdf").read_bytes() == docs.archival(doc).pdf
    assert "未能存入办件档案" in outcome.message


# ---- thermal paper of other widths -----------------------------------------------------


def _case_ending_in_x(ws: Workstation, c: Clerk) -> CaseState:
    for _ in range(15):
        case = accepted_case(ws, c, GETI)
        if case.number.endswith("X"):
            return case
    raise AssertionError("no case number ending in X among 15")


def test_a_case_number_ending_in_x_scans_as_a_qr_code_on_58_mm_paper(fresh_ws: Workstation
                                                                      ) -> None:
    # No Code128 of a case number gets 3-dot modules on 384 dots: the QR code is the code.
    c = clerk(fresh_ws)
    case = _case_ending_in_x(fresh_ws, c)
    docs = documents_with(fresh_ws, thermal_dots=384)
    slip = docs.render_case_document(K.PICKUP_SLIP, case.number, c)
    assert slip.raster is not None and slip.raster.image.width == 384
    found = {(r.format, r.text) for r in zxingcpp.read_barcodes(slip.raster.image.convert("L"))}
    assert found == {(zxingcpp.BarcodeFormat.QRCode,
                      f"{case.number}:{fresh_ws.cases.witness_hash(case.id)[:32].upper()}")}


def test_the_qr_text_of_a_58_mm_slip_finds_its_case_where_a_number_is_asked(
        fresh_ws: Workstation) -> None:
    """What a scanner types from the QR code (number:witness) opens the case at F5, F6, F7
    and in the CLI alike: they all ask the documents service."""
    c = clerk(fresh_ws)
    case = _case_ending_in_x(fresh_ws, c)
    scanned = f"{case.number.lower()}:{fresh_ws.cases.witness_hash(case.id)[:32].upper()}\n"
    assert fresh_ws.documents.verified_case(scanned).id == case.id


def test_a_qr_text_whose_witness_is_not_the_cases_is_refused(fresh_ws: Workstation) -> None:
    """A slip made up, or printed from another record: nothing is handed over on it."""
    c = clerk(fresh_ws)
    case = accepted_case(fresh_ws, c, GETI)
    forged = f"{case.number}:{'0' * 32}"
    with pytest.raises(DocumentIntegrityError, match="校验码与办件"):
        fresh_ws.documents.verified_case(forged)
    with pytest.raises(DocumentIntegrityError):
        fresh_ws.documents.verified_case(f"{case.number}:AB")   # a cut-off scan


@pytest.mark.parametrize("dots", [512, 640, 832])
def test_every_allowed_head_width_gives_escpos_bytes(fresh_ws: Workstation, dots: int) -> None:
    c = clerk(fresh_ws)
    case = accepted_case(fresh_ws, c)
    docs = documents_with(fresh_ws, thermal_dots=dots)
    slip = docs.render_case_document(K.PICKUP_SLIP, case.number, c)
    data = docs.escpos_bytes(slip)
    assert data.startswith(b"\x1b@\x1dv0\x00" + (dots // 8).to_bytes(2, "little"))


def test_text_mode_uses_esc_e_for_bold_and_rules_fit_the_paper(fresh_ws: Workstation) -> None:
    c = clerk(fresh_ws)
    case = accepted_case(fresh_ws, c)
    docs = documents_with(fresh_ws, thermal_dots=384, thermal_text_mode=True)
    data = docs.escpos_bytes(docs.render_case_document(K.PICKUP_SLIP, case.number, c))
    assert b"\x1bE\x01" in data and b"\x1dE" not in data
    assert b"-" * 32 + b"\n" in data and b"-" * 33 not in data


# ---- what the documents say ------------------------------------------------------------


def test_an_optional_material_not_brought_is_not_asked_for(fresh_ws: Workstation,
                                                            tmp_path: Path) -> None:
    catalogue = json.loads((Path(__file__).parents[1] / "fixtures" /
                            "catalogue-small.json").read_text(encoding="utf-8"))
    item = catalogue["items"][0]
    item["materials"].append({"id": "m9", "name": "经营场所照片", "form": "电子", "copies": 1,
                              "necessity": "非必要", "source": "申请人自备"})
    item["code"], item["version"] = "TEST-OPTIONAL-0001", "1"
    catalogue["version"] = "2026.11-optional"
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps(catalogue, ensure_ascii=False), encoding="utf-8")
    fresh_ws.catalogue.import_file(path)
    c = clerk(fresh_ws)
    spec = fresh_ws.catalogue.item("TEST-OPTIONAL-0001")
    case = fresh_ws.cases.open_case(spec.code, Applicant(
        ApplicantKind.PERSON, "王小明", IdType.RESIDENT_ID, "330102198001010026"), c)
    states = [MaterialState(m.id, m.name, MaterialStatus.MISSING if m.id == "m1" else
                            MaterialStatus.RECEIVED, str(m.form), m.copies)
              for m in spec.checklist() if m.id != "m9"]
    fresh_ws.cases.record_materials(case.id, states, c)
    fresh_ws.cases.decide(case.id, Decision.CORRECTION, c)
    doc = fresh_ws.documents.render_case_document(K.CORRECTION, case.number, c)
    text = text_of(doc.pdf, tmp_path)
    assert spec.material("m1").name.replace(" ", "") in text
    assert "经营场所照片" not in text


def test_a_quick_item_accepted_the_ordinary_way_prints_its_date(fresh_ws: Workstation
                                                                ) -> None:
    c = clerk(fresh_ws)
    case = accepted_case(fresh_ws, c, GETI)   # 即办件, but 受理 rather than 即办
    assert case.promised_date is not None
    stamp = Stamp("中心", "1", "张三", _now())
    item = fresh_ws.catalogue.item(GETI)
    notice = frame_notice(item, str(Decision.ACCEPT), fresh_ws.settings.notices)
    text = decisions.acceptance(case, item, stamp, notice).text()
    assert f"承诺办结日期{templates.cn_date(case.promised_date)}" in text
    assert "即办件，当场办结" not in text
    assert "预计于即办件" not in templates.pickup(case, item, stamp).text()


def test_receipt_and_service_receipt_carry_the_fields_forms_have(fresh_ws: Workstation) -> None:
    c = clerk(fresh_ws)
    case = accepted_case(fresh_ws, c)
    stamp = Stamp("中心", "1", "张三", _now())
    item = fresh_ws.catalogue.item(case.item_code)
    receipt = templates.receipt(case, item, stamp).text()
    assert "来源" in receipt and "共享获取" in receipt and "申请人自备" in receipt
    service = templates.service_receipt(case, item, stamp, "营业执照").text()
    assert "代收人与受送达人关系" in service and "代收人证件号码" in service


def test_a_long_site_name_and_a_rare_clerk_name_fit_the_footer(fresh_ws: Workstation,
                                                               tmp_path: Path) -> None:
    site = "示例省示例市示例县城关镇人民政府便民服务中心综合受理窗口（第二服务大厅）"
    docs = documents_with(fresh_ws, site_name=site)
    c = clerk(fresh_ws, "刘𠈌")
    case = accepted_case(fresh_ws, c)
    doc = docs.render_case_document(K.RECEIPT, case.number, c, reprint=True)
    assert doc.missing_glyphs == ()
    path = tmp_path / "r.pdf"
    path.write_bytes(doc.pdf)
    layout = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                            text=True, check=True).stdout
    footer = [ln for ln in layout.splitlines() if "页" in ln and "共" in ln][-1]
    squeezed = "".join(footer.split())
    assert re.search(r"第1页共1页", squeezed), footer
    # The site name gave way; the clerk (drawn with the fallback font), the print time
    # and the 补打 mark did not.
    assert "…3号窗口" in squeezed or "…" + fresh_ws.settings.window in squeezed, footer
    assert "经办人：刘𠈌" in squeezed and "日期：" in squeezed and "【补打" in squeezed


def test_an_a4_kind_cannot_be_set_to_a_thermal_printer(tmp_path: Path) -> None:
    (tmp_path / "settings.toml").write_text(
        '[printers]\nacceptance = "escpos:tcp://10.0.0.31"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="acceptance 是A4文书"):
        load_settings(tmp_path)
    (tmp_path / "settings.toml").write_text(
        '[printers]\npickup-slip = "escpos:tcp://10.0.0.31"\n', encoding="utf-8")
    assert load_settings(tmp_path).printers == {"pickup-slip": "escpos:tcp://10.0.0.31"}


def _now() -> dt.datetime:
    return dt.datetime(2026, 11, 23, 10, 0)


def test_printing_a_notice_the_case_has_outgrown_fails_with_a_message(
        fresh_ws: Workstation, tmp_path: Path) -> None:
    c = clerk(fresh_ws)
    item = fresh_ws.catalogue.item(GETI)
    case = fresh_ws.cases.open_case(GETI, Applicant(
        ApplicantKind.PERSON, "王小明", IdType.RESIDENT_ID, "330102198001010026"), c)
    fresh_ws.cases.record_materials(case.id, [
        MaterialState(m.id, m.name, MaterialStatus.MISSING) if n == 0 else
        MaterialState(m.id, m.name, MaterialStatus.RECEIVED, str(m.form), m.copies)
        for n, m in enumerate(item.checklist())], c)
    fresh_ws.cases.decide(case.id, Decision.CORRECTION, c)
    notice = fresh_ws.documents.render_case_document(K.CORRECTION, case.number, c)
    assert fresh_ws.documents.print(notice, c, PrintTarget("pdf", str(tmp_path / "a.pdf"))).ok
    # The applicant comes back with everything; the case is accepted.
    fresh_ws.cases.record_materials(case.id, [
        MaterialState(m.id, m.name, MaterialStatus.RECEIVED, str(m.form), m.copies)
        for m in item.checklist()], c)
    fresh_ws.cases.decide(case.id, Decision.ACCEPT, c)
    again = fresh_ws.documents.print(notice, c, PrintTarget("pdf", str(tmp_path / "b.pdf")))
    assert not again.ok and "不能打印补正材料通知书" in again.message
    assert not (tmp_path / "b.pdf").exists()


def test_a_slow_printer_holds_up_no_other_print(fresh_ws: Workstation, tmp_path: Path) -> None:
    c = clerk(fresh_ws)
    case = accepted_case(fresh_ws, c)
    entered, release = threading.Event(), threading.Event()

    def slow_spooler(pdf: bytes, name: str) -> None:
        entered.set()
        assert release.wait(20), "the test never released the printer"

    fresh_ws.documents.system_spooler = slow_spooler
    doc = fresh_ws.documents.render_case_document(K.ACCEPTANCE, case.number, c)
    slow: list[object] = []
    worker = threading.Thread(target=lambda: slow.append(fresh_ws.documents.print(
        doc, c, PrintTarget("system", "激光"))))
    worker.start()
    try:
        assert entered.wait(20)
        # While the laser printer thinks: the same notice again is a 补打 at once, and a
        # ticket goes out without waiting.
        copy = fresh_ws.documents.render_case_document(K.ACCEPTANCE, case.number, c)
        again = fresh_ws.documents.print(copy, c, PrintTarget("pdf", str(tmp_path / "2.pdf")))
        ticket = fresh_ws.documents.render_ticket(_ticket())
        other = fresh_ws.documents.print(ticket, c, PrintTarget("pdf", str(tmp_path / "t.pdf")))
        assert again.ok and again.reprint and other.ok
        assert not slow, "the slow print finished before it was released"
        states = [d.outcome for d in fresh_ws.documents.history(case.id)]
        assert states == ["unknown", "exported"]   # the first is still at the printer
    finally:
        release.set()
        worker.join(20)
    assert [d.outcome for d in fresh_ws.documents.history(case.id)] == ["printed", "exported"]


def _ticket() -> slips.TicketInfo:
    return slips.TicketInfo("A001", "综合受理", "中心", _now())


def test_the_paper_and_the_archive_get_the_archive_grade_copy_the_preview_does_not(
        fresh_ws: Workstation) -> None:
    import pikepdf

    c = clerk(fresh_ws)
    case = accepted_case(fresh_ws, c)
    tray = PaperTray(fresh_ws)
    preview = fresh_ws.documents.render_case_document(K.ACCEPTANCE, case.number, c)
    with pikepdf.open(io.BytesIO(preview.pdf)) as pdf:
        assert "/Metadata" not in pdf.Root   # previews skip the ~30 ms of archival work
    outcome = fresh_ws.documents.print(preview, c, tray.target)
    assert outcome.ok, outcome.message
    assert tray.sheets == [fresh_ws.documents.archived_pdf(outcome.archived_sha256)]
    with pikepdf.open(io.BytesIO(tray.sheets[0])) as pdf:
        meta = pdf.open_metadata()
        assert meta["dc:identifier"] == case.number
        assert meta["pdfaid:part"] == "2" and meta["pdfaid:conformance"] == "B"
        assert meta["dc:creator"] == ["示例县市场监督管理局"]


def test_a_huge_paste_where_a_number_is_asked_is_refused_in_one_short_line(
        fresh_ws: Workstation) -> None:
    with pytest.raises(DocumentError) as info:
        fresh_ws.documents.verified_case("9" * 32_767)
    assert len(str(info.value)) < 200 and "不是有效的办件编号" in str(info.value)
