"""办件查询 at the window, keyboard only: the five views, the filters, Enter on a case, and
a case opened meanwhile appearing by itself.

Six cases are made through the services on a real workstation: accepted ones overdue
(红牌), due within the warning days (黄牌) and with time left, one in 补正, one 即办 and
waiting for pickup, one still being received. "Today" is the day they were opened (the
services stamp the real clock); the acceptance days are chosen on the working-day
calendar so that the flags come out as named. Screenshots go to /tmp/shots/.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QTableWidgetItem
from pytestqt.qtbot import QtBot

from app.domain.case import CaseState, Decision, MaterialStatus
from app.notifications import changes_of
from app.services.case_list import Flag
from app.workstation import Workstation
from tests.app.test_documents import FOOD, GETI, applicant, clerk, marked, received, resident_id
from tests.ui.keys import commit, here
from ui import ops
from ui.cases.case_list_panel import (
    COLUMNS,
    FLAG_COLOURS,
    PAGE,
    REFRESH_DELAY_MS,
    CaseListPanel,
)
from ui.events import ChangeEvents

SHOTS = Path("/tmp/shots")
OTHER_ID = resident_id("33010219900202003")   # 陈小明's; everyone else shares one


@dataclass
class Hall:
    """The cases made for the test, by what they are."""

    today: dt.date
    red: CaseState
    yellow: CaseState
    running: CaseState      # accepted today: three working days left, no flag
    correction: CaseState
    pickup: CaseState       # 即办: 已办结, waiting for the applicant
    receiving: CaseState


def _open(station: Workstation, code: str, name: str, id_number: str = "") -> CaseState:
    person = applicant(name)
    if id_number:
        person = replace(person, id_number=id_number)
    return station.cases.open_case(code, person, clerk(station))


def _decide(station: Workstation, case: CaseState, decision: Decision, day: dt.date,
            **overrides: object) -> CaseState:
    c = clerk(station)
    station.cases.record_materials(case.id, received(station, case.item_code, **overrides),  # type: ignore[arg-type]
                                   c, today=day)
    return station.cases.decide(case.id, decision, c, today=day)


def _make_hall(station: Workstation) -> Hall:
    opened = [_open(station, FOOD, name) for name in ("王小明", "李小红", "张伟", "赵敏", "王小芳")]
    opened.append(_open(station, GETI, "陈小明", OTHER_ID))
    today = opened[0].opened_at.replace(tzinfo=dt.UTC).astimezone().date()
    calendar = station.calendar.calendar()
    limit = station.catalogue.item(FOOD).promised_limit
    warning = station.settings.yellow_warning_days

    def due_within_warning(day: dt.date) -> bool:
        promised = calendar.promised_date(day, limit)
        return promised >= today and calendar.workdays_between(today, promised) <= warning

    yellow_day = next(today - dt.timedelta(days=back) for back in range(1, 15)
                      if due_within_warning(today - dt.timedelta(days=back)))
    red, yellow, running, correction, receiving, pickup = opened
    m5 = marked(station, FOOD, "m5", MaterialStatus.MISSING)
    return Hall(
        today=today,
        red=_decide(station, red, Decision.ACCEPT, today - dt.timedelta(days=14)),
        yellow=_decide(station, yellow, Decision.ACCEPT, yellow_day),
        running=_decide(station, running, Decision.ACCEPT, today),
        correction=_decide(station, correction, Decision.CORRECTION, today, m5=m5),
        pickup=_decide(station, pickup, Decision.ON_THE_SPOT, today),
        receiving=receiving)


class Clock:
    """The panel's today, moved by the test."""

    def __init__(self, day: dt.date) -> None:
        self.day = day

    def __call__(self) -> dt.date:
        return self.day


@pytest.fixture
def hall(station: Workstation) -> Hall:
    return _make_hall(station)


@pytest.fixture
def clock(hall: Hall) -> Clock:
    return Clock(hall.today)


@pytest.fixture
def panel(qtbot: QtBot, station: Workstation, hall: Hall, clock: Clock
          ) -> Iterator[CaseListPanel]:
    events = ChangeEvents(changes_of(station.db))   # after the hall: its events are past
    win = CaseListPanel(station, events, today=clock)
    qtbot.addWidget(win)
    win.resize(1280, 760)   # the tab's share of a 1280×800 window
    with qtbot.waitSignal(win.listed, timeout=10_000):   # the first query, 今日收件
        win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win)
    win.focus_filter()
    yield win
    ops.wait_idle(30_000)
    events.stop()


