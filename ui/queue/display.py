"""The hall display (`yichuang display`): full screen on the hall's second monitor.

The current call very large, the last calls per window, people waiting per category, a
scrolling notice, the site's name and the time. It reads the queue only when something
changed: this process's own ``queue_changed``, or ``database_changed`` when another
process (a clerk's window, the kiosk, the CLI) committed — SQLite's ``data_version``,
one PRAGMA without table access, looked at every :data:`WATCH_INTERVAL_MS` so a call
shows well within the issue's one second. The reading itself runs as an Operation.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QDateTime, QLocale, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QColor,
    QFont,
    QGuiApplication,
    QKeySequence,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QScreen,
    QShortcut,
)
from PySide6.QtWidgets import QApplication, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ui import ops
from ui.events import ChangeEvents
from ui.ops import Operation
from ui.queue.display_parts import (
    Call,
    CallTracker,
    HallSettings,
    HallSnapshot,
    read_hall,
    waiting_lines,
    window_line,
)
from ui.queue.screen import show_full_screen
from ui.queue.voice import CallAnnouncer

if TYPE_CHECKING:
    from app.workstation import Workstation

# How often another process's commits are looked for (one PRAGMA on a worker): the
# window's 2 s is too slow for a call, which must show within 1 s.
WATCH_INTERVAL_MS = 250
TICKER_STEP_MS = 40
FRESH_MS = 8000                # a new call stands out this long
END_WAIT_MS = 30_000

YELLOW, WHITE, GREY, RED = "#ffd400", "#ffffff", "#9fb3d1", "#ff6b6b"
STYLE = f"""
QWidget#hall {{ background: #0a2350; }}
QWidget#hall QLabel {{ color: {WHITE}; }}
QLabel#panel, QWidget#panel {{ background: #10306a; border-radius: 12px; }}
QLabel#dim {{ color: {GREY}; }}
QLabel#error {{ color: {RED}; }}
"""


class NoticeTicker(QWidget):
    """One line of text moving right to left, over and over (painted, no labels)."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = text
        self._offset: float | None = None   # first shown from the left, readable at once
        self._step = 2.0
        self._timer = QTimer(self)
        self._timer.setInterval(TICKER_STEP_MS)
        self._timer.timeout.connect(self._advance)
        if text:
            self._timer.start()

    def set_pixel_size(self, px: int) -> None:
        font = QFont(self.font())
        font.setPixelSize(px)
        self.setFont(font)
        self.setFixedHeight(int(px * 1.8))
        self._step = max(1.0, px / 16)

    def _advance(self) -> None:
        width = self.fontMetrics().horizontalAdvance(self.text)
        offset = (self.width() if self._offset is None else self._offset) + self._step
        self._offset = 0.0 if offset > width + self.width() else offset
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#061a3d"))
        painter.setPen(QColor(YELLOW))
        x = self.width() - (self.width() if self._offset is None else self._offset)
        painter.drawText(QRectF(x, 0, self.fontMetrics().horizontalAdvance(self.text) + 4,
                                self.height()), Qt.AlignmentFlag.AlignVCenter, self.text)


def _label(text: str = "", name: str = "", align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignLeft
           ) -> QLabel:
    label = QLabel(text)
    if name:
        label.setObjectName(name)
    label.setAlignment(align | Qt.AlignmentFlag.AlignVCenter)
    return label


