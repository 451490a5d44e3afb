"""好差评: the evaluation view turned toward the applicant at one window.

When the window finishes (办结) a ticket, the view shows that ticket and five large
buttons, 非常满意 … 非常不满意. The lower two need at least one reason before they are
sent. A rating goes to a :class:`RatingSink` — the core's
:class:`app.services.ratings.RatingService` in the program; the sink, not this view,
decides which ticket awaits a rating at the window and records the case and the clerk
with it, so nothing the view says can put a rating on another clerk's service.

Every call to the sink runs in an :class:`ui.ops.Operation`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.queue import Ticket
from app.domain.rating import DISSATISFIED_REASONS, GRADE_LABELS, Grade, Rating
from ui.events import ChangeEvents
from ui.ops import Operation
from ui.widgets.problems import problems_of

if TYPE_CHECKING:
    from app.workstation import Workstation

# The rating's names are the core's (app.domain.rating); importable from here as well.
__all__ = ["DISSATISFIED_REASONS", "GRADE_LABELS", "EvaluationView", "Grade", "Rating",
           "RatingSink", "run_evaluate"]

THANKS_MS = 5_000     # 感谢您的评价 stays this long
IDLE_MS = 120_000     # an unanswered rating screen goes back to the welcome


class RatingSink(Protocol):
    """Where ratings go: :class:`app.services.ratings.RatingService` in the program."""

    def awaiting(self, window: str) -> Ticket | None:
        """The ticket just finished at ``window`` that has no rating yet (None: none)."""
        ...

    def record(self, rating: Rating) -> None:
        """Store ``rating`` once; raise a UserError (message in Chinese) if it may not be."""
        ...


def _label(text: str, name: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    return label


def _button(text: str, name: str) -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(name)
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
    return button


STYLE = """
EvaluationView { background: #f4f7fb; }
QLabel#evalTitle { font-size: 40px; font-weight: bold; color: #0b3d91; }
QLabel#evalHint { font-size: 28px; color: #333; }
QLabel#evalError { font-size: 26px; font-weight: bold; color: #b00020; }
QPushButton { font-size: 30px; padding: 10px; border-radius: 12px; background: #fff;
              border: 2px solid #9bb3d6; color: #0b3d91; min-height: 72px; }
QPushButton:checked { background: #b00020; color: #fff; border-color: #b00020; }
QPushButton#evalGood { font-size: 38px; font-weight: bold; background: #1b8a3a; color: #fff;
                       border: none; min-height: 150px; }
QPushButton#evalSubmit { font-size: 34px; font-weight: bold; background: #1b8a3a; color: #fff;
                         border: none; min-height: 84px; }
QPushButton#evalBack { min-height: 84px; }
QPushButton#evalBad { font-size: 38px; font-weight: bold; background: #c0392b; color: #fff;
                      border: none; min-height: 150px; }
