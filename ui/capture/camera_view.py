"""The document camera (高拍仪) in the scan panel: its live picture and mode while it is
the source, and the shots a capture takes (one still; an identity card's front, then
its back).

The camera is opened when the clerk chooses it and closed (the device freed, its lamp
off) when another source is chosen; hiding the panel — leaving the acceptance screen —
only stops it, and showing it again starts it. Everything here runs on the GUI thread,
as Qt Multimedia requires; the stills reach the scan job through
:meth:`ui.capture.camera.CameraSource.acquire`.
"""

from __future__ import annotations

from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtMultimediaWidgets import QVideoWidget
from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget

from app.capture.pipeline import frame_dpi
from app.capture.source import CaptureError
from ui.capture.camera import SPEC_PREFIX, CameraSource
from ui.capture.camera_modes import CameraMode

# 4:3, as document cameras stream: big enough to see the sheet lies inside the frame,
# small enough to sit beside the profiles and leave the thumbnails their room at 1280×800.
PREVIEW_SIZE = (224, 168)
FLIP = "请翻面后再按 Ctrl+S 拍摄背面"
TURN_CARD = f"已拍正面。{FLIP}；Esc 取消。"
READY = "高拍仪已打开：把材料放在底板上，按 Ctrl+S 拍照。"
CLOSED = "高拍仪未打开：按 Ctrl+S 重新连接，或按 Ctrl+E 换用其他来源。"
GONE = "高拍仪已断开：插好后按 Ctrl+S 重新连接并拍摄。"


def is_camera(spec: str | None) -> bool:
    return spec is not None and spec.startswith(SPEC_PREFIX)


def mode_text(mode: CameraMode | None) -> str:
    """The mode the camera runs in, as a clerk can check it: the still's size, the
    preview's when it differs, the DPI of an A4 page filling the frame (as the source
    list's capabilities say it)."""
    if mode is None:
        return "高拍仪没有报告分辨率：按驱动的默认模式拍摄，清晰度可能不足。"
    w, h = mode.still
    lines = [f"拍照 {w}×{h}"]
    if mode.video is not None and (mode.video.width, mode.video.height) != mode.still:
        lines.append(f"预览 {mode.video.width}×{mode.video.height}")
    return "\n".join([*lines, f"A4 整页约 {frame_dpi(w, h)} dpi"])


class CameraView(QWidget):
    """The open camera's live picture and, under it, its mode; owns the
    :class:`CameraSource` and the shots of the capture running (:attr:`shots`).

    Hidden — another source chosen, or the acceptance screen left — it stops the camera
    (its lamp and stream) and drops a capture still waiting for a still (nobody is there
    to turn the card): :attr:`dropped`, for the panel to cancel its scan job.
    """

    dropped = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # How a spec becomes an open camera (tests put one without a device here).
        self.opener: Callable[[str, QObject], CameraSource] = CameraSource.open
        self.camera: CameraSource | None = None
        self.spec = ""
        self.preview: QVideoWidget | None = None
        self.shots: CameraShots | None = None
        self.mode = QLabel()
        self.mode.setWordWrap(True)
        self.mode.setObjectName("hint")
        self.mode.setFixedWidth(PREVIEW_SIZE[0])
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.addWidget(self.mode)
        self._layout.addStretch(1)
        self.hide()
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.focusChanged.connect(self._keep_keys)

    def _keep_keys(self, old: QWidget | None, new: QWidget | None) -> None:
        # The picture is a native window inside the panel; shown, some platforms make
        # it the focus window, and the clerk's next key would go to a video. The keys
        # stay where they were.
        preview = self.preview
        if (preview is None or old is None or new is None or not shiboken6.isValid(preview)
                or not (new is preview or preview.isAncestorOf(new))):
            return
        old.window().activateWindow()
        old.setFocus(Qt.FocusReason.OtherFocusReason)

    def choose(self, spec: str | None) -> bool:
        """The source list's choice: True when it is a camera, now open (CaptureError
        when it cannot be); anything else closes the camera."""
        if spec is None or not is_camera(spec):
            self.leave()
            return False
        self.open(spec)
        return True

    def first_shot(self, spec: str, sides: int) -> CameraSource:
        """The first still of a capture of ``sides`` stills (CaptureError: none taken)."""
        shots = CameraShots(self.open(spec), sides)   # opened again if it went away
        shots.shoot()
        self.shots = shots
        return shots.camera

    @property
    def waiting(self) -> bool:
        """A capture has its first still and waits for the next (a card's back)."""
        return self.shots is not None and self.shots.waiting

    def ended(self, gone: bool) -> None:
        """The capture's scan job ended; ``gone``: with the camera gone away."""
        self.shots = None
        if gone:   # the next Ctrl+S opens it afresh
            self.close_camera(GONE)

    def open(self, spec: str) -> CameraSource:
        """The camera ``spec`` names, open and previewing (the one already open when it
        is that one); CaptureError with the Chinese message when there is none."""
        if self.camera is not None and self.spec == spec:
            return self.camera
        self.close_camera()
        self.spec = spec
        self.show()   # the message, when it cannot be opened
        try:
            camera = self.opener(spec, self)
        except CaptureError as exc:
            self.mode.setText(str(exc))
            raise
        self.camera = camera
        self.preview = camera.preview(self)
        self.preview.setFixedSize(*PREVIEW_SIZE)
        self.preview.setAspectRatioMode(Qt.AspectRatioMode.KeepAspectRatio)
        # The picture's place shows before the first frame (the camera warming up).
        self.preview.setStyleSheet("background-color: #202020;")
        self.preview.setToolTip("高拍仪实时画面：材料放在底板中间，四边都在画面内")
        self._layout.insertWidget(0, self.preview)
        self.preview.show()   # now, not when the layout gets round to it
        self.mode.setText(f"{camera.info.name.strip()}\n{mode_text(camera.mode)}")
        return camera

    def close_camera(self, why: str = "") -> None:
        """Free the device (another source was chosen, or it went away: ``why``)."""
        if self.shots is not None and self.camera is not None:
            self.dropped.emit()   # another camera chosen mid-capture
        camera, self.camera = self.camera, None
        if self.preview is not None:
            self._layout.removeWidget(self.preview)
            self.preview.deleteLater()
            self.preview = None
        if camera is not None:
            camera.stop()
            camera.deleteLater()
        self.mode.setText(why or CLOSED)

    def leave(self) -> None:
        """Another source was chosen: nothing of the camera stays on screen."""
        self.close_camera()
        self.spec = ""
        self.hide()

    def hideEvent(self, event: QHideEvent) -> None:
        if self.shots is not None:
            self.dropped.emit()
        if self.camera is not None:
            self.camera.stop()
        super().hideEvent(event)

    def showEvent(self, event: QShowEvent) -> None:
        if self.camera is not None:
            self.camera.start()
        super().showEvent(event)


class CameraShots:
    """The shutter presses one capture takes under a profile: ``sides`` stills (2 for an
    identity card's front and back), then :meth:`CameraSource.finish`."""

    def __init__(self, camera: CameraSource, sides: int) -> None:
        self.camera = camera
        self.left = sides

    @property
    def waiting(self) -> bool:
        """Shot at least once, more sides to come (the scan job waits meanwhile)."""
        return self.left > 0

    def shoot(self) -> None:
        """One still (CaptureError when the camera cannot take it; nothing is asked
        then, so the clerk may press again); the last one finishes the capture."""
        self.camera.shoot()
        self.left -= 1
        if self.left == 0:
            self.camera.finish()