class HallDisplay(QWidget):
    """The calling screen of one hall. ``call_shown(number, window)`` is emitted once
    the headline shows a new call (tests time it)."""

    call_shown = Signal(str, str)
    refreshed = Signal()

    def __init__(self, station: Workstation, parent: QWidget | None = None, *,
                 settings: HallSettings | None = None,
                 announcer: CallAnnouncer | None = None) -> None:
        super().__init__(parent)
        self.station = station
        self.settings = settings or HallSettings.of(station.settings)
        self.setObjectName("hall")
        self.setWindowTitle(f"一窗通 叫号显示 — {station.settings.site_name}")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(STYLE)
        self.setCursor(Qt.CursorShape.BlankCursor)   # nobody points at a hall screen
        s = self.settings
        self.announcer = announcer or CallAnnouncer(
            self, engine=s.voice_engine, template=s.call_template, repeat=s.call_repeat)
        self.tracker = CallTracker()
        self.snapshot: HallSnapshot | None = None
        self._waiting_cells: dict[str, QLabel] = {}
        self._window_cells: dict[str, tuple[QLabel, QLabel, QLabel]] = {}
        self._reading: Operation[HallSnapshot] | None = None
        self._stale = False
        self._closed = False
        self._build()

        self.events = ChangeEvents.watching(station.db, station.settings.database_path, self,
                                            interval_ms=WATCH_INTERVAL_MS)
        self.events.queue_changed.connect(lambda *_: self.refresh())
        self.events.database_changed.connect(self.refresh)
        self._clock_timer = QTimer(self)
        self._clock_timer.setInterval(1000)
        self._clock_timer.timeout.connect(self._tick)
        self._clock_timer.start()
        self._fresh_timer = QTimer(self)
        self._fresh_timer.setSingleShot(True)
        self._fresh_timer.timeout.connect(lambda: self._set_fresh(False))
        QShortcut(QKeySequence("Ctrl+Q"), self, self.close)
        self._tick()
        self._rescale()
        self.refresh()

    # ---- layout ---------------------------------------------------------------------

    def _build(self) -> None:
        s = self.station.settings
        self.site_label = _label(s.site_name)
        self.title_label = _label("叫号信息", align=Qt.AlignmentFlag.AlignHCenter)
        self.clock_label = _label(align=Qt.AlignmentFlag.AlignRight)
        top = QHBoxLayout()
        top.addWidget(self.site_label, 3)
        top.addWidget(self.title_label, 2)
        top.addWidget(self.clock_label, 3)

        self.headline = _label("", "panel", Qt.AlignmentFlag.AlignHCenter)
        self.headline.setTextFormat(Qt.TextFormat.RichText)
        self.headline.setWordWrap(True)
        self.category_label = _label("", "dim", Qt.AlignmentFlag.AlignHCenter)
        self.waiting_title = _label("等候人数", "dim")
        waiting_panel = _panel()
        self.waiting_grid = QGridLayout()
        waiting_box = QVBoxLayout(waiting_panel)
        waiting_box.addWidget(self.waiting_title)
        waiting_box.addLayout(self.waiting_grid)
        left = QVBoxLayout()
        left.addWidget(self.headline, 5)
        left.addWidget(self.category_label)
        left.addSpacing(8)
        left.addWidget(waiting_panel, 2)

        self.windows_panel = _panel()
        self.windows_grid = QGridLayout()
        self.windows_grid.setColumnStretch(2, 1)
        self.windows_grid.setVerticalSpacing(12)
        windows_box = QVBoxLayout(self.windows_panel)
        windows_box.addLayout(self.windows_grid)
        windows_box.addStretch(1)   # few windows: rows at the top, not spread apart
        right = QVBoxLayout()
        right.addWidget(self.windows_panel)

        middle = QHBoxLayout()
        middle.addLayout(left, 3)
        middle.addSpacing(24)
        middle.addLayout(right, 2)

        self.ticker = NoticeTicker(self.settings.notice)
        self.ticker.setVisible(bool(self.settings.notice))   # [display] notice = "": none
        self.error_label = _label("", "error")
        self.error_label.hide()
        self.voice_label = _label(self.announcer.status, "dim", Qt.AlignmentFlag.AlignRight)
        self.announcer.settled.connect(lambda: self.voice_label.setText(self.announcer.status))
        root = QVBoxLayout(self)
        root.setContentsMargins(32, 20, 32, 12)
        root.addLayout(top)
        root.addSpacing(12)
        root.addLayout(middle, 1)
        root.addWidget(self.error_label)
        root.addWidget(self.ticker)
        root.addWidget(self.voice_label)
        self._show_headline(None)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _scale(self) -> float:
        # 1200, not 1080: the rows below the headline need their height at 1366×768 too.
        return max(0.4, min(self.width() / 1920, self.height() / 1200))

    def _px(self, base: int) -> int:
        return max(10, round(base * self._scale()))

    def _rescale(self) -> None:
        """Type sizes follow the screen: laid out for 1920×1080, readable at 1366×768."""
        for label, base in ((self.site_label, 40), (self.title_label, 44),
                            (self.clock_label, 36), (self.category_label, 44),
                            (self.waiting_title, 36), (self.error_label, 26),
                            (self.voice_label, 18)):
            font = QFont(label.font())
            font.setPixelSize(self._px(base))
            font.setBold(label in (self.site_label, self.title_label))
            label.setFont(font)
        self.ticker.set_pixel_size(self._px(36))
        if self.snapshot is not None:
            self._show_snapshot(self.snapshot)
        self._show_headline(self.tracker.latest)

    # ---- reading the queue ----------------------------------------------------------

    def refresh(self) -> None:
        """Read the hall again (in the background); a change that arrives meanwhile
        reads once more afterwards, so the last change is never missed."""
        if self._closed:
            return
        if self._reading is not None and not self._reading.done:
            self._stale = True
            return
        self._stale = False
        queue = self.station.queue
        self._reading = Operation(self, lambda: read_hall(queue), self._read).failure(
            self._failed).run()

    def _read(self, snapshot: HallSnapshot) -> None:
        self.error_label.hide()
        calls = self.tracker.update(snapshot)
        self.snapshot = snapshot
        self._show_snapshot(snapshot)
        if calls:
            self._show_headline(self.tracker.latest)
            self._set_fresh(True)
            self._fresh_timer.start(FRESH_MS)
            for call in calls:
                self.call_shown.emit(call.number, call.window)
            for call in calls:
                self.announcer.announce(call.number, call.window)
        self.refreshed.emit()
        if self._stale:
            self.refresh()

    def _failed(self, exc: Exception) -> None:
        # The last reading stays up; the next change tries again.
        self.error_label.setText(f"叫号数据暂时无法读取：{exc}")
        self.error_label.show()
        if self._stale:
            self.refresh()

    # ---- showing --------------------------------------------------------------------

    def _show_headline(self, call: Call | None) -> None:
        big, huge = self._px(96), self._px(150)
        if call is None:
            self.headline.setText(f'<div style="font-size:{big}px">欢迎光临</div>'
                                  f'<div style="font-size:{self._px(56)}px; color:{GREY}">'
                                  "请取号后留意叫号</div>")
            self.category_label.setText("")
            return
        self.headline.setText(
            f'<div style="font-size:{big}px">请 <span style="font-size:{huge}px; '
            f'color:{YELLOW}; font-weight:bold">{call.number}</span> 号</div>'
            f'<div style="font-size:{big}px">到 <span style="font-size:{huge}px; '
            f'color:{YELLOW}; font-weight:bold">{call.window}</span> 号窗口</div>')
        names = {c.prefix: c.name for c in self.snapshot.categories} if self.snapshot else {}
        self.category_label.setText(("重呼 · " if call.recall else "")
                                    + names.get(call.category, ""))

    def _set_fresh(self, fresh: bool) -> None:
        border = YELLOW if fresh else "#10306a"
        self.headline.setStyleSheet(f"QLabel#panel {{ border: {self._px(6)}px solid {border}; }}")

    def _show_snapshot(self, snapshot: HallSnapshot) -> None:
        """Fill the waiting counts and the windows table; their labels are made again
        only when the categories or windows themselves changed."""
        lines = waiting_lines(snapshot)
        if [p for p, _, _ in lines] != list(self._waiting_cells):
            _clear(self.waiting_grid)
            self._waiting_cells = {p: _label() for p, _, _ in lines}
            for i, cell in enumerate(self._waiting_cells.values()):
                self.waiting_grid.addWidget(cell, *divmod(i, 2))
        cell_px = self._px(36)
        for prefix, name, count in lines:
            cell = self._waiting_cells[prefix]
            cell.setText(f'<span style="color:{YELLOW}">{prefix}</span> {name}　'
                         f'等候 <b style="color:{YELLOW}">{count}</b> 人')
            cell.setStyleSheet(f"font-size:{cell_px}px")
        numbers = [w.number for w in snapshot.windows]
        if numbers != list(self._window_cells):
            _clear(self.windows_grid)
            for col, text in enumerate(("窗口", "当前", "最近叫号")):
                self.windows_grid.addWidget(_label(text, "dim"), 0, col)
            self._window_cells = {n: (_label(), _label(), _label()) for n in numbers}
            for row, labels in enumerate(self._window_cells.values(), start=1):
                for col, label in enumerate(labels):
                    self.windows_grid.addWidget(label, row, col)
        rows = len(numbers)
        size = self._px(48 if rows <= 6 else 36 if rows <= 10 else 26)
        for col in range(3):
            item = self.windows_grid.itemAtPosition(0, col)
            head = item.widget() if item is not None else None
            if head is not None:
                head.setStyleSheet(f"font-size:{self._px(28)}px")
        for window in snapshot.windows:
            number, state = window_line(snapshot, window)
            earlier = [c.number for c in self.tracker.recent(window.number)
                       if c.number != number][:2]
            texts = (f"{window.number}号",
                     f'<span style="color:{YELLOW}">{number}</span> '
                     f'<span style="font-size:{size * 2 // 3}px; color:{GREY}">{state}</span>'
                     if number else f'<span style="color:{GREY}">{state}</span>',
                     f'<span style="color:{GREY}">{"  ".join(earlier)}</span>')
            for label, text in zip(self._window_cells[window.number], texts, strict=True):
                label.setText(text)
                label.setStyleSheet(f"font-size:{size}px")

    def _tick(self) -> None:
        now = QDateTime.currentDateTime()
        chinese = QLocale(QLocale.Language.Chinese, QLocale.Country.China)
        self.clock_label.setText(chinese.toString(now, "yyyy年M月d日 dddd HH:mm:ss"))

    # ---- closing --------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        self._closed = True
        for timer in (self._clock_timer, self._fresh_timer):
            timer.stop()
        self.announcer.close()
        ops.wait_idle(END_WAIT_MS)   # a reading still under way uses the database
        self.events.stop()
        super().closeEvent(event)


