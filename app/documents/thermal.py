"""Draw a :class:`Slip` as a monochrome raster for an 80 mm (576 dots) or 58 mm (384) head.

Thermal printers print whole dots: the slip is drawn at the printer's own resolution
(203 dpi) in mode "1", text without anti-aliasing and barcodes with whole-dot modules
(at least 3 dots each), so what the preview shows is exactly what the head burns.

Codes on the slip: a Code128 is drawn only with modules of 3 dots or more (0.375 mm; a
203 dpi head burns 2-dot bars unevenly enough that counter scanners misread them), and
:func:`code128_fits` says whether it can be. A case number (21-27 characters) fits on
80 mm paper unless its site code has 11 digits and it ends in X, or 12 digits; it never
fits on 58 mm paper (at least 156 modules, 468 dots, on a 384-dot head). Where it does
not fit, the pickup slip (:func:`app.documents.slips.pickup_slip`) has no Code128: its QR
code comes first, large (6-dot modules), with the case number printed under it. The
pickup desk's scanners read QR codes, and the QR code carries the case number too.

The slip's PDF (for the archive and for the clerk who saves it) is the same raster at the
paper's true width, with the slip's lines as an invisible text layer in the same font
where the raster shows them, so the archived slip can be searched and copied.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from app.documents.barcodes import (
    QUIET_MODULES,
    code128_modules,
    code128_raster_width,
    draw_code128_raster,
    draw_qr_raster,
    qr_raster_size,
)
from app.documents.fonts import FontFile, FontSet
from app.documents.form import Slip, SlipBarcode, SlipQR, SlipRule, SlipText
from app.documents.kinsoku import break_point

DPI = 203
WIDTHS = {80: 576, 58: 384}     # printable dots per paper width (mm)
MARGIN = 8
MIN_MODULE = 3                  # narrowest bar a 203 dpi head prints reliably
QR_MAX_MODULE = 6               # 0.75 mm: a QR code of a case number is then ~28 mm wide
# Unprinted paper beside the head, white like the quiet zone: 4 mm on an 80 mm roll
# (72 mm head), 5 mm on a 58 mm roll (48 mm head). The narrower of the two counts.
PAPER_EDGE = 32
MAX_HEIGHT = 6000               # a slip longer than ~75 cm is a bug, not a slip
LINE_GAP = 6


def paper_mm(dots: int) -> float:
    """The roll's width for a head of ``dots``: 80 or 58 mm, else the head plus 4 mm a side."""
    for paper, head in WIDTHS.items():
        if head == dots:
            return paper
    return dots / DPI * 25.4 + 8


@dataclass(frozen=True, slots=True)
class PlacedRun:
    """Text drawn in one font on the raster, as the PDF's text layer repeats it."""

    text: str
    font: str          # reportlab name of a FontSet font (Pillow drew the same file)
    size: int          # em size in dots
    x: float           # left edge, dots from the head's left
    baseline: float    # dots from the slip's top
    width: float       # advance in dots as drawn


