"""Case documents rendered through the services and read back with poppler and zxing.

Text is read with ``pdftotext -raw`` (content-stream order): in ``-layout`` mode a table
cell that wraps is interleaved with its neighbours' lines, so a long material name would
never appear in one piece. Whitespace is removed from both sides before comparing.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import uuid
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from app.documents.form import DocumentKind
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
from app.domain.checksum import mod11_2
from app.domain.numbering import CaseNumber
from app.services.printing import DocumentError, RenderedDocument
from app.workstation import Workstation
from tests.support import PaperTray

FOOD = "11330100MB0000001X4000215001000"   # 食品经营许可（新办）: 承诺件, m7 可容缺
GETI = "11330100MB0000001X4000116001000"   # 个体工商户设立登记: 即办件
DAY = dt.date(2026, 11, 24)
K = DocumentKind
REASON = "".join(f"第{n}项：经营场所位于居民住宅楼内，不符合食品经营场所设置要求；"
                 for n in range(1, 12))[:200]


def resident_id(body17: str = "33010219800101002") -> str:
    return body17 + mod11_2(body17)


def applicant(name: str = "王小明") -> Applicant:
    return Applicant(ApplicantKind.PERSON, name, IdType.RESIDENT_ID, resident_id())


def clerk(ws: Workstation) -> Clerk:
    return Clerk("clerk-0001", "张三", ws.settings.site_code, "01", ws.settings.window)


def received(ws: Workstation, code: str, **overrides: MaterialState) -> list[MaterialState]:
    """Every 必要 material received, except the ones overridden by material id."""
    return [overrides.get(m.id) or MaterialState(m.id, m.name, MaterialStatus.RECEIVED,
                                                 form_received=str(m.form),
                                                 copies_received=m.copies)
            for m in ws.catalogue.item(code).checklist()]


def marked(ws: Workstation, code: str, mid: str, st: MaterialStatus, **kw: object
           ) -> MaterialState:
    return MaterialState(mid, ws.catalogue.item(code).material(mid).name, st, **kw)  # type: ignore[arg-type]


def case_with(ws: Workstation, code: str, decision: Decision | None = None, *,
              name: str = "王小明", reason: str = "", **overrides: MaterialState) -> CaseState:
    c = clerk(ws)
    case = ws.cases.open_case(code, applicant(name), c, today=DAY)
    if decision is None and not overrides:
        return case
    case = ws.cases.record_materials(case.id, received(ws, code, **overrides), c, today=DAY)
    return ws.cases.decide(case.id, decision, c, reason=reason, today=DAY) if decision else case


def cn_date(day: dt.date | None) -> str:
    assert day is not None
    return f"{day.year}年{day.month}月{day.day}日"


def squash(text: str) -> str:
    return "".join(text.split())


def pdf_text(pdf: bytes, folder: Path, *pages: int, layout: bool = False) -> str:
    path = folder / f"{uuid.uuid4().hex}.pdf"
    path.write_bytes(pdf)
    args = ["pdftotext", "-layout" if layout else "-raw"]
    if pages:
        args += ["-f", str(pages[0]), "-l", str(pages[-1])]
    return subprocess.run([*args, str(path), "-"], capture_output=True, text=True, check=True,
                          encoding="utf-8").stdout


def page_image(pdf: bytes, folder: Path, page: int) -> Image.Image:
    path = folder / f"{uuid.uuid4().hex}.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "200", "-f", str(page), "-l", str(page),
                    "-singlefile", str(path), str(path.with_suffix(""))], check=True)
    return Image.open(path.with_suffix(".png")).convert("L")


def codes(image: Image.Image) -> set[tuple[zxingcpp.BarcodeFormat, str]]:
    return {(r.format, r.text) for r in zxingcpp.read_barcodes(image)}


def both_codes(number: str, witness: str) -> set[tuple[zxingcpp.BarcodeFormat, str]]:
    """Code128 carries the case number; the QR code the number and the record's hash."""
    assert re.fullmatch(r"[0-9a-f]{64}", witness)
    return {(zxingcpp.BarcodeFormat.Code128, number),
            (zxingcpp.BarcodeFormat.QRCode, f"{number}:{witness[:32].upper()}")}


# ---- one case per decision, each document rendered once -------------------------------


