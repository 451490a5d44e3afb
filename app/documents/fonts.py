"""The fonts documents are drawn with: one main CJK TrueType font and fallbacks.

reportlab can embed only TrueType outlines (not CFF fonts such as Noto Sans CJK), so the
main font is WenQuanYi Zen Hei / Micro Hei on Linux and SimSun / Microsoft YaHei on
Windows. Names may hold rare characters (生僻字) outside the main font; those are drawn
with the first fallback that has them (HanaMin A/B cover CJK Extensions A to F, Jigmo
and 天珩全字库 also G and H). A character no font has prints as a one-em □ (see
:meth:`FontSet.printable_runs`) and is reported, so the clerk sees where to write it in
by hand; :func:`font_advice` says which font would cover it.

The same :class:`FontSet` serves the PDF (reportlab) and the thermal raster (Pillow), so
both agree on which characters are covered.
"""

from __future__ import annotations

import functools
import glob
import os
import re
import threading
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from reportlab.pdfbase import pdfmetrics, ttfonts
from reportlab.pdfbase.ttfonts import TTFError, TTFont

# (file name, sub-font index for collections) in order of preference.
MAIN_CANDIDATES: tuple[tuple[str, int], ...] = (
    ("wqy-zenhei.ttc", 0), ("wqy-microhei.ttc", 0), ("simsun.ttc", 0), ("msyh.ttc", 0),
    ("msyh.ttf", 0), ("simhei.ttf", 0), ("DroidSansFallbackFull.ttf", 0),
)
FALLBACK_CANDIDATES: tuple[tuple[str, int], ...] = (
    ("HanaMinA.ttf", 0), ("HanaMinB.ttf", 0), ("simsunb.ttf", 0),
    ("BabelStoneHan.ttf", 0), ("DroidSansFallbackFull.ttf", 0),
    # Extensions G and H (and I): what font_advice names when HanaMin is not enough, so a
    # font installed on that advice is used without any setting.
    ("Jigmo.ttf", 0), ("Jigmo2.ttf", 0), ("Jigmo3.ttf", 0),
    ("TH-Tshyn-P0.ttf", 0), ("TH-Tshyn-P1.ttf", 0), ("TH-Tshyn-P2.ttf", 0),
)
FONT_DIRS: tuple[str, ...] = (
    "/usr/share/fonts", "/usr/local/share/fonts", str(Path.home() / ".fonts"),
    str(Path.home() / ".local/share/fonts"), r"C:\Windows\Fonts",
    str(Path.home() / "AppData/Local/Microsoft/Windows/Fonts"),
)

# What a character no installed font has prints as (□ is in GB2312, so in every main font).
MISSING_MARK = "\u25a1"

# Characters every document prints besides the applicant's data: if the main font lacks
# one of these it is not fit for the job (a Latin-only font, a broken file).
_REQUIRED_SAMPLE = "受理通知书申请人办件编号材料名称窗口经办日期补正不予取件送达回证一次性告知单０１２"


def _to_unicode_cmap(fontname: str, subset: Sequence[int]) -> str:
    """reportlab's ToUnicode CMap, with characters beyond U+FFFF as UTF-16 pairs.

    reportlab 5.1 writes U+2020C as ``<2020C>``, which PDF readers decode as two wrong
    characters, so a name such as 刘𠈌 is drawn right but copies and searches wrong in the
    archived PDF. The PDF spec wants the UTF-16BE code units: ``<D840DE0C>``.
    """
    def utf16(code: int) -> str:
        return chr(code).encode("utf-16-be").hex().upper() if code > 0xFFFF else f"{code:04X}"

    return "\n".join([
        "/CIDInit /ProcSet findresource begin", "12 dict begin", "begincmap",
        "/CIDSystemInfo", f"<< /Registry ({fontname})", f"/Ordering ({fontname})",
        "/Supplement 0", ">> def", f"/CMapName /{fontname} def", "/CMapType 2 def",
        "1 begincodespacerange", f"<00> <{len(subset) - 1:02X}>", "endcodespacerange",
        f"{len(subset)} beginbfchar",
        *(f"<{i:02X}> <{utf16(v)}>" for i, v in enumerate(subset)),
        "endbfchar", "endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end",
    ])


