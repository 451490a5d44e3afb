"""差评整改: the supervisor's list of 差评 awaiting a follow-up (回访), and the note that
closes one.

Every 不满意 / 非常不满意 rating must be followed up by a supervisor or an administrator
who was not the rated clerk (:meth:`app.services.ratings.RatingService.follow_up` decides
who may; this dialog shows its refusal as it is). Keys: ↓↑ choose a 差评, Enter writes
its 整改情况, Ctrl+Enter records it (the row leaves the list), Esc back to the list or
closed; F8 shows the ones already followed up with what was done, F5 reads again.

The list is read in the background and again when the queue says a rating was given or
followed up, or another process (the evaluation screen, a second clerk's window) wrote.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.case import Clerk
from app.domain.rating import FollowUp, RatingError, StoredRating, checked_note
from app.errors import UserError
from app.workstation import Workstation
from ui.events import ChangeEvents
from ui.ops import Operation
from ui.widgets.problems import problems_of
from ui.widgets.tables import keyboard_rows, read_only_cell

COLUMNS = ("评价时间", "排队号", "窗口", "工作人员", "评价", "不满意的原因", "办件编号", "回访情况")
CLOSED_DAYS = 31      # F8 shows the 差评 of this many days back, with their follow-ups
NOTE_ROWS = 4
PICK = "在列表中选中差评后按 Enter 填写回访及整改情况。"
# What the queue says when the list may have changed (app.services.ratings).
_RATING_KINDS = frozenset({"rated", "followed_up"})


@dataclass(frozen=True)
class FollowUpLine:
    """One 差评 as the list shows it: names resolved, its follow-ups (none while open)."""

    rating: StoredRating
    clerk_name: str
    case_number: str
    follow_ups: tuple[tuple[FollowUp, str], ...] = ()   # each with the supervisor's name

    @property
    def open(self) -> bool:
        return not self.follow_ups

    def cells(self) -> list[str]:
        r = self.rating
        done = "；".join(f"{name} {f.at.astimezone():%m-%d %H:%M}：{f.note}"
                        for f, name in self.follow_ups)
        return [f"{r.rated_at.astimezone():%Y-%m-%d %H:%M}", r.number, f"{r.window}号",
                self.clerk_name, r.grade.label, "、".join(r.reasons), self.case_number or "—",
                done or "待回访"]

    def summary(self) -> str:
        r = self.rating
        case = f"，办件 {self.case_number}" if self.case_number else ""
        return (f"{r.number}号（{r.window}号窗口，{self.clerk_name}）：{r.grade.label}，"
                f"原因：{'、'.join(r.reasons)}{case}")


@dataclass(frozen=True)
class FollowUpBoard:
    lines: list[FollowUpLine]    # the open ones oldest first, then (F8) the closed newest first

    @property
    def open_count(self) -> int:
        return sum(1 for line in self.lines if line.open)


def read_board(station: Workstation, *, closed_too: bool, today: dt.date) -> FollowUpBoard:
    """The 差评 to show (worker thread)."""
    ratings = station.ratings
    names = {u.user_id: u.display_name for u in station.accounts.users()}

    def name(user_id: str) -> str:
        return names.get(user_id, user_id) if user_id else "—"

    def case_number(case_id: str) -> str:
        if not case_id:
            return ""
        try:
            return station.cases.get(case_id).number
        except UserError:
            return case_id

    def line(r: StoredRating, follow_ups: list[FollowUp]) -> FollowUpLine:
        return FollowUpLine(r, name(r.clerk_id), case_number(r.case_id),
                            tuple((f, name(f.supervisor_id)) for f in follow_ups))

    pending = ratings.open_followups()
    lines = [line(r, []) for r in pending]
    if closed_too:
        waiting = {r.id for r in pending}
        # The service lists ratings per day; a month of them is a few hundred rows.
        for back in range(CLOSED_DAYS):
            day_ratings = ratings.ratings(today - dt.timedelta(days=back))
            for r in reversed(day_ratings):
                if r.follow_up_required and r.id not in waiting:
                    lines.append(line(r, ratings.follow_ups(r.id)))
    return FollowUpBoard(lines)


class _Rows(QTableWidget):
    """The list: Enter opens the chosen row (a table would otherwise ignore it)."""

    chosen = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not event.modifiers():
            self.chosen.emit()
            return
        super().keyPressEvent(event)


class RatingFollowUpDialog(QDialog):
    loaded = Signal()            # the list shows a fresh read (or the heading says why not)
    recorded = Signal(object)    # the FollowUp just stored

    def __init__(self, station: Workstation, clerk: Clerk, parent: QWidget | None = None,
                 events: ChangeEvents | None = None, *,
                 today: Callable[[], dt.date] = dt.date.today) -> None:
        super().__init__(parent)
        self.setWindowTitle("差评整改")
        self.resize(1180, 680)
        self._station, self._clerk, self._today = station, clerk, today
        self.board: FollowUpBoard | None = None
        self.target: FollowUpLine | None = None     # the 差评 the note is for
        self._reading: Operation[FollowUpBoard] | None = None
        self._saving = False

        self.heading = QLabel("正在读取…")
        self.heading.setObjectName("title")
        self.heading.setWordWrap(True)
        self.closed_box = QCheckBox("同时显示已回访的差评（近31天）(F8)")
        self.closed_box.toggled.connect(lambda _on: self.refresh())
        self.table = _Rows(0, len(COLUMNS))
        keyboard_rows(self.table, COLUMNS, stretch=(5, 7))
        self.table.chosen.connect(self.choose)
        self.table.itemDoubleClicked.connect(lambda _item: self.choose())
        self.detail = QLabel(PICK)
        self.detail.setWordWrap(True)
        note_label = QLabel("回访及整改情况(&N)：")
        self.note = QPlainTextEdit()
        self.note.setPlaceholderText("回访了申请人、查明的原因、采取的整改措施（必填，最多500字）")
        self.note.setFixedHeight(self.note.fontMetrics().lineSpacing() * NOTE_ROWS + 16)
        self.note.setTabChangesFocus(True)
        self.note.setEnabled(False)
        note_label.setBuddy(self.note)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setStyleSheet("color: #b00020; font-weight: bold;")
        self.error.setWordWrap(True)
        self.note.textChanged.connect(self.error.clear)   # the message goes as one writes
        self.status = QLabel()
        self.status.setWordWrap(True)
        hint = QLabel("↓↑ 选择　Enter 填写回访情况　Ctrl+Enter 记录回访　Esc 返回列表/关闭　"
                      "F8 显示已回访　F5 刷新")
        hint.setObjectName("hint")

        top = QHBoxLayout()
        top.addWidget(self.heading, 1)
        top.addWidget(self.closed_box)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.detail)
        layout.addWidget(note_label)
        layout.addWidget(self.note)
        layout.addWidget(self.error)
        layout.addWidget(self.status)
        layout.addWidget(hint)

        QShortcut(QKeySequence("F5"), self, self.refresh)
        QShortcut(QKeySequence("F8"), self, self.closed_box.toggle)
        for keys, act in (("Ctrl+Return", self.record), ("Ctrl+Enter", self.record),
                          ("Esc", self.back_to_list)):
            # Only while writing the note (the constructor's context argument is ignored
            # with a callable: set it afterwards). Esc in the list closes the dialog.
            QShortcut(QKeySequence(keys), self.note, act).setContext(
                Qt.ShortcutContext.WidgetShortcut)
        if events is not None:
            events.queue_changed.connect(self._queue_changed)
            events.database_changed.connect(self._changed_elsewhere)
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)
        self.refresh()

    # ---- reading -----------------------------------------------------------------------

    def _queue_changed(self, _number: str, kind: str, _window: str) -> None:
        if kind in _RATING_KINDS:
            self._changed_elsewhere()

    def _changed_elsewhere(self) -> None:
        if self.isVisible():
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.board is not None:   # shown again: what changed while it was hidden
            self.refresh()

    def refresh(self) -> None:
        """Read the list again in the background; a newer read supersedes."""
        if self._reading is not None:
            self._reading.cancel()
        station, closed, today = self._station, self.closed_box.isChecked(), self._today()
        self._reading = Operation(
            self, lambda: read_board(station, closed_too=closed, today=today), self._show
        ).failure(self._read_failed).run()

    def _show(self, board: FollowUpBoard) -> None:
        chosen = self._selected()
        keep = chosen.rating.id if chosen is not None else ""
        self.board = board
        self.heading.setText(f"待回访的差评：{board.open_count} 条" if board.open_count else
                             "没有待回访的差评。")
        self.table.setRowCount(len(board.lines))
        for row, line in enumerate(board.lines):
            for col, text in enumerate(line.cells()):
                cell = read_only_cell(text, center=col in (1, 2, 4))
                if not line.open:
                    cell.setForeground(Qt.GlobalColor.darkGray)
                self.table.setItem(row, col, cell)
        self.table.resizeRowsToContents()
        rows = [line.rating.id for line in board.lines]
        if rows:
            self.table.selectRow(rows.index(keep) if keep in rows else 0)
        if self.target is not None and self.target.rating.id not in {
                line.rating.id for line in board.lines if line.open}:
            self.status.setText(f"{self.target.rating.number}号的差评已由他人回访。")
            self._leave_note()
        self.loaded.emit()

    def _read_failed(self, exc: Exception) -> None:
        self.heading.setText("差评无法读取：" + "；".join(problems_of(exc)))
        self.loaded.emit()

    def _selected(self) -> FollowUpLine | None:
        row = self.table.currentRow()
        if self.board is None or not 0 <= row < len(self.board.lines):
            return None
        return self.board.lines[row]

    # ---- the note ----------------------------------------------------------------------

    def choose(self) -> None:
        """Enter on a row: an open 差评 gets its note; a closed one shows what was done."""
        line = self._selected()
        if line is None:
            return
        self.error.clear()
        if not line.open:
            self.detail.setText(line.summary() + "\n已回访：" + line.cells()[-1])
            return
        if self.target is None or self.target.rating.id != line.rating.id:
            self.note.clear()      # a note typed for another 差评 is not this one's
        self.target = line
        self.detail.setText(line.summary())
        self.note.setEnabled(True)
        self.note.setFocus(Qt.FocusReason.OtherFocusReason)

    def back_to_list(self) -> None:
        """Esc in the note: back to the list; what was typed stays for this 差评."""
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)

    def record(self) -> None:
        """Ctrl+Enter: store the note as this 差评's follow-up (in the background)."""
        if self.target is None or self._saving:
            return
        try:
            note = checked_note(self.note.toPlainText())
        except RatingError as exc:
            self.error.setText(str(exc))
            return
        self.error.clear()
        self._saving = True
        ratings, rating_id, clerk = self._station.ratings, self.target.rating.id, self._clerk
        Operation(self, lambda: ratings.follow_up(rating_id, note, clerk), self._recorded) \
            .failure(self._refused).run()

    def _recorded(self, done: FollowUp) -> None:
        self._saving = False
        number = self.target.rating.number if self.target is not None else ""
        self.status.setText(f"已记录{number}号差评的回访。")
        self._leave_note()
        self.recorded.emit(done)
        self.refresh()

    def _refused(self, exc: Exception) -> None:
        # The note stays as typed: the clerk may hand it to a supervisor.
        self._saving = False
        self.error.setText("；".join(problems_of(exc)))
        self.note.setFocus(Qt.FocusReason.OtherFocusReason)

    def _leave_note(self) -> None:
        self.target = None
        self.note.clear()
        self.note.setEnabled(False)
        self.detail.setText(PICK)
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)
