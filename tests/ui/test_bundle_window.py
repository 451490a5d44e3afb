"""一件事 at the window, keyboard only: the bundle found in the catalogue, F3, one applicant,
the merged checklist marked once, F9, and one notice per item printed in turn. Checked
afterwards: a case per item under one parent, each item's materials under its own ids,
the log replayed, and the printed PDFs' text.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel
from pytestqt.qtbot import QtBot

from app.domain.case import CaseStatus, Decision, MaterialStatus
from tests.app.test_credit import credit_file, entry
from tests.app.test_documents import received
from tests.support import PaperTray
from tests.ui.keys import commit
from tests.ui.previews import preview_shown, sheet_text
from tests.ui.test_acceptance_workbench import (
    GOOD_ID,
    Keyboard,
    _shot,
    _type_applicant,
)
from tests.ui.test_acceptance_workbench import window as window
from ui.workbench.bundle_acceptance import BundlePanel
from ui.workbench.main_window import MainWindow

CANYIN = "YJS330100-0001"   # 开办餐饮店: 个体工商户设立登记 (即办), 食品经营许可, 烟草零售许可


def _choose_bundle(qtbot: QtBot, win: MainWindow) -> None:
    panel = win.catalogue_panel
    commit(panel.search, "开办餐饮店")
    with qtbot.waitSignal(panel.opened):
        qtbot.keyClick(panel.search, Qt.Key.Key_Return)
    assert "开办餐饮店" in panel.detail.title.text()


def _open_bundle(qtbot: QtBot, keys: Keyboard, win: MainWindow) -> BundlePanel:
    _choose_bundle(qtbot, win)
    panel = _type_applicant(qtbot, keys, win, GOOD_ID)
    assert isinstance(panel, BundlePanel)
    with qtbot.waitSignal(panel.case_opened):
        keys.press(Qt.Key.Key_Return)
    assert len(panel.bundle_cases) == 3 and panel.checklist_shown
    # No list imported in this install: the clerk is told nothing could be checked.
    qtbot.waitUntil(panel.credit_label.isVisible)
    assert "尚未导入失信名单" in panel.credit_label.text()
    return panel


def test_a_bundle_is_received_once_and_every_item_accepted_and_printed(
        qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    tray = PaperTray(window.station)
    keys = Keyboard(qtbot)
    panel = _open_bundle(qtbot, keys, window)
    ws = window.station
    bundle = ws.catalogue.bundle(CANYIN)
    items = ws.catalogue.bundle_items(bundle)
    merged = bundle.merged_materials(items)
    assert len(panel.table.checklist) == len(merged)
    assert len(merged) < sum(len(i.checklist()) for i in items.values())   # shared once
    keys.press(Qt.Key.Key_F4)
    assert panel.bar.open[Decision.ACCEPT], panel.bar.first_problem
    _shot(window, "10-bundle-checklist")
    keys.press(Qt.Key.Key_F9)
    qtbot.waitUntil(lambda: panel.confirm is not None
                    and QApplication.activeWindow() is panel.confirm)
    assert panel.confirm is not None
    body = "\n".join(label.text() for label in panel.confirm.findChildren(QLabel))
    geti_number = next(c.number for c in panel.bundle_cases
                       if c.item_code == "11330100MB0000001X4000116001000")
    assert f"个体工商户设立登记（{geti_number}）：即办" in body
    _shot(panel.confirm, "11-bundle-confirm")
    with qtbot.waitSignal(panel.decided, timeout=20000):
        keys.press(Qt.Key.Key_Return)
    titles = []
    for n in range(3):                           # each notice in turn: Enter prints, Esc next
        preview = preview_shown(qtbot, panel)
        assert preview.document is not None
        titles.append(preview.document.title)
        with qtbot.waitSignal(preview.printed, timeout=20000):
            keys.press(Qt.Key.Key_Return)
        keys.press(Qt.Key.Key_Escape)
        if n < 2:
            qtbot.waitUntil(lambda p=preview: panel.preview is not p)   # type: ignore[misc]
    assert titles == ["受理通知书"] * 3

    stored = [ws.cases.get(c.id) for c in panel.bundle_cases]
    assert {c.item_code for c in stored} == set(bundle.item_codes)
    parent = stored[0].id
    assert all(c.bundle_code == CANYIN for c in stored)
    assert all(c.parent_id == parent for c in stored[1:])
    by_item = {c.item_code: c for c in stored}
    geti = by_item["11330100MB0000001X4000116001000"]
    assert geti.status is CaseStatus.COMPLETED      # 即办件: done on the spot
    assert all(c.status is CaseStatus.ACCEPTED for c in stored if c is not geti)
    for c in stored:   # every item's own materials, under its own ids, all in
        own = {m.id for m in items[c.item_code].checklist()}
        assert {m.material_id for m in c.materials} == own
    assert ws.integrity.verify().ok
    texts = [sheet_text(sheet, tmp_path) for sheet in tray.sheets]
    assert len(texts) == 3
    for c in stored:
        assert sum(c.number in t for t in texts) == 1


def test_a_material_one_item_lacks_sends_that_item_to_correction_only(
        qtbot: QtBot, window: MainWindow) -> None:
    keys = Keyboard(qtbot)
    panel = _open_bundle(qtbot, keys, window)
    ws = window.station
    bundle = ws.catalogue.bundle(CANYIN)
    items = ws.catalogue.bundle_items(bundle)
    merged = bundle.merged_materials(items)
    only_food = next(n for n, bm in enumerate(merged)
                     if bm.item_codes == ("11330100MB0000001X4000215001000",)
                     and not bm.material.deferrable)
    panel.table.selectRow(only_food)
    keys.type("2")                                # 缺失
    keys.press(Qt.Key.Key_F4)
    assert not panel.bar.open[Decision.ACCEPT] and panel.bar.open[Decision.CORRECTION]
    keys.press(Qt.Key.Key_F10)
    qtbot.waitUntil(lambda: panel.confirm is not None
                    and QApplication.activeWindow() is panel.confirm)
    with qtbot.waitSignal(panel.decided, timeout=20000):
        keys.press(Qt.Key.Key_Return)
    preview = preview_shown(qtbot, panel)      # one notice: the item that lacks a paper
    assert preview.document is not None and "补正" in preview.document.title
    keys.press(Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not preview.isVisible())
    assert panel.preview is preview            # no second notice followed
    stored = {c.item_code: ws.cases.get(c.id) for c in panel.bundle_cases}
    food = stored.pop("11330100MB0000001X4000215001000")
    assert food.status is CaseStatus.CORRECTION
    assert {m.material_id: m.status for m in food.materials}[
        merged[only_food].material.id] is MaterialStatus.MISSING
    # The others keep their materials, undecided, to be accepted when the paper comes.
    assert all(c.status is CaseStatus.RECEIVING and c.materials for c in stored.values())
    assert ws.integrity.verify().ok


def test_a_listing_imported_after_opening_refuses_f12_before_anything_is_decided(
        qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    keys = Keyboard(qtbot)
    panel = _open_bundle(qtbot, keys, window)
    ws = window.station
    row = next(n for n, m in enumerate(panel.table.checklist) if m.deferrable)
    panel.table.selectRow(row)
    keys.type("4")
    prompt = panel.table.prompt
    assert prompt is not None
    qtbot.waitUntil(lambda: QApplication.activeWindow() is prompt)
    keys.press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is panel.table)
    keys.press(Qt.Key.Key_F4)
    assert panel.bar.open[Decision.ACCEPT_DEFERRED]
    # Meanwhile an administrator imports a list naming the applicant.
    ws.credit.import_file(credit_file(tmp_path, [entry(GOOD_ID, "王小明")]),
                          ws.clerk(window.session))
    keys.press(Qt.Key.Key_F12)
    qtbot.waitUntil(lambda: panel.confirm is not None
                    and QApplication.activeWindow() is panel.confirm)
    keys.press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "失信名单" in panel.message.text(), timeout=20000)
    assert all(ws.cases.get(c.id).decision is None for c in panel.bundle_cases)
    assert panel.preview is None


def test_an_item_decided_elsewhere_meanwhile_is_left_as_it_is_and_the_rest_decided(
        qtbot: QtBot, window: MainWindow) -> None:
    keys = Keyboard(qtbot)
    panel = _open_bundle(qtbot, keys, window)
    ws = window.station
    keys.press(Qt.Key.Key_F4)
    first = panel.bundle_cases[0]                  # another window decides it first
    c = ws.clerk(window.session)
    ws.cases.record_materials(first.id, received(ws, first.item_code), c)
    ws.cases.decide(first.id, Decision.ON_THE_SPOT, c)
    keys.press(Qt.Key.Key_F9)
    qtbot.waitUntil(lambda: panel.confirm is not None
                    and QApplication.activeWindow() is panel.confirm)
    with qtbot.waitSignal(panel.decided, timeout=20000):
        keys.press(Qt.Key.Key_Return)
    stored = [ws.cases.get(c.id) for c in panel.bundle_cases]
    assert all(c.decision is not None for c in stored)
    assert ws.integrity.verify().ok
    preview_shown(qtbot, panel)
    assert len(panel._notices) == 2                # the other two notices follow in turn
