"""Scanned pages on a case: stored by hash, recorded in the log, arranged, assembled."""

from __future__ import annotations

import hashlib
import io
import subprocess
from pathlib import Path

import pikepdf
import pytest
from PIL import Image
from sqlalchemy import select

from app.capture.fake_source import PageKind, scanned
from app.capture.prepare import CapturedPage, captured_pages
from app.capture.profiles import profile
from app.capture.source import RawPage
from app.domain.case import CaseEventKind, Clerk
from app.domain.case_pages import move_page, remove_page, reorder_pages, turn_page
from app.services.cases import CaseRuleError
from app.storage.case_log import case_events, projection_diff
from app.storage.models import CaseRow, OutboxOp
from app.workstation import Workstation
from tests.support import FOOD, accepted_case


def _clerk(ws: Workstation) -> Clerk:
    s = ws.settings
    return Clerk("clerk-0001", "张三", s.site_code, s.terminal, s.window)


def _pages(kinds: list[PageKind], seed: int = 0) -> list[CapturedPage]:
    raws = [RawPage(scanned(k, 1.5, 200, seed + i).image, 200, f"fake 第{i + 1}页")
            for i, k in enumerate(kinds)]
    return list(captured_pages(raws, profile("a4_form")))


def test_pages_are_stored_by_hash_and_named_in_the_log_and_the_outbox(
        fresh_ws: Workstation) -> None:
    c = _clerk(fresh_ws)
    case = accepted_case(fresh_ws, c)
    material = case.materials[0].material_id
    pages = _pages([PageKind.FORM, PageKind.CERTIFICATE])
    after = fresh_ws.scans.add(case.id, material, pages, c)
    refs = dict(after.pages)[material]
    assert [r.sha256 for r in refs] == [hashlib.sha256(p.page.jpeg).hexdigest() for p in pages]
    for r, p in zip(refs, pages, strict=True):
        assert fresh_ws.scans.page_jpeg(r.sha256) == p.page.jpeg
        assert (r.width, r.height, r.dpi, r.size) == (p.page.width, p.page.height, 200,
                                                      len(p.page.jpeg))
    with fresh_ws.db.read() as session:
        events = case_events(session, case.id)
        assert events[-1].kind == CaseEventKind.PAGES_RECORDED
        assert [p["sha256"] for p in events[-1].payload["appended"][material]] == [
            r.sha256 for r in refs]
        op = session.scalars(select(OutboxOp).order_by(OutboxOp.device_seq.desc())).first()
        assert op is not None and sorted(op.blob_refs) == sorted(r.sha256 for r in refs)
        row = session.get(CaseRow, case.id)
        assert row is not None and projection_diff(row, events) == []


def test_turning_moving_and_removing_record_whole_lists_and_add_no_blobs(
        fresh_ws: Workstation) -> None:
    c = _clerk(fresh_ws)
    case = accepted_case(fresh_ws, c)
    first, second = (m.material_id for m in case.materials[:2])
    case = fresh_ws.scans.add(case.id, first, _pages([PageKind.FORM] * 3), c)
    a, b, d = dict(case.pages)[first]
    case = fresh_ws.scans.arrange(case.id, turn_page(case.pages, first, 1, 1), c,
                                  expected_version=case.version)
    case = fresh_ws.scans.arrange(case.id, reorder_pages(case.pages, first, [2, 0, 1]), c,
                                  expected_version=case.version)
    case = fresh_ws.scans.arrange(case.id, move_page(case.pages, first, 0, second), c,
                                  expected_version=case.version)
    assert [(p.sha256, p.turns) for p in dict(case.pages)[first]] == [
        (a.sha256, 0), (b.sha256, 1)]
    assert [p.sha256 for p in dict(case.pages)[second]] == [d.sha256]
    case = fresh_ws.scans.arrange(case.id, remove_page(case.pages, second, 0), c,
                                  expected_version=case.version)
    assert second not in dict(case.pages)
    with fresh_ws.db.read() as session:
        ops = session.scalars(select(OutboxOp).where(OutboxOp.kind == "pages_recorded")
                              .order_by(OutboxOp.device_seq)).all()
        assert [len(op.blob_refs) for op in ops] == [3, 0, 0, 0, 0]
        row = session.get(CaseRow, case.id)
        assert row is not None and projection_diff(row, case_events(session, case.id)) == []


def test_an_arrangement_made_on_an_older_version_is_refused(fresh_ws: Workstation) -> None:
    c = _clerk(fresh_ws)
    case = accepted_case(fresh_ws, c)
    material = case.materials[0].material_id
    case = fresh_ws.scans.add(case.id, material, _pages([PageKind.FORM] * 2), c)
    stale = case
    fresh_ws.scans.arrange(case.id, remove_page(case.pages, material, 0), c,
                           expected_version=case.version)
    with pytest.raises(CaseRuleError, match="已在别处修改"):
        fresh_ws.scans.arrange(stale.id, turn_page(stale.pages, material, 1, 1), c,
                               expected_version=stale.version)
    assert len(dict(fresh_ws.scans.pages(case.id))[material]) == 1


def test_a_page_not_in_the_store_or_a_material_not_of_the_item_is_refused(
        fresh_ws: Workstation) -> None:
    c = _clerk(fresh_ws)
    case = accepted_case(fresh_ws, c)
    material = case.materials[0].material_id
    case = fresh_ws.scans.add(case.id, material, _pages([PageKind.FORM]), c)
    [ref] = dict(case.pages)[material]
    forged = ref.__class__(**{**{f: getattr(ref, f) for f in ref.__slots__},
                              "sha256": "ab" * 32})
    with pytest.raises(CaseRuleError, match="不在本机存档"):
        fresh_ws.scans.arrange(case.id, {material: [ref, forged]}, c,
                               expected_version=case.version)
    with pytest.raises(CaseRuleError, match="没有材料"):
        fresh_ws.scans.add(case.id, "no-such-material", _pages([PageKind.FORM]), c)
    assert fresh_ws.scans.pages(case.id) == case.pages