@pytest.fixture(scope="module")
def cases(module_ws: Workstation) -> dict[str, CaseState]:
    ws = module_ws
    return {
        "receiving": case_with(ws, FOOD),
        "accepted": case_with(ws, FOOD, Decision.ACCEPT),
        "deferred": case_with(ws, FOOD, Decision.ACCEPT_DEFERRED, m7=marked(
            ws, FOOD, "m7", MaterialStatus.DEFERRED, deferred_until=DAY + dt.timedelta(5))),
        "correction": case_with(ws, FOOD, Decision.CORRECTION, m1=marked(
            ws, FOOD, "m1", MaterialStatus.FAULTY, fault="申请书法定代表人未签字"),
            m5=marked(ws, FOOD, "m5", MaterialStatus.MISSING)),
        "rejection": case_with(ws, FOOD, Decision.REJECT, reason=REASON),
        "completed": case_with(ws, GETI, Decision.ON_THE_SPOT),
    }


CASE_OF = {K.RECEIPT: "accepted", K.ACCEPTANCE: "accepted", K.DEFERRED: "deferred",
           K.CORRECTION: "correction", K.REJECTION: "rejection", K.PICKUP: "accepted",
           K.SERVICE: "completed"}


@pytest.fixture(scope="module")
def rendered(module_ws: Workstation, cases: dict[str, CaseState],
             tmp_path_factory: pytest.TempPathFactory) -> dict[K, tuple[RenderedDocument, str]]:
    folder = tmp_path_factory.mktemp("rendered")
    out = {}
    for kind, which in CASE_OF.items():
        doc = module_ws.documents.render_case_document(kind, cases[which].number,
                                                       clerk(module_ws))
        out[kind] = (doc, pdf_text(doc.pdf, folder))
    return out


def expected_fragments(ws: Workstation, kind: K, case: CaseState) -> list[str]:
    item = ws.catalogue.item(case.item_code)
    base = [kind.display, case.number, case.applicant.name, item.name, "经办人：张三"]
    shown = [m.name for m in case.materials if m.status is MaterialStatus.RECEIVED]
    if kind is K.RECEIPT:
        return base + shown
    if kind is K.ACCEPTANCE:
        return base + shown + [cn_date(case.accepted_on), cn_date(case.promised_date)]
    if kind is K.DEFERRED:
        later = [m for m in case.materials if m.status is MaterialStatus.DEFERRED]
        return base + [cn_date(case.accepted_on), cn_date(case.promised_date)] + [
            x for m in later for x in (m.name, cn_date(m.deferred_until))]
    if kind is K.CORRECTION:
        bad = [m for m in case.materials
               if m.status in (MaterialStatus.MISSING, MaterialStatus.FAULTY)]
        return base + [m.name for m in bad] + [m.fault for m in bad if m.fault]
    if kind is K.REJECTION:
        return [*base, case.decision_reason]
    if kind is K.PICKUP:
        return [*base, cn_date(case.promised_date), item.result]
    return [*base, item.result]   # 送达回证


@pytest.mark.parametrize("kind", list(CASE_OF))
def test_each_case_document_says_what_the_case_holds(
        kind: K, module_ws: Workstation, cases: dict[str, CaseState],
        rendered: dict[K, tuple[RenderedDocument, str]]) -> None:
    case = cases[CASE_OF[kind]]
    doc, text = rendered[kind]
    assert doc.pdf.startswith(b"%PDF-") and doc.pages >= 1
    assert (doc.kind, doc.title, doc.case_number, doc.reprint) == (kind, kind.display,
                                                                    case.number, False)
    assert doc.missing_glyphs == () and doc.warnings == ()
    assert len(doc.pdf) < 100_000   # the bench's target is 60 KB; this is a sanity bound
    flat = squash(text)
    missing = [f for f in expected_fragments(module_ws, kind, case) if squash(f) not in flat]
    assert missing == [], text


def test_the_cases_are_what_the_documents_are_checked_against(
        cases: dict[str, CaseState]) -> None:
    """Guards the expectations above: they must not be vacuous."""
    assert cases["accepted"].promised_date is not None
    assert sum(m.status is MaterialStatus.RECEIVED for m in cases["accepted"].materials) == 7
    assert [m.material_id for m in cases["deferred"].materials
            if m.status is MaterialStatus.DEFERRED] == ["m7"]
    assert str(cases["completed"].status) == "已办结"
    assert len(cases["rejection"].decision_reason) == 200


def test_the_correction_notice_lists_only_the_problem_materials(
        rendered: dict[K, tuple[RenderedDocument, str]]) -> None:
    flat = squash(rendered[K.CORRECTION][1])
    assert "有误：申请书法定代表人未签字" in flat
    assert "未提交" in flat
    assert "保证食品安全的规章制度" not in flat   # m6 was received


