"""``yichuang-server`` from a terminal: init once, serve only an initialised database, a
first run that sets itself up, and bad input as one Chinese line with exit 2."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import requests

from tests.server.conftest import (
    ADMIN_PASSWORD,
    REPO,
    free_port,
    init_home,
    run_server_cli,
    server_command,
)


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done
    assert done.stdout == "" and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("yichuang-server: ") and "Traceback" not in done.stderr
    return done.stderr


def test_init_twice_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    init_home(tmp_path)
    again = run_server_cli("init", "--home", str(tmp_path), "--password-fd", "0",
                           stdin="Another2026x\n")
    assert "已初始化过" in one_line(again)


def test_serve_refuses_a_database_nobody_initialised(tmp_path: Path) -> None:
    assert "请先运行 yichuang-server init" in one_line(
        run_server_cli("serve", "--home", str(tmp_path), "--port", str(free_port())))


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    assert "不支持的数据库“nonsense”" in one_line(run_server_cli(
        "init", "--home", str(tmp_path), "--database-url", "nonsense://", "--password-fd", "0",
        stdin=ADMIN_PASSWORD + "\n"))
    assert "数据库地址“:::”无法识别" in one_line(run_server_cli(
        "init", "--home", str(tmp_path), "--database-url", ":::", "--password-fd", "0",
        stdin=ADMIN_PASSWORD + "\n"))
    assert "密码" in one_line(run_server_cli("init", "--home", str(tmp_path / "weak"),
                                           "--password-fd", "0", stdin="123\n"))
    assert "站点编码" in one_line(run_server_cli(
        "init", "--home", str(tmp_path / "site"), "--site-code", "12ab", "--password-fd", "0",
        stdin=ADMIN_PASSWORD + "\n"))
    assert "参数有误" in one_line(run_server_cli("serve", "--port", "eighty"))
    # A bad bucket URL is refused before anything starts (and a key never goes in it).
    assert "材料存储桶名“Not_A_Bucket”不合规" in one_line(run_server_cli(
        "serve", "--home", str(tmp_path / "s3"), "--blob-url", "s3://Not_A_Bucket/x?key=secret",
        "--port", str(free_port())))


def test_a_first_run_sets_itself_up_and_says_the_admin_password_once(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        server_command("serve", "--first-run", "--home", str(tmp_path), "--port", str(port)),
        cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]
        said = [line for line in lines if "初始密码" in line]
        assert said, lines
        password = said[0].split("初始密码：")[1].split("（")[0]
        answer = None
        for _ in range(600):   # until it listens
            try:
                answer = requests.post(f"http://127.0.0.1:{port}/v1/devices/register", json={
                    "username": "admin", "password": password, "name": "1号窗口"}, timeout=5)
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.communicate()
                time.sleep(0.05)
        assert answer is not None and answer.status_code == 201, answer
    finally:
        process.terminate()
        process.wait(timeout=20)
