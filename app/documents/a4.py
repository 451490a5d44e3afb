"""Draw a :class:`FormDocument` as an A4 PDF with reportlab.

Layout of every page: the case number as Code128 and QR code in the top right corner
(so the pickup desk can scan any page), the copy (联) at the top left, the issuer, title
and number line on the first page of each copy, and a footer with who printed it, when,
and "第 x 页 共 y 页" counted per copy. Text wraps by character (CJK) under the 禁则 of
:mod:`app.documents.kinsoku`; tables split across pages between rows, with their header
repeated; the closing paragraph stays with the signatures; characters the main font
lacks are drawn with a fallback font, and those no font has as a visible □.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    KeepTogether,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    TableStyle,
)
from reportlab.platypus import Table as RLTable

from app.documents.barcodes import draw_code128_pdf, draw_qr_pdf
from app.documents.cjk_paragraph import CJKParagraph as _Paragraph  # tests swap it out
from app.documents.fonts import FontSet
from app.documents.form import Block, Fields, FormDocument, Heading, Signatures, Table, Text

if TYPE_CHECKING:
    from app.documents.archival import ArchiveMeta

PAGE_W, PAGE_H = A4
MARGIN_X = 20 * mm
TOP_BAND = 30 * mm        # barcode band above the frame
BOTTOM = 18 * mm
FRAME_W = PAGE_W - 2 * MARGIN_X
HEADER_GREY = colors.Color(0.9, 0.9, 0.9)
LABEL_GREY = colors.Color(0.95, 0.95, 0.95)
PAGE_NUMBER_W = 24 * mm   # footer space kept for "第 x 页 共 y 页"
FRAME_H = PAGE_H - TOP_BAND - BOTTOM
# Rows never split across pages, except a row taller than a whole page (a 1,000-character
# note), which could not be laid out otherwise; its parts keep at least this many points
# (about three lines): no slivers under a repeated header.
MIN_ROW_SPLIT = 40


@dataclass(frozen=True, slots=True)
class RenderedPdf:
    data: bytes
    pages: int
    missing_glyphs: tuple[str, ...]   # characters no installed font could draw


class _Styles:
    def __init__(self, font: str) -> None:
        base = ParagraphStyle("base", fontName=font, fontSize=11, leading=17,
                              wordWrap="CJK", alignment=TA_LEFT)
        self.body = ParagraphStyle("body", parent=base, firstLineIndent=22)
        self.plain = base
        self.emphasis = ParagraphStyle("emph", parent=base, fontSize=12, leading=18,
                                       firstLineIndent=24)
        self.small = ParagraphStyle("small", parent=base, fontSize=9, leading=13,
                                    firstLineIndent=18)
        self.heading = ParagraphStyle("heading", parent=base, fontSize=12, leading=18,
                                      spaceBefore=6, spaceAfter=2)
        self.issuer = ParagraphStyle("issuer", parent=base, fontSize=14, leading=20,
                                     alignment=TA_CENTER)
        self.number = ParagraphStyle("number", parent=base, fontSize=10.5, leading=15,
                                     alignment=TA_RIGHT)
        self.cell = ParagraphStyle("cell", parent=base, fontSize=9.5, leading=13)
        self.cell_center = ParagraphStyle("cellc", parent=self.cell, alignment=TA_CENTER)
        self.right = ParagraphStyle("right", parent=base, alignment=TA_RIGHT)


class _Table(RLTable):
    """A table that splits between rows only; a row taller than a whole page splits too,
    since nothing else can lay it out (reportlab's ``splitInRow`` would split any row
    that does not fit the rest of a page)."""

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        self._calc(availWidth, availHeight)  # type: ignore[attr-defined]
        parts: list[Flowable] = self._splitRows(availHeight, doInRowSplit=0)  # type: ignore[attr-defined]
        if parts:
            return parts
        heights: list[float] = self._rowHeights  # type: ignore[attr-defined]
        head = self.repeatRows if isinstance(self.repeatRows, int) else 0
        if head < len(heights) and sum(heights[:head + 1]) > FRAME_H:
            parts = self._splitRows(availHeight, doInRowSplit=1)  # type: ignore[attr-defined]
            if not parts:
                # A row just taller than a page leaves a sliver below MIN_ROW_SPLIT:
                # better a thin second part than a document that cannot print at all.
                kept, self.splitInRow = self.splitInRow, 1
                try:
                    parts = self._splitRows(availHeight, doInRowSplit=1)  # type: ignore[attr-defined]
                finally:
                    self.splitInRow = kept
            return parts
        return []


class _CopyStart(Flowable):
    """Marks where a copy (联) begins, so headers and page counts know which copy it is."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index

    def wrap(self, *_: Any) -> tuple[float, float]:
        return 0, 0

    def draw(self) -> None:
        self.canv._yc_copy = self.index  # type: ignore[attr-defined]