ttfonts.makeToUnicodeCMap = _to_unicode_cmap


class FontError(RuntimeError):
    """No usable CJK TrueType font: the message says what to install."""


@dataclass(frozen=True, slots=True)
class FontFile:
    path: Path
    index: int = 0   # sub-font of a .ttc collection

    @property
    def label(self) -> str:
        return self.path.name + (f"#{self.index}" if self.index else "")


@dataclass(frozen=True, slots=True)
class Run:
    """A stretch of text drawn with one font (``font`` is the reportlab name)."""

    text: str
    font: str


@dataclass(frozen=True, slots=True)
class Coverage:
    """How much of a character range a font covers, for ``yichuang doctor``."""

    font: str
    file: str
    gb2312: float         # share of the 6,763 GB2312 hanzi
    unified: float        # share of CJK Unified Ideographs U+4E00-9FFF
    extension_a: float
    extension_b: float


class LoadedFont:
    """One TrueType font registered with reportlab, with its character map."""

    def __init__(self, file: FontFile) -> None:
        # One reportlab name per file, so two configurations in one process never clash.
        self.name = "YC_" + re.sub(r"\W", "_", file.path.stem) + f"_{file.index}"
        self.file = file
        try:
            self.ttf = TTFont(self.name, str(file.path), subfontIndex=file.index)
        except (TTFError, OSError, ValueError, IndexError) as exc:
            raise FontError(f"字体文件 {file.path} 无法使用（{exc}）") from exc
        pdfmetrics.registerFont(self.ttf)
        self.cmap: dict[int, int] = self.ttf.face.charToGlyph

    def has(self, ch: str) -> bool:
        return ord(ch) in self.cmap


class FontSet:
    """The main font and its fallbacks, loaded once per process (see :func:`font_set`)."""

    def __init__(self, main: FontFile, fallbacks: Sequence[FontFile] = ()) -> None:
        self.main = LoadedFont(main)
        missing = [ch for ch in _REQUIRED_SAMPLE if not self.main.has(ch)]
        if missing:
            raise FontError(f"字体 {main.path} 不含常用汉字（如“{missing[0]}”），请改用"
                            "文泉驿正黑、宋体或微软雅黑")
        self._fallback_files = list(fallbacks)
        self._fallbacks: list[LoadedFont] | None = None
        self._lock = threading.Lock()

    @property
    def fallbacks(self) -> list[LoadedFont]:
        # Fallbacks are large (HanaMin B is 30 MB) and most documents never need them:
        # they load the first time a character outside the main font appears.
        with self._lock:
            if self._fallbacks is None:
                loaded = []
                for f in self._fallback_files:
                    try:
                        loaded.append(LoadedFont(f))
                    except FontError:
                        continue  # a broken fallback must not stop printing
                self._fallbacks = loaded
            return self._fallbacks

    def by_name(self, name: str) -> LoadedFont:
        """A font of this set by its reportlab name (as :meth:`runs` gives it)."""
        if name == self.main.name:
            return self.main
        for f in self.fallbacks:
            if f.name == name:
                return f
        raise KeyError(name)

    def font_for(self, ch: str) -> LoadedFont | None:
        """The font that draws ``ch``: main first, then fallbacks; None if none has it."""
        if self.main.has(ch) or ch in "\n\t":
            return self.main
        for f in self.fallbacks:
            if f.has(ch):
                return f
        return None

    def runs(self, text: str) -> Iterator[Run]:
        """Split ``text`` into runs of one font each (uncovered characters use main)."""
        current, start = self.main.name, 0
        for i, ch in enumerate(text):
            name = (self.font_for(ch) or self.main).name
            if name != current:
                if i > start:
                    yield Run(text[start:i], current)
                current, start = name, i
        if start < len(text):
            yield Run(text[start:], current)

    def printable_runs(self, text: str) -> Iterator[Run]:
        """:meth:`runs` as they are printed: each character no font has (those
        :meth:`missing` reports) becomes :data:`MISSING_MARK`, a visible one-em box in
        a font that has it, so a name keeps its length and shows where to write by hand
        (a blank glyph would silently shorten 王𱍊明 to 王明)."""
        mark = (self.font_for(MISSING_MARK) or self.main).name
        current, chunk = self.main.name, list[str]()
        for ch in text:
            if self._uncovered(ch):
                ch, name = MISSING_MARK, mark
            else:
                name = (self.font_for(ch) or self.main).name
            if name != current and chunk:
                yield Run("".join(chunk), current)
                chunk = []
            current = name
            chunk.append(ch)
        if chunk:
            yield Run("".join(chunk), current)

    def _uncovered(self, ch: str) -> bool:
        # Private-use characters (Co) are what local rare-name fonts use: a name may
        # really contain one, so they count; control and format characters do not.
        if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Cs"):
            return False
        return self.font_for(ch) is None

    def missing(self, text: str) -> list[str]:
        """Characters of ``text`` that no font can draw, each once, in order."""
        return list(dict.fromkeys(ch for ch in text if self._uncovered(ch)))

    def coverage(self) -> list[Coverage]:
        return [_coverage(f) for f in [self.main, *self.fallbacks]]


