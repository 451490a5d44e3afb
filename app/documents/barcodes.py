"""Code128 and QR codes: the modules come from python-barcode and qrcode; we draw them.

One drawing routine per output — vector rectangles on a reportlab canvas, whole dots on
a Pillow bitmap — so a barcode is sharp on A4 and never has fractional dots on a thermal
head (a scanner misreads bars that the printer rounded unevenly).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import barcode
import qrcode
from PIL import ImageDraw
from qrcode.constants import ERROR_CORRECT_M
from reportlab.pdfgen.canvas import Canvas

QUIET_MODULES = 10   # Code128 needs a quiet zone of 10 modules each side
QR_QUIET = 4


class BarcodeError(ValueError):
    """Text a barcode cannot carry."""


@functools.lru_cache(maxsize=64)
def code128_modules(text: str) -> str:
    """The bar pattern ('1' = bar) for ``text``; digit runs use code set C (denser)."""
    if not text or not text.isascii() or not text.isprintable():
        raise BarcodeError(f"条码内容只能是可打印的ASCII字符：{text!r}")
    modules: list[str] = barcode.get("code128", text).build()
    return modules[0]


@functools.lru_cache(maxsize=64)
def qr_matrix(text: str) -> tuple[tuple[bool, ...], ...]:
    """The QR modules (True = dark), error correction M, without the quiet zone."""
    if not text:
        raise BarcodeError("二维码内容不能为空")
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    code.add_data(text)
    code.make(fit=True)
    return tuple(tuple(row) for row in code.get_matrix())


def _bar_runs(modules: str) -> Iterator[tuple[int, int]]:
    """(start, length) of each bar, so adjacent dark modules become one rectangle."""
    start = None
    for i, m in enumerate(modules + "0"):
        if m == "1" and start is None:
            start = i
        elif m != "1" and start is not None:
            yield start, i - start
            start = None


def draw_code128_pdf(c: Canvas, text: str, x: float, y: float, width: float,
                     height: float) -> None:
    """Code128 of ``text`` filling ``width`` points (quiet zones included) at (x, y)."""
    modules = code128_modules(text)
    module = width / (len(modules) + 2 * QUIET_MODULES)
    c.saveState()
    c.setFillColorRGB(0, 0, 0)
    for start, length in _bar_runs(modules):
        c.rect(x + (QUIET_MODULES + start) * module, y, length * module, height,
               stroke=0, fill=1)
    c.restoreState()


def draw_qr_pdf(c: Canvas, text: str, x: float, y: float, size: float) -> None:
    """QR code of ``text`` in a ``size``-point square (quiet zone included)."""
    matrix = qr_matrix(text)
    n = len(matrix)
    module = size / (n + 2 * QR_QUIET)
    c.saveState()
    c.setFillColorRGB(0, 0, 0)
    for r, row in enumerate(matrix):
        for start, length in _bar_runs("".join("1" if d else "0" for d in row)):
            c.rect(x + (QR_QUIET + start) * module, y + size - (QR_QUIET + r + 1) * module,
                   length * module, module, stroke=0, fill=1)
    c.restoreState()


def code128_raster_width(text: str, module: int) -> int:
    return (len(code128_modules(text)) + 2 * QUIET_MODULES) * module


def draw_code128_raster(draw: ImageDraw.ImageDraw, text: str, x: int, y: int, module: int,
                        height: int) -> None:
    """Code128 with whole-dot modules on a mode '1' image (0 = black)."""
    modules = code128_modules(text)
    for start, length in _bar_runs(modules):
        left = x + (QUIET_MODULES + start) * module
        draw.rectangle((left, y, left + length * module - 1, y + height - 1), fill=0)


def qr_raster_size(text: str, module: int) -> int:
    return (len(qr_matrix(text)) + 2 * QR_QUIET) * module


def draw_qr_raster(draw: ImageDraw.ImageDraw, text: str, x: int, y: int, module: int) -> None:
    for r, row in enumerate(qr_matrix(text)):
        top = y + (QR_QUIET + r) * module
        for start, length in _bar_runs("".join("1" if d else "0" for d in row)):
            left = x + (QR_QUIET + start) * module
            draw.rectangle((left, top, left + length * module - 1, top + module - 1), fill=0)
