"""Where a checklist row's pages are filed, and the clerk's edits made on every case
that holds them (no Qt here: plain functions over case states, tested on their own).

A row of the acceptance checklist files its pages into one or more *targets*, each a
case and that case's own material id. At a single item's window a row has one target:
the case, under the row's own id. In a 一件事 the merged list's rows ("1"…"N") file
into every case whose item asks for the material (one target per case: the first of
its materials with the row's ``merge_key``), so each department gets the papers it asks
for; the JPEG is stored once, by hash, and named by each case.

The pages the clerk sees are the first target's. An edit is made on them and then the
same edit on each other target's own list, each case's change computed with
:mod:`app.domain.case_pages` on that case's pages. The page is found there by its hash
(the n-th page with that hash in the shown list is the n-th with it there), not by its
position, so lists that drifted apart (a page removed in another window) still get the
edit on the right page, and a case that lacks the page is left alone. Moving a page to
another row: a case that has both rows' materials moves it; one that lacks the
destination loses the page; one that has only the destination gets it at the end (its
blob is stored already).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from app.domain.case import CaseState
from app.domain.case_pages import (
    CasePages,
    Changes,
    PageError,
    PageRef,
    move_page,
    pages_of,
    remove_page,
    reorder_pages,
    turn_page,
)
from app.domain.catalogue import BundleMaterial, Material, ServiceItem


@dataclass(frozen=True, slots=True)
class Target:
    case_id: str
    material_id: str   # the case's own id of the material


Targets = Mapping[str, tuple[Target, ...]]   # checklist row id → where it is filed
Cases = Mapping[str, CaseState]              # by id
Plan = dict[str, Changes]                    # case id → its changed page lists


def single_targets(checklist: Sequence[Material], case_id: str) -> dict[str, tuple[Target, ...]]:
    """One item: each row into the case, under the row's own id."""
    return {m.id: (Target(case_id, m.id),) for m in checklist}


def bundle_targets(merged: Sequence[BundleMaterial], items: Mapping[str, ServiceItem],
                   cases: Sequence[CaseState]) -> dict[str, tuple[Target, ...]]:
    """一件事: row ``str(n)`` of the merged list into each case whose item asks for the
    material, under that item's id for it (as the marks are recorded:
    :func:`app.domain.acceptance.states_for_items`)."""
    case_of = {c.item_code: c.id for c in cases}
    out: dict[str, tuple[Target, ...]] = {}
    for n, bm in enumerate(merged, 1):
        found = []
        for code in bm.item_codes:
            own = next((m.id for m in items[code].checklist()
                        if m.merge_key == bm.material.merge_key), None)
            if own is not None and code in case_of:
                found.append(Target(case_of[code], own))
        out[str(n)] = tuple(found)
    return out


def target_pages(cases: Cases, target: Target) -> tuple[PageRef, ...]:
    case = cases.get(target.case_id)
    return pages_of(case.pages, target.material_id) if case is not None else ()


def shown_pages(cases: Cases, targets: Targets, row_ids: Sequence[str]) -> CasePages:
    """Each row's pages as the clerk sees them (its first target's), by row id."""
    rows = [(row, target_pages(cases, ts[0])) for row in row_ids if (ts := targets.get(row))]
    return tuple((row, ps) for row, ps in rows if ps)


def same_page(shown: Sequence[PageRef], index: int, pages: Sequence[PageRef]) -> int | None:
    """Where ``shown[index]`` is in ``pages``: the n-th page with its hash there as it is
    the n-th in ``shown`` (None: not there)."""
    sha = shown[index].sha256
    nth = sum(p.sha256 == sha for p in shown[:index])
    at = [i for i, p in enumerate(pages) if p.sha256 == sha]
    return at[nth] if nth < len(at) else None


Edit = Callable[[CasePages, str, int], Changes]


def _everywhere(cases: Cases, targets: Sequence[Target], index: int, edit: Edit) -> Plan:
    """``edit`` at ``index`` of the first target's pages, and on the same page in every
    other target's (raises PageError when the shown page is gone)."""
    if not targets:
        return {}
    first = targets[0]
    plan = {first.case_id: edit(cases[first.case_id].pages, first.material_id, index)}
    shown = target_pages(cases, first)
    for t in targets[1:]:
        pages = cases[t.case_id].pages
        at = same_page(shown, index, pages_of(pages, t.material_id))
        if at is not None and t.case_id not in plan:
            plan[t.case_id] = edit(pages, t.material_id, at)
    return plan


def _turn(cases: Cases, targets: Sequence[Target], index: int, quarter_turns: int) -> Plan:
    return _everywhere(cases, targets, index,
                       lambda pages, mid, at: turn_page(pages, mid, at, quarter_turns))


def _remove(cases: Cases, targets: Sequence[Target], index: int) -> Plan:
    return _everywhere(cases, targets, index, remove_page)


