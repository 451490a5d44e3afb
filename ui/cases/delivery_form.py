"""The hand-over form of 出件: how the result leaves the window and who receives it.

Three ways, chosen by 1 / 2 / 3 on the method buttons (Alt+1/2/3 from a field):
本人领取 (the applicant's ID number typed or scanned), 代领 (the proxy's name, ID number
and relation, and the 授权委托书 seen), 邮寄送达 (addressee, address, carrier and tracking
number). Only the chosen way's fields are shown, so Tab walks only those. Enter moves
to the next field and, on the last one, asks for the hand-over (:attr:`submitted`); a
scanner that types an ID or a waybill number and Enter just moves on. The pickup desk
service checks everything; its refusals are shown beside the form and nothing typed is
lost.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.documents.masking import mask_id
from app.domain.case import CaseState, IdType
from app.domain.pickup import Delivery, DeliveryMethod

METHODS = (DeliveryMethod.IN_PERSON, DeliveryMethod.PROXY, DeliveryMethod.MAIL)
METHOD_KEYS = {Qt.Key.Key_1: 0, Qt.Key.Key_2: 1, Qt.Key.Key_3: 2}
# The carriers a township centre posts results with; any other can be typed.
CARRIERS = ("中国邮政EMS", "中国邮政", "顺丰速运", "京东物流", "中通快递", "圆通速递",
            "韵达快递", "申通快递", "极兔速递")
PERSON_ID_TYPES = [t for t in IdType if t is not IdType.USCC]


def _page(*rows: tuple[str, QWidget]) -> QWidget:
    page = QWidget()
    fields = QFormLayout(page)
    fields.setContentsMargins(0, 0, 0, 0)
    for label, widget in rows:
        fields.addRow(label, widget)
    return page


class DeliveryForm(QWidget):
    submitted = Signal()        # Enter on the last field: record the hand-over
    problems_shown = Signal()   # the service's refusals are beside the form

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # No "&" mnemonic: the panel's Alt+1/2/3 also moves into the first field.
        self.radios = [QRadioButton(f"{n} {m}") for n, m in enumerate(METHODS, start=1)]
        self.group = QButtonGroup(self)
        methods = QHBoxLayout()
        for index, radio in enumerate(self.radios):
            self.group.addButton(radio, index)
            methods.addWidget(radio)
        methods.addStretch(1)

        # 本人领取
        self.applicant_hint = QLabel()
        self.applicant_hint.setWordWrap(True)
        self.own_id = QLineEdit()
        self.own_id.setPlaceholderText("扫描或输入申请人本人证件号码")
        in_person = _page(("核对：", self.applicant_hint), ("证件号码(&I)：", self.own_id))
        # 代领
        self.proxy_name = QLineEdit()
        self.proxy_name.setPlaceholderText("代领人姓名")
        self.proxy_id_type = QComboBox()
        for t in PERSON_ID_TYPES:
            self.proxy_id_type.addItem(str(t), t)
        self.proxy_id = QLineEdit()
        self.proxy_id.setPlaceholderText("扫描或输入代领人证件号码")
        self.relation = QLineEdit()
        self.relation.setPlaceholderText("与申请人关系（选填）")
        self.letter = QCheckBox("已查验申请人签署的授权委托书（空格勾选，Enter 出件）")
        self.agent_hint = QLabel()
        self.agent_hint.setObjectName("hint")
        self.agent_hint.setWordWrap(True)
        proxy = _page(("代领人姓名(&N)：", self.proxy_name), ("证件类型：", self.proxy_id_type),
                      ("证件号码：", self.proxy_id), ("关系：", self.relation),
                      ("", self.letter), ("", self.agent_hint))
        # 邮寄送达
        self.addressee = QLineEdit()
        self.address = QLineEdit()
        self.carrier = QComboBox()
        self.carrier.setEditable(True)
        # Typed carriers are used as typed, not added to the list for the next case.
        self.carrier.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.carrier.addItems(CARRIERS)
        self.tracking = QLineEdit()
        self.tracking.setPlaceholderText("扫描或输入运单号")
        mail = _page(("收件人：", self.addressee), ("收件地址：", self.address),
                     ("快递公司：", self.carrier), ("运单号(&T)：", self.tracking))

        self.pages = QStackedWidget()
        for page in (in_person, proxy, mail):
            self.pages.addWidget(page)
        self._edits = [[self.own_id], [self.proxy_name, self.proxy_id, self.relation],
                       [self.addressee, self.address, self._carrier_edit(), self.tracking]]
        for edits in self._edits:
            for edit in edits:
                edit.returnPressed.connect(lambda e=edit: self._next_or_submit(e))

        self.box = QGroupBox("出件方式（1 本人领取　2 代领　3 邮寄送达；输入时 Alt+数字）")
        inner = QVBoxLayout(self.box)
        inner.addLayout(methods)
        inner.addWidget(self.pages)
        self.problems = QLabel()
        self.problems.setObjectName("error")
        self.problems.setWordWrap(True)
        self.problems.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.problems.setMinimumWidth(320)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.box, 3)
        layout.addWidget(self.problems, 2)
        self.group.idToggled.connect(self._method_toggled)
        for radio in self.radios[1:]:
            radio.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.radios[0].setChecked(True)

    def _carrier_edit(self) -> QLineEdit:
        edit = self.carrier.lineEdit()
        assert edit is not None   # the combo is editable
        return edit

    # -- the method ---------------------------------------------------------------------

    @property
    def method(self) -> DeliveryMethod:
        return METHODS[self.group.checkedId()]

    def choose(self, index: int) -> None:
        """Method ``index`` (0 本人, 1 代领, 2 邮寄), and the focus to its first field."""
        self.radios[index].setChecked(True)
        self.focus_first_field()

    def _method_toggled(self, index: int, on: bool) -> None:
        # Tab stops at the chosen method only (Qt would stop at the group's first button);
        # the others are a key or a click away.
        self.radios[index].setFocusPolicy(Qt.FocusPolicy.StrongFocus if on
                                          else Qt.FocusPolicy.ClickFocus)
        if on:
            self.pages.setCurrentIndex(index)
            self.clear_problems()

    def focus_method(self) -> None:
        self.radios[self.group.checkedId()].setFocus(Qt.FocusReason.OtherFocusReason)

    def focus_first_field(self) -> None:
        self._edits[self.group.checkedId()][0].setFocus(Qt.FocusReason.OtherFocusReason)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # Keys the method buttons and the letter box leave unhandled arrive here. Digits
        # choose the method only on the buttons: in a field they are typed.
        here = QApplication.focusWidget()
        key = Qt.Key(event.key())
        if here in self.radios and key in METHOD_KEYS:
            self.choose(METHOD_KEYS[key])
        elif here in self.radios and key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.focus_first_field()
        elif here is self.letter and key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.submitted.emit()   # the box is the proxy page's last stop
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def _next_or_submit(self, edit: QLineEdit) -> None:
        edits = self._edits[self.group.checkedId()]
        if edit is edits[-1] and self.method is DeliveryMethod.PROXY:
            self.letter.setFocus(Qt.FocusReason.TabFocusReason)   # to be ticked, not skipped
        elif edit is edits[-1]:
            self.submitted.emit()
        elif edit in edits:
            edits[edits.index(edit) + 1].setFocus(Qt.FocusReason.TabFocusReason)

    # -- the case and the values ----------------------------------------------------------

    def show_case(self, case: CaseState) -> None:
        """Hints from the case: whose ID to check, who filed it, where the post goes."""
        a = case.applicant
        self.applicant_hint.setText(f"{a.name}　{a.id_type} {mask_id(a.id_number)}"
                                    "　（请核对身份证件原件）")
        self.agent_hint.setText(
            f"办理时的代理人 {case.agent.name}（{mask_id(case.agent.id_number)}）已登记委托，"
            "本人代领无须再查验委托书。" if case.agent is not None else "")
        self.addressee.setPlaceholderText(f"默认：申请人 {a.name}")
        self.address.setPlaceholderText(f"默认：{a.address}" if a.address.strip()
                                        else "申请人未登记地址，须填写")

    def delivery(self) -> Delivery:
        method = self.method
        if method is DeliveryMethod.IN_PERSON:
            # Name and ID type are the applicant's: the service records them.
            return Delivery(method, id_number=self.own_id.text())
        if method is DeliveryMethod.PROXY:
            # Qt hands enum data back as a plain str: made an IdType again.
            return Delivery(method, self.proxy_name.text().strip(),
                            IdType(self.proxy_id_type.currentData()), self.proxy_id.text(),
                            proxy_letter=self.letter.isChecked(),
                            relation=self.relation.text().strip())
        return Delivery(method, self.addressee.text().strip(),
                        carrier=self.carrier.currentText().strip(),
                        tracking=self.tracking.text().strip(),
                        address=self.address.text().strip())

    def clear(self) -> None:
        """Empty for the next case, back to 本人领取."""
        for edits in self._edits:
            for edit in edits:
                if edit is not self._carrier_edit():
                    edit.clear()
        self.carrier.setCurrentIndex(0)
        self.proxy_id_type.setCurrentIndex(0)
        self.letter.setChecked(False)
        self.radios[0].setChecked(True)
        self.clear_problems()

    # -- the service's answer -------------------------------------------------------------

    def show_problems(self, problems: list[str]) -> None:
        """The refusals beside the form; the field they name gets the focus, selected."""
        self.problems.setText("不能出件：\n" + "\n".join(f"• {p}" for p in problems))
        text = "".join(problems)
        method = self.method
        target: QWidget | None = None
        if method is DeliveryMethod.IN_PERSON:
            target = self.own_id
        elif method is DeliveryMethod.PROXY:
            target = (self.proxy_name if "姓名" in text and not self.proxy_name.text().strip()
                      else self.proxy_id if "证件" in text or "本人" in text
                      else self.letter if "委托书" in text else None)
        elif "运单号" in text or "快递公司" in text:
            target = self._carrier_edit() if not self.carrier.currentText().strip() \
                else self.tracking
        elif "地址" in text:
            target = self.address
        if target is not None:
            target.setFocus(Qt.FocusReason.OtherFocusReason)
            if isinstance(target, QLineEdit):
                target.selectAll()   # the next scan replaces it
        self.problems_shown.emit()

    def clear_problems(self) -> None:
        self.problems.clear()
