"""``catalog search --limit`` says what it left out; ``catalog show`` gives the 情形 ids
that ``print checklist --scenario`` takes, and a 情形's name there is answered with its id.

Subprocesses against the seeded demo catalogue, side by side (all read-only).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.cli.conftest import CliResult, one_line_error

Cli = Callable[..., CliResult]
DEMO = json.loads((Path(__file__).resolve().parents[2] / "resources" / "catalogue"
                   / "demo.json").read_text(encoding="utf-8"))
FOOD = "11330100MB0000001X4000215001000"    # 食品经营许可（新办）: s1, s2, s3
GAS = "11330100MB0000099G4000063001000"     # 燃气经营许可证核发: no 情形
CANYIN = "YJS330100-0001"                   # 开办餐饮店 (一件事)
BROAD = "示例县"                             # every demo department: more than 20 hits
# An item whose 情形 also waive materials.
WAIVING = next(i for i in DEMO["items"] if any(s.get("removes") for s in i.get("scenarios", ())))

COMMANDS: dict[str, tuple[str, ...]] = {
    "all": ("catalog", "search", "许可", "--json", "--limit", "1000"),
    "two": ("catalog", "search", "许可", "--limit", "2"),
    "two_json": ("catalog", "search", "许可", "--limit", "2", "--json"),
    "broad": ("catalog", "search", BROAD),
    "broad_json": ("catalog", "search", BROAD, "--json"),
    "none": ("catalog", "search", "不存在的事项名称"),
    "limit_zero": ("catalog", "search", "许可", "--limit", "0"),
    "show_json": ("catalog", "show", FOOD, "--json"),
    "show_waiving": ("catalog", "show", WAIVING["code"]),
    # No --user: a wrong 情形 is refused before anyone is asked for a password.
    "by_name": ("print", "checklist", FOOD, "--scenario", "委托他人代为办理"),
    "unknown": ("print", "checklist", FOOD, "--scenario", "s9"),
    "no_scenarios": ("print", "checklist", GAS, "--scenario", "s1"),
    "bundle": ("print", "checklist", CANYIN, "--scenario", "s1"),
    "not_checklist": ("print", "ticket", "A012", "--scenario", "s1"),
}


@pytest.fixture(scope="module")
def answers(seeded_cli_home: Path, cli: Cli) -> dict[str, CliResult]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {key: pool.submit(cli, seeded_cli_home, *args)
                   for key, args in COMMANDS.items()}
        return {key: f.result() for key, f in futures.items()}



# ---- catalog search --limit -------------------------------------------------------------


def test_a_cut_off_search_says_how_many_more_there_are(answers: dict[str, CliResult]) -> None:
    everything = json.loads(answers["all"].out)
    total = everything["total"]
    assert total == len(everything["results"]) > 2 and not everything["truncated"]
    lines = answers["two"].out.splitlines()
    assert answers["two"].code == 0, answers["two"].err
    assert [line.split("  ")[1] for line in lines[:2]] == [
        h["code"] for h in everything["results"][:2]]
    assert lines[2:] == [f"另有 {total - 2} 项未显示，用 --limit 显示更多"]


def test_a_cut_off_search_in_json(answers: dict[str, CliResult]) -> None:
    everything = json.loads(answers["all"].out)
    data = json.loads(answers["two_json"].out)
    assert (data["total"], data["truncated"]) == (everything["total"], True)
    assert data["results"] == everything["results"][:2]


def test_the_default_limit_is_20_and_is_said(answers: dict[str, CliResult]) -> None:
    data = json.loads(answers["broad_json"].out)
    assert data["truncated"] and data["total"] > 20 and len(data["results"]) == 20
    lines = answers["broad"].out.splitlines()
    assert len(lines) == 21
    assert lines[-1] == f"另有 {data['total'] - 20} 项未显示，用 --limit 显示更多"


def test_nothing_found_and_a_bad_limit(answers: dict[str, CliResult]) -> None:
    assert answers["none"].code == 0
    assert answers["none"].out.strip() == "没有找到与“不存在的事项名称”相关的事项"
    assert "--limit 应在 1 至 1000 之间" in one_line_error(answers["limit_zero"])


# ---- catalog show: the ids ---------------------------------------------------------------


def test_show_json_gives_the_scenario_and_material_ids(answers: dict[str, CliResult]) -> None:
    item = json.loads(answers["show_json"].out)
    assert [(s["id"], s["name"]) for s in item["scenarios"]] == [
        ("s1", "利用自动设备从事食品经营"), ("s2", "通过网络经营食品"), ("s3", "委托他人代为办理")]
    assert next(s for s in item["scenarios"] if s["id"] == "s3")["adds"] == ["m10", "m11"]
    assert all(m["id"] for m in item["materials"])


def test_show_says_which_materials_a_scenario_waives(answers: dict[str, CliResult]) -> None:
    result = answers["show_waiving"]
    assert result.code == 0, result.err
    scenario = next(s for s in WAIVING["scenarios"] if s.get("removes"))
    line = next(x for x in result.out.splitlines() if x.startswith(f"  {scenario['id']}  "))
    assert f"免交 {'、'.join(scenario['removes'])}" in line


# ---- print checklist --scenario --------------------------------------------------------


def test_a_scenario_name_is_answered_with_its_id(answers: dict[str, CliResult]) -> None:
    line = one_line_error(answers["by_name"])
    assert "“委托他人代为办理”是情形名称，请用编号 s3" in line


def test_an_unknown_scenario_lists_the_ids(answers: dict[str, CliResult]) -> None:
    line = one_line_error(answers["unknown"])
    assert "没有办理情形“s9”" in line
    assert "s1（利用自动设备从事食品经营）、s2（通过网络经营食品）、s3（委托他人代为办理）" in line


@pytest.mark.parametrize(("key", "fragment"), [
    ("no_scenarios", "不区分办理情形"),
    ("bundle", "是一件事，不区分办理情形"),
    ("not_checklist", "--scenario 只用于 checklist"),
])
def test_a_scenario_where_none_applies_is_refused(key: str, fragment: str,
                                                   answers: dict[str, CliResult]) -> None:
    assert fragment in one_line_error(answers[key])
