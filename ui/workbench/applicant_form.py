"""The applicant form of 收件: who applies (person or organisation) and, optionally, who
acts for them (代理人 / 村代办员).

Keyboard: the name field has the focus; Enter moves to the next field to type in (the
choices are skipped: their defaults fit most cases) and, in the last one, submits;
Ctrl+Enter submits from anywhere. Tab walks every control. A barcode scanner that types
an ID number and Enter just moves on. The services check what was typed; their problems
are shown beside the form (:meth:`show_problems`) and nothing typed is lost.

ID-card readers: one in keyboard mode types the number (sometimes the name and a Tab
first) and Enter wherever the focus is — the number lands in the number field, the name
in the name field, and focus moves on to the first field still empty (see
``id_card_reader``). One that writes a file per card into ``reader_dir``, or a file
dropped on the form, fills name, number and (if empty) address. For an organisation the
card is its legal representative's.

Returning applicants: once a whole number is in (Enter, focus leaving the field, a card
read), ``lookup`` runs in the background; the applicant's last recorded data is shown
masked, and Ctrl+O (调出) copies it into the fields still empty — never over what was typed.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.case import Agent, Applicant, ApplicantKind, IdType, normalise_identity
from app.domain.id_card import CardNumber, IdCardRecord, masked_applicant
from app.domain.identity import IdentityError
from ui.ops import Operation
from ui.workbench.id_card_reader import CardDrops, KeyboardWedge, ReaderFolder, WedgePerson

PERSON_ID_TYPES = [t for t in IdType if t is not IdType.USCC]
RECALL_KEY = "Ctrl+O"   # 调出 (open): F1-F7, F9-F12, Ctrl+F/K/P are the window's
log = logging.getLogger(__name__)
Lookup = Callable[[str], Applicant | None]


class ApplicantForm(QWidget):
    submitted = Signal()        # the clerk asked to open the case with what is typed
    problems_shown = Signal()   # the services' problems are beside the form
    changed = Signal()          # anything typed or switched (the draft is saved after it)

    card_filled = Signal(object)   # IdCardRecord or CardNumber: a card read went into the form
    returning_shown = Signal()     # the lookup answered (found or not) for the number typed

    def __init__(self, parent: QWidget | None = None, *, lookup: Lookup | None = None,
                 reader_dir: Path | None = None) -> None:
        super().__init__(parent)
        self._lookup = lookup
        self._looked_up: tuple[IdType, str] | None = None
        self.returning_applicant: Applicant | None = None
        self.reader_dir = reader_dir
        self.kind = QComboBox()
        for k in ApplicantKind:
            self.kind.addItem(str(k), k)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.name = QLineEdit()
        self.name.setPlaceholderText("姓名或单位名称")
        self.id_type = QComboBox()
        self.id_number = QLineEdit()
        self.id_number.setPlaceholderText("输入或扫描证件号码")
        self.phone = QLineEdit()
        self.phone.setPlaceholderText("手机或固定电话（选填）")
        self.legal_rep = QLineEdit()
        self.legal_rep.setPlaceholderText("法定代表人姓名")
        self.address = QLineEdit()
        self.address.setPlaceholderText("选填")

        self.applicant_box = QGroupBox("申请人")
        self.fields = QFormLayout(self.applicant_box)
        self.fields.addRow("申请人类型(&K)：", self.kind)
        self.fields.addRow("姓名/名称(&N)：", self.name)
        self.fields.addRow("证件类型：", self.id_type)
        self.fields.addRow("证件号码(&I)：", self.id_number)
        self.returning = QLabel()
        self.returning.setWordWrap(True)
        self.returning.setStyleSheet("color: #0b5394;")
        self.recall_button = QPushButton(f"调出 ({RECALL_KEY})")
        self.recall_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)   # the key is the way: no Tab stop
        self.recall_button.clicked.connect(self.recall_returning)
        self.returning_row = QWidget()
        returning_line = QHBoxLayout(self.returning_row)
        returning_line.setContentsMargins(0, 0, 0, 0)
        returning_line.addWidget(self.returning, 1)
        returning_line.addWidget(self.recall_button)
        self.fields.addRow("", self.returning_row)
        self.fields.addRow("联系电话：", self.phone)
        self.fields.addRow("法定代表人：", self.legal_rep)
        self.fields.addRow("地址：", self.address)

        self.has_agent = QCheckBox("由代理人办理（委托）(&G)")
        self.has_agent.toggled.connect(self._agent_toggled)
        self.agent_name = QLineEdit()
        self.agent_id_type = QComboBox()
        for t in PERSON_ID_TYPES:
            self.agent_id_type.addItem(str(t), t)
        self.agent_id_number = QLineEdit()
        self.agent_relation = QLineEdit()
        self.agent_relation.setPlaceholderText("与申请人关系（选填）")
        self.village_agent = QCheckBox("村代办员（记入代办台账）")
        self.agent_box = QGroupBox("代理人")
        agent_fields = QFormLayout(self.agent_box)
        agent_fields.addRow("代理人姓名：", self.agent_name)
        agent_fields.addRow("证件类型：", self.agent_id_type)
        agent_fields.addRow("证件号码：", self.agent_id_number)
        agent_fields.addRow("关系：", self.agent_relation)
        agent_fields.addRow("", self.village_agent)

        self.problems = QLabel()
        self.problems.setObjectName("error")
        self.problems.setWordWrap(True)
        self.problems.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.problems.setMinimumWidth(360)
        self.submit_button = QPushButton("开始收件 (Enter / Ctrl+Enter)")
        self.submit_button.clicked.connect(self.submit)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            shortcut = QShortcut(QKeySequence(keys), self, self.submit)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        for edit in self._edits_all():
            edit.returnPressed.connect(lambda e=edit: self._next_or_submit(e))

        self.card_status = QLabel()
        self.card_status.setWordWrap(True)
        self.card_status.hide()

        left = QVBoxLayout()
        left.addWidget(self.applicant_box)
        left.addWidget(self.card_status)
        left.addWidget(self.has_agent)
        left.addWidget(self.agent_box)
        left.addWidget(self.submit_button, 0, Qt.AlignmentFlag.AlignLeft)
        left.addStretch(1)
        layout = QHBoxLayout(self)
        layout.addLayout(left, 3)
        layout.addWidget(self.problems, 2)
        self._kind_changed()
        self._agent_toggled(False)
        self.busy = False
        for edit in self._edits_all():
            edit.textEdited.connect(self.changed)
        for box in (self.kind, self.id_type, self.agent_id_type):
            box.activated.connect(self.changed)
        for check in (self.has_agent, self.village_agent):
            check.toggled.connect(self.changed)
        self._wire_readers()

    def restore(self, values: dict[str, str | bool]) -> None:
        """Fill the form from a draft (:meth:`values` as it was saved)."""
        def pick(box: QComboBox, text: object) -> None:
            index = box.findText(str(text))
            if index >= 0:
                box.setCurrentIndex(index)

        pick(self.kind, values.get("kind", ""))
        pick(self.id_type, values.get("id_type", ""))
        pick(self.agent_id_type, values.get("agent_id_type", ""))
        for key, edit in (("name", self.name), ("id_number", self.id_number),
                          ("phone", self.phone), ("legal_rep", self.legal_rep),
                          ("address", self.address), ("agent_name", self.agent_name),
                          ("agent_id_number", self.agent_id_number),
                          ("agent_relation", self.agent_relation)):
            value = values.get(key, "")
            edit.setText(value if isinstance(value, str) else "")
        self.has_agent.setChecked(values.get("has_agent") is True)
        self.village_agent.setChecked(values.get("village_agent") is True)
        self.look_up_returning()

    # -- shape --------------------------------------------------------------------------

    @property
    def is_organisation(self) -> bool:
        return self._kind() is ApplicantKind.ORGANISATION

    # Qt hands enum data back as plain str: turn it back into the enum, or the
    # services' ``is IdType.RESIDENT_ID`` would not see a 居民身份证 (no check digit).
    def _kind(self) -> ApplicantKind:
        return ApplicantKind(self.kind.currentData())

    def _id_type(self) -> IdType:
        return IdType(self.id_type.currentData())

    def _kind_changed(self) -> None:
        types = [IdType.USCC] if self.is_organisation else PERSON_ID_TYPES
        self.id_type.clear()
        for t in types:
            self.id_type.addItem(str(t), t)
        self.fields.setRowVisible(self.legal_rep, self.is_organisation)

    def _agent_toggled(self, on: bool) -> None:
        self.agent_box.setVisible(on)

    def _edits_all(self) -> list[QLineEdit]:
        return [self.name, self.id_number, self.phone, self.legal_rep, self.address,
                self.agent_name, self.agent_id_number, self.agent_relation]

    def _edits_in_use(self) -> list[QLineEdit]:
        """The fields Enter walks: the applicant's, the legal representative's for an
        organisation, the agent's when there is one. The address is reached by Tab."""
        edits = [self.name, self.id_number, self.phone]
        if self.is_organisation:
            edits.append(self.legal_rep)
        if self.has_agent.isChecked():
            edits += [self.agent_name, self.agent_id_number]
        return edits

    def _next_or_submit(self, edit: QLineEdit) -> None:
        edits = self._edits_in_use()
        if edit in edits[:-1]:
            edits[edits.index(edit) + 1].setFocus(Qt.FocusReason.TabFocusReason)
        else:
            self.submit()

    def focus_first(self) -> None:
        self.name.setFocus(Qt.FocusReason.OtherFocusReason)

    # -- values -------------------------------------------------------------------------

    def applicant(self) -> Applicant:
        return Applicant(self._kind(), self.name.text(), self._id_type(),
                         self.id_number.text(), self.phone.text(), self.address.text(),
                         self.legal_rep.text() if self.is_organisation else "")

    def agent(self) -> Agent | None:
        if not self.has_agent.isChecked():
            return None
        return Agent(self.agent_name.text(), IdType(self.agent_id_type.currentData()),
                     self.agent_id_number.text(), relation=self.agent_relation.text(),
                     village_agent=self.village_agent.isChecked())

    def values(self) -> dict[str, str | bool]:
        """What is typed, as plain data (kept as a draft while the clerk types)."""
        return {"kind": str(self._kind()), "name": self.name.text(),
                "id_type": str(self._id_type()), "id_number": self.id_number.text(),
                "phone": self.phone.text(), "legal_rep": self.legal_rep.text(),
                "address": self.address.text(), "has_agent": self.has_agent.isChecked(),
                "agent_name": self.agent_name.text(), "agent_id_number": self.agent_id_number.text(),
                "agent_id_type": str(self.agent_id_type.currentData()),
                "agent_relation": self.agent_relation.text(),
                "village_agent": self.village_agent.isChecked()}

    def typed_anything(self) -> bool:
        return any(e.text().strip() for e in self._edits_all())

    # -- the services' answer -------------------------------------------------------------

    def submit(self) -> None:
        if not self.busy:
            self.submitted.emit()

    def show_problems(self, problems: list[str]) -> None:
        """The services' reasons, beside the form; the field they name gets the focus."""
        self.problems.setText("不能开始收件：\n" + "\n".join(f"• {p}" for p in problems))
        text = "".join(problems)
        target = (self.id_number if "申请人证件" in text else
                  self.name if "申请人姓名" in text else
                  self.phone if "电话" in text else
                  self.agent_id_number if "代理人" in text and self.has_agent.isChecked() else
                  None)
        if target is not None:
            target.setFocus(Qt.FocusReason.OtherFocusReason)
            target.selectAll()
        self.problems_shown.emit()

    def clear_problems(self) -> None:
        self.problems.clear()

    # -- ID-card readers ----------------------------------------------------------------------

    def _wire_readers(self) -> None:
        self.fields.setRowVisible(self.returning_row, False)
        self.id_number.editingFinished.connect(self.look_up_returning)
        self.id_number.textChanged.connect(self._number_changed)
        recall = QShortcut(QKeySequence(RECALL_KEY), self, self.recall_returning)
        recall.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        redirects: list[QWidget] = [self.kind, self.id_type, self.has_agent, self.submit_button,
                                    self.agent_id_type, self.village_agent]
        self.wedge = KeyboardWedge(self._edits_all(), redirects, self._wedge_people, self)
        self.wedge.recognised.connect(self._card_typed)
        self.wedge.settled.connect(self._card_settled)
        self.reader: ReaderFolder | None = None
        if self.reader_dir is not None:
            self.reader = ReaderFolder(self.reader_dir, self)
            self.reader.card_read.connect(self.fill_from_card)
            self.reader.refused.connect(self._card_refused)
            self.reader.follow_visibility(self)   # watched while the form is shown
        # Files dropped on the form, or on a field (which would paste their path).
        self.drops = CardDrops([self, *self._edits_all()], self.reader_dir, self)
        self.drops.card_read.connect(self._card_dropped)
        self.drops.refused.connect(self._card_refused)

    def _wedge_people(self) -> list[WedgePerson]:
        if self.is_organisation:
            applicant = WedgePerson(self.legal_rep, None,
                                    other_fields=(self.name, self.phone, self.address))
        else:
            applicant = WedgePerson(self.name, self.id_number, (self.phone,), (self.address,),
                                    (self.kind, self.id_type, self.has_agent, self.submit_button))
        agent = WedgePerson(self.agent_name, self.agent_id_number, (), (self.agent_relation,),
                            (self.agent_id_type, self.village_agent))
        return [applicant, agent]

    def _say(self, text: str, *, error: bool = False) -> None:
        self.card_status.setStyleSheet("color: #b00020;" if error else "color: #1e7d32;")
        self.card_status.setText(text)
        self.card_status.setVisible(bool(text))

    def _card_typed(self, person: WedgePerson, card: CardNumber, by_reader: bool) -> None:
        """A whole card number typed: by a reader anywhere, or by the clerk in its field."""
        if person.id_number is None:
            self._say(f"已读取法定代表人身份证：{person.name.text()}"
                      "（单位的证件号码为统一社会信用代码，身份证号码未填入）")
        else:
            box = self.agent_id_type if person.id_number is self.agent_id_number else self.id_type
            self._pick(box, card.id_type)
            who = "代理人身份证" if box is self.agent_id_type else "身份证"
            name = person.name.text().strip()
            if by_reader:
                self._say(f"已读取{who}：{name}" if name else f"已读取{who}号码，请输入姓名")
            if box is self.id_type:
                self.look_up_returning()
        self.changed.emit()
        if by_reader:
            self.card_filled.emit(card)

    def _card_settled(self, person: WedgePerson) -> None:
        """The wedge's Enter: on to the first field still to type, never submitting."""
        name = person.name.text().strip()
        if name and person.id_number is not None:
            who = "代理人身份证" if person.id_number is self.agent_id_number else "身份证"
            self._say(f"已读取{who}：{name}")
        walk = self._edits_in_use()
        empty = [e for e in walk if not e.text().strip()]
        target = empty[0] if empty else (person.id_number or person.name)
        target.setFocus(Qt.FocusReason.OtherFocusReason)

    @staticmethod
    def _pick(box: QComboBox, value: IdType) -> None:
        index = box.findData(value)
        if index >= 0:
            box.setCurrentIndex(index)

    def fill_from_card(self, card: IdCardRecord, note: str = "") -> None:
        """A card from a reader file: the agent's when the clerk is in the agent's fields,
        the legal representative's for an organisation, else the applicant's."""
        focus = QApplication.focusWidget()
        if self.has_agent.isChecked() and focus is not None \
                and self.agent_box.isAncestorOf(focus):
            if card.name:
                self.agent_name.setText(card.name)
            self._pick(self.agent_id_type, card.id_type)
            self.agent_id_number.setText(card.id_number)
            self._say(f"已读取代理人身份证：{card.name}{note}")
        elif self.is_organisation:
            self.legal_rep.setText(card.name)
            self._say(f"已读取法定代表人身份证：{card.name}{note}")
        else:
            before = self.name.text().strip()
            if card.name:
                self.name.setText(card.name)
            self._pick(self.id_type, card.id_type)
            self.id_number.setText(card.id_number)
            if card.address and not self.address.text().strip():
                self.address.setText(card.address)   # 住址 on the card; a typed one is kept
            replaced = (f"（原填写的“{before}”已替换）"
                        if before and card.name and before != card.name else "")
            self._say(f"已读取身份证：{card.name}{replaced}{note}")
            self.look_up_returning()
        self.changed.emit()
        self.card_filled.emit(card)

    def _card_dropped(self, card: IdCardRecord, path: Path, deleted: bool) -> None:
        self.fill_from_card(card, "" if deleted else
                            f"（原文件 {path.name} 含个人信息，用完请删除）")

    def _card_refused(self, message: str) -> None:
        self._say(f"读卡文件未能使用：{message}", error=True)

    # -- returning applicants -------------------------------------------------------------------

    def _number_changed(self, text: str) -> None:
        if self._looked_up is not None and text.strip() != self._looked_up[1]:
            self._looked_up = None
            self.returning_applicant = None
            self.fields.setRowVisible(self.returning_row, False)

    def look_up_returning(self) -> None:
        """Ask ``lookup`` about the number typed, once per number, off the GUI thread."""
        number, id_type, lookup = self.id_number.text().strip(), self._id_type(), self._lookup
        if lookup is None or not number or self._looked_up == (id_type, number):
            return
        self._looked_up = (id_type, number)

        def work() -> Applicant | None:
            try:   # only a whole, valid number is looked up
                checked = normalise_identity(id_type, number, today=dt.date.today())
            except IdentityError:
                return None
            return lookup(checked)

        Operation(self, work, lambda found: self._returned(number, found)).failure(
            lambda exc: self._returned(number, None, exc)).run()

    def _returned(self, number: str, found: Applicant | None,
                  failure: Exception | None = None) -> None:
        if self.id_number.text().strip() != number:
            return            # the clerk typed on meanwhile: that number has its own lookup
        self.returning_applicant = found
        if failure is not None:   # not worth stopping the clerk for: said, and logged
            log.warning("以往办件查询失败", exc_info=failure)
            self.returning.setText(f"未能查询以往办件：{failure}")
        elif found is not None:
            self.returning.setText(f"曾办理过业务的申请人：{masked_applicant(found)}"
                                   f"　按 {RECALL_KEY} 调出")
        self.recall_button.setVisible(found is not None)
        self.fields.setRowVisible(self.returning_row, found is not None or failure is not None)
        self.returning_shown.emit()

    def recall_returning(self) -> None:
        """调出 (Ctrl+O): the stored phone, address, legal representative (and name, when none
        is typed) into the fields still empty; nothing typed is replaced."""
        found = self.returning_applicant
        if found is None or not self.returning_row.isVisible():
            return
        pairs = [("姓名", self.name, found.name), ("联系电话", self.phone, found.phone),
                 ("地址", self.address, found.address)]
        if self.is_organisation:
            pairs.append(("法定代表人", self.legal_rep, found.legal_representative))
        filled = []
        for label, edit, value in pairs:
            if value and not edit.text().strip():
                edit.setText(value)
                filled.append(label)
        kept = [label for label, edit, value in pairs if value and label not in filled]
        self.returning.setText(
            ("已调出：" + "、".join(filled) if filled else "没有可调出的内容")
            + ("（已填写的" + "、".join(kept) + "未改动）" if kept else ""))
        self.recall_button.hide()
        if filled:
            self.changed.emit()

