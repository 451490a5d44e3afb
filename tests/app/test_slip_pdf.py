"""The PDF of a thermal slip (what the case archive keeps and the clerk may save): the raster
at the paper's true width, an invisible text layer in the embedded slip font, metadata.

Read with poppler's command-line tools, as anyone opening the archived file would.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import subprocess
import uuid
from pathlib import Path

import pytest
from PIL import Image

from app.documents import slips
from app.documents.fonts import FontSet, font_set
from app.documents.form import Slip, SlipText, Stamp
from app.documents.thermal import RenderedSlip, render_slip
from app.domain.case import Applicant, ApplicantKind, CaseState, CaseStatus, IdType
from app.domain.catalogue import ServiceItem
from app.workstation import Workstation

FOOD = "11330100MB0000001X4000215001000"   # 食品经营许可（新办）
NUMBER = "33010200101202611240007X"        # a valid number ending in X (check character)
DAY = dt.date(2026, 11, 24)
WITNESS = hashlib.sha256(b"the decision the slip states").hexdigest()
PAPER_MM = {576: 80, 384: 58}


def squash(text: str) -> str:
    return "".join(text.split())


def poppler(tool: str, pdf: bytes, folder: Path, *args: str) -> str:
    path = folder / f"{uuid.uuid4().hex}.pdf"
    path.write_bytes(pdf)
    out = [str(path), "-"] if tool == "pdftotext" else [str(path)]
    return subprocess.run([tool, *args, *out], capture_output=True, text=True, check=True,
                          encoding="utf-8").stdout


def info(pdf: bytes, folder: Path) -> dict[str, str]:
    lines = poppler("pdfinfo", pdf, folder, "-isodates").splitlines()
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in lines)}


def slip_text(slip: Slip) -> str:
    return "".join(b.text for b in slip.blocks if isinstance(b, SlipText))


@pytest.fixture(scope="module")
def fonts() -> FontSet:
    return font_set(())


@pytest.fixture(scope="module")
def item(module_ws: Workstation) -> ServiceItem:
    return module_ws.catalogue.item(FOOD)


def pickup(item: ServiceItem, dots: int, name: str = "王小明") -> Slip:
    case = CaseState("case-0001", NUMBER, CaseStatus.ACCEPTED, item.code, item.version,
                     item.name, Applicant(ApplicantKind.PERSON, name, IdType.RESIDENT_ID,
                                          "330102198001010026"),
                     "330102001", "01", "01", "clerk-0001", dt.datetime(2026, 11, 24, 9, 0),
                     accepted_on=DAY, promised_date=dt.date(2026, 11, 27))
    stamp = Stamp("示例县城关镇便民服务中心", "01", "张三", dt.datetime(2026, 11, 24, 10, 5),
                  witness=WITNESS, issued_at=dt.datetime(2026, 11, 24, 10, 0))
    return slips.pickup_slip(case, item, stamp, dots)


def ticket() -> Slip:
    return slips.ticket(slips.TicketInfo("A012", "综合受理", "示例县城关镇便民服务中心",
                                         dt.datetime(2026, 11, 24, 9, 30), 3, "绿色通道"))


@pytest.mark.parametrize("dots", [576, 384])
@pytest.mark.parametrize("which", ["pickup", "ticket"])
def test_pdftotext_gives_back_every_line_of_the_slip_in_order(
        which: str, dots: int, item: ServiceItem, fonts: FontSet, tmp_path: Path) -> None:
    slip = pickup(item, dots) if which == "pickup" else ticket()
    pdf = render_slip(slip, fonts, dots).pdf()
    # Wrapped lines come back as lines of their own: compare without the whitespace.
    assert squash(poppler("pdftotext", pdf, tmp_path)) == squash(slip_text(slip))


@pytest.mark.parametrize("dots", [576, 384])
def test_the_pickup_slip_pdf_text_holds_the_number_the_name_and_the_chinese_lines(
        dots: int, item: ServiceItem, fonts: FontSet, tmp_path: Path) -> None:
    lines = poppler("pdftotext", render_slip(pickup(item, dots), fonts, dots).pdf(NUMBER),
                    tmp_path).splitlines()
    for line in (NUMBER, "取件通知单", "申请人：王小明", "事项：食品经营许可（新办）",
                 "办理结果：食品经营许可证", "01号窗口 经办人：张三"):
        assert line in lines, lines


def test_a_rare_character_of_a_name_is_in_the_text_layer(
        item: ServiceItem, fonts: FontSet, tmp_path: Path) -> None:
    name = "刘\u4dae\U0002020c明"   # 刘䶮𠈌明: Extension A and Extension B
    pdf = render_slip(pickup(item, 576, name), fonts, 576).pdf(NUMBER)
    assert f"申请人：{name}" in squash(poppler("pdftotext", pdf, tmp_path))


@pytest.mark.parametrize("dots", [576, 384])
def test_the_page_is_as_wide_as_the_paper_and_as_long_as_the_slip(
        dots: int, item: ServiceItem, fonts: FontSet, tmp_path: Path) -> None:
    rendered = render_slip(pickup(item, dots), fonts, dots)
    size = re.fullmatch(r"([\d.]+) x ([\d.]+) pts.*", info(rendered.pdf(), tmp_path)["Page size"])
    assert size is not None
    assert float(size[1]) == pytest.approx(PAPER_MM[dots] / 25.4 * 72, abs=0.5)
    assert float(size[2]) == pytest.approx(rendered.image.height / 203 * 72, abs=0.5)


def test_the_pdf_metadata_names_the_slip_its_case_and_the_program(
        item: ServiceItem, fonts: FontSet, tmp_path: Path) -> None:
    rendered = render_slip(pickup(item, 576), fonts, 576)
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    pdf = rendered.pdf(NUMBER)
    after = dt.datetime.now(dt.UTC)
    meta = info(pdf, tmp_path)
    assert (meta["Title"], meta["Subject"], meta["Creator"]) == ("取件通知单", NUMBER, "一窗通")
    # When the PDF was made, not a fixed date (reportlab's invariant mode writes 2000-01-01).
    assert before <= dt.datetime.fromisoformat(meta["CreationDate"]) <= after


def test_a_slip_without_a_case_has_its_title_as_subject(fonts: FontSet, tmp_path: Path) -> None:
    meta = info(render_slip(ticket(), fonts, 576).pdf(), tmp_path)
    assert (meta["Title"], meta["Subject"], meta["Creator"]) == ("排队票", "排队票", "一窗通")


def test_the_text_layer_font_is_the_slip_font_embedded_as_a_subset(
        item: ServiceItem, fonts: FontSet, tmp_path: Path) -> None:
    pdf = render_slip(pickup(item, 384), fonts, 384).pdf(NUMBER)
    rows = [line.split() for line in poppler("pdffonts", pdf, tmp_path).splitlines()[2:]]
    face = fonts.main.ttf.face.name.decode()
    assert rows and any(re.fullmatch(rf"[A-Z]{{6}}\+{re.escape(face)}.*", r[0]) for r in rows)
    # name, type, encoding, emb, sub, uni, object id: every font embedded, as a subset.
    assert all(r[-5:-2] == ["yes", "yes", "yes"] for r in rows), rows


def _page(pdf: bytes, folder: Path) -> Image.Image:
    path = folder / f"{uuid.uuid4().hex}.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "203", "-png", "-singlefile", str(path),
                    str(path.with_suffix(""))], check=True)
    return Image.open(path.with_suffix(".png")).convert("L")


def test_the_text_layer_is_invisible(item: ServiceItem, fonts: FontSet,
                                     tmp_path: Path) -> None:
    rendered: RenderedSlip = render_slip(pickup(item, 576), fonts, 576)
    without_text = dataclasses.replace(rendered, runs=())
    seen = _page(rendered.pdf(NUMBER), tmp_path)
    assert seen.tobytes() == _page(without_text.pdf(NUMBER), tmp_path).tobytes()
    assert seen.getextrema() == (0, 255)   # the page does show the slip

