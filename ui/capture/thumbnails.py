"""The pages of one material as thumbnails the clerk arranges by keyboard or mouse.

Keys on the list: ←→ choose a page; R turns it a quarter clockwise, Shift+R or L
anticlockwise; Ctrl+← / Ctrl+→ move it earlier or later (dragging does the same); Delete
removes it; M moves it to another material; Enter or Space opens it at 100% to check
it can be read. The list only asks (signals): the panel records the change and shows
the case as it comes back, so what is on screen is always what the log holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QImage, QImageReader, QKeyEvent, QPixmap, QTransform
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem, QWidget

from app.domain.case_pages import PageRef

THUMB = QSize(112, 158)      # an A4 page's proportions; six fit beside the checklist
_INDEX = Qt.ItemDataRole.UserRole
LOW_DPI = QColor("#b00020")


def decode_scaled(jpeg: bytes, box: QSize) -> QImage:
    """``jpeg`` decoded straight to fit ``box`` (the JPEG decoder scales as it reads:
    far cheaper than decoding 1654×2339 pixels and shrinking them). Worker thread."""
    data = QByteArray(jpeg)
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    reader = QImageReader(buffer)
    size = reader.size()
    if size.isValid():
        reader.setScaledSize(size.scaled(box, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    buffer.close()
    return image


def thumbnails_of(page_jpeg: Callable[[str], bytes], hashes: Iterable[str],
                  box: QSize = THUMB) -> dict[str, QImage]:
    """The thumbnails of ``hashes`` (read from the blob store: a worker's job)."""
    return {sha: decode_scaled(page_jpeg(sha), box) for sha in hashes}


def turned(image: QImage, quarter_turns: int) -> QImage:
    if quarter_turns % 4 == 0:
        return image
    return image.transformed(QTransform().rotate(90 * (quarter_turns % 4)),
                             Qt.TransformationMode.SmoothTransformation)


class PageThumbnails(QListWidget):
    turn_requested = Signal(int, int)     # page index, quarter turns clockwise
    remove_requested = Signal(int)
    move_requested = Signal(int)          # to another material (the panel asks which)
    zoom_requested = Signal(int)
    reordered = Signal(list, int)         # the indexes in their new order; where the
                                          # moved page is now

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Snap)
        self.setIconSize(THUMB)
        self.setGridSize(QSize(THUMB.width() + 24, THUMB.height() + 34))
        self.setSpacing(4)
        self.setWordWrap(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.pages: tuple[PageRef, ...] = ()
        self._showing = False
        # A drag ends in a row move of the model: that is the clerk's new order.
        self.model().rowsMoved.connect(self._rows_moved)

    def show_pages(self, pages: tuple[PageRef, ...], images: dict[str, QImage],
                   wanted_dpi: int, current: int = 0) -> None:
        """``pages`` in order; ``images`` the thumbnails known so far (by hash), the
        others drawn blank until they arrive; a page under ``wanted_dpi`` says so in red."""
        self._showing = True
        self.pages = pages
        self.clear()
        for i, page in enumerate(pages):
            item = QListWidgetItem(self._label(i, page, wanted_dpi))
            item.setData(_INDEX, i)
            item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            low = 0 < page.effective_dpi < wanted_dpi
            if low:
                item.setForeground(QBrush(LOW_DPI))
            image = images.get(page.sha256)
            if image is not None and not image.isNull():
                item.setIcon(QIcon(QPixmap.fromImage(turned(image, page.turns))))
            item.setToolTip(page.origin)
            self.addItem(item)
        if pages:
            self.setCurrentRow(max(0, min(current, len(pages) - 1)))
        self._showing = False

    @staticmethod
    def _label(i: int, page: PageRef, wanted_dpi: int) -> str:
        dpi = page.effective_dpi or page.dpi
        low = 0 < page.effective_dpi < wanted_dpi
        return f"第{i + 1}页 {dpi}dpi" + ("偏低" if low else "")

    def current_index(self) -> int | None:
        row = self.currentRow()
        return row if 0 <= row < len(self.pages) else None

    def _rows_moved(self, _parent: QModelIndex, _start: int, _end: int,
                    _dest: QModelIndex, _row: int) -> None:
        if self._showing:
            return
        order = [int(self.item(r).data(_INDEX)) for r in range(self.count())]
        if order != list(range(len(order))):
            self.reordered.emit(order, max(0, self.currentRow()))

    def _shift(self, index: int, by: int) -> None:
        to = index + by
        if 0 <= to < len(self.pages):
            order = list(range(len(self.pages)))
            order.insert(to, order.pop(index))
            self.reordered.emit(order, to)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        index = self.current_index()
        key, mods = event.key(), event.modifiers()
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        if index is not None and not mods & Qt.KeyboardModifier.AltModifier:
            if key == Qt.Key.Key_R and not ctrl:
                self.turn_requested.emit(index, 3 if shift else 1)
                return
            if key == Qt.Key.Key_L and not ctrl:
                self.turn_requested.emit(index, 3)
                return
            if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
                self.remove_requested.emit(index)
                return
            if key == Qt.Key.Key_M and not ctrl:
                self.move_requested.emit(index)
                return
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
                self.zoom_requested.emit(index)
                return
            if ctrl and key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
                self._shift(index, -1 if key == Qt.Key.Key_Left else 1)
                return
        super().keyPressEvent(event)