@dataclass(frozen=True, slots=True)
class RenderedSlip:
    image: Image.Image                # mode "1", width = dots
    missing_glyphs: tuple[str, ...]
    title: str = ""
    runs: tuple[PlacedRun, ...] = ()  # every text run, top to bottom

    def png(self) -> bytes:
        buf = io.BytesIO()
        self.image.save(buf, "PNG", dpi=(DPI, DPI))
        return buf.getvalue()

    def pdf(self, subject: str = "") -> bytes:
        """The slip as a one-page PDF for the case archive: the raster at true size on a
        page as wide as the paper, under an invisible text layer (render mode 3) in the
        font the raster was drawn with, embedded as a subset.

        ``subject`` is the case number when the slip has one (as on the A4 documents).
        """
        scale = 72 / DPI   # points per dot
        page_w = paper_mm(self.image.width) * mm
        image_w, page_h = self.image.width * scale, self.image.height * scale
        left = (page_w - image_w) / 2   # the head is centred on the roll
        buf = io.BytesIO()
        # invariant=0: a real creation date, as the A4 documents have. The slip's font as
        # the initial one, or the page would name Helvetica, a font it neither uses nor embeds.
        # (types-reportlab declares initialFontName a float: a slip in the stubs.)
        c = Canvas(buf, pagesize=(page_w, page_h), pageCompression=1, invariant=0,
                   initialFontName=self.runs[0].font if self.runs else None)  # type: ignore[arg-type]
        c.setTitle(self.title)
        c.setSubject(subject or self.title)
        c.setCreator("一窗通")
        # Gray, not the 1-bit original: reportlab turns a mode "1" image into RGB.
        c.drawImage(ImageReader(self.image.convert("L")), left, 0, image_w, page_h)
        text = c.beginText()
        text.setTextRenderMode(3)   # invisible: the raster is what is seen
        for run in self.runs:
            size = run.size * scale
            natural = stringWidth(run.text, run.font, size)
            text.setFont(run.font, size)
            # Stretch to the advance Pillow used (hinting rounds it per glyph), so
            # selecting text in a viewer highlights the characters the raster shows.
            text.setHorizScale(100 * run.width * scale / natural if natural else 100)
            text.setTextOrigin(left + run.x * scale, page_h - run.baseline * scale)
            text.textOut(run.text)
        c.drawText(text)
        c.showPage()
        c.save()
        return buf.getvalue()


@functools.lru_cache(maxsize=64)
def _pil_font(file: FontFile, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(file.path), size, index=file.index)


