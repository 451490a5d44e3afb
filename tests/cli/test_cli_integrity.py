"""The command line under attack and accident, end to end in subprocesses.

Each test reproduces what went wrong before — an export over the live database, two
processes issuing the same "original", a writer holding the lock, bytes that are not
UTF-8, a closed pipe, a huge file, an emptied database — and checks the answer now.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from app.domain.case import Applicant, ApplicantKind, Clerk, IdType
from app.workstation import open_workstation
from tests.cli.conftest import (
    ADMIN_PASSWORD,
    REPO_ROOT,
    as_admin,
    as_clerk,
    cli_command,
)
from tests.support import accepted_case

CliResult = Any
Cli = Callable[..., CliResult]
FOOD = "11330100MB0000001X4000215001000"


def one_line(result: CliResult, code: int = 2) -> str:
    assert result.code == code, result
    assert len(result.err_lines) == 1, result.err
    assert "Traceback" not in result.err
    return str(result.err_lines[0])


def accepted_number(home: Path) -> str:
    ws = open_workstation(home)
    try:
        s = ws.settings
        return accepted_case(ws, Clerk("c1", "张三", s.site_code, s.terminal, s.window)).number
    finally:
        ws.close()


def db_fingerprint(home: Path) -> tuple[int, int]:
    with sqlite3.connect(home / "yichuang.db") as raw:
        return (raw.execute("SELECT count(*) FROM cases").fetchone()[0],
                raw.execute("SELECT count(*) FROM users").fetchone()[0])


# ---- exports never overwrite the installation -----------------------------------------------


def test_exports_onto_the_live_database_are_refused(cli: Cli, cli_home: Path,
                                                    tmp_path: Path) -> None:
    number = accepted_number(cli_home)
    before = db_fingerprint(cli_home)
    link = tmp_path / "innocent"
    link.symlink_to(cli_home)
    db = cli_home / "yichuang.db"
    attempts = [
        as_clerk(cli_home, "print", "receipt", number, "--pdf", str(db), "--force"),
        as_clerk(cli_home, "print", "receipt", number, "--pdf", str(link / "yichuang.db")),
        cli(cli_home, "catalog", "export", str(db), "--force"),
        cli(cli_home, "calendar", "export", str(link / "settings.toml"), "--force"),
    ]
    for result in attempts:
        assert "数据目录" in one_line(result)
    assert db_fingerprint(cli_home) == before
    assert cli(cli_home, "audit", "verify").code == 0


def test_printing_a_case_whose_row_was_edited_is_an_integrity_failure(
        cli_home: Path, tmp_path: Path) -> None:
    number = accepted_number(cli_home)
    with sqlite3.connect(cli_home / "yichuang.db") as raw:
        raw.execute("UPDATE cases SET applicant_name = '李四' WHERE number = ?", (number,))
    result = as_clerk(cli_home, "print", "acceptance", number, "--pdf", str(tmp_path / "x.pdf"))
    assert "不一致（申请人姓名）" in one_line(result, code=4)
    assert not (tmp_path / "x.pdf").exists()


def test_an_existing_file_is_overwritten_only_with_force(cli: Cli, cli_home: Path,
                                                         tmp_path: Path) -> None:
    target = tmp_path / "catalogue.json"
    target.write_text("keep me", encoding="utf-8")
    assert "--force" in one_line(cli(cli_home, "catalog", "export", str(target)))
    assert target.read_text(encoding="utf-8") == "keep me"
    assert cli(cli_home, "catalog", "export", str(target), "--force").code == 0
    assert json.loads(target.read_text(encoding="utf-8"))["items"]


# ---- 补打 across processes ------------------------------------------------------------------


def test_two_processes_printing_the_same_document_issue_one_original(
        cli_home: Path, tmp_path: Path) -> None:
    number = accepted_number(cli_home)
    with ThreadPoolExecutor(max_workers=4) as pool:   # four slips to one thermal printer
        runs = list(pool.map(lambda n: as_clerk(cli_home, "print", "pickup-slip", number,
                                                "--json", "--escpos",
                                                str(tmp_path / f"{n}.bin")), range(4)))
    assert [r.code for r in runs] == [0] * 4, [r.err for r in runs]
    assert sorted(json.loads(r.out)["reprint"] for r in runs) == [False, True, True, True]
    with sqlite3.connect(cli_home / "yichuang.db") as raw:
        originals = raw.execute("SELECT count(*) FROM case_documents WHERE kind = "
                                "'pickup-slip' AND outcome = 'sending' AND reprint = 0"
                                ).fetchone()[0]
    assert originals == 1


# ---- a writer holding the lock --------------------------------------------------------------


HOLD_LOCK = r"""
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