def _coverage(font: LoadedFont) -> Coverage:
    def share(codes: Sequence[int]) -> float:
        return sum(1 for c in codes if c in font.cmap) / len(codes)

    return Coverage(font.name, font.file.label, share(_gb2312_hanzi()),
                    share(range(0x4E00, 0xA000)), share(range(0x3400, 0x4DC0)),
                    share(range(0x20000, 0x2A6E0)))


@functools.cache
def _gb2312_hanzi() -> list[int]:
    # Rows 16-87 of GB2312 hold the 6,763 hanzi; decode every valid cell.
    codes = []
    for row in range(0xB0, 0xF8):
        for cell in range(0xA1, 0xFF):
            try:
                codes.append(ord(bytes((row, cell)).decode("gb2312")))
            except UnicodeDecodeError:
                continue
    return codes


def find_font(candidates: Sequence[tuple[str, int]], dirs: Sequence[str] = FONT_DIRS,
              ) -> list[FontFile]:
    """Installed font files among ``candidates``, in the candidates' order."""
    found: list[FontFile] = []
    for name, index in candidates:
        for base in dirs:
            if not os.path.isdir(base):
                continue
            hits = sorted(glob.glob(os.path.join(glob.escape(base), "**", name), recursive=True))
            if hits:
                found.append(FontFile(Path(hits[0]), index))
                break
    return found


def parse_font_setting(value: str) -> FontFile:
    """A configured font: ``/path/font.ttc`` or ``/path/font.ttc#1`` for a sub-font."""
    path, _, index = value.partition("#")
    if index and not index.isdigit():
        raise FontError(f"字体设置“{value}”无效：# 后应为子字体序号")
    return FontFile(Path(path).expanduser(), int(index or 0))


def discover(configured: Sequence[str] = ()) -> tuple[FontFile, list[FontFile]]:
    """The main font and fallbacks: the configured ones first, then installed ones."""
    files = [parse_font_setting(v) for v in configured]
    for f in files:
        if not f.path.is_file():
            raise FontError(f"设置的字体文件不存在：{f.path}")
    mains = files[:1] or find_font(MAIN_CANDIDATES)
    if not mains:
        raise FontError("未找到可嵌入PDF的中文 TrueType 字体：请安装 fonts-wqy-zenhei"
                        "（Windows 自带宋体、微软雅黑即可）")
    main = mains[0]
    fallbacks = files[1:] + [f for f in find_font(FALLBACK_CANDIDATES) if f.path != main.path]
    return main, fallbacks


# ---- advice for a character no installed font has ------------------------------------

# Unicode's CJK ideograph blocks (first and last code point).
_BLOCKS: dict[str, tuple[int, int]] = {
    "基本区": (0x4E00, 0x9FFF), "扩展A": (0x3400, 0x4DBF), "兼容汉字": (0xF900, 0xFAFF),
    "扩展B": (0x20000, 0x2A6DF), "扩展C": (0x2A700, 0x2B73F), "扩展D": (0x2B740, 0x2B81F),
    "扩展E": (0x2B820, 0x2CEAF), "扩展F": (0x2CEB0, 0x2EBEF), "扩展I": (0x2EBF0, 0x2EE5F),
    "兼容汉字补充": (0x2F800, 0x2FA1F), "扩展G": (0x30000, 0x3134F),
    "扩展H": (0x31350, 0x323AF),
}