class _SlipDrawer:
    def __init__(self, fonts: FontSet, dots: int) -> None:
        self.fonts = fonts
        self.dots = dots
        self.inner = dots - 2 * MARGIN
        self.image = Image.new("1", (dots, MAX_HEIGHT), 1)
        self.draw = ImageDraw.Draw(self.image)
        self.draw.fontmode = "1"   # no anti-aliasing on a one-bit image
        self.y = MARGIN
        self.runs: list[PlacedRun] = []
        self._widths: dict[tuple[str, int, str], float] = {}

    def pil(self, font: str, size: int) -> ImageFont.FreeTypeFont:
        return _pil_font(self.fonts.by_name(font).file, size)

    def width(self, font: str, size: int, text: str) -> float:
        key = (font, size, text)
        w = self._widths.get(key)
        if w is None:
            w = self.pil(font, size).getlength(text)
            self._widths[key] = w
        return w

    def lines(self, text: str, size: int) -> list[list[tuple[str, str]]]:
        """Wrap ``text`` to the slip width; each line is (run, font) pairs.

        The same 禁则 as the A4 documents (:func:`app.documents.kinsoku.break_point`): no
        line starts with a closing mark or ends with an opening one, and a number such as
        "13:30-17:00" stays whole when the line has room. A character no font has prints
        as □ (FontSet.printable_runs), as on A4.
        """
        units = [(ch, run.font) for run in self.fonts.printable_runs(text) for ch in run.text]
        chars = [ch for ch, _font in units]
        out: list[list[tuple[str, str]]] = []
        start = i = 0
        used = 0.0
        while i < len(units):
            ch, font = units[i]
            w = self.width(font, size, ch)
            if used + w > self.inner and i > start:
                # A slip line is short: an ID or phone number moves down whole even from
                # a line only a label long ("证件号码：").
                cut = break_point(chars, start, i, min_fill=0.2)
                out.append(_joined(units[start:cut]))
                start = cut
                while start < len(units) and chars[start].isspace():   # no leading blank
                    start += 1
                i, used = start, 0.0
                continue
            used += w
            i += 1
        if start < len(units) or not out:
            out.append(_joined(units[start:]))
        return out

    def text(self, block: SlipText) -> None:
        for line in self.lines(block.text, block.size):
            total = sum(self.width(f, block.size, t) for t, f in line)
            x = MARGIN + (self.inner - total) / 2 if block.center else MARGIN
            for t, f in line:
                font = self.pil(f, block.size)
                self.draw.text((x, self.y), t, font=font,
                               fill=0, stroke_width=1 if block.bold else 0, stroke_fill=0)
                w = self.width(f, block.size, t)
                # Pillow's default anchor is the ascender line: the baseline is below it.
                baseline = self.y + font.getmetrics()[0]
                self.runs.append(PlacedRun(t, f, block.size, x, baseline, w))
                x += w
            self.y += block.size + LINE_GAP

    def rule(self, block: SlipRule) -> None:
        self.y += 4
        step = 12 if block.dashed else 1
        for x in range(MARGIN, self.dots - MARGIN, step):
            self.draw.line((x, self.y, min(x + (7 if block.dashed else 0), self.dots - MARGIN),
                            self.y), fill=0, width=2)
        self.y += 10

    def barcode(self, block: SlipBarcode) -> None:
        module = barcode_module(block.text, self.dots)
        width = code128_raster_width(block.text, module)
        x = (self.dots - width) // 2   # may be negative: the quiet zone runs off the head
        self.y += 6
        draw_code128_raster(self.draw, block.text, x, self.y, module, block.height)
        self.y += block.height + 4

    def qr(self, block: SlipQR) -> None:
        # Up to two thirds of the width: on 58 mm paper, where the QR code is the slip's
        # only code, a case number's QR code still gets 6-dot modules.
        module = max(MIN_MODULE, min(QR_MAX_MODULE,
                                     self.inner * 2 // 3 // qr_raster_size(block.text, 1)))
        size = qr_raster_size(block.text, module)
        draw_qr_raster(self.draw, block.text, (self.dots - size) // 2, self.y, module)
        self.y += size + 2


def _code128_modules_fitting(text: str, dots: int) -> list[int]:
    # Bars must fit the head; the quiet zones (10 modules a side) may run onto the roll's
    # unprinted edge, which is white paper too. Widest first, never under MIN_MODULE.
    bars = len(code128_modules(text))
    return [m for m in range(4, MIN_MODULE - 1, -1) if bars * m <= dots
            and (dots - bars * m) / 2 + PAPER_EDGE >= QUIET_MODULES * m]


def code128_fits(text: str, dots: int) -> bool:
    """Whether a Code128 of ``text`` can be printed on a ``dots``-wide head at all."""
    return bool(_code128_modules_fitting(text, dots))


def _joined(units: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Characters of one line as runs of one font each."""
    line: list[tuple[str, str]] = []
    for ch, font in units:
        if line and line[-1][1] == font:
            line[-1] = (line[-1][0] + ch, font)
        else:
            line.append((ch, font))
    return line


def barcode_module(text: str, dots: int) -> int:
    """The widest whole-dot Code128 module for ``text`` on a ``dots``-wide head.

    On 80 mm paper most case numbers get 3-dot modules (0.375 mm), also a 25-character
    one ending in X (a code set switch, 189 modules: 567 of the 576 dots). ValueError if
    not even :data:`MIN_MODULE` fits (which numbers do not: see the module comment).
    """
    fitting = _code128_modules_fitting(text, dots)
    if not fitting:
        raise ValueError(f"条码“{text}”过长，{dots}点宽的纸无法以每模块{MIN_MODULE}点打印")
    return fitting[0]


def render_slip(slip: Slip, fonts: FontSet, dots: int = WIDTHS[80]) -> RenderedSlip:
    if dots < 256 or dots > 832 or dots % 8:
        raise ValueError(f"热敏纸宽度 {dots} 点无效：应为8的倍数，如576（80毫米）或384（58毫米）")
    drawer = _SlipDrawer(fonts, dots)
    for block in slip.blocks:
        if drawer.y > MAX_HEIGHT - 400:
            raise ValueError("小票内容过长")
        match block:
            case SlipText():
                drawer.text(block)
            case SlipRule():
                drawer.rule(block)
            case SlipBarcode():
                drawer.barcode(block)
            case SlipQR():
                drawer.qr(block)
    # Feed past the tear bar: the cutter sits ~ 3 mm above the head.
    image = drawer.image.crop((0, 0, dots, drawer.y + 3 * MARGIN))
    return RenderedSlip(image, tuple(fonts.missing(slip.text())), slip.title,
                        tuple(drawer.runs))
