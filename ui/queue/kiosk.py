"""自助取号机 (the kiosk): a full-screen touch view where applicants take a number.

The applicant taps a business category and gets the next number of it, with how many
people wait ahead. Before that they may choose 绿色通道（优先） with its reason, or check
in an appointment (预约签到) by its code or their ID number. The ticket is saved by
``station.queue.take`` first, shown large at once, and only then printed on the 80 mm
thermal printer (settings.toml ``[printers] ticket``, else ``thermal``): a printer fault
never loses the number — the screen keeps it and says what to do. After a few seconds
the view returns to its start by itself, ready for the next person.

Every read and write runs in a :class:`ui.ops.Operation`; the view refreshes its waiting
counts from ``ChangeEvents`` (another process's calls arrive through the DatabaseWatch).
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.queue import PRIORITY_REASONS, TicketClass
from app.domain.queue_policy import Category
from app.services.queue_tickets import (
    PRIORITY_LABEL,
    TicketChoice,
    print_issued_ticket,
    printer_fault_message,
    read_check_in,
)
from ui.events import ChangeEvents
from ui.ops import Operation
from ui.widgets.problems import problems_of

if TYPE_CHECKING:
    from app.services.queue import IssuedTicket
    from app.workstation import Workstation

log = logging.getLogger(__name__)

RESULT_MS = 8_000     # the number stays on screen this long once printed
FAULT_MS = 30_000     # … and longer when the printer failed: time to write it down
IDLE_MS = 60_000      # a half-finished choice (优先, 预约) is dropped after this
ACTION_HEIGHT = 84   # 返回, 下一步, 完成…: large for a finger, small enough for 1366×768

STYLE = """
KioskView { background: #f4f7fb; }
QLabel#kioskTitle { font-size: 44px; font-weight: bold; color: #0b3d91; }
QLabel#kioskHint { font-size: 28px; color: #333; }
QLabel#kioskMode { font-size: 30px; font-weight: bold; color: #fff; background: #1b8a3a;
                   padding: 10px 20px; border-radius: 8px; }
