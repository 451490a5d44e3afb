"""The Qt path to a system printer, painted into Qt's own PDF printer and read back.

No physical printer is needed to check what the window sends one: every page of the
document, rasterised at 300 dpi, with a barcode a scanner still reads.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from PySide6.QtPrintSupport import QPrinter
from pytestqt.qtbot import QtBot

from app.documents.form import DocumentKind
from app.documents.targets import PrintError
from app.domain.case import Clerk
from app.workstation import Workstation
from tests.support import accepted_case
from ui.documents.system_printer import paint_pdf, print_pdf


def test_each_page_reaches_the_printer_with_a_readable_barcode(qtbot: QtBot,
                                                               station: Workstation,
                                                               tmp_path: Path) -> None:
    clerk = Clerk("k", "张三", station.settings.site_code, "01", "1")
    case = accepted_case(station, clerk)
    doc = station.documents.render_case_document(DocumentKind.ACCEPTANCE, case.number, clerk)
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    out = tmp_path / "printed.pdf"
    printer.setOutputFileName(str(out))
    paint_pdf(doc.pdf, printer, "PDF")
    info = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True,
                          check=True).stdout
    assert re.search(rf"^Pages:\s+{doc.pages}$", info, re.MULTILINE), info
    assert "595" in info and "842" in info   # A4 in points
    subprocess.run(["pdftoppm", "-png", "-r", "200", "-f", "1", "-l", "1", str(out),
                    str(tmp_path / "page")], check=True)
    page = Image.open(next(tmp_path.glob("page*.png"))).convert("L")
    found = {(r.format, r.text) for r in zxingcpp.read_barcodes(page)}
    assert (zxingcpp.BarcodeFormat.Code128, case.number) in found
    assert any(f == zxingcpp.BarcodeFormat.QRCode and t.startswith(f"{case.number}:")
               for f, t in found)


def test_an_unknown_printer_is_named_in_the_message() -> None:
    with pytest.raises(PrintError, match="找不到打印机“前台激光”"):
        print_pdf(b"%PDF-1.4", "前台激光")
