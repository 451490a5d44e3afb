"""``yichuang-server serve --workers N``: N processes of one server on one port. On the
default SQLite file their writes take turns at the file's write lock (server/db.py
SqliteWriteTurn), so the hall's queue stays exact across them."""

from __future__ import annotations

import fcntl
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from app.domain.queue_policy import WindowConfig
from server.db import ServerDatabase
from server.queue_store import SiteQueueStore
from tests.server.conftest import init_home, run_server_cli, start
from tests.server.test_queue_api import api, clerk_token, ok


def _workers_of(pid: int) -> list[int]:
    """The worker processes uvicorn spawned (not its multiprocessing resource tracker)."""
    return [int(child) for children in Path(f"/proc/{pid}/task").glob("*/children")
            for child in children.read_text().split()
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]


def test_two_workers_on_one_sqlite_file_call_every_ticket_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init_home(home)
    server = start(home, "", 1, "--workers", "2")
    try:
        assert len(_workers_of(server.processes[0].pid)) == 2
        token = clerk_token(server)
        db = ServerDatabase(server.settings)
        try:
            store = SiteQueueStore(db, "330100001")
            for window in map(str, range(1, 9)):
                store.save_window(WindowConfig(window, f"{window}号窗口", (("A", 1),)))
        finally:
            db.dispose()
        taken = [ok(api(server, token, "POST", "/tickets", {"category": "A"}))["ticket"]
                 ["number"] for _ in range(40)]

        def window_calls(window: str) -> list[str]:
            called = []
            while (ticket := ok(api(server, token, "POST",
                                    f"/windows/{window}/call"))["ticket"]) is not None:
                called.append(ticket["number"])
                ok(api(server, token, "POST", f"/windows/{window}/finish"))
            return called

        with ThreadPoolExecutor(8) as pool:
            called = [n for numbers in pool.map(window_calls, map(str, range(1, 9)))
                      for n in numbers]
        assert [n for n, c in Counter(called).items() if c > 1] == []
        assert sorted(called) == sorted(taken)
    finally:
        server.stop()


def test_a_write_turn_held_elsewhere_past_the_busy_timeout_is_a_503_that_changed_nothing(
        tmp_path: Path) -> None:
    """SQLite only: PostgreSQL's writers do not take turns at a file."""
    home = tmp_path / "home"
    init_home(home)
    server = start(home)
    try:
        token = clerk_token(server)
        lock = os.open(home / "server.db.writelock", os.O_RDONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)   # a stuck process holding the turn
            busy = api(server, token, "POST", "/tickets", {"category": "A"})
        finally:
            os.close(lock)
        assert (busy.status_code, busy.json()["error"]) == (503, "server_busy")
        assert busy.headers["Retry-After"] == "5"
        first = ok(api(server, token, "POST", "/tickets", {"category": "A"}))["ticket"]
        assert first["number"] == "A001"   # the refused request took no number
    finally:
        server.stop()


def test_a_worker_count_or_port_that_is_no_plain_number_in_range_is_refused_in_one_line(
        tmp_path: Path) -> None:
    home = tmp_path / "home"
    init_home(home)
    for option, bad, told in (("--workers", "0", "进程数"), ("--workers", "33", "进程数"),
                              ("--workers", "two", "进程数"), ("--workers", "²", "进程数"),
                              ("--port", "²", "端口"), ("--port", "８７５０", "端口")):
        done = run_server_cli("serve", "--home", str(home), option, bad)
        assert done.returncode == 2 and f"{told}应为1至" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1
