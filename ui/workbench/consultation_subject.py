"""The item an enquiry is about, picked by typing: name, pinyin initials or code.

The catalogue's search index is loaded in the background once and searched in memory on
each key, as the catalogue panel does; ↓/↑ move in the few results, Enter takes the
highlighted one — or, the line empty, none (a general question).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from app.services.catalogue import CatalogueService
from app.services.search import CatalogueIndex
from ui.ops import Operation

GENERAL = "一般性咨询（不涉及具体事项）"
PICKER_LIMIT = 20


@dataclass(frozen=True)
class Subject:
    """What an enquiry is about: an item or a 一件事 bundle."""

    kind: str   # "item" | "bundle"
    code: str
    name: str


def describe(subject: Subject) -> str:
    tag = "【一件事】" if subject.kind == "bundle" else ""
    return f"{tag}{subject.name}（{subject.code}）"


class _PickerLine(QLineEdit):
    """Forwards ↓/↑/PgDn/PgUp to the result list: the hands stay on the keys."""

    def __init__(self, results: QListWidget) -> None:
        super().__init__()
        self._results = results

    def keyPressEvent(self, event: QKeyEvent) -> None:
        steps = {Qt.Key.Key_Down: 1, Qt.Key.Key_Up: -1, Qt.Key.Key_PageDown: 5,
                 Qt.Key.Key_PageUp: -5}
        step = steps.get(Qt.Key(event.key()))
        if step is None:
            super().keyPressEvent(event)
        elif self._results.count():
            row = max(0, min(self._results.count() - 1, self._results.currentRow() + step))
            self._results.setCurrentRow(row)


class SubjectPicker(QWidget):
    """A line that searches the catalogue as the clerk types (name, pinyin initials,
    code) and a small list of the best matches; Enter takes the highlighted one, or —
    the line empty — none (a general question)."""

    changed = Signal()        # an item was chosen, or the choice was cleared
    entered = Signal()        # Enter settled the choice: move on
    index_loaded = Signal()   # the search index is in

    def __init__(self, catalogue: CatalogueService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.subject: Subject | None = None
        self.index: CatalogueIndex | None = None
        self.results = QListWidget()
        # Driven from the line; a focus stop of its own would only be in Tab's way.
        self.results.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.results.setFixedHeight(112)
        self.results.itemClicked.connect(lambda _item: self._enter())
        self.line = _PickerLine(self.results)
        self.line.setPlaceholderText("事项名称、拼音首字母（如 spjy）或编码；不填为一般性咨询")
        self.line.textEdited.connect(self._typed)
        self.line.returnPressed.connect(self._enter)
        self.setFocusProxy(self.line)   # the form label's Alt+S lands in the line
        self.note = QLabel("正在载入事项目录…")
        self.note.setObjectName("hint")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.line)
        layout.addWidget(self.results)
        layout.addWidget(self.note)
        Operation(self, catalogue.index, self._index_arrived).failure(
            lambda exc: self.note.setText(f"事项目录无法载入：{exc}")).run()

    def _index_arrived(self, index: CatalogueIndex) -> None:
        self.index = index
        self._search(self.line.text())
        self.index_loaded.emit()

    def _typed(self, text: str) -> None:
        if self.subject is not None:   # typing again drops the earlier choice
            self.subject = None
            self.changed.emit()
        self._search(text)

    def _search(self, text: str) -> None:
        self.results.clear()
        if self.index is None:
            return
        if not text.strip():
            self.note.setText("不填即为一般性咨询；Enter 下一项")
            return
        for hit in self.index.search(text, PICKER_LIMIT):
            e = hit.entry
            tag = "【一件事】" if e.kind == "bundle" else ""
            row = QListWidgetItem(f"{tag}{e.name}　{e.department}")
            row.setData(Qt.ItemDataRole.UserRole, Subject(e.kind, e.code, e.name))
            self.results.addItem(row)
        if self.results.count():
            self.results.setCurrentRow(0)
            self.note.setText("↓↑ 选择　Enter 确定")
        else:
            self.note.setText(f"没有找到与“{text.strip()}”相关的事项；清空此栏即为一般性咨询")

    def _enter(self) -> None:
        if not self.line.text().strip():
            self.note.setText(GENERAL)
            if self.subject is not None:
                self.subject = None
                self.changed.emit()
            self.entered.emit()
            return
        row = self.results.currentItem()
        if self.subject is None and row is None:
            return   # nothing matches (or the index is still loading): the note says so
        if row is not None:
            subject: Subject = row.data(Qt.ItemDataRole.UserRole)
            if subject != self.subject:
                self.subject = subject
                self.line.setText(subject.name)
                self.note.setText(f"已选：{describe(subject)}　重新输入可改选")
                self.changed.emit()
        self.entered.emit()
