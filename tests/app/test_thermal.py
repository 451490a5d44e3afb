"""80 mm / 58 mm slips: the raster, its codes, the ESC/POS bytes, printer targets and
their settings.

ESC/POS bytes come from python-escpos's Dummy printer inside the app's spool module; the
file target is a plain file standing in for /dev/usb/lp0. Codes are decoded with zxing-cpp
from the raster exactly as the head burns it, one pixel per dot, never scaled up.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import re
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from PIL import Image, ImageOps

from app.config import ConfigError, load_settings
from app.documents import slips
from app.documents.barcodes import qr_matrix
from app.documents.fonts import FontSet, font_set
from app.documents.form import DocumentKind, Slip, SlipBarcode, SlipQR, SlipRule, SlipText, Stamp
from app.documents.slips import TicketInfo
from app.documents.spool import escpos_raster
from app.documents.targets import PrintTarget, escpos_endpoint
from app.documents.thermal import barcode_module, code128_fits, render_slip
from app.domain.case import (
    Applicant,
    ApplicantKind,
    CaseState,
    CaseStatus,
    Clerk,
    IdType,
)
from app.domain.catalogue import ServiceItem
from app.domain.numbering import CaseNumber
from app.services.printing import DocumentService, RenderedDocument
from app.workstation import Workstation
from tests import support

FOOD = "11330100MB0000001X4000215001000"   # 食品经营许可（新办）: 承诺件
DAY = dt.date(2026, 11, 24)
K = DocumentKind
CJK = re.compile(r"[\u4e00-\u9fff]")


def clerk(ws: Workstation) -> Clerk:
    return Clerk("clerk-0001", "张三", ws.settings.site_code, "01", ws.settings.window)


def accepted_case(ws: Workstation) -> CaseState:
    return support.accepted_case(ws, clerk(ws), FOOD, DAY)


def service(ws: Workstation, **changes: Any) -> DocumentService:
    return support.documents_with(ws, **changes)


def ticket_info(business: str = "综合受理", ticket_class: str = "普通") -> TicketInfo:
    return TicketInfo("A012", business, "示例县城关镇便民服务中心",
                      dt.datetime(2026, 11, 24, 9, 30), 3, ticket_class)


def raster_fragments(data: bytes) -> tuple[list[tuple[int, int, bytes]], bytes]:
    """(bytes per row, rows, pixels) of every GS v 0 image in ``data``, and what follows
    the last one."""
    out = []
    at, end = data.find(b"\x1dv0"), 0
    while at >= 0:
        x = data[at + 4] | data[at + 5] << 8
        y = data[at + 6] | data[at + 7] << 8
        end = at + 8 + x * y
        out.append((x, y, data[at + 8:end]))
        at = data.find(b"\x1dv0", end)
    return out, data[end:]


def row_runs(row: bytes) -> list[tuple[int, int]]:
    """(pixel value, length) runs of one image row."""
    return [(v, len(list(g))) for v, g in itertools.groupby(row)]


def barcode_row(image: Image.Image) -> bytes:
    """The middle row of the tallest band of identical rows that holds black: the bars."""
    grey = image.convert("L")
    w, h = grey.size
    data = grey.tobytes()
    rows = [data[y * w:(y + 1) * w] for y in range(h)]
    best, best_len, y = 0, 0, 0
    while y < h:
        end = y
        while end + 1 < h and rows[end + 1] == rows[y]:
            end += 1
        if 0 in rows[y] and end - y + 1 > best_len:
            best, best_len = y, end - y + 1
        y = end + 1
    assert best_len >= 60, "no barcode band found"
    return rows[best + best_len // 2]


@pytest.fixture(scope="module")
def case(module_ws: Workstation) -> CaseState:
    return accepted_case(module_ws)


@pytest.fixture(scope="module")
def slip(module_ws: Workstation, case: CaseState) -> RenderedDocument:
    return module_ws.documents.render_case_document(K.PICKUP_SLIP, case.number,
                                                    clerk(module_ws))


# ---- raster ----------------------------------------------------------------------------


@pytest.mark.parametrize("dots", [576, 384])
def test_the_ticket_is_as_wide_as_the_head(dots: int, module_ws: Workstation) -> None:
    doc = service(module_ws, thermal_dots=dots).render_ticket(ticket_info())
    assert doc.raster is not None
    assert doc.raster.image.mode == "1" and doc.raster.image.width == dots
    assert (doc.kind, doc.pages, doc.case_id) == (K.TICKET, 1, "")


@pytest.mark.parametrize("dots", [576, 384])
def test_the_pickup_slip_is_as_wide_as_the_head(dots: int, module_ws: Workstation,
                                                case: CaseState) -> None:
    docs = service(module_ws, thermal_dots=dots)
    doc = docs.render_case_document(K.PICKUP_SLIP, case.number, clerk(module_ws))
    assert doc.raster is not None and doc.raster.image.width == dots
    assert render_slip(doc.slip, docs.fonts(), dots).image.width == dots  # type: ignore[arg-type]


def test_barcode_bars_are_whole_dots_of_at_least_three(slip: RenderedDocument) -> None:
    assert slip.raster is not None
    runs = row_runs(barcode_row(slip.raster.image))
    inner = runs[1:-1]   # between the white margins
    assert inner and inner[0][0] == 0 and inner[-1][0] == 0
    narrowest = min(n for _, n in inner)
    assert narrowest >= 3
    assert all(n % narrowest == 0 for _, n in inner)
    assert sum(1 for v, _ in inner if v == 0) > 20   # bars of a 24-digit Code128


def test_a_longer_ticket_grows_downwards(module_ws: Workstation) -> None:
    docs = module_ws.documents
    height = {key: docs.render_ticket(info).raster.image.height  # type: ignore[union-attr]
              for key, info in {
                  "plain": ticket_info(),
                  "wrapped": ticket_info("综合受理（不动产登记、社保医保、公积金、户籍、出入境、市场准入）"),
                  "green": ticket_info(ticket_class="绿色通道")}.items()}
    assert height["wrapped"] > height["plain"]
    assert height["green"] > height["plain"]


# ---- ESC/POS bytes ---------------------------------------------------------------------


@pytest.mark.parametrize("dots", [576, 384])
def test_raster_bytes_carry_the_image_and_a_cut(dots: int, module_ws: Workstation) -> None:
    docs = service(module_ws, thermal_dots=dots)
    doc = docs.render_ticket(ticket_info())
    assert doc.raster is not None
    data = escpos_raster(doc.raster)
    assert docs.escpos_bytes(doc) == data
    assert data.startswith(b"\x1b@\x1dv0")
    frags, tail = raster_fragments(data)
    assert {x for x, _, _ in frags} == {dots // 8}
    assert sum(y for _, y, _ in frags) == doc.raster.image.height
    ink = ImageOps.invert(doc.raster.image.convert("L")).convert("1").tobytes()
    assert b"".join(p for _, _, p in frags) == ink   # 1 = burn a dot
    assert b"\x1dV" in tail   # feed and cut after the image


def test_a_file_target_receives_exactly_the_escpos_bytes(
        module_ws: Workstation, case: CaseState, tmp_path: Path) -> None:
    docs, c = module_ws.documents, clerk(module_ws)
    ticket = docs.render_ticket(ticket_info())
    outcome = docs.print(ticket, c, PrintTarget.parse(f"escpos:{tmp_path / 'lp0'}"))
    assert outcome.ok, outcome.message
    assert (tmp_path / "lp0").read_bytes() == docs.escpos_bytes(ticket)
    assert b"\x1dv0" in (tmp_path / "lp0").read_bytes()

    doc = docs.render_case_document(K.PICKUP_SLIP, case.number, c)
    outcome = docs.print(doc, c, PrintTarget.parse(f"escpos:{tmp_path / 'lp1'}"))
    assert outcome.ok, outcome.message
    assert (tmp_path / "lp1").read_bytes() == docs.escpos_bytes(doc)
    assert [h.outcome for h in docs.history(case.id)] == ["printed"]
    assert docs.archived_pdf(outcome.archived_sha256) == doc.pdf


def test_text_mode_sends_gb18030_text_and_raster_codes(
        module_ws: Workstation, case: CaseState, slip: RenderedDocument) -> None:
    name = module_ws.catalogue.item(FOOD).name
    raster = module_ws.documents.escpos_bytes(slip)
    assert name.encode("gb18030") not in raster   # raster mode: the text is dots
    docs = service(module_ws, thermal_text_mode=True)
    doc = docs.render_case_document(K.PICKUP_SLIP, case.number, clerk(module_ws))
    data = docs.escpos_bytes(doc)
    assert data.startswith(b"\x1b@\x1c&")
    assert name.encode("gb18030") in data
    assert "申请人：王小明".encode("gb18030") in data
    frags, tail = raster_fragments(data)
    assert len(frags) == 2   # the Code128 and the QR code
    assert b"\x1dV" in tail


def test_no_thermal_printer_configured_keeps_the_ticket(module_ws: Workstation) -> None:
    docs = service(module_ws, printers={})
    doc = docs.render_ticket(ticket_info())
    outcome = docs.print(doc, clerk(module_ws))
    assert not outcome.ok and "未配置热敏打印机" in outcome.message
    assert Path(outcome.kept_pdf).read_bytes() == doc.pdf


# ---- targets and settings --------------------------------------------------------------


@pytest.mark.parametrize(("text", "scheme", "address", "endpoint"), [
    ("system:", "system", "", None),
    ("system:HP", "system", "HP", None),
    ("escpos:tcp://h:9100", "escpos", "tcp://h:9100", ("tcp", "h", 9100)),
    ("escpos:tcp://h", "escpos", "tcp://h", ("tcp", "h", 9100)),
    ("escpos:/dev/usb/lp0", "escpos", "/dev/usb/lp0", ("file", "/dev/usb/lp0", 0)),
    ("escpos:cups://Q", "escpos", "cups://Q", ("cups", "Q", 0)),
    ("pdf:/x.pdf", "pdf", "/x.pdf", None),
])
def test_good_targets_parse(text: str, scheme: str, address: str,
                            endpoint: tuple[str, str, int] | None) -> None:
    target = PrintTarget.parse(text)
    assert (target.scheme, target.address, str(target)) == (scheme, address, text)
    if endpoint:
        assert escpos_endpoint(target.address) == endpoint


@pytest.mark.parametrize("text", [":", "lpt:x", "escpos:", "escpos:tcp://", "escpos:ftp://x",
                                  "escpos:tcp://h:99999", "pdf:", "pdf:   "])
def test_bad_targets_are_refused_in_chinese(text: str) -> None:
    with pytest.raises(ValueError) as info:
        PrintTarget.parse(text)
    assert CJK.search(str(info.value)), str(info.value)


def _settings_file(tmp_path: Path, body: str) -> Path:
    (tmp_path / "settings.toml").write_text(body, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(("body", "fragment"), [
    ('[printers]\na4 = "HP_LaserJet"\n', "[printers] a4"),
    ('[printers]\nthermal = "escpos:ftp://10.0.0.31"\n', "[printers] thermal"),
    ('[printers]\npickup-slip = "escpos:"\n', "[printers] pickup-slip"),
    ('[printers]\nlaser = "system:"\n', "“laser”不是文书种类"),
    ("[thermal]\ndots = 500\n", "[thermal] dots"),
    ('[thermal]\ndots = "576"\n', "[thermal] dots"),
    ("[thermal]\ndots = true\n", "[thermal] dots"),
    ('[thermal]\ntext_mode = "yes"\n', "[thermal] text_mode"),
])
def test_bad_printer_settings_name_the_key(tmp_path: Path, body: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(_settings_file(tmp_path, body))
    assert fragment in str(info.value)


def test_good_printer_settings_choose_the_targets(module_ws: Workstation,
                                                 tmp_path: Path) -> None:
    settings = load_settings(_settings_file(tmp_path, (
        '[printers]\na4 = "system:HP"\nthermal = "escpos:tcp://10.0.0.31"\n'
        'pickup-slip = "escpos:/dev/usb/lp0"\n[thermal]\ndots = 384\ntext_mode = true\n')))
    assert (settings.thermal_dots, settings.thermal_text_mode) == (384, True)
    docs = service(module_ws, printers=settings.printers)
    assert str(docs.target_for(K.PICKUP_SLIP)) == "escpos:/dev/usb/lp0"
    assert str(docs.target_for(K.TICKET)) == "escpos:tcp://10.0.0.31"
    assert str(docs.target_for(K.ACCEPTANCE)) == "system:HP"
    assert service(module_ws, printers={}).target_for(K.ACCEPTANCE) == PrintTarget("system", "")


# ---- the codes of every case number shape ------------------------------------------------
#
# A case number is a 6-12 digit site code, 14 digits and a check character (0-9 or X):
# 21 to 27 characters. Its Code128 is 156 to 200 modules long, so whether 3-dot modules fit
# depends on its length and on the X (a code set switch). Each shape is listed with
# whether its Code128 fits 80 mm paper with 3-dot modules: worked out by hand from the
# module counts (576 dots hold at most 192 modules), not by the code under test.

WITNESS = hashlib.sha256(b"the decision the slip states").hexdigest()
SHAPES = [(site, check, not (site == 12 or (site == 11 and check == "X")))
          for site in range(6, 13) for check in ("X", "digit")]


def case_number(site_digits: int, check: str) -> str:
    """A real case number (check character computed by CaseNumber) of that shape."""
    site = "330102001001"[:site_digits]
    for seq in range(1, 100):
        number = str(CaseNumber(site, "01", DAY, seq))
        if number.endswith("X") == (check == "X"):
            return number
    raise AssertionError(f"no {check} check character in 99 numbers")


def shape_id(site: int, check: str) -> str:
    return f"site{site}-{check}"


@pytest.fixture(scope="module")
def fonts() -> FontSet:
    return font_set(())


@pytest.fixture(scope="module")
def item(module_ws: Workstation) -> ServiceItem:
    return module_ws.catalogue.item(FOOD)


def stamp() -> Stamp:
    return Stamp("示例县城关镇便民服务中心", "01", "张三", dt.datetime(2026, 11, 24, 10, 5),
                 witness=WITNESS, issued_at=dt.datetime(2026, 11, 24, 10, 0))


def case_numbered(number: str, item: ServiceItem) -> CaseState:
    """An accepted case with that number (the slip reads only what it prints)."""
    return CaseState("case-0001", number, CaseStatus.ACCEPTED, item.code, item.version,
                     item.name, Applicant(ApplicantKind.PERSON, "王小明", IdType.RESIDENT_ID,
                                          "330102198001010026"),
                     number[:-15], "01", "01", "clerk-0001", dt.datetime(2026, 11, 24, 9, 0),
                     accepted_on=DAY, promised_date=dt.date(2026, 11, 27))


def decoded(image: Image.Image) -> set[tuple[zxingcpp.BarcodeFormat, str]]:
    return {(r.format, r.text) for r in zxingcpp.read_barcodes(image.convert("L"))}


@pytest.mark.parametrize(("site", "check"), [(s, c) for s, c, fits in SHAPES if fits],
                         ids=[shape_id(s, c) for s, c, fits in SHAPES if fits])
def test_a_case_number_short_enough_gets_three_dot_modules_on_80_mm(site: int,
                                                                    check: str) -> None:
    assert barcode_module(case_number(site, check), 576) == 3   # 0.375 mm bars


@pytest.mark.parametrize(("site", "check", "dots"),
                         [(s, c, 576) for s, c, fits in SHAPES if not fits]
                         + [(s, c, 384) for s, c, _ in SHAPES],
                         ids=[f"{shape_id(s, c)}-576" for s, c, fits in SHAPES if not fits]
                         + [f"{shape_id(s, c)}-384" for s, c, _ in SHAPES])
def test_a_code128_that_would_need_bars_under_three_dots_is_refused(
        site: int, check: str, dots: int, fonts: FontSet) -> None:
    number = case_number(site, check)
    assert not code128_fits(number, dots)
    with pytest.raises(ValueError, match="每模块3点"):
        barcode_module(number, dots)
    with pytest.raises(ValueError, match="每模块3点"):
        render_slip(Slip(K.PICKUP_SLIP, "", (SlipBarcode(number),)), fonts, dots)


def _codes(slip: Slip) -> list[SlipBarcode | SlipQR]:
    return [b for b in slip.blocks if isinstance(b, (SlipBarcode, SlipQR))]


@pytest.mark.parametrize(("site", "check", "dots"),
                         [(s, c, 576) for s, c, fits in SHAPES if not fits]
                         + [(s, c, 384) for s, c, _ in SHAPES],
                         ids=[f"{shape_id(s, c)}-576" for s, c, fits in SHAPES if not fits]
                         + [f"{shape_id(s, c)}-384" for s, c, _ in SHAPES])
def test_without_room_for_the_code128_the_qr_code_comes_first_with_the_number_under_it(
        site: int, check: str, dots: int, item: ServiceItem) -> None:
    number = case_number(site, check)
    slip = slips.pickup_slip(case_numbered(number, item), item, stamp(), dots)
    qr = SlipQR(stamp().qr_payload(number))
    assert _codes(slip) == [qr]
    at = slip.blocks.index(qr)
    assert at < slip.blocks.index(SlipRule())   # above the applicant's details
    after = slip.blocks[at + 1]
    assert isinstance(after, SlipText) and after.text == number


@pytest.mark.parametrize(("site", "check"), [(s, c) for s, c, fits in SHAPES if fits],
                         ids=[shape_id(s, c) for s, c, fits in SHAPES if fits])
def test_with_room_for_the_code128_it_comes_first_and_the_qr_code_after_the_details(
        site: int, check: str, item: ServiceItem) -> None:
    number = case_number(site, check)
    slip = slips.pickup_slip(case_numbered(number, item), item, stamp(), 576)
    qr = SlipQR(stamp().qr_payload(number))
    assert _codes(slip) == [SlipBarcode(number), qr]
    assert slip.blocks.index(SlipBarcode(number)) < slip.blocks.index(SlipRule())
    assert slip.blocks.index(qr) > len(slip.blocks) - 1 - slip.blocks[::-1].index(SlipRule())


@pytest.mark.parametrize("dots", [576, 384])
@pytest.mark.parametrize(("site", "check", "fits_80"), SHAPES,
                         ids=[shape_id(s, c) for s, c, _ in SHAPES])
def test_every_code_on_a_pickup_slip_decodes_from_the_raster(
        site: int, check: str, fits_80: bool, dots: int, item: ServiceItem,
        fonts: FontSet) -> None:
    number = case_number(site, check)
    slip = slips.pickup_slip(case_numbered(number, item), item, stamp(), dots)
    image = render_slip(slip, fonts, dots).image
    assert image.width == dots
    expected = {(zxingcpp.BarcodeFormat.QRCode, f"{number}:{WITNESS[:32].upper()}")}
    if dots == 576 and fits_80:
        expected.add((zxingcpp.BarcodeFormat.Code128, number))
    assert decoded(image) == expected


@pytest.mark.parametrize("check", ["X", "digit"])
def test_the_longest_case_number_under_the_qr_code_stays_on_one_line_on_58_mm(
        check: str, item: ServiceItem, fonts: FontSet) -> None:
    number = case_number(12, check)   # 27 characters
    rendered = render_slip(slips.pickup_slip(case_numbered(number, item), item, stamp(), 384),
                           fonts, 384)
    assert number in [run.text for run in rendered.runs]


def test_a_qr_code_on_58_mm_paper_gets_six_dot_modules(fonts: FontSet) -> None:
    payload = stamp().qr_payload(case_number(12, "X"))   # the longest payload
    image = render_slip(Slip(K.PICKUP_SLIP, "", (SlipQR(payload),)), fonts, 384).image
    left, _, right, _ = ImageOps.invert(image.convert("L")).getbbox() or (0, 0, 0, 0)
    assert right - left == len(qr_matrix(payload)) * 6   # ~0.75 mm modules, ~28 mm wide


# ---- 禁则 and rare characters, as on A4 ------------------------------------------------


def _lines(rendered: Any) -> list[str]:
    """The slip's printed lines, top to bottom, from the runs placed on the raster."""
    lines: dict[float, str] = {}
    for run in rendered.runs:
        lines[run.baseline] = lines.get(run.baseline, "") + run.text
    return [lines[b] for b in sorted(lines)]


