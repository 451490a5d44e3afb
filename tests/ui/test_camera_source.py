"""The document camera source (ui/capture/camera.py) without a camera: this machine has
none. What runs here: the choice of mode from what a device lists, QImage → BGR pixels
on real QImages, the no-camera messages, and the handover of stills from the GUI
thread's Qt signals to ``acquire`` on a worker thread — driven by emitting the real
QImageCapture/QCamera/QMediaDevices signals of a CameraSource built on a null device.
What cannot run here: a real capture() on a device, setCameraFormat taking effect, the
live preview showing frames, unplugging a real device."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pytest
from PySide6.QtGui import QColor, QImage
from PySide6.QtMultimedia import QCamera, QCameraDevice, QImageCapture, QMediaDevices
from pytestqt.qtbot import QtBot

from app.capture.source import (
    Cancel,
    Cancelled,
    CaptureError,
    DeviceGone,
    RawPage,
    ScanSettings,
    SourceKind,
)
from ui.capture.camera import (
    NO_CAMERA,
    NOT_READY,
    UNPLUGGED,
    CameraSource,
    bgr_pixels,
    camera_devices,
    find_device,
)
from ui.capture.camera_modes import CameraMode, VideoMode, choose_mode

MJPEG, YUYV, NV12 = "Format_Jpeg", "Format_YUYV", "Format_NV12"


# The mode ---------------------------------------------------------------------------


def test_the_largest_photo_resolution_is_chosen_not_the_default_640x480() -> None:
    videos = [VideoMode(640, 480, MJPEG, 30), VideoMode(1920, 1080, MJPEG, 30)]
    mode = choose_mode([(640, 480), (3264, 2448), (2592, 1944)], videos)
    assert mode == CameraMode(VideoMode(1920, 1080, MJPEG, 30), (3264, 2448))


def test_without_photo_resolutions_the_largest_video_format_is_the_still() -> None:
    videos = [VideoMode(640, 480, YUYV, 30), VideoMode(3264, 2448, YUYV, 2),
              VideoMode(1600, 1200, MJPEG, 15)]
    assert choose_mode([], videos) == CameraMode(videos[1], (3264, 2448))


def test_at_one_size_mjpeg_is_preferred_over_yuyv_whichever_comes_first() -> None:
    yuyv, mjpeg = VideoMode(3264, 2448, YUYV, 15), VideoMode(3264, 2448, MJPEG, 15)
    assert choose_mode([], [yuyv, mjpeg]) == CameraMode(mjpeg, (3264, 2448))
    assert choose_mode([], [mjpeg, yuyv]) == CameraMode(mjpeg, (3264, 2448))
    assert choose_mode([], [VideoMode(2592, 1944, NV12, 5), VideoMode(2592, 1944, MJPEG, 5)]
                       ) == CameraMode(VideoMode(2592, 1944, MJPEG, 5), (2592, 1944))


def test_at_one_size_and_format_the_faster_mode_is_chosen() -> None:
    slow, fast = VideoMode(2592, 1944, MJPEG, 5), VideoMode(2592, 1944, MJPEG, 15)
    assert choose_mode([], [slow, fast]) == CameraMode(fast, (2592, 1944))


def test_a_device_that_lists_no_usable_size_has_no_mode() -> None:
    assert choose_mode([], []) is None
    assert choose_mode([(0, 0)], [VideoMode(0, 0, MJPEG)]) is None


# QImage → pixels ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", [QImage.Format.Format_RGB888, QImage.Format.Format_RGB32,
                                 QImage.Format.Format_ARGB32, QImage.Format.Format_BGR888])
def test_a_qimage_becomes_bgr_pixels_row_padding_dropped(fmt: QImage.Format) -> None:
    # 5 px wide: a 24-bit row is 15 bytes, padded to 16 — the stride must be honoured.
    image = QImage(5, 3, fmt)
    image.fill(QColor(255, 255, 255))
    image.setPixelColor(0, 0, QColor(200, 10, 20))    # red-ish
    image.setPixelColor(4, 2, QColor(30, 40, 250))    # blue-ish
    pixels = bgr_pixels(image)
    assert pixels.shape == (3, 5, 3) and pixels.dtype == np.uint8
    assert pixels[0, 0].tolist() == [20, 10, 200]
    assert pixels[2, 4].tolist() == [250, 40, 30]
    assert pixels[1, 2].tolist() == [255, 255, 255]


def test_the_pixels_are_a_copy_that_outlives_the_qimage() -> None:
    image = QImage(7, 2, QImage.Format.Format_RGB888)
    image.fill(QColor(1, 2, 3))
    pixels = bgr_pixels(image)
    image.fill(QColor(9, 9, 9))
    del image
    assert pixels[1, 6].tolist() == [3, 2, 1]


def test_an_empty_still_is_a_clear_message() -> None:
    with pytest.raises(CaptureError, match="画面是空的"):
        bgr_pixels(QImage())


# No camera -------------------------------------------------------------------------


@pytest.fixture
def no_camera(qtbot: QtBot) -> None:
    if QMediaDevices.videoInputs():
        pytest.skip("this machine has a camera")


def test_without_a_camera_the_source_list_is_empty(no_camera: None) -> None:
    assert camera_devices() == []


@pytest.mark.parametrize("spec", ["camera:", "camera:0", "camera:/dev/video0"])
def test_without_a_camera_opening_one_says_to_plug_it_in(no_camera: None, spec: str) -> None:
    with pytest.raises(CaptureError) as raised:
        find_device(spec)
    assert str(raised.value) == NO_CAMERA and "USB" in NO_CAMERA
    with pytest.raises(CaptureError, match="没有找到高拍仪"):
        CameraSource.open(spec)


# The handover -------------------------------------------------------------------------


@dataclass
class Run:
    """``acquire`` on a worker thread, as the scan job runs it."""
    source: CameraSource
    cancel: Cancel = field(default_factory=Cancel)
    pages: list[RawPage] = field(default_factory=list)
    error: Exception | None = None
    thread: threading.Thread | None = None

    def start(self) -> Run:
        def work() -> None:
            try:
                for page in self.source.acquire(ScanSettings(), self.cancel):
                    self.pages.append(page)
            except Exception as exc:
                self.error = exc
        self.thread = threading.Thread(target=work, daemon=True)
        self.thread.start()
        return self

    def wait(self, qtbot: QtBot) -> Run:
        assert self.thread is not None
        qtbot.waitUntil(lambda: not self.thread.is_alive(), timeout=10_000)  # type: ignore[union-attr]
        return self


@pytest.fixture
def camera(qtbot: QtBot) -> Iterator[CameraSource]:
    """A CameraSource on a null device: every Qt object real, no picture behind them."""
    source = CameraSource(QCameraDevice(), still_timeout=0.5)
    yield source
    source.deleteLater()


def _still(colour: QColor, size: tuple[int, int] = (33, 21)) -> QImage:
    image = QImage(*size, QImage.Format.Format_RGB32)
    image.fill(colour)
    return image


def _deliver(source: CameraSource, request: int, image: QImage) -> None:
    # What QImageCapture emits when a still is in: the real signal, the real connection.
    source._capture.imageCaptured.emit(request, image)


def test_a_still_from_the_gui_thread_comes_out_of_acquire_as_a_camera_page(
        qtbot: QtBot, camera: CameraSource) -> None:
    run = Run(camera).start()
    camera.handover.asked(1)
    _deliver(camera, 1, _still(QColor(10, 20, 30), (4321, 3)))
    camera.finish()
    run.wait(qtbot)
    assert run.error is None
    (page,) = run.pages
    assert (page.dpi, page.from_camera) == (None, True)
    assert page.pixels.shape == (3, 4321, 3)
    assert page.pixels[2, 4320].tolist() == [30, 20, 10]
    assert page.origin.startswith("高拍仪") and page.origin.endswith("第1张")
    assert camera.info.kind is SourceKind.CAMERA and camera.info.spec == "camera:"


def test_stills_asked_for_before_finish_all_arrive_in_order(
        qtbot: QtBot, camera: CameraSource) -> None:
    camera.handover.asked(1)          # the shutter key before the scan job started
    camera.handover.asked(2)
    camera.finish()
    run = Run(camera).start()
    _deliver(camera, 1, _still(QColor(255, 0, 0)))
    _deliver(camera, 2, _still(QColor(0, 0, 255)))
    run.wait(qtbot)
    assert run.error is None
    assert [p.pixels[0, 0].tolist() for p in run.pages] == [[0, 0, 255], [255, 0, 0]]
    assert [p.origin[-3:] for p in run.pages] == ["第1张", "第2张"]


def test_a_still_that_never_comes_ends_the_scan_with_no_answer_from_the_camera(
        qtbot: QtBot, camera: CameraSource) -> None:
    camera.handover.asked(1)
    run = Run(camera).start().wait(qtbot)
    assert isinstance(run.error, DeviceGone)
    assert "高拍仪没有响应" in str(run.error) and "USB" in str(run.error)


def test_a_camera_error_mid_scan_keeps_the_page_already_taken(
        qtbot: QtBot, camera: CameraSource) -> None:
    run = Run(camera).start()
    camera.handover.asked(1)
    _deliver(camera, 1, _still(QColor(0, 255, 0)))
    camera._camera.errorOccurred.emit(QCamera.Error.CameraError, "Device disconnected")
    run.wait(qtbot)
    assert len(run.pages) == 1
    assert isinstance(run.error, DeviceGone) and "Device disconnected" in str(run.error)
    with pytest.raises(DeviceGone):   # the shutter key now says so too
        camera.shoot()


def test_a_camera_that_leaves_the_device_list_ends_the_scan_as_unplugged(
        qtbot: QtBot, camera: CameraSource) -> None:
    run = Run(camera).start()
    camera._devices.videoInputsChanged.emit()   # the null device is in no list
    run.wait(qtbot)
    assert isinstance(run.error, DeviceGone) and str(run.error) == UNPLUGGED
    again = Run(camera).start().wait(qtbot)
    assert isinstance(again.error, DeviceGone)


def test_a_still_that_failed_is_a_clear_message(qtbot: QtBot, camera: CameraSource) -> None:
    run = Run(camera).start()
    camera.handover.asked(3)
    camera._capture.errorOccurred.emit(3, QImageCapture.Error.ResourceError, "busy")
    run.wait(qtbot)
    assert isinstance(run.error, CaptureError) and "再拍一次" in str(run.error)


def test_a_still_arriving_after_its_scan_was_cancelled_does_not_go_to_the_next_scan(
        qtbot: QtBot, camera: CameraSource) -> None:
    first = Run(camera).start()
    camera.handover.asked(1)
    qtbot.waitUntil(lambda: camera.handover._queue.empty())   # the worker has the request
    first.cancel.set()
    first.wait(qtbot)
    assert isinstance(first.error, Cancelled) and first.pages == []
    _deliver(camera, 1, _still(QColor(255, 0, 0)))   # the camera was still busy
    second = Run(camera).start()
    camera.handover.asked(2)
    _deliver(camera, 2, _still(QColor(0, 0, 255)))
    camera.finish()
    second.wait(qtbot)
    assert second.error is None
    assert [p.pixels[0, 0].tolist() for p in second.pages] == [[255, 0, 0]]   # blue only


def test_the_shutter_without_a_picture_says_to_wait_and_only_the_gui_thread_may_press_it(
        qtbot: QtBot, camera: CameraSource) -> None:
    with pytest.raises(CaptureError) as raised:
        camera.shoot()
    assert str(raised.value) == NOT_READY
    outcome: list[BaseException] = []

    def from_worker() -> None:
        try:
            camera.shoot()
        except BaseException as exc:
            outcome.append(exc)
    worker = threading.Thread(target=from_worker)
    worker.start()
    worker.join()
    assert isinstance(outcome[0], RuntimeError)


def test_the_live_preview_is_a_video_widget_on_the_capture_session(
        qtbot: QtBot, camera: CameraSource) -> None:
    widget = camera.preview()
    qtbot.addWidget(widget)
    assert camera._session.videoOutput() is widget
