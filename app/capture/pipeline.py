"""The page pipeline: pure functions from pixels to a stored page (no Qt, no files).

Camera frames (高拍仪) show the page on the desk at an angle: the page's outline is found
and the page is cut out square (perspective correction). Scans are square already but a
sheet fed crooked is skewed by a degree or two: the angle is measured on a downscaled,
binarised copy (the text lines' row profile is sharpest when they are level) and the
full page is rotated once. Archival practice sets the sizes: ≥ 200 dpi for forms, ≥ 300
dpi and colour for certificates and anything with seals or photographs.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np
from cv2.typing import MatLike
from numpy.typing import NDArray
from PIL import Image

# An image as OpenCV hands it over: rows × columns (× BGR), 8-bit.
Pixels = MatLike
A4_MM = (210.0, 297.0)
MM_PER_INCH = 25.4
MAX_SKEW = 10.0          # degrees: a sheet fed worse than this is fed again, not rotated
# Degrees: a tilt this small is invisible, and turning the page resamples (softens) it.
LEVEL_ENOUGH = 0.1
_PROFILE_WIDTH = 900     # px: the copy the skew is measured on
# Small-copy px: how far outside the sheet its found edge may lie (blur 5×5 + dilate 3×3).
_OUTLINE_SLACK = 2.5
_INK_BLANK = 0.0015      # share of dark pixels below which a page is blank
_INK_DARKNESS = 160      # grey level: darker is a mark, whatever the paper's tone
_PAPER_LEVEL = 230       # grey level: lighter is paper (whiten_paper)


@dataclass(frozen=True, slots=True)
class EncodedPage:
    """A page as stored: JPEG bytes, its pixel size and the DPI written into it."""
    jpeg: bytes
    width: int
    height: int
    dpi: int
    colour: bool


def grey(image: Pixels) -> Pixels:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def _ink(image: Pixels) -> Pixels:
    """Dark marks as 255 on 0. Otsu's threshold suits grey or yellowed paper, but on a
    page with no marks it splits the paper from the white a rotation left in the corners:
    it is capped at a darkness only ink reaches."""
    page = grey(image)
    otsu, _ = cv2.threshold(page, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    _, binary = cv2.threshold(page, min(otsu, _INK_DARKNESS), 255, cv2.THRESH_BINARY_INV)
    return binary


def skew_angle(image: Pixels, limit: float = MAX_SKEW) -> float:
    """The angle (degrees, counter-clockwise positive) by which the page's text lines
    are tilted; 0.0 for a page with too little ink to tell.

    The row-sum profile of the binarised page has the greatest variance when the lines
    are level: searched coarsely over ±limit, then finely around the best."""
    ink = _ink(image)
    scale = _PROFILE_WIDTH / ink.shape[1]
    if scale < 1:
        ink = cv2.resize(ink, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    if cv2.countNonZero(ink) < ink.size * _INK_BLANK:
        return 0.0
    h, w = ink.shape
    centre = (w / 2, h / 2)

    def sharpness(angle: float) -> float:
        turned = cv2.warpAffine(ink, cv2.getRotationMatrix2D(centre, angle, 1.0), (w, h),
                                flags=cv2.INTER_NEAREST, borderValue=0)
        return float(np.var(turned.sum(axis=1, dtype=np.float64)))

    best = max(np.arange(-limit, limit + 0.01, 0.5), key=sharpness)
    best = max(np.arange(best - 0.5, best + 0.51, 0.05), key=sharpness)
    # The rotation that levels the lines is minus their tilt.
    return -float(round(best, 2))


def rotate(image: Pixels, angle: float, *, grow: bool = True) -> Pixels:
    """``image`` turned ``angle`` degrees counter-clockwise about its centre, the new
    corners white (paper). Grown so no corner is cut, or (``grow=False``) kept at its
    size: a scanner's page is the size of its glass, and a levelled page stays that size
    (what falls outside is the glass's margin, not the sheet)."""
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    size = (round(h * sin + w * cos), round(h * cos + w * sin)) if grow else (w, h)
    matrix[0, 2] += size[0] / 2 - w / 2
    matrix[1, 2] += size[1] / 2 - h / 2
    white = (255, 255, 255) if image.ndim == 3 else 255
    return cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=white)


def deskew(image: Pixels) -> tuple[Pixels, float]:
    """A scan levelled: the page and the angle it was turned by (0.0: left as it was)."""
    tilt = skew_angle(image)
    if abs(tilt) <= LEVEL_ENOUGH:
        return image, 0.0
    return rotate(image, -tilt, grow=False), -tilt


def quarter_turns(image: Pixels, turns: int) -> Pixels:
    """The clerk's rotate key: ``turns`` quarter turns clockwise (lossless)."""
    codes = (None, cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180, cv2.ROTATE_90_COUNTERCLOCKWISE)
    code = codes[turns % 4]
    return image if code is None else cv2.rotate(image, code)


