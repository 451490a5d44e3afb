"""一件事 at the window: one merged checklist marked once, one decision key for all items.

The clerk marks the bundle's merged material list (numbered 1…N, as ``case new`` names
them); each item's case records the same state under its own material ids
(:func:`app.domain.acceptance.states_for_items`). One key decides the bundle, and it
means, item by item:

- F9 受理: each item's own main decision (即办 for an 即办件, else 受理);
- F10 补正: 补正 for the items lacking a material; the others keep their materials
  recorded, undecided, until the applicant comes back (F5 reopens each by number);
- F11 不予受理: every item, with the one reason;
- F12 容缺受理: 容缺受理 for the items with a deferred material, the main decision for
  the rest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace

from app.domain.acceptance import check_decision, states_for_items
from app.domain.case import Decision, MaterialState, MaterialStatus
from app.domain.catalogue import BundleMaterial, ItemKind, Material, Necessity, ServiceItem
from app.domain.credit import CreditCheck, credit_refusal
from app.domain.material_marks import main_decision

_LACKING = (MaterialStatus.MISSING, MaterialStatus.FAULTY)


def merged_checklist(merged: Sequence[BundleMaterial]) -> tuple[Material, ...]:
    """The merged list as the window marks it: ids "1"…"N" (two items' "m1" differ)."""
    return tuple(replace(bm.material, id=str(n)) for n, bm in enumerate(merged, 1))


def bundle_kind(items: Mapping[str, ServiceItem]) -> ItemKind:
    """即办 only when every item of the bundle is an 即办件."""
    kinds = {item.kind for item in items.values()}
    return ItemKind.ON_THE_SPOT if kinds == {ItemKind.ON_THE_SPOT} else ItemKind.PROMISED


def item_states(merged: Sequence[BundleMaterial], marks: Mapping[str, MaterialState],
                items: Mapping[str, ServiceItem]) -> dict[str, list[MaterialState]]:
    """Each item's material states from the marks on the merged list (ids "1"…"N")."""
    chosen = {bm.material.merge_key: marks[str(n)]
              for n, bm in enumerate(merged, 1) if str(n) in marks}
    return states_for_items(merged, chosen, dict(items))


def item_decisions(key: Decision, items: Mapping[str, ServiceItem],
                   states: Mapping[str, Sequence[MaterialState]]
                   ) -> dict[str, Decision | None]:
    """What ``key`` decides for each item (None: left undecided, see the module doc)."""
    required = {code: {m.id for m in item.checklist() if m.necessity is not Necessity.OPTIONAL}
                for code, item in items.items()}

    def lacking(code: str) -> bool:
        return any(s.status in _LACKING and s.material_id in required[code]
                   for s in states.get(code, ()))

    def deferred(code: str) -> bool:
        return any(s.status is MaterialStatus.DEFERRED for s in states.get(code, ()))

    plan: dict[str, Decision | None] = {}
    for code, item in items.items():
        if key is Decision.REJECT:
            plan[code] = Decision.REJECT
        elif key is Decision.CORRECTION:
            plan[code] = Decision.CORRECTION if lacking(code) else None
        elif key is Decision.ACCEPT_DEFERRED and deferred(code):
            plan[code] = Decision.ACCEPT_DEFERRED
        else:
            plan[code] = main_decision(item.kind)
    return plan


def bundle_blocking(key: Decision, items: Mapping[str, ServiceItem],
                    states: Mapping[str, Sequence[MaterialState]], reason: str, *,
                    today: dt.date, credit: CreditCheck | None = None) -> list[str]:
    """Every reason ``key`` cannot decide the bundle now, each prefixed with its item."""
    plan = item_decisions(key, items, states)
    if all(d is None for d in plan.values()):
        return ["没有缺失或有误的必要材料，无需补正。"]
    if key is Decision.ACCEPT_DEFERRED and Decision.ACCEPT_DEFERRED not in plan.values():
        return ["没有容缺后补的材料，请直接受理。"]
    problems: list[str] = []
    seen: set[str] = set()
    for code, decision in plan.items():
        if decision is None:
            continue
        item, given = items[code], list(states.get(code, ()))
        found = check_decision(decision, item.kind, item.checklist(), given, reason, today=today)
        found += credit_refusal(credit, decision, given, today)
        for p in found:
            # The same merged material fails the same way for every item: say it once.
            if p not in seen:
                seen.add(p)
                problems.append(p if len(items) == 1 else f"{item.name}：{p}")
    return problems
