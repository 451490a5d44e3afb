"""The scan panel of the acceptance screen, by keyboard: pages scanned into the material
selected in the checklist, turned, reordered, moved, deleted, retaken and zoomed; the
warning for a material received on paper with no page; a device that goes away and a
cancel keep what was delivered. The case PDF is read back at the end.

The device is the fake scanner (spec ``fake``, opened through the registry as the
window does); for a cancel mid-feed, a small feeder of this file that waits, page by
page, for the test to let the next one through.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import pikepdf
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QWidget
from pytestqt.qtbot import QtBot

from app.capture.fake_source import FakeSource, PageKind, scanned
from app.capture.source import (
    Cancel,
    Capabilities,
    CaptureSource,
    Progress,
    RawPage,
    ScanSettings,
    SourceInfo,
    SourceKind,
    no_progress,
)
from app.domain.case_pages import pages_of
from app.services.accounts import DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD
from app.workstation import Workstation, open_workstation
from tests.ui.keys import commit, here
from ui import ops
from ui.capture.scan_panel import ScanPanel
from ui.capture.thumbnails import LOW_DPI
from ui.workbench.acceptance import AcceptancePanel
from ui.workbench.main_window import MainWindow

SHOTS = Path("/tmp/shots")
CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


class Feeder:
    """A scanner with ``pages`` sheets in its feeder, each after the first waiting for
    :meth:`next` (and checking the cancel meanwhile, as a device does)."""

    def __init__(self, pages: int) -> None:
        self.pages = pages
        self.gate = threading.Semaphore(0)
        self.delivered = 0

    @property
    def info(self) -> SourceInfo:
        return SourceInfo("fake", SourceKind.FAKE, "测试扫描仪", Capabilities(feeder=True))

    def next(self) -> None:
        self.gate.release()

    def acquire(self, settings: ScanSettings, cancel: Cancel,
                progress: Progress = no_progress) -> Iterator[RawPage]:
        for i in range(self.pages):
            while i > 0 and not self.gate.acquire(timeout=0.05):
                cancel.check()   # a real device checks between chunks the same way
            cancel.check()
            progress(f"正在扫描第 {i + 1} 页…")
            page = scanned(PageKind.FORM, 2.0, 200, i)
            self.delivered += 1
            yield RawPage(page.image, 200, f"测试扫描仪 第{i + 1}页")


@contextmanager
def _main_window(qtbot: QtBot, home: Path, settings: str = "") -> Iterator[MainWindow]:
    """The window at 1280×800 on a workstation in ``home``, closed as the program does."""
    home.mkdir()
    (home / "settings.toml").write_text(settings, encoding="utf-8")
    station = open_workstation(home)
    win = MainWindow(station, station.accounts.login(DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD))
    try:
        win.resize(1280, 800)
        win.show()
        qtbot.waitExposed(win)
        win.activateWindow()
        qtbot.waitUntil(lambda: QApplication.activeWindow() is win)
        qtbot.waitUntil(lambda: win.catalogue_panel.index is not None)
        yield win
    finally:
        ops.wait_idle(30_000)
        win.close()
        ops.wait_idle(30_000)
        win.deleteLater()
        station.close()


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    with _main_window(qtbot, tmp_path / "home") as win:
        yield win


def _shot(widget: QWidget, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    assert widget.grab().save(str(SHOTS / f"{name}.png"))


def _press(qtbot: QtBot, key: Qt.Key,
           modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(here(), key, modifier)


def start_acceptance(qtbot: QtBot, win: MainWindow) -> AcceptancePanel:
    """食品经营许可（新办） found by typing and opened, F3: the applicant form."""
    panel = win.catalogue_panel
    commit(panel.search, "食品经营")
    with qtbot.waitSignal(panel.opened):
        qtbot.keyClick(panel.search, Qt.Key.Key_Return)
    _press(qtbot, Qt.Key.Key_F3)
    acceptance = win.acceptance
    assert acceptance is not None
    return acceptance


def submit_applicant(qtbot: QtBot, acceptance: AcceptancePanel) -> None:
    """王小明 typed into the applicant form and the case opened (Enter on the last field)."""
    commit(here(), "王小明")
    _press(qtbot, Qt.Key.Key_Return)
    qtbot.keyClicks(here(), "330102198001010026")
    _press(qtbot, Qt.Key.Key_Return)
    qtbot.keyClicks(here(), "13800138000")
    with qtbot.waitSignal(acceptance.case_opened, timeout=20000):
        _press(qtbot, Qt.Key.Key_Return)


def _open_case(qtbot: QtBot, win: MainWindow,
               device: CaptureSource | None = None) -> AcceptancePanel:
    """食品经营许可（新办）, an applicant typed, the case opened, the fake scanner chosen
    (``device`` stands in for it when given)."""
    acceptance = start_acceptance(qtbot, win)
    submit_applicant(qtbot, acceptance)
    scan = acceptance.scan_panel
    if device is not None:
        scan.opener = lambda _spec, _settings: device
    # The source list comes from discover() off the GUI thread; the fake entry is always
    # there, and is what the feeder stands for.
    qtbot.waitUntil(lambda: scan.source.findData("fake") >= 0, timeout=30000)
    scan.source.setCurrentIndex(scan.source.findData("fake"))
    assert here() is acceptance.table
    return acceptance


def _scan(qtbot: QtBot, scan: ScanPanel,
          modifier: Qt.KeyboardModifier = CTRL) -> None:
    with qtbot.waitSignal(scan.scanning_changed, timeout=60000,
                          check_params_cb=lambda on: not on):
        _press(qtbot, Qt.Key.Key_S, modifier)


def _stored(ws: Workstation, case_id: str, material_id: str) -> list[tuple[str, int]]:
    return [(p.sha256, p.turns) for p in pages_of(ws.scans.pages(case_id), material_id)]


def _edit(qtbot: QtBot, scan: ScanPanel, key: Qt.Key,
          modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """A key on the thumbnails, and the recorded change shown back."""
    assert here() is scan.thumbnails
    with qtbot.waitSignal(scan.case_changed, timeout=20000):
        _press(qtbot, key, modifier)
    qtbot.waitUntil(lambda: not scan.editing)


def test_pages_scanned_by_keyboard_are_arranged_and_land_in_the_case_pdf(
        qtbot: QtBot, window: MainWindow) -> None:
    ws = window.station
    acceptance = _open_case(qtbot, window)
    scan, table = acceptance.scan_panel, acceptance.table
    assert acceptance.case is not None
    case_id = acceptance.case.id
    first, second = table.checklist[0], table.checklist[1]
    assert scan.material_id == first.id and scan.heading.text().endswith("尚未扫描")

    _scan(qtbot, scan)                                  # Ctrl+S on the checklist
    assert "已扫描 1 页" in scan.status.text()
    _scan(qtbot, scan)                                  # the flatbed: a sheet a scan
    stored = _stored(ws, case_id, first.id)
    assert len(stored) == 2 and len({sha for sha, _ in stored}) == 2
    assert scan.thumbnails.count() == 2
    assert acceptance.case is not None and scan.case is not None
    assert acceptance.case.version == scan.case.version
    qtbot.waitUntil(lambda: all(not scan.thumbnails.item(i).icon().isNull()
                                for i in range(2)), timeout=20000)
    _shot(window, "scan-panel-1280x800")

    _press(qtbot, Qt.Key.Key_Tab)                        # to the thumbnails
    assert here() is scan.thumbnails and scan.thumbnails.currentRow() == 0
    a, b = (sha for sha, _ in stored)
    _edit(qtbot, scan, Qt.Key.Key_Right, CTRL)           # page 1 after page 2
    assert _stored(ws, case_id, first.id) == [(b, 0), (a, 0)]
    assert scan.thumbnails.currentRow() == 1
    # A drag ends as a row move of the list's model: the same order change.
    with qtbot.waitSignal(scan.case_changed, timeout=20000):
        assert scan.thumbnails.model().moveRow(scan.thumbnails.rootIndex(), 1,
                                               scan.thumbnails.rootIndex(), 0)
    qtbot.waitUntil(lambda: not scan.editing)
    assert _stored(ws, case_id, first.id) == [(a, 0), (b, 0)]

    scan.thumbnails.setCurrentRow(1)
    _edit(qtbot, scan, Qt.Key.Key_R)                     # a quarter clockwise
    _edit(qtbot, scan, Qt.Key.Key_R)
    _edit(qtbot, scan, Qt.Key.Key_R, SHIFT)              # and one back
    assert _stored(ws, case_id, first.id) == [(a, 0), (b, 1)]
    assert "第2页" in scan.status.text()

    _press(qtbot, Qt.Key.Key_Return)                     # zoom: the page at 100%
    qtbot.waitUntil(lambda: scan.zoom is not None and scan.zoom.image is not None,
                    timeout=20000)
    zoom = scan.zoom
    assert zoom is not None and zoom.image is not None
    ref = pages_of(ws.scans.pages(case_id), first.id)[1]
    assert zoom.shown_scale == 1.0 and "100%" in zoom.status.text()
    pixmap = zoom.picture.pixmap()
    # Turned a quarter: the page is shown on its side, pixel for pixel.
    assert (pixmap.width(), pixmap.height()) == (ref.height, ref.width)
    _shot(zoom, "page-zoom-100")
    _press(qtbot, Qt.Key.Key_F)
    assert zoom.shown_scale < 1.0 and zoom.picture.pixmap().width() < ref.height
    _press(qtbot, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not zoom.isVisible())
    qtbot.waitUntil(lambda: QApplication.focusWidget() is scan.thumbnails)

    _press(qtbot, Qt.Key.Key_M)                          # to another material
    qtbot.waitUntil(lambda: scan.picker is not None and scan.picker.isVisible())
    assert scan.picker is not None
    assert scan.picker.list.item(0).text().endswith(second.name)
    with qtbot.waitSignal(scan.case_changed, timeout=20000):
        qtbot.keyClick(scan.picker.list, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not scan.editing)
    assert _stored(ws, case_id, first.id) == [(a, 0)]
    assert _stored(ws, case_id, second.id) == [(b, 1)]
    assert f"移到“{second.name}”" in scan.status.text()

    qtbot.waitUntil(lambda: QApplication.focusWidget() is scan.thumbnails)
    _edit(qtbot, scan, Qt.Key.Key_Delete)
    assert _stored(ws, case_id, first.id) == []
    assert "已删除第1页" in scan.status.text() and "校验值" in scan.status.text()
    assert scan.thumbnails.count() == 0

    table.setFocus()
    _scan(qtbot, scan)                                    # two more into the first
    _scan(qtbot, scan)
    assert len(_stored(ws, case_id, first.id)) == 2

    data = ws.scans.case_pdf(case_id)
    case = ws.cases.get(case_id)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        with pdf.open_outline() as outline:
            marks = [(item.title, pdf.pages.index(item.destination[0]))  # type: ignore[index]
                     for item in outline.root]
        assert marks == [(f"{first.name}（2页）", 0), (f"{second.name}（1页）", 2)]
        pages = [*pages_of(case.pages, first.id), *pages_of(case.pages, second.id)]
        assert [int(p.get("/Rotate", 0)) for p in pdf.pages] == [90 * r.turns for r in pages]


def test_retake_puts_the_new_capture_in_place_of_the_selected_page(
        qtbot: QtBot, window: MainWindow) -> None:
    feeder = FakeSource()
    acceptance = _open_case(qtbot, window, feeder)
    scan = acceptance.scan_panel
    assert acceptance.case is not None
    case_id, material = acceptance.case.id, acceptance.table.checklist[0].id
    _press(qtbot, Qt.Key.Key_4, CTRL)                     # 多页 ADF 双面: blank backs dropped
    _scan(qtbot, scan)
    before = _stored(window.station, case_id, material)
    assert len(before) == 3 and len(feeder.drawn_skews) == 6
    _press(qtbot, Qt.Key.Key_2, CTRL)                     # one sheet on the glass
    _press(qtbot, Qt.Key.Key_Tab)
    _press(qtbot, Qt.Key.Key_Left)
    assert scan.thumbnails.currentRow() == 0
    _scan(qtbot, scan, CTRL | SHIFT)
    after = _stored(window.station, case_id, material)
    assert len(after) == 3 and after[1:] == before[1:] and after[0] != before[0]
    assert "已重扫" in scan.status.text() and "第1页" in scan.status.text()
    assert len(feeder.drawn_skews) == 7    # one sheet for the retake


def test_a_page_below_the_chosen_profiles_dpi_says_so_in_red(
        qtbot: QtBot, window: MainWindow) -> None:
    acceptance = _open_case(qtbot, window)
    scan = acceptance.scan_panel
    _scan(qtbot, scan)                                    # A4 表单: 200 dpi, as scanned
    item = scan.thumbnails.item(0)
    assert item.text() == "第1页 200dpi" and item.foreground().color() != LOW_DPI
    _press(qtbot, Qt.Key.Key_3, CTRL)                     # 营业执照/证照 asks 300 dpi
    assert scan.profile.dpi == 300 and "营业执照" in scan.status.text()
    item = scan.thumbnails.item(0)
    assert item.text() == "第1页 200dpi偏低" and item.foreground().color() == LOW_DPI
    qtbot.waitUntil(lambda: not scan.thumbnails.item(0).icon().isNull(), timeout=20000)
    scan.thumbnails.clearSelection()   # the red shows on an unselected page
    _shot(scan, "scan-panel-low-dpi")


def test_device_gone_after_one_page_keeps_that_page_and_says_so(
        qtbot: QtBot, window: MainWindow) -> None:
    acceptance = _open_case(qtbot, window, FakeSource(gone_after=1))
    scan = acceptance.scan_panel
    assert acceptance.case is not None
    case_id, material = acceptance.case.id, acceptance.table.checklist[0].id
    _press(qtbot, Qt.Key.Key_4, CTRL)                     # the feeder: three sheets
    _scan(qtbot, scan)
    assert len(_stored(window.station, case_id, material)) == 1
    text = scan.status.text()
    assert "演示扫描仪已断开" in text and "已保存的 1 页保留" in text
    assert scan.thumbnails.count() == 1
    others = [m.id for m in acceptance.table.checklist[1:]]
    assert all(not _stored(window.station, case_id, m) for m in others)


def test_esc_cancels_a_scan_and_keeps_the_pages_already_stored(
        qtbot: QtBot, window: MainWindow) -> None:
    feeder = Feeder(5)
    acceptance = _open_case(qtbot, window, feeder)
    scan = acceptance.scan_panel
    assert acceptance.case is not None
    case_id, material = acceptance.case.id, acceptance.table.checklist[0].id
    with qtbot.waitSignal(scan.scanning_changed, check_params_cb=lambda on: not on,
                          timeout=60000):
        _press(qtbot, Qt.Key.Key_S, CTRL)
        qtbot.waitUntil(lambda: scan.thumbnails.count() == 1, timeout=30000)  # shown as it came
        feeder.next()
        qtbot.waitUntil(lambda: scan.thumbnails.count() == 2, timeout=30000)
        _press(qtbot, Qt.Key.Key_Escape)
    assert len(_stored(window.station, case_id, material)) == 2
    assert feeder.delivered == 2
    assert "已取消扫描" in scan.status.text() and "2 页" in scan.status.text()
    assert acceptance.isVisible() and acceptance.checklist_shown   # Esc did not leave


def test_received_without_pages_warns_in_the_panel_and_before_f9_without_blocking(
        qtbot: QtBot, window: MainWindow) -> None:
    acceptance = _open_case(qtbot, window)
    scan, table = acceptance.scan_panel, acceptance.table
    first = table.checklist[0]
    assert scan.warning.isHidden()
    _press(qtbot, Qt.Key.Key_1)                           # 已收取, on paper
    assert scan.warning.isVisible()
    assert scan.warning.text() == f"已收取但未扫描：{first.name}"
    _press(qtbot, Qt.Key.Key_Up)
    _scan(qtbot, scan)
    assert scan.warning.isHidden()
    _press(qtbot, Qt.Key.Key_Down)
    _press(qtbot, Qt.Key.Key_F4)                          # the rest received too
    unscanned = scan.unscanned()
    assert unscanned and first.name not in unscanned
    assert scan.warning.text() == f"已收取但未扫描：{'、'.join(unscanned)}"
    _press(qtbot, Qt.Key.Key_3, CTRL)                     # the page now under 300 dpi: red
    _shot(window, "scan-panel-warning")
    _press(qtbot, Qt.Key.Key_F9)
    qtbot.waitUntil(lambda: acceptance.confirm is not None
                    and acceptance.confirm.isVisible(), timeout=20000)
    assert acceptance.confirm is not None
    texts = [label.text() for label in acceptance.confirm.findChildren(QLabel)]
    assert any("已收取但未扫描" in t and unscanned[0] in t for t in texts)
    _shot(acceptance.confirm, "confirm-with-unscanned-note")
    with qtbot.waitSignal(acceptance.decided, timeout=20000):   # the decision is taken
        qtbot.keyClick(acceptance.confirm, Qt.Key.Key_Return)
    ops.wait_idle(30_000)
    if acceptance.preview is not None:
        acceptance.preview.close()


def test_a_watched_folder_fills_a_material_once_per_file(
        qtbot: QtBot, tmp_path: Path) -> None:
    inbox = tmp_path / "扫描到文件夹"
    inbox.mkdir()
    for i, kind in enumerate((PageKind.FORM, PageKind.CERTIFICATE)):
        rgb = cv2.cvtColor(scanned(kind, 1.0, 200, i).image, cv2.COLOR_BGR2RGB)
        Image.fromarray(rgb).save(inbox / f"scan{i}.jpg", dpi=(200, 200), quality=90)
    settings = f'[devices]\nscan_folder = "{inbox}"\n'
    with _main_window(qtbot, tmp_path / "home", settings) as win:
        station = win.station
        acceptance = _open_case(qtbot, win)
        scan = acceptance.scan_panel
        spec = f"folder:{inbox}"
        scan.source.setCurrentIndex(scan.source.findData(spec))
        assert scan.source.spec == spec
        assert acceptance.case is not None
        case_id, material = acceptance.case.id, acceptance.table.checklist[0].id
        _scan(qtbot, scan)
        assert len(_stored(station, case_id, material)) == 2
        _scan(qtbot, scan)                                # nothing new in the folder
        assert len(_stored(station, case_id, material)) == 2
        assert "没有送来页面" in scan.status.text()


def test_discovered_sources_fill_the_combo_with_the_configured_scanner_first(
        qtbot: QtBot, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "settings.toml").write_text('[devices]\nscanner = "escl:http://192.0.2.9/eSCL"\n',
                                        encoding="utf-8")
    station = open_workstation(home)
    try:
        clerk = station.clerk(station.accounts.login(DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD))
        scan = ScanPanel(station, clerk)
        qtbot.addWidget(scan)
        assert scan.source.count() == 0     # nobody asked SANE while no case is shown
        scan.source.look()
        qtbot.waitUntil(lambda: scan.source.count() > 0, timeout=30000)
        assert scan.source.currentData() == "escl:http://192.0.2.9/eSCL"
        assert scan.source.findData("fake") > 0
    finally:
        ops.wait_idle(30_000)
        station.close()
