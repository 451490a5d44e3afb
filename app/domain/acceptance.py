"""Rules for the decision at the window: which materials allow which decision.

Pure functions over the item's checklist and the recorded material states; they return
every problem at once (in Chinese) so the clerk can fix them together.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace

from app.domain.case import Decision, MaterialState, MaterialStatus
from app.domain.catalogue import (
    BundleMaterial,
    ItemKind,
    Material,
    MaterialSource,
    Necessity,
    ServiceItem,
)

MIN_REASON_LEN = 4
# A reason or note is printed on the notice (the 不予受理 reason twice: in the decision's
# sentence and in its table); longer than this it is no longer a reason but an appendix.
MAX_REASON_LEN = 500


def check_materials(checklist: Sequence[Material], states: Sequence[MaterialState],
                    *, today: dt.date, complete: bool = True) -> list[str]:
    """Problems with the recorded states themselves, whatever the decision.

    ``complete`` also asks that every required material has a state, as a decision
    needs; while materials are still being received a partial list is fine.
    """
    problems: list[str] = []
    by_id = {m.id: m for m in checklist}
    seen: set[str] = set()
    for s in states:
        m = by_id.get(s.material_id)
        if m is None:
            problems.append(f"材料“{s.name}”不在本事项的材料清单中。")
            continue
        if s.material_id in seen:
            problems.append(f"材料“{m.name}”记录了两次。")
        seen.add(s.material_id)
        if s.status is MaterialStatus.FAULTY and not s.fault.strip():
            problems.append(f"材料“{m.name}”标为有误，请写明问题所在（将打印在补正告知书上）。")
        if s.status is MaterialStatus.DEFERRED:
            if not m.deferrable:
                problems.append(f"材料“{m.name}”不在容缺受理范围内。")
            if s.deferred_until is None or s.deferred_until <= today:
                problems.append(f"容缺材料“{m.name}”需要填写晚于今天的补交日期。")
        if s.status is MaterialStatus.COMMITMENT and not m.commitment:
            problems.append(f"材料“{m.name}”不适用告知承诺。")
        if s.status is MaterialStatus.SHARED and m.source is not MaterialSource.SHARED:
            # As the window refuses key 6: no shared source, the paper must be brought.
            problems.append(f"材料“{m.name}”不是共享获取的材料，请收取纸质材料。")
        if s.status is MaterialStatus.RECEIVED and s.copies_received < 0:
            problems.append(f"材料“{m.name}”的份数不能为负数。")
    for m in checklist if complete else ():
        if m.necessity is not Necessity.OPTIONAL and m.id not in seen:
            problems.append(f"材料“{m.name}”尚未核验，请标明已收取、缺失或其他情况。")
    return problems


def check_decision(decision: Decision, kind: ItemKind, checklist: Sequence[Material],
                   states: Sequence[MaterialState], reason: str, *,
                   today: dt.date) -> list[str]:
    """Every reason ``decision`` cannot be taken now; empty when it can."""
    if len(reason.strip()) > MAX_REASON_LEN:
        return [f"理由或说明最多{MAX_REASON_LEN}字（现有{len(reason.strip())}字），请精简后再作决定。"]
    if decision is Decision.REJECT:
        # A refusal is about the application, not the paper: the materials may be anything.
        if len(reason.strip()) < MIN_REASON_LEN:
            return ["不予受理必须写明理由。"]
        return []
    problems = check_materials(checklist, states, today=today)
    required = {m.id for m in checklist if m.necessity is not Necessity.OPTIONAL}
    by_status: dict[MaterialStatus, list[MaterialState]] = {}
    for s in states:
        by_status.setdefault(s.status, []).append(s)
    lacking = [s for s in states if s.material_id in required
               and s.status in (MaterialStatus.MISSING, MaterialStatus.FAULTY)]
    deferred = by_status.get(MaterialStatus.DEFERRED, [])
    if decision is Decision.CORRECTION:
        if not lacking:
            problems.append("没有缺失或有误的必要材料，无需补正。")
        return problems
    if lacking:
        names = "、".join(s.name for s in lacking)
        problems.append(f"以下必要材料缺失或有误，应一次性告知补正：{names}。")
    if decision is Decision.ACCEPT_DEFERRED:
        if not deferred:
            problems.append("没有容缺后补的材料，请直接受理。")
    elif deferred:
        problems.append("有容缺后补的材料，应选择容缺受理。")
    if decision is Decision.ON_THE_SPOT and kind is not ItemKind.ON_THE_SPOT:
        problems.append("承诺件不能当场办结，请选择受理。")
    return problems


def repeat_correction(previous: Decision | None, decision: Decision, reason: str) -> list[str]:
    """一次性告知: the first 补正 notice lists everything; another one for the case needs
    its reason recorded (the supplied paper is still wrong, the law changed, …)."""
    if (decision is Decision.CORRECTION and previous is Decision.CORRECTION
            and len(reason.strip()) < MIN_REASON_LEN):
        return ["本办件已出具过补正通知，一次性告知应一次讲清：再次要求补正须写明理由"
                f"（至少{MIN_REASON_LEN}个字，记录在案）。"]
    return []


def states_for_items(merged: Sequence[BundleMaterial], chosen: dict[str, MaterialState],
                     items: dict[str, ServiceItem]) -> dict[str, list[MaterialState]]:
    """一件事: the state of each merged material, given once, as each item records it.

    ``chosen`` maps a merged material's ``merge_key`` to its state (keyed by any item's
    material id); every item that asks for the material gets the same state under its own
    material id and name, so a paper collected once counts for all.
    """
    out: dict[str, list[MaterialState]] = {code: [] for code in items}
    for bm in merged:
        state = chosen.get(bm.material.merge_key)
        if state is None:
            continue
        for code in bm.item_codes:
            for m in items[code].checklist():
                if m.merge_key == bm.material.merge_key:
                    out[code].append(replace(state, material_id=m.id, name=m.name))
    return out
