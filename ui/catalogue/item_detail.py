"""The detail page of a service item or a bundle: facts, conditions, material list."""

from __future__ import annotations

from itertools import pairwise

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QFocusEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.catalogue import Bundle, BundleMaterial, Material, ServiceItem
from ui.widgets.tables import keyboard_rows, read_only_cell

MATERIAL_COLUMNS = ("序号", "材料名称", "形式", "份数", "必要性", "来源", "容缺", "告知承诺", "说明")


class MaterialTable(QTableWidget):
    """Read-only table of materials in checklist order.

    One Tab stop: arrows move inside it, Tab leaves it (a table's default is Tab from
    cell to cell, which kept the keyboard in it for ever).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(MATERIAL_COLUMNS), parent)
        keyboard_rows(self, MATERIAL_COLUMNS, stretch=(1, 8))
        # Wrapped rows take their height from the column widths, which settle only once
        # the table is laid out: follow every width change.
        self.horizontalHeader().sectionResized.connect(lambda *_: self.resizeRowsToContents())

    def focusInEvent(self, event: QFocusEvent) -> None:
        # Reached by Tab, show where the arrows start: the faint cell frame alone was
        # easy to miss.
        super().focusInEvent(event)
        if self.rowCount() and not self.selectionModel().hasSelection():
            # Not selectRow(): inside the Tab key's event it takes the key for a move
            # and selects nothing.
            flags = QItemSelectionModel.SelectionFlag
            self.selectionModel().setCurrentIndex(
                self.model().index(max(self.currentRow(), 0), 0),
                flags.ClearAndSelect | flags.Rows)

    def show_materials(self, materials: list[Material],
                       item_names: list[str] | None = None) -> None:
        """Fill the table; ``item_names`` adds a 涉及事项 column (bundles)."""
        columns = [*MATERIAL_COLUMNS, *(["涉及事项"] if item_names is not None else [])]
        self.setColumnCount(len(columns))
        self.setHorizontalHeaderLabels(columns)
        if item_names is not None:
            self.horizontalHeader().setSectionResizeMode(
                len(columns) - 1, QHeaderView.ResizeMode.Stretch)
        self.setRowCount(len(materials))
        for row, m in enumerate(materials):
            note = m.note or (f"空白表：{m.template}" if m.template else "")
            values = [str(row + 1), m.name, str(m.form), str(m.copies), str(m.necessity),
                      str(m.source), "可容缺" if m.deferrable else "",
                      "可承诺" if m.commitment else "", note]
            if item_names is not None:
                values.append(item_names[row])
            for col, value in enumerate(values):
                self.setItem(row, col, read_only_cell(value, center=col in (0, 3, 6, 7)))
        self.resizeRowsToContents()


class ItemDetail(QWidget):
    """Shows one item (with its scenario switches) or one bundle's merged list.

    Tab walks the page in reading order: the 办理情形 switches, the material table, the
    print button (see :meth:`_order_tabs`).
    """

    # (item or bundle code, chosen scenario ids): print its 一次性告知单
    print_requested = Signal(str, frozenset)
    # (the ServiceItem shown, chosen scenario ids): start 收件 of a case for it (F3)
    accept_requested = Signal(object, frozenset)
    # (the Bundle shown, its items by code): start 收件 of a 一件事 (F3)
    bundle_accept_requested = Signal(object, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel()
        self.title.setObjectName("title")
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.subtitle = QLabel()
        self.subtitle.setObjectName("subtitle")
        self.subtitle.setWordWrap(True)
        self.subtitle.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.facts = QGridLayout()
        self.facts.setColumnStretch(1, 1)
        self.facts.setColumnStretch(3, 1)
        self.conditions = QLabel()
        self.conditions.setWordWrap(True)
        self.scenario_box = QGroupBox("办理情形（勾选后材料清单随之变化）")
        self.scenario_layout = QHBoxLayout(self.scenario_box)
        self.materials_box = QGroupBox("申请材料")
        self.materials = MaterialTable()
        QVBoxLayout(self.materials_box).addWidget(self.materials)
        hint = QLabel("F3 收件　Ctrl+P 打印一次性告知单　Esc 返回搜索")
        hint.setObjectName("hint")
        self.print_button = QPushButton("打印一次性告知单 (Ctrl+P)")
        self.print_button.clicked.connect(self.request_print)
        shortcut = QShortcut(QKeySequence("Ctrl+P"), self, self.request_print)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.accept_button = QPushButton("收件 (F3)")
        self.accept_button.clicked.connect(self.request_acceptance)
        accept_key = QShortcut(QKeySequence("F3"), self, self.request_acceptance)
        accept_key.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        bottom = QHBoxLayout()
        bottom.addWidget(hint, 1)
        bottom.addWidget(self.accept_button)
        bottom.addWidget(self.print_button)

        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)
        layout.addLayout(self.facts)
        layout.addWidget(self.conditions)
        layout.addWidget(self.scenario_box)
        layout.addWidget(self.materials_box, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        # Not a Tab stop of its own: it shows no focus mark, so Tab would seem to do
        # nothing; it still scrolls to whichever control Tab reaches.
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        scroll.setWidget(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        outer.addLayout(bottom)
        self._item: ServiceItem | None = None
        self._bundle: tuple[Bundle, dict[str, ServiceItem]] | None = None
        self._code = ""
        self._checks: list[QCheckBox] = []

    def _clear_facts(self) -> None:
        while self.facts.count():
            taken = self.facts.takeAt(0)
            widget = taken.widget() if taken is not None else None
            if widget is not None:
                # Hide at once: deleteLater only runs when control returns to the loop.
                widget.hide()
                widget.deleteLater()

    def _fact(self, index: int, label: str, value: str) -> None:
        row, col = divmod(index, 2)
        name = QLabel(f"{label}：")
        name.setObjectName("hint")
        text = QLabel(value or "—")
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.facts.addWidget(name, row, col * 2, Qt.AlignmentFlag.AlignTop)
        # Top-aligned like its label: beside a long wrapped neighbour (设定依据) a
        # centred value drifted away from its label.
        self.facts.addWidget(text, row, col * 2 + 1, Qt.AlignmentFlag.AlignTop)

    def _clear_scenarios(self) -> None:
        for check in self._checks:
            self.scenario_layout.removeWidget(check)
            check.hide()
            check.deleteLater()
        self._checks = []

    def _order_tabs(self) -> None:
        """Switches, table, button: the switches are made per item, after the table
        and the button, and Qt would put new widgets last in the Tab chain."""
        chain: list[QWidget] = [self, *self._checks, self.materials, self.accept_button,
                                self.print_button]
        for before, after in pairwise(chain):
            QWidget.setTabOrder(before, after)

    @property
    def shown(self) -> ServiceItem | Bundle | None:
        """The item or bundle on the page (None before the first one is opened)."""
        return self._item if self._item is not None else (
            self._bundle[0] if self._bundle is not None else None)

    def request_print(self) -> None:
        if self._code:
            self.print_requested.emit(self._code, self.selected_scenarios())

    def request_acceptance(self) -> None:
        if self._item is not None:
            self.accept_requested.emit(self._item, self.selected_scenarios())
        elif self._bundle is not None:
            self.bundle_accept_requested.emit(*self._bundle)

    def show_item(self, item: ServiceItem) -> None:
        self._item = item
        self._bundle = None
        self._code = item.code
        self.accept_button.setEnabled(True)
        self.title.setText(item.name)
        self.subtitle.setText(f"{item.department.name}　事项编码 {item.code}（版本 {item.version}）")
        self._clear_facts()
        facts = [
            ("事项类型", str(item.category)), ("层级", str(item.level)),
            ("办件类型", str(item.kind)), ("承诺时限", str(item.promised_limit)),
            ("法定时限", str(item.legal_limit)), ("收费", str(item.fee)),
            ("到现场次数", f"{item.visits}次"), ("网上办理", "可网办" if item.online else "否"),
            ("办理地点", item.place), ("办理时间", item.hours), ("咨询电话", item.phone),
            ("设定依据", item.basis),
        ]
        if item.keywords:
            facts.append(("常用简称", "、".join(item.keywords)))
        for index, (label, value) in enumerate(facts):
            self._fact(index, label, value)
        self.conditions.setText(f"受理条件：{item.conditions}" if item.conditions else "")
        self.conditions.setVisible(bool(item.conditions))
        self._clear_scenarios()
        for scenario in item.scenarios:
            check = QCheckBox(scenario.name)
            check.setProperty("scenario_id", scenario.id)
            check.toggled.connect(self._refresh_materials)
            self.scenario_layout.addWidget(check)
            self._checks.append(check)
        self.scenario_box.setVisible(bool(item.scenarios))
        self.materials_box.setTitle("申请材料")
        self._order_tabs()
        self._refresh_materials()

    def selected_scenarios(self) -> frozenset[str]:
        return frozenset(str(c.property("scenario_id")) for c in self._checks if c.isChecked())

    def _refresh_materials(self) -> None:
        if self._item is not None:
            materials = list(self._item.checklist(self.selected_scenarios()))
            self.materials.show_materials(materials)
            self.materials_box.setTitle(f"申请材料（{len(materials)}项）")

    def show_bundle(self, bundle: Bundle, items: dict[str, ServiceItem]) -> None:
        self._item = None
        self._bundle = (bundle, items)
        self._code = bundle.code
        self.accept_button.setEnabled(True)
        self.title.setText(f"【一件事】{bundle.name}")
        self.subtitle.setText(f"一件事一次办　编码 {bundle.code}")
        self._clear_facts()
        for index, code in enumerate(bundle.item_codes):
            item = items[code]
            self._fact(index, f"事项{index + 1}",
                       f"{item.name}（{item.department.name}，{item.kind}，{item.promised_limit}）")
        self.conditions.setText(bundle.description)
        self.conditions.setVisible(bool(bundle.description))
        self._clear_scenarios()
        self.scenario_box.setVisible(False)
        self._order_tabs()
        merged: tuple[BundleMaterial, ...] = bundle.merged_materials(items)
        names = ["、".join(items[c].name for c in bm.item_codes) for bm in merged]
        self.materials.show_materials([bm.material for bm in merged], names)
        self.materials_box.setTitle(f"合并材料清单（{len(merged)}项，相同材料只收一次）")
