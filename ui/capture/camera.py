"""The document camera (高拍仪) as a capture source: Qt Multimedia, live preview, stills.

Threads. The QCamera, its QImageCapture and the preview live on the GUI thread, as Qt
Multimedia requires; the scan job calls :meth:`CameraSource.acquire` on a worker thread
(``ui.ops.Operation``), like every other source. The two meet in a queue:

* the clerk presses the shutter key; the panel calls :meth:`CameraSource.shoot` (GUI
  thread), which asks QImageCapture for a still (``capture()``, to a buffer — no file);
* Qt answers on the GUI thread with ``imageCaptured(id, QImage)``; the slot puts the
  QImage (implicitly shared, safe to read from another thread) on the queue;
* ``acquire`` (worker) takes it off, converts it to BGR pixels there — not on the GUI
  thread — and yields a :class:`RawPage`; then it waits for the next still.

``acquire`` runs until :meth:`CameraSource.finish` (the stills already asked for are
still delivered first) or the clerk's cancel. A still asked for and not delivered within
``still_timeout`` seconds ends it with DeviceGone (高拍仪没有响应); so do QCamera's
``errorOccurred`` and the device vanishing from ``QMediaDevices.videoInputs``. Pages
already delivered stay delivered (they are behind the failure in the queue). Stills
that arrive after their run ended (a cancel while the camera was still busy) are
dropped, never handed to the next run — that would put a page under the wrong material.

One shot: ``shoot(); finish()`` then run ``acquire`` — one page. An identity card:
``shoot()``, turn the card, ``shoot()``, ``finish()``.

The camera is opened in its largest mode (:mod:`ui.capture.camera_modes`), not Qt's
default 640×480.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QCoreApplication, QObject, QSize, QThread, Slot
from PySide6.QtGui import QImage
from PySide6.QtMultimedia import (
    QCamera,
    QCameraDevice,
    QCameraFormat,
    QImageCapture,
    QMediaCaptureSession,
    QMediaDevices,
)
from PySide6.QtMultimediaWidgets import QVideoWidget
from PySide6.QtWidgets import QWidget

from app.capture.pipeline import Pixels, frame_dpi
from app.capture.source import (
    Cancel,
    Capabilities,
    CaptureError,
    DeviceGone,
    Progress,
    RawPage,
    ScanSettings,
    SourceInfo,
    SourceKind,
    no_progress,
)
from ui.capture.camera_modes import CameraMode, VideoMode, choose_mode

log = logging.getLogger(__name__)

SPEC_PREFIX = "camera:"
STILL_TIMEOUT = 15.0     # seconds: autofocus and an 8 MP MJPEG grab take 1–3 s
_POLL = 0.1              # seconds between looks at the cancel flag while waiting
NO_CAMERA = ("没有找到高拍仪：请把高拍仪的 USB 线插好（可换一个 USB 口），"
             "等指示灯亮后重新选择来源。")
UNPLUGGED = "高拍仪已断开：请重新插好 USB 线，再重新选择来源；已拍的页面已保存。"
NO_ANSWER = ("高拍仪没有响应：{seconds:.0f} 秒内没有拍到画面。请检查 USB 线，"
             "或拔下重插后重新选择来源；已拍的页面已保存。")
NOT_READY = "高拍仪还没准备好：等画面出来后再拍。"


def bgr_pixels(image: QImage) -> Pixels:
    """A QImage as an OpenCV BGR array (its own copy: the QImage may go away)."""
    if image.isNull():
        raise CaptureError("高拍仪送来的画面是空的：请再拍一次。")
    bgr = image.convertToFormat(QImage.Format.Format_BGR888)
    h, w, stride = bgr.height(), bgr.width(), bgr.bytesPerLine()
    # Rows are padded to 4 bytes: view them at their stride, then drop the padding.
    rows = np.frombuffer(bgr.constBits(), np.uint8, count=h * stride).reshape(h, stride)
    return rows[:, : w * 3].reshape(h, w, 3).copy()


def spec_of(device: QCameraDevice) -> str:
    return SPEC_PREFIX + device_id(device)


def device_id(device: QCameraDevice) -> str:
    # "/dev/video0" on Linux; a long \\?\usb#vid_… path on Windows. Both are text.
    return bytes(device.id().data()).decode("utf-8", "backslashreplace")


def video_modes(device: QCameraDevice) -> list[VideoMode]:
    return [VideoMode(f.resolution().width(), f.resolution().height(),
                      f.pixelFormat().name, f.maxFrameRate()) for f in device.videoFormats()]


def mode_of(device: QCameraDevice) -> CameraMode | None:
    photos = [(s.width(), s.height()) for s in device.photoResolutions()]
    return choose_mode(photos, video_modes(device))


def info_of(device: QCameraDevice) -> SourceInfo:
    mode = mode_of(device)
    # What a page filling the frame would get: the most the camera can give an A4 page.
    max_dpi = frame_dpi(*mode.still) if mode is not None else 0
    return SourceInfo(spec_of(device), SourceKind.CAMERA, f"高拍仪 {device.description()}",
                      Capabilities(colour=True, max_dpi=max_dpi, preview=True))


def camera_devices() -> list[SourceInfo]:
    """The video inputs Qt sees, for the source list (GUI thread)."""
    return [info_of(d) for d in QMediaDevices.videoInputs()]


def find_device(spec: str) -> QCameraDevice:
    """The device ``camera:<id>`` names (``camera:0``: the first; ``camera:``: the
    default), or CaptureError saying what to do."""
    wanted = spec.removeprefix(SPEC_PREFIX).strip()
    devices = QMediaDevices.videoInputs()
    if not devices:
        raise CaptureError(NO_CAMERA)
    if not wanted:
        default = QMediaDevices.defaultVideoInput()
        return default if not default.isNull() else devices[0]
    for device in devices:
        if device_id(device) == wanted:
            return device
    if wanted.isdigit() and int(wanted) < len(devices):
        return devices[int(wanted)]
    names = "、".join(d.description() for d in devices)
    raise CaptureError(f"没有找到高拍仪“{wanted}”：本机现有 {names}。请在来源列表中重新选择。")


# What the GUI thread hands the worker, in order.
@dataclass(frozen=True, slots=True)
class _Asked:
    request: int


@dataclass(frozen=True, slots=True)
class _Still:
    request: int
    image: QImage


@dataclass(frozen=True, slots=True)
class _Failed:
    request: int
    message: str


@dataclass(frozen=True, slots=True)
class _Gone:
    message: str


class _Finish:
    pass


_Item = _Asked | _Still | _Failed | _Gone | _Finish


class StillHandover:
    """The queue between the GUI thread's slots and the worker's ``acquire`` (no Qt
    objects are touched on the worker side)."""

    def __init__(self, timeout: float = STILL_TIMEOUT) -> None:
        self.timeout = timeout
        self._queue: queue.Queue[_Item] = queue.Queue()
        self._lock = threading.Lock()
        self._abandoned: set[int] = set()

    # GUI thread -----------------------------------------------------------------
    def asked(self, request: int) -> None:
        self._queue.put(_Asked(request))

    def delivered(self, request: int, image: QImage) -> None:
        with self._lock:
            if request in self._abandoned:   # its run was cancelled meanwhile
                self._abandoned.discard(request)
                return
        self._queue.put(_Still(request, image))

    def failed(self, request: int, message: str) -> None:
        self._queue.put(_Failed(request, message))

    def gone(self, message: str) -> None:
        self._queue.put(_Gone(message))

    def finish(self) -> None:
        self._queue.put(_Finish())

    # Worker thread --------------------------------------------------------------
    def stills(self, cancel: Cancel, progress: Progress = no_progress) -> Iterator[QImage]:
        """Each still asked for, in order, until finished; raises Cancelled, DeviceGone
        or CaptureError (a still that failed)."""
        outstanding: list[int] = []
        finishing = False
        waiting_since = time.monotonic()
        try:
            while not (finishing and not outstanding):
                cancel.check()
                try:
                    item = self._queue.get(timeout=_POLL)
                except queue.Empty:
                    if outstanding and time.monotonic() - waiting_since > self.timeout:
                        raise DeviceGone(NO_ANSWER.format(seconds=self.timeout)) from None
                    continue
                if isinstance(item, _Asked):
                    if not outstanding:
                        waiting_since = time.monotonic()
                    outstanding.append(item.request)
                    progress("正在拍摄…")
                elif isinstance(item, _Still | _Failed):
                    if item.request in outstanding:
                        outstanding.remove(item.request)
                    waiting_since = time.monotonic()
                    if isinstance(item, _Failed):
                        raise CaptureError(item.message)
                    yield item.image
                    if not finishing:
                        progress("已拍好，按拍摄键拍下一张。")
                elif isinstance(item, _Gone):
                    raise DeviceGone(item.message)
                else:
                    finishing = True
        finally:
            # Stills still on their way belong to this run: the next run must not get
            # them. Whatever is queued now is dropped too.
            with self._lock:
                self._abandoned.update(outstanding)
                while True:
                    try:
                        late = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if isinstance(late, _Asked):
                        self._abandoned.add(late.request)


class CameraSource(QObject):
    """A document camera, open in its largest mode. Create, ``start`` and ``shoot`` on
    the GUI thread; ``acquire`` runs on a worker (see the module docstring)."""

    def __init__(self, device: QCameraDevice, parent: QObject | None = None, *,
                 still_timeout: float = STILL_TIMEOUT) -> None:
        super().__init__(parent)
        self._device = device
        self._info = info_of(device)
        self._name = device.description() or device_id(device)
        self._handover = StillHandover(still_timeout)
        self._gone = ""
        self._shots = 0
        self.mode = mode_of(device)
        self._camera = QCamera(device, self)
        self._capture = QImageCapture(self)
        self._session = QMediaCaptureSession(self)
        self._session.setCamera(self._camera)
        self._session.setImageCapture(self._capture)
        self._apply_mode()
        self._devices = QMediaDevices(self)
        self._camera.errorOccurred.connect(self._camera_failed)
        self._capture.imageCaptured.connect(self._captured)
        self._capture.errorOccurred.connect(self._capture_failed)
        self._devices.videoInputsChanged.connect(self._inputs_changed)

    @classmethod
    def open(cls, spec: str, parent: QObject | None = None) -> CameraSource:
        """The camera ``spec`` names, started (CaptureError when there is none)."""
        source = cls(find_device(spec), parent)
        source.start()
        return source

    def _apply_mode(self) -> None:
        if self.mode is None:
            return
        if self.mode.video is not None:
            wanted = self.mode.video
            for fmt in self._device.videoFormats():
                if self._same(fmt, wanted):
                    self._camera.setCameraFormat(fmt)
                    break
        self._capture.setResolution(QSize(*self.mode.still))
        self._capture.setQuality(QImageCapture.Quality.VeryHighQuality)

    @staticmethod
    def _same(fmt: QCameraFormat, mode: VideoMode) -> bool:
        size = fmt.resolution()
        return ((size.width(), size.height(), fmt.pixelFormat().name, fmt.maxFrameRate())
                == (mode.width, mode.height, mode.pixel_format, mode.max_fps))

    @property
    def info(self) -> SourceInfo:
        return self._info

    @property
    def handover(self) -> StillHandover:
        return self._handover

    # GUI thread -------------------------------------------------------------------
    def start(self) -> None:
        self._camera.start()

    def stop(self) -> None:
        self._camera.stop()

    def preview(self, parent: QWidget | None = None) -> QVideoWidget:
        """The live picture, for the scan panel to place (one per source)."""
        widget = QVideoWidget(parent)
        self._session.setVideoOutput(widget)
        return widget

    def shoot(self) -> int:
        """Ask for one still (the shutter key); its page comes out of ``acquire``."""
        _require_gui_thread()
        if self._gone:
            raise DeviceGone(self._gone)
        if not self._capture.isReadyForCapture():
            raise CaptureError(NOT_READY)
        request = self._capture.capture()
        if request < 0:   # refused at once; errorOccurred carries the reason too
            raise CaptureError(NOT_READY)
        self._handover.asked(request)
        return request

    def finish(self) -> None:
        """End the running ``acquire`` once the stills already asked for are in."""
        self._handover.finish()

    @Slot(int, QImage)
    def _captured(self, request: int, image: QImage) -> None:
        self._handover.delivered(request, image)

    @Slot(int, QImageCapture.Error, str)
    def _capture_failed(self, request: int, error: QImageCapture.Error, text: str) -> None:
        log.warning("高拍仪拍摄失败 %s: %s %s", self._name, error, text)
        if request >= 0:
            self._handover.failed(request, f"高拍仪没能拍下这一张（{text}）：请再拍一次。")

    @Slot(QCamera.Error, str)
    def _camera_failed(self, error: QCamera.Error, text: str) -> None:
        if error == QCamera.Error.NoError:
            return
        log.warning("高拍仪出错 %s: %s", self._name, text)
        self._went(f"高拍仪出错（{text}）：请检查 USB 线，拔下重插后重新选择来源；"
                   "已拍的页面已保存。")

    @Slot()
    def _inputs_changed(self) -> None:
        mine = device_id(self._device)
        if all(device_id(d) != mine for d in QMediaDevices.videoInputs()):
            self._went(UNPLUGGED)

    def _went(self, message: str) -> None:
        if not self._gone:
            self._gone = message
            self._handover.gone(message)

    # Worker thread ----------------------------------------------------------------
    def acquire(self, settings: ScanSettings, cancel: Cancel,
                progress: Progress = no_progress) -> Iterator[RawPage]:
        """One page per still asked for with :meth:`shoot`, until :meth:`finish`.
        ``settings`` is not the camera's business: it always gives its largest colour
        still, the pipeline brings it to the profile's DPI and colour."""
        if self._gone:
            raise DeviceGone(self._gone)
        progress(f"高拍仪 {self._name}：放好材料，按拍摄键拍照。")
        for image in self._handover.stills(cancel, progress):
            self._shots += 1
            yield RawPage(bgr_pixels(image), None, f"高拍仪 {self._name} 第{self._shots}张",
                          from_camera=True)


def _require_gui_thread() -> None:
    app = QCoreApplication.instance()
    if app is None or QThread.currentThread() is not app.thread():
        raise RuntimeError("the camera is driven from the Qt main thread")
