"""The document camera (高拍仪) in the scan panel, by keyboard: chosen in the source list
it opens with its live preview and mode; Ctrl+S files one still; for 身份证正反面 the
front, then the back, make one page; Esc between them cancels; a camera that goes away
or never answers says so and keeps the pages stored.

This machine has no camera. The CameraSource is the real one on a device-less QCamera,
as in tests/ui/test_camera_source.py; the one step no device here can take — the
QImageCapture answering ``capture()`` — is the :class:`Desk` emitting the real
``imageCaptured`` signal with the frame a document camera would send (drawn by
app.capture.fake_source). Everything after — the handover to the worker, the pipeline,
the storage — is the program's own.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtMultimedia import QCameraDevice, QVideoFrame
from PySide6.QtMultimediaWidgets import QVideoWidget
from pytestqt.qtbot import QtBot

from app.capture.fake_source import PageKind, camera_frame, draw_page
from app.capture.pipeline import A4_MM, MM_PER_INCH, Pixels, effective_dpi, flatten
from app.capture.profiles import ID_CARD_MM
from app.capture.source import Capabilities, CaptureError, SourceInfo, SourceKind
from app.domain.case_pages import pages_of
from tests.ui.keys import here
from tests.ui.test_scan_panel import (
    CTRL,
    SHIFT,
    _main_window,
    _press,
    _shot,
    _stored,
    start_acceptance,
    submit_applicant,
)
from ui import ops
from ui.capture.camera import NO_ANSWER, NO_CAMERA, UNPLUGGED, CameraSource
from ui.capture.camera_modes import CameraMode, VideoMode
from ui.capture.camera_view import CLOSED, FLIP, GONE, PREVIEW_SIZE, mode_text
from ui.capture.scan_panel import ScanPanel
from ui.workbench.acceptance import AcceptancePanel
from ui.workbench.main_window import MainWindow

SPEC = "camera:/dev/video0"
CAMERA = SourceInfo(SPEC, SourceKind.CAMERA, "高拍仪 良田 S600",
                    Capabilities(colour=True, max_dpi=250, preview=True))
MODE = CameraMode(VideoMode(3264, 2448, "Format_Jpeg", 15.0), (3264, 2448))
DESK_BGR = (55, 60, 70)


def _qimage(bgr: Pixels) -> QImage:
    h, w = bgr.shape[:2]
    return QImage(bgr.data, w, h, bgr.strides[0], QImage.Format.Format_BGR888).copy()


def page_frame(seed: int = 0) -> QImage:
    """An A4 form on the desk, 3264×2448, seen a little from the side."""
    return _qimage(camera_frame(PageKind.FORM, seed=seed)[0])


def seen_proportions(seed: int) -> float:
    """Height over width of the quadrilateral the page of ``page_frame(seed)`` makes
    (the fake pulls its corners apart a little: A4 only to within ~6 %)."""
    frame, corners = camera_frame(PageKind.FORM, seed=seed)
    h, w = flatten(frame, corners).shape[:2]
    return float(h / w)


def card_frame(side: str, seed: int = 0) -> QImage:
    """One side of an identity card on the desk, filling half the frame's width: the
    front has a grey photo at the right, the back a red seal at the left."""
    dpi = 400
    w, h = (round(mm / MM_PER_INCH * dpi) for mm in ID_CARD_MM)
    card = np.full((h, w, 3), (230, 212, 196), np.uint8)
    text = draw_page(PageKind.FORM, dpi=dpi, seed=seed)[dpi // 2: dpi // 2 + h, dpi // 3:]
    card = np.minimum(card, text[:, :w])
    if side == "front":
        cv2.rectangle(card, (w * 2 // 3, h // 6), (w - w // 12, h - h // 6), (150, 150, 160), -1)
    else:
        cv2.circle(card, (w // 5, h // 3), h // 5, (40, 40, 200), dpi // 50)
    fw, fh = 3264, 2448
    cw = fw * 0.55
    ch = cw * h / w
    x0, y0 = (fw - cw) / 2, (fh - ch) / 2
    corners = np.array([[x0 + 12, y0], [x0 + cw, y0 + 20], [x0 + cw - 8, y0 + ch],
                        [x0, y0 + ch - 15]], dtype=np.float32)
    source = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=np.float32)
    desk = np.full((fh, fw, 3), DESK_BGR, np.uint8)
    frame = cv2.warpPerspective(card, cv2.getPerspectiveTransform(source, corners), (fw, fh),
                                dst=desk, borderMode=cv2.BORDER_TRANSPARENT)
    return _qimage(frame)


class Desk:
    """What lies under the camera: each still asked for shows the next frame put here;
    with none left the camera stays silent. ``unplugged``: opening it finds no camera."""

    def __init__(self, still_timeout: float = 30.0) -> None:
        self.frames: list[QImage] = []
        self.still_timeout = still_timeout
        self.unplugged = False
        self.camera: CameraSource | None = None
        self.opened = 0
        self.asked = 0
        self.starts = 0
        self.stops = 0

    def put(self, *frames: QImage) -> None:
        self.frames.extend(frames)

    def open(self, spec: str, parent: QObject) -> CameraSource:
        """As CameraSource.open does: the source on its device, started."""
        assert spec == SPEC
        if self.unplugged:
            raise CaptureError(NO_CAMERA)
        camera = CameraSource(QCameraDevice(), parent, still_timeout=self.still_timeout)
        camera.mode = MODE   # what mode_of reads from a real device's lists
        capture = camera._capture

        def capture_one() -> int:
            self.asked += 1
            request = self.asked
            if self.frames:
                frame = self.frames.pop(0)
                QTimer.singleShot(0, lambda: capture.imageCaptured.emit(request, frame))
            return request

        # The device's part: ready once the picture runs, and a still for capture().
        capture.isReadyForCapture = lambda: True  # type: ignore[method-assign]
        capture.capture = capture_one  # type: ignore[method-assign]
        start, stop = camera.start, camera.stop

        def counted_start() -> None:
            self.starts += 1
            start()

        def counted_stop() -> None:
            self.stops += 1
            stop()

        camera.start = counted_start  # type: ignore[method-assign]
        camera.stop = counted_stop  # type: ignore[method-assign]
        camera.start()
        self.opened += 1
        self.camera = camera
        return camera


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    with _main_window(qtbot, tmp_path / "home") as win:
        yield win


def _open_case(qtbot: QtBot, win: MainWindow, desk: Desk) -> AcceptancePanel:
    """食品经营许可（新办）, an applicant typed, the case opened; the camera in the source
    list, chosen as the first source found."""
    acceptance = start_acceptance(qtbot, win)
    scan = acceptance.scan_panel
    scan.source.cameras = lambda: [CAMERA]      # what QMediaDevices would list
    scan.camera_view.opener = desk.open
    submit_applicant(qtbot, acceptance)
    qtbot.waitUntil(lambda: scan.source.findData("fake") >= 0, timeout=30000)
    assert scan.source.spec == SPEC and scan.source.currentIndex() == 0
    assert desk.camera is not None and scan.camera_view.camera is desk.camera
    assert here() is acceptance.table   # the picture took no keys
    return acceptance


def _camera_case(qtbot: QtBot, window: MainWindow) -> tuple[Desk, ScanPanel, str, str]:
    """A case opened with the camera as its source: the desk, the panel, the case's id
    and its first material's."""
    desk = Desk()
    acceptance = _open_case(qtbot, window, desk)
    assert acceptance.case is not None
    return (desk, acceptance.scan_panel, acceptance.case.id,
            acceptance.table.checklist[0].id)


