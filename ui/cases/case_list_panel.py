"""办件查询: today's cases, waiting for pickup, in 补正, 电子监察 flags, and filters.

Keyboard: Alt+1 今日收件, Alt+2 待取件 (已办结), Alt+3 补正中 (待补正), Alt+4 电子监察
(黄牌/红牌 only, the most overdue first), Alt+5 全部. The filters — applicant (any part
of the name, or the whole ID number), item (name, pinyin, initials or code, as the
catalogue search finds it), status, opened date — narrow the chosen view as the clerk
types; ↓ from a text filter goes to the list, Enter on a row opens the case
(:attr:`CaseListPanel.case_chosen` carries its number), Esc or ↑ on the first row goes
back to the filters.

Every query runs as a background operation, a quarter second after the last change, and
again (debounced) when the core says a case or the database changed. A newer query
cancels the one still running, so a late answer never overwrites a newer one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from PySide6.QtCore import QDate, QModelIndex, QPersistentModelIndex, QRect, Qt, QTimer, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFocusEvent,
    QFont,
    QKeyEvent,
    QKeySequence,
    QPainter,
    QPen,
    QShortcut,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.case import CaseStatus
from app.services.case_list import (
    CaseSummary,
    Flag,
    ListFilters,
    ListView,
    items_matching,
    view_query,
)
from app.workstation import Workstation
from ui.events import ChangeEvents
from ui.ops import Operation
from ui.widgets.tables import keyboard_rows

COLUMNS = ("办件编号", "事项", "申请人", "收件时间", "状态", "承诺办结", "剩余工作日", "监察")
PAGE = 200            # rows shown; one more is asked for to know that there are more
FILTER_DELAY_MS = 250
REFRESH_DELAY_MS = 300   # a decision fires several case_changed at once: one re-read
FLAG_COLOURS = {Flag.YELLOW: QColor("#fff1b8"), Flag.RED: QColor("#ffd0d0")}
FLAG_TEXT = {Flag.YELLOW: QColor("#8a5a00"), Flag.RED: QColor("#b00020")}
CHOSEN_TINT, CHOSEN_FRAME = QColor("#dce8f8"), QColor("#1f5fbf")
HINT = ("Alt+1 今日收件　Alt+2 待取件　Alt+3 补正中　Alt+4 电子监察　Alt+5 全部　"
        "↓ 进入列表　Enter 打开办件　Esc 回到筛选　日期框 Delete 不限")
NumberRole = Qt.ItemDataRole.UserRole + 1
VIEWS = tuple(ListView)   # Alt+1…5, in this order


class _FilterLine(QLineEdit):
    """↓ leaves for the list (as in the catalogue search)."""

    def __init__(self, to_list: Callable[[], None]) -> None:
        super().__init__()
        self._to_list = to_list

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Down, Qt.Key.Key_PageDown):
            self._to_list()
            return
        super().keyPressEvent(event)


class OptionalDate(QDateEdit):
    """A date or 不限 (the minimum date, shown as its special text), typed as digits
    (20261128) or with separators (2026-11-28, 2026/1/5, 2026.1.5). Typing or ↑/↓ on
    不限 start from today; ↑/↓ then move a day whatever part is selected; Delete goes
    back to 不限."""

    def __init__(self, today: Callable[[], dt.date]) -> None:
        super().__init__()
        self._today = today
        self._fresh_section = True   # nothing typed in the current section yet
        self.setDisplayFormat("yyyy-MM-dd")
        self.setCalendarPopup(True)
        self.setMinimumDate(QDate(2000, 1, 1))
        self.setSpecialValueText("不限")
        self.clear_date()

    def clear_date(self) -> None:
        self.setDate(self.minimumDate())

    def value(self) -> dt.date | None:
        date = self.date()
        return None if date == self.minimumDate() else date.toPython()   # type: ignore[return-value]

    def _start_from_today(self) -> None:
        self.setDate(QDate(self._today()))
        self.setSelectedSection(QDateEdit.Section.YearSection)
        self._fresh_section = True

    def stepBy(self, steps: int) -> None:
        if self.value() is None:
            self._start_from_today()
            return
        section = self.currentSection()
        self.setDate(self.date().addDays(steps))   # the day, not the year under the cursor
        self.setSelectedSection(section)

    def focusInEvent(self, event: QFocusEvent) -> None:
        super().focusInEvent(event)
        self.setSelectedSection(QDateEdit.Section.YearSection)
        self._fresh_section = True

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Delete:
            self.clear_date()
            return
        text = event.text()
        if text and text in "/.":   # Qt knows the format's own separator only
            event = QKeyEvent(event.type(), Qt.Key.Key_Minus, event.modifiers(), "-")
            text = "-"
        if text.isdigit() and self.value() is None:
            self._start_from_today()   # typed over 不限, not appended to it
        if text == "-" and self._fresh_section:
            return   # the last section was complete and Qt moved on already
        before = self.currentSection()
        super().keyPressEvent(event)
        self._fresh_section = self.currentSection() != before


class _CaseTable(QTableWidget):
    """Enter opens the row's case; Esc, or ↑ on the first row, goes back to the filters."""

    def __init__(self, choose: Callable[[], None], back: Callable[[], None]) -> None:
        super().__init__()
        self._choose = choose
        self._back = back

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._choose()
            return
        if key == Qt.Key.Key_Escape or (key == Qt.Key.Key_Up and self.currentRow() <= 0):
            self._back()
            return
        super().keyPressEvent(event)


