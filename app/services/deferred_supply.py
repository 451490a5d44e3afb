"""容缺补交: the applicant of a 容缺受理 brings the deferred materials in.

A 补正 return visit needs nothing new — the case is still 待补正, its materials are
recorded again and a decision taken. A 容缺受理 case is already accepted; its deferred
papers arrive later, one visit or several. Each visit is one DEFERRED_SUPPLIED event
through :meth:`CaseService.change` (so it replays and anchors like every change); when
the last deferred material is in, the case is simply 已受理.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from app.domain.acceptance import MAX_REASON_LEN, check_materials
from app.domain.case import (
    CaseEventKind,
    CaseState,
    Clerk,
    MaterialState,
    deferred_outstanding,
    material_state_to_json,
)
from app.domain.catalogue import Material
from app.domain.material_marks import supply_refusal
from app.domain.text_checks import forbidden_character
from app.services.cases import CaseRuleError, CaseService
from app.services.catalogue import CatalogueService


def supply_problems(case: CaseState, states: Sequence[MaterialState],
                    checklist: Sequence[Material], *, today: dt.date) -> list[str]:
    """Every reason ``states`` (the case's whole material list as it should now stand)
    is not a 容缺补交 of ``case`` under its item's ``checklist``; empty when it is."""
    before = {m.material_id: m for m in case.materials}
    outstanding = {m.material_id for m in deferred_outstanding(case)}
    specs = {m.id: m for m in checklist}
    problems: list[str] = []
    ids = [s.material_id for s in states]
    for mid in sorted(m for m, n in Counter(ids).items() if n > 1):
        problems.append(f"材料“{before[mid].name if mid in before else mid}”记录了两次。")
    for mid in before.keys() - set(ids):
        problems.append(f"材料“{before[mid].name}”的收件记录不能在补交时删除。")
    changed: list[MaterialState] = []
    for s in states:
        old = before.get(s.material_id)
        if old is None:
            problems.append(f"材料“{s.name}”不在本办件的收件记录中。")
        elif s == old:
            continue
        elif s.material_id not in outstanding:
            problems.append(f"材料“{old.name}”不是待补交的容缺材料，不能在补交时修改。")
        else:
            changed.append(s)
            spec = specs.get(s.material_id)
            why = (supply_refusal(spec, old, s.status) if spec is not None
                   else f"材料“{old.name}”不在本事项的材料清单中。")
            if why:
                problems.append(why)
            if s.name != old.name:
                problems.append(f"补交的材料名称“{s.name}”与收件记录“{old.name}”不一致。")
            if s.fault or s.deferred_until is not None:
                problems.append(f"补交的材料“{old.name}”已收取，不能再带问题说明或补交日期。")
            bad = forbidden_character(s.note)
            if bad or len(s.note) > MAX_REASON_LEN:
                problems.append(f"材料“{old.name}”的备注有不可见字符或超过{MAX_REASON_LEN}字。")
    # What record_materials checks of any state: copies, the checklist, …
    problems += check_materials(checklist, changed, today=today, complete=False)
    if not problems and not changed:
        problems.append("没有补交任何容缺材料。")
    return list(dict.fromkeys(problems))


def supply_deferred(cases: CaseService, catalogue: CatalogueService, case_id: str,
                    states: Sequence[MaterialState], clerk: Clerk) -> CaseState:
    """Record the deferred materials brought now; ``states`` is the whole list, in the
    case's order, with the supplied ones marked received (or shared)."""

    def build(case: CaseState, _session: Session) -> dict[str, Any]:
        item = catalogue.item_version(case.item_code, case.item_version)
        problems = supply_problems(case, states, item.checklist(frozenset(case.scenarios)),
                                   today=dt.date.today())
        if problems:
            raise CaseRuleError(problems)
        order = [m.material_id for m in case.materials]
        by_id = {s.material_id: s for s in states}
        after = [by_id[mid] for mid in order]
        supplied = [s.material_id for s, old in zip(after, case.materials, strict=True)
                    if s != old]
        return {"materials": [material_state_to_json(s) for s in after],
                "supplied": supplied}

    return cases.change(case_id, CaseEventKind.DEFERRED_SUPPLIED, clerk, build)
