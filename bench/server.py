"""The county's server under load, over loopback, on its default SQLite database.

Hall queue: 20 windows (each its own HTTP session on a thread of its own, as 20 clerk PCs
would be) call and finish as fast as they can until the tickets run out. Reported: calls
per second, call latency (request sent → answer read), duplicates and skipped tickets.

Targets (issue 11): 20 windows calling concurrently, call p99 ≤ 50 ms, zero duplicates,
and a call rate at least 5× FQM's 76–183 calls/s on this kind of machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests

from bench.common import percentile, summary, write_result

REPO = Path(__file__).resolve().parents[1]
WINDOWS = 20
TICKETS = 1800          # two categories: under the 999 a day each
PASSWORD = "Guanli2026x"
TARGET_P99_MS = 50.0
FQM_CALLS_PER_SECOND = 183.0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-m", "server.cli", "init", "--home", str(home),
                    "--password-fd", "0"], input=f"{PASSWORD}\n".encode(), check=True,
                   env=env, capture_output=True)
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--home", str(home),
                                "--port", str(port)], env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if requests.get(f"{url}/v1/health", timeout=1).ok:
                return process, url
        except requests.ConnectionError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the server did not start")


def _token(home: Path, url: str) -> str:
    from server import accounts
    from server.db import ServerDatabase
    from server.settings import ServerSettings

    device = requests.post(f"{url}/v1/devices/register", json={
        "username": "admin", "password": PASSWORD, "name": "bench"}, timeout=30).json()
    db = ServerDatabase(ServerSettings(home))
    try:
        with db.session() as session:
            accounts.create_user(session, "clerk", "窗口", "clerk", device["site"], PASSWORD)
    finally:
        db.dispose()
    login = requests.post(f"{url}/v1/auth/login", json={"username": "clerk",
                          "password": PASSWORD}, timeout=30,
                          headers={"X-Device-Token": device["device_token"]}).json()
    return str(login["access_token"])


def queue(home: Path, url: str, token: str) -> dict[str, Any]:
    from app.domain.queue_policy import WindowConfig
    from server.db import ServerDatabase
    from server.queue_store import SiteQueueStore
    from server.settings import ServerSettings

    db = ServerDatabase(ServerSettings(home))
    try:
        store = SiteQueueStore(db, "330100001")
        for n in range(1, WINDOWS + 1):
            store.save_window(WindowConfig(str(n), f"{n}号窗口", (("A", 1), ("C", 2))))
    finally:
        db.dispose()
    auth = {"Authorization": f"Bearer {token}"}
    with requests.Session() as s:
        taken = [s.post(f"{url}/v1/queue/tickets", json={"category": "AC"[i % 2]},
                        headers=auth, timeout=30).json()["ticket"]["number"]
                 for i in range(TICKETS)]
    start = threading.Barrier(WINDOWS + 1)
    results: dict[str, tuple[list[str], list[float]]] = {}

    def window(n: int) -> None:
        called: list[str] = []
        times: list[float] = []
        with requests.Session() as s:
            s.headers.update(auth)
            s.get(f"{url}/v1/me", timeout=30)   # connected before the clock starts
            start.wait()
            while True:
                t = time.perf_counter()
                answer = s.post(f"{url}/v1/queue/windows/{n}/call", timeout=60)
                times.append((time.perf_counter() - t) * 1000)
                ticket = answer.json()["ticket"]
                if ticket is None:
                    break
                called.append(ticket["number"])
                s.post(f"{url}/v1/queue/windows/{n}/finish", timeout=60)
        results[str(n)] = (called, times)

    threads = [threading.Thread(target=window, args=(n,)) for n in range(1, WINDOWS + 1)]
    for t in threads:
        t.start()
    start.wait()
    begin = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - begin
    called = [n for c, _ in results.values() for n in c]
    calls = [ms for _, ts in results.values() for ms in ts]
    counts = Counter(called)
    return {"windows": WINDOWS, "tickets": TICKETS, "wall_seconds": round(wall, 2),
            "calls_per_second": round(len(called) / wall, 1),
            "call_ms": {**summary(calls), "p50": percentile(calls, 50)},
            "duplicates": sum(c - 1 for c in counts.values() if c > 1),
            "skipped": len(set(taken) - set(called))}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        process, url = _serve(home)
        try:
            hall = queue(home, url, _token(home, url))
        finally:
            process.terminate()
            process.wait(timeout=30)
    c = hall["call_ms"]
    figures = {"queue": hall, "target_call_p99_ms": TARGET_P99_MS,
               "target_calls_per_second": 5 * FQM_CALLS_PER_SECOND,
               "meets_queue_target": c["p99"] <= TARGET_P99_MS and hall["duplicates"] == 0
               and hall["skipped"] == 0
               and hall["calls_per_second"] >= 5 * FQM_CALLS_PER_SECOND}
    path = write_result("server", figures)
    print(f"hall queue, {WINDOWS} windows over HTTP: {hall['calls_per_second']} calls/s "
          f"(target ≥ {5 * FQM_CALLS_PER_SECOND:.0f}), call p50 {c['p50']:.1f} ms "
          f"p99 {c['p99']:.1f} ms (target ≤ {TARGET_P99_MS:.0f}); duplicates "
          f"{hall['duplicates']}, skipped {hall['skipped']}")
    print(f"→ {path}")


if __name__ == "__main__":
    main()
