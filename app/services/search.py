"""Instant catalogue search by Chinese substring, full pinyin, pinyin initials or code.

A clerk types ``yyzz`` or ``yingyezhizhao`` or ``营业执照`` and expects the items that
hand out a 营业执照 (the catalogue's ``result``: 个体工商户设立登记, 营业执照遗失补领…)
first; ``低保`` finds 最低生活保障… through the item's keywords (常用简称); ``个体 注销``
needs both words. The index keeps, for every entry, its name, pinyin and initials, its
keywords and its result in the same three forms, all lower case; a query keeps the
entries whose haystack contains every word (C-level ``in`` tests) and ranks only those.
"""

from __future__ import annotations

import bisect
import heapq
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass


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


def keyword_tokens(keywords: Iterable[str]) -> str:
    """Keywords with their pinyin and initials, ``\x01``-separated, as stored per item."""
    tokens: list[str] = []
    for kw in keywords:
        full, initials = pinyin_keys(kw)
        tokens += [kw.lower(), full, initials]
    return "\x01".join(t for t in tokens if t)


RESULT_MARK = "\x02"
"""Separates the keyword tokens from the result tokens in the stored search keys.

The keys live in one stored column (``search_keywords``): rows imported before results
were searchable hold keyword tokens only, and still search as before.
"""


def search_tokens(keywords: Iterable[str], result: str) -> str:
    """The search keys stored per item at import: its keywords' tokens (as
    :func:`keyword_tokens`), then, after :data:`RESULT_MARK`, its result (办理结果) in
    Chinese, full pinyin and initials, matched like the name."""
    tokens = keyword_tokens(keywords)
    result = result.strip()
    if not result:
        return tokens
    full, initials = pinyin_keys(result)
    return f"{tokens}{RESULT_MARK}{result.lower()}\x01{full}\x01{initials}"


def _split_keys(keys: str) -> tuple[tuple[str, ...], tuple[str, str, str] | None]:
    """Keyword tokens and (result, its pinyin, its initials) of stored search keys."""
    keywords, mark, result = keys.partition(RESULT_MARK)
    words = tuple(keywords.split("\x01")) if keywords else ()
    if not mark:
        return words, None
    chinese, _, rest = result.partition("\x01")
    pinyin, _, initials = rest.partition("\x01")
    return words, (chinese, pinyin, initials)


@dataclass(frozen=True, slots=True)
class SearchEntry:
    """One searchable thing: an item or a bundle."""

    kind: str  # "item" | "bundle"
    code: str
    name: str
    department: str
    pinyin: str
    initials: str
    keywords: str = ""  # search_tokens() of the item's keywords and result


@dataclass(frozen=True, slots=True)
class SearchHit:
    entry: SearchEntry
    rank: int  # lower is better; see CatalogueIndex.search
    produces: bool = False  # the entry's result (办理结果) matches every word


def query_words(query: str) -> list[str]:
    """Lower-case words of a query; full-width letters and digits become ASCII."""
    return unicodedata.normalize("NFKC", query).lower().split()


