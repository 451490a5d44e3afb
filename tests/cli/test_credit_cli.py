"""``yichuang credit``: import the 失信名单, check a number, and what a case does with a hit.

Each command runs as ``python -m app`` in a subprocess; what it did is read back through
the services.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.domain.checksum import mod11_2
from app.workstation import open_workstation
from tests.cli.conftest import as_admin, as_clerk, run_cli

FOOD = "11330100MB0000001X4000215001000"      # 食品经营许可（新办）: m7 可容缺
LISTED = "33010219800101002" + mod11_2("33010219800101002")
CLEAN = "33010219900202003" + mod11_2("33010219900202003")


def entry(number: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"id_type": "居民身份证", "id_number": number, "name": name,
            "measure": "限制适用告知承诺制和容缺受理", "source": "示例县市场监督管理局",
            "until": None, **extra}


def write_list(path: Path, entries: list[dict[str, Any]], version: str = "2026.11.20") -> Path:
    path.write_text(json.dumps({
        "format": "yichuang-credit", "format_version": 1, "version": version,
        "published_at": "2026-11-20", "publisher": "示例县公共信用信息中心",
        "entries": entries}, ensure_ascii=False), encoding="utf-8")
    return path


def imported(home: Path, tmp_path: Path) -> None:
    result = as_admin(home, "credit", "import", str(write_list(tmp_path / "list.json", [
        entry(LISTED, "王小明")])))
    assert result.code == 0, result.err


def current_version(home: Path) -> str | None:
    status = run_cli(home, "credit", "status", "--json")
    assert status.code == 0, status.err
    data = json.loads(status.out)
    return None if data is None else str(data["version"])


def test_an_administrator_imports_the_list_and_status_shows_it(cli_home: Path,
                                                               tmp_path: Path) -> None:
    result = as_admin(cli_home, "credit", "import", "--json",
                      str(write_list(tmp_path / "list.json", [entry(LISTED, "王小明")])))
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert (data["version"], data["entries"], data["imported_by"]) == (
        "2026.11.20", 1, "系统管理员")
    status = run_cli(cli_home, "credit", "status")
    assert status.code == 0 and "失信名单 2026.11.20：1 条" in status.out


def test_a_clerk_may_not_import_the_list(cli_home: Path, tmp_path: Path) -> None:
    result = as_clerk(cli_home, "credit", "import",
                      str(write_list(tmp_path / "list.json", [entry(LISTED, "王小明")])))
    assert result.code == 2 and "无权导入" in result.err
    assert current_version(cli_home) is None


def test_a_bad_entry_is_named_on_one_line_and_nothing_changes(cli_home: Path,
                                                              tmp_path: Path) -> None:
    imported(cli_home, tmp_path)
    bad = LISTED[:-1] + ("0" if LISTED[-1] != "0" else "1")
    path = write_list(tmp_path / "bad.json", [entry(CLEAN, "李华"), entry(bad, "孙错"),
                                              entry(CLEAN, "李华")], version="2026.11.27")
    result = as_admin(cli_home, "credit", "import", str(path))
    assert result.code == 2
    assert len(result.err_lines) == 1 and "Traceback" not in result.err
    assert "第2条（孙错）证件号码" in result.err and "第3条（李华）与第1条" in result.err
    assert current_version(cli_home) == "2026.11.20"


def test_a_file_not_in_utf8_or_not_json_changes_nothing(cli_home: Path, tmp_path: Path) -> None:
    imported(cli_home, tmp_path)
    gbk = tmp_path / "gbk.json"
    gbk.write_bytes('{"name": "王小明"}'.encode("gbk"))
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "yichuang-credit",', encoding="utf-8")
    first = as_admin(cli_home, "credit", "import", str(gbk))
    second = as_admin(cli_home, "credit", "import", str(broken))
    assert (first.code, second.code) == (2, 2)
    assert "不是UTF-8编码" in first.err and "不是有效的JSON" in second.err
    assert current_version(cli_home) == "2026.11.20"


def test_a_file_over_the_size_limit_is_refused_before_the_login(cli_home: Path,
                                                                tmp_path: Path) -> None:
    huge = tmp_path / "huge.json"
    with huge.open("wb") as f:   # sparse: 60 MB by its size, nothing on the disk
        f.truncate(60 * 1024 * 1024)
    result = run_cli(cli_home, "credit", "import", str(huge), "--user", "admin")
    assert result.code == 2 and "过大" in result.err and "密码" not in result.err
    assert current_version(cli_home) is None


def test_a_check_names_the_hit_and_the_list_version(cli_home: Path, tmp_path: Path) -> None:
    imported(cli_home, tmp_path)
    hit = as_clerk(cli_home, "credit", "check", LISTED, "--json")
    assert hit.code == 0, hit.err
    data = json.loads(hit.out)
    assert data["hit"] is True and data["list_version"] == "2026.11.20"
    assert data["entry"]["measure"] == "限制适用告知承诺制和容缺受理"
    assert isinstance(data["age_days"], int)
    miss = as_clerk(cli_home, "credit", "check", CLEAN)
    assert miss.code == 0 and miss.out.startswith("信用核查：未在失信名单中（名单版本 2026.11.20")


def test_a_check_needs_an_operator_and_a_valid_number(cli_home: Path) -> None:
    anonymous = run_cli(cli_home, "credit", "check", LISTED)
    assert anonymous.code == 2 and "--user" in anonymous.err
    bad = as_clerk(cli_home, "credit", "check", LISTED[:-1] + "Y")
    assert bad.code == 2 and bad.err.startswith("yichuang: 证件号码有误")


def test_a_deferred_acceptance_for_a_listed_applicant_opens_no_case(cli_home: Path,
                                                                    tmp_path: Path) -> None:
    imported(cli_home, tmp_path)
    result = as_clerk(cli_home, "case", "new", FOOD, "--name", "王小明", "--id", LISTED,
                      "--received-all", "--material", "m7=容缺:2030-01-01",
                      "--decide", "容缺受理")
    assert result.code == 2
    assert "申请人在失信名单中（王小明，限制适用告知承诺制和容缺受理" in result.err
    listed = as_clerk(cli_home, "case", "list", "--json")
    assert json.loads(listed.out) == []


def test_a_case_opened_from_the_command_line_records_the_check(cli_home: Path,
                                                               tmp_path: Path) -> None:
    imported(cli_home, tmp_path)
    result = as_clerk(cli_home, "case", "new", FOOD, "--name", "王小明", "--id", LISTED,
                      "--received-all", "--decide", "受理", "--json")
    assert result.code == 0, result.err
    shown = as_clerk(cli_home, "case", "show", json.loads(result.out)["number"])
    assert "信用核查：在失信名单中——王小明，限制适用告知承诺制和容缺受理" in shown.out
    ws = open_workstation(cli_home)
    try:
        case = ws.cases.by_number(json.loads(result.out)["number"])
        facts = ws.cases.credit_facts(case.id)
        assert facts is not None and facts.hit and facts.list_version == "2026.11.20"
        assert ws.integrity.verify().ok
    finally:
        ws.close()
