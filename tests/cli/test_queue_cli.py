"""``yichuang queue …`` and ``print ticket``, end to end: each command a real subprocess on
a seeded data directory (demo queue: A 综合受理, B 出件, C 咨询; windows 1–3)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.domain.queue import TicketStatus
from app.storage.models import QueueTicketEventRow, QueueTicketRow
from app.workstation import open_workstation
from tests.cli.conftest import CLERK, CliResult, as_admin, as_clerk, one_line_error, run_cli

CJK = re.compile(r"[\u4e00-\u9fff]")


def ok(result: CliResult) -> CliResult:
    assert result.code == 0, result
    return result


def take(home: Path, *args: str) -> dict[str, Any]:
    """A ticket taken as the kiosk does: no operator."""
    data: dict[str, Any] = json.loads(ok(run_cli(home, "queue", "take", *args, "--json")).out)
    return data


def window(home: Path, action: str, number: str, *args: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        ok(as_clerk(home, "queue", action, "--window", number, *args, "--json")).out)
    return data


def status(home: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ok(run_cli(home, "queue", "status", "--json")).out)
    return data


def waiting(home: Path) -> dict[str, int]:
    return {row["category"]: row["waiting"] for row in status(home)["waiting"]}


def events(home: Path, number: str) -> list[tuple[str, str, str]]:
    """(kind, window, clerk id) of today's ticket ``number``, in order."""
    ws = open_workstation(home)
    try:
        ticket = ws.queue.ticket(number)
        with ws.db.read() as session:
            rows = session.scalars(select(QueueTicketEventRow).where(
                QueueTicketEventRow.ticket_id == ticket.id).order_by(QueueTicketEventRow.seq))
            return [(r.kind, r.window, r.clerk_id) for r in rows]
    finally:
        ws.close()


def clerk_id(home: Path) -> str:
    ws = open_workstation(home)
    try:
        return next(u.user_id for u in ws.accounts.users() if u.username == CLERK)
    finally:
        ws.close()


def pdf_text(path: Path) -> str:
    return "".join(subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True,
                                  text=True, check=True, encoding="utf-8").stdout.split())


# ---- the kiosk and the windows -----------------------------------------------------------


def test_two_windows_calling_at_once_get_different_tickets(cli_home: Path) -> None:
    assert [take(cli_home, "A")["number"] for _ in range(2)] == ["A001", "A002"]
    # Windows 1 and 2 both serve A first: two processes race for the same queue.
    with ThreadPoolExecutor(max_workers=2) as pool:
        calls = list(pool.map(lambda w: window(cli_home, "call", w), ["1", "2"]))
    assert {c["ticket"]["number"] for c in calls} == {"A001", "A002"}
    assert [c["window"] for c in calls] == ["1", "2"]
    assert all(c["ticket"]["window"] == c["window"] for c in calls)
    assert waiting(cli_home)["A"] == 0


def test_a_ticket_through_every_window_action(cli_home: Path) -> None:
    elderly = take(cli_home, "A", "--reason", "60岁以上")
    assert (elderly["number"], elderly["class"], elderly["priority_reason"]) == (
        "A001", "优先", "老年人（60周岁及以上）")
    assert take(cli_home, "A")["number"] == "A002"
    appointment = take(cli_home, "B", "--code", "yy2026")
    assert (appointment["class"], appointment["appointment"]) == ("预约", "YY2026")

    assert window(cli_home, "call", "1")["ticket"]["number"] == "A001"   # 优先 first
    assert window(cli_home, "recall", "1")["ticket"]["recalls"] == 1
    assert window(cli_home, "serve", "1")["ticket"]["status"] == "serving"
    assert window(cli_home, "suspend", "1")["ticket"]["status"] == "suspended"
    assert window(cli_home, "call", "1")["ticket"]["number"] == "A002"
    # 转移 to window 3 (which does not serve A): only it may call A002 now.
    moved = window(cli_home, "transfer", "1", "--to-window", "3")["ticket"]
    assert (moved["status"], moved["target_window"]) == ("waiting", "3")
    resumed = window(cli_home, "resume", "1", "a001")["ticket"]
    assert (resumed["number"], resumed["status"]) == ("A001", "called")
    assert window(cli_home, "finish", "1")["ticket"]["status"] == "finished"
    # Window 3: the 预约 B001 goes before the ordinary A002 transferred to it.
    assert window(cli_home, "call", "3")["ticket"]["number"] == "B001"
    assert window(cli_home, "finish", "3")["ticket"]["status"] == "finished"
    assert window(cli_home, "call", "3")["ticket"]["number"] == "A002"
    # 过号: back once at the end of the queue — still window 3's, where it was sent.
    skipped = window(cli_home, "skip", "3")["ticket"]
    assert (skipped["status"], skipped["category"], skipped["returns"],
            skipped["target_window"]) == ("waiting", "A", 1, "3")
    assert window(cli_home, "call", "2")["ticket"] is None   # 2 serves A, but not this one
    assert window(cli_home, "call", "3")["ticket"]["number"] == "A002"
    moved = window(cli_home, "transfer", "3", "--to-category", "c")["ticket"]
    assert (moved["number"], moved["category"], moved["category_name"]) == ("A002", "C", "咨询")
    assert window(cli_home, "call", "1")["ticket"]["number"] == "A002"   # 1 serves C

    take(cli_home, "A")
    paused = ok(as_clerk(cli_home, "queue", "pause", "--window", "2"))
    assert paused.out.strip() == "2号窗口已暂停叫号"
    assert "2号窗口已暂停" in one_line_error(as_clerk(cli_home, "queue", "call", "--window", "2"))
    ok(as_clerk(cli_home, "queue", "unpause", "--window", "2"))
    assert window(cli_home, "call", "2")["ticket"]["number"] == "A003"

    me = clerk_id(cli_home)
    assert events(cli_home, "A001") == [
        ("issued", "", ""), ("called", "1", me), ("recalled", "1", me), ("serving", "1", me),
        ("suspended", "1", me), ("resumed", "1", me), ("finished", "1", me)]
    assert [(kind, w) for kind, w, _ in events(cli_home, "A002")] == [
        ("issued", ""), ("called", "1"), ("transferred", "1"), ("called", "3"),
        ("missed", "3"), ("called", "3"), ("transferred", "3"), ("called", "1")]


