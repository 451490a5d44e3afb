"""The page lists of a case's materials: the clerk's edits and the events' payloads."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.case_pages import (
    PageError,
    PageRef,
    appended_payload,
    apply_pages_payload,
    changed_pages,
    move_page,
    page_from_json,
    page_to_json,
    pages_from_json,
    pages_payload,
    pages_to_json,
    remove_page,
    reorder_pages,
    turn_page,
)


def ref(n: int, **kw: Any) -> PageRef:
    return PageRef(f"{n:064x}", 1654, 2339, 200, False, 150_000 + n, **kw)


A, B, C, D = (ref(n) for n in range(1, 5))
PAGES = (("m1", (A, B, C)), ("m2", (D,)))


def test_turning_a_page_four_times_brings_it_back_and_keeps_its_hash() -> None:
    pages = PAGES
    for _ in range(4):
        pages = changed_pages(pages, turn_page(pages, "m1", 1, 1))
    assert pages == PAGES
    once = changed_pages(PAGES, turn_page(PAGES, "m1", 1, -1))
    assert dict(once)["m1"][1] == B.turned(3) and dict(once)["m1"][1].sha256 == B.sha256


def test_moving_within_and_across_materials_keeps_every_page_once() -> None:
    within = changed_pages(PAGES, move_page(PAGES, "m1", 0, "m1", 2))
    assert dict(within)["m1"] == (B, C, A)
    across = changed_pages(PAGES, move_page(PAGES, "m1", 1, "m2", 0))
    assert across == (("m1", (A, C)), ("m2", (B, D)))
    to_new = changed_pages(PAGES, move_page(PAGES, "m2", 0, "m9"))
    assert to_new == (("m1", (A, B, C)), ("m9", (D,)))   # m2 emptied: its entry is gone
    far = changed_pages(PAGES, move_page(PAGES, "m1", 0, "m2", 99))
    assert dict(far)["m2"] == (D, A)


def test_removing_reordering_and_bad_indexes() -> None:
    assert dict(changed_pages(PAGES, remove_page(PAGES, "m1", 2)))["m1"] == (A, B)
    assert dict(changed_pages(PAGES, reorder_pages(PAGES, "m1", [2, 0, 1])))["m1"] == (C, A, B)
    with pytest.raises(PageError, match="第4页"):
        remove_page(PAGES, "m1", 3)
    with pytest.raises(PageError, match="没有第1页"):
        turn_page(PAGES, "m7", 0, 1)
    for order in ([0, 1], [0, 0, 1], [0, 1, 3]):
        with pytest.raises(PageError, match="不完整或有重复"):
            reorder_pages(PAGES, "m1", order)


def test_payloads_replay_to_the_lists_they_describe() -> None:
    added = apply_pages_payload(PAGES, appended_payload("m2", [A]))
    assert dict(added)["m2"] == (D, A)
    replaced = apply_pages_payload(PAGES, pages_payload({"m1": [C], "m2": []}))
    assert replaced == (("m1", (C,)),)
    assert pages_from_json(pages_to_json(PAGES)) == PAGES
    assert page_from_json(page_to_json(ref(5, turns=3, effective_dpi=150, origin="x"))) == ref(
        5, turns=3, effective_dpi=150, origin="x")


@pytest.mark.parametrize(("payload", "message"), [
    ({}, "空的"),
    ({"materials": []}, "应为对象"),
    ({"appended": {"m1": [{**page_to_json(A), "sha256": "../../etc/passwd"}]}}, "不是 SHA-256"),
    ({"appended": {"m1": [{**page_to_json(A), "width": -1}]}}, "非负整数"),
    ({"appended": {"m1": [{**page_to_json(A), "dpi": True}]}}, "非负整数"),
    ({"appended": {"m1": [page_to_json(A)]}, "materials": {"m1": []}}, "出现了两次"),
    ({"materials": {"m1": [page_to_json(A)] * 501}}, "超过500页"),
])
def test_a_hand_made_payload_is_refused_with_a_reason(payload: dict[str, Any],
                                                      message: str) -> None:
    with pytest.raises(PageError, match=message):
        apply_pages_payload(PAGES, payload)
