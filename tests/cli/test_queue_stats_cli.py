"""``yichuang queue stats`` end to end: the day's figures after real CLI calls, as text
and as JSON, and bad dates refused in one line."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.cli.conftest import CLERK_NAME, as_clerk, one_line_error, run_cli
from tests.cli.test_queue_cli import ok, take


def test_stats_count_the_days_tickets_per_category_window_and_clerk(cli_home: Path) -> None:
    take(cli_home, "A")
    take(cli_home, "A", "--reason", "残疾")
    take(cli_home, "C")
    for action in ("call", "serve", "finish", "call", "skip"):
        ok(as_clerk(cli_home, "queue", action, "--window", "1"))
    data = json.loads(ok(run_cli(cli_home, "queue", "stats", "--json")).out)
    hall = data["hall"]
    assert (hall["issued"], hall["called"], hall["finished"], hall["waiting_now"]) == (
        3, 2, 1, 2)   # the skipped A001 went back to the end once
    assert hall["by_class"] == {"普通": 2, "预约": 0, "优先": 1}
    assert hall["waiting"]["count"] == 2 and hall["service"]["count"] == 1
    assert [(c["prefix"], c["issued"]) for c in data["categories"]] == [
        ("A", 2), ("B", 0), ("C", 1)]
    (one,) = data["windows"]
    assert (one["key"], one["calls"], one["finished"], one["skipped"]) == ("1", 2, 1, 1)
    (clerk,) = data["clerks"]
    assert (clerk["name"], clerk["finished"]) == (CLERK_NAME, 1)
    assert data["ratings"]["by_grade"] == {"非常满意": 0, "满意": 0, "基本满意": 0,
                                           "不满意": 0, "非常不满意": 0}

    text = ok(run_cli(cli_home, "queue", "stats")).out
    assert "A 综合受理：取号 2，已叫 2，办结 1" in text
    assert re.search(r"1号窗口：叫号 2，办结 1，过号 1，办理时长 平均 \d+分\d\d秒", text)
    assert f"{CLERK_NAME}：叫号 2，办结 1" in text


def test_stats_of_another_day_are_that_days(cli_home: Path) -> None:
    data = json.loads(ok(run_cli(cli_home, "queue", "stats", "--date", "2020-01-02",
                                 "--json")).out)
    assert data["day"] == "2020-01-02" and data["hall"]["issued"] == 0


def test_a_bad_date_is_one_line_and_exit_2(cli_home: Path) -> None:
    line = one_line_error(run_cli(cli_home, "queue", "stats", "--date", "2026-13-40"))
    assert "日期" in line


def test_manual_calls_are_recorded_once_and_counted(cli_home: Path) -> None:
    from tests.cli.conftest import CLERK_NAME as NAME

    recorded = json.loads(ok(as_clerk(cli_home, "queue", "manual", "--window", "2", "a050",
                                      "--reason", "取号机打印机卡纸", "--json")).out)
    assert (recorded["number"], recorded["window"], recorded["reason"]) == (
        "A050", "2", "取号机打印机卡纸")
    line = one_line_error(as_clerk(cli_home, "queue", "manual", "--window", "3", "A050"))
    assert "A050号今天已在2号窗口手工叫过" in line
    data = json.loads(ok(run_cli(cli_home, "queue", "stats", "--json")).out)
    assert data["manual_calls"] == 1
    assert [(w["key"], w["manual"]) for w in data["windows"]] == [("2", 1)]
    assert f"{NAME}：叫号 0，办结 0，过号 0，办理时长 —，手工叫号 1" in ok(
        run_cli(cli_home, "queue", "stats")).out


def test_a_manual_call_needs_an_operator(cli_home: Path) -> None:
    line = one_line_error(run_cli(cli_home, "queue", "manual", "--window", "2", "A050"))
    assert "--user" in line


def test_a_write_turn_held_elsewhere_ends_in_exit_3_and_takes_nothing(cli_home: Path) -> None:
    import fcntl
    import os

    # Another program holds the write turn for longer than a write waits (10 s).
    fd = os.open(cli_home / "yichuang.db.writelock", os.O_RDONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        result = run_cli(cli_home, "queue", "take", "A")
    finally:
        os.close(fd)
    assert result.code == 3 and result.out == ""
    assert len(result.err_lines) == 1 and "数据库正忙" in result.err
    data = json.loads(ok(run_cli(cli_home, "queue", "status", "--json")).out)
    assert [w["waiting"] for w in data["waiting"]] == [0, 0, 0]


def test_a_ticket_time_edited_by_hand_is_named_not_an_internal_error(cli_home: Path) -> None:
    import sqlite3

    take(cli_home, "A")
    with sqlite3.connect(cli_home / "yichuang.db") as raw:
        raw.execute("UPDATE queue_tickets SET issued_at = '2026-11-29 08:00:00'")
    line = one_line_error(run_cli(cli_home, "queue", "stats"))
    assert "A001号的取号时间“2026-11-29 08:00:00”不是有效的时间" in line
