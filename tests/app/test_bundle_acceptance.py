"""一件事 decision rules: what one F-key decides for each item of the bundle."""

from __future__ import annotations

import datetime as dt

from app.domain.bundle_acceptance import (
    bundle_blocking,
    bundle_kind,
    item_decisions,
    item_states,
    merged_checklist,
)
from app.domain.case import Decision, MaterialStatus
from app.domain.material_marks import mark, received_by_default
from app.workstation import Workstation

CANYIN = "YJS330100-0001"    # 个体工商户设立登记 (即办), 食品经营许可, 烟草专卖零售许可
NEWBORN = "YJS330100-0002"   # four 即办件
GETI = "11330100MB0000001X4000116001000"
FOOD = "11330100MB0000001X4000215001000"
TODAY = dt.date(2026, 11, 27)


def _bundle(ws: Workstation, code: str = CANYIN):  # type: ignore[no-untyped-def]
    bundle = ws.catalogue.bundle(code)
    items = ws.catalogue.bundle_items(bundle)
    merged = bundle.merged_materials(items)
    return items, merged, merged_checklist(merged)


def test_the_merged_list_is_numbered_so_two_items_m1_stay_apart(module_ws: Workstation) -> None:
    _items, merged, checklist = _bundle(module_ws)
    assert [m.id for m in checklist] == [str(n) for n in range(1, len(merged) + 1)]
    assert len({m.id for m in checklist}) == len(checklist)


def test_a_paper_received_once_counts_for_every_item_asking_for_it(
        module_ws: Workstation) -> None:
    items, merged, checklist = _bundle(module_ws)
    marks = {m.id: received_by_default(m) for m in checklist}
    states = item_states(merged, marks, items)
    for code, item in items.items():
        assert {s.material_id for s in states[code]} == {m.id for m in item.checklist()}


def test_f9_accepts_each_item_by_its_own_kind(module_ws: Workstation) -> None:
    items, merged, checklist = _bundle(module_ws)
    marks = {m.id: received_by_default(m) for m in checklist}
    plan = item_decisions(Decision.ACCEPT, items, item_states(merged, marks, items))
    assert plan[GETI] is Decision.ON_THE_SPOT
    assert [d for c, d in plan.items() if c != GETI] == [Decision.ACCEPT, Decision.ACCEPT]
    assert bundle_blocking(Decision.ACCEPT, items, item_states(merged, marks, items), "",
                           today=TODAY) == []


def test_f10_corrects_only_the_items_lacking_and_needs_one_that_lacks(
        module_ws: Workstation) -> None:
    items, merged, checklist = _bundle(module_ws)
    marks = {m.id: received_by_default(m) for m in checklist}
    assert bundle_blocking(Decision.CORRECTION, items, item_states(merged, marks, items), "",
                           today=TODAY) == ["没有缺失或有误的必要材料，无需补正。"]
    food_only = next(n for n, bm in enumerate(merged) if bm.item_codes == (FOOD,))
    marks[checklist[food_only].id] = mark(checklist[food_only], MaterialStatus.MISSING)
    states = item_states(merged, marks, items)
    plan = item_decisions(Decision.CORRECTION, items, states)
    assert plan[FOOD] is Decision.CORRECTION
    assert [d for c, d in plan.items() if c != FOOD] == [None, None]
    assert bundle_blocking(Decision.CORRECTION, items, states, "", today=TODAY) == []
    blocked = bundle_blocking(Decision.ACCEPT, items, states, "", today=TODAY)
    assert blocked and all(p.startswith("食品经营许可（新办）：") for p in blocked)


def test_f12_defers_only_the_items_with_a_deferred_paper(module_ws: Workstation) -> None:
    items, merged, checklist = _bundle(module_ws)
    marks = {m.id: received_by_default(m) for m in checklist}
    deferrable = next(m for m in checklist if m.deferrable)
    marks[deferrable.id] = mark(deferrable, MaterialStatus.DEFERRED,
                                deferred_until=TODAY + dt.timedelta(days=7))
    states = item_states(merged, marks, items)
    plan = item_decisions(Decision.ACCEPT_DEFERRED, items, states)
    assert Decision.ACCEPT_DEFERRED in plan.values()
    assert bundle_blocking(Decision.ACCEPT_DEFERRED, items, states, "", today=TODAY) == []
    assert bundle_blocking(Decision.ACCEPT, items, states, "", today=TODAY)


def test_a_bundle_of_on_the_spot_items_only_is_on_the_spot(module_ws: Workstation) -> None:
    assert str(bundle_kind(_bundle(module_ws, NEWBORN)[0])) == "即办件"
    assert str(bundle_kind(_bundle(module_ws, CANYIN)[0])) == "承诺件"