def _panel() -> QWidget:
    panel = QWidget()
    panel.setObjectName("panel")
    panel.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
    return panel


def _clear(layout: QGridLayout) -> None:
    while (item := layout.takeAt(0)) is not None:
        widget = item.widget()
        if widget is not None:
            widget.hide()          # at once: deleteLater leaves it painted until then
            widget.deleteLater()


def _hall_screen() -> QScreen | None:
    """The second monitor where there is one (the clerk's is the primary)."""
    screens = QGuiApplication.screens()
    primary = QGuiApplication.primaryScreen()
    others = [s for s in screens if s is not primary]
    return others[-1] if others else primary


def run_display(directory: Path | None = None) -> int:
    """`yichuang display`: open the installation and show the hall display full screen
    until Ctrl+Q; the exit status (2 when the installation cannot be opened)."""
    from ui.app import cannot_open, open_for_window, start_application
    from ui.workbench.opening import WorkstationOpening

    app = start_application()
    opening = WorkstationOpening(lambda: open_for_window(directory))
    try:
        opening.wait()
        if opening.error is not None:
            return cannot_open(opening.error)
        assert opening.station is not None
        display = HallDisplay(opening.station)
        show_full_screen(display, _hall_screen())
        return app.exec() if isinstance(app, QApplication) else 0
    finally:
        ops.wait_idle(END_WAIT_MS)
        opening.close()
