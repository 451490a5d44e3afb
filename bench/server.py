"""The county's server under load, over loopback, on its default SQLite database.

Push and pull: a client workstation accepts CASES cases through its own services (each
leaves three ops in its outbox: opened, materials recorded, decided); they are pushed in
batches of PUSH_BATCH, then pulled back in pages. Reported: ops/s and changes/s.

Hall queue: 20 windows (each its own HTTP session on a thread of its own, as 20 clerk PCs
would be) call and finish as fast as they can until the tickets run out. Reported: calls
per second, call latency (request sent → answer read), duplicates and skipped tickets.

Targets (issue 11): push ≥ 500 ops/s on SQLite on a 2-core machine; 20 windows calling
concurrently, call p99 ≤ 50 ms, zero duplicates, and a call rate at least 5× FQM's 76–183
calls/s on this kind of machine.
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
TARGET_PUSH_OPS = 500.0
CASES = 200
PUSH_BATCH = 100
FOOD = "11330100MB0000001X4000215001000"   # 食品经营许可（新办）in the demo catalogue
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


def _session(home: Path, url: str) -> tuple[dict[str, Any], str, str]:
    """A registered device, and the clerk logged in on it: (device, user id, token)."""
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
    return device, str(login["user"]["id"]), str(login["access_token"])


def push_and_pull(url: str, device: dict[str, Any], user_id: str, token: str
                  ) -> dict[str, Any]:
    from sqlalchemy import select

    from app.domain.case import (
        Applicant,
        ApplicantKind,
        Clerk,
        Decision,
        IdType,
        MaterialState,
        MaterialStatus,
    )
    from app.storage.models import OutboxOp
    from app.workstation import open_workstation

    auth = {"Authorization": f"Bearer {token}"}
    with tempfile.TemporaryDirectory() as client_home:
        ws = open_workstation(Path(client_home))
        try:
            clerk = Clerk(user_id, "窗口", device["site"], device["terminal"], "1", "clerk")
            item = ws.catalogue.item(FOOD)
            applicant = Applicant(ApplicantKind.PERSON, "王小明", IdType.RESIDENT_ID,
                                  "330102198001010026", phone="13800138000")
            for _ in range(CASES):
                case = ws.cases.open_case(FOOD, applicant, clerk)
                ws.cases.record_materials(case.id, [
                    MaterialState(m.id, m.name, MaterialStatus.RECEIVED, str(m.form), m.copies)
                    for m in item.checklist()], clerk)
                ws.cases.decide(case.id, Decision.ACCEPT, clerk)
            with ws.db.read() as session:
                ops = [{"op_id": o.op_id, "device_seq": o.device_seq, "entity": o.entity,
                        "entity_id": o.entity_id, "kind": o.kind,
                        "base_version": o.base_version, "payload": o.payload,
                        "blob_refs": o.blob_refs, "client_time": o.client_time}
                       for o in session.scalars(select(OutboxOp).where(
                           OutboxOp.entity == "case").order_by(OutboxOp.device_seq))]
        finally:
            ws.close()
    answers: Counter[str] = Counter()
    with requests.Session() as s:
        s.headers.update(auth)
        begin = time.perf_counter()
        for i in range(0, len(ops), PUSH_BATCH):
            answer = s.post(f"{url}/v1/sync/push", json={"ops": ops[i:i + PUSH_BATCH]},
                            timeout=300)
            answer.raise_for_status()
            answers.update(r["result"] for r in answer.json()["results"])
        push_seconds = time.perf_counter() - begin
        begin, cursor, pulled, more = time.perf_counter(), "", 0, True
        while more:
            page = s.get(f"{url}/v1/sync/pull", params={"cursor": cursor, "limit": 500},
                         timeout=300).json()
            pulled += len(page["changes"])
            cursor, more = page["cursor"], page["more"]
        pull_seconds = time.perf_counter() - begin
    return {"ops": len(ops), "results": dict(answers),
            "push_ops_per_second": round(len(ops) / push_seconds, 1),
            "pulled": pulled, "pull_changes_per_second": round(pulled / pull_seconds, 1)}


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
            device, user_id, token = _session(home, url)
            sync = push_and_pull(url, device, user_id, token)
            hall = queue(home, url, token)
        finally:
            process.terminate()
            process.wait(timeout=30)
    c = hall["call_ms"]
    figures = {"sync": sync, "target_push_ops_per_second": TARGET_PUSH_OPS,
               "meets_push_target": sync["push_ops_per_second"] >= TARGET_PUSH_OPS
               and sync["results"] == {"applied": sync["ops"]},
               "queue": hall, "target_call_p99_ms": TARGET_P99_MS,
               "target_calls_per_second": 5 * FQM_CALLS_PER_SECOND,
               "meets_queue_target": c["p99"] <= TARGET_P99_MS and hall["duplicates"] == 0
               and hall["skipped"] == 0
               and hall["calls_per_second"] >= 5 * FQM_CALLS_PER_SECOND}
    path = write_result("server", figures)
    print(f"push: {sync['ops']} ops {sync['results']}, {sync['push_ops_per_second']} ops/s "
          f"(target ≥ {TARGET_PUSH_OPS:.0f}); pull: {sync['pulled']} changes, "
          f"{sync['pull_changes_per_second']} changes/s")
    print(f"hall queue, {WINDOWS} windows over HTTP: {hall['calls_per_second']} calls/s "
          f"(target ≥ {5 * FQM_CALLS_PER_SECOND:.0f}), call p50 {c['p50']:.1f} ms "
          f"p99 {c['p99']:.1f} ms (target ≤ {TARGET_P99_MS:.0f}); duplicates "
          f"{hall['duplicates']}, skipped {hall['skipped']}")
    print(f"→ {path}")


if __name__ == "__main__":
    main()
