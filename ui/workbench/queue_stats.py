"""排队统计 on screen (Ctrl+Shift+Q): a day's figures per category, window and clerk, the
ratings, and who has waited half an hour.

The figures are :meth:`app.services.queue_stats.QueueStatistics.day`, read in the
background; the CLI's ``yichuang queue stats`` prints the same. Keys: Ctrl+D the date
(Enter reads it), F5 again, Esc closes. Today's figures follow the queue as it changes,
and are read again every minute, so the 30-minute alert appears without a key press.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QDialog,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.queue import TicketClass
from app.domain.queue_stats import (
    CategoryFigures,
    DayStatistics,
    DeskFigures,
    format_duration,
    format_share,
)
from app.workstation import Workstation
from ui.cases.case_list_panel import OptionalDate
from ui.events import ChangeEvents
from ui.ops import Operation
from ui.widgets.problems import problems_of
from ui.widgets.tables import keyboard_rows

CATEGORY_COLUMNS = ("业务类别", "取号", "普通/预约/优先", "已叫", "办结", "过号未到", "等候中",
                    "等候超时", "平均等候", "等候中位", "等候90%", "平均办理", "办理中位",
                    "办理90%")
DESK_COLUMNS = ("{what}", "叫号", "办结", "过号", "手工叫号", "平均办理", "办理中位", "办理90%",
                "评价", "满意率", "差评")
REFRESH_MS = 60_000   # the alert grows with the clock, not only with the queue's changes


def category_cells(c: CategoryFigures) -> list[str]:
    classes = "/".join(str(c.by_class.get(k, 0)) for k in TicketClass)
    return [f"{c.prefix} {c.name}" if c.prefix else c.name, str(c.issued), classes,
            str(c.called), str(c.finished), str(c.no_shows), str(c.waiting_now),
            str(c.waited_too_long), format_duration(c.waiting.mean),
            format_duration(c.waiting.median), format_duration(c.waiting.p90),
            format_duration(c.service.mean), format_duration(c.service.median),
            format_duration(c.service.p90)]


def desk_cells(d: DeskFigures) -> list[str]:
    r = d.ratings
    return [d.name, str(d.calls), str(d.finished), str(d.skipped), str(d.manual),
            format_duration(d.service.mean), format_duration(d.service.median),
            format_duration(d.service.p90), str(r.total), format_share(r.satisfied_share),
            str(r.dissatisfied)]


def summary_line(day: DayStatistics) -> str:
    h, r = day.hall, day.ratings
    follow = f"（待回访 {r.open_follow_ups}）" if r.open_follow_ups else ""
    manual = f"；手工叫号 {day.manual_calls}" if day.manual_calls else ""
    return (f"{day.day:%Y年%m月%d日} 排队统计（截至 {day.at.astimezone():%H:%M}）：取号 {h.issued}，"
            f"已叫 {h.called}，办结 {h.finished}，过号未到 {h.no_shows}，等候中 {h.waiting_now}；"
            f"平均等候 {format_duration(h.waiting.mean)}，平均办理 "
            f"{format_duration(h.service.mean)}；评价 {r.total}，满意率 "
            f"{format_share(r.satisfied_share)}，差评 {r.dissatisfied}{follow}{manual}")


def alert_line(day: DayStatistics) -> str:
    if not day.alerts:
        return ""
    return (f"⚠ 等候超过{day.limit_minutes}分钟：" + "、".join(
        f"{a.number}（{a.minutes}分钟）" for a in day.alerts[:12])
        + ("等" if len(day.alerts) > 12 else "") + "。请值班长安排分流或增开窗口。")


def _table(columns: Sequence[str], stretch: tuple[int, ...]) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    keyboard_rows(table, columns, stretch=stretch)
    # As tall as its rows (a hall has a handful of categories and windows), no taller.
    table.setSizeAdjustPolicy(QAbstractScrollArea.SizeAdjustPolicy.AdjustToContents)
    table.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)
    return table


def _fill(table: QTableWidget, rows: list[list[str]]) -> None:
    table.setRowCount(len(rows))
    for r, cells in enumerate(rows):
        for col, value in enumerate(cells):
            cell = QTableWidgetItem(value)
            if col:
                cell.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            table.setItem(r, col, cell)
    table.resizeRowsToContents()


class QueueStatsDialog(QDialog):
    loaded = Signal()   # the tables show a fresh read (or the heading says why not)

    def __init__(self, station: Workstation, parent: QWidget | None = None,
                 events: ChangeEvents | None = None,
                 today: Callable[[], dt.date] = dt.date.today) -> None:
        super().__init__(parent)
        self.setWindowTitle("排队统计")
        self.resize(1240, 720)
        self._station = station
        self._today = today
        self.day: dt.date | None = None      # None: today, following the clock
        self.figures: DayStatistics | None = None
        self._reading: Operation[DayStatistics] | None = None

        # The date typed as digits (20261128) or with separators; Delete goes back to today.
        self.date = OptionalDate(today)
        self.date.setSpecialValueText("今天")
        self.date.setMaximumWidth(160)
        self.date.editingFinished.connect(self.choose_day)
        date_label = QLabel("日期(&D)：")
        date_label.setBuddy(self.date)
        self.heading = QLabel("正在读取…")
        self.heading.setObjectName("title")
        self.heading.setWordWrap(True)
        self.alert = QLabel()
        self.alert.setWordWrap(True)
        self.alert.setStyleSheet("color: #b00020; font-weight: bold;")
        self.alert.hide()
        self.categories = _table(CATEGORY_COLUMNS, (0,))
        self.windows = _table([c.format(what="窗口") for c in DESK_COLUMNS], (0,))
        self.clerks = _table([c.format(what="工作人员") for c in DESK_COLUMNS], (0,))
        hint = QLabel("Ctrl+D 日期（Enter 查看，Delete 回到今天）　F5 刷新　Esc 关闭　"
                      "时长：平均 / 中位 / 90% 的人不超过")
        hint.setObjectName("hint")

        top = QHBoxLayout()
        top.addWidget(date_label)
        top.addWidget(self.date)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.heading)
        layout.addWidget(self.alert)
        for title, table in (("按业务类别", self.categories), ("按窗口", self.windows),
                             ("按工作人员", self.clerks)):
            layout.addWidget(QLabel(title))
            layout.addWidget(table)
        layout.addStretch(1)
        layout.addWidget(hint)
        QShortcut(QKeySequence("Ctrl+D"), self, self._focus_date)
        QShortcut(QKeySequence("F5"), self, self.refresh)
        if events is not None:
            events.queue_changed.connect(self._queue_changed)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        self.categories.setFocus(Qt.FocusReason.OtherFocusReason)
        self.refresh()

    def _focus_date(self) -> None:
        self.date.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def choose_day(self) -> None:
        chosen = self.date.value()
        day = None if chosen is None or chosen == self._today() else chosen
        if day != self.day or self.figures is None:
            self.day = day
            self.refresh()

    def _queue_changed(self, *_args: object) -> None:
        if self.isVisible() and self.day in (None, self._today()):
            self.refresh()

    def _tick(self) -> None:
        if self.isVisible() and self.day is None:
            self.refresh()

    def refresh(self) -> None:
        """Read the figures again in the background; a newer read supersedes."""
        if self._reading is not None:
            self._reading.cancel()
        stats, day = self._station.queue_stats, self.day
        self._reading = Operation(self, lambda: stats.day(day), self._show).failure(
            self._failed).run()

    def _show(self, figures: DayStatistics) -> None:
        self.figures = figures
        self.heading.setText(summary_line(figures))
        alert = alert_line(figures)
        self.alert.setText(alert)
        self.alert.setVisible(bool(alert))
        _fill(self.categories, [category_cells(c) for c in (figures.hall, *figures.categories)])
        _fill(self.windows, [desk_cells(w) for w in figures.windows])
        _fill(self.clerks, [desk_cells(c) for c in figures.clerks])
        self.loaded.emit()

    def _failed(self, exc: Exception) -> None:
        self.heading.setText("排队统计无法读取：" + "；".join(problems_of(exc)))
        self.loaded.emit()
