"""The catalogue browser: instant search (Chinese, pinyin, initials, code) and detail.

Keyboard: typing searches at once; ↓/↑ move in the results; Enter opens the highlighted
result (the first one if none); Esc goes back from the detail to the search box, and in
the search box clears it.

The search index is loaded in the background and searched in memory on each key; it is
reloaded when the catalogue changes (here or in another process), never polled. Opening
an item reads it in the background too.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QListView,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.catalogue import Bundle, ServiceItem
from app.services.catalogue import CatalogueService, SearchResult
from app.services.search import CatalogueIndex
from ui.catalogue.item_detail import ItemDetail
from ui.events import ChangeEvents
from ui.ops import Operation

ResultRole = Qt.ItemDataRole.UserRole + 1
RESULT_LIMIT = 100
_Index = QModelIndex | QPersistentModelIndex


class SearchResultsModel(QAbstractListModel):
    def __init__(self) -> None:
        super().__init__()
        self._results: list[SearchResult] = []

    def set_results(self, results: list[SearchResult]) -> None:
        self.beginResetModel()
        self._results = results
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._results)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        r = self._results[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            tag = "【一件事】" if r.kind == "bundle" else ""
            return f"{tag}{r.name}\n    {r.department}　{r.code}"
        if role == ResultRole:
            return r
        return None


class _SearchBox(QLineEdit):
    """Forwards ↓/↑ to the results so the clerk never needs the mouse."""

    def __init__(self, results: QListView) -> None:
        super().__init__()
        self._results = results

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up, Qt.Key.Key_PageDown,
                           Qt.Key.Key_PageUp):
            model = self._results.model()
            if model.rowCount() == 0:
                return
            row = self._results.currentIndex().row()
            step = {Qt.Key.Key_Down: 1, Qt.Key.Key_Up: -1, Qt.Key.Key_PageDown: 10,
                    Qt.Key.Key_PageUp: -10}[Qt.Key(event.key())]
            row = max(0, min(model.rowCount() - 1, row + step))
            self._results.setCurrentIndex(model.index(row, 0))
            return
        if event.key() == Qt.Key.Key_Escape and self.text():
            self.clear()
            return
        super().keyPressEvent(event)


class CataloguePanel(QWidget):
    """Page 0: search and results; page 1: the item or bundle detail."""

    index_loaded = Signal()   # a (new) search index is in and the results show it
    opened = Signal()         # the detail page shows what Enter asked for

    def __init__(self, catalogue: CatalogueService, events: ChangeEvents | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._catalogue = catalogue
        self.index: CatalogueIndex | None = None
        self._loading: Operation[CatalogueIndex] | None = None
        self._reload_again = False
        self._opening: Operation[ServiceItem | tuple[Bundle, dict[str, ServiceItem]]] | None = None
        self.model = SearchResultsModel()
        self.results = QListView()
        self.results.setModel(self.model)
        self.results.setUniformItemSizes(True)
        self.results.setSpacing(2)
        self.results.activated.connect(self._open_index)
        self.search = _SearchBox(self.results)
        self.search.setObjectName("search")
        self.search.setPlaceholderText("输入事项名称、拼音或首字母（如 yyzz）、事项编码，回车打开")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._run_search)
        self.search.returnPressed.connect(self._open_current)
        self.count = QLabel("正在载入事项目录…")
        self.count.setObjectName("hint")

        search_page = QWidget()
        layout = QVBoxLayout(search_page)
        layout.addWidget(self.search)
        layout.addWidget(self.count)
        layout.addWidget(self.results, 1)
        self.detail = ItemDetail()
        self.stack = QStackedWidget()
        self.stack.addWidget(search_page)
        self.stack.addWidget(self.detail)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.stack)
        if events is not None:
            events.catalogue_changed.connect(self.reload)
            events.database_changed.connect(self.reload)
        self.reload()

    def reload(self) -> None:
        """Fetch the current search index in the background (kept if unchanged)."""
        if self._loading is not None and not self._loading.done:
            self._reload_again = True   # the change may have come after that read began
            return
        self._loading = Operation(self, self._catalogue.index, self._index_arrived).failure(
            self._index_failed).run()

    def _index_arrived(self, index: CatalogueIndex) -> None:
        if self._reload_again:
            self._reload_again = False
            self.reload()
        if index is self.index:
            return   # the cached snapshot: the clerk's results and selection stay
        self.index = index
        self._run_search(self.search.text())
        self.index_loaded.emit()

    def _index_failed(self, exc: Exception) -> None:
        self.count.setText(f"事项目录无法载入：{exc}")

    def focus_search(self) -> None:
        self.stack.setCurrentIndex(0)
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def _run_search(self, text: str) -> None:
        if self.index is None:
            return   # still loading: the search runs once the index is in
        results = [SearchResult(h.entry.kind, h.entry.code, h.entry.name, h.entry.department,
                                h.rank) for h in self.index.search(text, RESULT_LIMIT)]
        self.model.set_results(results)
        if results:
            self.results.setCurrentIndex(self.model.index(0, 0))
        total = len(self.index)
        if text.strip():
            if len(results) >= RESULT_LIMIT:
                found = f"结果较多，显示最相关的 {RESULT_LIMIT} 项，可再多输入几个字缩小范围"
            elif results:
                found = f"找到 {len(results)} 项"
            else:
                found = f"没有找到与“{text.strip()}”相关的事项，可试试拼音首字母或换个关键词"
            self.count.setText(found)
        else:
            self.count.setText(f"目录共 {total} 项（含一件事），输入关键词筛选")

    def _open_current(self) -> None:
        index = self.results.currentIndex()
        if not index.isValid() and self.model.rowCount() > 0:
            index = self.model.index(0, 0)
        if index.isValid():
            self._open_index(index)

    def _open_index(self, index: QModelIndex) -> None:
        result: SearchResult = index.data(ResultRole)
        catalogue = self._catalogue

        def read() -> ServiceItem | tuple[Bundle, dict[str, ServiceItem]]:
            if result.kind == "bundle":
                bundle = catalogue.bundle(result.code)
                return bundle, catalogue.bundle_items(bundle)
            return catalogue.item(result.code)

        if self._opening is not None:
            self._opening.cancel()   # the clerk chose another one meanwhile: show that
        self._opening = Operation(self, read, self._show).failure(self._open_failed).run()

    def _show(self, found: ServiceItem | tuple[Bundle, dict[str, ServiceItem]]) -> None:
        if isinstance(found, tuple):
            self.detail.show_bundle(*found)
        else:
            self.detail.show_item(found)
        self.stack.setCurrentIndex(1)
        self.detail.setFocus()
        self.opened.emit()

    def _open_failed(self, exc: Exception) -> None:
        # NotFound: the catalogue changed under the list.
        self.count.setText(str(exc))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self.stack.currentIndex() == 1:
            self.focus_search()
            return
        if (event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
                and self.stack.currentIndex() == 0):
            self._open_current()
            return
        super().keyPressEvent(event)
