"""The ``yichuang`` command end to end: ``python -m app …`` in a subprocess, real files.

Read-only commands run once, side by side, against one seeded data directory (the
``answers`` fixture); commands that change data each get a copy of it.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import chinese_calendar
import pytest

from app import __version__
from app.domain.case import Applicant, ApplicantKind, Clerk, IdType
from app.domain.checksum import mod11_2
from app.workstation import open_workstation
from tests.cli.conftest import as_admin, as_clerk, one_line_error

CliResult = Any  # tests/cli/conftest.py: code, out, err, err_lines
Cli = Callable[..., CliResult]
DEMO = Path(__file__).resolve().parents[2] / "resources" / "catalogue" / "demo.json"
YYZZ = "11330100MB0000001X4000119001000"    # 营业执照遗失补领（个体工商户）
FOOD = "11330100MB0000001X4000215001000"    # 食品经营许可（新办）
CANYIN = "YJS330100-0001"                   # 开办餐饮店

READ_ONLY: dict[str, tuple[str, ...]] = {
    "version": ("--version",),
    "unknown": ("frobnicate", "now"),
    "search": ("catalog", "search", "yyzz"),
    "search_json": ("catalog", "search", "yyzz", "--json"),
    "show_item": ("catalog", "show", FOOD),
    "show_bundle": ("catalog", "show", CANYIN, "--json"),
    "list_village": ("catalog", "list", "--level", "村", "--json"),
    "check": ("calendar", "check", "2026-10-01"),
    "add_workdays": ("calendar", "add-workdays", "2026-09-30", "3"),
    "bad_date": ("calendar", "check", "2026-13-01"),
    "show_missing": ("catalog", "show", "NOPE"),
    "json_first_years": ("--json", "calendar", "years"),
}


@pytest.fixture(scope="module")
def answers(seeded_cli_home: Path, cli: Cli) -> dict[str, CliResult]:
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {key: pool.submit(cli, seeded_cli_home, *args)
                   for key, args in READ_ONLY.items()}
        return {key: f.result() for key, f in futures.items()}



def write_json(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


# ---- read-only commands --------------------------------------------------------------


def test_version(answers: dict[str, CliResult]) -> None:
    result = answers["version"]
    assert (result.code, result.out.strip()) == (0, f"yichuang {__version__}")


def test_an_unknown_command_is_one_line_and_exit_2(answers: dict[str, CliResult]) -> None:
    line = one_line_error(answers["unknown"])
    assert "参数错误" in line and "frobnicate" in line and "--help" in line


def test_catalog_search_text(answers: dict[str, CliResult]) -> None:
    result = answers["search"]
    assert result.code == 0, result.err
    first = result.out.splitlines()[0]
    assert first.startswith("营业执照遗失补领（个体工商户）")
    assert YYZZ in first and "示例县市场监督管理局" in first


def test_catalog_search_json(answers: dict[str, CliResult]) -> None:
    result = answers["search_json"]
    assert result.code == 0, result.err
    data = json.loads(result.out)
    hits = data["results"]
    assert (data["query"], data["total"], data["truncated"]) == ("yyzz", len(hits), False)
    assert hits[0] == {"kind": "item", "code": YYZZ, "name": "营业执照遗失补领（个体工商户）",
                       "department": "示例县市场监督管理局", "rank": hits[0]["rank"]}
    assert all(set(h) == {"kind", "code", "name", "department", "rank"} for h in hits)


def test_catalog_show_item(answers: dict[str, CliResult]) -> None:
    result = answers["show_item"]
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == "食品经营许可（新办）"
    assert f"事项编码：{FOOD}" in lines[1]
    assert "承诺时限：3个工作日" in result.out
    demo_item = next(i for i in json.loads(DEMO.read_text(encoding="utf-8"))["items"]
                     if i["code"] == FOOD)
    # Each material and 情形 on a line of its own, led by the id the commands take.
    for m in demo_item["materials"]:
        assert sum(line.startswith(f"  {m['id']}  {m['name']}（") for line in lines) == 1
    assert demo_item["scenarios"]
    for s in demo_item["scenarios"]:
        assert sum(line.startswith(f"  {s['id']}  {s['name']}：增加 {'、'.join(s['adds'])}")
                   for line in lines) == 1
    assert "--scenario" in result.out
    assert "可容缺" in result.out


def test_catalog_show_bundle(answers: dict[str, CliResult]) -> None:
    result = answers["show_bundle"]
    assert result.code == 0, result.err
    bundle = json.loads(result.out)
    assert (bundle["code"], bundle["name"]) == (CANYIN, "开办餐饮店")
    assert len(bundle["items"]) >= 2
    names = [m["name"] for m in bundle["materials"]]
    assert len(names) == len(set(names))
    assert any(len(m["items"]) > 1 for m in bundle["materials"])  # merged across items


def test_catalog_list_by_level(answers: dict[str, CliResult]) -> None:
    result = answers["list_village"]
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    demo = json.loads(DEMO.read_text(encoding="utf-8"))
    assert [r["code"] for r in rows] == [i["code"] for i in demo["items"] if i["level"] == "村"]
    assert rows and {r["level"] for r in rows} == {"村"}


def test_calendar_check_a_holiday(answers: dict[str, CliResult]) -> None:
    result = answers["check"]
    assert result.code == 0, result.err
    assert result.out.strip() == "2026-10-01（星期四）：法定节假日（国庆节）"


def test_calendar_add_workdays_over_national_day(answers: dict[str, CliResult]) -> None:
    result = answers["add_workdays"]
    assert result.code == 0, result.err
    assert "2026-10-10（星期六）" in result.out


def test_a_bad_date_argument_is_one_line_and_exit_2(answers: dict[str, CliResult]) -> None:
    line = one_line_error(answers["bad_date"])
    assert "日期“2026-13-01”无效" in line and "YYYY-MM-DD" in line


def test_showing_an_unknown_code_is_one_line_and_exit_2(answers: dict[str, CliResult]) -> None:
    line = one_line_error(answers["show_missing"])
    assert "没有编码为“NOPE”的事项或一件事" in line


def test_json_before_the_command_and_calendar_years(answers: dict[str, CliResult]) -> None:
    result = answers["json_first_years"]
    assert result.code == 0, result.err
    years = {y["year"]: y for y in json.loads(result.out)}
    package_years = {d.year for d in [*chinese_calendar.holidays, *chinese_calendar.workdays]}
    assert set(years) == {y for y in package_years if y < 2027}   # see conftest
    holidays_2026 = [d for d in chinese_calendar.holidays if d.year == 2026]
    workdays_2026 = [d for d in chinese_calendar.workdays if d.year == 2026]
    assert years[2026]["origin"] == "package"
    assert (years[2026]["holidays"], years[2026]["adjusted_workdays"]) == (
        len(holidays_2026), len(workdays_2026))


# ---- commands that change data -------------------------------------------------------


def _releases(home: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(home / "yichuang.db") as raw:
        rows = raw.execute("SELECT id, version, is_current, sha256 FROM catalogue_releases "
                           "ORDER BY id").fetchall()
    return rows


def test_a_bad_catalogue_file_changes_nothing(cli: Cli, cli_home: Path,
                                              tmp_path: Path) -> None:
    doc = json.loads(DEMO.read_text(encoding="utf-8"))
    doc["version"] = "2026.12-bad"
    doc["items"][2]["level"] = "省级"
    doc["bundles"][0]["items"].append("NO-SUCH-ITEM")
    before = _releases(cli_home)

    line = one_line_error(as_admin(cli_home, "catalog", "import",
                                   str(write_json(tmp_path / "bad.json", doc))))
    assert "目录文件有误" in line
    assert f"第3个事项（{doc['items'][2]['code']}" in line and "字段 level" in line
    assert "NO-SUCH-ITEM" in line

    after = cli(cli_home, "catalog", "versions", "--json")
    assert after.code == 0, after.err
    assert [(r["id"], r["version"], r["current"]) for r in json.loads(after.out)] == [
        (rid, version, bool(current)) for rid, version, current, _ in reversed(before)]
    assert _releases(cli_home) == before


def test_catalog_import_and_export(cli: Cli, cli_home: Path, tmp_path: Path) -> None:
    doc = json.loads(DEMO.read_text(encoding="utf-8"))
    doc["version"] = "2026.12-demo"
    entry = next(i for i in doc["items"] if i["code"] == YYZZ)
    entry.update(version=entry["version"] + ".1", name="营业执照遗失补领")
    result = as_admin(cli_home, "catalog", "import",
                      str(write_json(tmp_path / "new.json", doc)))
    assert result.code == 0, result.err
    assert result.out.strip() == (f"已导入目录 2026.12-demo：{len(doc['items'])} 个事项"
                                  f"（新增或新版本 1 个），{len(doc['bundles'])} 个一件事")

    out = tmp_path / "exported.json"
    result = cli(cli_home, "catalog", "export", str(out))
    assert result.code == 0, result.err
    assert result.out.strip() == f"已导出 {len(doc['items'])} 个事项到 {out}"
    exported = json.loads(out.read_text(encoding="utf-8"))
    assert exported["version"] == "2026.12-demo"
    assert [i["code"] for i in exported["items"]] == [i["code"] for i in doc["items"]]
    assert next(i for i in exported["items"] if i["code"] == YYZZ)["name"] == "营业执照遗失补领"
    assert [(v, bool(c)) for _, v, c, _ in _releases(cli_home)] == [
        (json.loads(DEMO.read_text(encoding="utf-8"))["version"], False),
        ("2026.12-demo", True)]


NOTICE_2027 = {
    "format": "yichuang-calendar",
    "years": [{
        "year": 2027, "source": "国务院办公厅关于2027年部分节假日安排的通知（示例）",
        "holidays": [{"name": "元旦", "from": "2027-01-01", "to": "2027-01-03"},
                     {"name": "春节", "from": "2027-02-06", "to": "2027-02-13"}],
        "workdays": [{"name": "春节调休", "date": "2027-02-14"}],
    }],
}


def test_calendar_refuses_2027_until_the_notice_is_imported(cli: Cli, cli_home: Path,
                                                            tmp_path: Path) -> None:
    line = one_line_error(cli(cli_home, "calendar", "add-workdays", "2026-12-28", "5"))
    assert "工作日历尚未包含2027年的节假日安排" in line
    assert "calendar import" in line

    result = as_admin(cli_home, "calendar", "import",
                      str(write_json(tmp_path / "2027.json", NOTICE_2027)))
    assert (result.code, result.out.strip()) == (0, "已导入 2027 年节假日安排")

    result = cli(cli_home, "calendar", "add-workdays", "2026-12-28", "5", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out) == {"from": "2026-12-28", "workdays": 5, "date": "2027-01-05"}


def test_doctor_on_a_first_start(cli: Cli, tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    result = cli(home, "doctor", "--json")
    assert result.code == 0, result.err
    checks = json.loads(result.out)
    assert all(set(c) == {"name", "ok", "detail"} for c in checks)
    assert all(isinstance(c["ok"], bool) and c["detail"] for c in checks)
    by_name = {c["name"]: c for c in checks}
    assert {"数据目录", "站点", "数据库", "事项目录", "工作日历", "界面字体", "文书字体",
            "打印机", "叫号语音", "服务器"} <= set(by_name)
    assert by_name["文书字体"]["ok"] is True
    assert by_name["数据库"]["ok"] is True
    demo = json.loads(DEMO.read_text(encoding="utf-8"))
    demo_version, demo_items = demo["version"], len(demo["items"])
    assert by_name["事项目录"] == {"name": "事项目录", "ok": True,
                                   "detail": f"{demo_version}，{demo_items} 个事项"}
    assert by_name["站点"]["ok"] is False and "settings.toml" in by_name["站点"]["detail"]
    assert (home / "settings.toml").is_file() and (home / "yichuang.db").is_file()


def test_user_add_and_list(cli: Cli, cli_home: Path) -> None:
    result = as_admin(cli_home, "user", "add", "wangwu", "--name", "王五", "--role",
                      "supervisor", extra_lines=("Zhiban2026",))
    assert result.code == 0, result.err
    assert "已创建用户 wangwu（王五）" in result.out
    result = as_admin(cli_home, "user", "list", "--json")
    assert result.code == 0, result.err
    users = {u["username"]: u for u in json.loads(result.out)}
    assert set(users) == {"admin", "lisi", "wangwu"}
    assert (users["wangwu"]["role"], users["wangwu"]["must_change_password"]) == (
        "supervisor", True)
    login = cli(cli_home, "user", "list", "--user", "wangwu", "--password-fd", "0",
                stdin="Zhiban2026\n")
    assert "须先修改密码" in one_line_error(login)


def test_accounts_need_an_administrator(cli: Cli, cli_home: Path) -> None:
    assert "--user" in one_line_error(cli(cli_home, "user", "list"))
    refused = as_clerk(cli_home, "user", "add", "zhao", "--name", "赵六")
    assert "无权管理用户账号" in one_line_error(refused)
    wrong = cli(cli_home, "user", "list", "--user", "admin", "--password-fd", "0",
                stdin="not-the-password\n")
    assert "用户名或密码不正确" in one_line_error(wrong)


def test_no_command_takes_a_password_on_the_command_line(cli: Cli,
                                                         seeded_cli_home: Path) -> None:
    helps = [cli(seeded_cli_home, *cmd, "--help") for cmd in (
        (), ("user", "add"), ("user", "reset-password"), ("user", "passwd"),
        ("print",), ("recover",), ("backup",))]
    for result in helps:
        assert result.code == 0, result.err
        assert "--password " not in result.out and "--password=" not in result.out
        assert "--clerk" not in result.out
    assert "--password-fd" in helps[1].out


def test_audit_verify(cli: Cli, cli_home: Path) -> None:
    ws = open_workstation(cli_home)
    try:
        s = ws.settings
        clerk = Clerk("clerk-1", "张三", s.site_code, s.terminal, s.window)
        body = "33010219800101002"
        applicant = Applicant(ApplicantKind.PERSON, "王小明", IdType.RESIDENT_ID,
                              body + mod11_2(body))
        numbers = [ws.cases.open_case(FOOD, applicant, clerk, today=dt.date(2026, 11, 23)).number
                   for _ in range(3)]
    finally:
        ws.close()
    result = cli(cli_home, "audit", "verify", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert (report["ok"], report["cases"], report["findings"]) == (True, 3, [])
    assert [(c["chain"], c["rows"], c["intact"], c["anchored"]) for c in report["chains"]] == [
        ("events", 3, True, True)]

    with sqlite3.connect(cli_home / "yichuang.db") as raw:
        raw.execute("UPDATE cases SET applicant_name = '李四' WHERE number = ?", (numbers[1],))
    result = cli(cli_home, "audit", "verify")
    assert result.code == 4, result
    assert f"!! 办件{numbers[1]}的当前数据与办件记录不符：申请人姓名" in result.out
    assert "结论：发现 1 处问题" in result.out
