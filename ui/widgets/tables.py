"""Read-only row tables a clerk walks with the keyboard (material lists, checklists)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem


def read_only_cell(text: str, *, center: bool = False) -> QTableWidgetItem:
    """A cell the clerk can select but not edit."""
    cell = QTableWidgetItem(text)
    cell.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if center:
        cell.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
    return cell


def keyboard_rows(table: QTableWidget, columns: Sequence[str], *,
                  stretch: tuple[int, ...]) -> None:
    """Set ``table`` up as one Tab stop of whole, read-only rows.

    Arrows move inside it and Tab leaves it (a table's default is Tab from cell to cell,
    which keeps the keyboard in it for ever); ``stretch`` columns take the spare width,
    the others fit their contents, and long text wraps.
    """
    table.setColumnCount(len(columns))
    table.setTabKeyNavigation(False)
    table.setHorizontalHeaderLabels(columns)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setWordWrap(True)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    for column in stretch:
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
