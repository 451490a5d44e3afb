"""文书打印 / 补打: find a case by its number (typed or scanned) and print its documents.

Keyboard: type or scan the case number and press Enter; ↓/↑ choose a document; Enter
opens its preview (from which Ctrl+P prints); Ctrl+P prints it at once without a
preview. The archive below lists every print of the case — what was printed, when, by
whom, where to, and whether it failed.

The case and its print history are read together in the background (one history read
tells which documents were issued). The dialog re-reads them when the core says the
case changed or one of its documents was printed — here, in another dialog, or by
another process — instead of after each of its own actions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

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

from app.documents.availability import kinds_for
from app.documents.form import DocumentKind
from app.domain.case import CaseState, Clerk
from app.services.document_archive import ISSUED, ArchivedDocument
from app.services.printing import DocumentService, PrintOutcome
from ui.documents.print_preview import DocumentPreview
from ui.events import ChangeEvents
from ui.ops import Operation

HISTORY_COLUMNS = ("打印时间", "文书", "补打", "结果", "去向", "经办人")
_OUTCOMES = {"printed": "已打印", "exported": "已导出", "failed": "失败", "unknown": "结果未知"}
KindRole = Qt.ItemDataRole.UserRole + 1


@dataclass(frozen=True)
class CaseView:
    """What the dialog shows of one case, read in one background operation."""

    case: CaseState
    history: list[ArchivedDocument]

    @property
    def issued(self) -> frozenset[DocumentKind]:
        # As DocumentArchive.was_issued decides it, from the same rows.
        return frozenset(d.kind for d in self.history if d.outcome in ISSUED)


def read_case_view(documents: DocumentService, case: CaseState) -> CaseView:
    return CaseView(case, documents.history(case.id))


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
    case_shown = Signal()      # the case and its history on screen are (re)read
    lookup_failed = Signal()   # the number was refused; ``error`` says why

    def __init__(self, documents: DocumentService, clerk: Clerk,
                 events: ChangeEvents | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("文书打印 / 补打")
        self.resize(820, 620)
        self._documents = documents
        self._clerk = clerk
        self.case: CaseState | None = None
        self.preview: DocumentPreview | None = None
        self._printing = False
        self._reading: Operation[CaseView] | None = None
        if events is not None:
            events.case_changed.connect(self._case_changed)
            events.document_printed.connect(self._document_printed)
            events.database_changed.connect(self.refresh)

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
        documents = self._documents
        self._read(lambda: read_case_view(documents, documents.verified_case(text)),
                   focus=True, failed=self._lookup_failed)

    def _lookup_failed(self, exc: Exception) -> None:
        self.case = None
        self.error.setText(str(exc))   # DocumentError and the rest speak Chinese
        self.summary.clear()
        self.kinds.clear()
        self.history.setRowCount(0)
        self.number.selectAll()
        self.lookup_failed.emit()

    def _case_changed(self, case_id: str) -> None:
        if self.case is not None and self.case.id == case_id:
            self.refresh()

    def _document_printed(self, case_id: str, _kind: str) -> None:
        self._case_changed(case_id)

    def refresh(self) -> None:
        """Re-read the case on screen (in the background), keeping the chosen document."""
        if self.case is None:
            return
        documents, case_id = self._documents, self.case.id
        self._read(lambda: read_case_view(documents, documents.find_case(case_id)),
                   focus=False, failed=lambda exc: self.status.setText(f"办件刷新失败：{exc}"))

    def _read(self, work: Callable[[], CaseView], *, focus: bool,
              failed: Callable[[Exception], None]) -> None:
        if self._reading is not None:
            self._reading.cancel()   # a newer read supersedes it
        self._reading = Operation(self, work, lambda view: self.show_case(view, focus=focus)
                                  ).failure(failed).run()

    def show_case(self, view: CaseView, *, focus: bool = True) -> None:
        case = view.case
        same = self.case is not None and self.case.id == case.id
        row = self.kinds.currentRow() if same else 0
        self.case = case
        deadline = f"　承诺办结：{case.promised_date}" if case.promised_date else ""
        self.summary.setText(f"{case.number}　{case.applicant.name}　{case.item_name}\n"
                             f"状态：{case.status}{deadline}")
        self.kinds.clear()
        issued = view.issued
        for kind in kinds_for(case):
            label = kind.display + ("　（已打印，再打为补打）" if kind in issued else "")
            item = QListWidgetItem(label)
            item.setData(KindRole, kind.value)
            self.kinds.addItem(item)
        self.kinds.setCurrentRow(min(max(row, 0), self.kinds.count() - 1))
        if focus:
            self.kinds.setFocus()
        self._fill_history(view.history)
        self.case_shown.emit()

    def _fill_history(self, rows: list[ArchivedDocument]) -> None:
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
        Operation(self, job, self._printed).failure(
            lambda exc: self._printed(PrintOutcome(False, "", str(exc)))).run()

    def _printed(self, outcome: PrintOutcome) -> None:
        self._printing = False
        self.status.setStyleSheet("" if outcome.ok else "color: #b00020;")
        self.status.setText(outcome.message)
        # The list and the archive follow from the core's document_printed event.
        self.printed.emit(outcome)