"""


class EvaluationView(QWidget):
    """Welcome → the finished ticket's five grades → (差评) reasons → thanks."""

    recorded = Signal(object)   # the Rating, once the sink stored it

    def __init__(self, station: Workstation, window: str, sink: RatingSink,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.window_number, self.sink = window, sink
        self.ticket: Ticket | None = None
        self.grade: Grade | None = None
        self.thanks_ms, self.idle_ms = THANKS_MS, IDLE_MS
        self.setWindowTitle(f"服务评价 — {window}号窗口")
        self.setStyleSheet(STYLE)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self._back = QTimer(self)
        self._back.setSingleShot(True)
        self._back.timeout.connect(self.welcome)
        self._looking: Operation[Ticket | None] | None = None
        self._look_again = False
        # The ticket this screen is done with (rated here, or left unanswered until the
        # idle time ran out): whatever the sink says later, it is not asked about again.
        self._done_with = ""
        # Staff leave the full-screen view with Ctrl+Shift+Q (applicants have no keyboard).
        QShortcut(QKeySequence("Ctrl+Shift+Q"), self, self.close)

        self.events = ChangeEvents.watching(station.db, station.settings.database_path, self)
        self.events.queue_changed.connect(self._queue_changed)
        self.events.database_changed.connect(self.look)

        self.pages = QStackedWidget()
        self.welcome_page = QWidget()
        box = QVBoxLayout(self.welcome_page)
        box.addStretch(1)
        box.addWidget(_label(f"{station.settings.site_name}　{window}号窗口", "evalTitle"))
        box.addWidget(_label("欢迎您！办理完毕后请在此对本次服务作出评价", "evalHint"))
        box.addStretch(1)
        self.pages.addWidget(self.welcome_page)
        self.pages.addWidget(self._build_grades())
        self.pages.addWidget(self._build_reasons())
        self.thanks_page = QWidget()
        box = QVBoxLayout(self.thanks_page)
        box.addWidget(_label("感谢您的评价！", "evalTitle"))
        self.pages.addWidget(self.thanks_page)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(32, 16, 32, 16)
        outer.addWidget(self.pages)
        self.look()

    def _build_grades(self) -> QWidget:
        self.grade_page = QWidget()
        box = QVBoxLayout(self.grade_page)
        self.grade_title = _label("", "evalTitle")
        box.addWidget(self.grade_title)
        box.addWidget(_label("请点击您对本次服务的评价", "evalHint"))
        row = QHBoxLayout()
        self.grade_buttons: dict[Grade, QPushButton] = {}
        for grade in Grade:
            b = _button(grade.label, "evalBad" if grade.needs_reason else "evalGood")
            b.clicked.connect(partial(self.choose, grade))
            self.grade_buttons[grade] = b
            row.addWidget(b)
        box.addLayout(row, 1)
        self.grade_error = _label("", "evalError")
        box.addWidget(self.grade_error)
        return self.grade_page

    def _build_reasons(self) -> QWidget:
        self.reason_page = QWidget()
        box = QVBoxLayout(self.reason_page)
        self.reason_title = _label("", "evalTitle")
        box.addWidget(self.reason_title)
        box.addWidget(_label("请选择不满意的原因（可多选），我们将认真整改", "evalHint"))
        grid = QGridLayout()
        self.reason_buttons: dict[str, QPushButton] = {}
        for n, reason in enumerate(DISSATISFIED_REASONS):
            b = _button(reason, "evalReason")
            b.setCheckable(True)
            b.toggled.connect(self._reason_toggled)
            self.reason_buttons[reason] = b
            grid.addWidget(b, n // 2, n % 2)
        box.addLayout(grid, 1)
        self.reason_error = _label("", "evalError")
        box.addWidget(self.reason_error)
        row = QHBoxLayout()
        back = _button("返回", "evalBack")
        back.clicked.connect(self._show_grades)
        self.submit = _button("提交评价", "evalSubmit")
        self.submit.clicked.connect(self._submit_reasons)
        for b in (back, self.submit):
            b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            row.addWidget(b)
        box.addLayout(row)
        return self.reason_page

    def _reason_toggled(self, _on: bool) -> None:
        self.reason_error.clear()
        self._back.start(self.idle_ms)

    # -- which ticket ------------------------------------------------------------------

    def _queue_changed(self, _number: str, kind: str, window: str) -> None:
        # This process's own news: only a 办结 here brings a new ticket to rate (a rating,
        # a call, a ticket taken elsewhere do not). Another process's 办结 arrives as
        # database_changed, which says nothing of its kind: _found sorts those answers.
        if window == self.window_number and kind == "finished":
            self.look()

    def look(self) -> None:
        """Ask the sink whether a ticket awaits its rating here (in the background). A
        change heard while one question is out asks once more when it is answered: that
        answer may have been read before the change."""
        if self._looking is not None and not self._looking.done:
            self._look_again = True
            return
        self._look_again = False
        sink, window = self.sink, self.window_number
        self._looking = Operation(self, lambda: sink.awaiting(window), self._found) \
            .failure(self._look_failed).run()

    def _look_failed(self, exc: Exception) -> None:
        self.grade_error.setText("；".join(problems_of(exc)))
        if self._look_again:
            self.look()

    def _found(self, ticket: Ticket | None) -> None:
        if self._look_again:
            self.look()
        showing = self.pages.currentWidget() in (self.grade_page, self.reason_page)
        if ticket is None or ticket.id == self._done_with or (
                showing and self.ticket is not None and self.ticket.id == ticket.id):
            return
        self.ticket = ticket
        title = f"{ticket.number}号，请对{self.window_number}号窗口的服务作出评价"
        self.grade_title.setText(title)
        self.reason_title.setText(title)
        for b in self.reason_buttons.values():
            b.setChecked(False)
        self._show_grades()

    # -- rating ------------------------------------------------------------------------

    def welcome(self) -> None:
        self._back.stop()
        if self.ticket is not None:
            self._done_with = self.ticket.id    # rated, or the applicant has gone
        self.ticket, self.grade = None, None
        self.pages.setCurrentWidget(self.welcome_page)
        self.look()   # a ticket finished meanwhile

    def _show_grades(self) -> None:
        self.grade_error.clear()
        self.reason_error.clear()
        self.pages.setCurrentWidget(self.grade_page)
        self._back.start(self.idle_ms)

    def choose(self, grade: Grade) -> None:
        """The applicant tapped ``grade``: sent at once, or (差评) after the reasons."""
        self.grade = grade
        if grade.needs_reason:
            self.pages.setCurrentWidget(self.reason_page)
            self._back.start(self.idle_ms)
            return
        self._send(grade, ())

    def _submit_reasons(self) -> None:
        reasons = tuple(r for r, b in self.reason_buttons.items() if b.isChecked())
        if not reasons:
            self.reason_error.setText("请至少选择一项不满意的原因。")
            return
        assert self.grade is not None
        self._send(self.grade, reasons)

    def _send(self, grade: Grade, reasons: Sequence[str]) -> None:
        if self.ticket is None:
            return
        rating = Rating(self.ticket.id, self.ticket.number, self.window_number, grade,
                        tuple(reasons))
        self._set_enabled(False)
        sink = self.sink
        Operation(self, lambda: sink.record(rating), lambda _none: self._sent(rating)) \
            .failure(self._not_sent).run()

    def _sent(self, rating: Rating) -> None:
        self._done_with = rating.ticket_id
        self._set_enabled(True)
        self.recorded.emit(rating)
        self.pages.setCurrentWidget(self.thanks_page)
        self._back.start(self.thanks_ms)

    def _not_sent(self, exc: Exception) -> None:
        self._set_enabled(True)
        message = "未能保存评价：" + "；".join(problems_of(exc))
        (self.reason_error if self.pages.currentWidget() is self.reason_page
         else self.grade_error).setText(message)

    def _set_enabled(self, on: bool) -> None:
        for b in (*self.grade_buttons.values(), self.submit):
            b.setEnabled(on)

    def closeEvent(self, event: QCloseEvent) -> None:
        self._back.stop()
        self.events.stop()
        super().closeEvent(event)


# ---- the program ---------------------------------------------------------------------


def run_evaluate(directory: Path | None, window: str) -> int:
    """``yichuang evaluate``: the evaluation screen of ``window`` full-screen until staff
    close it; ratings go to the workstation's :class:`RatingService`."""
    from ui.queue.screen import run_screen

    def view(station: Workstation) -> QWidget | str:
        if window not in {w.number for w in station.queue.windows()}:
            return f"{window}号窗口没有配置排队业务，无法打开评价屏。"
        return EvaluationView(station, window, station.ratings)

    return run_screen(directory, "一窗通 服务评价", view)
