"""Issue 12's "done when", by keyboard in the window: one case's materials filled from
the fake scanner, a watched folder and the SANE test scanner; a page turned and the
order changed; the case PDF then holds every page, in order, under its material, bit for
bit the stored JPEG and turned as the clerk turned it."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import cv2
import pikepdf
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.capture.fake_source import PageKind, scanned
from app.domain.case_pages import pages_of
from tests.ui.test_scan_panel import CTRL, _edit, _main_window, _open_case, _press, _scan

SANE_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sane"


def test_a_case_filled_from_three_sources_and_arranged_makes_the_right_pdf(
        qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANE_CONFIG_DIR", str(SANE_FIXTURE))   # SANE's `test` backend
    inbox = tmp_path / "扫描到文件夹"
    inbox.mkdir()
    for i, kind in enumerate((PageKind.CERTIFICATE, PageKind.FORM)):
        rgb = cv2.cvtColor(scanned(kind, 1.5, 200, 10 + i).image, cv2.COLOR_BGR2RGB)
        Image.fromarray(rgb).save(inbox / f"scan{i}.jpg", dpi=(200, 200), quality=90)
    settings = f'[devices]\nscan_folder = "{inbox}"\n'
    with _main_window(qtbot, tmp_path / "home", settings) as win:
        ws = win.station
        acceptance = _open_case(qtbot, win)
        scan, table = acceptance.scan_panel, acceptance.table
        assert acceptance.case is not None
        case_id = acceptance.case.id
        first, second, third = table.checklist[:3]
        qtbot.waitUntil(lambda: scan.source.findData("sane:test:0") >= 0, timeout=30000)

        # Material 1 from the fake scanner (two sheets), 2 from the folder (both files),
        # 3 from the SANE test scanner (one sheet).
        _scan(qtbot, scan)
        _scan(qtbot, scan)
        _press(qtbot, Qt.Key.Key_Down)
        scan.source.setCurrentIndex(scan.source.findData(f"folder:{inbox}"))
        _scan(qtbot, scan)
        _press(qtbot, Qt.Key.Key_Down)
        scan.source.setCurrentIndex(scan.source.findData("sane:test:0"))
        _scan(qtbot, scan)
        assert [len(pages_of(ws.scans.pages(case_id), m.id))
                for m in (first, second, third)] == [2, 2, 1]

        # On material 2: the second page first, then turned a quarter clockwise.
        _press(qtbot, Qt.Key.Key_Up)
        qtbot.waitUntil(lambda: scan.material_id == second.id)
        _press(qtbot, Qt.Key.Key_Tab)
        scan.thumbnails.setCurrentRow(1)
        _edit(qtbot, scan, Qt.Key.Key_Left, CTRL)
        _edit(qtbot, scan, Qt.Key.Key_R)

        case = ws.cases.get(case_id)
        folder_pages = pages_of(case.pages, second.id)
        assert [p.turns for p in folder_pages] == [1, 0]
        assert [p.origin for p in folder_pages] == ["scan1.jpg", "scan0.jpg"]
        expected = [(m, p) for m in (first, second, third) for p in pages_of(case.pages, m.id)]
        with pikepdf.open(io.BytesIO(ws.scans.case_pdf(case_id))) as pdf:
            with pdf.open_outline() as outline:
                marks = [(item.title, pdf.pages.index(item.destination[0]))  # type: ignore[index]
                         for item in outline.root]
            assert marks == [(f"{first.name}（2页）", 0), (f"{second.name}（2页）", 2),
                             (f"{third.name}（1页）", 4)]
            assert len(pdf.pages) == len(expected) == 5
            for page, (_material, ref) in zip(pdf.pages, expected, strict=True):
                [image] = page.Resources.XObject.values()
                assert hashlib.sha256(image.read_raw_bytes()).hexdigest() == ref.sha256
                assert int(page.get("/Rotate", 0)) == 90 * ref.turns
