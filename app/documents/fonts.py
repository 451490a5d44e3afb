"""The fonts documents are drawn with: one main CJK TrueType font and fallbacks.

reportlab can embed only TrueType outlines (not CFF fonts such as Noto Sans CJK), so the
main font is WenQuanYi Zen Hei / Micro Hei on Linux and SimSun / Microsoft YaHei on
Windows. Names may hold rare characters (生僻字) outside the main font; those are drawn
with the first fallback that has them (HanaMin A/B cover CJK Extension B and beyond).
A character no font has is still printed (as the main font's blank glyph) and reported,
so the clerk can be warned and write it in by hand.

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
)
FONT_DIRS: tuple[str, ...] = (
    "/usr/share/fonts", "/usr/local/share/fonts", str(Path.home() / ".fonts"),
    str(Path.home() / ".local/share/fonts"), r"C:\Windows\Fonts",
    str(Path.home() / "AppData/Local/Microsoft/Windows/Fonts"),
)

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

    def missing(self, text: str) -> list[str]:
        """Characters of ``text`` that no font can draw, each once, in order."""
        seen: list[str] = []
        for ch in text:
            # Private-use characters (Co) are what local rare-name fonts use: a name may
            # really contain one, so they count; control and format characters do not.
            if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Cs"):
                continue
            if ch not in seen and self.font_for(ch) is None:
                seen.append(ch)
        return seen

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
