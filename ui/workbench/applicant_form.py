"""The applicant form of 收件: who applies (person or organisation) and, optionally, who
acts for them (代理人 / 村代办员).

Keyboard: the name field has the focus; Enter moves to the next field to type in (the
choices are skipped: their defaults fit most cases) and, in the last one, submits;
Ctrl+Enter submits from anywhere. Tab walks every control. A barcode scanner that types
an ID number and Enter just moves on. The services check what was typed; their problems
are shown beside the form (:meth:`show_problems`) and nothing typed is lost.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
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

from app.domain.case import Agent, Applicant, ApplicantKind, IdType

PERSON_ID_TYPES = [t for t in IdType if t is not IdType.USCC]


class ApplicantForm(QWidget):
    submitted = Signal()        # the clerk asked to open the case with what is typed
    problems_shown = Signal()   # the services' problems are beside the form
    changed = Signal()          # anything typed or switched (the draft is saved after it)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
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

        left = QVBoxLayout()
        left.addWidget(self.applicant_box)
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