def test_reads_do_not_wait_for_a_writer_and_writes_say_busy(cli: Cli, cli_home: Path,
                                                           tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(cli_home / "yichuang.db"),
                               "25"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        result = cli(cli_home, "calendar", "check", "2026-10-01")
        read_took = time.monotonic() - started
        assert result.code == 0, result.err
        assert "国庆节" in result.out
        notice = tmp_path / "2027.json"
        notice.write_text(json.dumps({"format": "yichuang-calendar", "years": [{
            "year": 2027, "source": "test", "holidays": [], "workdays": []}]}),
            encoding="utf-8")
        busy = as_admin(cli_home, "calendar", "import", str(notice))
        line = one_line(busy, code=3)
        assert "数据库正忙" in line and "稍后重试" in line
    finally:
        holder.kill()
        holder.wait()
    # Printed, not asserted: no timing thresholds in tests.
    print(f"read while locked took {read_took:.2f} s")


# ---- input the shell can produce ------------------------------------------------------------


def test_undecodable_bytes_in_arguments_are_one_line(cli_home: Path) -> None:
    cmd, env = cli_command(cli_home, "catalog", "import")
    gbk_name = "事项目录.json".encode("gbk")
    proc = subprocess.run([os.fsencode(c) for c in cmd] + [b"/tmp/" + gbk_name], env=env,
                          cwd=REPO_ROOT, capture_output=True, check=False)
    assert proc.returncode == 2
    err = proc.stderr.decode("utf-8")
    assert err.count("\n") == 1 and "不是 UTF-8" in err and "Traceback" not in err


def test_a_closed_pipe_is_not_a_crash(cli_home: Path) -> None:
    cmd, env = cli_command(cli_home, "catalog", "list")
    shell = subprocess.run(f"{' '.join(cmd)} | head -2; echo \"status=${{PIPESTATUS[0]}}\"",
                           shell=True, executable="/bin/bash", env=env, cwd=REPO_ROOT,
                           capture_output=True, text=True, encoding="utf-8", check=False)
    assert shell.stdout.count("\n") == 3, shell.stdout
    assert "status=0" in shell.stdout
    assert "Traceback" not in shell.stderr and "BrokenPipe" not in shell.stderr


def test_huge_files_devices_and_folders_are_refused_before_reading(cli: Cli, cli_home: Path,
                                                                   tmp_path: Path) -> None:
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as f:    # sparse: 6 GB on paper, nothing on disk
        f.truncate(6 * 1024**3)
    started = time.monotonic()
    assert "过大" in one_line(as_admin(cli_home, "catalog", "import", str(huge)))
    print(f"refusing a 6 GB file took {time.monotonic() - started:.2f} s")
    assert "不是普通文件" in one_line(as_admin(cli_home, "calendar", "import", "/dev/zero"))
    assert "是一个目录" in one_line(as_admin(cli_home, "catalog", "import", str(tmp_path)))


# ---- paper, backup, restore, recover --------------------------------------------------------


def test_check_paper_from_the_command_line(cli: Cli, cli_home: Path) -> None:
    number = accepted_number(cli_home)
    with sqlite3.connect(cli_home / "yichuang.db") as raw:
        full = raw.execute("SELECT e.hash FROM case_events e JOIN cases c ON c.id = e.case_id "
                           "WHERE c.number = ? AND e.kind = 'decided'", (number,)).fetchone()[0]
    code = f"{full[:4]}-{full[4:8]}-{full[8:12]}"
    ok = cli(cli_home, "audit", "check-paper", number, code)
    assert ok.code == 0 and ok.out.startswith("一致"), ok
    wrong = cli(cli_home, "audit", "check-paper", number, "dead-beef-0000")
    assert wrong.code == 4 and "不一致" in wrong.out
    assert "校验码" in one_line(cli(cli_home, "audit", "check-paper", number, "xyz"))


def test_backup_then_zeroed_database_then_restore(cli: Cli, cli_home: Path,
                                                  tmp_path: Path) -> None:
    number = accepted_number(cli_home)
    usb = tmp_path / "usb"
    made = as_admin(cli_home, "backup", str(usb), "--json")
    assert made.code == 0, made.err
    backup = Path(json.loads(made.out)["path"])
    assert (backup / "manifest.json").is_file() and backup.parent == usb

    db = cli_home / "yichuang.db"
    for suffix in ("", "-wal", "-shm"):
        f = db.with_name(db.name + suffix)
        if f.exists():
            f.write_bytes(b"")
    refused = cli(cli_home, "catalog", "list")
    line = one_line(refused, code=4)
    assert "yichuang restore" in line and "第1号" in line

    restored = cli(cli_home, "restore", str(backup))
    assert restored.code == 0, restored.err
    assert "原数据库已移到" in restored.out
    aside = list((cli_home / "replaced").glob("*/yichuang.db"))
    assert len(aside) == 1   # the emptied file is kept, not deleted
    assert cli(cli_home, "audit", "verify").code == 0
    shown = as_clerk(cli_home, "print", "acceptance", number, "--pdf",
                     str(tmp_path / "after.pdf"))
    assert shown.code == 0, shown.err


def test_restoring_a_backup_older_than_the_anchors_needs_a_reason(
        cli: Cli, cli_home: Path, tmp_path: Path) -> None:
    accepted_number(cli_home)
    made = as_admin(cli_home, "backup", str(tmp_path / "usb"), "--json")
    backup = Path(json.loads(made.out)["path"])
    later = accepted_number(cli_home)        # issued after the backup
    assert "--user" in one_line(cli(cli_home, "restore", str(backup)))   # accounts exist
    refused = as_clerk(cli_home, "restore", str(backup), "--accept-older", "--reason", "随便")
    assert "无权" in one_line(refused)
    assert "比本机已锚定的记录旧" in one_line(as_admin(cli_home, "restore", str(backup)))
    done = as_admin(cli_home, "restore", str(backup), "--accept-older", "--reason",
                    "误删后恢复昨天的备份")
    assert done.code == 0, done.err
    audit = cli(cli_home, "audit", "verify")
    assert audit.code == 0 and "接受了与锚定记录不符的数据库（原因：从备份" in audit.out
    ws = open_workstation(cli_home)
    try:
        s = ws.settings
        again = ws.cases.open_case(FOOD, Applicant(ApplicantKind.PERSON, "王小明",
                                                    IdType.RESIDENT_ID, "330102198001010026"),
                                   Clerk("c1", "张三", s.site_code, s.terminal, s.window))
    finally:
        ws.close()
    # The number printed after the backup is never issued again.
    assert (again.number[:-5], int(again.number[-5:-1])) == (later[:-5], int(later[-5:-1]) + 1)


def test_recover_after_an_emptied_database_needs_a_reason_and_a_new_admin_password(
        cli: Cli, cli_home: Path) -> None:
    accepted_number(cli_home)
    db = cli_home / "yichuang.db"
    for suffix in ("", "-wal", "-shm"):
        f = db.with_name(db.name + suffix)
        if f.exists():
            f.write_bytes(b"")
    assert one_line(cli(cli_home, "catalog", "list"), code=4)
    assert "--reason" in one_line(cli(cli_home, "recover"))
    weak = cli(cli_home, "recover", "--reason", "硬盘损坏，无备份", "--password-fd", "0",
               stdin="123456\n")
    assert "密码" in one_line(weak)
    assert one_line(cli(cli_home, "catalog", "list"), code=4)   # nothing was recorded
    done = cli(cli_home, "recover", "--reason", "硬盘损坏，无备份", "--password-fd", "0",
               stdin="Xinmima2026\n")
    assert done.code == 0, done.err
    assert "已创建管理员 admin" in done.out
    listed = cli(cli_home, "user", "list", "--user", "admin", "--password-fd", "0",
                 stdin="Xinmima2026\n")
    assert listed.code == 0, listed.err
    old = cli(cli_home, "user", "list", "--user", "admin", "--password-fd", "0",
              stdin=f"{ADMIN_PASSWORD}\n")
    assert old.code == 2
    default = cli(cli_home, "user", "list", "--user", "admin", "--password-fd", "0",
                  stdin="123456\n")
    assert default.code == 2