@pytest.mark.parametrize("dots", [576, 384])
def test_no_slip_line_starts_with_a_closing_mark_or_ends_with_an_opening_one(dots: int) -> None:
    from app.documents.kinsoku import NO_LINE_END, NO_LINE_START

    fonts = font_set(())
    bad: list[str] = []
    # Shift the text one character at a time, so each mark lands at a line's end for
    # some prefix length.
    for pad in range(24):
        text = "办" * pad + ("请携带《营业执照》（副本）、身份证；他人代领的，须持授权委托书，"
                            "及代领人身份证件。")
        slip = render_slip(Slip(DocumentKind.TICKET, "", (SlipText(text, 24),)), fonts, dots)
        lines = _lines(slip)
        assert "".join(lines) == text   # nothing lost or doubled by moving a break
        bad += [ln for ln in lines[1:] if ln[0] in NO_LINE_START]
        bad += [ln for ln in lines[:-1] if ln[-1] in NO_LINE_END]
    assert bad == []


def test_a_character_no_font_has_prints_as_a_box_on_the_slip() -> None:
    slip = render_slip(Slip(DocumentKind.TICKET, "", (SlipText("申请人：王\U0003134a明", 26),)),
                       font_set(()), 576)
    assert _lines(slip) == ["申请人：王□明"]
    assert slip.missing_glyphs == ("\U0003134a",)
