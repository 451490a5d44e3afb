"""Typography of the A4 documents, read back from the PDF with poppler.

Lines are read with ``pdftotext -bbox-layout``: each drawn line of a paragraph or a table
cell comes back as a ``<line>`` with its position, and each run of text between gaps
(one table cell's line, one column of a field grid) as a ``<word>``. Page contents are
read with ``pdftotext -raw`` (content-stream order: a table cell's lines come back in
one piece). The documents are built here as :class:`FormDocument` values, so a template
changing its wording cannot make these tests vacuous.

Where a test proves a rule that reportlab alone does not keep, a guard renders the same
document with reportlab's own class in place of ours and shows the rule broken there.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from reportlab.platypus import Paragraph
from reportlab.platypus import Table as RLTable

from app.documents import a4
from app.documents.fonts import (
    FONT_DIRS,
    FONT_OFFERS,
    MISSING_MARK,
    FontSet,
    Run,
    find_font,
    font_advice,
    font_set,
)
from app.documents.form import (
    Column,
    DocumentKind,
    Fields,
    FormDocument,
    Signatures,
    Stamp,
    Table,
    Text,
)
from app.documents.kinsoku import NO_LINE_END, NO_LINE_START, break_point
from app.services.printing import RenderedDocument

CLOSING = "，。；、：？！）》」』】〉”"
OPENING = "（《「『【〈“"
# Every closing mark after a character, every opening mark before one; the
# characters between make each mark's position in a line differ by one from its
# neighbours'.
UNIT = "申请人，材料；复印件、原件：是否？是！（原件）《证明》「副本」『存根』【附件】〈说明〉“签字”。"
EXT_G = "\U0003134a"   # 𱍊, CJK Extension G: in no font installed here


@pytest.fixture(scope="module")
def fonts() -> FontSet:
    return font_set()


def stamp() -> Stamp:
    return Stamp("示例县政务服务中心", "3", "张三", dt.datetime(2026, 11, 24, 9, 30))


def form(*blocks: Text | Table | Fields | Signatures, copies: tuple[str, ...] = ()
         ) -> FormDocument:
    return FormDocument(DocumentKind.CHECKLIST, "排版测试单", stamp(), blocks, copies=copies)


def write(pdf: bytes, folder: Path) -> Path:
    path = folder / f"{uuid.uuid4().hex}.pdf"
    path.write_bytes(pdf)
    return path


def squash(text: str) -> str:
    return "".join(text.split())


def page_texts(pdf: bytes, folder: Path) -> list[str]:
    """Each page's text in content-stream order, whitespace removed."""
    out = subprocess.run(["pdftotext", "-raw", str(write(pdf, folder)), "-"],
                         capture_output=True, text=True, check=True, encoding="utf-8").stdout
    return [squash(p) for p in out.split("\f")[:-1]]


@dataclass(frozen=True)
class Line:
    page: int
    x0: float
    x1: float
    top: float
    words: tuple[str, ...]

    @property
    def text(self) -> str:
        return "".join(self.words)


def lines(pdf: bytes, folder: Path) -> list[Line]:
    out = subprocess.run(["pdftotext", "-bbox-layout", str(write(pdf, folder)), "-"],
                         capture_output=True, text=True, check=True, encoding="utf-8").stdout
    ns = {"h": "http://www.w3.org/1999/xhtml"}
    found = []
    for n, page in enumerate(ET.fromstring(out).iterfind(".//h:page", ns), 1):
        for line in page.iterfind(".//h:line", ns):
            words = tuple(w.text or "" for w in line.iterfind("h:word", ns))
            found.append(Line(n, float(line.get("xMin", 0)), float(line.get("xMax", 0)),
                              float(line.get("yMin", 0)), words))
    return found


def kinsoku_breaches(found: list[Line]) -> tuple[set[str], set[str]]:
    """Closing marks that start a line and opening marks that end one. Each word is a
    line of one table cell or grid column, so each word's ends are checked."""
    starts = {w[0] for ln in found for w in ln.words if w and w[0] in CLOSING}
    ends = {w[-1] for ln in found for w in ln.words if w and w[-1] in OPENING}
    return starts, ends


# ---- 1. 禁则 ---------------------------------------------------------------------------


