"""A fake capture source for tests and demos: realistic pages drawn at a known skew, as
a flatbed scan (white page, a little noise) or as a document-camera frame (the page on a
dark desk, seen at an angle). It knows what it drew, so the pipeline can be measured
against it."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from app.capture.pipeline import A4_MM, MM_PER_INCH, Pixels, rotate
from app.capture.source import (
    Cancel,
    Capabilities,
    DeviceGone,
    Progress,
    RawPage,
    ScanSettings,
    SourceInfo,
    SourceKind,
    no_progress,
)

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
    """The page as a flatbed returns it: turned by ``skew`` degrees on glass of the
    page's size, a little noise."""
    image = rotate(draw_page(kind, dpi, seed), skew, grow=False)
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


class FakeSource:
    """The fake scanner (spec ``fake``): flatbed, feeder and duplex, pages drawn at a
    random skew it remembers in ``drawn_skews`` (degrees counter-clockwise, in the
    order the pages were yielded), so a test can check the pipeline took it out.

    On the flatbed each scan is one page, going round ``kinds``; the feeder gives one
    sheet per kind (default 表单, 证照, 表单), and duplex a back for each — a blank one,
    as single-sided originals have. ``gone_after`` pages, the scanner "is unplugged"
    (DeviceGone), for testing what a scan does with a device that vanishes."""

    def __init__(self, kinds: Sequence[PageKind] | None = None, *, seed: int = 0,
                 skew_range: float = 4.0, gone_after: int | None = None) -> None:
        self.kinds = list(kinds) if kinds else [PageKind.FORM, PageKind.CERTIFICATE,
                                                 PageKind.FORM]
        self.seed = seed
        self.skew_range = skew_range
        self.gone_after = gone_after
        self.drawn_skews: list[float] = []
        self._rng = random.Random(seed)
        self._scans = 0

    @property
    def info(self) -> SourceInfo:
        return SourceInfo("fake", SourceKind.FAKE, "演示扫描仪（模拟）",
                          Capabilities(flatbed=True, feeder=True, duplex=True, colour=True,
                                       max_dpi=600))

    def acquire(self, settings: ScanSettings, cancel: Cancel,
                progress: Progress = no_progress) -> Iterator[RawPage]:
        if settings.feeder:
            sheets = [[kind, PageKind.BLANK] if settings.duplex else [kind]
                      for kind in self.kinds]
            sides = [side for sheet in sheets for side in sheet]
        else:
            sides = [self.kinds[self._scans % len(self.kinds)]]
        self._scans += 1
        dpi = min(max(settings.dpi, 75), self.info.capabilities.max_dpi)
        for number, kind in enumerate(sides, start=1):
            cancel.check()
            if self.gone_after is not None and len(self.drawn_skews) >= self.gone_after:
                raise DeviceGone("演示扫描仪已断开。请检查连接后重新扫描。")
            progress(f"正在扫描第 {number} 页…")
            skew = round(self._rng.uniform(-self.skew_range, self.skew_range), 2)
            page = scanned(kind, skew, dpi, seed=self.seed * 1000 + len(self.drawn_skews))
            self.drawn_skews.append(skew)
            pixels = page.image if settings.colour else cv2.cvtColor(page.image,
                                                                      cv2.COLOR_BGR2GRAY)
            yield RawPage(pixels, dpi, f"演示扫描仪 第{number}页")
