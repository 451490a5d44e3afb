"""The material checklist of a case being received: one row per material, marked by keys.

Keyboard (the table has the focus): ↑↓ move; 1 已收取, 2 缺失, 3 有误 (asks what is
wrong), 4 容缺 (asks the 补交 date; deferrable materials only), 5 告知承诺 (where
allowed), 6 共享获取 (shared materials only), 0 or Delete clears the mark; F4 or Ctrl+A
marks every unmarked row received (shared ones 共享获取). After a mark the next row
becomes current. A mark a material cannot take is refused with the reason below the
table. Marks stay in the window until a decision records them (the service call).

At a 容缺补交 visit (``supplying``) only the rows accepted as 容缺 take keys, and only
1 or 6; 0 puts a row back as it was accepted; F4 marks every deferred row received.
"""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QTableWidget,
    QWidget,
)

from app.domain.case import MaterialState, MaterialStatus
from app.domain.catalogue import Material, Necessity
from app.domain.material_marks import (
    KEY_MARKS,
    MarkRefused,
    mark,
    mark_detail,
    received_by_default,
    refusal,
    supply_refusal,
)
from ui.widgets.tables import keyboard_rows, read_only_cell
from ui.workbench.prompts import DatePrompt, TextPrompt

COLUMNS = ("序号", "材料名称", "形式", "份数", "必要性", "来源", "可容缺/承诺", "核验情况")
STATE_COLUMN = 7
DEFAULT_DEFERRAL_DAYS = 7

_COLOURS = {
    MaterialStatus.RECEIVED: "#e6f4ea", MaterialStatus.SHARED: "#e6f4ea",
    MaterialStatus.COMMITMENT: "#e8f0fe", MaterialStatus.DEFERRED: "#fef7e0",
    MaterialStatus.MISSING: "#fce8e6", MaterialStatus.FAULTY: "#fce8e6",
}


class ChecklistTable(QTableWidget):
    marks_changed = Signal()
    refused = Signal(str)    # a key the current row cannot take, and why

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        keyboard_rows(self, COLUMNS, stretch=(1, STATE_COLUMN))
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.checklist: tuple[Material, ...] = ()
        self.marks: dict[str, MaterialState] = {}
        self.today = dt.date.today()
        self.prompt: TextPrompt | DatePrompt | None = None
        # 容缺补交: the marks the case was accepted with (None: an ordinary checklist).
        self.accepted: dict[str, MaterialState] | None = None

    def show_checklist(self, checklist: tuple[Material, ...],
                       marks: dict[str, MaterialState] | None = None, *,
                       supplying: bool = False) -> None:
        self.checklist = checklist
        self.marks = dict(marks or {})
        self.accepted = dict(self.marks) if supplying else None
        self.setRowCount(len(checklist))
        for row, m in enumerate(checklist):
            allowed = "、".join(w for w, ok in (("可容缺", m.deferrable), ("可承诺", m.commitment))
                               if ok)
            values = (str(row + 1), m.name, str(m.form), str(m.copies), str(m.necessity),
                      str(m.source), allowed)
            for col, value in enumerate(values):
                self.setItem(row, col, read_only_cell(value, center=col in (0, 3)))
            self._show_row(row)
        if checklist:
            self.selectRow(0)
        self.resizeRowsToContents()

    def _show_row(self, row: int) -> None:
        m = self.checklist[row]
        state = self.marks.get(m.id)
        text = mark_detail(state)
        if state is None and m.necessity is Necessity.OPTIONAL:
            text = "未核验（非必要）"
        self.setItem(row, STATE_COLUMN, read_only_cell(text))
        colour = _COLOURS.get(state.status) if state is not None else None
        brush = QBrush(QColor(colour)) if colour else QBrush()
        for col in range(self.columnCount()):
            item = self.item(row, col)
            if item is not None:
                item.setBackground(brush)

    # -- marking ------------------------------------------------------------------------

    def set_mark(self, row: int, state: MaterialState | None) -> None:
        material = self.checklist[row]
        if state is None:
            self.marks.pop(material.id, None)
        else:
            self.marks[material.id] = state
        self._show_row(row)
        self.resizeRowToContents(row)
        self.marks_changed.emit()

    def mark_all_received(self) -> None:
        """F4: every unmarked row received (shared materials by sharing); at a 容缺补交
        visit, every row still deferred."""
        for row, m in enumerate(self.checklist):
            current = self.marks.get(m.id)
            if self.accepted is not None:
                open_row = current is not None and current.status is MaterialStatus.DEFERRED
            else:
                open_row = current is None
            if open_row:
                self.marks[m.id] = received_by_default(m)
                self._show_row(row)
        self.resizeRowsToContents()
        self.marks_changed.emit()

    def _advance(self, row: int) -> None:
        if row + 1 < self.rowCount():
            self.selectRow(row + 1)

    def mark_current(self, status: MaterialStatus) -> None:
        row = self.currentRow()
        if not 0 <= row < len(self.checklist):
            return
        material = self.checklist[row]
        if self.accepted is not None:
            why = supply_refusal(material, self.accepted.get(material.id), status)
        else:
            why = refusal(material, status)
        if why:
            self.refused.emit(why)
            return
        if status is MaterialStatus.FAULTY:
            old = self.marks.get(material.id)
            self.prompt = TextPrompt(
                "材料有误", f"“{material.name}”有什么问题？（将打印在补正告知书上）",
                lambda fault: self._marked(row, mark(material, status, fault=fault)), self,
                text=old.fault if old is not None else "")
            self.prompt.open()
            return
        if status is MaterialStatus.DEFERRED:
            self.prompt = DatePrompt(
                "容缺后补", f"“{material.name}”容缺受理：申请人承诺何时补交？",
                lambda day: self._marked(row, mark(material, status, deferred_until=day)),
                self, initial=self.today + dt.timedelta(days=DEFAULT_DEFERRAL_DAYS),
                today=self.today)
            self.prompt.open()
            return
        try:
            self._marked(row, mark(material, status))
        except MarkRefused as exc:
            self.refused.emit(str(exc))

    def _marked(self, row: int, state: MaterialState) -> None:
        self.set_mark(row, state)
        # Back from the prompt: the window, then the table, take the keys again (window
        # managers do the first; a bare or offscreen platform does not).
        self.window().activateWindow()
        self.setFocus()
        self._advance(row)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        text = event.text()
        if text in KEY_MARKS and not event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.mark_current(KEY_MARKS[text])
            return
        if text == "0" or event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            row = self.currentRow()
            if 0 <= row < len(self.checklist):
                as_accepted = (self.accepted or {}).get(self.checklist[row].id)
                self.set_mark(row, as_accepted)
            return
        if (event.key() == Qt.Key.Key_A
                and event.modifiers() & Qt.KeyboardModifier.ControlModifier):
            self.mark_all_received()   # not "select all": rows are marked, not selected
            return
        super().keyPressEvent(event)
