"""What the pickup desk shows of a case: read in one background operation, shown in a
box with the applicant's ID masked, and the question asked before 办结 is recorded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QGroupBox,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from app.documents.masking import mask_id
from app.domain.case import CaseState
from app.domain.pickup import DeliveredFacts, DeliveryMethod
from app.workstation import Workstation


@dataclass(frozen=True)
class PickupView:
    """What the desk shows of one case, read in one background operation."""

    case: CaseState
    delivered: DeliveredFacts | None


def read_pickup_view(station: Workstation, ref: str) -> PickupView:
    """The case (proved against its log) and its hand-over, if any. Reads: off the GUI
    thread."""
    case = station.documents.verified_case(ref)
    return PickupView(case, station.pickup.delivery_facts(case.id))


def delivered_text(facts: DeliveredFacts) -> str:
    d = facts.delivery
    when = f"{facts.at:%Y-%m-%d %H:%M}"
    if d.method is DeliveryMethod.MAIL:
        to = f"寄给 {d.recipient}，" if d.recipient else ""
        return f"已于 {when} 邮寄送达：{to}{d.carrier} 运单号 {d.tracking}（经办人 {facts.clerk_name}）"
    who = f"{d.recipient}（{mask_id(d.id_number)}）"
    how = "本人领取" if d.method is DeliveryMethod.IN_PERSON else f"代领，{d.relation or '关系未登记'}"
    return f"已于 {when} 由 {who} {how}（经办人 {facts.clerk_name}）"


class CaseSummary(QGroupBox):
    """Number, status, item, applicant, promised date, agent and the hand-over, if any."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("办件", parent)
        grid = QGridLayout(self)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        self.fields: dict[str, QLabel] = {}
        for name, label, row, col, span in (
                ("number", "办件编号", 0, 0, 1), ("status", "状态", 0, 2, 1),
                ("item", "事项", 1, 0, 3), ("applicant", "申请人", 2, 0, 1),
                ("promised", "承诺办结", 2, 2, 1), ("agent", "代理人", 3, 0, 3),
                ("delivered", "出件记录", 4, 0, 3)):
            value = QLabel()
            value.setTextFormat(Qt.TextFormat.PlainText)   # names are data, not markup
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            grid.addWidget(QLabel(f"{label}："), row, col)
            grid.addWidget(value, row, col + 1, 1, span)
            self.fields[name] = value
        self.fields["status"].setStyleSheet("font-weight: bold;")
        self.clear()

    def clear(self) -> None:
        for value in self.fields.values():
            value.clear()
        self.setEnabled(False)

    def show_view(self, view: PickupView) -> None:
        case, a, f = view.case, view.case.applicant, self.fields
        f["number"].setText(case.number)
        f["status"].setText(str(case.status))
        f["item"].setText(case.item_name)
        f["applicant"].setText(f"{a.name}　{a.id_type} {mask_id(a.id_number)}")
        estimated = "（估算）" if case.promised_estimated else ""
        f["promised"].setText(f"{case.promised_date:%Y-%m-%d}{estimated}"
                              if case.promised_date else "—")
        agent = case.agent
        f["agent"].setText("—" if agent is None else
                           f"{agent.name}　{mask_id(agent.id_number)}"
                           + (f"　{agent.relation}" if agent.relation else "")
                           + ("　村代办员" if agent.village_agent else ""))
        f["delivered"].setText(delivered_text(view.delivered) if view.delivered else "尚未出件")
        self.setEnabled(True)


class ConfirmCompletion(QDialog):
    """办结 asked once more: Enter records it, Esc goes back."""

    def __init__(self, case: CaseState, confirmed: Callable[[], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("记录办结")
        self.setMinimumWidth(480)
        text = QLabel(f"办件 {case.number}（{case.item_name}，{case.applicant.name}）"
                      "的办理结果已送到窗口，记录为“已办结”？\n记录后即可出件。")
        text.setWordWrap(True)
        buttons = QDialogButtonBox()
        self.ok = buttons.addButton("记录办结 (Enter)", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton("取消 (Esc)", QDialogButtonBox.ButtonRole.RejectRole)
        self.ok.setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.accepted.connect(confirmed)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)   # one per F5
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(buttons)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.activateWindow()   # Enter answers at once, without a click
        self.ok.setFocus(Qt.FocusReason.ActiveWindowFocusReason)
