"""出件 at the window: scan the pickup slip, check who takes the result, hand it over.

Keyboard: the number field has the focus; a scanner types the case number (or the QR
code's text) and Enter, and the case opens — read and proved against its log in the
background. A case whose result has not been recorded as arrived takes F5 (办结, after a
confirmation); a completed one takes the hand-over form (:mod:`ui.cases.delivery_form`):
1 / 2 / 3 choose 本人领取, 代领 or 邮寄送达, F9 or Enter on the last field records it.
The 送达回证 then opens in the print preview (Enter prints). A case already handed over
says who took it and when; Ctrl+P reprints its 送达回证. Esc clears the desk for the
next slip.

The case on screen is re-read when the core says it changed (here, in another panel, or
by another process), so a second hand-over is not offered for a result already gone.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.documents.form import DocumentKind
from app.domain.case import CaseState, CaseStatus, Clerk
from app.workstation import Workstation
from ui.cases.delivery_form import DeliveryForm
from ui.cases.pickup_case import (
    CaseSummary,
    ConfirmCompletion,
    PickupView,
    delivered_text,
    read_pickup_view,
)
from ui.documents.print_preview import DocumentPreview
from ui.events import ChangeEvents
from ui.ops import Operation
from ui.widgets.problems import problems_of

# The statuses whose result can be recorded as arrived at the window (see the case's
# back-office moves): 暂停计时 has to resume first.
COMPLETABLE = frozenset({CaseStatus.ACCEPTED, CaseStatus.ACCEPTED_DEFERRED,
                         CaseStatus.IN_REVIEW})
HINT = ("Enter 查找　1/2/3 出件方式（输入时 Alt+1/2/3）　F5 记录办结　F9 出件　"
        "Ctrl+P 送达回证　Esc 下一件")
OK_STYLE = "color: #1e7d32; font-weight: bold;"
ERROR_STYLE = "color: #b00020;"


class PickupPanel(QWidget):
    case_shown = Signal()        # a case (or its re-read) is on screen
    lookup_failed = Signal()     # the number was refused; ``error`` says why
    completed = Signal(object)   # CaseState after 办结
    delivered = Signal(object)   # CaseState after 出件
    finished = Signal()          # Esc on an empty desk: the clerk leaves 出件

    def __init__(self, station: Workstation, clerk: Clerk, events: ChangeEvents | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._station = station
        self._clerk = clerk
        self.view: PickupView | None = None
        self.preview: DocumentPreview | None = None
        self.confirm: ConfirmCompletion | None = None
        self._busy = False
        self._reading: Operation[PickupView] | None = None
        if events is not None:
            events.case_changed.connect(self._case_changed)
            events.database_changed.connect(self.refresh)

        title = QLabel("出件")
        title.setObjectName("title")
        self.number = QLineEdit()
        self.number.setObjectName("search")
        self.number.setPlaceholderText("扫描取件通知单上的条码，或输入办件编号后按 Enter")
        self.number.returnPressed.connect(self.look_up)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)

        self.summary = CaseSummary()
        self.form = DeliveryForm()
        self.form.submitted.connect(self.deliver)
        self.message = QLabel()
        self.message.setWordWrap(True)
        hint = QLabel(HINT)
        hint.setObjectName("hint")
        hint.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.number)
        layout.addWidget(self.error)
        layout.addWidget(self.summary)
        layout.addWidget(self.form)
        layout.addWidget(self.message)
        layout.addStretch(1)
        layout.addWidget(hint)
        for keys, slot in (("F5", self.ask_completion), ("F9", self.deliver),
                           ("Ctrl+P", self.open_service_receipt),
                           ("Alt+1", lambda: self._choose(0)), ("Alt+2", lambda: self._choose(1)),
                           ("Alt+3", lambda: self._choose(2))):
            shortcut = QShortcut(QKeySequence(keys), self, slot)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self._show_nothing()

    @property
    def case(self) -> CaseState | None:
        return self.view.case if self.view is not None else None

    def focus_entry(self) -> None:
        """The number field, its text selected: the next scan replaces it."""
        self.number.setFocus(Qt.FocusReason.OtherFocusReason)
        self.number.selectAll()

    # -- finding the case -----------------------------------------------------------------

    def look_up(self) -> None:
        ref = self.number.text().strip()
        if not ref:
            self.error.setText("请扫描取件通知单上的条码，或输入办件编号。")
            return
        self.error.clear()
        # Nothing on screen until the new case arrives: F9 meanwhile must not hand over
        # the previous one, nor a re-read bring it back.
        self._show_nothing()
        station = self._station
        self._read(lambda: read_pickup_view(station, ref), focus=True, failed=self._not_found)

    def _not_found(self, exc: Exception) -> None:
        self._show_nothing()
        self.form.clear()
        self.error.setText("；".join(problems_of(exc)))   # not found, integrity: Chinese
        self.focus_entry()
        self.lookup_failed.emit()

    def _case_changed(self, case_id: str) -> None:
        if self.case is not None and self.case.id == case_id:
            self.refresh()

    def refresh(self) -> None:
        """Re-read the case on screen, keeping what is typed and where the focus is."""
        if self.case is None or self._busy:
            return   # a write in flight re-reads the case itself
        station, case_id = self._station, self.case.id
        self._read(lambda: read_pickup_view(station, case_id), focus=False,
                   failed=lambda exc: self._say(f"办件刷新失败：{exc}", ERROR_STYLE))

    def _read(self, work: Callable[[], PickupView], *, focus: bool,
              failed: Callable[[Exception], None]) -> None:
        if self._reading is not None:
            self._reading.cancel()   # a newer read supersedes it
        self._reading = Operation(self, work, lambda view: self.show_view(view, focus=focus)
                                  ).failure(failed).run()

    # -- showing it -----------------------------------------------------------------------

    def _show_nothing(self) -> None:
        self.view = None
        self.summary.clear()
        self.form.setEnabled(False)
        self.form.box.setTitle("出件方式")

    def show_view(self, view: PickupView, *, focus: bool = True) -> None:
        case, before = view.case, self.case
        if before is None or before.id != case.id:
            self.form.clear()   # another case: nothing typed for the last one applies
        moved = before is None or before.id != case.id or before.status is not case.status
        self.view = view
        self.summary.show_view(view)
        self.form.show_case(case)
        ready = case.status is CaseStatus.COMPLETED
        here = QApplication.focusWidget()
        focus = focus or (here is not None and self.form.isAncestorOf(here) and not ready)
        self.form.setEnabled(ready)
        self.form.setVisible(case.status is not CaseStatus.DELIVERED)
        self.form.box.setTitle(self._form_title(case.status))
        if not moved:
            pass   # a re-read of the same state: what the desk last said still holds
        elif case.status is CaseStatus.DELIVERED:
            self._say("本办件已出件，不能再次出件。Ctrl+P 补打送达回证，Esc 下一件。", "")
        elif case.status in COMPLETABLE:
            self._say("办理结果尚未登记为办结：结果已送到窗口的，按 F5 记录办结后出件。", "")
        elif not ready:
            self._say(f"办件状态为“{case.status}”，不是待出件的办件。", ERROR_STYLE)
        else:
            self.message.clear()
        if focus:
            if ready:
                self.form.focus_method()
            else:
                self.focus_entry()
        self.case_shown.emit()

    @staticmethod
    def _form_title(status: CaseStatus) -> str:
        base = "出件方式（1 本人领取　2 代领　3 邮寄送达；输入时 Alt+数字）"
        if status is CaseStatus.COMPLETED:
            return base
        return base + ("　— 须先办结 (F5)" if status in COMPLETABLE else "　— 不可出件")

    def _say(self, text: str, style: str) -> None:
        self.message.setStyleSheet(style)
        self.message.setText(text)

    def _choose(self, index: int) -> None:
        if self.form.isEnabled() and self.form.isVisible():
            self.form.choose(index)

    # -- 办结 ---------------------------------------------------------------------------

    def ask_completion(self) -> None:
        case = self.case
        if case is None or self._busy:
            return
        if case.status not in COMPLETABLE:
            self._say(f"办件状态为“{case.status}”，不能记录办结。", ERROR_STYLE)
            return
        self.confirm = ConfirmCompletion(case, self.complete, self)
        self.confirm.open()

    def complete(self) -> None:
        case = self.case
        if case is None or self._busy:
            return
        self._busy = True
        station, clerk, case_id = self._station, self._clerk, case.id

        def work() -> PickupView:
            station.pickup.complete(case_id, clerk)
            return read_pickup_view(station, case_id)

        self._say("正在记录办结…", "")
        Operation(self, work, self._completed).failure(self._write_failed).run()

    def _completed(self, view: PickupView) -> None:
        self._busy = False
        self.window().activateWindow()   # back from the confirmation: the keys come here
        self.show_view(view, focus=True)
        self._say(f"办件 {view.case.number} 已记录办结。请选择出件方式（1/2/3）。", OK_STYLE)
        self.completed.emit(view.case)

    def _write_failed(self, exc: Exception) -> None:
        self._busy = False
        self._say("；".join(problems_of(exc)), ERROR_STYLE)
        self.refresh()   # perhaps it changed elsewhere meanwhile: show it as it is

    # -- 出件 ---------------------------------------------------------------------------

    def deliver(self) -> None:
        view = self.view
        if view is None or self._busy:
            return
        if view.case.status is CaseStatus.DELIVERED:
            gone = delivered_text(view.delivered) if view.delivered else "已出件"
            self._say(f"不能重复出件：{gone}。Ctrl+P 补打送达回证。", ERROR_STYLE)
            return
        if view.case.status is not CaseStatus.COMPLETED:
            self._say(f"办件状态为“{view.case.status}”，尚未办结，不能出件"
                      + ("（结果已送到窗口的，先按 F5 记录办结）。"
                         if view.case.status in COMPLETABLE else "。"), ERROR_STYLE)
            return
        self._busy = True
        self.form.clear_problems()
        station, clerk, case_id = self._station, self._clerk, view.case.id
        delivery = self.form.delivery()

        def work() -> PickupView:
            station.pickup.deliver(case_id, delivery, clerk)
            return read_pickup_view(station, case_id)

        self._say(f"正在记录出件（{delivery.method}）…", "")
        Operation(self, work, self._delivered).failure(self._refused).run()

    def _refused(self, exc: Exception) -> None:
        self._busy = False
        self._say("出件未记录，请按右侧说明更正后再按 F9。", ERROR_STYLE)
        self.form.show_problems(problems_of(exc))
        self.refresh()   # delivered elsewhere meanwhile: the desk then says so

    def _delivered(self, view: PickupView) -> None:
        self._busy = False
        self.show_view(view, focus=False)
        self._say(f"办件 {view.case.number} 已出件。送达回证已打开预览：Enter 打印，Esc 关闭；"
                  "再按 Esc 扫描下一件。", OK_STYLE)
        self.delivered.emit(view.case)
        self.focus_entry()   # where the focus returns when the preview closes: the next scan
        self.open_service_receipt()

    def open_service_receipt(self) -> None:
        """The 送达回证 of a case handed over, in the preview (a reprint after the first)."""
        case = self.case
        if case is None:
            return
        if case.status is not CaseStatus.DELIVERED:
            self._say("尚未出件，没有送达回证可打印。", ERROR_STYLE)
            return
        documents, clerk, number = self._station.documents, self._clerk, case.number
        self.preview = DocumentPreview(
            documents, clerk,
            lambda: documents.render_case_document(DocumentKind.SERVICE, number, clerk), self)
        self.preview.open()

    # -- the next slip --------------------------------------------------------------------

    def clear(self) -> None:
        """An empty desk, the focus in the number field."""
        if self._reading is not None:
            self._reading.cancel()
        self._show_nothing()
        self.form.clear()
        self.form.setVisible(True)
        self.number.clear()
        self.error.clear()
        self.message.clear()
        self.focus_entry()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and not self._busy:
            if self.view is None and not self.number.text():
                self.finished.emit()
            else:
                self.clear()
            return
        super().keyPressEvent(event)
