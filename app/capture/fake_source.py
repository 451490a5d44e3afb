"""A fake capture source for tests and demos: realistic pages drawn at a known skew, as
a flatbed scan (white page, a little noise) or as a document-camera frame (the page on a
dark desk, seen at an angle). It knows what it drew, so the pipeline can be measured
against it."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from app.capture.pipeline import A4_MM, MM_PER_INCH, Pixels, rotate

_LINES = ("食品经营许可申请书", "申请人：王小明  统一社会信用代码：91330102MA2H0000X1",
          "经营场所：杭州市上城区解放路 100 号", "经营项目：预包装食品销售（含冷藏冷冻食品）",
          "本人承诺所提交的材料真实有效，并对其真实性负责。", "法定代表人（负责人）签字：")


class PageKind(StrEnum):
    FORM = "表单"          # lines of text, a table's rules
    CERTIFICATE = "证照"   # a coloured frame and a red seal
    BLANK = "空白页"        # the back of a one-sided sheet


@dataclass(frozen=True, slots=True)
class FakePage:
    image: Pixels      # BGR
    kind: PageKind
    skew: float        # degrees counter-clockwise the page was turned by
    dpi: int


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    from app.documents.fonts import FontError, discover

    try:
        main, _ = discover()
        return ImageFont.truetype(str(main.path), size, index=main.index)
    except (FontError, OSError):   # no CJK font: Latin shapes still make text lines
        return ImageFont.load_default(size)


def draw_page(kind: PageKind, dpi: int = 200, seed: int = 0) -> Pixels:
    """A level A4 page at ``dpi`` (BGR)."""
    rng = random.Random(seed)
    width, height = (round(mm / MM_PER_INCH * dpi) for mm in A4_MM)
    page = Image.new("RGB", (width, height), (250, 250, 246))
    if kind is PageKind.BLANK:
        return cv2.cvtColor(np.asarray(page), cv2.COLOR_RGB2BGR)
    pen = ImageDraw.Draw(page)
    margin, line = width // 10, dpi // 4
    if kind is PageKind.CERTIFICATE:
        pen.rectangle((margin // 2, margin // 2, width - margin // 2, height - margin // 2),
                      outline=(170, 120, 40), width=max(4, dpi // 30))
        centre = (width * 2 // 3, height * 2 // 3)
        r = dpi // 2
        pen.ellipse((centre[0] - r, centre[1] - r, centre[0] + r, centre[1] + r),
                    outline=(200, 30, 30), width=max(3, dpi // 40))
    font = _font(max(10, dpi // 8))
    y = margin
    while y < height - 2 * margin:
        text = rng.choice(_LINES)
        pen.text((margin, y), text, fill=(25, 25, 25), font=font)
        y += line + rng.randint(0, line // 3)
        if kind is PageKind.FORM and rng.random() < 0.15:
            pen.line((margin, y - line // 4, width - margin, y - line // 4), fill=(60, 60, 60),
                     width=max(1, dpi // 100))
    return cv2.cvtColor(np.asarray(page), cv2.COLOR_RGB2BGR)


def scanned(kind: PageKind, skew: float, dpi: int = 200, seed: int = 0) -> FakePage:
    """The page as a flatbed returns it: turned by ``skew`` degrees, a little noise."""
    image = rotate(draw_page(kind, dpi, seed), skew)
    noise = np.random.default_rng(seed).normal(0, 3, image.shape)
    image = np.clip(image.astype(np.float64) + noise, 0, 255).astype(np.uint8)
    return FakePage(image, kind, skew, dpi)


def camera_frame(kind: PageKind, size: tuple[int, int] = (3264, 2448), seed: int = 0
                 ) -> tuple[Pixels, np.ndarray]:
    """A document camera's frame (width × height): the page on a dark desk, seen a
    little from the side. Returns the frame and the page's corners in it (top-left,
    top-right, bottom-right, bottom-left)."""
    width, height = size
    page = draw_page(kind, dpi=300, seed=seed)
    ph, pw = page.shape[:2]
    rng = random.Random(seed)
    # The page upright in the frame, 80 % of its height, corners pulled a little apart.
    h = height * 0.8
    w = h * pw / ph
    x0, y0 = (width - w) / 2, (height - h) / 2
    jitter = [rng.uniform(-0.03, 0.03) * h for _ in range(8)]
    corners = np.array([[x0 + jitter[0], y0 + jitter[1]], [x0 + w + jitter[2], y0 + jitter[3]],
                        [x0 + w + jitter[4], y0 + h + jitter[5]],
                        [x0 + jitter[6], y0 + h + jitter[7]]], dtype=np.float32)
    source = np.array([[0, 0], [pw - 1, 0], [pw - 1, ph - 1], [0, ph - 1]], dtype=np.float32)
    desk = np.full((height, width, 3), (55, 60, 70), np.uint8)
    warped = cv2.warpPerspective(page, cv2.getPerspectiveTransform(source, corners),
                                 (width, height), dst=desk, borderMode=cv2.BORDER_TRANSPARENT)
    return warped, corners
