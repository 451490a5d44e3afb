"""Scanned pages lost or damaged on disk: audit verify names them, a backup says it could
not carry them, scanning the page again or restoring a backup mends them."""

from __future__ import annotations

from pathlib import Path

from app.capture.fake_source import PageKind, scanned
from app.capture.prepare import captured_pages
from app.capture.profiles import DEFAULT
from app.capture.source import RawPage
from app.domain.case import CaseState, Clerk
from app.domain.case_pages import PageRef
from app.services.backup import BackupService, restore
from app.storage.blobs import BlobStore
from app.workstation import Workstation, open_workstation
from tests.support import accepted_case


def _clerk(ws: Workstation) -> Clerk:
    s = ws.settings
    return Clerk("clerk-0001", "张三", s.site_code, s.terminal, s.window)


def _scanned_case(ws: Workstation) -> tuple[CaseState, list[PageRef], list[bytes]]:
    c = _clerk(ws)
    case = accepted_case(ws, c)
    raws = [RawPage(scanned(PageKind.FORM, 1.0, 200, seed).image, 200, "fake")
            for seed in (1, 2)]
    pages = list(captured_pages(raws, DEFAULT))
    material = case.materials[0].material_id
    case = ws.scans.add(case.id, material, pages, c)
    return case, list(dict(case.pages)[material]), [p.page.jpeg for p in pages]


def _blob(ws: Workstation, ref: PageRef) -> Path:
    return ws.settings.data_dir / "blobs" / ref.sha256[:2] / ref.sha256


def _damage(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[5000] ^= 0xFF          # same size, one bit off
    path.write_bytes(bytes(data))


def test_audit_verify_names_a_missing_and_a_damaged_page(fresh_ws: Workstation) -> None:
    case, (first, second), _ = _scanned_case(fresh_ws)
    assert fresh_ws.integrity.verify().ok
    _blob(fresh_ws, first).unlink()
    _damage(_blob(fresh_ws, second))
    findings = [f.problem for f in fresh_ws.integrity.verify().findings]
    name = case.materials[0].name
    assert findings == [
        f"办件{case.number}的“{name}”第1页（{first.sha256[:12]}…）缺失：请从备份恢复"
        "（yichuang restore），扫描件也可删除后重扫",
        f"办件{case.number}的“{name}”第2页（{second.sha256[:12]}…）已损坏（内容与校验值不符）："
        "请从备份恢复（yichuang restore），扫描件也可删除后重扫"]


def test_scanning_the_same_page_again_mends_a_damaged_copy(fresh_ws: Workstation) -> None:
    _case, (first, _second), jpegs = _scanned_case(fresh_ws)
    _damage(_blob(fresh_ws, first))
    assert not fresh_ws.integrity.verify().ok
    store = BlobStore(fresh_ws.settings.data_dir / "blobs")   # what a rescan stores into
    assert store.put(jpegs[0]) == first.sha256
    assert fresh_ws.integrity.verify().ok
    assert fresh_ws.scans.page_jpeg(first.sha256) == jpegs[0]


def test_a_backup_leaves_out_and_names_a_damaged_page_and_a_restore_mends_one(
        fresh_ws: Workstation, tmp_path: Path) -> None:
    _case, (first, second), jpegs = _scanned_case(fresh_ws)
    service = BackupService(fresh_ws.settings, fresh_ws.db)
    sound = service.backup(tmp_path / "usb")
    assert sound.problems == ()
    _damage(_blob(fresh_ws, second))
    partial = service.backup(tmp_path / "usb")
    assert len(partial.problems) == 1 and "第2页" in partial.problems[0]
    assert not (partial.path / "blobs" / second.sha256[:2] / second.sha256).exists()
    settings = fresh_ws.settings
    fresh_ws.close()
    restore(settings, sound.path, accept_older=False, reason="", os_user="t")
    ws = open_workstation(settings.data_dir)
    try:
        assert ws.integrity.verify().ok
        assert ws.scans.page_jpeg(second.sha256) == jpegs[1]
        assert ws.scans.page_jpeg(first.sha256) == jpegs[0]
    finally:
        ws.close()


