"""M on a page: which material it belongs to instead (↑↓ and Enter, or its number)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QDialog, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

_ID = Qt.ItemDataRole.UserRole


class MaterialPicker(QDialog):
    def __init__(self, page_title: str, materials: Sequence[tuple[str, str]],
                 chosen: Callable[[str], None], parent: QWidget | None = None) -> None:
        """``materials``: (id, name) of the materials the page may go to."""
        super().__init__(parent)
        self.setWindowTitle("移到其他材料")
        self._chosen = chosen
        self.list = QListWidget()
        for n, (mid, name) in enumerate(materials, 1):
            item = QListWidgetItem(f"{n}　{name}")
            item.setData(_ID, mid)
            self.list.addItem(item)
        self.list.setCurrentRow(0)
        self.list.itemActivated.connect(lambda _item: self.accept())
        heading = QLabel(f"把{page_title}移到：")
        hint = QLabel("↑↓ 选择　Enter 移动　Esc 取消")
        hint.setObjectName("hint")
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.list)
        layout.addWidget(hint)
        self.setMinimumWidth(420)

        # The list would take a digit as the start of a name to search: a shortcut
        # reaches it first.
        for n in range(1, min(9, self.list.count()) + 1):
            QShortcut(QKeySequence(str(n)), self, lambda n=n: self.pick(n))

    def pick(self, number: int) -> None:
        self.list.setCurrentRow(number - 1)
        self.accept()

    def accept(self) -> None:
        item = self.list.currentItem()
        super().accept()
        if item is not None:
            self._chosen(str(item.data(_ID)))
