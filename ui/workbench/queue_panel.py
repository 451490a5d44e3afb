"""叫号 at the clerk's window: the ticket in hand, the hall's queues, and the keys.

Keys (while the panel is shown): F9 叫号 (call the next ticket), F10 重呼, F11 过号
(the applicant did not come), F12 办结, F4 挂起 (the applicant fetches a paper), F3 收件
for the ticket in hand (the case records its ticket), Ctrl+T 转移 to another category
or window, Ctrl+R 回呼 a suspended ticket, Ctrl+W 暂停 / 恢复 this window, Ctrl+M 手工叫号
(the queue cannot be used: the clerk calls aloud and types the number; it is recorded,
and F3 then records that number on the case). Every action is a background operation;
the panel re-reads the queue when the core says it changed — here, in the kiosk, or at
another window (another process included) — and every minute for the 30-minute alert.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import QLabel, QListWidget, QVBoxLayout, QWidget

from app.domain.case import Clerk
from app.domain.manual_call import ManualCall
from app.domain.queue import STATUS_NAMES, Ticket, TicketStatus
from app.domain.queue_policy import Category
from app.domain.queue_stats import WAIT_ALERT_MINUTES, WaitingAlert
from app.errors import UserError
from app.services.queue import QueueStatus
from app.storage.db import DatabaseError
from app.workstation import Workstation
from ui.events import ChangeEvents
from ui.ops import Operation
from ui.widgets.problems import problems_of
from ui.workbench.prompts import TextPrompt

HINT = ("F9 叫号　F10 重呼　F11 过号　F12 办结　F4 挂起　F3 为此号收件　"
        "Ctrl+T 转移　Ctrl+R 回呼　Ctrl+W 暂停/恢复本窗口　Ctrl+M 手工叫号")
MANUAL_HINT = "排队系统不可用时，可口头叫号后按 Ctrl+M 记下叫到的号码（手工叫号）。"
PAPER_HINT = ("手工叫号也无法记录（数据库暂时不可用）：请在纸上记下号码、窗口和时间，"
              "恢复后交管理员用 yichuang queue manual 补录。")
ALERT_REFRESH_MS = 60_000


QueueRead = tuple[QueueStatus, list[Category], list[WaitingAlert]]


def ticket_line(ticket: Ticket) -> str:
    why = f"（{ticket.priority_reason}）" if ticket.priority_reason else ""
    return f"{ticket.number}　{ticket.ticket_class}{why}　{STATUS_NAMES[ticket.status]}"


class QueuePanel(QWidget):
    """The queue as this window (``settings.window``) works it."""

    start_case = Signal(str)      # the ticket number a 收件 should record
    changed = Signal()            # the queue as shown was re-read

    def __init__(self, station: Workstation, clerk: Clerk, events: ChangeEvents | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._station = station
        self._clerk = clerk
        self.window_number = station.settings.window
        self.status: QueueStatus | None = None
        self.prompt: TextPrompt | None = None
        self._busy = False
        self._stale = False
        self._reading: Operation[QueueRead] | None = None
        self._again = False
        self.manual_number = ""     # a number called aloud (手工叫号), for F3
        self._trouble = ""          # why the last action failed, if the queue did

        self.title = QLabel(f"叫号　{self.window_number}号窗口")
        self.title.setObjectName("title")
        self.ticket = QLabel("尚未叫号：按 F9 叫下一位")
        self.ticket.setStyleSheet("font-size: 32px; font-weight: bold;")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.waiting = QLabel()
        self.alert = QLabel()
        self.alert.setWordWrap(True)
        self.alert.setStyleSheet("color: #b00020; font-weight: bold;")
        self.alert.hide()
        self.suspended = QListWidget()
        self.suspended.setFocusPolicy(Qt.FocusPolicy.NoFocus)   # Ctrl+R asks the number
        hint = QLabel(HINT)
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        for widget in (self.title, self.ticket, self.message, self.waiting, self.alert,
                       QLabel("本窗口挂起的号（Ctrl+R 回呼）："), self.suspended, hint):
            layout.addWidget(widget)
        layout.addStretch(1)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)   # the F-keys need a focus here

        queue, window, clerk_id = station.queue, self.window_number, clerk.clerk_id
        actions: list[tuple[str, Callable[[], object], str]] = [
            ("F9", lambda: queue.call_next(window, clerk_id=clerk_id), "叫号"),
            ("F10", lambda: queue.recall(window, clerk_id=clerk_id), "重呼"),
            ("F11", lambda: queue.skip(window, clerk_id=clerk_id), "过号"),
            ("F12", lambda: queue.finish(window, clerk_id=clerk_id), "办结"),
            ("F4", lambda: queue.suspend(window, clerk_id=clerk_id), "挂起"),
        ]
        for key, work, name in actions:
            self._key(key, self._acting(name, work))
        self._key("F3", self.request_case)
        self._key("Ctrl+T", self.ask_transfer)
        self._key("Ctrl+R", self.ask_resume)
        self._key("Ctrl+W", self.toggle_pause)
        self._key("Ctrl+M", self.ask_manual_call)
        if events is not None:
            events.queue_changed.connect(lambda *_args: self.refresh())
            events.database_changed.connect(self.refresh)
        self._minute = QTimer(self)   # waits grow with the clock, not only with changes
        self._minute.setInterval(ALERT_REFRESH_MS)
        self._minute.timeout.connect(self.refresh)
        self._minute.start()
        self.refresh()

    def _acting(self, name: str, work: Callable[[], object]) -> Callable[[], None]:
        return lambda: self.act(name, work)

    def _key(self, key: str, slot: Callable[[], None]) -> None:
        shortcut = QShortcut(QKeySequence(key), self, slot)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)

    # -- reading --------------------------------------------------------------------------

    def refresh(self) -> None:
        if not self.isVisible():
            self._stale = True   # read when shown: no queries for a hidden tab
            return
        if self._reading is not None and not self._reading.done:
            self._again = True   # one more read after this one: a burst is one read
            return
        queue = self._station.queue
        self._reading = Operation(
            self, lambda: (queue.status(), queue.categories(), queue.waiting_alerts()),
            lambda read: self._show(*read)).failure(self._failed).run()

    def _read_again(self) -> None:
        self._again = False
        self.refresh()

    @property
    def settled(self) -> bool:
        """Nothing in flight: what the panel shows was read after the last change."""
        return not self._busy and not self._again and (
            self._reading is None or self._reading.done)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self._stale = False
            self.refresh()

    def _show(self, status: QueueStatus, categories: list[Category],
              alerts: list[WaitingAlert]) -> None:
        if self._again:   # the queue moved while this was read: read once more
            QTimer.singleShot(0, self._read_again)
        self.status = status
        mine = status.current.get(self.window_number)
        known = self.window_number in status.current
        if not known:
            self.ticket.setText("本窗口未设置叫号")
            self._say(f"{self.window_number}号窗口不在叫号设置中：请管理员用 "
                      f"yichuang queue windows set {self.window_number} 配置办理的业务类别。",
                      error=True)
        elif mine is None and self.manual_number:
            self.ticket.setText(f"{self.manual_number}　手工叫号（F3 为此号收件）")
        elif mine is None:
            paused = "（本窗口已暂停，Ctrl+W 恢复）" if self.window_number in status.paused else ""
            self.ticket.setText(f"尚未叫号：按 F9 叫下一位{paused}")
        else:
            self.ticket.setText(ticket_line(mine))
        names = {c.prefix: c.name for c in categories}
        self.waiting.setText("等候人数：" + "　".join(
            f"{names.get(p, p)}（{p}）{n}人" for p, n in status.waiting.items()))
        self.alert.setText(f"⚠ 等候超过{WAIT_ALERT_MINUTES}分钟：" + "、".join(
            f"{a.number}（{a.minutes}分钟）" for a in alerts[:8]) + ("等" if len(alerts) > 8
                                                                  else ""))
        self.alert.setVisible(bool(alerts))
        self.suspended.clear()
        for t in status.suspended.get(self.window_number, []):
            self.suspended.addItem(ticket_line(t))
        self.changed.emit()

    @property
    def current(self) -> Ticket | None:
        return self.status.current.get(self.window_number) if self.status else None

    # -- acting ---------------------------------------------------------------------------

    def act(self, name: str, work: Callable[[], object]) -> None:
        if self._busy:
            return
        self._busy = True
        self._say(f"正在{name}…")
        Operation(self, work, lambda result: self._done(name, result)).failure(
            lambda exc: self._failed(exc, name)).run()

    def _done(self, name: str, result: object) -> None:
        self._busy = False
        self._trouble = ""
        if isinstance(result, Ticket) and result.status is TicketStatus.CALLED:
            self.manual_number = ""   # the queue works again: its ticket is in hand
        if name == "叫号" and result is None:
            self._say("没有等候的号。")
        elif isinstance(result, ManualCall):
            self.manual_number = result.number
            self._say(f"已记录手工叫号：{result.number}（{result.reason}）。F3 为此号收件。")
        elif isinstance(result, Ticket):
            where = f"，请到{self.window_number}号窗口" if result.status is TicketStatus.CALLED else ""
            self._say(f"{name}：{result.number}{where}")
        self.refresh()

    def _failed(self, exc: Exception, name: str = "") -> None:
        self._busy = False
        said = "；".join(problems_of(exc))
        if isinstance(exc, UserError) and not isinstance(exc, DatabaseError):
            self._say(said, error=True)   # a rule said no: the queue itself works
            return
        # Not a rule: the queue itself failed (its database, later the site server). The
        # clerk gets what to do; the technical cause stays on the tooltip for the admin.
        self._trouble = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        if name == "手工叫号":   # on this PC the manual record shares the failed database
            self._say(PAPER_HINT, error=True)
        else:
            self._say(f"排队系统暂时不可用，叫号无法进行。\n{MANUAL_HINT}", error=True)
        self.message.setToolTip(said)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.message.setToolTip("")
        self.message.setStyleSheet("color: #b00020;" if error else "")
        self.message.setText(text)

    def request_case(self) -> None:
        """F3: 收件 for the ticket in hand — the case will record its number."""
        ticket = self.current
        if ticket is None and self.manual_number:
            self.start_case.emit(self.manual_number)
            return
        if ticket is None:
            self._say("尚未叫号：先按 F9 叫号，再为该号收件。", error=True)
            return
        self.start_case.emit(ticket.number)

    def ask_manual_call(self) -> None:
        """Ctrl+M: the number just called aloud, recorded for the figures and the county."""
        self.prompt = TextPrompt("手工叫号", "口头叫到的号码（如 A012 或手写号 15）：",
                                 self.manual_call, self)
        self.prompt.open()

    def manual_call(self, number: str) -> None:
        calls, window, clerk = self._station.manual_calls, self.window_number, self._clerk
        reason = f"叫号失败：{self._trouble}"[:100] if self._trouble else ""
        self.window().activateWindow()   # back from the prompt: F3 is the next key
        self.setFocus(Qt.FocusReason.OtherFocusReason)
        self.act("手工叫号", lambda: calls.record(window, number, clerk, reason=reason))

    def ask_transfer(self) -> None:
        if self.current is None:
            self._say("没有正在办理的号可转移。", error=True)
            return
        self.prompt = TextPrompt("转移", "转到哪个业务类别（字母，如 B）或窗口（数字，如 3）？",
                                 self.transfer, self)
        self.prompt.open()

    def transfer(self, target: str) -> None:
        queue, window, clerk_id = self._station.queue, self.window_number, self._clerk.clerk_id
        to_window = target if not target.isalpha() else ""
        category = target if target.isalpha() else ""
        self.act("转移", lambda: queue.transfer(window, category=category, to_window=to_window,
                                             clerk_id=clerk_id))

    def ask_resume(self) -> None:
        self.prompt = TextPrompt("回呼", "回呼哪个号（如 A012）？", self.resume, self)
        self.prompt.open()

    def resume(self, number: str) -> None:
        queue, window, clerk_id = self._station.queue, self.window_number, self._clerk.clerk_id
        self.act("回呼", lambda: queue.resume(window, number, clerk_id=clerk_id))

    def toggle_pause(self) -> None:
        queue, window = self._station.queue, self.window_number
        paused = self.status is not None and window in self.status.paused
        if paused:
            self.act("恢复本窗口", lambda: queue.resume_window(window))
        else:
            self.act("暂停本窗口", lambda: queue.pause_window(window))
