"""The clerk's edits of the pages the scan panel shows: turn, remove, reorder, move to
another material, and a page opened at 100%.

Each edit is planned on the case states shown (:class:`ui.capture.page_targets.Filing`:
at a 一件事 on every case that holds the page) and recorded case after case on a
worker, each against the version shown; what comes back is shown. A refusal (another
window changed a case meanwhile) shows every case as it now is, so the next edit starts
from the truth. One edit at a time: each needs the version the one before left.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt

from app.domain.case import CaseState
from ui.capture.material_picker import MaterialPicker
from ui.capture.page_targets import Plan
from ui.capture.page_zoom import PageZoom
from ui.ops import Operation
from ui.widgets.problems import problems_of

if TYPE_CHECKING:
    from ui.capture.scan_panel import ScanPanel

ERROR = "color: #b00020;"
DONE = "color: #1e7d32;"


class PageEdits(QObject):
    def __init__(self, panel: ScanPanel) -> None:
        super().__init__(panel)
        self._panel = panel
        self.editing = False
        self.picker: MaterialPicker | None = None
        self.zoom: PageZoom | None = None

    def _arrange(self, make: Callable[[], Plan], done: str, current: int) -> None:
        panel = self._panel
        if not panel.can_change():   # one edit at a time, no edit while scanning
            return
        try:
            plan = make()
        except ValueError as exc:   # PageError: the page is no longer there
            panel.say(str(exc), ERROR)
            return
        self.editing = True
        scans, clerk = panel.station.scans, panel.clerk
        steps = [(cid, changes, panel.filing.version(cid)) for cid, changes in plan.items()]

        def work() -> list[CaseState]:
            return [scans.arrange(cid, changes, clerk, expected_version=version)
                    for cid, changes, version in steps]

        def arranged(after: list[CaseState]) -> None:
            self.editing = False
            for case in after:
                panel.adopt(case)
            panel.refresh(current)
            panel.say(done, DONE)

        Operation(self, work, arranged).failure(self._failed).run()

    def _failed(self, exc: Exception) -> None:
        panel = self._panel
        self.editing = False
        panel.say("；".join(problems_of(exc)), ERROR)
        if panel.filing.cases:   # another window changed one: show them as they are now
            cases, ids = panel.station.cases, list(panel.filing.cases)
            Operation(self, lambda: [cases.get(i) for i in ids], panel.adopt_all).run()

    def turn(self, index: int, quarter: int) -> None:
        filing, row = self._panel.filing, self._panel.material_id
        way = "顺时针" if quarter == 1 else "逆时针"
        self._arrange(lambda: filing.turn(row, index, quarter),
                      f"第{index + 1}页已{way}旋转 90°。", index)

    def remove(self, index: int) -> None:
        filing, row = self._panel.filing, self._panel.material_id
        self._arrange(lambda: filing.remove(row, index),
                      f"已删除第{index + 1}页（办件记录保留其校验值，可恢复）。", index)

    def reorder(self, order: list[int], moved_to: int) -> None:
        filing, row = self._panel.filing, self._panel.material_id
        self._arrange(lambda: filing.reorder(row, order), "页面顺序已调整。", moved_to)

    def ask_move(self, index: int) -> None:
        panel = self._panel
        others = [(m.id, m.name) for m in panel.checklist if m.id != panel.material_id]
        if not others:
            panel.say("本事项只有这一项材料。", ERROR)
            return
        row = panel.material_id
        self.picker = MaterialPicker(f"第{index + 1}页", others,
                                     lambda to: self.move_page(row, index, to), panel)
        self.picker.finished.connect(self._back_to_pages)
        self.picker.open()

    def move_page(self, from_material: str, index: int, to_material: str) -> None:
        panel = self._panel
        if from_material != panel.material_id:
            return
        filing = panel.filing
        self._arrange(lambda: filing.move(from_material, index, to_material),
                      f"第{index + 1}页已移到“{panel.material_name(to_material)}”。", index)

    def open_zoom(self, index: int) -> None:
        panel = self._panel
        pages = panel.pages
        if not 0 <= index < len(pages):
            return
        title = f"{panel.material_name(panel.material_id)} 第{index + 1}页"
        self.zoom = PageZoom(pages[index], title, panel.station.scans.page_jpeg, panel)
        self.zoom.finished.connect(self._back_to_pages)
        self.zoom.open()

    def _back_to_pages(self, _result: int = 0) -> None:
        # Back from a dialog: the window, then the thumbnails, take the keys again
        # (window managers do the first; a bare or offscreen platform does not).
        self._panel.window().activateWindow()
        self._panel.thumbnails.setFocus(Qt.FocusReason.OtherFocusReason)
