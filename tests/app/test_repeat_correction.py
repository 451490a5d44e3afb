"""一次性告知: a second 补正 notice for a case needs its reason, recorded in the event."""

from __future__ import annotations

import pytest

from app.documents.form import DocumentKind as K
from app.domain.case import Decision, MaterialStatus
from app.services.cases import CaseRuleError
from app.workstation import Workstation
from tests.app.test_documents import FOOD, case_with, clerk, marked, received
from tests.support import PaperTray


def test_a_second_correction_needs_a_reason_and_records_it(fresh_ws: Workstation) -> None:
    missing = marked(fresh_ws, FOOD, "m4", MaterialStatus.MISSING)
    case = case_with(fresh_ws, FOOD, Decision.CORRECTION, m4=missing)
    c = clerk(fresh_ws)
    # The applicant came back; the paper brought is still not right.
    fresh_ws.cases.record_materials(case.id, received(fresh_ws, FOOD, m4=marked(
        fresh_ws, FOOD, "m4", MaterialStatus.FAULTY, fault="租赁合同已过期")), c)
    with pytest.raises(CaseRuleError, match="再次要求补正须写明理由"):
        fresh_ws.cases.decide(case.id, Decision.CORRECTION, c)
    again = fresh_ws.cases.decide(case.id, Decision.CORRECTION, c,
                                  reason="补交的租赁合同已过期，须提供有效期内的合同")
    assert again.decision_reason == "补交的租赁合同已过期，须提供有效期内的合同"
    assert fresh_ws.integrity.verify().ok


def test_the_first_correction_needs_no_reason(fresh_ws: Workstation) -> None:
    case = case_with(fresh_ws, FOOD, Decision.CORRECTION,
                     m4=marked(fresh_ws, FOOD, "m4", MaterialStatus.MISSING))
    assert case.decision is Decision.CORRECTION and case.decision_reason == ""


def test_the_second_correction_notice_prints_as_an_original(fresh_ws: Workstation) -> None:
    missing = marked(fresh_ws, FOOD, "m4", MaterialStatus.MISSING)
    case = case_with(fresh_ws, FOOD, Decision.CORRECTION, m4=missing)
    c = clerk(fresh_ws)
    PaperTray(fresh_ws)
    docs = fresh_ws.documents
    assert docs.print(docs.render_case_document(K.CORRECTION, case.number, c), c,
                      PaperTray.target).ok
    fresh_ws.cases.decide(case.id, Decision.CORRECTION, c, reason="补交的场所证明仍缺盖章")
    second = docs.render_case_document(K.CORRECTION, case.number, c)
    assert not second.reprint    # another notice, with its own 文号 and date
    assert docs.print(second, c, PaperTray.target).ok
    assert docs.render_case_document(K.CORRECTION, case.number, c).reprint
