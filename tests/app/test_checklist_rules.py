"""Property tests on the checklist rules: whatever materials an item lists and whatever
keys the clerk presses, the decisions the bar offers are the ones the service accepts.

Checklists and marks are generated (hypothesis); marks are made only through
:func:`app.domain.material_marks.mark`, as the window makes them, so a refused key
press is simply not recorded.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.acceptance import check_decision, check_materials
from app.domain.case import Decision, MaterialState, MaterialStatus
from app.domain.catalogue import ItemKind, Material, MaterialForm, MaterialSource, Necessity
from app.domain.material_marks import (
    KEY_MARKS,
    MarkRefused,
    blocking,
    mark,
    received_by_default,
    refusal,
)

TODAY = dt.date(2026, 11, 27)
DECIDING = (Decision.ACCEPT, Decision.CORRECTION, Decision.ACCEPT_DEFERRED)


@st.composite
def checklists(draw: st.DrawFn) -> list[Material]:
    n = draw(st.integers(min_value=1, max_value=8))
    return [Material(f"m{i}", f"材料{i}", draw(st.sampled_from(list(MaterialForm))),
                     draw(st.sampled_from(list(Necessity))),
                     copies=draw(st.integers(min_value=1, max_value=3)),
                     deferrable=draw(st.booleans()), commitment=draw(st.booleans()),
                     source=draw(st.sampled_from(list(MaterialSource))))
            for i in range(n)]


@st.composite
def marked(draw: st.DrawFn, *, every_row: bool = False
           ) -> tuple[list[Material], dict[str, MaterialState]]:
    """A checklist and the marks that key presses left on it (refused presses skipped)."""
    checklist = draw(checklists())
    marks: dict[str, MaterialState] = {}
    for m in checklist:
        if not every_row and not draw(st.booleans()):
            continue
        status = KEY_MARKS[draw(st.sampled_from(sorted(KEY_MARKS)))]
        try:
            marks[m.id] = mark(m, status, fault="复印件不清晰",
                               deferred_until=TODAY + dt.timedelta(days=5))
        except MarkRefused:
            if every_row:
                marks[m.id] = received_by_default(m)
    return checklist, marks


def _open(checklist: list[Material], marks: dict[str, MaterialState],
          kind: ItemKind = ItemKind.PROMISED) -> set[Decision]:
    return {d for d in (*DECIDING, Decision.REJECT)
            if not blocking(d, kind, checklist, marks, today=TODAY)}


@settings(max_examples=300)
@given(marked())
def test_a_mark_the_window_makes_is_a_state_the_service_accepts(
        case: tuple[list[Material], dict[str, MaterialState]]) -> None:
    checklist, marks = case
    assert check_materials(checklist, list(marks.values()), today=TODAY, complete=False) == []


@settings(max_examples=300)
@given(marked(every_row=True))
def test_with_every_row_marked_exactly_one_of_accept_correction_and_deferred_is_open(
        case: tuple[list[Material], dict[str, MaterialState]]) -> None:
    checklist, marks = case
    open_now = _open(checklist, marks) & set(DECIDING)
    assert len(open_now) == 1, (open_now, [(m.id, m.necessity, marks[m.id].status)
                                           for m in checklist])


@settings(max_examples=300)
@given(marked())
def test_an_unmarked_required_material_blocks_every_decision_but_rejection(
        case: tuple[list[Material], dict[str, MaterialState]]) -> None:
    checklist, marks = case
    unmarked = [m for m in checklist if m.necessity is not Necessity.OPTIONAL
                and m.id not in marks]
    open_now = _open(checklist, marks)
    assert Decision.REJECT in open_now
    if unmarked:
        assert open_now == {Decision.REJECT}


@settings(max_examples=300)
@given(marked())
def test_the_bar_and_the_service_agree_on_every_decision(
        case: tuple[list[Material], dict[str, MaterialState]]) -> None:
    """What the bar shows as open is what :func:`check_decision` (the service's rule)
    lets through with the same states and a real reason."""
    checklist, marks = case
    states = [marks[m.id] for m in checklist if m.id in marks]
    for decision in DECIDING:
        bar_open = not blocking(decision, ItemKind.PROMISED, checklist, marks, today=TODAY)
        service_open = not check_decision(decision, ItemKind.PROMISED, checklist, states,
                                          "", today=TODAY)
        assert bar_open == service_open, decision


@settings(max_examples=300)
@given(checklists())
def test_all_received_with_f4_opens_accept(checklist: list[Material]) -> None:
    marks = {m.id: received_by_default(m) for m in checklist}
    assert _open(checklist, marks) == {Decision.ACCEPT, Decision.REJECT}
    shared = [m for m in checklist if m.source is MaterialSource.SHARED]
    assert all(marks[m.id].status is MaterialStatus.SHARED for m in shared)


@given(checklists(), st.sampled_from(sorted(KEY_MARKS)))
def test_a_refused_key_names_the_material(checklist: list[Material], key: str) -> None:
    m = checklist[0]
    why = refusal(m, KEY_MARKS[key])
    if why is None:
        mark(m, KEY_MARKS[key], fault="缺页", deferred_until=TODAY + dt.timedelta(days=1))
    else:
        assert m.name in why


@given(checklists())
def test_the_service_refuses_shared_for_a_material_without_a_shared_source(
        checklist: list[Material]) -> None:
    """What key 6 refuses in the window, the service refuses from any client."""
    for m in checklist:
        state = MaterialState(m.id, m.name, MaterialStatus.SHARED)
        problems = check_materials(checklist, [state], today=TODAY, complete=False)
        assert bool(problems) == (m.source is not MaterialSource.SHARED)
