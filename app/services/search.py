"""Instant catalogue search by Chinese substring, full pinyin, pinyin initials or code.

A clerk types ``yyzz`` or ``yingyezhizhao`` or ``营业执照`` and expects 营业执照… items
first. The index keeps, for every searchable entry, its name, its pinyin without spaces
and its initials, all lower case; a query is a handful of ``str.find`` calls per entry,
which stays within a few milliseconds for thousands of items.
"""

from __future__ import annotations

import bisect
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
    """The in-memory search index over the current catalogue.

    Every entry has one lower-case haystack (initials, pinyin, code, name, department);
    a query first keeps the entries whose haystack contains it — a list comprehension
    of C-level ``in`` tests — and only those few are ranked in Python.
    """

    def __init__(self, entries: Iterable[SearchEntry] = ()) -> None:
        self._entries = list(entries)
        self._codes = [e.code.lower() for e in self._entries]
        self._names = [e.name.lower() for e in self._entries]
        self._initials = [e.initials for e in self._entries]
        self._name_lengths = [len(e.name) for e in self._entries]
        # Codes sorted, for prefix look-ups by bisection: a typed or scanned code prefix
        # shared by a whole department can match thousands of entries.
        self._sorted_codes = sorted((c, i) for i, c in enumerate(self._codes))
        self._haystacks = [
            "\x01".join((e.initials, e.pinyin, code, name, e.department))
            for e, code, name in zip(self._entries, self._codes, self._names, strict=True)
        ]

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def entries(self) -> list[SearchEntry]:
        return list(self._entries)

    def search(self, query: str, limit: int = 50) -> list[SearchHit]:
        """Best matches first; an empty query lists everything in catalogue order.

        Ranks: 0 exact, 1 prefix, 2 substring of the name or initials; pinyin matches one
        step lower, a code match ranks like a name match when the query has digits, a
        department-only match last. Ties go to the shorter name.
        """
        q = normalise_query(query)
        if not q:
            return [SearchHit(e, 9) for e in self._entries[:limit]]
        if _CODE_QUERY.fullmatch(q):
            return self._search_code(q, limit)
        if len(q) == 1 and q.isascii():
            return self._search_letter(q, limit)
        candidates = [i for i, hay in enumerate(self._haystacks) if q in hay]
        scored: list[tuple[int, int, int, int]] = []
        if _CJK.search(q):
            for i in candidates:
                rank = _rank(self._names[i], q)
                if rank is None:
                    rank = 5  # the department matched
                scored.append((rank, len(self._names[i]), i, i))
        else:
            code_shift = 0 if _CODE_LIKE.search(q) else 3
            use_pinyin = len(q) > 1  # one letter inside a syllable is noise
            for i in candidates:
                e = self._entries[i]
                best = 9
                r = _rank(e.initials, q)
                if r is not None:
                    best = r
                if best > 1:
                    r = _rank(self._names[i], q)  # Latin letters in names (A级…)
                    if r is not None and r < best:
                        best = r
                    if use_pinyin:
                        r = _rank(e.pinyin, q)
                        if r is not None and r + 1 < best:
                            best = r + 1
                    r = _rank(self._codes[i], q)
                    if r is not None and r + code_shift < best:
                        best = r + code_shift
                if best < 9:
                    scored.append((best, len(e.name), i, i))
        top = heapq.nsmallest(limit, scored)
        return [SearchHit(self._entries[s[3]], s[0]) for s in top]


    def _search_letter(self, q: str, limit: int) -> list[SearchHit]:
        """The first keystroke: one letter matches most of the catalogue, so rank by
        initials alone in a single comprehension (no per-entry Python calls)."""
        scored = [(0 if ini == q else 1 if ini[:1] == q else 2, n, i)
                  for i, (ini, n) in enumerate(zip(self._initials, self._name_lengths,
                                                   strict=True))
                  if q in ini]
        return [SearchHit(self._entries[i], r) for r, _, i in heapq.nsmallest(limit, scored)]

    def _search_code(self, q: str, limit: int) -> list[SearchHit]:
        """A query with digits is a code: exact, then prefix (in code order), then infix."""
        start = bisect.bisect_left(self._sorted_codes, (q, -1))
        hits: list[SearchHit] = []
        seen: set[int] = set()
        for code, i in self._sorted_codes[start:]:
            if len(hits) >= limit or not code.startswith(q):
                break
            hits.append(SearchHit(self._entries[i], 0 if code == q else 1))
            seen.add(i)
        hits.sort(key=lambda h: h.rank)  # the exact match (if any) sorts first already
        if len(hits) < limit:
            infix = [i for i, code in enumerate(self._codes) if i not in seen and q in code]
            hits += [SearchHit(self._entries[i], 2) for i in infix[: limit - len(hits)]]
        return hits


_CODE_QUERY = re.compile(r"[0-9a-z\-]*[0-9][0-9a-z\-]*")


def _rank(text: str, q: str) -> int | None:
    at = text.find(q)
    if at < 0:
        return None
    if at == 0:
        return 0 if len(text) == len(q) else 1
    return 2
