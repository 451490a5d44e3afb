"""Preview a document and print it: QtPdf for A4, the exact dots for thermal slips.

Keyboard: Ctrl+P / Enter prints to the printer configured for the document, Ctrl+Shift+P
chooses a printer, Ctrl+S saves a PDF, Esc closes. Rendering and printing run off the
main thread; the dialog shows what happened, and a failed print keeps the PDF (the core
archives case documents before trying the printer).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QBuffer, Qt, Signal
from PySide6.QtGui import QKeySequence, QPixmap, QShortcut
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPdfWidgets import QPdfView
from PySide6.QtPrintSupport import QAbstractPrintDialog, QPrintDialog, QPrinter
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.documents.targets import PrintTarget
from app.domain.case import Clerk
from app.services.printing import DocumentService, PrintOutcome, RenderedDocument
from ui.documents.system_printer import load_pdf
from ui.ops import Operation


class DocumentPreview(QDialog):
    """Shows one document (rendered in the background by ``make``) and prints it."""

    rendered = Signal()          # the document is shown (or could not be made)
    printed = Signal(object)     # PrintOutcome

    def __init__(self, documents: DocumentService, clerk: Clerk,
                 make: Callable[[], RenderedDocument], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("文书预览")
        self.resize(860, 760)
        self._documents = documents
        self._clerk = clerk
        self.document: RenderedDocument | None = None
        self.last_outcome: PrintOutcome | None = None
        self._pdf: QPdfDocument | None = None
        self._buffer: QBuffer | None = None

        self.heading = QLabel("正在生成文书…")
        self.heading.setObjectName("title")
        self.warning = QLabel()
        self.warning.setObjectName("error")
        self.warning.setWordWrap(True)
        self.warning.hide()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.pdf_view = QPdfView()
        self.pdf_view.setPageMode(QPdfView.PageMode.MultiPage)
        self.pdf_view.setZoomMode(QPdfView.ZoomMode.FitToWidth)
        self.slip_label = QLabel()
        self.slip_label.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        slip_scroll = QScrollArea()
        slip_scroll.setWidget(self.slip_label)
        slip_scroll.setWidgetResizable(True)
        slip_scroll.setStyleSheet("background: #888;")
        self.views = QStackedWidget()
        self.views.addWidget(self.pdf_view)
        self.views.addWidget(slip_scroll)

        self.print_button = QPushButton("打印 (Ctrl+P)")
        self.choose_button = QPushButton("选择打印机… (Ctrl+Shift+P)")
        self.save_button = QPushButton("另存为PDF… (Ctrl+S)")
        close_button = QPushButton("关闭 (Esc)")
        for button in (self.print_button, self.choose_button, self.save_button):
            button.setEnabled(False)
        self.print_button.setDefault(True)
        self.print_button.clicked.connect(lambda: self.print_to(None))
        self.choose_button.clicked.connect(self.choose_printer)
        self.save_button.clicked.connect(self.save_pdf)
        close_button.clicked.connect(self.reject)
        QShortcut(QKeySequence("Ctrl+P"), self, lambda: self.print_to(None))
        QShortcut(QKeySequence("Ctrl+Shift+P"), self, self.choose_printer)
        QShortcut(QKeySequence("Ctrl+S"), self, self.save_pdf)

        buttons = QHBoxLayout()
        buttons.addWidget(self.print_button)
        buttons.addWidget(self.choose_button)
        buttons.addWidget(self.save_button)
        buttons.addStretch(1)
        buttons.addWidget(close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.warning)
        layout.addWidget(self.views, 1)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        Operation(self, make, self._show).failure(self._render_failed).run()

    # -- showing ------------------------------------------------------------------------

    def _show(self, doc: RenderedDocument) -> None:
        self.document = doc
        copy = "（补打）" if doc.reprint else ""
        target = self._documents.target_for(doc.kind)
        where = target.label if target else "未配置打印机"
        self.heading.setText(f"{doc.title}{copy}　{doc.pages}页　→ {where}")
        if doc.warnings:
            self.warning.setText("；".join(doc.warnings))
            self.warning.show()
        if doc.raster is not None:
            pixmap = QPixmap()
            pixmap.loadFromData(doc.png or b"")
            self.slip_label.setPixmap(pixmap)
            self.views.setCurrentIndex(1)
        else:
            self._pdf, self._buffer = load_pdf(doc.pdf)
            self.pdf_view.setDocument(self._pdf)
            self.views.setCurrentIndex(0)
        for button in (self.print_button, self.choose_button, self.save_button):
            button.setEnabled(True)
        self.print_button.setFocus()
        self.rendered.emit()

    def _render_failed(self, exc: Exception) -> None:
        self.heading.setText("文书无法生成")
        self.status.setText(str(exc))
        self.status.setStyleSheet("color: #b00020;")
        self.rendered.emit()

    # -- printing -----------------------------------------------------------------------

    def print_to(self, target: PrintTarget | None) -> None:
        doc = self.document
        if doc is None or not self.print_button.isEnabled():
            return
        for button in (self.print_button, self.choose_button, self.save_button):
            button.setEnabled(False)
        self.status.setStyleSheet("")
        self.status.setText("正在打印…")
        documents, clerk = self._documents, self._clerk
        Operation(self, lambda: documents.print(doc, clerk, target), self._printed).failure(
            self._print_crashed).run()

    def _printed(self, outcome: PrintOutcome) -> None:
        self.last_outcome = outcome
        self.status.setStyleSheet("" if outcome.ok else "color: #b00020;")
        self.status.setText(outcome.message)
        for button in (self.print_button, self.choose_button, self.save_button):
            button.setEnabled(True)
        self.printed.emit(outcome)

    def _print_crashed(self, exc: Exception) -> None:
        self._printed(PrintOutcome(False, "", f"打印出错：{exc}"))

    def choose_printer(self) -> None:
        if self.document is None:
            return
        printer = QPrinter()
        dialog = QPrintDialog(printer, self)
        dialog.setWindowTitle("选择打印机")
        # The whole document goes, once: page ranges would make a partial notice.
        for option in (QAbstractPrintDialog.PrintDialogOption.PrintPageRange,
                       QAbstractPrintDialog.PrintDialogOption.PrintCurrentPage,
                       QAbstractPrintDialog.PrintDialogOption.PrintSelection):
            dialog.setOption(option, False)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        if printer.outputFormat() == QPrinter.OutputFormat.PdfFormat:
            # "Print to file" in the dialog: write our own PDF there, not the default printer.
            self.print_to(PrintTarget("pdf", printer.outputFileName()))
        else:
            self.print_to(PrintTarget("system", printer.printerName()))

    def save_pdf(self) -> None:
        if self.document is None:
            return
        suggested = str(Path.home() / f"{self.document.title}"
                        f"{'-' + self.document.case_number if self.document.case_number else ''}.pdf")
        path, _ = QFileDialog.getSaveFileName(self, "另存为PDF", suggested, "PDF 文件 (*.pdf)")
        if path:
            self.print_to(PrintTarget("pdf", path))
