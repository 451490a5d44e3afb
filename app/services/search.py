"""Instant catalogue search by Chinese substring, full pinyin, pinyin initials or code.

A clerk types ``yyzz`` or ``yingyezhizhao`` or ``营业执照`` and expects 营业执照… items
first. The index keeps, for every searchable entry, its name, its pinyin without spaces
and its initials, all lower case; a query is a handful of ``str.find`` calls per entry,
which stays within a few milliseconds for thousands of items.
"""

from __future__ import annotations

import heapq
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

_CJK = re.compile(r"[\u3400-\u9fff\U00020000-\U0003134f]")
_CODE_LIKE = re.compile(r"[0-9]")


def pinyin_keys(name: str) -> tuple[str, str]:
    """(full pinyin, initials) of a name, lower case, ASCII letters and digits only.

    Non-Chinese runs (``A``, ``2``) are kept in both forms, so ``a级`` still matches.
    """
    # Imported here: its phrase dictionary takes ~0.3 s to load, and only catalogue
    # imports need it (the keys are stored), not the window's start-up.
    from pypinyin import Style, lazy_pinyin

    syllables = lazy_pinyin(name, style=Style.NORMAL, errors="default", v_to_u=False)
    full_parts: list[str] = []
    initials: list[str] = []
    for syl in syllables:
        token = re.sub(r"[^0-9a-z]", "", syl.lower())
        if not token:
            continue
        full_parts.append(token)
        # A run of non-Chinese letters comes back whole: its "initials" are itself.
        initials.append(token if not _is_pinyin(syl, name) else token[0])
    return "".join(full_parts), "".join(initials)


def _is_pinyin(syllable: str, name: str) -> bool:
    return syllable not in name


@dataclass(frozen=True, slots=True)
class SearchEntry:
    """One searchable thing: an item or a bundle."""

    kind: str  # "item" | "bundle"
    code: str
    name: str
    department: str
    pinyin: str
    initials: str


@dataclass(frozen=True, slots=True)
class SearchHit:
    entry: SearchEntry
    rank: int  # lower is better: 0 exact, 1 prefix, 2 substring, …


def normalise_query(query: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", query)).lower()


class CatalogueIndex:
    """The in-memory search index over the current catalogue."""

    def __init__(self, entries: Iterable[SearchEntry] = ()) -> None:
        self._entries = list(entries)
        self._lower_codes = [e.code.lower() for e in self._entries]

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def entries(self) -> list[SearchEntry]:
        return list(self._entries)

    def search(self, query: str, limit: int = 50) -> list[SearchHit]:
        """Best matches first; an empty query lists everything in catalogue order."""
        q = normalise_query(query)
        if not q:
            return [SearchHit(e, 9) for e in self._entries[:limit]]
        scored: list[tuple[int, int, int, int, SearchEntry]] = []
        if _CJK.search(q):
            for pos, e in enumerate(self._entries):
                rank = _rank(e.name, q)
                if rank is None:
                    dept = _rank(e.department, q)
                    rank = None if dept is None else 5
                if rank is not None:
                    scored.append((rank, len(e.name), e.name.find(q), pos, e))
        else:
            code_like = bool(_CODE_LIKE.search(q))
            for pos, e in enumerate(self._entries):
                best = _best(
                    _rank(e.initials, q),
                    _shift(_rank(e.pinyin, q), 1) if len(q) > 1 else None,
                    _shift(_rank(self._lower_codes[pos], q), 0 if code_like else 3),
                    _shift(_rank(e.name.lower(), q), 0),  # Latin letters in names
                )
                if best is not None:
                    scored.append((best, len(e.name), 0, pos, e))
        top = heapq.nsmallest(limit, scored)
        return [SearchHit(s[4], s[0]) for s in top]


def _rank(text: str, q: str) -> int | None:
    if text == q:
        return 0
    at = text.find(q)
    if at < 0:
        return None
    return 1 if at == 0 else 2


def _shift(rank: int | None, by: int) -> int | None:
    return None if rank is None else rank + by


def _best(*ranks: int | None) -> int | None:
    present = [r for r in ranks if r is not None]
    return min(present) if present else None
