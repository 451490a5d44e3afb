"""Printing from the window, driven by the keyboard: preview, print, F6 reprint.

Printers are real targets: a PDF file (``pdf:``) stands in for the laser printer, and a
named system printer that does not exist exercises Qt's path to a missing printer. The
waits use signals (a real event loop): ``qWait`` keeps the GIL and starves the worker.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.documents.form import DocumentKind
from app.domain.case import (
    CaseState,
)
from app.services.accounts import DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD
from app.workstation import Workstation, open_workstation
from tests.support import FOOD, PaperTray, accepted_case
from ui import ops
from ui.cases.documents import CaseDocumentsDialog
from ui.documents.print_preview import DocumentPreview
from ui.documents.spooler import qt_spooler
from ui.workbench.main_window import MainWindow


def _station(home: Path, printers: str) -> Workstation:
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.toml").write_text(f"[printers]\n{printers}\n", encoding="utf-8")
    return open_workstation(home, system_spooler=qt_spooler)   # as ui.app opens it


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, request: pytest.FixtureRequest
           ) -> Iterator[MainWindow]:
    printers = getattr(request, "param", f'a4 = "pdf:{tmp_path / "out.pdf"}"')
    station = _station(tmp_path / "home", printers)
    station.documents.fonts()   # as the window would have after its first preview
    win = MainWindow(station, station.accounts.login(DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD))
    qtbot.addWidget(win)
    win.show()
    win.activateWindow()
    yield win
    ops.wait_idle(30_000)
    station.close()


def _accepted_case(win: MainWindow) -> CaseState:
    return accepted_case(win.station, win.clerk)


def _rendered(qtbot: QtBot, preview: DocumentPreview) -> DocumentPreview:
    """Wait until the preview shows its document (race-free: it is shown on this thread)."""
    if preview.document is None and not preview.status.text():
        with qtbot.waitSignal(preview.rendered, timeout=20000):
            pass
    assert preview.document is not None, preview.status.text()
    return preview


def _open_preview(qtbot: QtBot, win: MainWindow, kind: DocumentKind, number: str
                  ) -> DocumentPreview:
    ws, clerk = win.station, win.clerk
    preview = DocumentPreview(
        ws.documents, clerk, lambda: ws.documents.render_case_document(kind, number, clerk), win)
    preview.show()
    return _rendered(qtbot, preview)


def _pdf_text(path: Path) -> str:
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                         check=True).stdout
    return "".join(out.split())


def test_ctrl_p_on_an_item_previews_and_prints_its_checklist(qtbot: QtBot, window: MainWindow,
                                                              tmp_path: Path) -> None:
    detail = window.catalogue_panel.detail
    detail.show_item(window.station.catalogue.item(FOOD))
    window.catalogue_panel.stack.setCurrentWidget(detail)
    detail.setFocus()
    qtbot.keyClick(detail, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    previews = window.findChildren(DocumentPreview)
    assert len(previews) == 1, "Ctrl+P opened no preview"
    preview = _rendered(qtbot, previews[0])
    assert preview.document is not None and preview.document.title == "一次性告知单"
    assert "默认打印机" not in preview.heading.text()  # the configured target is named
    with qtbot.waitSignal(preview.printed, timeout=20000) as printed:
        qtbot.keyClick(preview, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    assert printed.args is not None and printed.args[0].ok, preview.status.text()
    text = _pdf_text(tmp_path / "out.pdf")
    assert "一次性告知单" in text and "食品经营许可（新办）" in text
    assert "已导出到" in preview.status.text()


def _sheet_text(pdf: bytes, folder: Path) -> str:
    path = folder / "sheet.pdf"
    path.write_bytes(pdf)
    return _pdf_text(path)


@pytest.mark.parametrize("window", ['a4 = "system:窗口打印机"'], indirect=True)
def test_f6_finds_a_scanned_case_and_prints_then_reprints(qtbot: QtBot, window: MainWindow,
                                                          tmp_path: Path) -> None:
    tray = PaperTray(window.station)
    case = _accepted_case(window)
    qtbot.keyClick(window, Qt.Key.Key_F6)
    dialogs = window.findChildren(CaseDocumentsDialog)
    assert dialogs, "F6 opened no dialog"
    dialog = dialogs[-1]
    qtbot.keyClicks(dialog.number, case.number)   # a barcode scanner types, then Enter
    with qtbot.waitSignal(dialog.case_shown):
        qtbot.keyClick(dialog.number, Qt.Key.Key_Return)
    labels = [dialog.kinds.item(i).text() for i in range(dialog.kinds.count())]
    assert labels == ["收件凭证", "受理通知书", "取件通知单", "取件通知单（小票）"]
    qtbot.keyClick(dialog.kinds, Qt.Key.Key_Down)
    qtbot.keyClick(dialog.kinds, Qt.Key.Key_Return)
    assert dialog.preview is not None
    preview = _rendered(qtbot, dialog.preview)
    with qtbot.waitSignal(preview.printed, timeout=20000):
        qtbot.keyClick(preview, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(preview, Qt.Key.Key_Escape)
    # The core's document_printed event makes the dialog re-read the case.
    qtbot.waitUntil(lambda: dialog.history.rowCount() == 1)
    assert len(tray.sheets) == 1
    assert "受理通知书" in _sheet_text(tray.sheets[0], tmp_path)
    assert "补打" not in _sheet_text(tray.sheets[0], tmp_path)
    assert dialog.kinds.item(1).text().startswith("受理通知书　（已打印")
    assert dialog.history.rowCount() == 1 and dialog.history.item(0, 3).text() == "已打印"

    dialog.kinds.setCurrentRow(1)
    qtbot.keyClick(dialog.kinds, Qt.Key.Key_Return)
    assert dialog.preview is not None and dialog.preview is not preview
    again = _rendered(qtbot, dialog.preview)
    assert again.document is not None and again.document.reprint
    assert "补打" in again.heading.text()


def test_an_unknown_case_number_is_told_in_chinese(qtbot: QtBot, window: MainWindow) -> None:
    window.print_case_documents()
    dialog = window.findChildren(CaseDocumentsDialog)[-1]
    qtbot.keyClicks(dialog.number, "330100001012026112300019")
    with qtbot.waitSignal(dialog.lookup_failed):
        qtbot.keyClick(dialog.number, Qt.Key.Key_Return)
    assert "没有" in dialog.error.text() or "校验位" in dialog.error.text()
    assert dialog.kinds.count() == 0


@pytest.mark.parametrize("window", ['a4 = "system:没有这台打印机"'], indirect=True)
def test_a_missing_printer_is_reported_and_the_document_kept(qtbot: QtBot,
                                                             window: MainWindow) -> None:
    case = _accepted_case(window)
    ws = window.station
    preview = _open_preview(qtbot, window, DocumentKind.ACCEPTANCE, case.number)
    with qtbot.waitSignal(preview.printed, timeout=20000) as printed:
        qtbot.keyClick(preview, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    outcome = printed.args[0] if printed.args else None
    assert outcome is not None and not outcome.ok
    assert "找不到打印机“没有这台打印机”" in preview.status.text()
    assert "办件档案" in preview.status.text()
    history = ws.documents.history(case.id)
    assert [d.outcome for d in history] == ["failed"]
    assert preview.document is not None
    assert ws.documents.archived_pdf(history[0].sha256) == ws.documents.archival(
        preview.document).pdf
    assert preview.print_button.isEnabled()   # the clerk can try again at once


def test_a_thermal_slip_previews_as_its_exact_dots(qtbot: QtBot, window: MainWindow) -> None:
    case = _accepted_case(window)
    preview = _open_preview(qtbot, window, DocumentKind.PICKUP_SLIP, case.number)
    pixmap = preview.slip_label.pixmap()
    assert pixmap.width() == 576 and pixmap.height() > 400
    assert "未配置打印机" in preview.heading.text()



@pytest.mark.parametrize("window", ['a4 = "system:窗口打印机"'], indirect=True)
def test_ctrl_p_in_f6_prints_without_a_preview(qtbot: QtBot, window: MainWindow,
                                               tmp_path: Path) -> None:
    tray = PaperTray(window.station)
    case = _accepted_case(window)
    window.print_case_documents()
    dialog = window.findChildren(CaseDocumentsDialog)[-1]
    qtbot.keyClicks(dialog.number, case.number)
    with qtbot.waitSignal(dialog.case_shown):
        qtbot.keyClick(dialog.number, Qt.Key.Key_Return)
    dialog.kinds.setCurrentRow(0)   # 收件凭证
    dialog.activateWindow()         # as the window manager does for a new dialog
    qtbot.waitUntil(dialog.isActiveWindow, timeout=5000)
    with qtbot.waitSignal(dialog.printed, timeout=20000) as printed:
        qtbot.keyClick(dialog.kinds, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    assert printed.args is not None and printed.args[0].ok, dialog.status.text()
    assert not window.findChildren(DocumentPreview)
    qtbot.waitUntil(lambda: dialog.history.rowCount() == 1)   # re-read on document_printed
    assert len(tray.sheets) == 1 and "收件凭证" in _sheet_text(tray.sheets[0], tmp_path)
    assert dialog.kinds.item(0).text().startswith("收件凭证　（已打印")
    assert dialog.history.rowCount() == 1


def test_f6_refuses_a_case_whose_row_was_edited_by_hand(qtbot: QtBot,
                                                        window: MainWindow) -> None:
    import sqlite3

    case = _accepted_case(window)
    with sqlite3.connect(window.station.settings.database_path) as raw:
        raw.execute("UPDATE cases SET applicant_name = '李四' WHERE id = ?", (case.id,))
    window.print_case_documents()
    dialog = window.findChildren(CaseDocumentsDialog)[-1]
    qtbot.keyClicks(dialog.number, case.number)
    with qtbot.waitSignal(dialog.lookup_failed):
        qtbot.keyClick(dialog.number, Qt.Key.Key_Return)
    assert "与办件记录不一致（申请人姓名）" in dialog.error.text()
    assert "yichuang audit verify" in dialog.error.text()
    assert dialog.kinds.count() == 0