def _shutter(qtbot: QtBot, scan: ScanPanel, modifier: Qt.KeyboardModifier = CTRL) -> None:
    """The last shutter press of a capture, and the scan job it ends."""
    with qtbot.waitSignal(scan.scanning_changed, timeout=60000,
                          check_params_cb=lambda on: not on):
        _press(qtbot, Qt.Key.Key_S, modifier)


def _first_side(qtbot: QtBot, scan: ScanPanel, modifier: Qt.KeyboardModifier = CTRL) -> None:
    """The front of a card: the scan job starts and waits for the back."""
    with qtbot.waitSignal(scan.scanning_changed, timeout=20000,
                          check_params_cb=lambda on: on):
        _press(qtbot, Qt.Key.Key_S, modifier)
    assert FLIP in scan.status.text()


def _jpeg(window: MainWindow, sha256: str) -> Image.Image:
    image = Image.open(io.BytesIO(window.station.scans.page_jpeg(sha256)))
    image.load()
    return image


def _red(pixels: Pixels) -> int:
    b, g, r = (pixels[..., i].astype(np.int16) for i in range(3))
    return int(np.count_nonzero((r > 150) & (r - g > 80) & (r - b > 80)))


def test_the_camera_chosen_shows_its_live_preview_and_mode_above_the_thumbnails(
        qtbot: QtBot, window: MainWindow) -> None:
    desk = Desk()
    acceptance = _open_case(qtbot, window, desk)
    scan = acceptance.scan_panel
    view = scan.camera_view
    preview = view.preview
    assert isinstance(preview, QVideoWidget) and preview.isVisible()
    assert desk.camera is not None and desk.camera._session.videoOutput() is preview
    assert (preview.width(), preview.height()) == PREVIEW_SIZE
    assert view.mode.text() == f"高拍仪\n{mode_text(MODE)}" and view.mode.isVisible()
    assert "拍照 3264×2448" in view.mode.text()
    # What the camera would show, in the preview's own sink.
    preview.videoSink().setVideoFrame(QVideoFrame(page_frame()))
    _shot(window, "scan-panel-camera-1280x800")
    _shot(scan, "scan-panel-camera")
    if QGuiApplication.platformName() == "xcb":   # a real X server: the native picture too
        qtbot.wait(500)
        screen = window.screen().grabWindow(0)
        assert screen.save(str(Path("/tmp/shots/scan-panel-camera-xvfb.png")))
    # Beside the thumbnails: a row of pages still fits under the heading.
    assert scan.thumbnails.isVisible()
    assert scan.thumbnails.height() >= scan.thumbnails.gridSize().height()
    assert "按 Ctrl+S 拍照" in scan.status.text()

    camera = desk.camera
    with qtbot.waitSignal(camera.destroyed, timeout=10000):   # another source: freed
        scan.source.setCurrentIndex(scan.source.findData("fake"))
    assert view.camera is None and view.preview is None
    assert view.isHidden()
    assert desk.stops == 1
    scan.source.setCurrentIndex(scan.source.findData(SPEC))     # and back: opened again
    assert desk.opened == 2 and view.isVisible() and view.preview is not None


