"""The decision at the window: which F-key decisions are open now, and the confirmation.

The bar lists F9 受理 (即办 for an 即办件), F10 补正, F11 不予受理, F12 容缺受理, each
with the first thing that blocks it (from the same rule the service applies). The
confirmation shows what will be decided and, for an acceptance, the promised completion
date worked out beforehand (:func:`preview_promised`, in the background); Enter
confirms, Esc goes back to the checklist. 不予受理 asks its reason and, optionally, the
competent authority in the same dialog.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.domain.acceptance import MIN_REASON_LEN
from app.domain.calendar import CalendarNotCovered, estimate_promised_date
from app.domain.case import Decision, MaterialState, MaterialStatus, clock_start
from app.domain.catalogue import ItemKind, Material, TimeLimit
from app.domain.credit import CreditCheck, credit_refusal
from app.domain.material_marks import blocking, decision_keys, ordered_states
from app.services.calendar import CalendarService

_CLOCK_DECISIONS = (Decision.ACCEPT, Decision.ACCEPT_DEFERRED, Decision.ON_THE_SPOT)


@dataclass(frozen=True)
class PromisedPreview:
    day: dt.date
    estimated: bool   # the calendar does not cover that year: a Monday-Friday estimate


def preview_promised(calendar: CalendarService, decision: Decision, limit: TimeLimit,
                     materials: Sequence[MaterialState], today: dt.date) -> PromisedPreview | None:
    """The promised date ``decision`` would give today (as CaseService.decide computes
    it); None for a decision that starts no clock. Reads the calendar: run it off the
    main thread."""
    if decision not in _CLOCK_DECISIONS:
        return None
    start = clock_start(decision, today, materials)
    try:
        return PromisedPreview(calendar.promised_date(start, limit), False)
    except CalendarNotCovered:
        return PromisedPreview(estimate_promised_date(start, limit), True)


class DecisionBar(QGroupBox):
    """Four lines, one per F-key decision: open (green) or what blocks it (grey)."""

    def __init__(self, kind: ItemKind, parent: QWidget | None = None) -> None:
        super().__init__("受理决定（F键作出决定，先确认再记录）", parent)
        self.kind = kind
        grid = QGridLayout(self)
        grid.setColumnStretch(1, 1)
        self.lines: dict[Decision, QLabel] = {}
        self.open: dict[Decision, bool] = {}
        self.first_problem: dict[Decision, str] = {}
        for row, dk in enumerate(decision_keys(kind)):
            line = QLabel("请先登记申请人")
            line.setWordWrap(True)
            grid.addWidget(QLabel(f"<b>{dk.key}</b> {dk.decision}"), row, 0)
            grid.addWidget(line, row, 1)
            self.lines[dk.decision] = line
            self.open[dk.decision] = False

    def show_state(self, checklist: Sequence[Material], marks: Mapping[str, MaterialState],
                   today: dt.date, credit: CreditCheck | None = None) -> None:
        """``credit``: the case's 信用核查, which withholds 容缺 and 告知承诺 from a listed
        applicant (the service refuses them too; the bar says so before the key)."""
        states = ordered_states(checklist, marks)
        self.show_problems({
            dk.decision: blocking(dk.decision, self.kind, checklist, marks, today=today)
            + credit_refusal(credit, dk.decision, states, today)
            for dk in decision_keys(self.kind)})

    def show_problems(self, blocked: Mapping[Decision, list[str]]) -> None:
        """Each decision's line: open, or the first thing that blocks it."""
        for dk in decision_keys(self.kind):
            problems = blocked.get(dk.decision, [])
            self.open[dk.decision] = not problems
            self.first_problem[dk.decision] = problems[0] if problems else ""
            line = self.lines[dk.decision]
            if problems:
                more = f"（另有{len(problems) - 1}项）" if len(problems) > 1 else ""
                line.setText(f"不可：{problems[0]}{more}")
                line.setStyleSheet("color: #777;")
            else:
                line.setText(f"可以 — 按 {dk.key} 确认")
                line.setStyleSheet("color: #1e7d32; font-weight: bold;")