def test_the_deferred_notice_has_two_copies_each_labelled(
        rendered: dict[K, tuple[RenderedDocument, str]]) -> None:
    doc, text = rendered[K.DEFERRED]
    assert doc.pages == 2
    flat = squash(text)
    assert flat.count("容缺受理通知书") == 2
    assert re.findall(r"第[一二]联", flat) == ["第一联", "第二联"]
    # Each copy is complete on its own page: the page count runs per copy.
    assert re.findall(r"第\d+页共\d+页", flat) == ["第1页共1页", "第1页共1页"]


@pytest.mark.parametrize(("kind", "page"), [(K.ACCEPTANCE, 1), (K.DEFERRED, 2)])
def test_every_page_carries_the_case_number_and_its_decision_hash_as_codes(
        kind: K, page: int, cases: dict[str, CaseState], module_ws: Workstation,
        rendered: dict[K, tuple[RenderedDocument, str]], tmp_path: Path) -> None:
    doc = rendered[kind][0]
    decision = module_ws.cases.witness_hash(doc.case_id)
    assert codes(page_image(doc.pdf, tmp_path, page)) == both_codes(doc.case_number, decision)
    assert f"记录校验码{decision[:4]}-{decision[4:8]}-{decision[8:12]}" in squash(
        rendered[kind][1])
    assert doc.case_number == cases[CASE_OF[kind]].number


def test_the_thermal_pickup_slip_scans(module_ws: Workstation,
                                       cases: dict[str, CaseState]) -> None:
    number = cases["accepted"].number
    slip = module_ws.documents.render_case_document(K.PICKUP_SLIP, number, clerk(module_ws))
    assert slip.raster is not None and slip.raster.image.mode == "1"
    witness = module_ws.cases.witness_hash(cases["accepted"].id)
    assert codes(slip.raster.image.convert("L")) == both_codes(number, witness)


@pytest.mark.parametrize(("which", "kind", "why"), [
    ("accepted", K.REJECTION, "未作出不予受理决定"),
    ("accepted", K.SERVICE, "尚未办结"),
    ("accepted", K.CORRECTION, "未作出补正决定"),
    ("accepted", K.DEFERRED, "不是容缺受理"),
    ("receiving", K.ACCEPTANCE, "尚未受理"),
    ("receiving", K.PICKUP_SLIP, "尚未受理"),
    ("rejection", K.PICKUP, "尚未受理"),
    ("accepted", K.TICKET, "不是办件文书"),
])
def test_documents_that_do_not_fit_the_case_are_refused(
        which: str, kind: K, why: str, module_ws: Workstation,
        cases: dict[str, CaseState]) -> None:
    case = cases[which]
    with pytest.raises(DocumentError, match=why):
        module_ws.documents.render_case_document(kind, case.number, clerk(module_ws))
    assert module_ws.documents.history(case.id) == []


def test_an_unknown_case_number_is_a_document_error(module_ws: Workstation) -> None:
    number = str(CaseNumber(module_ws.settings.site_code, "01", DAY, 9999))
    with pytest.raises(DocumentError, match=number):
        module_ws.documents.render_case_document(K.ACCEPTANCE, number, clerk(module_ws))
    with pytest.raises(DocumentError, match="没有办件"):
        module_ws.documents.render_case_document(
            K.ACCEPTANCE, "0b7e4c1e-5f8a-4d4e-9a51-3c2f0f9e1a77", clerk(module_ws))
    with pytest.raises(DocumentError, match=r"不是有效的办件编号：.*长度"):
        module_ws.documents.render_case_document(K.ACCEPTANCE, "no-such-id", clerk(module_ws))
    typo = number[:-2] + ("1" if number[-2] != "1" else "2") + number[-1]
    with pytest.raises(DocumentError, match="校验位"):
        module_ws.documents.render_case_document(K.ACCEPTANCE, typo, clerk(module_ws))


def test_a_case_number_scanned_with_a_lower_case_x_is_found(module_ws: Workstation) -> None:
    c = clerk(module_ws)
    for _ in range(12):   # numbers run on until one ends in the check character X
        case = module_ws.cases.open_case(GETI, applicant(), c)
        if case.number.endswith("X"):
            break
    else:
        pytest.fail("no case number ending in X among 12")
    found = module_ws.documents.find_case(case.number.lower())
    assert found.id == case.id


# ---- printing, archive and 补打 ---------------------------------------------------------