def page_outline(frame: Pixels, least_share: float = 0.2) -> NDArray[np.float32] | None:
    """The four corners of the page in a camera frame (top-left, top-right,
    bottom-right, bottom-left), or None when no quadrilateral covers at least
    ``least_share`` of the frame (the page fills it, or is not there)."""
    small_scale = 1000 / max(frame.shape[:2])
    small = cv2.resize(grey(frame), None, fx=small_scale, fy=small_scale,
                       interpolation=cv2.INTER_AREA) if small_scale < 1 else grey(frame)
    scale = min(small_scale, 1.0)
    edges = cv2.Canny(cv2.GaussianBlur(small, (5, 5), 0), 50, 150)
    edges = cv2.dilate(edges, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(edges, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    least = least_share * small.shape[0] * small.shape[1]
    for contour in sorted(contours, key=cv2.contourArea, reverse=True)[:5]:
        if cv2.contourArea(contour) < least:
            break
        corners = cv2.approxPolyDP(contour, 0.02 * cv2.arcLength(contour, True), True)
        if len(corners) == 4 and cv2.isContourConvex(corners):
            found = _inset(_ordered(corners.reshape(4, 2).astype(np.float32)),
                           _OUTLINE_SLACK)
            outline: NDArray[np.float32] = (found / scale).astype(np.float32)
            return outline
    return None


def _inset(corners: NDArray[np.float32], by: float) -> NDArray[np.float32]:
    """The corners moved ``by`` pixels toward the middle: the edge found on the blurred,
    dilated copy lies outside the sheet, and a line of desk along a stored page's edge
    looks like a black border on every print."""
    middle = corners.mean(axis=0)
    towards = middle - corners
    lengths = np.linalg.norm(towards, axis=1, keepdims=True)
    moved: NDArray[np.float32] = (corners + towards / np.maximum(lengths, 1e-6) * by
                                  * np.sqrt(2)).astype(np.float32)
    return moved


def _ordered(points: NDArray[np.float32]) -> NDArray[np.float32]:
    by_sum, by_diff = points.sum(axis=1), np.diff(points, axis=1).ravel()
    return np.array([points[np.argmin(by_sum)], points[np.argmin(by_diff)],
                     points[np.argmax(by_sum)], points[np.argmax(by_diff)]],
                    dtype=np.float32)


def flatten(frame: Pixels, corners: NDArray[np.float32]) -> Pixels:
    """The page inside ``corners`` cut out and squared (its sides' lengths kept)."""
    tl, tr, br, bl = corners
    width = round(max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl)))
    height = round(max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr)))
    target = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]],
                      dtype=np.float32)
    return cv2.warpPerspective(frame, cv2.getPerspectiveTransform(corners, target),
                               (width, height), flags=cv2.INTER_LINEAR)


def is_blank(image: Pixels, margin: float = 0.05) -> bool:
    """Whether a page carries nothing (a back side, a separator sheet): next to no ink
    inside its margins, where a scanner's edge shadows fall."""
    h, w = image.shape[:2]
    mh, mw = int(h * margin), int(w * margin)
    inner = grey(image)[mh:h - mh, mw:w - mw]
    # A fixed darkness (not Otsu's): a blank page has no two populations to split.
    dark = cv2.countNonZero((inner < _INK_DARKNESS).astype(np.uint8))
    return dark < inner.size * _INK_BLANK


def whiten_paper(image: Pixels, level: int = _PAPER_LEVEL) -> Pixels:
    """A grey page's near-white paper made white: a scanner's noise on the paper is what
    JPEG spends most bytes on (a township's uplink pays for them), and no mark a clerk
    reads is that light. Colour pages are left alone: a seal's pale red is a mark."""
    if image.ndim != 2:
        return image
    clean = image.copy()
    clean[clean >= level] = 255
    return clean


def effective_dpi(width_px: int, height_px: int, paper_mm: tuple[float, float] = A4_MM
                  ) -> int:
    """The resolution a page of ``paper_mm`` has at this pixel size (the short side to
    the short side), as stored with the page."""
    short_px, short_mm = min(width_px, height_px), min(paper_mm)
    return round(short_px / (short_mm / MM_PER_INCH))


def frame_dpi(width_px: int, height_px: int, paper_mm: tuple[float, float] = A4_MM
              ) -> int:
    """The most a sheet of ``paper_mm`` can get in a camera frame of this size: laid to
    fill it, long side along the frame's long side (the frame's shape, not the sheet's,
    limits it — a 4:3 frame is wider than A4)."""
    long_px, short_px = max(width_px, height_px), min(width_px, height_px)
    long_mm, short_mm = max(paper_mm), min(paper_mm)
    return round(min(long_px / long_mm, short_px / short_mm) * MM_PER_INCH)


def fit_dpi(image: Pixels, dpi: int, target_dpi: int) -> Pixels:
    """Down to ``target_dpi`` when the page has more (never up: that adds bytes, not
    detail)."""
    if dpi <= target_dpi:
        return image
    scale = target_dpi / dpi
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def encode(image: Pixels, dpi: int, *, colour: bool, quality: int = 70) -> EncodedPage:
    """A JPEG of the page with its DPI written in (JFIF density), grey unless the profile
    says colour."""
    if colour and image.ndim == 3:
        picture = Image.fromarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    else:
        picture = Image.fromarray(grey(image))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=quality, dpi=(dpi, dpi), optimize=True)
    return EncodedPage(out.getvalue(), picture.width, picture.height, dpi,
                       picture.mode == "RGB")
