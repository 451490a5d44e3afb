"""Printing a PDF on a system printer with QtPrintSupport (Windows and CUPS alike).

The PDF is rasterised page by page by QtPdf at 300 dpi and painted onto the printer, so
what the preview shows is what comes out, whatever PDF support the driver has. Runs on
a worker thread (QPainter may paint on a QPrinter outside the GUI thread); the core's
:class:`DocumentService` calls it through its ``system_spooler`` hook.
"""

from __future__ import annotations

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRect, QSize, Qt
from PySide6.QtGui import QPageLayout, QPageSize, QPainter
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPrintSupport import QPrinter, QPrinterInfo

from app.documents.targets import PrintError

DPI = 300


def printer_names() -> list[str]:
    return [str(p.printerName()) for p in QPrinterInfo.availablePrinters()]


def default_printer_name() -> str:
    return str(QPrinterInfo.defaultPrinter().printerName())


def load_pdf(data: bytes) -> tuple[QPdfDocument, QBuffer]:
    """A QPdfDocument over ``data`` (the buffer must live as long as the document)."""
    buffer = QBuffer()
    buffer.setData(QByteArray(data))
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    doc = QPdfDocument()
    doc.load(buffer)
    if doc.status() != QPdfDocument.Status.Ready:
        raise PrintError("文书PDF无法打开，无法打印")
    return doc, buffer


def print_pdf(data: bytes, printer_name: str) -> None:
    """Print ``data`` on ``printer_name`` ("" = the default printer); PrintError if not."""
    name = printer_name or default_printer_name()
    if not name:
        raise PrintError("本机没有默认打印机：请在系统中添加打印机，或在设置中指定打印机名称")
    info = QPrinterInfo.printerInfo(name)
    if info.isNull():
        known = "、".join(printer_names()) or "无"
        raise PrintError(f"找不到打印机“{name}”（本机打印机：{known}）")
    paint_pdf(data, QPrinter(info, QPrinter.PrinterMode.HighResolution), name)


def paint_pdf(data: bytes, printer: QPrinter, name: str) -> None:
    """Rasterise each page of ``data`` at 300 dpi onto ``printer``, page for page."""
    doc, _buffer = load_pdf(data)
    printer.setResolution(DPI)
    printer.setFullPage(True)
    printer.setDocName("一窗通文书")
    first = doc.pagePointSize(0)
    portrait = first.height() >= first.width()
    printer.setPageLayout(QPageLayout(
        QPageSize(QPageSize.PageSizeId.A4) if portrait and first.width() > 400 else
        QPageSize(first, QPageSize.Unit.Point),
        QPageLayout.Orientation.Portrait, printer.pageLayout().margins()))
    painter = QPainter()
    if not painter.begin(printer):
        raise PrintError(f"打印机“{name}”无法开始打印（可能脱机、缺纸或驱动异常）")
    try:
        for page in range(doc.pageCount()):
            if page:
                printer.newPage()
            points = doc.pagePointSize(page)
            size = QSize(round(points.width() / 72 * DPI), round(points.height() / 72 * DPI))
            image = doc.render(page, size)
            target = painter.viewport()
            scaled = size.scaled(target.size(), Qt.AspectRatioMode.KeepAspectRatio)
            painter.drawImage(QRect(target.topLeft(), scaled), image)
    finally:
        painter.end()
    if printer.printerState() == QPrinter.PrinterState.Error:
        raise PrintError(f"打印机“{name}”报告错误，请检查打印机")

