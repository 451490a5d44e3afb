"""容缺补交: the deferred paper of a 容缺受理 brought in later — one event, checked, and
the case is 已受理 once nothing is outstanding."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from app.documents.form import DocumentKind as K
from app.domain.case import CaseState, CaseStatus, Clerk, Decision, MaterialState, MaterialStatus
from app.domain.pickup import Delivery, DeliveryMethod
from app.services.cases import CaseRuleError
from app.services.deferred_supply import supply_deferred
from app.workstation import Workstation
from tests.app.test_documents import DAY, FOOD, applicant, case_with, clerk, marked, received
from tests.support import PaperTray

DUE = DAY + dt.timedelta(days=5)


def deferred_case(ws: Workstation) -> tuple[str, list[MaterialState]]:
    m7 = marked(ws, FOOD, "m7", MaterialStatus.DEFERRED, deferred_until=DUE)
    case = case_with(ws, FOOD, Decision.ACCEPT_DEFERRED, m7=m7)
    assert case.status is CaseStatus.ACCEPTED_DEFERRED
    return case.id, list(case.materials)


def supply(ws: Workstation, case_id: str, states: list[MaterialState],
           c: Clerk | None = None) -> CaseState:
    return supply_deferred(ws.cases, ws.catalogue, case_id, states, c or clerk(ws))


def brought(states: list[MaterialState], mid: str, **kw: object) -> list[MaterialState]:
    fields: dict[str, object] = {"status": MaterialStatus.RECEIVED, "deferred_until": None,
                                 "form_received": "原件", "copies_received": 1, **kw}
    return [replace(s, **fields) if s.material_id == mid else s  # type: ignore[arg-type]
            for s in states]


def test_the_last_deferred_material_brought_makes_the_case_accepted(
        fresh_ws: Workstation) -> None:
    case_id, states = deferred_case(fresh_ws)
    promised = fresh_ws.cases.get(case_id).promised_date
    after = supply(fresh_ws, case_id, brought(states, "m7"), clerk(fresh_ws))
    assert after.status is CaseStatus.ACCEPTED
    assert after.promised_date == promised   # as printed on the 容缺受理通知书
    assert {s.material_id: s.status for s in after.materials}["m7"] is MaterialStatus.RECEIVED
    assert fresh_ws.integrity.verify().ok   # the log replays to exactly this case


def test_supplying_twice_is_refused(fresh_ws: Workstation) -> None:
    case_id, states = deferred_case(fresh_ws)
    supply(fresh_ws, case_id, brought(states, "m7"), clerk(fresh_ws))
    with pytest.raises(CaseRuleError, match="没有待补交的容缺材料"):
        supply(fresh_ws, case_id, brought(states, "m7"), clerk(fresh_ws))


def test_only_the_deferred_materials_may_change(fresh_ws: Workstation) -> None:
    case_id, states = deferred_case(fresh_ws)
    tampered = [replace(s, status=MaterialStatus.MISSING) if s.material_id == "m1" else s
                for s in brought(states, "m7")]
    with pytest.raises(CaseRuleError, match="不是待补交的容缺材料"):
        supply(fresh_ws, case_id, tampered, clerk(fresh_ws))
    with pytest.raises(CaseRuleError, match="不能在补交时删除"):
        supply(fresh_ws, case_id, brought(states, "m7")[1:], clerk(fresh_ws))
    assert fresh_ws.cases.get(case_id).status is CaseStatus.ACCEPTED_DEFERRED


def test_a_deferred_material_cannot_be_supplied_as_missing_or_nothing(
        fresh_ws: Workstation) -> None:
    case_id, states = deferred_case(fresh_ws)
    missing = [replace(s, status=MaterialStatus.MISSING, deferred_until=None)
               if s.material_id == "m7" else s for s in states]
    with pytest.raises(CaseRuleError, match="补交时按 1 已收取 或 6 共享获取"):
        supply(fresh_ws, case_id, missing, clerk(fresh_ws))
    with pytest.raises(CaseRuleError, match="没有补交任何容缺材料"):
        supply(fresh_ws, case_id, states, clerk(fresh_ws))


def test_an_ordinary_acceptance_has_nothing_to_supply(fresh_ws: Workstation) -> None:
    case = case_with(fresh_ws, FOOD, Decision.ACCEPT)
    with pytest.raises(CaseRuleError, match="没有待补交的容缺材料"):
        supply(fresh_ws, case.id, list(case.materials), clerk(fresh_ws))


def test_the_result_is_handed_over_only_once_the_deferred_paper_is_in(
        fresh_ws: Workstation) -> None:
    case_id, states = deferred_case(fresh_ws)
    c = clerk(fresh_ws)
    fresh_ws.pickup.complete(case_id, c)         # the department finished meanwhile
    in_person = Delivery(DeliveryMethod.IN_PERSON, "王小明", id_number=applicant().id_number)
    with pytest.raises(CaseRuleError, match="容缺材料尚未补交"):
        fresh_ws.pickup.deliver(case_id, in_person, c)
    after = supply(fresh_ws, case_id, brought(states, "m7"), c)
    assert after.status is CaseStatus.COMPLETED  # still waiting at the pickup desk
    assert fresh_ws.pickup.deliver(case_id, in_person, c).status is CaseStatus.DELIVERED
    with pytest.raises(CaseRuleError, match="不能再补交容缺材料"):
        supply(fresh_ws, case_id, brought(states, "m7"), c)
    assert fresh_ws.integrity.verify().ok


def test_the_receipt_after_supply_states_the_supply_event(fresh_ws: Workstation) -> None:
    case_id, states = deferred_case(fresh_ws)
    before = fresh_ws.cases.document_facts(case_id, receipt=True)
    supply(fresh_ws, case_id, brought(states, "m7"), clerk(fresh_ws))
    after = fresh_ws.cases.document_facts(case_id, receipt=True)
    assert before is not None and after is not None and after.hash != before.hash


def test_received_helper_marks_every_material(fresh_ws: Workstation) -> None:
    # Guards the fixture: the deferred case really has m7 deferred and the rest received.
    _case_id, states = deferred_case(fresh_ws)
    assert {s.material_id for s in states} == {s.material_id for s in received(fresh_ws, FOOD)}
    assert [s.material_id for s in states if s.status is MaterialStatus.DEFERRED] == ["m7"]


def test_the_receipt_of_the_supply_visit_is_a_new_document_not_a_reprint(
        fresh_ws: Workstation) -> None:
    """It lists the paper brought now and states the supply event: printing it is no
    补打 of the first receipt; printing it again is."""
    case_id, states = deferred_case(fresh_ws)
    c = clerk(fresh_ws)
    docs = fresh_ws.documents
    number = fresh_ws.cases.get(case_id).number
    PaperTray(fresh_ws)
    first = docs.print(docs.render_case_document(K.RECEIPT, number, c), c, PaperTray.target)
    assert first.ok and docs.render_case_document(K.RECEIPT, number, c).reprint
    supply(fresh_ws, case_id, brought(states, "m7"), c)
    after = docs.render_case_document(K.RECEIPT, number, c)
    assert not after.reprint
    printed = docs.print(after, c, PaperTray.target)
    assert printed.ok and "补打" not in printed.message
    assert docs.render_case_document(K.RECEIPT, number, c).reprint
    issued = [d for d in docs.history(case_id) if d.kind is K.RECEIPT]
    assert [d.reprint for d in issued] == [False, False]


def test_a_paper_no_shared_source_holds_cannot_be_supplied_as_shared(
        fresh_ws: Workstation) -> None:
    """容缺 is a promise to bring the paper: 共享获取 discharges it only where the
    catalogue says the material can be fetched."""
    case_id, states = deferred_case(fresh_ws)
    shared = [replace(s, status=MaterialStatus.SHARED, deferred_until=None)
              if s.material_id == "m7" else s for s in states]
    with pytest.raises(CaseRuleError, match="不是共享获取的材料"):
        supply(fresh_ws, case_id, shared)
    assert fresh_ws.cases.get(case_id).status is CaseStatus.ACCEPTED_DEFERRED


@pytest.mark.parametrize(("junk", "message"), [
    ({"copies_received": -5}, "份数不能为负数"),
    ({"name": "随便写的材料名"}, "与收件记录"),
    ({"fault": "缺页"}, "不能再带问题说明"),
    ({"deferred_until": DUE}, "不能再带问题说明或补交日期"),
    ({"note": "备" * 501}, "超过500字"),
])
def test_a_hand_made_supplied_row_is_checked_like_any_recorded_material(
        fresh_ws: Workstation, junk: dict[str, object], message: str) -> None:
    case_id, states = deferred_case(fresh_ws)
    with pytest.raises(CaseRuleError, match=message):
        supply(fresh_ws, case_id, brought(states, "m7", **junk))


def test_a_row_given_twice_is_refused_not_recorded_as_nothing(fresh_ws: Workstation) -> None:
    case_id, states = deferred_case(fresh_ws)
    before = fresh_ws.cases.get(case_id).version
    m7 = next(s for s in states if s.material_id == "m7")
    with pytest.raises(CaseRuleError, match="记录了两次"):
        supply(fresh_ws, case_id, [*brought(states, "m7"), m7])
    assert fresh_ws.cases.get(case_id).version == before