def test_ctrl_s_with_the_camera_files_one_still_as_one_flattened_page_with_its_dpi(
        qtbot: QtBot, window: MainWindow) -> None:
    desk, scan, case_id, material = _camera_case(qtbot, window)
    _press(qtbot, Qt.Key.Key_3, CTRL)                     # 营业执照/证照: colour, 300 dpi
    desk.put(page_frame(seed=3))
    _shutter(qtbot, scan)
    assert desk.asked == 1
    assert "已扫描 1 页" in scan.status.text()
    (page,) = pages_of(window.station.scans.pages(case_id), material)
    image = _jpeg(window, page.sha256)
    # Cut along the sheet and squared: the sheet's proportions, the desk gone from the
    # corners.
    assert image.height / image.width == pytest.approx(seen_proportions(3), rel=0.01)
    assert image.height / image.width == pytest.approx(A4_MM[1] / A4_MM[0], rel=0.06)
    pixels = np.asarray(image.convert("RGB"))
    for y, x in ((4, 4), (4, -5), (-5, 4), (-5, -5)):
        assert pixels[y, x].min() > 200, "the desk shows at a corner"
    # The frame's page is ~2000 px tall: it gives what the paper allows, no more.
    assert page.effective_dpi == effective_dpi(image.width, image.height, A4_MM)
    assert 150 <= page.dpi == page.effective_dpi < 300
    assert image.info["dpi"] == pytest.approx((page.dpi, page.dpi), abs=0.5)
    assert page.origin.startswith("高拍仪") and page.colour
    assert scan.thumbnails.count() == 1


