"""容缺补交: the applicant of a 容缺受理 brings the deferred materials in.

A 补正 return visit needs nothing new — the case is still 待补正, its materials are
recorded again and a decision taken. A 容缺受理 case is already accepted; its deferred
papers arrive later, one visit or several. Each visit is one DEFERRED_SUPPLIED event
through :meth:`CaseService.change` (so it replays and anchors like every change); when
the last deferred material is in, the case is simply 已受理.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from app.domain.case import (
    CaseEventKind,
    CaseState,
    Clerk,
    MaterialState,
    deferred_outstanding,
    material_state_to_json,
)
from app.domain.material_marks import SUPPLIED_AS
from app.services.cases import CaseRuleError, CaseService


def supply_problems(case: CaseState, states: Sequence[MaterialState]) -> list[str]:
    """Every reason ``states`` (the case's whole material list as it should now stand)
    is not a 容缺补交 of ``case``; empty when it is."""
    outstanding = {m.material_id for m in deferred_outstanding(case)}
    before = {m.material_id: m for m in case.materials}
    given = {s.material_id: s for s in states}
    problems: list[str] = []
    for mid in before.keys() - given.keys():
        problems.append(f"材料“{before[mid].name}”的收件记录不能在补交时删除。")
    supplied = 0
    for s in states:
        old = before.get(s.material_id)
        if old is None:
            problems.append(f"材料“{s.name}”不在本办件的收件记录中。")
        elif s == old:
            continue
        elif s.material_id not in outstanding:
            problems.append(f"材料“{s.name}”不是待补交的容缺材料，不能在补交时修改。")
        elif s.status not in SUPPLIED_AS:
            problems.append(f"容缺材料“{s.name}”补交时只能标为已收取或共享获取。")
        else:
            supplied += 1
    if not problems and not supplied:
        problems.append("没有补交任何容缺材料。")
    return problems


def supply_deferred(cases: CaseService, case_id: str, states: Sequence[MaterialState],
                    clerk: Clerk) -> CaseState:
    """Record the deferred materials brought now; ``states`` is the whole list, in the
    case's order, with the supplied ones marked received (or shared)."""

    def build(case: CaseState, _session: Session) -> dict[str, Any]:
        problems = supply_problems(case, states)
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