def test_the_human_lines_say_what_happened(cli_home: Path) -> None:
    taken = ok(run_cli(cli_home, "queue", "take", "A"))
    assert taken.out.strip() == "已取号 A001（综合受理），前面还有 0 人等候"
    called = ok(as_clerk(cli_home, "queue", "call", "--window", "2"))
    assert called.out.strip() == "请A001号到2号窗口办理 —— A001（综合受理）"
    empty = ok(as_clerk(cli_home, "queue", "call", "--window", "3"))
    assert empty.out.strip() == "3号窗口：没有等候的号"
    text = ok(run_cli(cli_home, "queue", "status")).out.splitlines()
    assert text[1:] == ["  A 综合受理：等候 0 人", "  B 出件：等候 0 人", "  C 咨询：等候 0 人",
                        "  1号窗口：空闲", "  2号窗口：A001 已叫号", "  3号窗口：空闲"]


def test_status_json_has_waiting_per_category_and_each_windows_ticket(cli_home: Path) -> None:
    for category in ("A", "A", "C"):
        take(cli_home, category)
    window(cli_home, "call", "1")
    window(cli_home, "suspend", "1")
    window(cli_home, "call", "2")
    data = status(cli_home)
    assert set(data) == {"day", "waiting", "windows"}
    assert data["waiting"] == [{"category": "A", "name": "综合受理", "waiting": 0},
                               {"category": "B", "name": "出件", "waiting": 0},
                               {"category": "C", "name": "咨询", "waiting": 1}]
    assert [w["window"] for w in data["windows"]] == ["1", "2", "3"]
    one, two, three = data["windows"]
    assert (one["current"], one["suspended"], one["paused"]) == (None, ["A001"], False)
    assert (two["current"]["number"], two["current"]["status"]) == ("A002", "called")
    assert three["current"] is None
    assert data["day"] == two["current"]["day"]


def test_no_operator_may_call_and_only_an_administrator_configures(cli_home: Path) -> None:
    take(cli_home, "A")
    line = one_line_error(run_cli(cli_home, "queue", "call", "--window", "1"))
    assert "--user" in line
    line = one_line_error(as_clerk(cli_home, "queue", "categories", "set", "D", "不动产"))
    assert "无权修改排队设置" in line and "窗口工作人员" in line
    ok(as_admin(cli_home, "queue", "categories", "set", "D", "不动产登记"))
    ok(as_admin(cli_home, "queue", "windows", "set", "4", "--categories", "D,A"))
    windows = json.loads(ok(run_cli(cli_home, "queue", "windows", "list", "--json")).out)
    assert windows[-1]["number"] == "4"
    assert windows[-1]["categories"] == [["D", 1], ["A", 2]]
    assert take(cli_home, "D")["category_name"] == "不动产登记"
    assert window(cli_home, "call", "4")["ticket"]["number"] == "D001"


# ---- bad input: one Chinese line, exit 2, nothing changed --------------------------------

