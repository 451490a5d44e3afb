"""``yichuang consult``: 咨询登记 from the command line, with the 一次性告知单 when asked."""

from __future__ import annotations

import json
from pathlib import Path

from app.domain.checksum import mod11_2
from tests.cli.conftest import CLERK_NAME, as_clerk, run_cli

FOOD = "11330100MB0000001X4000215001000"   # 食品经营许可（新办）
GETI = "11330100MB0000001X4000116001000"   # 个体工商户设立登记
ID = "33010219800101002" + mod11_2("33010219800101002")


def listed(home: Path, *args: str) -> list[dict[str, object]]:
    result = as_clerk(home, "consult", "list", "--json", *args)
    assert result.code == 0, result.err
    rows: list[dict[str, object]] = json.loads(result.out)
    return rows


def test_an_enquiry_is_logged_and_listed_with_the_number_masked(cli_home: Path) -> None:
    result = as_clerk(cli_home, "consult", "add", FOOD, "--name", "王小明", "--id", ID,
                      "--phone", "13800138000", "--question", "开餐馆要办什么证？",
                      "--answer", "食品经营许可", "--json")
    assert result.code == 0, result.err
    added = json.loads(result.out)
    assert (added["item_name"], added["clerk"], added["printed"]) == (
        "食品经营许可（新办）", CLERK_NAME, None)
    rows = listed(cli_home)
    assert len(rows) == 1
    assert rows[0]["id_number"] == ID[:4] + "*" * 10 + ID[-4:]
    assert (rows[0]["question"], rows[0]["answer"]) == ("开餐馆要办什么证？", "食品经营许可")
    text = as_clerk(cli_home, "consult", "list")
    assert ID not in text.out and "王小明" in text.out


def test_the_checklist_is_exported_through_the_document_service(cli_home: Path,
                                                                tmp_path: Path) -> None:
    out = tmp_path / "告知单.pdf"
    result = as_clerk(cli_home, "consult", "add", FOOD, "--name", "王小明",
                      "--question", "需要哪些材料？", "--checklist", "--pdf", str(out), "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["checklist"] is True and data["printed"]["ok"] is True
    assert out.read_bytes().startswith(b"%PDF")
    assert listed(cli_home)[0]["checklist"] is True


def test_bad_input_is_refused_on_one_line_and_nothing_is_logged(cli_home: Path) -> None:
    no_item = as_clerk(cli_home, "consult", "add", "--name", "王小明", "--question", "材料？",
                       "--checklist")
    unknown = as_clerk(cli_home, "consult", "add", "NOPE", "--name", "王小明",
                       "--question", "材料？")
    no_user = run_cli(cli_home, "consult", "add", FOOD, "--name", "王小明", "--question", "材料？")
    for result in (no_item, unknown, no_user):
        assert result.code == 2 and len(result.err_lines) == 1, result.err
    assert "--checklist 须给出事项" in no_item.err
    assert "没有编码为“NOPE”" in unknown.err
    assert listed(cli_home) == []


def test_the_list_filters_by_item_and_lists_todays_entries_newest_first(cli_home: Path) -> None:
    for code, question in ((FOOD, "问食品"), (GETI, "问个体"), ("", "问其他")):
        args = (code,) if code else ()
        result = as_clerk(cli_home, "consult", "add", *args, "--name", "甲",
                          "--question", question)
        assert result.code == 0, result.err
    assert [r["question"] for r in listed(cli_home, "--item", FOOD)] == ["问食品"]
    assert [r["question"] for r in listed(cli_home, "--today")] == ["问其他", "问个体", "问食品"]


def test_reading_the_log_needs_an_operator(cli_home: Path) -> None:
    result = run_cli(cli_home, "consult", "list")
    assert result.code == 2 and "--user" in result.err
