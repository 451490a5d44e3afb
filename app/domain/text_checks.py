"""Characters that must never reach stored reference data (catalogue, calendar).

A name is printed on notices, shown in the window and written to the terminal. A
control character (NUL, ESC, a bell), an invisible format character (zero-width space,
a right-to-left override that makes "exe.txt" read "txt.exe", a BOM) or a lone UTF-16
surrogate (which JSON's ``"\\ud800"`` produces and which cannot even be encoded as
UTF-8) is refused where the file is read, with the field named, instead of failing
later in a printer, a terminal or a hash.
"""

from __future__ import annotations

import unicodedata

# Cc: control characters; Cf: invisible format characters; Cs: lone surrogates.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})

# Long prose (受理条件, 设定依据, notes) may be written in several lines.
LINE_BREAK = "\n"


def _refused(char: str, allowed: str) -> bool:
    return char not in allowed and unicodedata.category(char) in _REFUSED_CATEGORIES


def _describe(char: str) -> str:
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        kind = "不成对的代理字符"
    elif unicodedata.category(char) == "Cc":
        kind = "控制字符"
    else:
        kind = "不可见的格式字符"
    return f"{kind} U+{code:04X}"


def forbidden_character(text: str, *, allow: str = "") -> str | None:
    """Describe the first refused character of ``text`` (in Chinese), or None.

    ``allow`` lists characters accepted anyway (``LINE_BREAK`` for multi-line prose).
    """
    for position, char in enumerate(text, start=1):
        if _refused(char, allow):
            return f"第{position}个字符是{_describe(char)}，不允许出现在文本中"
    return None


def has_forbidden_character(text: str, *, allow: str = "") -> bool:
    return any(_refused(char, allow) for char in text)


def printable(text: str) -> str:
    """``text`` with every refused character shown as ``\\uXXXX``: safe to print.

    Messages quote the offending value back to the administrator; a lone surrogate
    would make printing the message itself fail, an override would scramble it.
    """
    if not has_forbidden_character(text):
        return text
    return "".join(f"\\u{ord(c):04x}" if _refused(c, "") else c for c in text)
