"""收件受理: from an item chosen in the catalogue to the printed decision notice.

Two pages: the applicant form (the case is opened — numbered — when it is submitted),
then the material checklist with the decision bar. F9 受理/即办, F10 补正, F11 不予受理,
F12 容缺受理 confirm first (with the promised date) and then record the marks and the
decision in one background operation; the decision's notice then opens in the print
preview, where Enter prints it. Every service call goes through :class:`ui.ops.Operation`.

A return visit opens the same panel on an existing case (``case=``), straight at the
checklist with its recorded marks: a 补正 case is marked again and decided as above; a
容缺受理 case takes only its deferred rows (1 已收取), and F9 records them as 容缺补交,
after which its 收件凭证 opens in the preview.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.documents.form import DocumentKind
from app.domain.case import (
    Agent,
    Applicant,
    CaseState,
    CaseStatus,
    Clerk,
    Decision,
    deferred_outstanding,
)
from app.domain.catalogue import ItemKind, Material, ServiceItem
from app.domain.credit import CreditCheck
from app.domain.material_marks import decision_keys, main_decision, ordered_states
from app.services.cases import CaseRuleError
from app.services.deferred_supply import supply_deferred
from app.services.drafts import AcceptanceDraft
from app.workstation import Workstation
from ui.capture.scan_panel import ScanPanel
from ui.documents.print_preview import DocumentPreview
from ui.ops import Operation
from ui.widgets.problems import problems_of
from ui.workbench.applicant_form import ApplicantForm
from ui.workbench.checklist_table import ChecklistTable
from ui.workbench.decision_bar import (
    ConfirmDecision,
    DecisionBar,
    PromisedPreview,
    decision_summary,
    preview_promised,
)

NOTICE_OF = {
    Decision.ACCEPT: DocumentKind.ACCEPTANCE, Decision.ON_THE_SPOT: DocumentKind.ACCEPTANCE,
    Decision.ACCEPT_DEFERRED: DocumentKind.DEFERRED,
    Decision.CORRECTION: DocumentKind.CORRECTION, Decision.REJECT: DocumentKind.REJECTION,
}
CHECKLIST_HINT = ("↑↓ 选择材料　1 已收取　2 缺失　3 有误　4 容缺　5 告知承诺　6 共享获取　"
                  "0 清除　F4/Ctrl+A 其余全部收取　F9 受理　F10 补正　F11 不予受理　F12 容缺受理")

SUPPLY_HINT = ("↑↓ 选择材料　1 已收取　6 共享获取　0 恢复为容缺　F4/Ctrl+A 容缺材料全部收取　"
               "F9 登记补交　Esc 返回事项目录")

DRAFT_DELAY_MS = 1000   # after the last keystroke; the draft is a few hundred bytes

@dataclass(frozen=True)
class Decided:
    case: CaseState            # as it stands after the call (marks recorded at least)
    problems: list[str]        # the decision's refusal; empty when it was taken
    others: tuple[CaseState, ...] = ()   # 一件事: the bundle's other cases, decided too


class AcceptancePanel(QWidget):
    case_opened = Signal(object)   # CaseState
    decided = Signal(object)       # CaseState after the decision
    finished = Signal()            # Esc after the decision: back to the catalogue

    def __init__(self, station: Workstation, clerk: Clerk, item: ServiceItem,
                 scenarios: frozenset[str], parent: QWidget | None = None,
                 today: Callable[[], dt.date] = dt.date.today,
                 draft: AcceptanceDraft | None = None, case: CaseState | None = None,
                 kind: ItemKind | None = None, queue_ticket: str = "") -> None:
        super().__init__(parent)
        self._station = station
        self._clerk = clerk
        self.item = item
        self.scenarios = frozenset(case.scenarios) if case is not None else scenarios
        self._today = today
        self.queue_ticket = queue_ticket   # the 排队号 called for this applicant, if any
        self.case: CaseState | None = None
        self.credit: CreditCheck | None = None
        self.supplying = False        # a 容缺补交 visit: only deferred rows take keys
        self.confirm_supply: QMessageBox | None = None
        self._notices: list[tuple[DocumentKind, str]] = []
        self.preview: DocumentPreview | None = None
        self.confirm: ConfirmDecision | None = None
        self._busy = False
        self._last_reason = ("", "")

        self.title = QLabel(f"收件：{item.name}")
        self.title.setObjectName("title")
        chosen = [s.name for s in item.scenarios if s.id in self.scenarios]
        self._about = (f"{item.department.name}　{item.kind}　承诺时限 {item.promised_limit}"
                       + (f"　办理情形：{'、'.join(chosen)}" if chosen else ""))
        if queue_ticket:
            self._about = f"排队号 {queue_ticket}　{self._about}"
        self.subtitle = QLabel(self._about)
        self.subtitle.setObjectName("subtitle")
        self.subtitle.setWordWrap(True)
        self.credit_label = QLabel()   # 信用核查: the result and the list's age
        self.credit_label.setWordWrap(True)
        self.credit_label.hide()
        folder = station.settings.id_card_folder
        self.form = ApplicantForm(lookup=station.case_list.returning_applicant,
                                  reader_dir=Path(folder).expanduser() if folder else None)
        self.form.submitted.connect(self.open_case)
        # The form is kept as a draft a second after the last keystroke (off the GUI
        # thread), so a crash loses at most that second; opening the case clears it.
        self._draft_timer = QTimer(self)
        self._draft_timer.setSingleShot(True)
        self._draft_timer.setInterval(DRAFT_DELAY_MS)
        self._draft_timer.timeout.connect(self.save_draft)
        self.form.changed.connect(self._draft_timer.start)
        self.table = ChecklistTable()
        self.table.marks_changed.connect(self._marks_changed)
        self.table.refused.connect(self._say_problem)
        self.kind = kind or item.kind   # a 一件事 of 即办件 only is 即办 too
        self.bar = DecisionBar(self.kind)
        self.supply_line = QLabel()
        self.supply_line.setObjectName("title")
        self.supply_line.hide()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.hint = hint = QLabel(CHECKLIST_HINT)
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        # 扫描件 of the material selected in the checklist, beside it (issue 12).
        self.scan_panel = ScanPanel(station, clerk)
        self.scan_panel.case_changed.connect(self._pages_changed)
        self.table.currentCellChanged.connect(self._material_selected)
        checklist_page = QWidget()
        page = QVBoxLayout(checklist_page)
        page.setContentsMargins(0, 0, 0, 0)
        side_by_side = QHBoxLayout()
        side_by_side.addWidget(self.table, 3)
        side_by_side.addWidget(self.scan_panel, 2)
        page.addLayout(side_by_side, 1)
        page.addWidget(hint)
        page.addWidget(self.message)
        page.addWidget(self.bar)
        page.addWidget(self.supply_line)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.form)
        self.stack.addWidget(checklist_page)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)
        layout.addWidget(self.credit_label)
        layout.addWidget(self.stack, 1)
        self.scan_panel.install_keys(checklist_page)
        QWidget.setTabOrder(self.table, self.scan_panel.thumbnails)   # Tab: to the pages

        keys: list[tuple[str, Callable[[], None]]] = [
            ("F4", self.table.mark_all_received)]
        keys += [(dk.key, self._decision_key(dk.decision)) for dk in decision_keys(self.kind)]
        for key, slot in keys:
            shortcut = QShortcut(QKeySequence(key), self, slot)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.form.focus_first()
        if draft is not None:
            self.form.restore(draft.form)
            self.message.setText(f"已恢复上次未完成的收件（保存于 {draft.saved_at.replace('T', ' ')}）")
        if case is not None:
            self._show_case(case, returning=True)

    def save_draft(self) -> None:
        if self.case is not None:
            return
        drafts = self._station.drafts
        draft = AcceptanceDraft(self.subject_code, tuple(sorted(self.scenarios)),
                                self.form.values())
        Operation(self, lambda: drafts.save(draft), lambda _none: None).failure(
            lambda exc: self.message.setText(f"草稿未能保存：{exc}")).run()

    def discard_draft(self) -> None:
        """The clerk gave the form up (or opened the case): nothing to offer back."""
        self._draft_timer.stop()
        drafts = self._station.drafts
        Operation(self, drafts.clear, lambda _none: None).run()

    def _decision_key(self, decision: Decision) -> Callable[[], None]:
        return lambda: self.ask_decision(decision)

    @property
    def checklist_shown(self) -> bool:
        return self.stack.currentIndex() == 1

    def typed_anything(self) -> bool:
        return self.case is None and self.form.typed_anything()

    # -- 1. the applicant: open the case ---------------------------------------------------

    def open_case(self) -> None:
        if self.case is not None or self.form.busy:
            return
        self.form.busy = True
        self.form.clear_problems()
        Operation(self, self._open_work(self.form.applicant(), self.form.agent()),
                  self._opened).failure(self._open_failed).run()

    # The hooks a 一件事 (ui.workbench.bundle_acceptance) answers differently.

    @property
    def subject_code(self) -> str:
        """The item's code (a bundle's, for a 一件事): what a draft is kept under."""
        return self.item.code

    def _open_work(self, applicant: Applicant, agent: Agent | None
                   ) -> Callable[[], list[CaseState]]:
        cases, code, clerk, ticket = (self._station.cases, self.item.code, self._clerk,
                                      self.queue_ticket)
        return lambda: [cases.open_case(code, applicant, clerk, agent=agent,
                                        queue_ticket=ticket)]

    def _checklist(self) -> tuple[Material, ...]:
        return self.item.checklist(self.scenarios)

    def _show_bar(self) -> None:
        self.bar.show_state(self.table.checklist, self.table.marks, self._today(), self.credit)

    def _promised_work(self, decision: Decision) -> Callable[[], PromisedPreview | None]:
        states = ordered_states(self.table.checklist, self.table.marks)
        calendar, limit, today = self._station.calendar, self.item.promised_limit, self._today()
        return lambda: preview_promised(calendar, decision, limit, states, today)

    def _summary(self, decision: Decision, case: CaseState) -> list[str]:
        return decision_summary(decision, case.applicant.name, self.item.name, case.number,
                                self.table.checklist, self.table.marks)

    def _decide_work(self, decision: Decision, reason: str, authority: str
                     ) -> Callable[[], Decided]:
        cases, clerk, case = self._station.cases, self._clerk, self.case
        assert case is not None
        states = ordered_states(self.table.checklist, self.table.marks)
        scenarios = self.scenarios

        def work() -> Decided:
            current = case
            if tuple(states) != current.materials or set(scenarios) != set(current.scenarios):
                current = cases.record_materials(case.id, states, clerk, scenario_ids=scenarios)
            try:
                return Decided(cases.decide(case.id, decision, clerk, reason=reason,
                                            competent_authority=authority), [])
            except CaseRuleError as exc:
                return Decided(current, exc.problems)

        return work

    def _open_failed(self, exc: Exception) -> None:
        self.form.busy = False
        self.form.show_problems(problems_of(exc))

    def _opened(self, opened: list[CaseState]) -> None:
        case = opened[0]
        self.form.busy = False
        self.case = case
        self.discard_draft()   # the applicant is in the case record now
        self._show_case(case)
        self.case_opened.emit(case)

    def _show_case(self, case: CaseState, *, returning: bool = False) -> None:
        """The checklist page for ``case``: just opened, or back for 补正 / 容缺补交."""
        self.case = case
        self.supplying = bool(deferred_outstanding(case))
        deferred = returning and case.decision is Decision.ACCEPT_DEFERRED
        what = ("容缺补交" if self.supplying or deferred
                else "补正后收件" if returning and case.status is CaseStatus.CORRECTION
                else "继续收件" if returning else "收件")
        self.title.setText(f"{what}：{self.item.name}　办件编号 {case.number}")
        self.subtitle.setText(f"申请人：{case.applicant.name}（{case.applicant.id_type} "
                              f"{case.applicant.id_number}）　{self._about}")
        self.table.today = self._today()
        marks = {m.material_id: m for m in case.materials}
        self.table.show_checklist(self._checklist(), marks,
                                  supplying=self.supplying)
        self.hint.setText(SUPPLY_HINT if self.supplying else CHECKLIST_HINT)
        self.bar.setVisible(not self.supplying)
        self.supply_line.setVisible(self.supplying)
        self.stack.setCurrentIndex(1)
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)
        self._show_scans(case)
        self._material_selected(self.table.currentRow())
        self._marks_changed()
        cases, case_id = self._station.cases, case.id
        Operation(self, lambda: cases.credit_facts(case_id), self._show_credit).run()

    def _show_scans(self, case: CaseState) -> None:
        """The scan panel on the checklist shown and the case its rows file into (a
        一件事 hands it every case: ui.workbench.bundle_acceptance)."""
        self.scan_panel.set_checklist(self.table.checklist)
        self.scan_panel.show_case(case)

    def _show_credit(self, check: CreditCheck | None) -> None:
        self.credit = check
        if check is None:
            self.credit_label.hide()
            return
        hit = check.blocking(self._today()) is not None
        self.credit_label.setText(check.summary())
        self.credit_label.setStyleSheet("color: #b00020; font-weight: bold;" if hit
                                        else "color: #555;")
        self.credit_label.show()
        self._marks_changed()

    # -- 2. the checklist -------------------------------------------------------------------

    def _material_selected(self, row: int, *_rest: int) -> None:
        if 0 <= row < len(self.table.checklist):
            self.scan_panel.show_material(self.table.checklist[row].id)

    def _pages_changed(self, case: CaseState) -> None:
        """Pages stored or arranged: the case this panel decides on is that version."""
        if self.case is None or case.version >= self.case.version:
            self.case = case

    def _marks_changed(self) -> None:
        self._show_bar()
        self.scan_panel.set_marks(ordered_states(self.table.checklist, self.table.marks))
        if self.supplying and self.case is not None:
            owed = deferred_outstanding(self.case)
            brought = [m for m in owed if self.table.marks.get(m.material_id) != m]
            self.supply_line.setText(
                f"容缺材料已补交 {len(brought)} / {len(owed)} 项"
                + ("　— 按 F9 登记补交" if brought else "　— 在补交的材料上按 1（已收取）"))
        self.message.clear()

    def _say_problem(self, text: str) -> None:
        self.message.setStyleSheet("color: #b00020;")
        self.message.setText(text)

    # -- 3. the decision --------------------------------------------------------------------

    def ask_decision(self, decision: Decision) -> None:
        if self.case is None or not self.checklist_shown or self._busy:
            return
        if self.supplying:
            if decision is main_decision(self.item.kind):
                self.ask_supply()
            else:
                self._say_problem("本办件已容缺受理，补交时只登记材料：在补交的材料上按 1，再按 F9。")
            return
        if self.case.decision is not None and self.case.status is not CaseStatus.CORRECTION:
            self._say_problem(f"本办件已作出“{self.case.decision}”决定。按 Esc 返回事项目录。")
            return
        if not self.bar.open.get(decision, False):
            self._say_problem(f"不能{decision}：{self.bar.first_problem.get(decision, '')}")
            return
        self._busy = True
        Operation(self, self._promised_work(decision),
                  lambda promised: self._confirm(decision, promised)).failure(self._failed).run()

    def _confirm(self, decision: Decision, promised: PromisedPreview | None) -> None:
        self._busy = False
        assert self.case is not None
        summary = self._summary(decision, self.case)
        unscanned = self.scan_panel.unscanned()
        if unscanned:   # a note, not a refusal: the pages may be scanned after the decision
            summary = [*summary, f"注意：已收取但未扫描：{'、'.join(unscanned)}（可在受理后补扫）"]
        reason, authority = self._last_reason
        self.confirm = ConfirmDecision(decision, summary, promised,
                                       lambda r, a: self.decide(decision, r, a), self,
                                       reason=reason, authority=authority,
                                       repeat=self.case.decision is Decision.CORRECTION)
        self.confirm.open()

    def decide(self, decision: Decision, reason: str = "", authority: str = "") -> None:
        if self.case is None or self._busy:
            return
        self._busy = True
        self._last_reason = (reason, authority)
        work = self._decide_work(decision, reason, authority)
        self.message.setStyleSheet("")
        self.message.setText(f"正在记录“{decision}”决定…")
        Operation(self, work, self._decided).failure(self._failed).run()

    # -- 容缺补交 ---------------------------------------------------------------------------

    def ask_supply(self) -> None:
        assert self.case is not None
        owed = deferred_outstanding(self.case)
        brought = [m.name for m in owed if self.table.marks.get(m.material_id) != m]
        if not brought:
            self._say_problem("没有补交任何容缺材料：在补交的材料上按 1（已收取），再按 F9。")
            return
        still = [m.name for m in owed if self.table.marks.get(m.material_id) == m]
        text = (f"办件 {self.case.number}　申请人 {self.case.applicant.name}\n"
                f"登记补交：{'、'.join(brought)}"
                + (f"\n仍待补交：{'、'.join(still)}" if still else "\n容缺材料全部补齐，办件转为已受理。"))
        box = QMessageBox(QMessageBox.Icon.Question, "确认容缺补交", text,
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setDefaultButton(QMessageBox.StandardButton.Yes)
        box.button(QMessageBox.StandardButton.Yes).setText("登记补交(&Y)")
        box.button(QMessageBox.StandardButton.No).setText("返回(&N)")
        box.accepted.connect(self.supply)
        self.confirm_supply = box
        box.open()

    def supply(self) -> None:
        if self.case is None or self._busy:
            return
        self._busy = True
        cases, clerk, case_id = self._station.cases, self._clerk, self.case.id
        states = ordered_states(self.table.checklist, self.table.marks)
        self.message.setStyleSheet("")
        self.message.setText("正在登记容缺补交…")
        catalogue = self._station.catalogue
        Operation(self, lambda: supply_deferred(cases, catalogue, case_id, states, clerk),
                  self._supplied).failure(self._failed).run()

    def _supplied(self, case: CaseState) -> None:
        self._busy = False
        self._show_case(case, returning=True)
        self.message.setStyleSheet("color: #1e7d32; font-weight: bold;")
        self.message.setText(f"办件 {case.number} 已登记容缺补交，现为“{case.status}”。"
                             "收件凭证已打开预览：Enter 打印，Esc 关闭；再按 Esc 返回事项目录。")
        self.decided.emit(case)
        self.open_notice(DocumentKind.RECEIPT)

    def _failed(self, exc: Exception) -> None:
        self._busy = False
        self._say_problem("；".join(problems_of(exc)))

    def _decided(self, result: Decided) -> None:
        self._busy = False
        self.case = result.case
        self.scan_panel.show_case(result.case)
        if result.problems:
            self._say_problem("不能作出决定：\n" + "\n".join(f"• {p}" for p in result.problems))
            # 一件事: what was decided before the refusal has its notices all the same.
            self._notices = [(NOTICE_OF[c.decision], c.number) for c in result.others
                             if c.decision is not None]
            self._next_notice()
            return
        decided = [c for c in (result.case, *result.others) if c.decision is not None]
        lines = []
        for case in (result.case, *result.others):
            promised = ""
            if case.promised_date is not None:
                estimated = "（估算）" if case.promised_estimated else ""
                promised = f"，承诺办结日期 {case.promised_date:%Y年%m月%d日}{estimated}"
            lines.append(f"办件 {case.number} {case.status}{promised}")
        self.message.setStyleSheet("color: #1e7d32; font-weight: bold;")
        several = "逐份" if len(decided) > 1 else ""
        self.message.setText("；\n".join(lines) + f"。\n通知书已{several}打开预览："
                             "Enter 打印，Esc 关闭；再按 Esc 返回事项目录。")
        self.decided.emit(result.case)
        # One preview at a time: the next opens when the clerk closes this one.
        self._notices = [(NOTICE_OF[c.decision], c.number) for c in decided if c.decision]
        self._next_notice()

    def _next_notice(self) -> None:
        if self._notices:
            self.open_notice(*self._notices.pop(0))

    def open_notice(self, kind: DocumentKind, number: str | None = None) -> None:
        if self.case is None:
            return
        documents, clerk = self._station.documents, self._clerk
        number = number or self.case.number
        self.preview = DocumentPreview(
            documents, clerk, lambda: documents.render_case_document(kind, number, clerk), self)
        self.preview.finished.connect(self._next_notice)
        self.preview.open()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and (self.case is None or self.case.decision):
            self.finished.emit()
            return
        super().keyPressEvent(event)