class _Title(Flowable):
    """The form's title, centred and emboldened by stroking the glyph outlines (the CJK
    TrueType fonts we can embed have no bold face)."""

    def __init__(self, text: str, font: str, size: float = 22) -> None:
        super().__init__()
        self.text, self.font, self.size = text, font, size

    def wrap(self, avail_width: float, _h: float) -> tuple[float, float]:
        self.width = avail_width
        return avail_width, self.size * 1.5

    def draw(self) -> None:
        width = stringWidth(self.text, self.font, self.size)
        t = self.canv.beginText()
        t.setTextRenderMode(2)
        t.setFont(self.font, self.size)
        t.setTextOrigin((self.width - width) / 2, self.size * 0.4)
        t.textOut(self.text)
        self.canv.saveState()
        self.canv.setLineWidth(0.6)
        self.canv.drawText(t)
        self.canv.restoreState()


class _Renderer:
    def __init__(self, doc: FormDocument, fonts: FontSet) -> None:
        self.doc = doc
        self.fonts = fonts
        self.s = _Styles(fonts.main.name)

    # -- text ---------------------------------------------------------------------------

    def rich(self, text: str) -> str:
        """Paragraph markup for ``text``: escaped, fallback fonts for rare characters, □
        for a character no font has."""
        out = []
        for run in self.fonts.printable_runs(text):
            chunk = escape(run.text).replace("\n", "<br/>")
            out.append(chunk if run.font == self.fonts.main.name
                       else f'<font name="{run.font}">{chunk}</font>')
        return "".join(out)

    def para(self, text: str, style: ParagraphStyle) -> Paragraph:
        return _Paragraph(self.rich(text), style)

    # -- blocks -------------------------------------------------------------------------

    def block(self, b: Block) -> list[Flowable]:
        match b:
            case Heading(text=t):
                return [CondPageBreak(40 * mm), self.para(t, self.s.heading)]
            case Text(text=t, indent=indent, emphasis=emph, small=small):
                style = (self.s.emphasis if emph else self.s.small if small
                         else self.s.body if indent else self.s.plain)
                return [self.para(t, style)]
            case Fields():
                return [self.fields(b), Spacer(1, 3 * mm)]
            case Table():
                return [self.table(b), Spacer(1, 3 * mm)]
            case Signatures():
                return [KeepTogether(self.signatures(b))]
        raise TypeError(f"unknown block {b!r}")

    def fields(self, f: Fields) -> RLTable:
        cols = max(1, f.columns)
        label_w = 26 * mm
        value_w = FRAME_W / cols - label_w
        rows = []
        pairs = list(f.pairs)
        while pairs:
            chunk, pairs = pairs[:cols], pairs[cols:]
            row: list[Any] = []
            for label, value in chunk:
                row += [self.para(label, self.s.cell), self.para(value, self.s.cell)]
            row += [""] * (2 * cols - len(row))
            rows.append(row)
        style: list[Any] = [("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                 ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                 ("TOPPADDING", (0, 0), (-1, -1), 4), ("BOTTOMPADDING", (0, 0), (-1, -1), 4)]
        # Label cells are grey, except the empty ones a short last row spans over
        # (reportlab would paint them through the spanned value).
        last = f.pairs and len(f.pairs) % cols
        style += [("BACKGROUND", (c, r), (c, r), LABEL_GREY)
                  for r in range(len(rows)) for c in range(0, 2 * cols, 2)
                  if not (last and r == len(rows) - 1 and c >= 2 * last)]
        # A pair alone on the last row spans the empty cells, not leaving a hole.
        if last:
            style.append(("SPAN", (2 * last - 1, len(rows) - 1), (-1, len(rows) - 1)))
        return _Table(rows, colWidths=[label_w, value_w] * cols, style=TableStyle(style),
                      splitInRow=MIN_ROW_SPLIT)

    def table(self, t: Table) -> RLTable:
        total = sum(c.weight for c in t.columns)
        widths = [FRAME_W * c.weight / total for c in t.columns]
        header = [self.para(c.title, self.s.cell_center) for c in t.columns]
        body: list[list[Any]] = [[self.para(v, self.s.cell_center if c.center else self.s.cell)
                 for v, c in zip(r, t.columns, strict=True)] for r in t.rows]
        if not body:
            body = [[self.para(t.empty_text, self.s.cell_center)] + [""] * (len(widths) - 1)]
        style: list[Any] = [("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                 ("BACKGROUND", (0, 0), (-1, 0), HEADER_GREY),
                 ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                 ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 4)]
        if not t.rows:
            style.append(("SPAN", (0, 1), (-1, 1)))
        return _Table([header, *body], colWidths=widths, repeatRows=1,
                      style=TableStyle(style), splitInRow=MIN_ROW_SPLIT)

    def signatures(self, sig: Signatures) -> list[Flowable]:
        """The signature lines, to be kept on one page (with the paragraph before them)."""
        left = [self.para(p, self.s.plain) for p in sig.parties]
        right = []
        if sig.issuer:
            right.append(self.para(f"{sig.issuer}（盖章）", self.s.right))
        if sig.on_behalf:
            right.append(self.para(f"（{sig.on_behalf}）", self.s.right))
        if sig.date:
            right.append(self.para(f"{sig.date.year}年{sig.date.month}月{sig.date.day}日",
                                   self.s.right))
        n = max(len(left), len(right))
        rows = [[left[i] if i < len(left) else "", right[i] if i < len(right) else ""]
                for i in range(n)]
        table = RLTable(rows, colWidths=[FRAME_W * 0.55, FRAME_W * 0.45],
                        style=TableStyle([("TOPPADDING", (0, 0), (-1, -1), 9),
                                          ("VALIGN", (0, 0), (-1, -1), "BOTTOM")]))
        return [Spacer(1, 6 * mm), table]

    # -- the document -------------------------------------------------------------------

    def story(self) -> list[Flowable]:
        d = self.doc
        copies = d.copies or ("",)
        story: list[Flowable] = []
        for n, _label in enumerate(copies):
            if n:
                story.append(PageBreak())
            story.append(_CopyStart(n))
            story.append(self.para(d.heading, self.s.issuer))
            story.append(_Title(d.title, self.fonts.main.name))
            if d.number_line:
                story.append(self.para(d.number_line, self.s.number))
            story.append(Spacer(1, 3 * mm))
            if d.addressee:
                story.append(self.para(d.addressee, self.s.plain))
            story += self.blocks()
        return story

    def blocks(self) -> list[Flowable]:
        """The body; the Text right before a Signatures block moves with it, so the
        signatures never stand alone on a page without the sentence they sign."""
        out: list[Flowable] = []
        previous: Block | None = None
        for b in self.doc.blocks:
            if isinstance(b, Signatures) and isinstance(previous, Text):
                closing = out.pop()   # a Text block is exactly one Paragraph
                out.append(KeepTogether([closing, *self.signatures(b)]))
            else:
                out += self.block(b)
            previous = b
        return out

    def width(self, text: str, size: float) -> float:
        return sum(stringWidth(r.text, r.font, size) for r in self.fonts.printable_runs(text))

    def footer_text(self, size: float, max_width: float) -> str:
        """The stamp line; a long site name is shortened first, so the window, clerk,
        print time and 补打 mark always show."""
        stamp = self.doc.stamp
        site, rest = stamp.site_name, stamp.line[len(stamp.site_name):]
        if self.width(site + rest, size) <= max_width:
            return site + rest
        while site and self.width(site + "…" + rest, size) > max_width:
            site = site[:-1]
        return site + "…" + rest

    def draw_line(self, canvas: Canvas, x: float, y: float, text: str, size: float,
                  max_width: float) -> None:
        """One line in the main font with fallbacks, cut with "…" to ``max_width``."""
        if self.width(text, size) > max_width:
            while text and self.width(text + "…", size) > max_width:
                text = text[:-1]
            text += "…"
        for run in self.fonts.printable_runs(text):
            canvas.setFont(run.font, size)
            canvas.drawString(x, y, run.text)
            x += stringWidth(run.text, run.font, size)

    def on_page(self, canvas: Canvas, _doc: Any) -> None:
        """Barcodes, copy label, 补打 mark and footer; called once a page is filled."""
        d = self.doc
        copy = getattr(canvas, "_yc_copy", 0)
        top = PAGE_H - 10 * mm
        if d.case_number:
            qr = 20 * mm
            draw_qr_pdf(canvas, d.stamp.qr_payload(d.case_number),
                        PAGE_W - MARGIN_X - qr + 2 * mm, top - qr, qr)
            # The record code gets a line of its own under the number, clear of the QR.
            bw, bh = 72 * mm, (9 if d.stamp.witness else 11) * mm
            bx = PAGE_W - MARGIN_X - qr - bw
            draw_code128_pdf(canvas, d.case_number, bx, top - bh - 1 * mm, bw, bh)
            canvas.setFont(self.fonts.main.name, 8.5)
            canvas.drawCentredString(bx + bw / 2, top - bh - 4.5 * mm, d.case_number)
            if d.stamp.witness:
                label = f"记录校验码 {d.stamp.witness_code}"
                self.draw_line(canvas, bx + (bw - self.width(label, 8)) / 2,
                               top - bh - 8 * mm, label, 8, bw)
        if d.copies:
            canvas.setFont(self.fonts.main.name, 10)
            canvas.drawString(MARGIN_X, top - 6 * mm, d.copies[copy])
        if d.stamp.reprint:
            # Solid black, large and boxed: it must survive a photocopy.
            canvas.saveState()
            y = top - (20 if d.copies else 14) * mm
            canvas.setLineWidth(1.6)
            canvas.rect(MARGIN_X, y, 24 * mm, 11 * mm, stroke=1, fill=0)
            mark = canvas.beginText()
            mark.setTextRenderMode(2)   # fill and stroke: bold without a bold face
            mark.setFont(self.fonts.main.name, 22)
            mark.setTextOrigin(MARGIN_X + 12 * mm - self.width("补 打", 22) / 2, y + 3 * mm)
            mark.textOut("补 打")
            canvas.setLineWidth(0.7)
            canvas.drawText(mark)
            canvas.setFont(self.fonts.main.name, 8)
            self.draw_line(canvas, MARGIN_X, y - 4 * mm, d.stamp.reprint_mark[3:], 8, 60 * mm)
            canvas.restoreState()
        canvas.saveState()
        canvas.setLineWidth(0.4)
        canvas.line(MARGIN_X, BOTTOM - 3 * mm, PAGE_W - MARGIN_X, BOTTOM - 3 * mm)
        canvas.setFont(self.fonts.main.name, 8)
        self.draw_line(canvas, MARGIN_X, BOTTOM - 7 * mm,
                       self.footer_text(8, FRAME_W - PAGE_NUMBER_W), 8, FRAME_W - PAGE_NUMBER_W)
        canvas.restoreState()
        canvas._yc_pages.append(copy)  # type: ignore[attr-defined]


def _counting_canvas(font: str) -> type[Canvas]:
    """A canvas that writes "第 x 页 共 y 页" per copy once all pages are known."""

    class CountingCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._yc_pages: list[int] = []
            self._yc_states: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._yc_states.append(dict(self.__dict__))
            self._startPage()  # type: ignore[attr-defined]

        def save(self) -> None:
            copies = self._yc_pages
            for n, state in enumerate(self._yc_states):
                self.__dict__.update(state)
                copy = copies[n] if n < len(copies) else 0
                same = [i for i, c in enumerate(copies) if c == copy]
                self.setFont(font, 8)
                self.drawRightString(PAGE_W - MARGIN_X, BOTTOM - 7 * mm,
                                     f"第 {same.index(n) + 1} 页 共 {len(same)} 页")
                super().showPage()
            super().save()

    return CountingCanvas


def render_pdf(doc: FormDocument, fonts: FontSet) -> RenderedPdf:
    """The PDF of ``doc``; fonts are embedded as subsets."""
    renderer = _Renderer(doc, fonts)
    buf = io.BytesIO()
    template = BaseDocTemplate(
        buf, pagesize=A4, leftMargin=MARGIN_X, rightMargin=MARGIN_X, topMargin=TOP_BAND,
        bottomMargin=BOTTOM, title=doc.title, author=doc.authority or doc.heading,
        subject=doc.case_number or doc.title, creator="一窗通", pageCompression=1,
        invariant=0)   # a real creation date: the archive keeps when each PDF was made
    frame = Frame(MARGIN_X, BOTTOM, FRAME_W, PAGE_H - TOP_BAND - BOTTOM, id="body",
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
    # onPageEnd, not onPage: the copy marker at the top of a page has been drawn by then,
    # so the second copy's first page is labelled 第二联.
    template.addPageTemplates([PageTemplate(id="form", frames=[frame],
                                            onPageEnd=renderer.on_page)])
    canvasmaker = _counting_canvas(fonts.main.name)
    template.build(renderer.story(), canvasmaker=canvasmaker)
    # The archive copy (XMP, PDF/A) is made when the document is issued or exported, not
    # for every preview: see archive_meta and app.documents.archival.
    data = buf.getvalue()
    return RenderedPdf(data, template.page, tuple(fonts.missing(doc.text())))


def archive_meta(doc: FormDocument) -> ArchiveMeta:
    """What the archive copy of ``doc`` says about itself (XMP and Info)."""
    # pikepdf and fontTools load with it: only when a document is issued, not previewed.
    from app.documents.archival import ArchiveMeta

    return ArchiveMeta(title=doc.title, kind=doc.kind.display, case_number=doc.case_number,
                       authority=doc.authority or doc.heading, issuer=doc.stamp.site_name,
                       created=doc.stamp.printed_at)
