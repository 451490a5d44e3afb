"""``yichuang scan`` and ``yichuang capture``: pages into a case from the SANE test
scanner and from files, end to end in a subprocess, and the case PDF read back."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pikepdf
import pytest

from app.domain.case import Applicant, ApplicantKind, Clerk, IdType
from app.domain.checksum import mod11_2
from app.workstation import open_workstation
from tests.cli.conftest import CliResult, as_clerk, one_line_error, run_cli

FOOD = "11330100MB0000001X4000215001000"    # 食品经营许可（新办）
SANE_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sane"


@pytest.fixture(autouse=True)
def sane_test_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    # The subprocess inherits it: SANE's `test` backend, which Debian ships disabled.
    monkeypatch.setenv("SANE_CONFIG_DIR", str(SANE_FIXTURE))


def _open_case(home: Path) -> tuple[str, list[tuple[str, str]]]:
    ws = open_workstation(home)
    try:
        body = "33010219800101002"
        who = Applicant(ApplicantKind.PERSON, "王小明", IdType.RESIDENT_ID, body + mod11_2(body))
        s = ws.settings
        clerk = Clerk("clerk-0001", "张三", s.site_code, s.terminal, s.window)
        case = ws.cases.open_case(FOOD, who, clerk, today=dt.date.today())
        return case.number, [(m.id, m.name) for m in ws.catalogue.item(FOOD).checklist()]
    finally:
        ws.close()


def test_the_sane_test_scanner_fills_two_materials_and_the_pdf_has_them_in_order(
        cli_home: Path, tmp_path: Path) -> None:
    number, materials = _open_case(cli_home)
    (first, first_name), (second, second_name) = materials[:2]
    scans = [as_clerk(cli_home, "scan", "--source", "sane:test:0", "--case", number,
                      "--material", material, "--profile", profile, "--json")
             for material, profile in ((second, "2"), (first, "certificate"), (first, "2"))]
    for result in scans:
        assert result.code == 0, result.err
    answers = [json.loads(r.out) for r in scans]
    assert [(a["material"], a["pages_of_material"], len(a["added"])) for a in answers] == [
        (second, 1, 1), (first, 1, 1), (first, 2, 1)]
    assert [a["added"][0]["dpi"] for a in answers] == [200, 300, 200]
    shown = as_clerk(cli_home, "case", "show", number)
    assert shown.code == 0, shown.err
    assert f"{first} {first_name}：未核验，扫描件2页" in shown.out
    assert f"{second} {second_name}：未核验，扫描件1页" in shown.out
    out = tmp_path / "材料.pdf"
    refused = run_cli(cli_home, "capture", "pdf", number, "--out", str(out))
    assert "操作员" in one_line_error(refused) and not out.exists()   # ID cards: operators only
    exported = as_clerk(cli_home, "capture", "pdf", number, "--out", str(out))
    assert exported.code == 0, exported.err
    with pikepdf.open(out) as pdf:
        assert len(pdf.pages) == 3
        with pdf.open_outline() as outline:
            assert [item.title for item in outline.root] == [
                f"{first_name}（2页）", f"{second_name}（1页）"]
        stored = [a["added"][0]["sha256"] for a in (answers[1], answers[2], answers[0])]
        for page, sha in zip(pdf.pages, stored, strict=True):
            [image] = page.Resources.XObject.values()
            assert hashlib.sha256(image.read_raw_bytes()).hexdigest() == sha


def test_bad_scan_requests_are_one_line_and_change_nothing(cli_home: Path,
                                                           tmp_path: Path) -> None:
    number, materials = _open_case(cli_home)
    material = materials[0][0]

    def scan(*args: str) -> CliResult:
        return as_clerk(cli_home, "scan", *args)

    assert "可选" in one_line_error(scan("--source", "sane:test:0", "--case", number,
                                          "--material", "m999"))
    assert "无法识别" in one_line_error(scan("--source", "scanner9", "--case", number,
                                           "--material", material))
    assert "没有编号为" in one_line_error(scan("--source", "sane:test:0", "--case",
                                            "330100001012026010100019", "--material", material))
    assert "没有扫描方案" in one_line_error(scan("--source", "sane:test:0", "--case", number,
                                             "--material", material, "--profile", "9"))
    assert "双面" in one_line_error(scan("--source", "sane:test:0", "--case", number,
                                       "--material", material, "--profile", "adf_duplex"))
    assert "no:such" in one_line_error(scan("--source", "sane:no:such", "--case", number,
                                            "--material", material))
    # Nothing was recorded: the case PDF has no page to hold.
    assert "还没有扫描件" in one_line_error(
        as_clerk(cli_home, "capture", "pdf", number, "--out", str(tmp_path / "x.pdf")))
    assert not (tmp_path / "x.pdf").exists()


def test_capture_sources_lists_the_test_scanners_and_the_always_there_ones(
        cli_home: Path) -> None:
    listed = run_cli(cli_home, "capture", "sources", "--json")
    assert listed.code == 0, listed.err
    specs = [s["spec"] for s in json.loads(listed.out)["sources"]]
    assert specs[:2] == ["sane:test:0", "sane:test:1"]
    assert {"file:", "fake"} <= set(specs)


def test_the_case_pdf_is_not_written_into_the_data_directory(cli_home: Path) -> None:
    number, materials = _open_case(cli_home)
    assert as_clerk(cli_home, "scan", "--source", "sane:test:0", "--case", number,
                    "--material", materials[0][0]).code == 0
    message = one_line_error(as_clerk(cli_home, "capture", "pdf", number, "--out",
                                      str(cli_home / "yichuang.db"), "--force"))
    assert "数据目录" in message
    assert (cli_home / "yichuang.db").read_bytes()[:16] == b"SQLite format 3\x00"


def test_files_and_a_watched_folder_fill_a_material_and_a_locked_pdf_is_one_line(
        cli_home: Path, tmp_path: Path) -> None:
    from app.capture.fake_source import PageKind, draw_page
    from app.capture.pipeline import encode

    number, materials = _open_case(cli_home)
    material = materials[0][0]
    page = encode(draw_page(PageKind.FORM, 200, 5), 200, colour=False).jpeg
    photo = tmp_path / "申请书.jpg"
    photo.write_bytes(page)
    pdf = pikepdf.new()
    pdf.add_blank_page()
    locked = tmp_path / "加密.pdf"
    pdf.save(locked, encryption=pikepdf.Encryption(owner="o", user="secret"))
    message = one_line_error(as_clerk(cli_home, "scan", "--source", f"file:{locked}",
                                      "--case", number, "--material", material))
    assert "密码" in message and "加密.pdf" in message
    taken = as_clerk(cli_home, "scan", "--source", f"file:{photo}", "--case", number,
                     "--material", material, "--json")
    assert taken.code == 0, taken.err
    folder = tmp_path / "扫描"
    folder.mkdir()
    (folder / "scan-0001.jpg").write_bytes(page)     # the same page: taken by hash once …
    (folder / "scan-0002.jpg").write_bytes(
        encode(draw_page(PageKind.CERTIFICATE, 200, 6), 200, colour=False).jpeg)
    first = as_clerk(cli_home, "scan", "--source", f"folder:{folder}", "--case", number,
                     "--material", material, "--json")
    assert first.code == 0, first.err
    assert len(json.loads(first.out)["added"]) == 2
    again = as_clerk(cli_home, "scan", "--source", f"folder:{folder}", "--case", number,
                     "--material", material)
    assert "没有给出页面" in one_line_error(again)   # … and never again
    assert json.loads(first.out)["pages_of_material"] == 3