def test_a_second_print_is_a_marked_reprint_and_both_are_archived(
        module_ws: Workstation, tmp_path: Path) -> None:
    ws, c = module_ws, clerk(module_ws)
    tray = PaperTray(ws)
    case = case_with(ws, FOOD, Decision.ACCEPT)
    first = ws.documents.render_case_document(K.ACCEPTANCE, case.number, c)
    out1 = ws.documents.print(first, c, tray.target)
    assert out1.ok and "已发送到" in out1.message
    # The paper is the archive-grade copy of the preview (XMP added, page unchanged).
    assert tray.sheets == [ws.documents.archival(first).pdf]
    second = ws.documents.render_case_document(K.ACCEPTANCE, case.number, c)
    out2 = ws.documents.print(second, c, tray.target)
    assert (first.reprint, second.reprint, out2.ok) == (False, True, True)
    assert "补打" not in squash(pdf_text(first.pdf, tmp_path))
    assert re.search(r"补打\d{4}-\d\d-\d\d\d\d:\d\d", squash(pdf_text(second.pdf, tmp_path)))
    history = ws.documents.history(case.id)
    assert [(h.kind, h.outcome, h.reprint) for h in history] == [
        (K.ACCEPTANCE, "printed", False), (K.ACCEPTANCE, "printed", True)]
    assert [h.sha256 for h in history] == [out1.archived_sha256, out2.archived_sha256]
    assert ws.documents.archived_pdf(out1.archived_sha256) == ws.documents.archival(first).pdf
    assert ws.documents.archived_pdf(out2.archived_sha256) == ws.documents.archival(second).pdf


def test_an_exported_pdf_is_archived_but_issues_nothing(module_ws: Workstation,
                                                        tmp_path: Path) -> None:
    ws, c = module_ws, clerk(module_ws)
    tray = PaperTray(ws)
    case = case_with(ws, FOOD, Decision.ACCEPT)
    for n in (1, 2):
        doc = ws.documents.render_case_document(K.ACCEPTANCE, case.number, c)
        out = ws.documents.print(doc, c, PrintTarget("pdf", str(tmp_path / f"{n}.pdf")))
        assert out.ok and "已导出" in out.message and not doc.reprint
    paper = ws.documents.render_case_document(K.ACCEPTANCE, case.number, c)
    assert not paper.reprint   # the first paper copy is the original, not a 补打
    assert ws.documents.print(paper, c, tray.target).ok
    history = ws.documents.history(case.id)
    assert [(h.outcome, h.reprint) for h in history] == [
        ("exported", False), ("exported", False), ("printed", False)]
    after = ws.documents.render_case_document(K.ACCEPTANCE, case.number, c)
    assert after.reprint   # an export made after the paper is a marked copy


def test_a_failing_thermal_printer_keeps_the_slip_in_the_archive(
        module_ws: Workstation) -> None:
    ws, c = module_ws, clerk(module_ws)
    case = case_with(ws, FOOD, Decision.ACCEPT)
    doc = ws.documents.render_case_document(K.PICKUP_SLIP, case.number, c)
    outcome = ws.documents.print(doc, c, PrintTarget.parse("escpos:tcp://127.0.0.1:9"))
    assert not outcome.ok
    assert "127.0.0.1" in outcome.message and "无法打印" in outcome.message
    assert outcome.archived_sha256 and outcome.kept_pdf == ""
    assert ws.documents.archived_pdf(outcome.archived_sha256) == doc.pdf
    assert [(h.outcome, h.reprint, h.sha256) for h in ws.documents.history(case.id)] == [
        ("failed", False, outcome.archived_sha256)]
    # The applicant never got it: the next one is not a 补打.
    assert not ws.documents.render_case_document(K.PICKUP_SLIP, case.number, c).reprint


def test_a_failing_printer_keeps_a_checklist_as_a_file(module_ws: Workstation) -> None:
    doc = module_ws.documents.render_checklist(FOOD, clerk(module_ws))
    outcome = module_ws.documents.print(doc, clerk(module_ws),
                                        PrintTarget.parse("escpos:tcp://127.0.0.1:9"))
    assert not outcome.ok and outcome.archived_sha256 == ""
    kept = Path(outcome.kept_pdf)
    assert kept.is_file() and kept.read_bytes() == module_ws.documents.archival(doc).pdf
    assert str(kept) in outcome.message