def _key(qtbot: QtBot, key: Qt.Key,
         modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(here(), key, modifier)


def _listing(qtbot: QtBot, panel: CaseListPanel, act: object) -> None:
    """Do ``act`` (a callable) and wait until the query it starts is on screen."""
    with qtbot.waitSignal(panel.listed, timeout=10_000):
        act()  # type: ignore[operator]


def _view(qtbot: QtBot, panel: CaseListPanel, digit: int) -> None:
    key = Qt.Key(Qt.Key.Key_0 + digit)
    _listing(qtbot, panel, lambda: _key(qtbot, key, Qt.KeyboardModifier.AltModifier))


def _typed(qtbot: QtBot, panel: CaseListPanel, text: str) -> None:
    """Replace the focused filter's text the way a clerk does: select all, type."""
    def act() -> None:
        _key(qtbot, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        _key(qtbot, Qt.Key.Key_Backspace)
        if text.isascii():
            qtbot.keyClicks(here(), text)
        else:
            commit(here(), text)
    _listing(qtbot, panel, act)


def _cell(panel: CaseListPanel, row: int, column: int) -> QTableWidgetItem:
    cell = panel.table.item(row, column)
    assert cell is not None
    return cell


def _numbers(panel: CaseListPanel) -> list[str]:
    return [_cell(panel, r, 0).text() for r in range(panel.table.rowCount())]


def _keys(qtbot: QtBot, key: Qt.Key, times: int) -> None:
    for _ in range(times):
        _key(qtbot, key)


def _shot(panel: CaseListPanel, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    assert panel.grab().save(str(SHOTS / f"{name}.png"))


def test_each_view_lists_exactly_its_cases_and_the_flags_in_words_and_colour(
        qtbot: QtBot, panel: CaseListPanel, hall: Hall, clock: Clock) -> None:
    everyone = {hall.red.number, hall.yellow.number, hall.running.number,
                hall.correction.number, hall.pickup.number, hall.receiving.number}
    assert set(_numbers(panel)) == everyone and panel.count.text() == "今日收件：共 6 件"

    _view(qtbot, panel, 2)
    assert _numbers(panel) == [hall.pickup.number]
    assert panel.count.text() == "待取件：共 1 件"
    assert _cell(panel, 0, COLUMNS.index("状态")).text() == "已办结"
    _view(qtbot, panel, 3)
    assert _numbers(panel) == [hall.correction.number]

    _view(qtbot, panel, 4)   # the most overdue first
    assert _numbers(panel) == [hall.red.number, hall.yellow.number]
    assert panel.count.text() == "电子监察：共 2 件"
    flag, left = COLUMNS.index("监察"), COLUMNS.index("剩余工作日")
    assert [_cell(panel, r, flag).text() for r in range(2)] == ["红牌", "黄牌"]
    assert _cell(panel, 0, left).text().startswith("超期")
    assert int(_cell(panel, 1, left).text()) <= 2
    # The whole row is coloured, beside the words.
    for column in range(len(COLUMNS)):
        assert _cell(panel, 0, column).background().color() == FLAG_COLOURS[Flag.RED]
        assert _cell(panel, 1, column).background().color() == FLAG_COLOURS[Flag.YELLOW]
    _shot(panel, "case_list_flagged")

    _view(qtbot, panel, 5)
    assert set(_numbers(panel)) == everyone and panel.count.text() == "全部：共 6 件"
    by_number = {_cell(panel, r, 0).text(): r for r in range(6)}
    running = by_number[hall.running.number]
    assert _cell(panel, running, left).text() == "3"     # accepted today, no flag
    assert _cell(panel, running, flag).text() == ""
    assert _cell(panel, running, 1).background().style() == Qt.BrushStyle.NoBrush
    _shot(panel, "case_list_all")

    clock.day = hall.today + dt.timedelta(days=1)   # the next morning: nothing opened yet
    _view(qtbot, panel, 1)
    assert _numbers(panel) == [] and panel.count.text() == "今日收件：没有符合条件的办件"
    _view(qtbot, panel, 5)
    assert len(_numbers(panel)) == 6


def test_filters_narrow_the_view_as_the_clerk_types(
        qtbot: QtBot, panel: CaseListPanel, hall: Hall) -> None:
    _view(qtbot, panel, 5)
    assert panel.applicant.hasFocus()
    _typed(qtbot, panel, "小明")      # any part of the name
    assert set(_numbers(panel)) == {hall.red.number, hall.pickup.number}
    _typed(qtbot, panel, OTHER_ID.lower())   # the whole ID number, as a reader types it
    assert _numbers(panel) == [hall.pickup.number]
    _typed(qtbot, panel, "")
    assert len(_numbers(panel)) == 6

    _key(qtbot, Qt.Key.Key_Tab)
    assert panel.item.hasFocus()
    _typed(qtbot, panel, "gtgs")   # 个体工商户… by its initials, as the catalogue finds it
    assert _numbers(panel) == [hall.pickup.number]
    _typed(qtbot, panel, "食品经营")
    assert set(_numbers(panel)) == {hall.red.number, hall.yellow.number, hall.running.number,
                                    hall.correction.number, hall.receiving.number}
    _shot(panel, "case_list_item_filter")
    _typed(qtbot, panel, "")

    _key(qtbot, Qt.Key.Key_Tab)
    assert panel.status.hasFocus()
    _listing(qtbot, panel, lambda: _keys(qtbot, Qt.Key.Key_Down, 3))
    assert panel.status.currentText() == "已受理"
    assert set(_numbers(panel)) == {hall.red.number, hall.yellow.number, hall.running.number}
    _view(qtbot, panel, 2)   # 待取件 holds no 已受理 case
    assert _numbers(panel) == [] and panel.count.text() == "待取件：没有符合条件的办件"
    _listing(qtbot, panel, lambda: _keys(qtbot, Qt.Key.Key_Up, 3))
    assert panel.status.currentText() == "全部状态" and len(_numbers(panel)) == 1

    _view(qtbot, panel, 5)
    _key(qtbot, Qt.Key.Key_Tab)
    assert panel.opened.hasFocus() and panel.opened.text() == "不限"
    _listing(qtbot, panel, lambda: _key(qtbot, Qt.Key.Key_Up))   # 不限 → today
    assert panel.opened.value() == hall.today and len(_numbers(panel)) == 6
    yesterday = hall.today - dt.timedelta(days=1)
    _listing(qtbot, panel, lambda: qtbot.keyClicks(panel.opened, f"{yesterday:%Y-%m-%d}"))
    assert panel.opened.value() == yesterday
    assert _numbers(panel) == [] and panel.count.text() == "全部：没有符合条件的办件"
    _listing(qtbot, panel, lambda: _key(qtbot, Qt.Key.Key_Delete))
    assert panel.opened.text() == "不限" and len(_numbers(panel)) == 6


def test_enter_on_a_row_emits_its_case_number_and_esc_goes_back_to_the_filter(
        qtbot: QtBot, panel: CaseListPanel, hall: Hall) -> None:
    _view(qtbot, panel, 5)   # newest first: 陈小明 (opened last), then 王小芳
    _key(qtbot, Qt.Key.Key_Down)
    assert panel.table.hasFocus() and panel.table.currentRow() == 0
    _key(qtbot, Qt.Key.Key_Down)
    with qtbot.waitSignal(panel.case_chosen) as chosen:
        _key(qtbot, Qt.Key.Key_Return)
    assert chosen.args == [hall.receiving.number]
    _key(qtbot, Qt.Key.Key_Escape)
    assert panel.applicant.hasFocus()


def test_a_case_opened_elsewhere_appears_by_itself_and_the_chosen_row_stays(
        qtbot: QtBot, panel: CaseListPanel, station: Workstation, hall: Hall) -> None:
    _view(qtbot, panel, 5)
    _key(qtbot, Qt.Key.Key_Down)
    _key(qtbot, Qt.Key.Key_Down)
    assert panel.current_number() == hall.receiving.number
    with qtbot.waitSignal(panel.listed, timeout=10_000):
        new = _open(station, FOOD, "孙丽")   # the core's case_changed, nothing else
    assert _numbers(panel)[0] == new.number and panel.count.text() == "全部：共 7 件"
    assert panel.current_number() == hall.receiving.number


def test_more_cases_than_a_page_says_that_only_the_newest_are_shown(
        qtbot: QtBot, panel: CaseListPanel, station: Workstation) -> None:
    for n in range(PAGE + 1 - 6):
        station.cases.open_case(FOOD, applicant(f"申请人{n}"), clerk(station))
    _view(qtbot, panel, 5)   # the events of those cases may refresh it meanwhile
    qtbot.waitUntil(lambda: panel.table.rowCount() == PAGE, timeout=10_000)
    assert panel.count.text() == f"全部：超过 {PAGE} 件，仅显示最新的 {PAGE} 件，请加条件缩小范围"


def test_a_hidden_panel_reads_the_changes_once_it_is_shown_again(
        qtbot: QtBot, panel: CaseListPanel, station: Workstation) -> None:
    _view(qtbot, panel, 5)
    panel.hide()   # another tab is in front
    with qtbot.assertNotEmitted(panel.listed, wait=3 * REFRESH_DELAY_MS):
        new = _open(station, FOOD, "孙丽")
    with qtbot.waitSignal(panel.listed, timeout=10_000):
        panel.show()
    assert _numbers(panel)[0] == new.number
