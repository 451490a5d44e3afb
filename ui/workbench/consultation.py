"""咨询登记 at the window: an enquiry that opens no case, logged in a few keystrokes
(首问负责), with the item's 一次性告知单 handed out on request; and today's log.

:class:`ConsultationDialog` is opened from an item page (the item is known) or from the
menu (the clerk picks the item by typing — :mod:`ui.workbench.consultation_subject` — or
leaves it empty for a general question). Keyboard: Enter moves on and, in the last
field, saves; Ctrl+Enter saves from anywhere; Alt+P ticks 打印一次性告知单; Esc cancels,
asking first when something was typed. The consultation service checks what was typed;
its problems are shown beside the form and nothing typed is lost. The 一次性告知单 is
rendered before the entry is logged (as ``yichuang consult add --checklist`` does: an
item that cannot print logs nothing), then opens in the print preview: Enter prints.

:class:`ConsultationLogDialog` lists today's entries, read-only, newest first, the
identity number masked (first and last four) as every listing shows it. It reads in the
background when opened, on F5, from :meth:`~ConsultationLogDialog.refresh` (connect
:attr:`ConsultationDialog.saved` to it) and when another process (``yichuang consult
add``) wrote to the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.case import Clerk, IdType
from app.domain.catalogue import Bundle, ServiceItem
from app.errors import UserError
from app.services.consultations import MAX_ROWS, Consultation, ConsultationError, Enquiry
from app.services.permissions import Action, require
from app.services.printing import RenderedDocument
from app.workstation import Workstation
from ui.documents.print_preview import DocumentPreview
from ui.events import ChangeEvents
from ui.ops import Operation
from ui.widgets.tables import keyboard_rows
from ui.workbench.consultation_subject import Subject, SubjectPicker, describe

HINT = "Enter 下一项（末项即登记）　Ctrl+Enter 登记　Alt+P 打印告知单　Esc 取消"
@dataclass(frozen=True)
class _Saved:
    consultation: Consultation
    checklist: RenderedDocument | None   # the 一次性告知单 asked for, ready to print


def _problems_of(exc: Exception) -> list[str]:
    if isinstance(exc, ConsultationError):
        return exc.problems
    if isinstance(exc, UserError):   # DocumentError, a permission refused…
        return [str(exc)]
    return [f"登记失败：{exc}"]


class ConsultationDialog(QDialog):
    """Log one enquiry; ``saved`` carries the logged :class:`Consultation`."""

    saved = Signal(object)        # Consultation
    problems_shown = Signal()     # the service refused; ``problems`` says why

    def __init__(self, station: Workstation, clerk: Clerk, parent: QWidget | None = None,
                 item: ServiceItem | Bundle | None = None,
                 scenarios: frozenset[str] = frozenset()) -> None:
        super().__init__(parent)
        self.setWindowTitle("咨询登记（首问负责）")
        self._station = station
        self._clerk = clerk
        # 办理情形 belong to an item; a bundle's 告知单 has none.
        self._item = item if isinstance(item, ServiceItem) else None
        self._scenarios = scenarios if self._item is not None else frozenset()
        self.preview: DocumentPreview | None = None
        self.discard_box: QMessageBox | None = None
        self.busy = False
        self.logged: Consultation | None = None

        # The item: fixed when opened from its page, else picked here (or none).
        self.picker: SubjectPicker | None = None
        self._fixed: Subject | None = None
        self.subject_label: QLabel | None = None
        if item is None:
            self.picker = SubjectPicker(station.catalogue)
            self.picker.changed.connect(self._subject_changed)
        else:
            kind = "item" if isinstance(item, ServiceItem) else "bundle"
            self._fixed = Subject(kind, item.code, item.name)
            self.subject_label = QLabel()
            self.subject_label.setWordWrap(True)

        self.name = QLineEdit()
        self.name.setPlaceholderText("咨询人姓名（必填）")
        self.phone = QLineEdit()
        self.phone.setPlaceholderText("手机或固定电话（选填，便于回复）")
        self.id_type = QComboBox()
        for t in IdType:
            self.id_type.addItem(str(t), t)
        self.id_number = QLineEdit()
        self.id_number.setPlaceholderText("输入或扫描证件号码（选填，列表中只显示前后四位）")
        self.question = QLineEdit()
        self.question.setPlaceholderText("一句话记录所问（必填，至多200字）")
        self.answer = QLineEdit()
        self.answer.setPlaceholderText("一句话记录所答（选填，至多500字）")
        self.checklist = QCheckBox("打印一次性告知单 (Alt+P)")
        self.checklist.setToolTip("登记后打开该事项的一次性告知单预览，Enter 打印")

        form = QFormLayout()
        if self.picker is not None:
            form.addRow("所咨询事项(&S)：", self.picker)
        if self.subject_label is not None:
            form.addRow("所咨询事项：", self.subject_label)
        form.addRow("咨询人(&N)：", self.name)
        form.addRow("联系电话：", self.phone)
        form.addRow("证件类型：", self.id_type)
        form.addRow("证件号码(&I)：", self.id_number)
        form.addRow("咨询问题(&Q)：", self.question)
        form.addRow("答复(&A)：", self.answer)
        form.addRow("", self.checklist)

        self.problems = QLabel()
        self.problems.setObjectName("error")
        self.problems.setWordWrap(True)
        self.problems.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.problems.setMinimumWidth(280)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.save_button = QPushButton("登记 (Ctrl+Enter)")
        self.cancel_button = QPushButton("取消 (Esc)")
        for button in (self.save_button, self.cancel_button):
            # Not default buttons: Enter in a field moves on, it does not click them.
            button.setAutoDefault(False)
            button.setDefault(False)
        self.save_button.clicked.connect(self.save)
        self.cancel_button.clicked.connect(self.reject)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, self.save)
        # A shortcut, not a "&P" mnemonic: that clicks 100 ms later (animateClick), so a
        # quick Ctrl+Enter after it would save without the 告知单.
        QShortcut(QKeySequence("Alt+P"), self, self._toggle_checklist)
        hint = QLabel(HINT)
        hint.setObjectName("hint")
        hint.setWordWrap(True)

        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        left = QVBoxLayout()
        left.addLayout(form)
        left.addWidget(self.status)
        left.addLayout(buttons)
        left.addWidget(hint)
        layout = QHBoxLayout(self)
        layout.addLayout(left, 3)
        layout.addWidget(self.problems, 2)

        walk = self._walk()
        if self.picker is not None:
            self.picker.entered.connect(lambda: self._focus(self.name))
        for before, after in pairwise(walk):
            before.returnPressed.connect(lambda after=after: self._focus(after))
        walk[-1].returnPressed.connect(self.save)
        self._subject_changed()
        self.resize(900, self.sizeHint().height())
        if self.picker is not None:
            self.picker.line.setFocus(Qt.FocusReason.OtherFocusReason)
        else:
            self.name.setFocus(Qt.FocusReason.OtherFocusReason)

    # -- the item asked about -----------------------------------------------------------

    @property
    def subject(self) -> Subject | None:
        """What the enquiry is about, or None for a general question."""
        return self.picker.subject if self.picker is not None else self._fixed

    def _subject_changed(self) -> None:
        subject = self.subject
        self.checklist.setEnabled(subject is not None)
        if subject is None:
            self.checklist.setChecked(False)
        if subject is None or self.subject_label is None:
            return   # the picker says what is chosen
        text = describe(subject)
        chosen = [s.name for s in self._item.scenarios if s.id in self._scenarios] \
            if self._item is not None else []
        if chosen:
            text += f"\n办理情形：{'、'.join(chosen)}"
        self.subject_label.setText(text)

    # -- keyboard -----------------------------------------------------------------------

    def _walk(self) -> list[QLineEdit]:
        """The fields Enter walks; the identity type is reached by Tab (居民身份证 fits
        most callers)."""
        return [self.name, self.phone, self.id_number, self.question, self.answer]

    @staticmethod
    def _focus(edit: QLineEdit) -> None:
        edit.setFocus(Qt.FocusReason.TabFocusReason)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # Enter on the checkbox (reached by Tab) saves, as in the last field.
        if (event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
                and self.focusWidget() is self.checklist):
            self.save()
            return
        super().keyPressEvent(event)

    def _toggle_checklist(self) -> None:
        if self.checklist.isEnabled():
            self.checklist.toggle()

    def typed_anything(self) -> bool:
        picked = self.picker is not None and bool(self.picker.line.text().strip())
        return picked or any(e.text().strip() for e in self._walk())

    # -- saving -------------------------------------------------------------------------

    def enquiry(self) -> Enquiry:
        subject = self.subject
        return Enquiry(self.name.text(), self.question.text(), self.answer.text(),
                       subject.code if subject is not None else "", self.phone.text(),
                       IdType(self.id_type.currentData()), self.id_number.text())

    def save(self) -> None:
        if self.busy or self.logged is not None:
            return
        self.busy = True
        self.problems.clear()
        self.status.setStyleSheet("")
        self.status.setText("正在登记…")
        enquiry, subject = self.enquiry(), self.subject
        wants_paper = self.checklist.isChecked() and subject is not None
        service, documents = self._station.consultations, self._station.documents
        clerk, scenarios = self._clerk, self._scenarios

        def work() -> _Saved:
            doc = None
            if wants_paper and subject is not None:
                require(clerk.role, Action.PRINT_CASE_DOCUMENTS)
                doc = documents.render_checklist(subject.code, clerk, scenarios)
            return _Saved(service.add(enquiry, clerk, checklist=wants_paper), doc)

        Operation(self, work, self._saved).failure(self._failed).run()

    def _failed(self, exc: Exception) -> None:
        self.busy = False
        self.status.clear()
        self.show_problems(_problems_of(exc))

    def show_problems(self, problems: list[str]) -> None:
        """The service's reasons, beside the form; the first field they name gets the
        focus with its text selected (typed over, or kept)."""
        self.problems.setText("未能登记：\n" + "\n".join(f"• {p}" for p in problems))
        first = problems[0] if problems else ""
        targets: list[tuple[str, QLineEdit | None]] = [
            ("姓名", self.name), ("电话", self.phone), ("证件", self.id_number),
            ("咨询问题", self.question), ("答复", self.answer),
            ("目录中没有", self.picker.line if self.picker is not None else None)]
        target = next((edit for word, edit in targets if word in first), None)
        if target is not None:
            target.setFocus(Qt.FocusReason.OtherFocusReason)
            target.selectAll()
        self.problems_shown.emit()

    def _saved(self, saved: _Saved) -> None:
        self.busy = False
        self.logged = saved.consultation
        self.saved.emit(saved.consultation)
        doc = saved.checklist
        if doc is not None:
            # Parented to the window that opened us: the preview outlives this dialog.
            self.preview = DocumentPreview(self._station.documents, self._clerk,
                                           lambda: doc, self.parentWidget())
        self.accept()
        if self.preview is not None:
            self.preview.open()

    # -- cancelling ---------------------------------------------------------------------

    def reject(self) -> None:
        """Esc: close at once when nothing was typed, else ask (the answer defaults to
        keep typing)."""
        if self.logged is not None or self.busy or not self.typed_anything():
            if not self.busy:   # a save on its way finishes (and closes) by itself
                super().reject()
            return
        box = QMessageBox(QMessageBox.Icon.Question, "放弃咨询登记",
                          "已输入的咨询登记尚未保存，放弃吗？",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        yes = box.button(QMessageBox.StandardButton.Yes)
        yes.setText("放弃 (Y)")
        box.button(QMessageBox.StandardButton.No).setText("继续填写 (N)")
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.setEscapeButton(QMessageBox.StandardButton.No)
        where = self.focusWidget()
        box.finished.connect(lambda _r: self._discard_answered(box.clickedButton() is yes, where))
        self.discard_box = box
        box.open()

    def _discard_answered(self, discard: bool, where: QWidget | None) -> None:
        self.discard_box = None
        if discard:
            super().reject()
            return
        self.activateWindow()   # back to typing where the clerk was
        if where is not None:
            where.setFocus(Qt.FocusReason.OtherFocusReason)


LOG_COLUMNS = ("时间", "经办人", "咨询人", "证件号码", "所咨询事项", "咨询问题", "答复", "告知单")


def log_row(c: Consultation) -> tuple[str, ...]:
    """One consultation as the log shows it (the identity number masked)."""
    return (f"{c.at:%H:%M}", c.clerk_name, c.name, c.masked_id, c.item_name or "（一般性咨询）",
            c.question, c.answer, "已给" if c.checklist else "")


class ConsultationLogDialog(QDialog):
    """Today's consultations, read-only (see the module's docstring)."""

    loaded = Signal()   # the table shows a fresh read (or ``heading`` says why not)

    def __init__(self, station: Workstation, parent: QWidget | None = None,
                 events: ChangeEvents | None = None,
                 today: Callable[[], dt.date] = dt.date.today) -> None:
        super().__init__(parent)
        self.setWindowTitle("今日咨询登记")
        self.resize(1100, 600)
        self._station = station
        self._today = today
        self.rows: list[Consultation] = []
        self._reading: Operation[list[Consultation]] | None = None
        self.heading = QLabel("正在读取…")
        self.heading.setObjectName("title")
        self.table = QTableWidget(0, len(LOG_COLUMNS))
        keyboard_rows(self.table, LOG_COLUMNS, stretch=(5, 6))
        hint = QLabel("↑↓ 浏览　F5 刷新　Esc 关闭")
        hint.setObjectName("hint")
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.table, 1)
        layout.addWidget(hint)
        QShortcut(QKeySequence("F5"), self, self.refresh)
        if events is not None:
            events.database_changed.connect(self.refresh)
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)
        self.refresh()

    def refresh(self) -> None:
        """Read today's entries again (in the background); a newer read supersedes."""
        if self._reading is not None:
            self._reading.cancel()
        service, day = self._station.consultations, self._today()
        self._reading = Operation(self, lambda: service.find(day=day, limit=MAX_ROWS),
                                  lambda rows: self._show(rows, day)).failure(self._failed).run()

    def _show(self, rows: list[Consultation], day: dt.date) -> None:
        self.rows = rows
        more = f"（只显示最近 {MAX_ROWS} 条）" if len(rows) >= MAX_ROWS else ""
        given = sum(1 for c in rows if c.checklist)
        self.heading.setText(f"{day:%Y年%m月%d日} 咨询登记：共 {len(rows)} 条，"
                             f"给出一次性告知单 {given} 份{more}" if rows else
                             f"{day:%Y年%m月%d日} 还没有咨询登记")
        self.table.setRowCount(len(rows))
        for r, c in enumerate(rows):
            for col, value in enumerate(log_row(c)):
                cell = QTableWidgetItem(value)
                if col in (0, 7):
                    cell.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(r, col, cell)
        self.table.resizeRowsToContents()
        if rows and self.table.currentRow() < 0:
            self.table.selectRow(0)
        self.loaded.emit()

    def _failed(self, exc: Exception) -> None:
        self.heading.setText(f"咨询登记无法读取：{exc}")
        self.loaded.emit()