@dataclass(frozen=True, slots=True)
class FontOffer:
    """A free font that covers rare characters, as the administrator is told to install
    it; ``files`` are the names it installs (any one present counts as installed)."""

    name: str
    files: tuple[str, ...]
    blocks: tuple[str, ...]

    def covers(self, ch: str) -> bool:
        return any(lo <= ord(ch) <= hi for lo, hi in (_BLOCKS[b] for b in self.blocks))


_TO_F = ("基本区", "扩展A", "兼容汉字", "扩展B", "扩展C", "扩展D", "扩展E", "扩展F", "兼容汉字补充")
# In order of preference: a Debian package first, then the fonts that reach further.
# HanaMin (2017) stops at Extension F; Jigmo (GlyphWiki, CC0) has G and H in Jigmo3.ttf
# and I in Jigmo2.ttf; 天珩全字库 has G and H too. A family counts as installed when any
# of its files is, since its files come in one archive.
FONT_OFFERS: tuple[FontOffer, ...] = (
    FontOffer("花园明朝（sudo apt-get install fonts-hanazono）", ("HanaMinA.ttf", "HanaMinB.ttf"),
              _TO_F),
    FontOffer("Jigmo 字体（Jigmo.ttf、Jigmo2.ttf、Jigmo3.ttf）",
              ("Jigmo.ttf", "Jigmo2.ttf", "Jigmo3.ttf"), (*_TO_F, "扩展I", "扩展G", "扩展H")),
    FontOffer("天珩全字库（TH-Tshyn-P0.ttf、TH-Tshyn-P1.ttf、TH-Tshyn-P2.ttf）",
              ("TH-Tshyn-P0.ttf", "TH-Tshyn-P1.ttf", "TH-Tshyn-P2.ttf"),
              (*_TO_F, "扩展G", "扩展H")),
)


def _code_points(chars: Sequence[str]) -> str:
    return "、".join(f"U+{ord(ch):04X}" for ch in chars)


def _block_of(ch: str) -> str:
    return next((b for b, (lo, hi) in _BLOCKS.items() if lo <= ord(ch) <= hi), "")


def font_advice(chars: Sequence[str], dirs: Sequence[str] = FONT_DIRS) -> str:
    """What to tell the administrator about ``chars`` (characters no installed font has).

    Each character gets the first font of :data:`FONT_OFFERS` that covers its block and is
    not installed in ``dirs``; a character none covers (a private-use character, one in a
    block no offer reaches, or every covering font is installed already) is named by its
    code point, for the administrator to find a font for it.
    """
    installed = {o.name for o in FONT_OFFERS if find_font([(f, 0) for f in o.files], dirs)}
    wanted: dict[FontOffer, list[str]] = {}
    unknown: list[str] = []
    for ch in dict.fromkeys(chars):
        offer = next((o for o in FONT_OFFERS if o.name not in installed and o.covers(ch)),
                     None)
        if offer is None:
            unknown.append(ch)
        else:
            wanted.setdefault(offer, []).append(ch)
    parts = []
    for offer, covered in wanted.items():
        blocks = "、".join(dict.fromkeys(_block_of(ch) for ch in covered))
        parts.append(f"请管理员安装覆盖 {_code_points(covered)}（CJK{blocks}）的字体："
                     f"{offer.name}，装好后重新打印")
    if unknown:
        parts.append(f"本机已装的字体都没有 {_code_points(unknown)}：请管理员另行安装覆盖"
                     "该字的字体（私用区字符需本单位的造字字体），装好后重新打印")
    return "；".join(parts)


_cache: dict[tuple[str, ...], FontSet] = {}
_cache_lock = threading.Lock()


def font_set(configured: Sequence[str] = ()) -> FontSet:
    """The process-wide FontSet for a font configuration (loaded on first use)."""
    key = tuple(configured)
    with _cache_lock:
        if key not in _cache:
            main, fallbacks = discover(configured)
            _cache[key] = FontSet(main, fallbacks)
        return _cache[key]