def paragraphs_doc() -> FormDocument:
    # Body text is 11 pt on a 482 pt line: 43 characters. Prefixes of 0 to 44 characters
    # put each mark of UNIT at every position of a line, the first position included.
    return form(*(Text("办" * k + UNIT * 2, indent=k % 2 == 0) for k in range(45)))


def table_doc() -> FormDocument:
    # The 说明 cells are 9.5 pt on about 246 pt: 25 characters a line.
    rows = tuple((str(k), "表" * (k % 9) + "营业执照（副本）、《许可证》", "说" * k + UNIT)
                 for k in range(1, 28))
    return form(Table((Column("序号", 0.6, center=True), Column("材料名称", 2),
                       Column("说明", 3)), rows))


def fields_doc() -> FormDocument:
    # A grid value is 9.5 pt on about 155 pt: 16 characters a line.
    return form(Fields(tuple((f"项目{k}", "值" * k + UNIT) for k in range(1, 18))))


DOCS = {"paragraphs": paragraphs_doc, "table cells": table_doc, "field grid": fields_doc}


@pytest.mark.parametrize("where", list(DOCS))
def test_reportlab_alone_starts_lines_with_closing_marks_in_these_samples(
        where: str, fonts: FontSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Guard: the samples below are hard. With reportlab's own Paragraph (its CJK
    wrapping knows 。、）」 but not ，；：？！》, and never looks at opening marks) the
    same documents break the rules."""
    monkeypatch.setattr(a4, "_Paragraph", Paragraph)
    starts, ends = kinsoku_breaches(lines(a4.render_pdf(DOCS[where](), fonts).data, tmp_path))
    assert set("，；：？！") <= starts
    assert set("（《「『【") & ends


@pytest.mark.parametrize("where", list(DOCS))
def test_no_line_starts_with_a_closing_mark_or_ends_with_an_opening_one(
        where: str, fonts: FontSet, tmp_path: Path) -> None:
    doc = DOCS[where]()
    found = lines(a4.render_pdf(doc, fonts).data, tmp_path)
    assert kinsoku_breaches(found) == (set(), set()), [
        ln.words for ln in found
        if any(w and (w[0] in CLOSING or w[-1] in OPENING) for w in ln.words)]


@pytest.mark.parametrize("where", list(DOCS))
def test_moving_a_break_loses_no_character(where: str, fonts: FontSet,
                                           tmp_path: Path) -> None:
    doc = DOCS[where]()
    flat = "".join(page_texts(a4.render_pdf(doc, fonts).data, tmp_path))
    for block in doc.blocks:
        match block:
            case Text(text=t):
                assert squash(t) in flat
            case Table(rows=rows):
                assert all(squash(cell) in flat for row in rows for cell in row)
            case Fields(pairs=pairs):
                assert all(squash(v) in flat for _, v in pairs)


def test_no_body_line_hangs_past_the_right_margin(fonts: FontSet, tmp_path: Path) -> None:
    """A mark that may not start a line moves the character before it down rather than
    hanging in the margin (where, in a table, it would cross the cell's border)."""
    found = lines(a4.render_pdf(paragraphs_doc(), fonts).data, tmp_path)
    body = [ln for ln in found if a4.TOP_BAND < ln.top < a4.PAGE_H - a4.BOTTOM]
    assert len(body) > 100
    right = a4.PAGE_W - a4.MARGIN_X
    assert [ln.text for ln in body if ln.x1 > right + 0.01] == []


def test_a_closing_mark_takes_the_character_before_it_to_the_next_line() -> None:
    units = list("一二三四，五")
    assert break_point(units, 0, 4) == 3          # "一二三" / "四，五"


def test_an_opening_mark_moves_down_with_what_it_opens() -> None:
    units = list("一二三（四）")
    assert break_point(units, 0, 4) == 3          # "一二三" / "（四）"


def test_a_run_of_closing_marks_moves_as_a_whole() -> None:
    units = list("一二三四》。”五")
    assert break_point(units, 0, 5) == 3          # "一二三" / "四》。”五"


def test_a_number_is_kept_whole_when_the_line_has_room_to_spare() -> None:
    units = list("一二三四五六七2026-11-24")
    assert break_point(units, 0, 12) == 7         # "一二三四五六七" / "2026-11-24"


def test_a_line_of_nothing_but_marks_is_still_cut_where_it_overflows() -> None:
    units = list("，，，，，，")
    assert break_point(units, 0, 4) == 4
    assert break_point(units, 2, 2) == 3          # a unit wider than the line: alone


def test_the_rules_know_every_mark_these_tests_use() -> None:
    assert set(CLOSING) <= NO_LINE_START and set(OPENING) <= NO_LINE_END


# ---- 2. the closing paragraph stays with the signatures ------------------------------

CLOSING_SENTENCE = "以上内容已当面告知，申请人确认无误。"
SIGNATURES = Signatures(("申请人（签字）：", "窗口经办人（签字）："), "示例县政务服务中心",
                        dt.date(2026, 11, 24))


def filled(k: int, *tail: Text | Signatures) -> FormDocument:
    return form(*(Text(f"第{n}段填充文字。") for n in range(k)), Text(CLOSING_SENTENCE), *tail)


@pytest.fixture(scope="module")
def full_first_page(fonts: FontSet) -> int:
    """The number of one-line filler paragraphs that leaves the closing sentence as the
    last line of page 1: one more line and it would go to page 2, so the signatures,
    far taller than a line, cannot follow it on page 1."""
    k = 20
    while a4.render_pdf(filled(k + 1), fonts).pages == 1:
        k += 1
    assert a4.render_pdf(filled(k), fonts).pages == 1
    return k


def test_without_the_keep_the_signatures_would_stand_alone_on_page_two(
        full_first_page: int, fonts: FontSet, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Guard: what the next test prevents does happen with the blocks laid one by one."""
    def one_by_one(self: a4._Renderer) -> list[a4.Flowable]:
        return [f for b in self.doc.blocks for f in self.block(b)]

    monkeypatch.setattr(a4._Renderer, "blocks", one_by_one)
    pages = page_texts(a4.render_pdf(filled(full_first_page, SIGNATURES), fonts).data, tmp_path)
    assert len(pages) == 2
    assert squash(CLOSING_SENTENCE) in pages[0] and "申请人（签字）" in pages[1]


def test_the_closing_sentence_moves_to_the_signatures_page(
        full_first_page: int, fonts: FontSet, tmp_path: Path) -> None:
    pages = page_texts(a4.render_pdf(filled(full_first_page, SIGNATURES), fonts).data, tmp_path)
    assert len(pages) == 2
    assert squash(CLOSING_SENTENCE) not in pages[0]
    second = pages[1]
    assert squash(CLOSING_SENTENCE) in second
    assert second.index(squash(CLOSING_SENTENCE)) < second.index("申请人（签字）")
    assert "示例县政务服务中心（盖章）" in second and "2026年11月24日" in second


# ---- 3. table rows stay whole ----------------------------------------------------------

HEADER = "序号材料名称说明"


def note(n: int) -> str:
    """Five to eight lines in the 说明 column: a row is some 70 to 110 pt tall."""
    return (f"第{n:02d}号说明：须由申请人本人签字并加盖公章，复印件应注明与原件一致并签名，"
            "逾期或涂改无效；委托他人办理的，应提交授权委托书及受托人身份证明，"
            "外文材料应附中文译本并由翻译机构盖章，"
            f"{'另附说明材料一份，' * (n % 4 * 2)}第{n:02d}号说明完。")


def thirty_rows(filler: int) -> FormDocument:
    rows = tuple((str(n), f"第{n:02d}号材料", note(n)) for n in range(1, 31))
    table = Table((Column("序号", 0.6, center=True), Column("材料名称", 2),
                   Column("说明", 3)), rows)
    return form(*(Text(f"第{n}段填充文字。") for n in range(filler)), table,
                copies=("第一联 申请人留存", "第二联 窗口存档"))


# The table starts lower and lower on page 1, one line at a time across more than the
# height of a row, so the page breaks fall at ever other places within the rows. (With
# splitInRow, reportlab lays the rest of a split table in the space left under its first
# part: a repeated header mid-page and a fragment of the next row below it.)
FILLERS = list(range(26, 34))


@pytest.fixture(scope="module")
def table_pages(fonts: FontSet, tmp_path_factory: pytest.TempPathFactory
                ) -> dict[int, list[str]]:
    folder = tmp_path_factory.mktemp("tables")
    return {k: page_texts(a4.render_pdf(thirty_rows(k), fonts).data, folder) for k in FILLERS}


def split_rows(pages: list[str]) -> list[int]:
    """Rows whose 说明 is not whole on any one page."""
    return [n for n in range(1, 31) if not any(squash(note(n)) in p for p in pages)]


def test_reportlab_alone_splits_rows_across_pages_in_these_documents(
        fonts: FontSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Guard: with reportlab's Table and splitInRow, these documents print part of a row
    at the foot of one page and the rest at the top of the next."""
    monkeypatch.setattr(a4, "_Table", RLTable)
    broken = [k for k in FILLERS
              if split_rows(page_texts(a4.render_pdf(thirty_rows(k), fonts).data, tmp_path))]
    assert broken


@pytest.mark.parametrize("filler", FILLERS)
def test_each_row_prints_whole_on_exactly_one_page_of_each_copy(
        filler: int, table_pages: dict[int, list[str]]) -> None:
    pages = table_pages[filler]
    assert split_rows(pages) == []
    first = [i for i, p in enumerate(pages) if "第一联" in p]
    second = [i for i, p in enumerate(pages) if "第二联" in p]
    assert first and second and max(first) < min(second)
    for copy in (first, second):
        for n in range(1, 31):
            holding = [i for i in copy if f"第{n:02d}号" in pages[i]]
            assert len(holding) == 1, (n, holding)
            assert squash(note(n)) in pages[holding[0]]
            assert f"第{n:02d}号材料" in pages[holding[0]]


@pytest.mark.parametrize("filler", FILLERS)
def test_the_header_heads_each_page_of_the_table_and_appears_nowhere_else(
        filler: int, table_pages: dict[int, list[str]]) -> None:
    pages = table_pages[filler]
    assert len(pages) >= 4   # each copy runs over at least two pages
    for page in pages:
        has_rows = "号说明" in page
        assert page.count(HEADER) == (1 if has_rows else 0), page[:80]
        if has_rows and "排版测试单" not in page:   # a continuation page
            assert page.startswith(HEADER), page[:80]
        if has_rows:   # the header stands right above a row, never alone at a foot
            after = page[page.index(HEADER) + len(HEADER):]
            assert re.match(r"(\d+)第(\d\d)号材料", after), after[:40]


def column_text(found: list[Line], left: float, skip: set[str]) -> str:
    """The words printed right of ``left`` inside the frame, top to bottom, page by page:
    one column's text however its row was split."""
    foot = a4.PAGE_H - a4.BOTTOM
    words = sorted((ln.page, ln.top, w) for ln in found if ln.x0 >= left and ln.top < foot
                   for w in ln.words if w not in skip)
    return "".join(w for _, _, w in words)


def test_a_row_taller_than_a_page_splits_and_prints_every_word(fonts: FontSet,
                                                              tmp_path: Path) -> None:
    # 2,520 characters at 44 a line: some 750 pt, more than the 706 pt of a page's frame.
    text = "".join(f"第{n:03d}句说明文字须完整打印。" for n in range(1, 181))
    table = Table((Column("序号", 0.6, center=True), Column("说明", 5)),
                  (("1", text), ("2", "短行")))
    pdf = a4.render_pdf(form(table), fonts)
    pages = page_texts(pdf.data, tmp_path)
    assert len(pages) == 2
    assert pages[1].startswith("序号说明")   # the header repeats above the rest
    left = a4.MARGIN_X + a4.FRAME_W * 0.6 / 5.6
    skip = {"说明", "短行", "示例县政务服务中心", "排版测试单"}   # header, row 2, page head
    assert column_text(lines(pdf.data, tmp_path), left, skip) == text


def test_a_thousand_character_cell_and_field_still_render(fonts: FontSet,
                                                          tmp_path: Path) -> None:
    long = ("经营场所位于居民住宅楼内，不符合食品经营场所设置要求；" * 40)[:1000]
    table = Table((Column("序号", 0.6), Column("说明", 5)), (("1", long),))
    pdf = a4.render_pdf(form(Text("前文。"), table, Fields((("理由", long),))), fonts)
    flat = "".join(page_texts(pdf.data, tmp_path))
    assert flat.count(squash(long)) == 2


# ---- 4. a character no font has --------------------------------------------------------


def test_a_character_no_font_has_prints_as_a_visible_one_em_box(
        fonts: FontSet, tmp_path: Path) -> None:
    name = f"王{EXT_G}明"
    pdf = a4.render_pdf(form(Text(name, indent=False), Fields((("姓名", name),))), fonts)
    assert pdf.missing_glyphs == (EXT_G,)
    boxed = f"王{MISSING_MARK}明"
    found = [ln for ln in lines(pdf.data, tmp_path) if ln.text == boxed]
    assert len(found) == 2, [ln.text for ln in lines(pdf.data, tmp_path)]
    para, cell = found
    assert cell.x1 - cell.x0 == pytest.approx(3 * 9.5, abs=0.01)   # grid cells: 9.5 pt
    line, em = para, 11   # body text: 11 pt
    assert line.x1 - line.x0 == pytest.approx(3 * em, abs=0.01)
    # Something is drawn in the middle em: the box, not a blank.
    path = write(pdf.data, tmp_path)
    subprocess.run(["pdftoppm", "-png", "-r", "144", "-f", "1", "-l", "1", "-singlefile",
                    str(path), str(path.with_suffix(""))], check=True)
    image = Image.open(path.with_suffix(".png")).convert("L")
    scale = 144 / 72
    box = image.crop((round((line.x0 + em * 1.1) * scale), round(line.top * scale),
                      round((line.x0 + em * 1.9) * scale), round((line.top + em) * scale)))
    assert box.getextrema()[0] < 128
    flat = "".join(page_texts(pdf.data, tmp_path))
    assert f"姓名{boxed}" in flat and flat.count(boxed) == 2


def test_printable_runs_put_the_box_in_a_font_that_has_it(fonts: FontSet) -> None:
    assert list(fonts.printable_runs(f"王{EXT_G}明\ue000")) == [
        Run(f"王{MISSING_MARK}明{MISSING_MARK}", fonts.main.name)]
    assert fonts.main.has(MISSING_MARK)
    assert list(fonts.runs(f"王{EXT_G}明")) == [Run(f"王{EXT_G}明", fonts.main.name)]


def test_the_warning_says_it_prints_as_a_box_to_write_in_and_names_a_font_to_install(
        ) -> None:
    doc = RenderedDocument(DocumentKind.ACCEPTANCE, "受理通知书", b"%PDF-", 1, (EXT_G,))
    (warning,) = doc.warnings
    assert EXT_G in warning and "打印出来是方框“□”" in warning and "手写补全" in warning
    named = [o for o in FONT_OFFERS if o.name in warning]
    assert len(named) == 1
    offer = named[0]
    assert offer.covers(EXT_G)
    assert find_font([(f, 0) for f in offer.files], FONT_DIRS) == []   # not installed
    assert "U+3134A" in warning


def installed(folder: Path, *files: str) -> list[str]:
    for f in files:
        (folder / f).write_bytes(b"")
    return [str(folder)]


def test_advice_names_the_first_font_that_covers_the_block(tmp_path: Path) -> None:
    nothing = installed(tmp_path)
    assert "fonts-hanazono" in font_advice(["\U0002a6d6"], nothing)   # Extension B
    advice = font_advice([EXT_G], nothing)                            # HanaMin stops at F
    assert "Jigmo" in advice and "hanazono" not in advice and "U+3134A" in advice


def test_advice_skips_an_installed_font(tmp_path: Path) -> None:
    dirs = installed(tmp_path, "Jigmo.ttf", "Jigmo2.ttf", "Jigmo3.ttf")
    advice = font_advice([EXT_G], dirs)
    assert "天珩全字库" in advice and "Jigmo" not in advice


def test_with_every_covering_font_installed_the_advice_asks_for_one_by_code_point(
        tmp_path: Path) -> None:
    dirs = installed(tmp_path, "Jigmo3.ttf", "TH-Tshyn-P2.ttf")
    advice = font_advice([EXT_G], dirs)
    assert "U+3134A" in advice and "请管理员另行安装覆盖该字的字体" in advice
    assert not any(o.name in advice for o in FONT_OFFERS)


def test_a_private_use_character_gets_no_font_name_but_its_code_point(tmp_path: Path) -> None:
    advice = font_advice(["\ue000", EXT_G], installed(tmp_path))
    assert "U+E000" in advice and "私用区" in advice
    assert "Jigmo" in advice   # the other character still gets its font
