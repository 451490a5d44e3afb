"""The print preview a panel opened, and the text of what was printed."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from ui.documents.print_preview import DocumentPreview


def preview_shown(qtbot: QtBot, owner: Any) -> DocumentPreview:
    """``owner.preview`` once it is rendered and active (Enter goes to it)."""
    qtbot.waitUntil(lambda: owner.preview is not None)
    preview = owner.preview
    assert isinstance(preview, DocumentPreview)
    if preview.document is None and not preview.status.text():
        with qtbot.waitSignal(preview.rendered, timeout=20000):
            pass
    assert preview.document is not None, preview.status.text()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is preview)
    return preview


def sheet_text(pdf: bytes, folder: Path) -> str:
    """A printed PDF's text as pdftotext reads it, whitespace removed."""
    path = folder / "sheet.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                         check=True).stdout
    return "".join(out.split())
