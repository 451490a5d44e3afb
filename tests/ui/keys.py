"""Keyboard input for the window tests: keys to whatever has the focus, Chinese as a
pinyin input method commits it (QTest's key clicks carry ASCII only)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QInputMethodEvent
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot


def here() -> QWidget:
    """The widget with the keyboard focus (the test fails when none has it)."""
    widget = QApplication.focusWidget()
    assert widget is not None, "no widget has the keyboard focus"
    return widget


def commit(widget: QWidget, text: str) -> None:
    """Chinese arriving through the input method as one committed string."""
    event = QInputMethodEvent()
    event.setCommitString(text)
    QApplication.sendEvent(widget, event)


def press(qtbot: QtBot, key: Qt.Key,
          modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(here(), key, modifier)


def type_text(qtbot: QtBot, text: str) -> None:
    """ASCII as key presses; Chinese as an input method's committed string."""
    if text.isascii():
        qtbot.keyClicks(here(), text)
    else:
        commit(here(), text)
