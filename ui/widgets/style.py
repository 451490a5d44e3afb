"""Fonts and the small style sheet shared by every window."""

from __future__ import annotations

from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QApplication

# Tried in order; the first installed one becomes the application font so Chinese text
# never falls back to a font without CJK glyphs.
CJK_FAMILIES = ("Microsoft YaHei", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei",
                "Noto Sans CJK SC", "Source Han Sans SC", "SimSun", "PingFang SC")

STYLE_SHEET = """
QLabel#title { font-size: 20px; font-weight: bold; }
QLabel#subtitle { color: #555; }
QLabel#error { color: #b00020; }
QLabel#hint { color: #666; }
QLineEdit#search { font-size: 18px; padding: 6px; }
QTableWidget { gridline-color: #ccc; }
"""


def apply_style(app: QApplication) -> str:
    """Set the CJK application font and the style sheet; return the family chosen."""
    installed = set(QFontDatabase.families())
    family = next((f for f in CJK_FAMILIES if f in installed), "")
    font = QFont(family) if family else QFont()
    font.setPointSize(11)
    app.setFont(font)
    app.setStyleSheet(STYLE_SHEET)
    return family