class CatalogueIndex:
    """The in-memory search index over the current catalogue.

    Every entry has one lower-case haystack (initials, pinyin, name, keywords,
    department); a query first keeps the entries whose haystack contains each word —
    a list comprehension of C-level ``in`` tests — and only those few are ranked.
    Codes are searched separately, and only by queries that contain a digit: letters
    inside codes (``MB``) are not what a clerk typing letters means.
    """

    def __init__(self, entries: Iterable[SearchEntry] = ()) -> None:
        self._entries = list(entries)
        self._codes = [e.code.lower() for e in self._entries]
        self._names = [e.name.lower() for e in self._entries]
        self._initials = [e.initials for e in self._entries]
        self._name_lengths = [len(e.name) for e in self._entries]
        keys = [_split_keys(e.keywords) for e in self._entries]
        self._keywords = [words for words, _ in keys]
        self._results = [result for _, result in keys]
        # One string per result, for a C-level ``in`` before the ranking in Python.
        self._result_hays = ["\x01".join(result) if result else "" for _, result in keys]
        self._departments = [e.department.lower() for e in self._entries]
        # Codes sorted, for prefix look-ups by bisection: a typed or scanned code prefix
        # shared by a whole department can match thousands of entries.
        self._sorted_codes = sorted((c, i) for i, c in enumerate(self._codes))
        # Everything but the result, and everything: a word found only in the result
        # skips the name's ranking in Python.
        self._word_hays = [
            "\x01".join((e.initials, e.pinyin, name, *words, e.department.lower()))
            for e, name, words in zip(self._entries, self._names, self._keywords, strict=True)
        ]
        self._haystacks = [f"{hay}{RESULT_MARK}{result}" if result else hay
                           for hay, result in zip(self._word_hays, self._result_hays,
                                                  strict=True)]

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def entries(self) -> list[SearchEntry]:
        return list(self._entries)

    def search(self, query: str, limit: int = 50) -> list[SearchHit]:
        """Best matches first; an empty query lists everything in catalogue order.

        Ranks per word: the name or its initials 0 exact, 2 prefix, 4 substring; the
        full pinyin one step later (2, 4, 6); a keyword later still (3, 5, 7), so what
        the clerk typed shows in the name before it shows only in a keyword; the
        department alone 10; the result (办理结果) alone 11 and up (the name's ranks
        plus 11). Several words: every word must match and the worst word's rank counts.

        Entries whose result matches every word come first: whoever types 营业执照
        wants the items that hand one out (个体工商户设立登记) before an item that only
        names it. Among those and among the rest, better rank first; ties go to the
        shorter name.
        """
        words = query_words(query)
        if not words:
            return [SearchHit(e, 9) for e in self._entries[:limit]]
        if len(words) == 1:
            q = words[0]
            if _CODE_QUERY.fullmatch(q):
                return self._search_code(q, limit)
            if len(q) == 1 and q.isascii():
                return self._search_letter(q, limit)
        # One C-level ``in`` per entry for the first word; later words only narrow it.
        first, *rest = words
        candidates = [i for i, hay in enumerate(self._haystacks) if first in hay]
        for word in rest:
            candidates = [i for i in candidates if word in self._haystacks[i]]
        # (0 when the result matches every word else 1, worst word's rank, name length, i)
        scored: list[tuple[int, int, int, int]] = []
        rank_word, rank_result = self._rank_word, self._rank_result
        lengths, word_hays, result_hays = self._name_lengths, self._word_hays, self._result_hays
        for i in candidates:
            worst = 0
            word_hay, result_hay = word_hays[i], result_hays[i]
            produces = bool(result_hay)
            for w in words:
                r = rank_word(i, w) if w in word_hay else None
                if produces or r is None:
                    in_result = rank_result(i, w) if w in result_hay else None
                    if in_result is None:
                        produces = False
                    elif r is None:
                        r = _RESULT_ONLY + in_result
                if r is None:
                    break
                worst = max(worst, r)
            else:
                scored.append((0 if produces else 1, worst, lengths[i], i))
        return [SearchHit(self._entries[i], r, produces=tier == 0)
                for tier, r, _, i in heapq.nsmallest(limit, scored)]

    def _rank_result(self, i: int, q: str) -> int | None:
        """How well ``q`` matches the entry's result, on the name's scale; None: not."""
        result = self._results[i]
        if result is None:
            return None
        chinese, pinyin, initials = result
        best = _NONE
        at = chinese.find(q)
        if at >= 0:
            best = (0 if len(chinese) == len(q) else 2) if at == 0 else 4
        if best > 0 and q.isascii():
            at = initials.find(q)
            if at >= 0:
                best = min(best, (0 if len(initials) == len(q) else 2) if at == 0 else 4)
            if best > 2 and len(q) > 1:  # one letter inside a syllable is noise
                at = pinyin.find(q)
                if at >= 0:
                    best = min(best, (2 if len(pinyin) == len(q) else 4) if at == 0 else 6)
        return None if best == _NONE else best

    def _rank_word(self, i: int, q: str) -> int | None:
        # Called for every candidate on every keystroke: plain comparisons, no helpers.
        name = self._names[i]
        at = name.find(q)
        if at == 0:
            return 0 if len(name) == len(q) else 2
        best = 4 if at > 0 else _NONE
        if best > 3:
            for kw in self._keywords[i]:
                at = kw.find(q)
                if at >= 0:
                    r = (3 if len(kw) == len(q) else 5) if at == 0 else 7
                    if r < best:
                        best = r
        if best > 0 and q.isascii():
            initials = self._initials[i]
            at = initials.find(q)
            if at >= 0:
                r = (0 if len(initials) == len(q) else 2) if at == 0 else 4
                if r < best:
                    best = r
            if best > 2 and len(q) > 1:  # one letter inside a syllable is noise
                pinyin = self._entries[i].pinyin
                at = pinyin.find(q)
                if at >= 0:
                    r = (2 if len(pinyin) == len(q) else 4) if at == 0 else 6
                    if r < best:
                        best = r
        if best == _NONE:
            return 10 if q in self._departments[i] else None
        return best

    def _search_letter(self, q: str, limit: int) -> list[SearchHit]:
        """The first keystroke: one letter matches most of the catalogue, so rank by
        initials alone in a single comprehension (no per-entry Python calls)."""
        scored = [(0 if ini == q else 2 if ini[:1] == q else 4, n, i)
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
            hits.append(SearchHit(self._entries[i], 0 if code == q else 2))
            seen.add(i)
        hits.sort(key=lambda h: h.rank)  # stable: the exact match first, then code order
        if len(hits) < limit:
            infix = [i for i, code in enumerate(self._codes) if i not in seen and q in code]
            hits += [SearchHit(self._entries[i], 4) for i in infix[: limit - len(hits)]]
        return hits


_NONE = 99  # "no match yet" inside _rank_word
_RESULT_ONLY = 11  # a word found only in the result ranks after the department (10)
_CODE_QUERY = re.compile(r"[0-9a-z\-]*[0-9][0-9a-z\-]*")
