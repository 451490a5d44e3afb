"""The scanned pages of a case's materials, as its event log records them (no Qt here).

A page is named by the SHA-256 of its JPEG (the bytes sit in the blob store and are
verified on upload by sync); the log holds, for each material, its pages in order. A
clerk's turn of a page is a quarter-turn count kept beside the hash — the PDF page is
turned, the JPEG is never re-encoded — so a page keeps one hash however often it is
turned. Every change records the changed materials' whole page lists
(``pages_recorded``): replaying the log gives the order, the turns and the material of
every page without a separate table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

# More pages than this on one material is a mistake (a feeder left running), not a file.
MAX_PAGES_PER_MATERIAL = 500
_HEX = frozenset("0123456789abcdef")


class PageError(ValueError):
    """A page list that cannot be recorded (message in Chinese)."""


@dataclass(frozen=True, slots=True)
class PageRef:
    sha256: str
    width: int          # pixels, as stored (before the clerk's turn)
    height: int
    dpi: int            # written into the JPEG: its size on paper
    colour: bool
    size: int           # bytes
    turns: int = 0      # the clerk's quarter turns clockwise, 0–3
    effective_dpi: int = 0   # the detail captured (see app.capture.prepare)
    origin: str = ""    # "test:0 第3页", "申请书.pdf 第2页"

    def turned(self, quarter_turns: int) -> PageRef:
        return replace(self, turns=(self.turns + quarter_turns) % 4)


# material id → its pages in order; a material with no pages has no entry.
CasePages = tuple[tuple[str, tuple[PageRef, ...]], ...]


def page_to_json(p: PageRef) -> dict[str, Any]:
    return {"sha256": p.sha256, "width": p.width, "height": p.height, "dpi": p.dpi,
            "colour": p.colour, "size": p.size, "turns": p.turns,
            "effective_dpi": p.effective_dpi, "origin": p.origin}


def page_from_json(d: Mapping[str, Any]) -> PageRef:
    sha = str(d["sha256"])
    if len(sha) != 64 or not set(sha) <= _HEX:
        raise PageError(f"页面校验值“{sha[:70]}”不是 SHA-256。")
    numbers = [d["width"], d["height"], d["dpi"], d["size"], d.get("turns", 0),
               d.get("effective_dpi", 0)]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers):
        raise PageError(f"页面 {sha[:12]}… 的尺寸或分辨率不是非负整数。")
    return PageRef(sha, d["width"], d["height"], d["dpi"], bool(d["colour"]), d["size"],
                   d.get("turns", 0) % 4, d.get("effective_dpi", 0),
                   str(d.get("origin", ""))[:200])


def pages_to_json(pages: CasePages) -> list[Any]:
    """The projection column: ``[[material_id, [page, …]], …]``."""
    return [[mid, [page_to_json(p) for p in ps]] for mid, ps in pages]


def pages_from_json(value: Sequence[Any] | None) -> CasePages:
    return tuple((str(mid), tuple(page_from_json(p) for p in ps)) for mid, ps in value or ())


def changed_pages(pages: CasePages, changes: Mapping[str, Sequence[PageRef]]) -> CasePages:
    """``pages`` with the lists of the materials in ``changes`` replaced (an empty list
    removes the material's entry); the others keep their place."""
    for mid, ps in changes.items():
        if len(ps) > MAX_PAGES_PER_MATERIAL:
            raise PageError(f"材料“{mid}”有{len(ps)}页，超过{MAX_PAGES_PER_MATERIAL}页的上限。")
    kept = [(mid, ps) for mid, ps in pages if mid not in changes]
    current = dict(pages)
    order = [mid for mid, _ in pages] + [m for m in changes if m not in current]
    merged = {**dict(kept), **{m: tuple(ps) for m, ps in changes.items()}}
    return tuple((mid, merged[mid]) for mid in order if merged.get(mid))


def apply_pages_payload(pages: CasePages, payload: Mapping[str, Any]) -> CasePages:
    """The case's pages after a ``pages_recorded`` event: ``appended`` pages go after a
    material's pages (a scan: the event stays as small as the pages it brings), and
    ``materials`` replaces whole lists (the clerk's edits)."""
    changes: dict[str, Sequence[PageRef]] = {}
    appended = payload.get("appended", {})
    materials = payload.get("materials", {})
    if not isinstance(appended, Mapping) or not isinstance(materials, Mapping):
        raise PageError("页面记录的格式不对：appended、materials 应为对象。")
    if not appended and not materials:
        raise PageError("页面记录是空的。")
    for mid, ps in appended.items():
        changes[str(mid)] = (*pages_of(pages, str(mid)), *(page_from_json(p) for p in ps))
    for mid, ps in materials.items():
        if str(mid) in changes:
            raise PageError(f"页面记录中材料“{mid}”出现了两次。")
        changes[str(mid)] = [page_from_json(p) for p in ps]
    return changed_pages(pages, changes)


def appended_payload(material_id: str, added: Sequence[PageRef]) -> dict[str, Any]:
    return {"appended": {material_id: [page_to_json(p) for p in added]}}


def pages_payload(changes: Mapping[str, Sequence[PageRef]]) -> dict[str, Any]:
    return {"materials": {mid: [page_to_json(p) for p in ps] for mid, ps in changes.items()}}


def pages_of(pages: CasePages, material_id: str) -> tuple[PageRef, ...]:
    return dict(pages).get(material_id, ())


def all_hashes(pages: CasePages) -> set[str]:
    return {p.sha256 for _, ps in pages for p in ps}


# ---- the clerk's edits, as the changed materials' new lists (for ``pages_recorded``) ----

Changes = dict[str, tuple[PageRef, ...]]


def _page_at(pages: CasePages, material_id: str, index: int) -> tuple[PageRef, ...]:
    current = pages_of(pages, material_id)
    if not 0 <= index < len(current):
        raise PageError(f"材料“{material_id}”没有第{index + 1}页。")
    return current


def turn_page(pages: CasePages, material_id: str, index: int, quarter_turns: int) -> Changes:
    current = _page_at(pages, material_id, index)
    turned = current[index].turned(quarter_turns)
    return {material_id: (*current[:index], turned, *current[index + 1:])}


def remove_page(pages: CasePages, material_id: str, index: int) -> Changes:
    current = _page_at(pages, material_id, index)
    return {material_id: (*current[:index], *current[index + 1:])}


def move_page(pages: CasePages, material_id: str, index: int, to_material: str,
              to_index: int | None = None) -> Changes:
    """The page taken out of one material and put into another (or elsewhere in the
    same one) at ``to_index`` (None: at the end)."""
    current = _page_at(pages, material_id, index)
    page = current[index]
    rest = (*current[:index], *current[index + 1:])
    target = rest if to_material == material_id else pages_of(pages, to_material)
    at = len(target) if to_index is None else max(0, min(to_index, len(target)))
    placed = (*target[:at], page, *target[at:])
    if to_material == material_id:
        return {material_id: placed}
    return {material_id: rest, to_material: placed}


def reorder_pages(pages: CasePages, material_id: str, order: Sequence[int]) -> Changes:
    """``order`` lists the current indexes in their new order (each exactly once)."""
    current = pages_of(pages, material_id)
    if sorted(order) != list(range(len(current))):
        raise PageError(f"材料“{material_id}”的页面顺序不完整或有重复。")
    return {material_id: tuple(current[i] for i in order)}
