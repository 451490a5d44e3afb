"""``yichuang-server`` from a terminal: init once, serve only an initialised database, a
first run that sets itself up, and bad input as one Chinese line with exit 2."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import time
from pathlib import Path

import requests

from server.db import ServerDatabase
from server.models import UserRow
from server.settings import ServerSettings
from tests.server.conftest import (
    ADMIN_PASSWORD,
    REPO,
    free_port,
    fresh_database,
    init_home,
    run_server_cli,
    server_command,
    start,
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


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def sqlite_files(home: Path) -> list[Path]:
    return [f for f in (home / "server.db", home / "server.db-wal", home / "server.db-shm")
            if f.exists()]


def test_the_home_and_database_files_are_the_server_users_alone(
        tmp_path: Path, database_url: str) -> None:
    home = tmp_path / "home"
    init_home(home, database_url)
    assert mode(home) == 0o700
    assert all(mode(f) == 0o600 for f in sqlite_files(home))
    # A home made before (or copied in) readable by everyone is made private at serve.
    home.chmod(0o755)
    for f in sqlite_files(home):
        f.chmod(0o644)
    running = start(home, database_url)
    try:
        assert requests.get(f"{running.url}/v1/health", timeout=30).ok
        assert mode(home) == 0o700
        files = sqlite_files(home)
        assert len(files) == (0 if database_url else 3)   # SQLite serves in WAL mode
        assert all(mode(f) == 0o600 for f in files), [(f.name, oct(mode(f))) for f in files]
    finally:
        running.stop()


def test_every_bad_setup_is_one_line_and_leaves_nothing_behind(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init_home(home)
    pw = ("--password-fd", "0")
    for where in (home / "server.db", tmp_path / "a-file"):   # --home naming a file
        where.touch()
        assert "不是文件夹" in one_line(run_server_cli("init", "--home", str(where), *pw,
                                                   stdin=ADMIN_PASSWORD + "\n"))
        assert "不是文件夹" in one_line(run_server_cli("serve", "--home", str(where)))
    assert "/nonexistent/dir 不存在" in one_line(run_server_cli(
        "init", "--home", str(tmp_path / "h1"), "--database-url",
        "sqlite:////nonexistent/dir/x.db", *pw, stdin=ADMIN_PASSWORD + "\n"))
    nobody_listens = f"postgresql+psycopg://yichuang@127.0.0.1:{free_port()}/x"
    assert "数据库出错" in one_line(run_server_cli(
        "init", "--home", str(tmp_path / "h2"), "--database-url", nobody_listens, *pw,
        stdin=ADMIN_PASSWORD + "\n"))
    assert "文件描述符 99" in one_line(run_server_cli(
        "init", "--home", str(tmp_path / "h3"), "--password-fd", "99"))
    not_utf8 = subprocess.run(server_command("init", "--home", str(tmp_path / "h4"), *pw),
                              input=b"\xff\xfeGuanli2026x\n", capture_output=True, cwd=REPO,
                              timeout=120, check=False)
    assert not_utf8.returncode == 2 and "不是 UTF-8" in not_utf8.stderr.decode()
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "server.db").write_bytes(b"not a database at all " * 100)
    assert "file is not a database" in one_line(run_server_cli(
        "init", "--home", str(junk), *pw, stdin=ADMIN_PASSWORD + "\n"))
    assert "file is not a database" in one_line(run_server_cli(
        "serve", "--home", str(junk), "--port", str(free_port())))
    assert "端口应为1至65535" in one_line(run_server_cli("serve", "--home", str(home),
                                                      "--port", "99999"))
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert f"无法在 127.0.0.1:{port} 上监听" in one_line(run_server_cli(
            "serve", "--home", str(home), "--port", str(port)))
    # Commands that only read never create a home (nor an empty database in it).
    for argv in (("case", "list", "--user", "admin", *pw), ("device", "list"),
                 ("user", "list")):
        assert "请先运行 yichuang-server init" in one_line(run_server_cli(
            *argv, "--home", str(tmp_path / "nowhere"), stdin=ADMIN_PASSWORD + "\n"))
    assert not (tmp_path / "nowhere").exists()
    assert not any((tmp_path / f"h{n}").exists() for n in range(1, 5))


def test_user_commands_refuse_bad_input_in_one_line(tmp_path: Path) -> None:
    init_home(tmp_path)
    add = ("user", "add", "lisi", "--name", "李四", "--home", str(tmp_path), "--password-fd", "0")
    assert "密码" in one_line(run_server_cli(*add, "--role", "clerk", "--site", "330100001",
                                           stdin="123\n"))
    assert "没有站点 999999" in one_line(run_server_cli(*add, "--role", "clerk", "--site",
                                                    "999999", stdin="Chuangkou2026\n"))
    assert "参数有误" in one_line(run_server_cli(*add, "--role", "boss", "--site", "330100001",
                                             stdin="Chuangkou2026\n"))
    assert "没有用户 nobody" in one_line(run_server_cli("user", "disable", "nobody", "--home",
                                                    str(tmp_path)))
    done = run_server_cli(*add, "--role", "agent", "--site", "330100001",
                          stdin="Chuangkou2026\n")
    assert done.returncode == 0 and "已添加账号 lisi" in done.stdout, done.stderr
    assert "已存在" in one_line(run_server_cli(*add, "--role", "agent", "--site", "330100001",
                                            stdin="Chuangkou2026\n"))
    listed = run_server_cli("user", "list", "--home", str(tmp_path)).stdout
    assert "lisi  李四  代办员  站点330100001" in listed


def test_two_inits_racing_on_one_database_make_one_administrator(
        tmp_path: Path, postgres: str) -> None:
    import psycopg

    database_url = fresh_database(postgres)
    # Both inits are made to start together: an open transaction that is creating the
    # first table Alembic makes holds both until it is rolled back.
    with psycopg.connect(database_url.replace("postgresql+psycopg", "postgresql")) as gate:
        gate.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        secret = tmp_path / "password"
        secret.write_text(ADMIN_PASSWORD + "\n", encoding="utf-8")
        racers = [subprocess.Popen(
            server_command("init", "--home", str(tmp_path / f"h{n}"), "--database-url",
                           database_url, "--admin", f"admin{n}", "--password-fd", "0"),
            stdin=secret.open("rb"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
            for n in range(2)]
        with psycopg.connect(database_url.replace("postgresql+psycopg", "postgresql"),
                             autocommit=True) as watch:
            while watch.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                "current_database() AND wait_event_type = 'Lock'"
                                ).fetchone() != (2,):
                assert all(r.poll() is None for r in racers), [r.communicate() for r in racers]
                time.sleep(0.05)
        gate.rollback()
    ended = []
    for racer in racers:
        out, err = racer.communicate(timeout=120)
        ended.append(subprocess.CompletedProcess(racer.args, racer.returncode, out, err))
    assert sorted(d.returncode for d in ended) == [0, 2], ended
    assert "已初始化过" in one_line(next(d for d in ended if d.returncode == 2))
    db = ServerDatabase(ServerSettings(tmp_path / "h0", database_url))
    try:
        with db.read() as session:
            assert session.query(UserRow).count() == 1
    finally:
        db.dispose()
