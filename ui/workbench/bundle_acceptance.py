"""收件受理 of a 一件事: one applicant, one merged checklist, one case per item.

The same two pages and keys as :class:`AcceptancePanel`; what differs is answered by
its hooks: the cases are opened together (``open_bundle``), the merged list is marked
once and recorded on every item that asks for a material, and one F-key decides every
item as :mod:`app.domain.bundle_acceptance` says. The notices then open one after the
other. A later 补正 or 容缺补交 is done per case (F5 and its number).

The scan panel files a merged row's pages into every case that asks for the material,
under that case's own id for it (:func:`ui.capture.page_targets.bundle_targets`), and
makes each edit on all of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from PySide6.QtWidgets import QWidget

from app.domain.bundle_acceptance import (
    bundle_blocking,
    bundle_kind,
    item_decisions,
    item_states,
    merged_checklist,
)
from app.domain.case import (
    DECIDABLE,
    Agent,
    Applicant,
    CaseState,
    Clerk,
    Decision,
    MaterialState,
)
from app.domain.catalogue import Bundle, Material, ServiceItem
from app.domain.material_marks import decision_keys
from app.services.cases import CaseRuleError
from app.services.drafts import AcceptanceDraft
from app.services.intake import credit_precheck, precheck
from app.workstation import Workstation
from ui.capture.page_targets import bundle_targets
from ui.workbench.acceptance import AcceptancePanel, Decided
from ui.workbench.decision_bar import PromisedPreview, decision_summary, preview_promised

# A 不予受理 is checked with its reason when confirmed; while the bar is drawn it is
# checked as if one had been given (as for a single item).
_REASON_LATER = "理由在确认时填写"
_UNDECIDED = "材料无缺，暂不决定：申请人补正后，按 F5 输入本件编号受理"


class BundlePanel(AcceptancePanel):
    def __init__(self, station: Workstation, clerk: Clerk, bundle: Bundle,
                 items: dict[str, ServiceItem], parent: QWidget | None = None,
                 today: Callable[[], dt.date] = dt.date.today,
                 draft: AcceptanceDraft | None = None, queue_ticket: str = "") -> None:
        self.bundle = bundle
        self.items = items
        self.merged = bundle.merged_materials(items)
        self.bundle_cases: list[CaseState] = []
        super().__init__(station, clerk, items[bundle.item_codes[0]], frozenset(), parent,
                         today=today, draft=draft, kind=bundle_kind(items),
                         queue_ticket=queue_ticket)
        self._about = ((f"排队号 {queue_ticket}　" if queue_ticket else "")
                       + f"一件事一次办　共{len(items)}个事项："
                       + "、".join(items[c].name for c in bundle.item_codes))
        self.title.setText(f"收件：【一件事】{bundle.name}")
        self.subtitle.setText(self._about)

    @property
    def subject_code(self) -> str:
        return self.bundle.code

    def _open_work(self, applicant: Applicant, agent: Agent | None
                   ) -> Callable[[], list[CaseState]]:
        cases, code, clerk, ticket = (self._station.cases, self.bundle.code, self._clerk,
                                      self.queue_ticket)
        return lambda: cases.open_bundle(code, applicant, clerk, agent=agent,
                                         queue_ticket=ticket)

    def _opened(self, opened: list[CaseState]) -> None:
        self.bundle_cases = opened
        super()._opened(opened)
        numbers = "、".join(c.number for c in opened)
        self.title.setText(f"收件：【一件事】{self.bundle.name}　办件编号 {numbers}")

    def _checklist(self) -> tuple[Material, ...]:
        return merged_checklist(self.merged)

    def _show_scans(self, case: CaseState) -> None:
        self.scan_panel.set_checklist(self.table.checklist)
        self.scan_panel.show_cases(self.bundle_cases,
                                   bundle_targets(self.merged, self.items, self.bundle_cases))

    def _pages_changed(self, case: CaseState) -> None:
        """Pages stored or arranged on one of the bundle's cases: that version of it."""
        self.bundle_cases = [case if c.id == case.id and case.version >= c.version else c
                             for c in self.bundle_cases]
        if self.case is not None and case.id == self.case.id:
            super()._pages_changed(case)

    def _states(self) -> dict[str, list[MaterialState]]:
        return item_states(self.merged, self.table.marks, self.items)

    def _show_bar(self) -> None:
        states, today = self._states(), self._today()
        self.bar.show_problems({
            dk.decision: bundle_blocking(
                dk.decision, self.items, states,
                _REASON_LATER if dk.decision is Decision.REJECT else "", today=today,
                credit=self.credit)
            for dk in decision_keys(self.kind)})

    def _promised_work(self, decision: Decision) -> Callable[[], PromisedPreview | None]:
        """The latest promised date of the items the key accepts: the bundle is done then."""
        plan = item_decisions(decision, self.items, self._states())
        states, items = self._states(), self.items
        calendar, today = self._station.calendar, self._today()

        def work() -> PromisedPreview | None:
            found = [p for code, d in plan.items() if d is not None
                     and (p := preview_promised(calendar, d, items[code].promised_limit,
                                                states[code], today)) is not None]
            return max(found, key=lambda p: p.day) if found else None

        return work

    def _summary(self, decision: Decision, case: CaseState) -> list[str]:
        plan = item_decisions(decision, self.items, self._states())
        number_of = {c.item_code: c.number for c in self.bundle_cases}
        lines = decision_summary(decision, case.applicant.name, f"【一件事】{self.bundle.name}",
                                 "、".join(number_of.values()), self.table.checklist,
                                 self.table.marks)
        for code in self.bundle.item_codes:
            d = plan[code]
            lines.append(f"  · {self.items[code].name}（{number_of.get(code, '')}）："
                         + (str(d) if d is not None else _UNDECIDED))
        return lines

    def _decide_work(self, decision: Decision, reason: str, authority: str
                     ) -> Callable[[], Decided]:
        cases, clerk, opened, items = self._station.cases, self._clerk, self.bundle_cases, self.items
        credit = self._station.credit
        states = self._states()
        plan = item_decisions(decision, items, states)

        def work() -> Decided:
            current = [cases.get(c.id) for c in opened]
            # Decided already (a retry after a refusal, another window): left as it is.
            todo = [c for c in current if c.status in DECIDABLE]
            # Every item's rules before anything is written, the 信用核查 included: no
            # half-decided bundle for a reason that could be known beforehand.
            problems: list[str] = []
            for case in todo:
                d = plan[case.item_code]
                if d is None:
                    continue
                try:
                    precheck(items[case.item_code], frozenset(), states[case.item_code], d,
                             reason, cases, authority)
                    credit_precheck(credit, case.applicant, d, states[case.item_code])
                except CaseRuleError as exc:
                    problems += [f"{items[case.item_code].name}：{p}" for p in exc.problems]
            if problems:
                return Decided(current[0], problems)
            done = [c for c in current if c not in todo]
            for case in todo:
                given, now = states[case.item_code], case
                try:
                    if tuple(given) != case.materials:
                        now = cases.record_materials(case.id, given, clerk)
                    d = plan[case.item_code]
                    if d is not None:
                        now = cases.decide(case.id, d, clerk, reason=reason,
                                           competent_authority=authority)
                except CaseRuleError as exc:   # a power cut or another window meanwhile
                    decided = [c.number for c in done if c.decision is not None]
                    settled = {c.id for c in done}
                    left = [c.number for c in current if c.id not in settled]
                    said = [*exc.problems, "尚未作出决定的办件：" + "、".join(left)]
                    if decided:
                        said.append("已作出决定的办件：" + "、".join(decided) + "（通知书照常打印）")
                    return Decided(now, said, tuple(done))
                done.append(now)
            ordered = sorted(done, key=lambda c: [o.id for o in opened].index(c.id))
            return Decided(ordered[0], [], tuple(ordered[1:]))

        return work

    def _decided(self, result: Decided) -> None:
        by_id = {c.id: c for c in (result.case, *result.others)}
        self.bundle_cases = [by_id.get(c.id, c) for c in self.bundle_cases]
        for case in result.others:   # the marks recorded changed their versions too
            self.scan_panel.show_case(case)
        super()._decided(result)
