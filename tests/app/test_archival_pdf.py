"""Archive copies: a real two-page 收件凭证 rendered by reportlab, post-processed, read back.

Read back with pikepdf (XMP, catalog, trailer), poppler (pdfinfo, pdffonts, pdftotext,
pdftoppm), fontTools (the embedded font programs) and the PDF/A-2b validator of
pikepdf.pdfa, the one the module itself relies on before declaring PDF/A.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pikepdf
import pikepdf.pdfa
import pytest
from fontTools.ttLib import TTFont
from pikepdf.models.metadata import decode_pdf_date
from reportlab.pdfgen.canvas import Canvas

from app.documents.a4 import render_pdf
from app.documents.archival import ArchiveMeta, archival_pdf
from app.documents.fonts import FontSet, font_set
from app.documents.form import (
    Column,
    DocumentKind,
    Fields,
    FormDocument,
    Heading,
    Signatures,
    Stamp,
    Table,
    Text,
)

CST = dt.timezone(dt.timedelta(hours=8))
CREATED = dt.datetime(2026, 11, 24, 9, 30, 5, tzinfo=CST)
NUMBER = "330106-2026-000123"
SITE = "杭州市西湖区政务服务中心"
RARE = "刘𠈌"   # U+2020C: drawn with the HanaMin fallback, past its last full metric
META = ArchiveMeta(title="收件凭证", kind=DocumentKind.RECEIPT.value, case_number=NUMBER,
                   authority="杭州市西湖区市场监督管理局", issuer=f"{SITE} 3号窗口",
                   created=CREATED)
DC = "http://purl.org/dc/elements/1.1/"
XMP = "http://ns.adobe.com/xap/1.0/"
PDFAID = "http://www.aiim.org/pdfa/ns/id/"


def receipt(rows: int) -> FormDocument:
    stamp = Stamp(SITE, "3", "张三", CREATED.replace(tzinfo=None))
    materials = tuple((str(i), f"第{i}项材料：营业执照副本复印件（加盖公章）", "复印件1份", "已收")
                      for i in range(1, rows + 1))
    return FormDocument(
        DocumentKind.RECEIPT, "收件凭证", stamp, (
            Heading("一、申请事项"),
            Text(f"申请人{RARE}：您申请的食品经营许可（新办）所需材料已收到。"),
            Fields((("申请人", RARE), ("办件编号", NUMBER))),
            Table((Column("序号", 0.5, True), Column("材料名称", 4), Column("形式"),
                   Column("状态", 1, True)), materials),
            Signatures(("申请人（签字）：",), SITE, CREATED.date())),
        number_line="西政服收〔2026〕123号", case_number=NUMBER)


@dataclass(frozen=True)
class Archived:
    rendered: bytes
    pages: int
    archived: bytes


@pytest.fixture(scope="module")
def fonts() -> FontSet:
    return font_set()


@pytest.fixture(scope="module")
def two_pages(fonts: FontSet) -> Archived:
    pdf = render_pdf(receipt(rows=30), fonts)
    assert pdf.pages == 2 and pdf.missing_glyphs == ()
    return Archived(pdf.data, pdf.pages, archival_pdf(pdf.data, META))


def run(tool: list[str], pdf: bytes, folder: Path, *after: str) -> str:
    path = folder / f"{uuid.uuid4().hex}.pdf"
    path.write_bytes(pdf)
    return subprocess.run([*tool, str(path), *after], capture_output=True, text=True,
                          check=True, encoding="utf-8").stdout


def pdfinfo(pdf: bytes, folder: Path) -> dict[str, str]:
    out = run(["pdfinfo", "-isodates"], pdf, folder)
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}


def metadata(pdf: bytes) -> dict[str, object]:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        return dict(doc.open_metadata().items())


# ---- metadata ----------------------------------------------------------------------------


def test_xmp_holds_title_case_number_authority_issuer_kind_and_dates(two_pages: Archived) -> None:
    xmp = metadata(two_pages.archived)
    assert xmp[f"{{{DC}}}title"] == "收件凭证"
    assert xmp[f"{{{DC}}}identifier"] == NUMBER
    assert xmp[f"{{{DC}}}creator"] == ["杭州市西湖区市场监督管理局"]
    assert xmp[f"{{{DC}}}publisher"] == {"杭州市西湖区政务服务中心 3号窗口"}
    assert xmp[f"{{{DC}}}type"] == {"receipt"}
    assert xmp[f"{{{DC}}}language"] == {"zh-CN"}
    assert xmp[f"{{{DC}}}description"] == (
        "收件凭证，办件编号 330106-2026-000123，杭州市西湖区政务服务中心 3号窗口")
    for date in ("CreateDate", "ModifyDate", "MetadataDate"):
        assert xmp[f"{{{XMP}}}{date}"] == "2026-11-24T09:30:05+08:00"
    assert str(xmp["{http://ns.adobe.com/pdf/1.3/}Producer"]).endswith(
        f"; pikepdf {pikepdf.__version__}")


def test_pdfinfo_shows_the_title_authority_and_the_given_creation_time(
        two_pages: Archived, tmp_path: Path) -> None:
    info = pdfinfo(two_pages.archived, tmp_path)
    assert info["Title"] == "收件凭证"
    assert info["Author"] == "杭州市西湖区市场监督管理局"
    assert info["CreationDate"] == info["ModDate"] == "2026-11-24T09:30:05+08"
    assert info["Metadata Stream"] == "yes"
    assert info["Pages"] == "2"


def test_the_info_dictionary_says_what_the_xmp_says(two_pages: Archived) -> None:
    xmp = metadata(two_pages.archived)
    with pikepdf.open(io.BytesIO(two_pages.archived)) as doc:
        info = {k: str(v) for k, v in doc.docinfo.items()}
    assert set(info) == {"/Title", "/Author", "/Subject", "/Creator", "/Producer",
                         "/CreationDate", "/ModDate"}
    assert info["/Title"] == xmp[f"{{{DC}}}title"]
    assert [info["/Author"]] == xmp[f"{{{DC}}}creator"]
    assert info["/Subject"] == xmp[f"{{{DC}}}description"]
    assert info["/Creator"] == xmp[f"{{{XMP}}}CreatorTool"] == "一窗通"
    assert info["/Producer"] == xmp["{http://ns.adobe.com/pdf/1.3/}Producer"]
    assert decode_pdf_date(info["/CreationDate"]) == CREATED
    assert decode_pdf_date(info["/ModDate"]) == CREATED


def test_the_catalog_names_the_language(two_pages: Archived) -> None:
    with pikepdf.open(io.BytesIO(two_pages.archived)) as doc:
        assert str(doc.Root.Lang) == "zh-CN"


def test_xml_special_characters_in_the_metadata_read_back_unchanged(
        two_pages: Archived) -> None:
    meta = replace(META, authority="A&B <市局> \"甲\" '乙'", title="告知单 <1> & 2")
    xmp = metadata(archival_pdf(two_pages.rendered, meta))
    assert xmp[f"{{{DC}}}creator"] == ["A&B <市局> \"甲\" '乙'"]
    assert xmp[f"{{{DC}}}title"] == "告知单 <1> & 2"


def test_a_document_without_a_case_has_no_identifier(fonts: FontSet) -> None:
    doc = replace(receipt(rows=3), case_number="", kind=DocumentKind.CHECKLIST)
    meta = replace(META, case_number="", kind=DocumentKind.CHECKLIST.value, title="一次性告知单")
    xmp = metadata(archival_pdf(render_pdf(doc, fonts).data, meta))
    assert f"{{{DC}}}identifier" not in xmp
    assert xmp[f"{{{DC}}}description"] == "一次性告知单，杭州市西湖区政务服务中心 3号窗口"
    assert xmp[f"{{{DC}}}type"] == {"checklist"}


@pytest.fixture
def shanghai_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    yield None
    monkeypatch.undo()
    time.tzset()


def test_a_naive_creation_time_is_taken_as_local_time(
        two_pages: Archived, shanghai_clock: None) -> None:
    meta = replace(META, created=dt.datetime(2026, 11, 24, 9, 30, 5, 999_999))
    xmp = metadata(archival_pdf(two_pages.rendered, meta))
    assert xmp[f"{{{XMP}}}CreateDate"] == "2026-11-24T09:30:05+08:00"


# ---- the file ----------------------------------------------------------------------------


def test_pdffonts_shows_every_font_embedded(two_pages: Archived, tmp_path: Path) -> None:
    rows = run(["pdffonts"], two_pages.archived, tmp_path).splitlines()[2:]
    assert len(rows) >= 2   # the main font and the HanaMin fallback for 𠈌
    # Columns: name type encoding emb sub uni object-id generation; type may be 2 words.
    assert [row.split()[-5] for row in rows] == ["yes"] * len(rows), rows


def test_the_chinese_text_reads_back_unchanged(two_pages: Archived, tmp_path: Path) -> None:
    before = run(["pdftotext", "-raw", "-enc", "UTF-8"], two_pages.rendered, tmp_path, "-")
    after = run(["pdftotext", "-raw", "-enc", "UTF-8"], two_pages.archived, tmp_path, "-")
    assert after == before
    assert f"申请人{RARE}：您申请的食品经营许可（新办）所需材料已收到。" in after
    assert "第30项材料：营业执照副本复印件（加盖公章）" in "".join(after.split())


def test_the_pages_look_exactly_as_reportlab_drew_them(two_pages: Archived,
                                                        tmp_path: Path) -> None:
    def pixels(pdf: bytes, name: str) -> list[bytes]:
        path = tmp_path / f"{name}.pdf"
        path.write_bytes(pdf)
        subprocess.run(["pdftoppm", "-r", "72", "-gray", str(path), str(tmp_path / name)],
                       check=True)
        return [p.read_bytes() for p in sorted(tmp_path.glob(f"{name}-*.pgm"))]

    before, after = pixels(two_pages.rendered, "before"), pixels(two_pages.archived, "after")
    assert len(before) == len(after) == 2
    assert after == before


def test_font_program_advances_agree_with_the_widths_arrays(two_pages: Archived) -> None:
    checked = 0
    with pikepdf.open(io.BytesIO(two_pages.archived)) as doc:
        for page in doc.pages:
            for font in page.Resources.Font.values():
                if font.Subtype != pikepdf.Name.TrueType:
                    continue
                face = TTFont(io.BytesIO(font.FontDescriptor.FontFile2.read_bytes()))
                codes = face["cmap"].getcmap(1, 0).cmap
                upem, hmtx = face["head"].unitsPerEm, face["hmtx"]
                first = int(font.FirstChar)
                for i, width in enumerate(font.Widths):
                    glyph = codes.get(first + i)
                    if glyph is not None:
                        assert abs(hmtx[glyph][0] * 1000 / upem - float(width)) <= 1, (
                            str(font.BaseFont), first + i)
                        checked += 1
    assert checked > 100


def test_the_trailer_has_a_file_id_and_nothing_is_encrypted(two_pages: Archived) -> None:
    with pikepdf.open(io.BytesIO(two_pages.archived)) as doc:
        assert not doc.is_encrypted
        assert [len(bytes(part)) for part in doc.trailer.ID] == [16, 16]
    assert two_pages.archived[:5] == b"%PDF-"
    # The binary comment line: four bytes above 127 right after the header line.
    comment = two_pages.archived.split(b"\n")[1]
    assert comment[:1] == b"%" and all(b > 127 for b in comment[1:5])


def test_it_declares_pdfa_2b_with_an_srgb_output_intent(two_pages: Archived) -> None:
    xmp = metadata(two_pages.archived)
    assert (xmp[f"{{{PDFAID}}}part"], xmp[f"{{{PDFAID}}}conformance"]) == ("2", "B")
    with pikepdf.open(io.BytesIO(two_pages.archived)) as doc:
        [intent] = doc.Root.OutputIntents
        assert intent.S == pikepdf.Name.GTS_PDFA1
        profile = intent.DestOutputProfile
        assert int(profile.N) == 3
        icc = profile.read_bytes()
    assert icc[36:40] == b"acsp" and icc[12:20] == b"mntrRGB "
    assert icc[8] in (2, 4)                       # ICC major version
    assert int.from_bytes(icc[:4], "big") == len(icc)


def test_the_pdfa_2b_validator_passes_the_archive_copy(two_pages: Archived) -> None:
    report = pikepdf.pdfa.validate_written(io.BytesIO(two_pages.archived), "2b")
    assert [str(f) for f in report.findings] == []
    assert report.passed


def test_a_character_no_font_has_still_gives_a_pdfa_2b_copy_showing_the_box(
        fonts: FontSet, tmp_path: Path) -> None:
    doc = replace(receipt(rows=1), blocks=(Text("申请人：王\U000F0001明"),))
    pdf = render_pdf(doc, fonts)
    assert pdf.missing_glyphs == ("\U000F0001",)
    out = archival_pdf(pdf.data, META)
    assert metadata(out)[f"{{{PDFAID}}}part"] == "2"
    assert "申请人：王□明" in run(["pdftotext", "-raw", "-enc", "UTF-8"], out, tmp_path, "-")


def test_text_in_an_unembedded_font_keeps_the_metadata_but_is_not_declared_pdfa(
        caplog: pytest.LogCaptureFixture) -> None:
    buf = io.BytesIO()
    canvas = Canvas(buf)
    canvas.drawString(72, 720, "Helvetica is not embedded")   # reportlab's default font
    canvas.save()
    with caplog.at_level(logging.WARNING, logger="app.documents.archival"):
        out = archival_pdf(buf.getvalue(), META)
    xmp = metadata(out)
    assert xmp[f"{{{DC}}}identifier"] == NUMBER
    assert f"{{{PDFAID}}}part" not in xmp
    assert "not declared PDF/A-2b" in caplog.text and "6.2.11.4.1" in caplog.text


# ---- content-addressed: the same input gives the same bytes ------------------------------


def test_the_same_input_and_meta_give_the_same_bytes_a_second_later(
        two_pages: Archived) -> None:
    # Crossing a second boundary catches anything that stamps the wall-clock time (qpdf's
    # random /ID, xmp:MetadataDate from pikepdf, an ICC profile's creation date).
    start = int(time.time())
    while int(time.time()) == start:
        time.sleep(0.05)
    assert archival_pdf(two_pages.rendered, META) == two_pages.archived


def test_another_creation_time_gives_other_bytes(two_pages: Archived) -> None:
    later = replace(META, created=CREATED + dt.timedelta(seconds=1))
    assert archival_pdf(two_pages.rendered, later) != two_pages.archived


def test_render_and_archive_of_two_pages_is_timed(fonts: FontSet) -> None:
    """Prints the cost (run with -s to see it); asserts only what it measured."""
    doc = receipt(rows=30)
    render_pdf(doc, fonts)   # warm caches (glyph widths, barcode modules)
    runs = 10
    render_ms = archive_ms = 0.0
    for _ in range(runs):
        start = time.perf_counter()
        pdf = render_pdf(doc, fonts)
        middle = time.perf_counter()
        archival_pdf(pdf.data, META)
        render_ms += (middle - start) * 1000
        archive_ms += (time.perf_counter() - middle) * 1000
    print(f"\n2-page 收件凭证: render {render_ms / runs:.1f} ms, "
          f"archival post-processing +{archive_ms / runs:.1f} ms (mean of {runs})")
    assert pdf.pages == 2
