"""文书打印 / 补打: find a case by its number (typed or scanned) and print its documents.

Keyboard: type or scan the case number and press Enter; ↓/↑ choose a document; Enter
opens its preview (from which Ctrl+P prints); Ctrl+P prints it at once without a
preview. The archive below lists every print of the case — what was printed, when, by
whom, where to, and whether it failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.documents.form import DocumentKind
from app.domain.case import CaseState, Clerk
from app.services.printing import DocumentError, DocumentService, PrintOutcome, kinds_for
from ui.print_preview import DocumentPreview
from ui.tasks import run_in_background

HISTORY_COLUMNS = ("打印时间", "文书", "补打", "结果", "去向", "经办人")
_OUTCOMES = {"printed": "已打印", "exported": "已导出", "failed": "失败", "unknown": "结果未知"}
KindRole = Qt.ItemDataRole.UserRole + 1


class _KindList(QListWidget):
    def __init__(self, on_open: Callable[[], None]) -> None:
        super().__init__()
        self._on_open = on_open
        self.itemActivated.connect(lambda _item: self._on_open())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._on_open()
            return
        super().keyPressEvent(event)


class CaseDocumentsDialog(QDialog):
    printed = Signal(object)   # PrintOutcome of a direct print (Ctrl+P)

    def __init__(self, documents: DocumentService, clerk: Clerk,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("文书打印 / 补打")
        self.resize(820, 620)
        self._documents = documents
        self._clerk = clerk
        self.case: CaseState | None = None
        self.preview: DocumentPreview | None = None
        self._printing = False

        prompt = QLabel("办件编号（可扫描文书上的条码）：")
        self.number = QLineEdit()
        self.number.setObjectName("search")
        self.number.setPlaceholderText("输入或扫描办件编号后按 Enter")
        self.number.returnPressed.connect(self.look_up)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.kinds = _KindList(self.open_selected)
        self.kinds.setMaximumHeight(170)
        self.history = QTableWidget(0, len(HISTORY_COLUMNS))
        self.history.setHorizontalHeaderLabels(HISTORY_COLUMNS)
        self.history.verticalHeader().setVisible(False)
        self.history.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.history.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.history.horizontalHeader().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.status = QLabel()
        self.status.setWordWrap(True)
        QShortcut(QKeySequence("Ctrl+P"), self, self.print_selected)
        hint = QLabel("Enter 查找　↓↑ 选择文书　Enter 预览　Ctrl+P 直接打印　Esc 关闭")
        hint.setObjectName("hint")

        layout = QVBoxLayout(self)
        layout.addWidget(prompt)
        layout.addWidget(self.number)
        layout.addWidget(self.error)
        layout.addWidget(self.summary)
        layout.addWidget(QLabel("可打印的文书："))
        layout.addWidget(self.kinds)
        layout.addWidget(self.status)
        layout.addWidget(QLabel("打印记录："))
        layout.addWidget(self.history, 1)
        layout.addWidget(hint)
        self.number.setFocus()

    def look_up(self) -> None:
        text = self.number.text().strip()
        self.error.clear()
        try:
            case = self._documents.verified_case(text)
        except DocumentError as exc:
            self.case = None
            self.error.setText(str(exc))
            self.summary.clear()
            self.kinds.clear()
            self.history.setRowCount(0)
            self.number.selectAll()
            return
        self.show_case(case)

    def show_case(self, case: CaseState) -> None:
        self.case = case
        deadline = f"　承诺办结：{case.promised_date}" if case.promised_date else ""
        self.summary.setText(f"{case.number}　{case.applicant.name}　{case.item_name}\n"
                             f"状态：{case.status}{deadline}")
        self.kinds.clear()
        for kind in kinds_for(case):
            issued = self._documents.was_issued(case.id, kind)
            label = kind.display + ("　（已打印，再打为补打）" if issued else "")
            item = QListWidgetItem(label)
            item.setData(KindRole, kind.value)
            self.kinds.addItem(item)
        self.kinds.setCurrentRow(0)
        self.kinds.setFocus()
        self._fill_history()

    def _fill_history(self) -> None:
        if self.case is None:
            return
        rows = self._documents.history(self.case.id)
        self.history.setRowCount(len(rows))
        for r, d in enumerate(rows):
            values = (f"{d.printed_at:%Y-%m-%d %H:%M}", d.title, "补打" if d.reprint else "",
                      _OUTCOMES.get(d.outcome, d.outcome), d.message or d.target, d.clerk_name)
            for c, value in enumerate(values):
                self.history.setItem(r, c, QTableWidgetItem(value))

    def open_selected(self) -> None:
        item = self.kinds.currentItem()
        if self.case is None or item is None:
            return
        kind = DocumentKind(item.data(KindRole))
        number = self.case.number
        self.preview = DocumentPreview(
            self._documents, self._clerk,
            lambda: self._documents.render_case_document(kind, number, self._clerk), self)
        self.preview.finished.connect(self._after_preview)
        self.preview.open()

    def print_selected(self) -> None:
        """Silent print of the selected document to its configured printer."""
        item = self.kinds.currentItem()
        if self.case is None or item is None or self._printing:
            return   # a held-down Ctrl+P must not queue a second job
        self._printing = True
        kind = DocumentKind(item.data(KindRole))
        number, documents, clerk = self.case.number, self._documents, self._clerk

        def job() -> PrintOutcome:
            doc = documents.render_case_document(kind, number, clerk)
            outcome = documents.print(doc, clerk)
            if doc.warnings:
                outcome = replace(outcome, message=outcome.message + "。" + "；".join(doc.warnings))
            return outcome

        self.status.setStyleSheet("")
        self.status.setText(f"正在打印{kind.display}…")
        run_in_background(self, job, self._printed, lambda exc: self._printed(
            PrintOutcome(False, "", str(exc))))

    def _printed(self, outcome: PrintOutcome) -> None:
        self._printing = False
        self.status.setStyleSheet("" if outcome.ok else "color: #b00020;")
        self.status.setText(outcome.message)
        if self.case is not None:
            row = self.kinds.currentRow()
            self.show_case(self._documents.find_case(self.case.id))
            self.kinds.setCurrentRow(row)
        self.printed.emit(outcome)

    def _after_preview(self) -> None:
        if self.case is not None:
            self.show_case(self._documents.find_case(self.case.id))