def test_an_a4_document_on_a_thermal_printer_fails_cleanly(module_ws: Workstation,
                                                           tmp_path: Path) -> None:
    ws, c = module_ws, clerk(module_ws)
    case = case_with(ws, FOOD, Decision.ACCEPT)
    doc = ws.documents.render_case_document(K.ACCEPTANCE, case.number, c)
    outcome = ws.documents.print(doc, c, PrintTarget.parse(f"escpos:{tmp_path / 'lp0'}"))
    assert not outcome.ok
    assert "A4文书" in outcome.message and "不能发送到热敏打印机" in outcome.message
    assert not (tmp_path / "lp0").exists()
    assert [h.outcome for h in ws.documents.history(case.id)] == ["failed"]


# ---- rare characters -------------------------------------------------------------------


def test_a_rare_character_name_is_drawn_with_the_fallback_font(
        module_ws: Workstation, tmp_path: Path) -> None:
    name = "刘\u4dae\U0002020c明"   # 刘䶮𠈌明: Extension A and Extension B
    case = case_with(module_ws, FOOD, Decision.ACCEPT, name=name)
    doc = module_ws.documents.render_case_document(K.ACCEPTANCE, case.number,
                                                   clerk(module_ws))
    assert doc.missing_glyphs == () and doc.warnings == ()
    (tmp_path / "rare.pdf").write_bytes(doc.pdf)
    fonts = subprocess.run(["pdffonts", str(tmp_path / "rare.pdf")], capture_output=True,
                           text=True, check=True).stdout.splitlines()[2:]
    embedded = [line.split()[0] for line in fonts if " yes " in line]
    assert len(embedded) > 1 and any("HanaMin" in f for f in embedded), fonts
    # The text layer must give the name back (searching, copying, the archive's index).
    flat = squash(pdf_text(doc.pdf, tmp_path))
    assert name in flat, flat[flat.find("刘"):flat.find("刘") + 6]


@pytest.mark.parametrize("char", ["\ue000", "\U00030000"], ids=["private-use", "ext-G"])
def test_a_character_no_font_has_is_printed_with_a_warning(
        char: str, module_ws: Workstation, tmp_path: Path) -> None:
    case = case_with(module_ws, FOOD, Decision.ACCEPT, name=f"王{char}明")
    doc = module_ws.documents.render_case_document(K.ACCEPTANCE, case.number,
                                                   clerk(module_ws))
    assert doc.pages == 1
    assert case.number in squash(pdf_text(doc.pdf, tmp_path))
    assert doc.missing_glyphs == (char,)
    assert len(doc.warnings) == 1 and char in doc.warnings[0]


# ---- long content ----------------------------------------------------------------------


def thirty_material_catalogue(path: Path) -> tuple[str, list[str]]:
    names = [f"第{n:02d}号材料：申请人及其法定代表人签署的经营场所安全生产与消防责任承诺书附件清单"
             for n in range(1, 31)]
    item = {
        "code": "TEST-THIRTY-0001", "name": "三十项材料测试事项",
        "department": {"name": "示例县市场监督管理局", "code": ""},
        "category": "行政许可", "level": "县级", "kind": "承诺件",
        "legal_limit": {"value": 20, "unit": "工作日"},
        "promised_limit": {"value": 5, "unit": "工作日"}, "fee": {"free": True},
        "materials": [{"id": f"m{n}", "name": name, "form": "原件", "copies": 1,
                       "necessity": "必要",
                       "note": "须由申请人本人签字并加盖公章，复印件应注明与原件一致并签名，"
                               f"逾期或涂改无效（第{n}项）"}
                      for n, name in enumerate(names, 1)],
        "version": "1",
    }
    doc = {"format": "yichuang-catalogue", "format_version": 1, "version": "test-30",
           "items": [item]}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return item["code"], names   # type: ignore[return-value]


def test_thirty_long_materials_span_pages_with_the_header_repeated(
        fresh_ws: Workstation, tmp_path: Path) -> None:
    code, names = thirty_material_catalogue(tmp_path / "thirty.json")
    fresh_ws.catalogue.import_file(tmp_path / "thirty.json")
    doc = fresh_ws.documents.render_checklist(code, clerk(fresh_ws))
    assert doc.pages >= 2
    page2 = squash(pdf_text(doc.pdf, tmp_path, 2))
    assert "材料名称" in page2
    assert any(squash(n) in page2 for n in names)
    flat = squash(pdf_text(doc.pdf, tmp_path))
    positions = [flat.find(squash(n)) for n in names]
    assert -1 not in positions, [n for n, p in zip(names, positions, strict=True) if p < 0]
    assert positions == sorted(positions)
