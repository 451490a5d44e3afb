"""From what a source gave to the pages a case stores, under a profile (pure; no Qt).

A camera frame is cut out along the sheet's outline and squared; its resolution is then
worked out from the paper it shows. A scan is levelled (deskew). An identity card is cut
out of the flatbed's white and both sides are set, at true size, on one A4 page — the
photocopy a department expects. Every page is brought down to the profile's DPI (never
up) and encoded once, as JPEG with that DPI written in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from app.capture.pipeline import (
    A4_MM,
    MM_PER_INCH,
    EncodedPage,
    Pixels,
    deskew,
    effective_dpi,
    encode,
    fit_dpi,
    flatten,
    is_blank,
    page_outline,
    whiten_paper,
)
from app.capture.profiles import Profile
from app.capture.source import MAX_RAW_PAGES, CaptureError, RawPage

# On a flatbed an identity card covers about 7% of an A4 scan: an outline of 3% or more
# is taken as the card.
_CARD_SHARE = 0.03
# Scanners and files that state no DPI: assume the common office default.
_ASSUMED_DPI = 200
# A3's long side with room for a scanner's margins: a page said to be longer is a wrong
# DPI or a hostile file, and would print metres wide.
_LARGEST_PAPER_MM = 420 * 1.25
# How far a found outline's long/short ratio may stray from the card's (1.59).
_CARD_ASPECT_SLACK = 0.08
_NO_CARD = ("{origin}：没有找到证件的轮廓。请把证件单独平放在扫描仪玻璃或高拍仪底板中间（深色背景更好），"
            "不要压住其他纸张；扫描整页材料请改用“A4 表单”或“营业执照/证照”方案。")


@dataclass(frozen=True, slots=True)
class CapturedPage:
    """A page ready to store: its JPEG and what was done to get it."""

    page: EncodedPage
    origin: str           # where it came from, for the case log
    skew_removed: float   # degrees turned to level it (0.0 for camera frames)
    blank: bool
    # The detail the capture really has: the JPEG's own DPI is its size on paper (a
    # card sheet is printed 1:1), which a low-resolution camera frame may not fill.
    effective_dpi: int


@dataclass(frozen=True, slots=True)
class _Prepared:
    pixels: Pixels
    dpi: int
    skew_removed: float
    origin: str


def _prepare(raw: RawPage, profile: Profile) -> _Prepared:
    pixels, skew = raw.pixels, 0.0
    card = profile.sides_per_page > 1
    if raw.from_camera:
        corners = page_outline(pixels)
        if corners is not None:
            pixels = flatten(pixels, corners)
        elif card:
            raise CaptureError(_NO_CARD.format(origin=raw.origin))
        dpi = effective_dpi(pixels.shape[1], pixels.shape[0], profile.paper_mm)
    else:
        dpi = raw.dpi or _guessed_dpi(pixels)
        _check_paper(pixels, dpi, raw.origin)
        corners = page_outline(pixels, _CARD_SHARE) if card else None
        if corners is not None:
            pixels = flatten(pixels, corners)
        elif card:
            raise CaptureError(_NO_CARD.format(origin=raw.origin))
        else:
            pixels, skew = deskew(pixels)
    if card and not _card_shaped(pixels, profile.paper_mm):
        # A whole form squeezed into a card's place would be a photocopy of nothing.
        raise CaptureError(_NO_CARD.format(origin=raw.origin))
    if card and pixels.shape[0] > pixels.shape[1]:
        # A card is landscape; laid on the glass sideways it is turned, not squeezed.
        pixels = cv2.rotate(pixels, cv2.ROTATE_90_COUNTERCLOCKWISE)
    if not profile.colour and pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY)
    pixels = whiten_paper(fit_dpi(pixels, dpi, profile.dpi))
    return _Prepared(pixels, min(dpi, profile.dpi), skew, raw.origin)


def _guessed_dpi(pixels: Pixels) -> int:
    """A file that states no DPI: the office default, unless that would make it larger
    than A3 — then it is taken as an A4 sheet (a photo of one, a big export)."""
    long_px = int(max(pixels.shape[:2]))
    if long_px / _ASSUMED_DPI * MM_PER_INCH <= _LARGEST_PAPER_MM:
        return _ASSUMED_DPI
    return max(1, round(long_px / (max(A4_MM) / MM_PER_INCH)))


def _check_paper(pixels: Pixels, dpi: int, origin: str) -> None:
    long_mm = max(pixels.shape[:2]) / dpi * MM_PER_INCH
    if long_mm > _LARGEST_PAPER_MM:
        raise CaptureError(f"{origin}：按 {dpi} dpi 计，这一页长 {long_mm / 10:.0f} 厘米，超过 A3："
                           "请检查扫描仪或文件的分辨率设置后重扫。")


def _card_shaped(pixels: Pixels, paper_mm: tuple[float, float]) -> bool:
    h, w = pixels.shape[:2]
    ratio, wanted = max(w, h) / max(min(w, h), 1), max(paper_mm) / min(paper_mm)
    return bool(abs(ratio - wanted) <= wanted * _CARD_ASPECT_SLACK)


def _true_size(p: _Prepared, dpi: int, paper_mm: tuple[float, float]) -> Pixels:
    """The card at its real size on paper of ``dpi`` (a camera's card may be bigger)."""
    w = round(max(paper_mm) / MM_PER_INCH * dpi)
    h = round(min(paper_mm) / MM_PER_INCH * dpi)
    return cv2.resize(p.pixels, (w, h), interpolation=cv2.INTER_AREA)


def _card_sheet(sides: list[_Prepared], profile: Profile) -> Pixels:
    """Both sides of a card, front above back, centred on an A4 sheet."""
    dpi = profile.dpi
    width = round(A4_MM[0] / MM_PER_INCH * dpi)
    height = round(A4_MM[1] / MM_PER_INCH * dpi)
    colour = profile.colour
    sheet = np.full((height, width, 3) if colour else (height, width), 255, np.uint8)
    for i, side in enumerate(sides):
        card = _true_size(side, dpi, profile.paper_mm)
        if colour and card.ndim == 2:
            card = cv2.cvtColor(card, cv2.COLOR_GRAY2BGR)
        ch, cw = card.shape[:2]
        top = round(height * (0.25 + 0.5 * i) - ch / 2)
        left = round((width - cw) / 2)
        sheet[top:top + ch, left:left + cw] = card
    return sheet


def _encoded(pixels: Pixels, dpi: int, profile: Profile, origin: str, skew: float,
             effective: int) -> CapturedPage:
    return CapturedPage(encode(pixels, dpi, colour=profile.colour, quality=profile.quality),
                        origin, skew, is_blank(pixels), effective)


def captured_pages(raws: Iterable[RawPage], profile: Profile) -> Iterator[CapturedPage]:
    """The pages ``raws`` make under ``profile``, one as soon as its captures are in.

    Blank pages are dropped when the profile says so (a duplex batch's empty backs) and
    kept, marked ``blank``, otherwise — a clerk decides about a blank form.
    """
    if profile.sides_per_page > 1:
        sides: list[_Prepared] = []
        for raw in _limited(raws):
            sides.append(_prepare(raw, profile))
            if len(sides) == profile.sides_per_page:
                yield _card(sides, profile)
                sides = []
        if sides:   # one side only (a card with nothing on its back, or the scan stopped)
            yield _card(sides, profile)
        return
    for raw in _limited(raws):
        p = _prepare(raw, profile)
        page = _encoded(p.pixels, p.dpi, profile, p.origin, p.skew_removed, p.dpi)
        if page.blank and profile.drop_blank:
            continue
        yield page


def _limited(raws: Iterable[RawPage]) -> Iterator[RawPage]:
    """``raws`` up to MAX_RAW_PAGES: a feeder that never empties is stopped (closing the
    source's iterator ends its job) rather than followed for ever."""
    for count, raw in enumerate(raws, 1):
        if count > MAX_RAW_PAGES:
            raise CaptureError(f"一次扫描已超过 {MAX_RAW_PAGES} 页仍未结束，已停止：请检查扫描仪"
                               "（进纸器是否卡住、是否在反复送空白页）。")
        yield raw


def _card(sides: list[_Prepared], profile: Profile) -> CapturedPage:
    origin = " + ".join(s.origin for s in sides)
    return _encoded(_card_sheet(sides, profile), profile.dpi, profile, origin, 0.0,
                    min(s.dpi for s in sides))