def test_the_case_pdf_holds_every_page_under_its_material_unre_encoded(
        fresh_ws: Workstation, tmp_path: Path) -> None:
    c = _clerk(fresh_ws)
    case = accepted_case(fresh_ws, c, FOOD)
    first, second = (m.material_id for m in case.materials[:2])
    names = fresh_ws.scans.material_names(case)
    case = fresh_ws.scans.add(case.id, second, _pages([PageKind.CERTIFICATE]), c)
    case = fresh_ws.scans.add(case.id, first, _pages([PageKind.FORM] * 2, seed=7), c)
    case = fresh_ws.scans.arrange(case.id, turn_page(case.pages, first, 1, 1), c,
                                  expected_version=case.version)
    data = fresh_ws.scans.case_pdf(case.id)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert len(pdf.pages) == 3
        with pdf.open_outline() as outline:
            marks = [(item.title, pdf.pages.index(item.destination[0]))   # type: ignore[index]
                     for item in outline.root]
        assert marks == [(f"{names[first]}（2页）", 0), (f"{names[second]}（1页）", 2)]
        expected = [*dict(case.pages)[first], *dict(case.pages)[second]]
        for page, ref in zip(pdf.pages, expected, strict=True):
            [image] = page.Resources.XObject.values()
            assert image.Filter == pikepdf.Name.DCTDecode
            assert hashlib.sha256(image.read_raw_bytes()).hexdigest() == ref.sha256
            assert int(page.get("/Rotate", 0)) == 90 * ref.turns
            # Sized by the DPI written in the JPEG: an A4 page is 595 × 842 pt.
            width_pt = float(page.mediabox[2]) - float(page.mediabox[0])
            assert width_pt == pytest.approx(ref.width / ref.dpi * 72, abs=0.5)
    out = tmp_path / "case.pdf"
    out.write_bytes(data)
    subprocess.run(["pdftoppm", "-r", "20", "-png", str(out), str(tmp_path / "p")],
                   check=True)
    rendered = sorted(tmp_path.glob("p-*.png"))
    assert len(rendered) == 3
    with Image.open(rendered[1]) as turned:
        assert turned.width > turned.height   # the turned portrait page is landscape


def test_a_page_lost_or_damaged_on_disk_is_named_when_the_pdf_is_made(
        fresh_ws: Workstation) -> None:
    from app.documents.case_pdf import CasePdfError

    c = _clerk(fresh_ws)
    case = accepted_case(fresh_ws, c)
    material = case.materials[0].material_id
    name = fresh_ws.scans.material_names(case)[material]
    case = fresh_ws.scans.add(case.id, material, _pages([PageKind.FORM] * 2, seed=3), c)
    second = dict(case.pages)[material][1]
    blob = fresh_ws.settings.data_dir / "blobs" / second.sha256[:2] / second.sha256
    blob.write_bytes(blob.read_bytes()[:-10])     # damaged: no longer matches its name
    with pytest.raises(CasePdfError, match=f"“{name}”第2页.*已损坏"):
        fresh_ws.scans.case_pdf(case.id)
    blob.unlink()
    with pytest.raises(CasePdfError, match=f"“{name}”第2页.*不存在"):
        fresh_ws.scans.case_pdf(case.id)


def test_a_file_name_with_control_or_invisible_characters_is_recorded_spelled_out(
        fresh_ws: Workstation) -> None:
    from dataclasses import replace

    from app.domain.text_checks import has_forbidden_character

    c = _clerk(fresh_ws)
    case = accepted_case(fresh_ws, c)
    material = case.materials[0].material_id
    [page] = _pages([PageKind.FORM])
    named = replace(page, origin="申请\n书\u202efdp.exe\udcb5.jpg")
    case = fresh_ws.scans.add(case.id, material, [named], c)
    [ref] = dict(case.pages)[material]
    assert not has_forbidden_character(ref.origin)
    assert ref.origin == "申请\\u000a书\\u202efdp.exe\\udcb5.jpg"


def test_an_arrangement_may_only_turn_and_order_what_was_recorded(
        fresh_ws: Workstation) -> None:
    from dataclasses import replace

    c = _clerk(fresh_ws)
    case = accepted_case(fresh_ws, c)
    other = accepted_case(fresh_ws, c)
    material = case.materials[0].material_id
    case = fresh_ws.scans.add(case.id, material, _pages([PageKind.FORM]), c)
    [ref] = dict(case.pages)[material]
    # A forged size and resolution for a page the case has: only the turn is taken.
    lied = replace(ref, width=1, height=1, dpi=5000, size=3, turns=2)
    case = fresh_ws.scans.arrange(case.id, {material: [lied]}, c,
                                  expected_version=case.version)
    assert dict(case.pages)[material] == (replace(ref, turns=2),)
    # Another case's stored page is described from its own JPEG, not from the caller.
    other = fresh_ws.scans.arrange(other.id, {material: [lied]}, c,
                                   expected_version=other.version)
    [copied] = dict(other.pages)[material]
    assert (copied.width, copied.height, copied.dpi, copied.size, copied.turns) == (
        ref.width, ref.height, 200, ref.size, 2)
    with pytest.raises(CaseRuleError, match="旋转应为 0 至 3"):
        fresh_ws.scans.arrange(case.id, {material: [replace(ref, turns=-1)]}, c,
                               expected_version=case.version)
