"""The printing hook the window gives the core: system printers through Qt.

Passed to ``open_workstation(system_spooler=qt_spooler)``; the CLI keeps CUPS. It runs on
an operation's worker thread (QPainter may paint on a QPrinter there).
"""

from __future__ import annotations


def qt_spooler(pdf: bytes, printer: str) -> None:
    # QtPdf and QtPrintSupport load on the first print, not at start-up.
    from ui.documents.system_printer import print_pdf

    print_pdf(pdf, printer)