class _ChosenRowFrame(QStyledItemDelegate):
    """The chosen row is framed (and tinted when it has no colour of its own), not filled
    with the highlight: that would hide the yellow or red of the row the clerk is on."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        plain = QStyleOptionViewItem(option)
        plain.state &= ~QStyle.StateFlag.State_Selected
        rect: QRect = option.rect
        if selected and index.data(Qt.ItemDataRole.BackgroundRole) is None:
            painter.fillRect(rect, CHOSEN_TINT)
        super().paint(painter, plain, index)
        if selected:
            painter.save()
            painter.setPen(QPen(CHOSEN_FRAME, 2))
            painter.drawLine(rect.left(), rect.top() + 1, rect.right(), rect.top() + 1)
            painter.drawLine(rect.left(), rect.bottom(), rect.right(), rect.bottom())
            painter.restore()


class CaseListPanel(QWidget):
    case_chosen = Signal(str)   # the case number: Enter on a row
    listed = Signal()           # a query's rows (or its failure) are on screen

    def __init__(self, station: Workstation, events: ChangeEvents | None = None,
                 parent: QWidget | None = None,
                 today: Callable[[], dt.date] = dt.date.today) -> None:
        super().__init__(parent)
        self._station = station
        self._today = today
        self.view = ListView.TODAY
        self.rows: list[CaseSummary] = []
        self._finding: Operation[list[CaseSummary]] | None = None

        title = QLabel("办件查询")
        title.setObjectName("title")
        self.buttons = QButtonGroup(self)
        presets = QHBoxLayout()
        for n, view in enumerate(VIEWS):
            button = QPushButton(f"{view} (Alt+{n + 1})")
            button.setCheckable(True)
            # Not Tab stops: Alt+1…5 switch views, Tab walks the filters and the list.
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            self.buttons.addButton(button, n)
            presets.addWidget(button)
            shortcut = QShortcut(QKeySequence(f"Alt+{n + 1}"), self,
                                 lambda v=view: self.show_view(v))
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        presets.addStretch(1)
        self.buttons.idClicked.connect(lambda n: self.show_view(VIEWS[n]))

        self.applicant = _FilterLine(self.focus_table)
        self.applicant.setPlaceholderText("姓名（可输部分）或完整证件号码")
        self.item = _FilterLine(self.focus_table)
        self.item.setPlaceholderText("事项名称、拼音首字母或编码")
        self.status = QComboBox()
        self.status.addItem("全部状态", None)
        for status in CaseStatus:
            self.status.addItem(str(status), status)
        self.opened = OptionalDate(today)
        filters = QHBoxLayout()
        for label, field, stretch in (("申请人", self.applicant, 3), ("事项", self.item, 3),
                                      ("状态", self.status, 0), ("收件日期", self.opened, 0)):
            caption = QLabel(label)
            caption.setBuddy(field)
            filters.addWidget(caption)
            filters.addWidget(field, stretch)

        self.count = QLabel()
        self.table = _CaseTable(self.choose_current, self.focus_filter)
        keyboard_rows(self.table, COLUMNS, stretch=(1,))
        self.table.setWordWrap(False)   # one line a case: more of them on the screen
        self.table.setItemDelegate(_ChosenRowFrame(self.table))
        hint = QLabel(HINT)
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addLayout(presets)
        layout.addLayout(filters)
        layout.addWidget(self.count)
        layout.addWidget(self.table, 1)
        layout.addWidget(hint)
        self.setTabOrder(self.applicant, self.item)
        self.setTabOrder(self.item, self.status)
        self.setTabOrder(self.status, self.opened)
        self.setTabOrder(self.opened, self.table)

        self._filter_timer = self._debouncer(FILTER_DELAY_MS, self.refresh)
        # A hidden panel (another tab) re-reads only once it is shown again.
        self._stale = False
        self._refresh_timer = self._debouncer(REFRESH_DELAY_MS, self._changed)
        self.table.itemDoubleClicked.connect(lambda _cell: self.choose_current())
        self.applicant.textChanged.connect(self._filter_timer.start)
        self.item.textChanged.connect(self._filter_timer.start)
        self.status.currentIndexChanged.connect(self._filter_timer.start)
        self.opened.dateChanged.connect(self._filter_timer.start)
        # Enter in a text filter: no need to wait for the pause.
        self.applicant.returnPressed.connect(self.refresh)
        self.item.returnPressed.connect(self.refresh)
        if events is not None:
            events.case_changed.connect(self._refresh_timer.start)
            events.database_changed.connect(self._refresh_timer.start)
        self.show_view(self.view)

    def _debouncer(self, delay_ms: int, slot: Callable[[], None]) -> QTimer:
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setInterval(delay_ms)
        timer.timeout.connect(slot)
        return timer

    def _changed(self) -> None:
        if self.isVisible():
            self.refresh()
        else:
            self._stale = True

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()

    # -- what the main window calls ---------------------------------------------------------

    def focus_filter(self) -> None:
        self.applicant.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.applicant.selectAll()

    def show_view(self, view: ListView) -> None:
        self.view = view
        self.buttons.button(VIEWS.index(view)).setChecked(True)
        # 今日收件 is a date of its own; the field keeps its date for the other views.
        self.opened.setEnabled(view is not ListView.TODAY)
        self.refresh()

    def filters(self) -> ListFilters:
        return ListFilters(self.view, self.applicant.text().strip(), self.item.text().strip(),
                       self.status.currentData(), self.opened.value())

    def refresh(self) -> None:
        """Run the current view and filters now (in the background)."""
        self._filter_timer.stop()
        self._refresh_timer.stop()
        self._stale = False
        filters, today = self.filters(), self._today()
        station = self._station

        def find() -> list[CaseSummary]:
            codes = items_matching(station.catalogue, filters.item)
            query = view_query(filters, today=today, item_codes=codes, limit=PAGE + 1)
            return [] if query is None else station.case_list.find(query, today=today)

        if self._finding is not None:
            self._finding.cancel()   # its answer would be older than this one
        self.count.setText("正在查询…")
        self._finding = Operation(self, find, lambda rows: self._show(rows, filters)).failure(
            self._failed).run()

    # -- results ----------------------------------------------------------------------------

    def _show(self, rows: list[CaseSummary], filters: ListFilters) -> None:
        chosen = self.current_number()
        more = len(rows) > PAGE
        self.rows = rows[:PAGE]
        self.count.setStyleSheet("")
        self.count.setText(_count_text(len(self.rows), more, filters))
        self.table.setRowCount(len(self.rows))
        for r, case in enumerate(self.rows):
            for c, text in enumerate(_cells(case)):
                cell = QTableWidgetItem(text)
                cell.setData(NumberRole, case.number)
                if case.flag is not Flag.NONE:
                    cell.setBackground(QBrush(FLAG_COLOURS[case.flag]))
                    if c == len(COLUMNS) - 1:
                        cell.setForeground(QBrush(FLAG_TEXT[case.flag]))
                        font = QFont(cell.font())
                        font.setBold(True)
                        cell.setFont(font)
                self.table.setItem(r, c, cell)
        # The clerk's row stays chosen across a refresh (a case changed elsewhere).
        numbers = [case.number for case in self.rows]
        if self.rows:
            row = numbers.index(chosen) if chosen in numbers else 0
            self.table.setCurrentCell(row, 0)
        self.listed.emit()

    def _failed(self, exc: Exception) -> None:
        self.count.setStyleSheet("color: #b00020;")
        self.count.setText(f"查询失败：{exc}")
        self.listed.emit()

    def current_number(self) -> str | None:
        cell = self.table.item(self.table.currentRow(), 0)
        return cell.data(NumberRole) if cell is not None else None

    def focus_table(self) -> None:
        if self.table.rowCount() == 0:
            return
        if self.table.currentRow() < 0:
            self.table.setCurrentCell(0, 0)
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)

    def choose_current(self) -> None:
        number = self.current_number()
        if number:
            self.case_chosen.emit(number)


def _count_text(shown: int, more: bool, filters: ListFilters) -> str:
    label = filters.view
    if more:
        which = "最紧急" if filters.view is ListView.FLAGGED else "最新"
        return f"{label}：超过 {PAGE} 件，仅显示{which}的 {PAGE} 件，请加条件缩小范围"
    if shown == 0:
        return f"{label}：没有符合条件的办件"
    return f"{label}：共 {shown} 件"


def _cells(case: CaseSummary) -> tuple[str, ...]:
    opened = case.opened_at.replace(tzinfo=dt.UTC).astimezone()   # stored in UTC
    left = ""
    if case.workdays_left is not None:
        if case.flag is Flag.RED:
            left = f"超期 {-case.workdays_left}" if case.workdays_left < 0 else "已超期"
        else:
            left = str(case.workdays_left)
    return (case.number, case.item_name, case.applicant_name, f"{opened:%Y-%m-%d %H:%M}",
            str(case.status), str(case.promised_date or ""), left, str(case.flag))

