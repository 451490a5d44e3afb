"""Pages per material, beside the checklist, by its 序号: which material has none shows
at a glance (red: received on paper, not scanned)."""

from __future__ import annotations

from collections.abc import Collection

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from app.domain.case_pages import CasePages
from app.domain.catalogue import Material


class MaterialCounts(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)

    def show_counts(self, checklist: tuple[Material, ...], pages: CasePages,
                    unscanned: Collection[str], material_id: str) -> None:
        """``pages``: each row's pages as shown, by row id; ``unscanned``: the names of
        materials received on paper with no page."""
        have = dict(pages)
        parts = []
        for n, m in enumerate(checklist, 1):
            count = len(have.get(m.id, ()))
            colour = "#1e7d32" if count else "#b00020" if m.name in unscanned else "#888"
            weight = "font-weight:bold;" if m.id == material_id else ""
            parts.append(f'<span style="color:{colour};{weight}">{n}：'
                         f'{f"{count}页" if count else "—"}</span>')
        self.setText("各材料页数（按序号）：" + "　".join(parts))
        self.setToolTip("\n".join(
            f"{n} {m.name}：{len(have.get(m.id, ()))} 页" for n, m in enumerate(checklist, 1)))
