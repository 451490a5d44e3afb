"""Scanning at a 一件事's window, by keyboard: a row of the merged checklist files its
pages into every case whose item asks for that material, under that case's own material
id, with the same hashes (the blob stored once); turn, reorder, delete, retake and move
are made on every such case; the warning and the counts go by the merged rows. Each
case's PDF is read back. Then the rule for lists that drifted apart, on plain states.

The bundle is the demo catalogue's 开办餐饮店: 个体工商户设立登记, 食品经营许可（新办）
and 烟草专卖零售许可证新办. Merged row 5 营业执照 is asked by the food (its m2) and the
tobacco (m3) items; row 4 食品经营许可申请书 by the food item alone (m1); row 2 经营者身份证件
by all three (m2, m3, m2). The device is the fake scanner, through the registry ("fake").
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace

import pikepdf
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.domain.case import CaseState
from app.domain.case_pages import PageRef, pages_of
from app.services.accounts import DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD
from app.workstation import Workstation
from tests.app.test_cases import APPLICANT
from tests.ui.keys import here
from tests.ui.test_acceptance_workbench import Keyboard
from tests.ui.test_acceptance_workbench import window as window
from tests.ui.test_bundle_window import CANYIN, _open_bundle
from tests.ui.test_scan_panel import CTRL, SHIFT, _edit, _press, _scan, _shot
from ui import ops
from ui.capture.page_targets import Filing, bundle_targets
from ui.capture.scan_panel import ScanPanel
from ui.workbench.bundle_acceptance import BundlePanel
from ui.workbench.main_window import MainWindow

GETI = "11330100MB0000001X4000116001000"     # 个体工商户设立登记
FOOD = "11330100MB0000001X4000215001000"     # 食品经营许可（新办）
TOBACCO = "11330100MB0000023K4000031001000"  # 烟草专卖零售许可证新办
LICENCE, FOOD_FORM, ID_CARD = 4, 3, 1        # merged rows 5, 4 and 2, as table rows


def _ready(qtbot: QtBot, window: MainWindow) -> tuple[BundlePanel, ScanPanel, dict[str, str]]:
    """The bundle opened by keyboard, the fake scanner chosen; the case ids by item."""
    panel = _open_bundle(qtbot, Keyboard(qtbot), window)
    scan = panel.scan_panel
    qtbot.waitUntil(lambda: scan.source.findData("fake") >= 0, timeout=30000)
    scan.source.setCurrentIndex(scan.source.findData("fake"))
    assert here() is panel.table
    return panel, scan, {c.item_code: c.id for c in panel.bundle_cases}


def _to_row(qtbot: QtBot, panel: BundlePanel, row: int) -> None:
    """↑↓ on the checklist to ``row``."""
    panel.table.setFocus()
    while panel.table.currentRow() != row:
        _press(qtbot, Qt.Key.Key_Down if panel.table.currentRow() < row else Qt.Key.Key_Up)
    assert panel.scan_panel.material_id == str(row + 1)


def _pick(qtbot: QtBot, scan: ScanPanel, downs: int) -> None:
    """In the material picker: ↓ ``downs`` times, Enter; the move shown back."""
    assert scan.picker is not None
    for _ in range(downs):
        qtbot.keyClick(scan.picker.list, Qt.Key.Key_Down)
    with qtbot.waitSignal(scan.case_changed, timeout=20000):
        qtbot.keyClick(scan.picker.list, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not scan.editing)


def _pages(ws: Workstation, case_id: str, material_id: str) -> list[tuple[str, int]]:
    return [(p.sha256, p.turns) for p in pages_of(ws.scans.pages(case_id), material_id)]


def _all_pages(ws: Workstation, case_id: str) -> dict[str, list[tuple[str, int]]]:
    return {mid: [(p.sha256, p.turns) for p in ps] for mid, ps in ws.scans.pages(case_id)}


def test_a_shared_material_lands_on_both_cases_with_the_same_hashes_a_single_items_only_there(
        qtbot: QtBot, window: MainWindow) -> None:
    ws = window.station
    panel, scan, case_of = _ready(qtbot, window)
    _to_row(qtbot, panel, LICENCE)
    assert scan.heading.text() == "营业执照　尚未扫描\n存入：食品经营许可（新办）、烟草专卖零售许可证新办"
    _scan(qtbot, scan)                                     # Ctrl+S on 营业执照
    assert "已扫描 1 页" in scan.status.text() and "存入 2 个办件" in scan.status.text()
    food = _pages(ws, case_of[FOOD], "m2")
    assert len(food) == 1
    assert _pages(ws, case_of[TOBACCO], "m3") == food      # the same page, by hash
    assert _all_pages(ws, case_of[GETI]) == {}             # 个体工商户 does not ask for it
    [sha] = [s for s, _ in food]
    assert ws.scans.page_jpeg(sha)                         # stored, under its hash

    _to_row(qtbot, panel, FOOD_FORM)                       # only the food item asks
    assert scan.heading.text().endswith("\n存入：食品经营许可（新办）")
    _scan(qtbot, scan)
    assert "存入" not in scan.status.text()
    assert len(_pages(ws, case_of[FOOD], "m1")) == 1
    assert _all_pages(ws, case_of[TOBACCO]) == {"m3": food}
    assert _all_pages(ws, case_of[GETI]) == {}

    # The counts by merged row, from the pages shown; the window holds each case's
    # newest version (the decision goes against it).
    assert "4：1页" in scan.counts.text() and "5：1页" in scan.counts.text()
    assert "2：—" in scan.counts.text()
    assert {c.id: c.version for c in panel.bundle_cases} == {
        i: ws.cases.get(i).version for i in case_of.values()}
    assert panel.case is not None and panel.case.version == ws.cases.get(panel.case.id).version
    _to_row(qtbot, panel, LICENCE)                         # the shared row, to look at
    qtbot.waitUntil(lambda: not scan.thumbnails.item(0).icon().isNull(), timeout=20000)
    _shot(window, "bundle-scans-1280x800")


def test_turn_reorder_retake_and_delete_are_made_on_every_case_that_holds_the_page(
        qtbot: QtBot, window: MainWindow) -> None:
    ws = window.station
    panel, scan, case_of = _ready(qtbot, window)
    food, tobacco = case_of[FOOD], case_of[TOBACCO]
    _to_row(qtbot, panel, LICENCE)
    _scan(qtbot, scan)
    _scan(qtbot, scan)
    [(a, _), (b, _)] = _pages(ws, food, "m2")
    assert _pages(ws, tobacco, "m3") == [(a, 0), (b, 0)]

    _press(qtbot, Qt.Key.Key_Tab)                          # to the thumbnails
    assert here() is scan.thumbnails and scan.thumbnails.currentRow() == 0
    _edit(qtbot, scan, Qt.Key.Key_Right, CTRL)             # page 1 after page 2
    assert _pages(ws, food, "m2") == _pages(ws, tobacco, "m3") == [(b, 0), (a, 0)]
    _edit(qtbot, scan, Qt.Key.Key_R)                       # the selected page (a) turned
    assert _pages(ws, food, "m2") == _pages(ws, tobacco, "m3") == [(b, 0), (a, 1)]

    _press(qtbot, Qt.Key.Key_Left)
    _scan(qtbot, scan, CTRL | SHIFT)                       # retake page 1 (b)
    assert "已重扫" in scan.status.text()
    [(c, _), after_a] = _pages(ws, food, "m2")
    assert c not in (a, b) and after_a == (a, 1)
    assert _pages(ws, tobacco, "m3") == [(c, 0), (a, 1)]

    assert here() is scan.thumbnails and scan.thumbnails.currentRow() == 0
    _edit(qtbot, scan, Qt.Key.Key_Delete)                  # c goes from both
    assert _pages(ws, food, "m2") == _pages(ws, tobacco, "m3") == [(a, 1)]
    assert _all_pages(ws, case_of[GETI]) == {}
    assert ws.integrity.verify().ok


def test_a_page_moved_to_another_row_follows_each_cases_own_materials_and_the_pdfs_say_so(
        qtbot: QtBot, window: MainWindow) -> None:
    ws = window.station
    panel, scan, case_of = _ready(qtbot, window)
    geti, food, tobacco = case_of[GETI], case_of[FOOD], case_of[TOBACCO]
    _to_row(qtbot, panel, LICENCE)
    _scan(qtbot, scan)
    _scan(qtbot, scan)
    [(a, _), (b, _)] = _pages(ws, food, "m2")

    # 营业执照 page 2 → 食品经营许可申请书: the food case moves it (m2 → m1); the tobacco
    # case has no such material and loses it; 个体工商户 is untouched.
    _press(qtbot, Qt.Key.Key_Tab)
    _press(qtbot, Qt.Key.Key_Right)
    _press(qtbot, Qt.Key.Key_M)
    qtbot.waitUntil(lambda: scan.picker is not None and scan.picker.isVisible())
    assert scan.picker is not None
    assert scan.picker.list.item(3).text() == "4　食品经营许可申请书"
    _pick(qtbot, scan, 3)
    qtbot.waitUntil(lambda: not scan.editing)
    assert _all_pages(ws, food) == {"m2": [(a, 0)], "m1": [(b, 0)]}
    assert _all_pages(ws, tobacco) == {"m3": [(a, 0)]}
    assert _all_pages(ws, geti) == {}

    # 食品经营许可申请书's page → 经营者身份证件, which all three ask for: the food case
    # moves it (m1 → m3), the two others get it (their m2) — the blob is there already.
    _to_row(qtbot, panel, FOOD_FORM)
    _press(qtbot, Qt.Key.Key_Tab)
    _press(qtbot, Qt.Key.Key_M)
    qtbot.waitUntil(lambda: scan.picker is not None and scan.picker.isVisible())
    assert scan.picker is not None
    assert scan.picker.list.item(1).text() == "2　经营者身份证件"
    _pick(qtbot, scan, 1)
    qtbot.waitUntil(lambda: not scan.editing)
    assert _all_pages(ws, food) == {"m2": [(a, 0)], "m3": [(b, 0)]}
    assert _all_pages(ws, tobacco) == {"m3": [(a, 0)], "m2": [(b, 0)]}
    assert _all_pages(ws, geti) == {"m2": [(b, 0)]}
    _to_row(qtbot, panel, ID_CARD)
    assert scan.thumbnails.count() == 1
    assert scan.heading.text().endswith(
        "存入：个体工商户设立登记、食品经营许可（新办）、烟草专卖零售许可证新办")

    # Each case's PDF: its own materials, in its checklist's order, the same JPEGs.
    expected = {geti: [("经营者身份证件", b)],
                food: [("营业执照", a), ("经营者身份证件", b)],
                tobacco: [("经营者身份证件", b), ("营业执照", a)]}
    for case_id, want in expected.items():
        with pikepdf.open(io.BytesIO(ws.scans.case_pdf(case_id))) as pdf:
            with pdf.open_outline() as outline:
                marks = [(item.title, pdf.pages.index(item.destination[0]))  # type: ignore[index]
                         for item in outline.root]
            assert marks == [(f"{name}（1页）", n) for n, (name, _) in enumerate(want)]
            shas = []
            for page in pdf.pages:
                [image] = page.Resources.XObject.values()
                shas.append(hashlib.sha256(image.read_raw_bytes()).hexdigest())
            assert shas == [sha for _, sha in want]
    assert ws.integrity.verify().ok


def test_received_on_paper_without_pages_is_warned_once_per_merged_row(
        qtbot: QtBot, window: MainWindow) -> None:
    panel, scan, _case_of = _ready(qtbot, window)
    _to_row(qtbot, panel, ID_CARD)
    _press(qtbot, Qt.Key.Key_1)                            # 已收取: asked by all three items
    assert scan.warning.isVisible()
    assert scan.warning.text() == "已收取但未扫描：经营者身份证件"
    assert scan.unscanned() == ["经营者身份证件"]
    _to_row(qtbot, panel, ID_CARD)
    _scan(qtbot, scan)
    assert scan.warning.isHidden() and scan.unscanned() == []
    assert "2：1页" in scan.counts.text()


def _ref(n: int) -> PageRef:
    return PageRef(hashlib.sha256(str(n).encode()).hexdigest(), 1654, 2339, 200, False, 1000)


def _with_pages(case: CaseState, pages: dict[str, tuple[PageRef, ...]]) -> CaseState:
    return replace(case, pages=tuple(pages.items()))


def test_edits_find_the_page_by_hash_in_a_case_whose_list_drifted_apart(
        station: Workstation) -> None:
    """Another window removed a page from the tobacco case's 营业执照: a turn and a
    reorder made on the food case's list reach the same pages there, and a page the
    tobacco case lacks is left out of its change."""
    clerk = station.clerk(station.accounts.login(DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD))
    opened = station.cases.open_bundle(CANYIN, APPLICANT, clerk)
    bundle = station.catalogue.bundle(CANYIN)
    items = station.catalogue.bundle_items(bundle)
    targets = bundle_targets(bundle.merged_materials(items), items, opened)
    by_item = {c.item_code: c for c in opened}
    assert [(t.case_id, t.material_id) for t in targets["5"]] == [
        (by_item[FOOD].id, "m2"), (by_item[TOBACCO].id, "m3")]
    p1, p2, p3 = _ref(1), _ref(2), _ref(3)
    food = _with_pages(by_item[FOOD], {"m2": (p1, p2, p3)})
    tobacco = _with_pages(by_item[TOBACCO], {"m3": (p3, p1), "m1": (p2,)})
    filing = Filing()
    filing.file_bundle([by_item[GETI], food, tobacco], targets)

    turn = filing.turn("5", 2, 1)                          # p3: tobacco's first
    assert turn == {food.id: {"m2": (p1, p2, p3.turned(1))},
                    tobacco.id: {"m3": (p3.turned(1), p1)}}
    assert filing.turn("5", 1, 1) == {food.id: {"m2": (p1, p2.turned(1), p3)}}
    # Shown p1 p2 p3 → p3 p1 p2: tobacco's places of p3 and p1 take p3 then p1.
    assert filing.reorder("5", [2, 0, 1]) == {food.id: {"m2": (p3, p1, p2)}}
    assert filing.reorder("5", [0, 2, 1]) == {food.id: {"m2": (p1, p3, p2)},
                                              tobacco.id: {"m3": (p1, p3)}}
    # p2 to row 2 (经营者身份证件): the food case moves it, the others get it.
    assert filing.move("5", 1, "2") == {food.id: {"m2": (p1, p3), "m3": (p2,)},
                                        by_item[GETI].id: {"m2": (p2,)},
                                        tobacco.id: {"m2": (p2,)}}
    assert filing.retake_places("5", 0) == (0, 1)
    assert filing.retake_places("5", 1) == (1, None)
    ops.wait_idle(30_000)


def test_the_same_file_twice_is_matched_by_its_place_among_equal_hashes(
        station: Workstation) -> None:
    clerk = station.clerk(station.accounts.login(DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD))
    opened = station.cases.open_bundle(CANYIN, APPLICANT, clerk)
    bundle = station.catalogue.bundle(CANYIN)
    items = station.catalogue.bundle_items(bundle)
    by_item = {c.item_code: c for c in opened}
    p1, p2 = _ref(1), _ref(2)
    food = _with_pages(by_item[FOOD], {"m2": (p1, p2, p1)})
    tobacco = _with_pages(by_item[TOBACCO], {"m3": (p2, p1, p1)})
    filing = Filing()
    filing.file_bundle([by_item[GETI], food, tobacco],
                       bundle_targets(bundle.merged_materials(items), items, opened))
    # The second p1 shown is the second p1 there.
    assert filing.remove("5", 2) == {food.id: {"m2": (p1, p2)}, tobacco.id: {"m3": (p2, p1)}}
    assert filing.turn("5", 0, 3)[tobacco.id] == {"m3": (p2, p1.turned(3), p1)}
