"""一件事一次办: one application, one case per item, a shared paper collected once."""

from __future__ import annotations

from app.domain.acceptance import states_for_items
from app.domain.case import CaseStatus, Decision, MaterialState, MaterialStatus
from app.workstation import Workstation
from tests.app.test_documents import applicant, clerk

CANYIN = "YJS330100-0001"   # 开办餐饮店: 个体工商户设立登记, 食品经营许可, 烟草零售许可


def test_a_bundle_opens_one_case_per_item_under_the_first(fresh_ws: Workstation) -> None:
    cases = fresh_ws.cases.open_bundle(CANYIN, applicant(), clerk(fresh_ws))
    bundle = fresh_ws.catalogue.bundle(CANYIN)
    assert [c.item_code for c in cases] == list(bundle.item_codes)
    assert {c.bundle_code for c in cases} == {CANYIN}
    assert [c.parent_id for c in cases] == ["", cases[0].id, cases[0].id]
    assert len({c.number for c in cases}) == 3
    stored = [fresh_ws.cases.get(c.id) for c in cases]
    assert [s.parent_id for s in stored] == [c.parent_id for c in cases]
    assert fresh_ws.integrity.verify().ok   # one transaction, anchored, replays


def test_a_paper_several_items_need_is_marked_once_for_all(fresh_ws: Workstation) -> None:
    bundle = fresh_ws.catalogue.bundle(CANYIN)
    items = fresh_ws.catalogue.bundle_items(bundle)
    merged = bundle.merged_materials(items)
    shared = next(bm for bm in merged if len(bm.item_codes) > 1)
    faulty = MaterialState(shared.material.id, shared.material.name, MaterialStatus.FAULTY,
                           fault="复印件不清晰")
    per_item = states_for_items(merged, {shared.material.merge_key: faulty}, items)
    marked = {code: [(s.name, s.status, s.fault) for s in states]
              for code, states in per_item.items() if states}
    assert set(marked) == set(shared.item_codes)
    for code, rows in marked.items():
        own = next(m for m in items[code].checklist()
                   if m.merge_key == shared.material.merge_key)
        assert rows == [(own.name, MaterialStatus.FAULTY, "复印件不清晰")]
    # And the cases take it: with every other paper received, the items needing the
    # faulty one go to 补正 and the others are accepted.
    chosen = {bm.material.merge_key: MaterialState(
        bm.material.id, bm.material.name, MaterialStatus.RECEIVED, str(bm.material.form),
        bm.material.copies) for bm in merged}
    chosen[shared.material.merge_key] = faulty
    per_item = states_for_items(merged, chosen, items)
    c = clerk(fresh_ws)
    for case in fresh_ws.cases.open_bundle(CANYIN, applicant(), c):
        fresh_ws.cases.record_materials(case.id, per_item[case.item_code], c)
        needs = case.item_code in shared.item_codes
        decided = fresh_ws.cases.decide(case.id, Decision.CORRECTION if needs else
                                        Decision.ACCEPT, c)
        assert decided.status is (CaseStatus.CORRECTION if needs else CaseStatus.ACCEPTED)
