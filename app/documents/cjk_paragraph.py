"""A reportlab Paragraph whose Chinese lines follow the 禁则 (line-breaking rules).

reportlab's own CJK wrapping lets at most one Japanese-set mark hang past the margin and
never checks opening marks (see :mod:`app.documents.kinsoku`); this paragraph builds its
lines with reportlab's own pieces (``cjkU``, ``makeCJKParaLine``) and chooses each break
with :func:`app.documents.kinsoku.break_point`, so drawing, fonts and leading are
reportlab's and only where a line ends differs.
"""

from __future__ import annotations

from typing import Any

from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Paragraph
from reportlab.platypus import paragraph as rl_paragraph
from reportlab.platypus.paragraph import ParaLines
from reportlab.rl_config import _FUZZ

from app.documents.kinsoku import break_point


def _kinsoku_lines(frags: list[Any], max_widths: list[float], calc_bounds: bool) -> ParaLines:
    """reportlab's ``cjkFragSplit`` with the break chosen by :func:`break_point`.

    The units, their widths and the lines are built with reportlab's own pieces
    (``cjkU``, ``makeCJKParaLine``), so drawing, fonts and leading work as before; only
    where a line ends differs.
    """
    cjk_unit = rl_paragraph.cjkU  # type: ignore[attr-defined]
    make_line = rl_paragraph.makeCJKParaLine  # type: ignore[attr-defined]
    units: list[Any] = []
    for f in frags:
        text = f.text.decode("utf8") if isinstance(f.text, bytes) else f.text
        units += [cjk_unit(t, f, "utf8") for t in text] if text else [cjk_unit(text, f, "utf8")]
    lines: list[Any] = []
    start = i = 0
    used = 0.0
    max_width = max_widths[0]
    while i < len(units):
        u = units[i]
        w = u.width
        if hasattr(w, "normalizedValue"):   # a width given in % of the line
            w._normalizer = max_width
            w = w.normalizedValue(max_width)
        if hasattr(u.frag, "lineBreak"):    # <br/>: the line ends here, whatever fits
            i += 1
            lines.append(make_line(units[start:i], max_width, used + w, max_width - used - w,
                                   True, calc_bounds))
        elif used + w > max_width + _FUZZ and used + w > 0:
            i = break_point(units, start, i)
            kept = sum(_unit_width(v, max_width) for v in units[start:i])
            lines.append(make_line(units[start:i], max_width, kept, max_width - kept,
                                   False, calc_bounds))
            while i < len(units) and units[i] == " ":   # no line starts with a space
                i += 1
        else:
            used += w
            i += 1
            continue
        max_width = max_widths[min(len(lines), len(max_widths) - 1)]
        start, used = i, 0.0
    if used > 0:
        lines.append(make_line(units[start:], max_width, used, max_width - used, False,
                               calc_bounds))
    return ParaLines(kind=1, lines=lines)


def _unit_width(u: Any, max_width: float) -> float:
    w = u.width
    return float(w.normalizedValue(max_width) if hasattr(w, "normalizedValue") else w)


class CJKParagraph(Paragraph):
    """A paragraph whose CJK lines follow the 禁则 (see :mod:`app.documents.kinsoku`)."""

    def breakLinesCJK(self, maxWidths: float | list[float] | tuple[float, ...]
                      ) -> Any:
        widths = list(maxWidths) if isinstance(maxWidths, (list, tuple)) else [maxWidths]
        style = self.style
        self.height = 0
        rl_paragraph._handleBulletWidth(self.bulletText, style, widths)  # type: ignore[attr-defined]
        if hasattr(self, "blPara") and getattr(self, "_splitpara", False):
            return self.blPara   # the second half of a split paragraph keeps its lines
        if not self.frags:
            return ParaLines(kind=0, fontSize=style.fontSize, fontName=style.fontName,
                             textColor=style.textColor, lines=[], ascent=style.fontSize,
                             descent=-0.2 * style.fontSize)
        if len(self.frags) == 1:
            # Most cells and lines fit on one line, where no break means no 禁则: reportlab's
            # own (much cheaper) single-font lines are the same then.
            f = self.frags[0]
            if (isinstance(f.text, str) and not hasattr(f, "lineBreak")
                    and stringWidth(f.text, f.fontName, f.fontSize) <= widths[0]):
                return super().breakLinesCJK(maxWidths)
        auto = getattr(self, "autoLeading", getattr(style, "autoLeading", ""))
        return _kinsoku_lines(self.frags, widths, auto not in ("", "off"))
