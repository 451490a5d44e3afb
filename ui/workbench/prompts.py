"""Small questions asked while marking materials: one line of text, or a date.

Enter answers, Esc cancels. They open window-modal (``open``, not ``exec``) and call
back with the answer, so the event loop keeps running.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from PySide6.QtCore import QDate, Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)


class _Prompt(QDialog):
    def __init__(self, title: str, question: str, field: QWidget,
                 parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(460)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("确定 (Enter)")
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("取消 (Esc)")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        label = QLabel(question)
        label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(field)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self._field = field

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.activateWindow()   # the clerk types the answer at once, without a click
        self._field.setFocus(Qt.FocusReason.ActiveWindowFocusReason)


class TextPrompt(_Prompt):
    """One line, required (a fault, a reason)."""

    def __init__(self, title: str, question: str, answered: Callable[[str], None],
                 parent: QWidget | None = None, *, text: str = "") -> None:
        self.line = QLineEdit(text)
        super().__init__(title, question, self.line, parent)
        self._answered = answered

    def accept(self) -> None:
        if not self.line.text().strip():
            self.error.setText("请填写后再按 Enter，或按 Esc 取消。")
            return
        super().accept()
        self._answered(self.line.text().strip())


class DatePrompt(_Prompt):
    """A date after today (a 补交 date): typed as digits, ↑↓ change the part at the cursor."""

    def __init__(self, title: str, question: str, answered: Callable[[dt.date], None],
                 parent: QWidget | None = None, *, initial: dt.date, today: dt.date) -> None:
        self.date = QDateEdit(QDate(initial.year, initial.month, initial.day))
        self.date.setDisplayFormat("yyyy-MM-dd")
        self.date.setCalendarPopup(True)
        super().__init__(title, question, self.date, parent)
        self._today = today
        self._answered = answered

    def accept(self) -> None:
        q = self.date.date()
        chosen = dt.date(q.year(), q.month(), q.day())
        if chosen <= self._today:
            self.error.setText("补交日期须晚于今天。")
            return
        super().accept()
        self._answered(chosen)