def test_an_id_card_by_camera_is_the_front_then_the_back_on_one_page_and_retaken_the_same(
        qtbot: QtBot, window: MainWindow) -> None:
    desk, scan, case_id, material = _camera_case(qtbot, window)
    _press(qtbot, Qt.Key.Key_1, CTRL)                     # 身份证正反面
    desk.put(card_frame("front", 1))
    _first_side(qtbot, scan)
    assert scan.job is not None and not _stored(window.station, case_id, material)
    assert scan.status.text() == f"已拍正面。{FLIP}；Esc 取消。"
    desk.put(card_frame("back", 2))
    _shutter(qtbot, scan)
    assert desk.asked == 2 and "已扫描 1 页" in scan.status.text()
    (page,) = pages_of(window.station.scans.pages(case_id), material)
    assert page.dpi == 300 and (page.width, page.height) == tuple(
        round(mm / MM_PER_INCH * 300) for mm in A4_MM)
    sheet = np.asarray(_jpeg(window, page.sha256).convert("RGB"))[..., ::-1]
    upper, lower = sheet[: sheet.shape[0] // 2], sheet[sheet.shape[0] // 2:]
    assert _red(upper) == 0 and _red(lower) > 1000       # the back's seal, below
    assert np.count_nonzero(upper.max(axis=2) < 180) > 50_000   # the front's photo, above

    _press(qtbot, Qt.Key.Key_Tab)                          # retake it: the same two presses
    assert here() is scan.thumbnails and scan.thumbnails.currentRow() == 0
    desk.put(card_frame("front", 3))
    _first_side(qtbot, scan, CTRL | SHIFT)
    desk.put(card_frame("back", 4))
    _shutter(qtbot, scan, CTRL | SHIFT)
    (again,) = pages_of(window.station.scans.pages(case_id), material)
    assert again.sha256 != page.sha256
    assert "已重扫" in scan.status.text() and "第1页" in scan.status.text()


def test_esc_after_the_front_cancels_and_the_next_card_starts_afresh(
        qtbot: QtBot, window: MainWindow) -> None:
    desk, scan, case_id, material = _camera_case(qtbot, window)
    _press(qtbot, Qt.Key.Key_1, CTRL)
    desk.put(card_frame("front", 1))
    _first_side(qtbot, scan)
    with qtbot.waitSignal(scan.scanning_changed, timeout=20000,
                          check_params_cb=lambda on: not on):
        _press(qtbot, Qt.Key.Key_Escape)
    assert "已取消扫描" in scan.status.text()
    assert not _stored(window.station, case_id, material)
    acceptance = window.acceptance
    assert acceptance is not None
    assert acceptance.isVisible() and acceptance.checklist_shown   # Esc did not leave
    assert scan.camera_view.camera is desk.camera                 # still open
    # The cancelled front is not the next card's front: its two sides make the page.
    desk.put(card_frame("back", 5), card_frame("front", 6))
    _first_side(qtbot, scan)
    _shutter(qtbot, scan)
    (page,) = pages_of(window.station.scans.pages(case_id), material)
    sheet = np.asarray(_jpeg(window, page.sha256).convert("RGB"))[..., ::-1]
    half = sheet.shape[0] // 2
    assert _red(sheet[:half]) > 1000 and _red(sheet[half:]) == 0   # 5's seal above


def test_the_camera_gone_mid_card_says_so_keeps_the_pages_stored_and_reconnects(
        qtbot: QtBot, window: MainWindow) -> None:
    desk, scan, case_id, material = _camera_case(qtbot, window)
    desk.put(page_frame())
    _shutter(qtbot, scan)                                  # one page stored
    before = _stored(window.station, case_id, material)
    assert len(before) == 1
    _press(qtbot, Qt.Key.Key_1, CTRL)
    desk.put(card_frame("front", 1))
    _first_side(qtbot, scan)
    camera = desk.camera
    assert camera is not None
    desk.unplugged = True
    with qtbot.waitSignal(scan.scanning_changed, timeout=20000,
                          check_params_cb=lambda on: not on):
        camera._devices.videoInputsChanged.emit()          # it left Qt's device list
    text = scan.status.text()
    assert UNPLUGGED in text and "未保存任何页面" in text
    assert _stored(window.station, case_id, material) == before
    assert scan.camera_view.camera is None and scan.camera_view.mode.text() == GONE
    assert scan.thumbnails.count() == 1

    _press(qtbot, Qt.Key.Key_S, CTRL)                      # still unplugged: says so
    assert scan.status.text() == NO_CAMERA and scan.job is None
    assert scan.camera_view.mode.text() == NO_CAMERA
    desk.unplugged = False                                 # plugged back in
    desk.put(card_frame("front", 2))
    _first_side(qtbot, scan)
    desk.put(card_frame("back", 3))
    _shutter(qtbot, scan)
    assert desk.opened == 2
    assert len(_stored(window.station, case_id, material)) == 2


def test_a_still_that_never_comes_ends_with_the_cameras_message(
        qtbot: QtBot, window: MainWindow) -> None:
    desk = Desk(still_timeout=0.5)
    acceptance = _open_case(qtbot, window, desk)
    scan = acceptance.scan_panel
    _shutter(qtbot, scan)                                  # nothing on the desk answers
    assert NO_ANSWER.format(seconds=0.5) in scan.status.text()
    assert "未保存任何页面" in scan.status.text() and scan.thumbnails.count() == 0


def test_leaving_the_acceptance_screen_stops_the_camera_and_cancels_a_card_half_taken(
        qtbot: QtBot, window: MainWindow) -> None:
    desk = Desk()
    acceptance = _open_case(qtbot, window, desk)
    scan = acceptance.scan_panel
    assert acceptance.case is not None
    _press(qtbot, Qt.Key.Key_1, CTRL)
    desk.put(card_frame("front", 1))
    _first_side(qtbot, scan)
    starts = desk.starts
    with qtbot.waitSignal(scan.scanning_changed, timeout=20000,
                          check_params_cb=lambda on: not on):
        window.tabs.setCurrentWidget(window.catalogue_panel)
    assert desk.stops == 1 and "已取消扫描" in scan.status.text()
    assert not _stored(window.station, acceptance.case.id, acceptance.table.checklist[0].id)
    window.tabs.setCurrentWidget(acceptance)               # back: the picture runs again
    assert desk.starts == starts + 1 and scan.camera_view.camera is desk.camera
    ops.wait_idle(30_000)


def test_the_shutter_while_the_picture_is_not_ready_stores_nothing_and_says_to_wait(
        qtbot: QtBot, window: MainWindow) -> None:
    desk = Desk()
    acceptance = _open_case(qtbot, window, desk)
    scan = acceptance.scan_panel
    assert desk.camera is not None
    del desk.camera._capture.isReadyForCapture            # the real answer: no picture yet
    _press(qtbot, Qt.Key.Key_S, CTRL)
    assert scan.job is None and desk.asked == 0
    assert "还没准备好" in scan.status.text()


def test_a_camera_source_that_cannot_be_opened_says_so_beside_the_list(
        qtbot: QtBot, window: MainWindow) -> None:
    desk = Desk()
    desk.unplugged = True
    acceptance = start_acceptance(qtbot, window)
    scan = acceptance.scan_panel
    scan.camera_view.opener = desk.open
    scan.source.addItem(CAMERA.name, SPEC)
    scan.source.setCurrentIndex(scan.source.findData(SPEC))
    assert scan.status.text() == NO_CAMERA
    assert scan.camera_view.mode.text() == NO_CAMERA and scan.camera_view.preview is None


def test_the_mode_shown_says_the_still_size_the_preview_size_and_the_a4_dpi() -> None:
    dpi = 279   # 3264 px across A4's 297 mm: a 4:3 frame is wider than the sheet
    assert mode_text(MODE) == f"拍照 3264×2448\nA4 整页约 {dpi} dpi"
    smaller_video = CameraMode(VideoMode(1920, 1080, "Format_Jpeg", 30.0), (3264, 2448))
    assert mode_text(smaller_video) == f"拍照 3264×2448\n预览 1920×1080\nA4 整页约 {dpi} dpi"
    assert "默认模式" in mode_text(None)
    assert CLOSED.startswith("高拍仪未打开")
