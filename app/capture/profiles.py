"""Capture profiles: what a clerk picks with one key before scanning a material.

Each profile fixes the resolution and colour archival practice asks for that kind of
paper (≥ 200 dpi for forms; ≥ 300 dpi and colour for certificates, where seals and
photographs matter), whether the feeder is used, and how captures become pages: an
identity card's two sides go onto one page, a duplex batch drops its blank backs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.capture.pipeline import A4_MM
from app.capture.source import ScanSettings
from app.errors import UserError

ID_CARD_MM = (85.6, 54.0)    # ISO/IEC 7810 ID-1, the 居民身份证's size


class ProfileCode(StrEnum):
    ID_CARD = "id_card"
    A4_FORM = "a4_form"
    CERTIFICATE = "certificate"
    ADF_DUPLEX = "adf_duplex"


@dataclass(frozen=True, slots=True)
class Profile:
    code: ProfileCode
    key: str                      # the digit that picks it in the scan panel
    name: str
    dpi: int
    colour: bool
    feeder: bool = False
    duplex: bool = False
    sides_per_page: int = 1       # captures composed onto one stored page
    paper_mm: tuple[float, float] = A4_MM   # for the DPI of camera frames
    drop_blank: bool = False
    # JPEG quality. 60 keeps 200-dpi grey text crisp (bench/capture.py saves a 100% crop
    # to look at) at under 200 KB for a page dense with text; colour keeps 70 for seals.
    quality: int = 70

    @property
    def settings(self) -> ScanSettings:
        return ScanSettings(dpi=self.dpi, colour=self.colour, feeder=self.feeder,
                            duplex=self.duplex)

    @property
    def summary(self) -> str:
        """One line for the panel and ``capture sources``: "300 dpi 彩色 单张"."""
        how = "双面进纸器" if self.duplex else "进纸器" if self.feeder else "单张"
        return f"{self.dpi} dpi {'彩色' if self.colour else '灰度'} {how}"


PROFILES: tuple[Profile, ...] = (
    Profile(ProfileCode.ID_CARD, "1", "身份证正反面", 300, True, sides_per_page=2,
            paper_mm=ID_CARD_MM),
    Profile(ProfileCode.A4_FORM, "2", "A4 表单", 200, False, quality=60),
    Profile(ProfileCode.CERTIFICATE, "3", "营业执照/证照", 300, True),
    Profile(ProfileCode.ADF_DUPLEX, "4", "多页 ADF 双面", 200, False, feeder=True,
            duplex=True, drop_blank=True, quality=60),
)
DEFAULT = PROFILES[1]


def profile(code_or_key: str) -> Profile:
    """A profile by code ("a4_form"), key ("2") or name ("A4 表单")."""
    wanted = code_or_key.strip()
    for p in PROFILES:
        if wanted in (p.code.value, p.key, p.name):
            return p
    names = "、".join(f"{p.key} {p.name}（{p.code.value}）" for p in PROFILES)
    raise UserError(f"没有扫描方案“{code_or_key}”：可选 {names}。")
