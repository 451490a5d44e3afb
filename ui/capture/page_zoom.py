"""One page at full size, to check it can be read before the paper goes back.

Opens at 100% (one image pixel per screen pixel: a 200-dpi page shows its text as the
scanner caught it). Keys: arrows and PgUp/PgDn scroll, + and - zoom, 0 or F fits the
page to the window, 1 returns to 100%, Esc closes. The JPEG is decoded off the GUI
thread; the clerk's quarter turns are applied as the PDF will apply them.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QKeyEvent, QPixmap, QShowEvent
from PySide6.QtWidgets import QDialog, QLabel, QScrollArea, QVBoxLayout, QWidget

from app.domain.case_pages import PageRef
from ui.capture.thumbnails import turned
from ui.ops import Operation

ZOOMS = (0.25, 0.33, 0.5, 0.67, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0)


def decode(jpeg: bytes) -> QImage:
    return QImage.fromData(jpeg)


class PageZoom(QDialog):
    def __init__(self, page: PageRef, title: str, page_jpeg: Callable[[str], bytes],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"查看：{title}")
        self.page = page
        self.image: QImage | None = None
        self.zoom = 1.0
        self.fitted = False
        self.picture = QLabel("正在打开页面…")
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.view = QScrollArea()
        self.view.setWidget(self.picture)
        self.view.setWidgetResizable(False)
        self.view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.view.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.status = QLabel()
        self.status.setObjectName("hint")
        hint = QLabel("方向键、PgUp/PgDn 滚动　+ 放大　- 缩小　F 或 0 适合窗口　1 原大(100%)　"
                      "Esc 关闭")
        hint.setObjectName("hint")
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.status)
        layout.addWidget(hint)
        self.resize(1100, 760)
        sha = page.sha256
        Operation(self, lambda: decode(page_jpeg(sha)), self._decoded).failure(
            lambda exc: self.picture.setText(f"页面无法打开：{exc}")).run()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.view.setFocus()

    def _decoded(self, image: QImage) -> None:
        if image.isNull():
            self.picture.setText("页面图像已损坏，无法显示；请重扫此页。")
            return
        self.image = turned(image, self.page.turns)
        self._show()
        # Reading starts at the page's top left, not wherever the middle falls.
        self.view.horizontalScrollBar().setValue(0)
        self.view.verticalScrollBar().setValue(0)

    @property
    def shown_scale(self) -> float:
        """What one image pixel is on screen now (1.0 at 100%)."""
        if self.image is None or not self.fitted:
            return self.zoom
        view = self.view.viewport().size()
        return float(min(view.width() / self.image.width(),
                         view.height() / self.image.height()))

    def _show(self) -> None:
        if self.image is None:
            return
        scale = self.shown_scale
        width = max(1, round(self.image.width() * scale))
        height = max(1, round(self.image.height() * scale))
        pixmap = QPixmap.fromImage(self.image)
        if scale != 1.0:
            pixmap = pixmap.scaled(width, height, Qt.AspectRatioMode.KeepAspectRatio,
                                   Qt.TransformationMode.SmoothTransformation)
        self.picture.setPixmap(pixmap)
        self.picture.resize(pixmap.size())
        p = self.page
        dpi = p.effective_dpi or p.dpi
        self.status.setText(f"{round(scale * 100)}%　{p.width}×{p.height} 像素　{dpi} dpi　"
                            f"{'彩色' if p.colour else '灰度'}　{p.size // 1024} KB　{p.origin}")

    def set_zoom(self, zoom: float) -> None:
        self.fitted = False
        self.zoom = zoom
        self._show()

    def fit(self) -> None:
        self.fitted = True
        self._show()

    def _step(self, up: bool) -> None:
        now = self.shown_scale
        bigger = [z for z in ZOOMS if z > now + 1e-3]
        smaller = [z for z in ZOOMS if z < now - 1e-3]
        if up and bigger:
            self.set_zoom(bigger[0])
        elif not up and smaller:
            self.set_zoom(smaller[-1])

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self._step(True)
        elif key in (Qt.Key.Key_Minus, Qt.Key.Key_Underscore):
            self._step(False)
        elif key in (Qt.Key.Key_0, Qt.Key.Key_F):
            self.fit()
        elif key == Qt.Key.Key_1:
            self.set_zoom(1.0)
        else:
            super().keyPressEvent(event)
