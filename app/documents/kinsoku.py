"""Where a line of Chinese text may break (禁则, kinsoku).

Chinese breaks between any two characters, except that no line may start with a closing
mark (，。；、：？！）》」 …) and none may end with an opening one (（《「“ …). reportlab's
own CJK wrapping (``reportlab.platypus.paragraph.cjkFragSplit`` and
``reportlab.lib.textsplit.dumbSplit``) only lets the one character that overflows hang
in the margin when it is in ``textsplit.ALL_CANNOT_START``; that set lacks the
full-width ，；：？！》〉” and ``ALL_CANNOT_END`` is never consulted. The rules here
start from reportlab's two sets, add the Chinese marks, and choose the break by moving
characters down to the next line (推出) rather than hanging them: a mark hanging past a
table cell's edge would cross its border.

Pure functions on characters, so the A4 renderer and the thermal slip can share them.
"""

from __future__ import annotations

from collections.abc import Sequence

from reportlab.lib.textsplit import ALL_CANNOT_END, ALL_CANNOT_START

# Full-width and Chinese marks that reportlab's sets miss (they are Japanese-first).
NO_LINE_START: frozenset[str] = frozenset(ALL_CANNOT_START) | frozenset(
    "，。、；：？！）》」』】〕〗〉］｝”’·～%)}>")
NO_LINE_END: frozenset[str] = frozenset(ALL_CANNOT_END) | frozenset("（《「『【〔〖〈［｛“‘(<")
# Doubled, these are one mark (…… and ——) and must not be torn apart.
_NO_SPLIT_PAIR = frozenset("…—")


def _is_latin(ch: str) -> bool:
    # Printable ASCII: numbers such as 2026-11-24 or a case number stay in one piece.
    return "!" <= ch <= "~"


def _visible_before(units: Sequence[str], b: int, start: int) -> str:
    # Paragraph units may be empty strings (a font change, a <br/>): look past them.
    for k in range(b - 1, start - 1, -1):
        if units[k]:
            return units[k]
    return ""


def _visible_after(units: Sequence[str], b: int) -> str:
    for k in range(b, len(units)):
        if units[k]:
            return units[k]
    return ""


def may_break(before: str, after: str) -> bool:
    """True if a line may end with ``before`` and the next begin with ``after``."""
    if after in NO_LINE_START or before in NO_LINE_END:
        return False
    return not (before == after and before in _NO_SPLIT_PAIR)


def break_point(units: Sequence[str], start: int, over: int, *, min_fill: float = 0.5) -> int:
    """Index of the first unit of the next line, for a line that begins at ``units[start]``
    and on which ``units[over]`` no longer fits.

    The natural break is before ``units[over]``; it moves back as far as the 禁则 need,
    and, while the line keeps ``min_fill`` of it (half by default), also out of a run of Latin letters and
    digits. Always greater than ``start``, so every line holds at least one unit; a line
    with no allowed break at all (a row of punctuation) is cut where it overflows.
    """
    # A number moves down whole only if the line keeps ``min_fill`` of its characters.
    floor = max(start + 1, start + int((over - start) * min_fill + 0.5))
    first_allowed = -1
    for b in range(over, start, -1):
        before, after = _visible_before(units, b, start), _visible_after(units, b)
        if not may_break(before, after):
            continue
        if first_allowed < 0:
            first_allowed = b
        if b < floor:
            break
        if not (_is_latin(before) and _is_latin(after)):
            return b
    if first_allowed > 0:
        return first_allowed
    return max(over, start + 1)
