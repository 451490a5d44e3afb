"""Tab walks every control of the catalogue pages and comes round, never stuck (issue 9).

A new clerk pressed Tab on an item page: focus entered the material table and cycled its
cells for ever, so the 办理情形 switches and the print button could not be reached.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QApplication, QCheckBox, QWidget
from pytestqt.qtbot import QtBot

from app.services.accounts import DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD
from app.workstation import Workstation
from ui.workbench.main_window import MainWindow

GETI_SHELI = "gtgshsldj"   # 个体工商户设立登记: three 办理情形
MOST_STOPS = 40            # far more than any page has: a walk this long is a trap


def _window(qtbot: QtBot, station: Workstation) -> MainWindow:
    session = station.accounts.login(DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD)
    window = MainWindow(station, session)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    # Focus events reach widgets of the active window only.
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    qtbot.waitUntil(lambda: window.catalogue_panel.index is not None)   # loaded off-thread
    return window


def _press(qtbot: QtBot, window: MainWindow, key: Qt.Key) -> QWidget:
    here = window.focusWidget()
    assert here is not None
    qtbot.keyClick(here, key)
    moved = window.focusWidget()
    assert moved is not None and moved is not here, f"Tab is stuck on {here!r}"
    return moved


def _walk(qtbot: QtBot, window: MainWindow, key: Qt.Key) -> list[QWidget]:
    """The stops of one round of ``key`` presses: from the first stop reached until
    focus is back on it (the page itself, focused on opening, is no stop)."""
    first = _press(qtbot, window, key)
    stops = [first]
    for _ in range(MOST_STOPS):
        moved = _press(qtbot, window, key)
        if moved is first:
            return stops
        stops.append(moved)
    raise AssertionError(f"Tab never came back to {first!r}: {[type(w).__name__ for w in stops]}")


def _open(qtbot: QtBot, window: MainWindow, query: str) -> None:
    panel = window.catalogue_panel
    qtbot.keyClicks(panel.search, query)
    with qtbot.waitSignal(panel.opened):   # the item is read off the GUI thread
        qtbot.keyClick(panel.search, Qt.Key.Key_Return)
    assert panel.stack.currentWidget() is panel.detail


def test_tab_walks_the_item_page_switches_table_and_print_button_and_comes_back(
        qtbot: QtBot, station: Workstation) -> None:
    window = _window(qtbot, station)
    _open(qtbot, window, GETI_SHELI)
    detail = window.catalogue_panel.detail
    checks = [c for c in detail.findChildren(QCheckBox) if c.isVisible()]
    assert len(checks) == 3
    assert detail.isAncestorOf(window.focusWidget()) or window.focusWidget() is detail
    stops = _walk(qtbot, window, Qt.Key.Key_Tab)
    # Every control of the page, each once, in reading order: switches, list, button;
    # nothing else of the window (the hidden search page, the tab bar) in between.
    assert stops == [*checks, detail.materials, detail.accept_button, detail.print_button]


def test_shift_tab_walks_the_item_page_backwards(qtbot: QtBot, station: Workstation) -> None:
    window = _window(qtbot, station)
    _open(qtbot, window, GETI_SHELI)
    detail = window.catalogue_panel.detail
    checks = [c for c in detail.findChildren(QCheckBox) if c.isVisible()]
    stops = _walk(qtbot, window, Qt.Key.Key_Backtab)
    assert stops == [detail.print_button, detail.accept_button, detail.materials,
                     *reversed(checks)]


def test_the_material_table_is_one_tab_stop_and_arrows_move_inside_it(
        qtbot: QtBot, station: Workstation) -> None:
    window = _window(qtbot, station)
    _open(qtbot, window, GETI_SHELI)
    table = window.catalogue_panel.detail.materials
    table.setFocus(Qt.FocusReason.TabFocusReason)
    table.setCurrentCell(0, 1)
    qtbot.keyClick(table, Qt.Key.Key_Down)
    assert table.currentRow() == 1 and window.focusWidget() is table
    qtbot.keyClick(table, Qt.Key.Key_Tab)
    assert window.focusWidget() is window.catalogue_panel.detail.accept_button


def test_a_scenario_switch_is_toggled_with_the_space_bar_after_tabbing_to_it(
        qtbot: QtBot, station: Workstation) -> None:
    window = _window(qtbot, station)
    _open(qtbot, window, GETI_SHELI)
    detail = window.catalogue_panel.detail
    rows = detail.materials.rowCount()
    for _ in range(MOST_STOPS):
        if isinstance(window.focusWidget(), QCheckBox):
            break
        qtbot.keyClick(window.focusWidget(), Qt.Key.Key_Tab)
    check = window.focusWidget()
    assert isinstance(check, QAbstractButton) and check.text() == "以家庭形式经营"
    qtbot.keyClick(check, Qt.Key.Key_Space)
    assert check.isChecked()
    assert detail.materials.rowCount() == rows + 2   # 家庭成员关系证明 and their IDs


def test_tab_on_a_bundle_page_walks_table_and_both_buttons(qtbot: QtBot,
                                                           station: Workstation) -> None:
    window = _window(qtbot, station)
    _open(qtbot, window, "kbcyd")   # 开办餐饮店: no switches; 收件 (F3) takes the bundle
    detail = window.catalogue_panel.detail
    assert _walk(qtbot, window, Qt.Key.Key_Tab) == [detail.materials, detail.accept_button,
                                                    detail.print_button]


def test_tab_from_the_search_box_reaches_the_results_and_comes_back(
        qtbot: QtBot, station: Workstation) -> None:
    window = _window(qtbot, station)
    panel = window.catalogue_panel
    assert window.focusWidget() is panel.search
    assert _walk(qtbot, window, Qt.Key.Key_Tab) == [panel.results, panel.search]


def test_tab_walks_a_second_item_page_without_the_first_ones_switches(
        qtbot: QtBot, station: Workstation) -> None:
    """Switches of an item left behind are deleted later; they must not linger in the
    chain (hidden) nor leave the new ones out of order."""
    window = _window(qtbot, station)
    _open(qtbot, window, GETI_SHELI)
    qtbot.keyClick(window.catalogue_panel, Qt.Key.Key_Escape)
    _open(qtbot, window, "yyzzysbl")   # 营业执照遗失补领: two switches of its own
    detail = window.catalogue_panel.detail
    checks = [c for c in detail.findChildren(QCheckBox) if c.isVisible()]
    assert [c.text() for c in checks] == ["营业执照毁损（非遗失）", "委托他人代为办理"]
    assert _walk(qtbot, window, Qt.Key.Key_Tab) == [*checks, detail.materials,
                                                    detail.accept_button, detail.print_button]


def test_tabbing_into_the_material_table_highlights_its_first_row(
        qtbot: QtBot, station: Workstation) -> None:
    window = _window(qtbot, station)
    _open(qtbot, window, "kbcyd")
    table = window.catalogue_panel.detail.materials
    table.clearSelection()
    assert _press(qtbot, window, Qt.Key.Key_Tab) is table
    assert [i.row() for i in table.selectionModel().selectedRows()] == [0]