class ConfirmDecision(QDialog):
    """What will be decided; Enter confirms (calls ``confirmed(reason, authority)``)."""

    def __init__(self, decision: Decision, summary: list[str], promised: PromisedPreview | None,
                 confirmed: Callable[[str, str], None], parent: QWidget | None = None, *,
                 reason: str = "", authority: str = "", repeat: bool = False) -> None:
        """``repeat``: a 补正 after an earlier 补正 notice, whose reason is recorded."""
        super().__init__(parent)
        self.setWindowTitle(f"确认{decision}")
        self.setMinimumWidth(560)
        self.decision = decision
        self._confirmed = confirmed
        self._asks_reason = decision is Decision.REJECT or (
            repeat and decision is Decision.CORRECTION)
        heading = QLabel(f"确认作出“{decision}”决定？")
        heading.setObjectName("title")
        body = QLabel("\n".join(summary))
        body.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(body)
        self.promised = QLabel()
        self.promised.setObjectName("title")
        if promised is not None:
            mark = "（日历未覆盖该年，按周一至周五估算）" if promised.estimated else ""
            self.promised.setText(f"承诺办结日期：{promised.day:%Y年%m月%d日}{mark}")
            layout.addWidget(self.promised)
        self.reason = QLineEdit(reason)
        self.authority = QLineEdit(authority)
        if decision is Decision.REJECT:
            form = QFormLayout()
            self.reason.setPlaceholderText("具体理由（将打印在不予受理决定书上）")
            self.authority.setPlaceholderText("不属于本机关职权的，填写应向哪个机关申请（选填）")
            form.addRow("不予受理理由：", self.reason)
            form.addRow("有权机关：", self.authority)
            layout.addLayout(form)
        elif self._asks_reason:
            form = QFormLayout()
            self.reason.setPlaceholderText("本办件已出具过补正通知，写明再次补正的原因（记录在案）")
            form.addRow("再次补正理由：", self.reason)
            layout.addLayout(form)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText(f"确认{decision} (Enter)")
        ok.setDefault(True)
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("返回 (Esc)")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        (self.reason if self._asks_reason else ok).setFocus()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.activateWindow()   # Enter confirms at once, without a click

    def accept(self) -> None:
        reason = self.reason.text().strip()
        if self._asks_reason and len(reason) < MIN_REASON_LEN:
            what = "不予受理" if self.decision is Decision.REJECT else "再次补正"
            self.error.setText(f"请写明{what}的理由（至少{MIN_REASON_LEN}个字）。")
            self.reason.setFocus()
            return
        super().accept()
        self._confirmed(reason, self.authority.text().strip())


def decision_summary(decision: Decision, applicant: str, item: str, number: str,
                     checklist: Sequence[Material],
                     marks: Mapping[str, MaterialState]) -> list[str]:
    """The lines the confirmation shows: who, what, and the materials that matter."""
    lines = [f"办件编号：{number}", f"申请人：{applicant}", f"事项：{item}"]
    counts: dict[MaterialStatus, int] = {}
    for s in marks.values():
        counts[s.status] = counts.get(s.status, 0) + 1
    lines.append("材料：" + "，".join(f"{st}{n}项" for st, n in counts.items()) if counts
                 else "材料：尚未核验")
    if decision is Decision.CORRECTION:
        lacking = [f"  · {st.name}（{st.status}{'：' + st.fault if st.fault else ''}）"
                   for m in checklist if (st := marks.get(m.id)) is not None
                   and st.status in (MaterialStatus.MISSING, MaterialStatus.FAULTY)]
        lines += ["一次性告知补正以下材料：", *lacking]
    if decision is Decision.ACCEPT_DEFERRED:
        later = [f"  · {s.name}，{s.deferred_until}前补交" for s in marks.values()
                 if s.status is MaterialStatus.DEFERRED]
        lines += ["容缺后补：", *later]
    return lines