# (runs as the clerk?, arguments after "queue", fragments of the line). One home, one
# ticket A001 waiting; the commands run side by side.
BAD: dict[str, tuple[bool, tuple[str, ...], list[str]]] = {
    "category": (False, ("take", "Z"), ["Z", "A 综合受理"]),
    "reason": (False, ("take", "A", "--reason", "很急"), ["很急", "残疾人"]),
    "reason_ordinary": (False, ("take", "A", "--class", "普通", "--reason", "残疾"),
                        ["--reason", "优先"]),
    "no_reason": (False, ("take", "A", "--class", "优先"), ["优先原因"]),
    "id": (False, ("take", "A", "--id", "330102198001010027"), ["--id", "身份证"]),
    "target_alone": (False, ("take", "A", "--escpos", "/tmp/x.bin"), ["--print"]),
    "no_printer": (False, ("take", "A", "--print"), ["未配置热敏打印机", "未取号"]),
    "class": (False, ("take", "A", "--class", "VIP"), ["VIP", "普通"]),
    "window": (True, ("call", "--window", "9"), ["9号窗口", "1、2、3"]),
    "window_name": (True, ("call", "--window", "1 2"), ["窗口号", "1 2"]),
    "nothing_called": (True, ("finish", "--window", "1"), ["1号窗口当前没有叫到的号"]),
    "transfer_where": (True, ("transfer", "--window", "1"), ["--to-category", "--to-window"]),
    "transfer_both": (True, ("transfer", "--window", "1", "--to-category", "A",
                             "--to-window", "2"), ["二者选一"]),
    "resume": (True, ("resume", "--window", "1", "A001"), ["没有挂起的A001号"]),
}


@pytest.fixture(scope="module")
def bad_home(seeded_cli_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("queue-bad") / "home"
    shutil.copytree(seeded_cli_home, home)
    take(home, "A")
    return home


@pytest.fixture(scope="module")
def bad_answers(bad_home: Path) -> dict[str, CliResult]:
    def run(key: str) -> CliResult:
        clerk, args, _ = BAD[key]
        return (as_clerk if clerk else run_cli)(bad_home, "queue", *args)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(BAD, pool.map(run, BAD), strict=True))


@pytest.mark.parametrize("key", list(BAD))
def test_bad_input_is_one_chinese_line_and_exit_2(key: str,
                                                  bad_answers: dict[str, CliResult]) -> None:
    line = one_line_error(bad_answers[key])
    assert CJK.search(line)
    for fragment in BAD[key][2]:
        assert fragment in line, line


def test_bad_input_took_and_moved_nothing(bad_home: Path,
                                          bad_answers: dict[str, CliResult]) -> None:
    assert all(r.code == 2 for r in bad_answers.values())
    data = status(bad_home)
    assert [w["waiting"] for w in data["waiting"]] == [1, 0, 0]
    assert [w["current"] for w in data["windows"]] == [None, None, None]


# ---- the printed ticket is the stored one ------------------------------------------------


def test_print_ticket_prints_the_stored_category_class_time_and_people_ahead(
        cli_home: Path, tmp_path: Path) -> None:
    take(cli_home, "C")
    take(cli_home, "A")
    ticket = take(cli_home, "C", "--reason", "残疾人")
    out = tmp_path / "c002.pdf"
    printed = ok(as_clerk(cli_home, "print", "ticket", "c002", "--pdf", str(out)))
    assert printed.out.strip() == f"排队票已导出到文件 {out}"
    text = pdf_text(out)
    issued = ticket["issued_at"].replace("T", "")   # pdftotext -raw, spaces dropped
    for part in ("咨询", "C002", "【优先】", "您前面还有1人等候", f"取号时间：{issued}"):
        assert part in text, text


def test_print_ticket_refuses_a_number_never_taken(cli_home: Path, tmp_path: Path) -> None:
    take(cli_home, "A")
    out = tmp_path / "a009.pdf"
    line = one_line_error(as_clerk(cli_home, "print", "ticket", "A009", "--pdf", str(out)))
    assert "今天没有取过A009号" in line
    line = one_line_error(as_clerk(cli_home, "print", "ticket", "A001", "--date", "2026-01-02",
                                   "--pdf", str(out)))
    assert "2026-01-02没有取过A001号" in line
    assert not out.exists()


def test_take_print_sends_the_saved_ticket_to_the_thermal_printer(
        cli_home: Path, tmp_path: Path) -> None:
    device = tmp_path / "lp0"
    result = ok(run_cli(cli_home, "queue", "take", "B", "--print", "--escpos", str(device)))
    assert result.out.splitlines() == ["已取号 B001（出件），前面还有 0 人等候",
                                       f"排队票已发送到热敏打印机 {device}"]
    data = device.read_bytes()
    assert data.startswith(b"\x1b@\x1dv0") and b"\x1dV" in data[-16:]


def test_a_printer_fault_keeps_the_number_and_says_so(cli_home: Path) -> None:
    result = run_cli(cli_home, "queue", "take", "A", "--print", "--escpos",
                     "tcp://127.0.0.1:9", "--json")
    assert result.code == 1 and result.err == ""
    data = json.loads(result.out)
    assert (data["number"], data["printed"]["ok"]) == ("A001", False)
    assert waiting(cli_home)["A"] == 1
    ws = open_workstation(cli_home)
    try:
        with ws.db.read() as session:
            stored = session.scalars(select(QueueTicketRow.status)).all()
        assert stored == [str(TicketStatus.WAITING)]
    finally:
        ws.close()
    human = run_cli(cli_home, "queue", "take", "A", "--print", "--escpos", "tcp://127.0.0.1:9")
    assert human.code == 1
    assert "号码 A002 已保存，不会丢失" in human.out
    assert "yichuang print ticket A002" in human.out
