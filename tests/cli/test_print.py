"""``yichuang print``: documents to PDF files and ESC/POS targets, end to end in a subprocess.

The cases are made through the services on the same data directory first (opening cases
is not under test here). Commands that do not depend on each other run side by side.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from app.domain.case import (
    Applicant,
    ApplicantKind,
    Clerk,
    Decision,
    IdType,
    MaterialState,
    MaterialStatus,
)
from app.domain.checksum import mod11_2
from app.domain.numbering import CaseNumber
from app.workstation import Workstation, open_workstation
from tests.cli.conftest import as_clerk, one_line_error

CliResult = Any  # tests/cli/conftest.py: code, out, err, err_lines
Cli = Callable[..., CliResult]
FOOD = "11330100MB0000001X4000215001000"    # 食品经营许可（新办）
DAY = dt.date(2026, 11, 24)
CJK = re.compile(r"[\u4e00-\u9fff]")
MISSING = str(CaseNumber("330100001", "01", DAY, 9999))   # well-formed, never issued


def _open(ws: Workstation, decide: bool) -> str:
    body = "33010219800101002"
    who = Applicant(ApplicantKind.PERSON, "王小明", IdType.RESIDENT_ID, body + mod11_2(body))
    s = ws.settings
    c = Clerk("clerk-0001", "张三", s.site_code, s.terminal, s.window)
    case = ws.cases.open_case(FOOD, who, c, today=DAY)
    if decide:
        ws.cases.record_materials(case.id, [
            MaterialState(m.id, m.name, MaterialStatus.RECEIVED, form_received=str(m.form),
                          copies_received=m.copies)
            for m in ws.catalogue.item(FOOD).checklist()], c, today=DAY)
        ws.cases.decide(case.id, Decision.ACCEPT, c, today=DAY)
    return case.number


@pytest.fixture(scope="module")
def home(seeded_cli_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("print") / "home"
    shutil.copytree(seeded_cli_home, target)
    return target


@pytest.fixture(scope="module")
def numbers(home: Path) -> dict[str, str]:
    ws = open_workstation(home)
    try:
        ws.queue.take("A")   # A001: print ticket prints a stored ticket
        return {"receiving": _open(ws, False), "twice": _open(ws, True),
                "copy": _open(ws, True), "export": _open(ws, True)}
    finally:
        ws.close()


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("print-out")


def commands(out: Path, numbers: dict[str, str]) -> dict[str, tuple[str, ...]]:
    return {
        "checklist": ("print", "checklist", FOOD, "--pdf", str(out / "checklist.pdf")),
        "checklist_json": ("--json", "print", "checklist", FOOD, "--pdf",
                           str(out / "checklist-json.pdf")),
        "checklist_s3": ("print", "checklist", FOOD, "--scenario", "s3", "--pdf",
                         str(out / "checklist-s3.pdf")),
        "ticket_file": ("print", "ticket", "a001", "--escpos", str(out / "lp0")),
        "ticket_down": ("print", "ticket", "A001", "--escpos", "tcp://127.0.0.1:9"),
        "copy": ("print", "acceptance", numbers["copy"], "--copy", "--json", "--pdf",
                 str(out / "copy.pdf")),
        "bad_kind": ("print", "frobnicate", "A012"),
        "bad_code": ("print", "checklist", "NOPE", "--pdf", str(out / "nope.pdf")),
        "bad_case": ("print", "acceptance", MISSING, "--pdf", str(out / "missing.pdf")),
        "two_targets": ("print", "ticket", "A012", "--pdf", str(out / "two.pdf"),
                        "--escpos", str(out / "two.bin")),
        "bad_uri": ("print", "ticket", "A012", "--escpos", "ftp://printer"),
        "never_taken": ("print", "ticket", "A009", "--escpos", str(out / "ahead.bin")),
        "not_accepted": ("print", "acceptance", numbers["receiving"], "--pdf",
                         str(out / "not-accepted.pdf")),
        "empty_ticket": ("print", "ticket", " ", "--escpos", str(out / "empty.bin")),
    }


@pytest.fixture(scope="module")
def answers(home: Path, numbers: dict[str, str], out_dir: Path, cli: Cli
            ) -> dict[str, CliResult]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {key: pool.submit(as_clerk, home, *args)
                   for key, args in commands(out_dir, numbers).items()}
        return {key: f.result() for key, f in futures.items()}


def pdf_text(path: Path) -> str:
    return "".join(subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True,
                                  text=True, check=True, encoding="utf-8").stdout.split())


def pdf_pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True,
                          check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))  # type: ignore[union-attr]



# ---- what works ------------------------------------------------------------------------


def test_checklist_to_a_pdf_file(answers: dict[str, CliResult], out_dir: Path) -> None:
    result = answers["checklist"]
    assert result.code == 0, result.err
    assert result.out.strip() == f"一次性告知单已导出到文件 {out_dir / 'checklist.pdf'}"
    text = pdf_text(out_dir / "checklist.pdf")
    assert "食品经营许可（新办）" in text and FOOD in text
    assert "经办人：李四" in text   # the operator, never the OS account


def test_checklist_with_a_scenario_by_id(answers: dict[str, CliResult], out_dir: Path) -> None:
    # s3 委托他人代为办理 adds m10 授权委托书 and m11 受托人身份证件 (the ids catalog show gives).
    result = answers["checklist_s3"]
    assert result.code == 0, result.err
    plain, with_s3 = (pdf_text(out_dir / name) for name in ("checklist.pdf", "checklist-s3.pdf"))
    assert "（办理情形：委托他人代为办理）" in with_s3 and "办理情形：" not in plain
    # Rows 8 and 9 of the table, no longer in the note of what other 情形 would add.
    rows = ("8授权委托书原件1", "9受托人身份证件原件1")
    note = "委托他人代为办理（授权委托书、受托人身份证件）"
    assert all(r in with_s3 for r in rows) and note not in with_s3
    assert not any(r in plain for r in rows) and note in plain


def test_checklist_json(answers: dict[str, CliResult], out_dir: Path) -> None:
    result = answers["checklist_json"]
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert (data["ok"], data["title"], data["kind"], data["reprint"]) == (
        True, "一次性告知单", "checklist", False)
    path = out_dir / "checklist-json.pdf"
    assert data["pages"] == pdf_pages(path) >= 1
    assert data["bytes"] == path.stat().st_size
    assert data["warnings"] == []


def test_ticket_to_an_escpos_file(answers: dict[str, CliResult], out_dir: Path) -> None:
    result = answers["ticket_file"]
    assert result.code == 0, result.err
    assert "排队票已发送到热敏打印机" in result.out
    data = (out_dir / "lp0").read_bytes()
    assert data.startswith(b"\x1b@\x1dv0") and b"\x1dV" in data[-16:]


def test_a_thermal_printer_that_is_off_is_exit_1_in_one_line(
        answers: dict[str, CliResult], home: Path) -> None:
    result = answers["ticket_down"]
    assert result.code == 1
    assert result.err == ""
    lines = result.out.splitlines()
    assert len(lines) == 1 and CJK.search(lines[0])
    assert "tcp://127.0.0.1:9" in lines[0] and "无法打印" in lines[0]
    kept = re.search(r"文书已保存为 (\S+\.pdf)", lines[0])
    assert kept and Path(kept.group(1)).is_file()
    assert Path(kept.group(1)).parent == home / "未打印文书"


def test_a_case_document_printed_twice_is_a_reprint(
        home: Path, numbers: dict[str, str], out_dir: Path, cli: Cli) -> None:
    # Paper: the thermal printer (an ESC/POS device file). The first slip is the
    # original, every later one is 补打.
    runs = [as_clerk(home, "print", "pickup-slip", numbers["twice"], "--json", "--escpos",
                     str(out_dir / f"slip-{n}.bin")) for n in (1, 2)]
    assert [r.code for r in runs] == [0, 0], [r.err for r in runs]
    first, second = (json.loads(r.out) for r in runs)
    assert (first["reprint"], second["reprint"]) == (False, True)
    assert first["archived_sha256"] and second["archived_sha256"]
    assert all((out_dir / f"slip-{n}.bin").read_bytes().startswith(b"\x1b@") for n in (1, 2))
    plain = as_clerk(home, "print", "pickup-slip", numbers["twice"], "--escpos",
                     str(out_dir / "slip-3.bin"))
    assert plain.code == 0 and plain.out.count("（补打）") == 1, plain.out


def test_exporting_a_pdf_issues_nothing(home: Path, numbers: dict[str, str], out_dir: Path
                                        ) -> None:
    runs = [as_clerk(home, "print", "acceptance", numbers["export"], "--json", "--pdf",
                     str(out_dir / f"export-{n}.pdf")) for n in (1, 2)]
    assert [r.code for r in runs] == [0, 0], [r.err for r in runs]
    assert [json.loads(r.out)["reprint"] for r in runs] == [False, False]
    assert all("补打" not in pdf_text(out_dir / f"export-{n}.pdf") for n in (1, 2))


def test_copy_marks_even_the_first_print_a_reprint(answers: dict[str, CliResult],
                                                   numbers: dict[str, str],
                                                   out_dir: Path) -> None:
    result = answers["copy"]
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert (data["ok"], data["kind"], data["reprint"]) == (True, "acceptance", True)
    text = pdf_text(out_dir / "copy.pdf")
    assert "【补打" in text and numbers["copy"] in text


# ---- bad input: exit 2, one line, nothing written ----------------------------------------


@pytest.mark.parametrize(("key", "fragments", "unwritten"), [
    ("bad_kind", ["frobnicate", "checklist"], None),
    ("bad_code", ["NOPE"], "nope.pdf"),
    ("bad_case", [MISSING, "办件"], "missing.pdf"),
    ("two_targets", ["只能选一个"], "two.pdf"),
    ("bad_uri", ["ftp://printer"], None),
    ("never_taken", ["A009", "没有取过"], "ahead.bin"),
    ("not_accepted", ["尚未受理", "不能打印受理通知书"], "not-accepted.pdf"),
    ("empty_ticket", ["票号", "A012"], "empty.bin"),
])
def test_bad_input_is_one_line_and_exit_2(key: str, fragments: list[str],
                                          unwritten: str | None,
                                          answers: dict[str, CliResult], out_dir: Path,
                                          numbers: dict[str, str]) -> None:
    line = one_line_error(answers[key])
    assert CJK.search(line)
    for fragment in fragments:
        assert fragment in line
    if key == "not_accepted":
        assert numbers["receiving"] in line
    if unwritten:
        assert not (out_dir / unwritten).exists()
    assert not (out_dir / "two.bin").exists()