QLabel#kioskError { font-size: 28px; font-weight: bold; color: #b00020; }
QLabel#kioskNumber { font-size: 200px; font-weight: bold; color: #0b3d91; }
QLabel#kioskBig { font-size: 40px; color: #222; }
QLabel#kioskStatus { font-size: 34px; font-weight: bold; color: #1b5e20; }
QLabel#kioskFault { font-size: 36px; font-weight: bold; color: #b00020; }
QLabel#kioskDetail { font-size: 18px; color: #777; }
QPushButton { font-size: 34px; padding: 14px 24px; border-radius: 12px;
              background: #ffffff; border: 2px solid #9bb3d6; color: #0b3d91; }
QPushButton:pressed { background: #dde8f7; }
QPushButton:disabled { color: #aaa; border-color: #ddd; }
QPushButton#kioskCategory { font-size: 46px; font-weight: bold; min-height: 150px;
                            background: #0b5cd6; color: #fff; border: none; }
QPushButton#kioskCategory:disabled { background: #9fb6da; }
QPushButton#kioskGreen { background: #1b8a3a; color: #fff; border: none; }
QPushButton#kioskKey { font-size: 36px; font-weight: bold; min-width: 110px; min-height: 56px;
                       padding: 4px; }
QLineEdit#kioskEntry { font-size: 40px; padding: 6px; border: 2px solid #9bb3d6;
                       border-radius: 8px; background: #fff; }
"""


# ---- the view ------------------------------------------------------------------------


def _label(text: str, name: str, *, wrap: bool = True) -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(wrap)
    return label


def _button(text: str, name: str = "") -> QPushButton:
    button = QPushButton(text)
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)   # touch: no focus frame, Enter is the scanner's
    if name:
        button.setObjectName(name)
    return button


class KioskView(QWidget):
    """The kiosk's screens: start (categories), 优先 reasons, 预约签到, and the number."""

    taken = Signal(str)              # the number, once saved
    printed = Signal(str, bool, str)  # number, printed?, the printing's own message

    def __init__(self, station: Workstation, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.station = station
        self.setWindowTitle(f"自助取号 — {station.settings.site_name}")
        self.setStyleSheet(STYLE)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.choice = TicketChoice()
        self.number = ""              # the number on the result screen
        self.result_ms, self.fault_ms, self.idle_ms = RESULT_MS, FAULT_MS, IDLE_MS
        self.category_buttons: dict[str, QPushButton] = {}
        self._categories: list[Category] = []
        self._busy = False
        self._reading: Operation[tuple[list[Category], dict[str, int]]] | None = None
        self._stale = False
        self._back = QTimer(self)
        self._back.setSingleShot(True)
        self._back.timeout.connect(self.start_over)

        self.events = ChangeEvents.watching(station.db, station.settings.database_path, self)
        self.events.queue_changed.connect(lambda *_: self.refresh())
        self.events.database_changed.connect(self.refresh)

        self.pages = QStackedWidget()
        self.start_page = self._build_start()
        self.reason_page = self._build_reasons()
        self.check_in_page = self._build_check_in()
        self.result_page = self._build_result()
        for page in (self.start_page, self.reason_page, self.check_in_page, self.result_page):
            self.pages.addWidget(page)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(32, 16, 32, 16)
        outer.addWidget(self.pages)
        # Staff leave the full-screen kiosk with Ctrl+Shift+Q (applicants have no keyboard).
        QShortcut(QKeySequence("Ctrl+Shift+Q"), self, self.close)
        self.refresh()

    # -- pages ---------------------------------------------------------------------------

    def _build_start(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        box.addWidget(_label(f"{self.station.settings.site_name}　自助取号", "kioskTitle"))
        self.hint = _label("请点击要办理的业务取号", "kioskHint")
        box.addWidget(self.hint)
        self.mode = _label("", "kioskMode")
        self.mode.hide()
        box.addWidget(self.mode)
        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        self.grid.setSpacing(24)
        box.addWidget(self.grid_host, 1)
        self.start_error = _label("", "kioskError")
        box.addWidget(self.start_error)
        row = QHBoxLayout()
        self.green_button = _button(f"{PRIORITY_LABEL}（优先）", "kioskGreen")
        self.green_button.clicked.connect(self._open_reasons)
        self.check_in_button = _button("预约签到")
        self.check_in_button.clicked.connect(self._open_check_in)
        self.cancel_choice = _button("取消，普通取号")
        self.cancel_choice.clicked.connect(self.start_over)
        self.cancel_choice.hide()
        for b in (self.green_button, self.check_in_button, self.cancel_choice):
            b.setMinimumHeight(ACTION_HEIGHT)
            row.addWidget(b)
        box.addLayout(row)
        return page

    def _build_reasons(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        box.addWidget(_label(f"{PRIORITY_LABEL}（优先办理）", "kioskTitle"))
        box.addWidget(_label("请选择优先原因，办理时请出示相关证件", "kioskHint"))
        grid = QGridLayout()
        grid.setSpacing(20)
        self.reason_buttons: dict[str, QPushButton] = {}
        for n, reason in enumerate(PRIORITY_REASONS):
            b = _button(reason, "kioskGreen")
            b.setMinimumHeight(110)
            b.clicked.connect(partial(self._choose_reason, reason))
            self.reason_buttons[reason] = b
            grid.addWidget(b, n // 2, n % 2)
        box.addLayout(grid, 1)
        back = _button("返回")
        back.setMinimumHeight(ACTION_HEIGHT)
        back.clicked.connect(self.start_over)
        box.addWidget(back)
        return page

    def _build_check_in(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        box.addWidget(_label("预约签到", "kioskTitle"))
        box.addWidget(_label("请输入预约码或身份证号码（也可扫描预约二维码）", "kioskHint"))
        self.entry = QLineEdit()
        self.entry.setObjectName("kioskEntry")
        self.entry.setMaxLength(32)
        self.entry.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.entry.returnPressed.connect(self._check_in)   # a scanner ends with Enter
        self.entry.textEdited.connect(lambda _t: self._idle())
        box.addWidget(self.entry)
        self.check_in_error = _label("", "kioskError")
        box.addWidget(self.check_in_error)
        keys = QGridLayout()
        keys.setSpacing(12)
        for n, key in enumerate("123456789X0"):
            b = _button(key, "kioskKey")
            b.clicked.connect(partial(self._type, key))
            keys.addWidget(b, n // 3, n % 3)
        erase = _button("删除", "kioskKey")
        erase.clicked.connect(self._erase)
        keys.addWidget(erase, 3, 2)
        box.addLayout(keys, 1)
        row = QHBoxLayout()
        back = _button("返回")
        back.clicked.connect(self.start_over)
        self.check_in_next = _button("下一步：选择业务", "kioskGreen")
        self.check_in_next.clicked.connect(self._check_in)
        for b in (back, self.check_in_next):
            b.setMinimumHeight(ACTION_HEIGHT)
            row.addWidget(b)
        box.addLayout(row)
        return page

    def _build_result(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        box.addWidget(_label("您的号码", "kioskHint"))
        self.number_label = _label("", "kioskNumber", wrap=False)
        box.addWidget(self.number_label)
        self.business_label = _label("", "kioskBig")
        box.addWidget(self.business_label)
        self.ahead_label = _label("", "kioskBig")
        box.addWidget(self.ahead_label)
        self.print_status = _label("", "kioskStatus")
        box.addWidget(self.print_status)
        self.print_detail = _label("", "kioskDetail")
        box.addWidget(self.print_detail)
        box.addStretch(1)
        self.done_button = _button("完成")
        self.done_button.setMinimumHeight(ACTION_HEIGHT)
        self.done_button.clicked.connect(self.start_over)
        box.addWidget(self.done_button)
        return page

    # -- navigation ----------------------------------------------------------------------

    def start_over(self) -> None:
        """Back to the start: an ordinary ticket, nothing chosen, counts re-read."""
        if self._busy:
            return   # a ticket is being taken or printed: its result screen comes first
        self._back.stop()
        self.choice = TicketChoice()
        self.number = ""
        self.entry.clear()
        self.check_in_error.clear()
        self.start_error.clear()
        self._show_choice()
        self.pages.setCurrentWidget(self.start_page)
        self.refresh()

    def _idle(self) -> None:
        """A half-made choice is dropped when nobody touches the screen for a while."""
        self._back.start(self.idle_ms)

    def _open_reasons(self) -> None:
        self.pages.setCurrentWidget(self.reason_page)
        self._idle()

    def _choose_reason(self, reason: str) -> None:
        self.choice = TicketChoice(TicketClass.PRIORITY, priority_reason=reason)
        self._show_choice()
        self.pages.setCurrentWidget(self.start_page)
        self._idle()

    def _open_check_in(self) -> None:
        self.entry.clear()
        self.check_in_error.clear()
        self.pages.setCurrentWidget(self.check_in_page)
        self.entry.setFocus()   # a scanner or a keyboard types straight into it
        self._idle()

    def _type(self, key: str) -> None:
        self.entry.insert(key)
        self._idle()

    def _erase(self) -> None:
        self.entry.backspace()
        self._idle()

    def _check_in(self) -> None:
        text = self.entry.text()
        self._idle()
        Operation(self, lambda: read_check_in(text), self._checked_in) \
            .failure(lambda exc: self.check_in_error.setText(str(exc))).run()

    def _checked_in(self, choice: TicketChoice) -> None:
        self.choice = choice
        self._show_choice()
        self.pages.setCurrentWidget(self.start_page)

    def _show_choice(self) -> None:
        chosen = self.choice.ticket_class is not TicketClass.ORDINARY
        self.mode.setText(self.choice.banner)
        self.mode.setVisible(chosen)
        self.hint.setVisible(not chosen)
        self.green_button.setVisible(not chosen)
        self.check_in_button.setVisible(not chosen)
        self.cancel_choice.setVisible(chosen)

    # -- categories ----------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the categories and how many wait in each (in the background).

        One read at a time: changes arriving meanwhile ask for one more read after it,
        so a burst of calls costs two reads and the last one shown is the newest."""
        if self._reading is not None and not self._reading.done:
            self._stale = True
            return
        self._stale = False
        queue = self.station.queue
        self._reading = Operation(
            self, lambda: (queue.categories(), queue.status().waiting), self._show_categories
        ).failure(self._not_read).run()

    def _not_read(self, exc: Exception) -> None:
        self.start_error.setText("；".join(problems_of(exc)))
        if self._stale:
            self.refresh()

    def _show_categories(self, read: tuple[list[Category], dict[str, int]]) -> None:
        if self._stale:
            self.refresh()
        categories = [c for c in read[0] if c.active]
        waiting = read[1]
        if [c.prefix for c in categories] != [c.prefix for c in self._categories]:
            self._rebuild(categories)
        self._categories = categories
        for c in categories:
            self.category_buttons[c.prefix].setText(
                f"{c.prefix}　{c.name}\n当前等候 {waiting.get(c.prefix, 0)} 人")
        if not categories:
            self.start_error.setText("暂无可取号的业务，请联系工作人员。")

    def _rebuild(self, categories: list[Category]) -> None:
        for button in self.category_buttons.values():
            self.grid.removeWidget(button)
            button.deleteLater()
        self.category_buttons = {}
        columns = 2 if len(categories) <= 4 else 3
        for n, c in enumerate(categories):
            b = _button(c.name, "kioskCategory")
            # Taller on a large screen: the buttons share the height the page has.
            b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
            b.setEnabled(not self._busy)
            b.clicked.connect(partial(self.take, c.prefix))
            self.category_buttons[c.prefix] = b
            self.grid.addWidget(b, n // columns, n % columns)

    # -- taking and printing -------------------------------------------------------------

    def take(self, prefix: str) -> None:
        """Take a number of ``prefix`` with the current choice (the category's button)."""
        if self._busy:
            return   # a second tap while the first is saved must not take two numbers
        self._set_busy(True)
        self._back.stop()
        self.start_error.clear()
        choice, queue = self.choice, self.station.queue
        Operation(self, lambda: queue.take(prefix, choice.ticket_class,
                                           priority_reason=choice.priority_reason,
                                           appointment=choice.appointment,
                                           id_number=choice.id_number),
                  self._taken).failure(self._not_taken).run()

    def _not_taken(self, exc: Exception) -> None:
        self._set_busy(False)
        self.start_error.setText("未能取号：" + "；".join(problems_of(exc))
                                 + "。请重试或联系工作人员。")
        self._idle()

    def _taken(self, issued: IssuedTicket) -> None:
        t = issued.ticket
        self.number = t.number
        self.number_label.setText(t.number)
        kind = (f"【{PRIORITY_LABEL}】" if t.ticket_class is TicketClass.PRIORITY
                else "【预约】" if t.ticket_class is TicketClass.APPOINTMENT else "")
        self.business_label.setText(f"{issued.category_name}{kind}")
        self.ahead_label.setText(f"您前面还有 {issued.waiting_ahead} 人等候")
        self.print_status.setObjectName("kioskStatus")
        self.print_status.setText("正在打印号票，请稍候…")
        self.print_detail.clear()
        self._restyle(self.print_status)
        self.done_button.setEnabled(False)
        self.pages.setCurrentWidget(self.result_page)
        self.taken.emit(t.number)
        documents, settings = self.station.documents, self.station.settings
        Operation(self, lambda: print_issued_ticket(documents, settings, issued),
                  lambda outcome: self._printed(t.number, outcome.ok, outcome.message)) \
            .failure(lambda exc: self._printed(t.number, False, f"{type(exc).__name__}：{exc}")) \
            .run()

    def _printed(self, number: str, ok: bool, message: str) -> None:
        self._set_busy(False)
        self.done_button.setEnabled(True)
        if ok:
            self.print_status.setText("请取走号票，留意大厅叫号屏及语音提示")
        else:
            log.warning("号票%s未能打印：%s", number, message)
            self.print_status.setObjectName("kioskFault")
            self.print_status.setText(printer_fault_message(number))
            self.print_detail.setText(message)   # for the staff who come to help
            self._restyle(self.print_status)
        self.printed.emit(number, ok, message)
        self._back.start(self.result_ms if ok else self.fault_ms)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        for b in self.category_buttons.values():
            b.setEnabled(not busy)

    @staticmethod
    def _restyle(label: QLabel) -> None:
        # A changed object name takes effect once the style is applied again.
        label.style().unpolish(label)
        label.style().polish(label)

    def closeEvent(self, event: QCloseEvent) -> None:
        self._back.stop()
        self.events.stop()
        super().closeEvent(event)


# ---- the program ---------------------------------------------------------------------


def run_kiosk(directory: Path | None = None) -> int:
    """``yichuang kiosk``: the kiosk full-screen until staff close it (Ctrl+Shift+Q)."""
    from ui.queue.screen import run_screen

    return run_screen(directory, "一窗通 自助取号", KioskView)
