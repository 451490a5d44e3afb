"""``yichuang case new BUNDLE``: 一件事一次办 from the command line.

One case per item of the bundle, opened together; materials are named by their number
in the bundle's merged list (as the 一次性告知单 of the bundle prints it), so a paper
several items need is marked once and counts for each of them.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from app.cli.common import UsageError, emit, operator_clerk

if TYPE_CHECKING:
    from app.domain.catalogue import Bundle
    from app.workstation import Workstation


def new_bundle_cases(ws: Workstation, args: argparse.Namespace, bundle: Bundle) -> None:
    from app.cli.cases import (
        _agent,
        _applicant,
                _decide,
        _outcome,
        _summary_line,
    )
    from app.domain.acceptance import states_for_items
    from app.errors import UserError
    from app.services.intake import (
        credit_precheck,
        decision_of,
        left_behind,
        material_state,
        precheck,
    )
    from app.services.permissions import Action

    if args.scenario:
        raise UsageError("一件事不能选择办理情形：请对单个事项办理，或按合并清单标注材料")
    items = ws.catalogue.bundle_items(bundle)
    merged = bundle.merged_materials(items)
    chosen: dict[str, Any] = {}
    for text in args.material:
        number, sep, rest = text.partition("=")
        if not sep or not number.strip().isdigit() or not 1 <= int(number) <= len(merged):
            raise UsageError(f"一件事的材料按合并清单的序号标注（1至{len(merged)}），如 3=缺："
                             f"“{text}”无法识别")
        bm = merged[int(number) - 1]
        word, _sep, detail = rest.partition(":")
        chosen[bm.material.merge_key] = material_state(bm.material, word.strip(), detail.strip())
    if args.received_all:
        for bm in merged:
            chosen.setdefault(bm.material.merge_key, material_state(bm.material, "收", ""))
    per_item = states_for_items(merged, chosen, items)
    decision = decision_of(args.decide)
    applicant, agent = _applicant(args), _agent(args)
    for code in bundle.item_codes:   # every item's rules before anything is written
        precheck(items[code], frozenset(), per_item[code], decision, args.reason or "",
                 ws.cases, args.competent or "")
    clerk = operator_clerk(ws, args, Action.WRITE_CASES)
    for code in bundle.item_codes:
        credit_precheck(ws.credit, applicant, decision, per_item[code])
    cases = ws.cases.open_bundle(bundle.code, applicant, clerk, agent=agent)
    done = []
    for n, case in enumerate(cases):
        try:
            if per_item[case.item_code]:
                case = ws.cases.record_materials(case.id, per_item[case.item_code], clerk)
            done.append(_outcome(ws, _decide(ws, case, args, clerk)))
        except UserError as exc:   # checked above; if it still fails, say where it stopped
            raise left_behind([c.number for c in cases[n:]], exc) from exc
    data = {"bundle_code": bundle.code, "bundle_name": bundle.name, "cases": done}
    emit(args, data, lambda: f"一件事“{bundle.name}”：\n" + "\n".join(
        "  " + _summary_line(d) for d in done))