def _reorder(cases: Cases, targets: Sequence[Target], order: Sequence[int]) -> Plan:
    """``order``: the shown pages' indexes in their new order. In another case the
    places its copies of those pages hold are filled in that order; pages only it has
    keep their place."""
    if not targets:
        return {}
    first = targets[0]
    plan = {first.case_id: reorder_pages(cases[first.case_id].pages, first.material_id, order)}
    shown = target_pages(cases, first)
    for t in targets[1:]:
        pages = cases[t.case_id].pages
        own = pages_of(pages, t.material_id)
        spots = [same_page(shown, i, own) for i in range(len(shown))]
        places = sorted(s for s in spots if s is not None)
        moved = [s for i in order if (s := spots[i]) is not None]
        new = list(range(len(own)))
        for place, page in zip(places, moved, strict=True):
            new[place] = page
        if new != list(range(len(own))) and t.case_id not in plan:
            plan[t.case_id] = reorder_pages(pages, t.material_id, new)
    return plan


def _move(cases: Cases, from_targets: Sequence[Target], index: int,
              to_targets: Sequence[Target]) -> Plan:
    """Page ``index`` of one row into another row (see the module's doc for a case
    that lacks either material)."""
    if not from_targets:
        return {}
    first = from_targets[0]
    shown = target_pages(cases, first)
    if not 0 <= index < len(shown):
        raise PageError(f"材料“{first.material_id}”没有第{index + 1}页。")
    page = shown[index]
    to_in = {t.case_id: t.material_id for t in to_targets}
    plan: Plan = {}
    for t in from_targets:
        pages = cases[t.case_id].pages
        at = index if t is first else same_page(shown, index, pages_of(pages, t.material_id))
        if at is None or t.case_id in plan:
            continue
        to = to_in.get(t.case_id)
        plan[t.case_id] = (move_page(pages, t.material_id, at, to) if to is not None
                           else remove_page(pages, t.material_id, at))
    for t in to_targets:
        if t.case_id not in plan:   # the destination only: the page joins it
            plan[t.case_id] = {t.material_id: (*target_pages(cases, t), page)}
    return plan


def _retake_places(cases: Cases, targets: Sequence[Target], index: int
                  ) -> tuple[int | None, ...]:
    """For a retake of shown page ``index``: where that page is in each target's list
    (None: not there; the new page then simply joins that list)."""
    if not targets:
        return ()
    shown = target_pages(cases, targets[0])
    return tuple(index if n == 0 else same_page(shown, index, target_pages(cases, t))
                 for n, t in enumerate(targets))


class Filing:
    """The cases a scan panel shows and where each checklist row is filed.

    One item: one case, no targets given (a row files under its own id). 一件事:
    every case (the first is the one the screen decides on) and the rows' targets.
    """

    def __init__(self) -> None:
        self.cases: dict[str, CaseState] = {}
        self.targets: dict[str, tuple[Target, ...]] | None = None

    @property
    def bundle(self) -> bool:
        return self.targets is not None

    @property
    def case(self) -> CaseState | None:
        return next(iter(self.cases.values()), None)

    def take(self, case: CaseState) -> bool:
        """``case`` as a service returned it (False: older than the state held, so
        ignored). A case not held yet is a single item's: it alone is filed into."""
        known = self.cases.get(case.id)
        if known is not None and case.version < known.version:
            return False
        if known is None:
            self.cases, self.targets = {case.id: case}, None
        else:
            self.cases[case.id] = case
        return True

    def file_bundle(self, cases: Sequence[CaseState], targets: Targets) -> None:
        self.cases = {c.id: c for c in cases}
        self.targets = dict(targets)

    def version(self, case_id: str) -> int:
        known = self.cases.get(case_id)
        return known.version if known is not None else -1

    def targets_of(self, row: str) -> tuple[Target, ...]:
        if self.targets is not None:
            return self.targets.get(row, ())
        case = self.case
        return (Target(case.id, row),) if case is not None else ()

    def pages(self, row: str) -> tuple[PageRef, ...]:
        """The row's pages as shown (its first target's)."""
        targets = self.targets_of(row)
        return target_pages(self.cases, targets[0]) if targets else ()

    def shown(self, rows: Sequence[str]) -> CasePages:
        """Every row's pages as shown, by row id."""
        if self.targets is None:
            case = self.case
            return case.pages if case is not None else ()
        return shown_pages(self.cases, self.targets, rows)

    def item_names(self, row: str) -> list[str]:
        return [c.item_name for t in self.targets_of(row) if (c := self.cases.get(t.case_id))]

    # ---- the clerk's edits, as each changed case's page lists ---------------------------

    def turn(self, row: str, index: int, quarter_turns: int) -> Plan:
        return _turn(self.cases, self.targets_of(row), index, quarter_turns)

    def remove(self, row: str, index: int) -> Plan:
        return _remove(self.cases, self.targets_of(row), index)

    def reorder(self, row: str, order: Sequence[int]) -> Plan:
        return _reorder(self.cases, self.targets_of(row), order)

    def move(self, row: str, index: int, to_row: str) -> Plan:
        return _move(self.cases, self.targets_of(row), index, self.targets_of(to_row))

    def retake_places(self, row: str, index: int) -> tuple[int | None, ...]:
        return _retake_places(self.cases, self.targets_of(row), index)
