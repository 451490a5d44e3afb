"""Blob upload throughput over loopback: the resumable protocol (declare, then 4 MiB
chunks, each fsynced and counted, the whole hash verified, the blob moved into place)
against a plain upload of the same bytes in one HTTP POST, in the same run.

The plain endpoint is the least a server could do and still keep the file: a bare ASGI
app on the same uvicorn, streaming the body to a file and fsyncing it once. (A variant
that throws the bytes away is printed too: the network and HTTP alone.) The real server
runs as ``yichuang-server serve`` on a SQLite home, with a clerk logged in on a
registered terminal. Each figure is the median of ROUNDS uploads, the two kinds
alternating; the client's own SHA-256 of the file is not timed (a client computes it
once, when the page is scanned).

Target (issue 11): blob upload ≥ 80 % of the plain upload's throughput.
"""

from __future__ import annotations

import hashlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import requests

from bench.common import write_result

SIZE = 50 * 1024 * 1024
CHUNK = 4 * 1024 * 1024            # the target is judged on this chunk size
BIG_CHUNK = 8 * 1024 * 1024        # the largest the server takes: half the round trips
ROUNDS = 5
TARGET = 0.80
REPO = Path(__file__).resolve().parents[1]
PASSWORD = "Guanli2026x"
CLERK_PASSWORD = "Chuangkou2026"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


async def plain_app(scope: Scope, receive: Callable[[], Awaitable[Message]],
                    send: Callable[[Message], Awaitable[None]]) -> None:
    """POST /keep streams the body to a file and fsyncs it; POST /drop reads and drops it;
    GET answers (for start-up)."""
    if scope["type"] != "http":
        return
    keep = scope["path"] == "/keep"
    target = Path(os.environ.get("PLAIN_DIR", tempfile.gettempdir())) / "plain.bin"
    received = 0
    with target.open("wb") if keep else open(os.devnull, "wb") as out:
        more = True
        while more:
            message = await receive()
            body = message.get("body", b"")
            out.write(body)
            received += len(body)
            more = message.get("more_body", False)
        if keep:
            out.flush()
            os.fsync(out.fileno())
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": str(received).encode()})


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server ended")
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _start_server(home: Path) -> tuple[str, subprocess.Popen[bytes]]:
    done = subprocess.run([sys.executable, "-m", "server.cli", "init", "--home", str(home),
                           "--password-fd", "0"], input=(PASSWORD + "\n").encode(),
                          capture_output=True, cwd=REPO, env=_env(), check=False)
    if done.returncode:
        raise RuntimeError(done.stderr.decode())
    port = _port()
    process = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--home", str(home),
                                "--port", str(port)], cwd=REPO, env=_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    _wait(f"{url}/v1/health", process)
    return url, process


def _start_plain(work: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = _port()
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "bench.blobs:plain_app",
                                "--port", str(port), "--log-level", "warning"], cwd=REPO,
                               env={**_env(), "PLAIN_DIR": str(work)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    _wait(url, process)
    return url, process


def _clerk(home: Path, url: str) -> dict[str, str]:
    from server import accounts
    from server.db import ServerDatabase
    from server.settings import ServerSettings

    device = requests.post(f"{url}/v1/devices/register", timeout=30, json={
        "username": "admin", "password": PASSWORD, "name": "bench"}).json()
    db = ServerDatabase(ServerSettings(home))
    try:
        with db.session() as session:
            accounts.create_user(session, "bench", "测试", "clerk", device["site"],
                                 CLERK_PASSWORD)
    finally:
        db.dispose()
    login = requests.post(f"{url}/v1/auth/login", timeout=30,
                          json={"username": "bench", "password": CLERK_PASSWORD},
                          headers={"X-Device-Token": device["device_token"]}).json()
    return {"Authorization": f"Bearer {login['access_token']}"}


def _protocol_upload(http: requests.Session, url: str, auth: dict[str, str], data: bytes,
                     name: str, chunk: int) -> float:
    began = time.perf_counter()
    declared = http.post(f"{url}/v1/blobs", headers=auth, timeout=60,
                         json={"sha256": name, "size": len(data), "type": "application/pdf"})
    if declared.status_code != 201:
        raise RuntimeError(declared.text)
    view = memoryview(data)
    for at in range(0, len(data), chunk):
        answer = http.patch(f"{url}/v1/blobs/{name}", data=view[at:at + chunk], timeout=120,
                            headers={**auth, "Upload-Offset": str(at),
                                     "Content-Type": "application/offset+octet-stream"})
        if answer.status_code != 200:
            raise RuntimeError(answer.text)
    if answer.json()["status"] != "accepted":
        raise RuntimeError(answer.text)
    return time.perf_counter() - began


def _plain_upload(http: requests.Session, url: str, data: bytes) -> float:
    began = time.perf_counter()
    answer = http.post(url, data=data, timeout=120)
    if answer.text != str(len(data)):
        raise RuntimeError(answer.text)
    return time.perf_counter() - began


def main() -> None:
    base = os.urandom(SIZE)
    with tempfile.TemporaryDirectory(prefix="bench-blobs-") as tmp:
        work = Path(tmp)
        url, server = _start_server(work / "home")
        plain_url, plain = _start_plain(work)
        try:
            auth = _clerk(work / "home", url)
            http = requests.Session()
            protocol, big, kept, dropped = [], [], [], []
            for round_ in range(ROUNDS):
                kept.append(_plain_upload(http, f"{plain_url}/keep", base))
                for chunk, times in ((CHUNK, protocol), (BIG_CHUNK, big)):
                    # a new blob each time, so the server never answers "have"
                    data = b"%PDF-" + bytes([round_, chunk >> 20, 0, 0]) + base[9:]
                    name = hashlib.sha256(data).hexdigest()
                    times.append(_protocol_upload(http, url, auth, data, name, chunk))
                dropped.append(_plain_upload(http, f"{plain_url}/drop", base))
        finally:
            for process in (server, plain):
                process.terminate()
                process.wait(timeout=20)
    mib = SIZE / (1024 * 1024)
    figures = {
        "size_mib": mib, "chunk_mib": CHUNK / (1024 * 1024), "rounds": ROUNDS,
        "protocol_mib_s": mib / statistics.median(protocol),
        "protocol_8mib_chunks_mib_s": mib / statistics.median(big),
        "plain_fsync_mib_s": mib / statistics.median(kept),
        "plain_discard_mib_s": mib / statistics.median(dropped),
        "protocol_s": protocol, "protocol_8mib_chunks_s": big, "plain_fsync_s": kept,
        "plain_discard_s": dropped,
    }
    figures["ratio_to_plain"] = figures["protocol_mib_s"] / figures["plain_fsync_mib_s"]
    figures["ratio_8mib_chunks_to_plain"] = (figures["protocol_8mib_chunks_mib_s"]
                                             / figures["plain_fsync_mib_s"])
    figures["ratio_to_discard"] = figures["protocol_mib_s"] / figures["plain_discard_mib_s"]
    figures["meets_target"] = figures["ratio_to_plain"] >= TARGET
    write_result("blobs", figures)
    print(f"blob upload {mib:.0f} MiB in {CHUNK // (1024 * 1024)} MiB chunks: "
          f"{figures['protocol_mib_s']:.0f} MiB/s; plain POST (written, fsynced) "
          f"{figures['plain_fsync_mib_s']:.0f} MiB/s → {figures['ratio_to_plain']:.0%} "
          f"(target ≥ {TARGET:.0%}: {'met' if figures['meets_target'] else 'NOT met'}); "
          f"plain POST discarded {figures['plain_discard_mib_s']:.0f} MiB/s "
          f"({figures['ratio_to_discard']:.0%}); in 8 MiB chunks "
          f"{figures['protocol_8mib_chunks_mib_s']:.0f} MiB/s "
          f"({figures['ratio_8mib_chunks_to_plain']:.0%} of plain)")


if __name__ == "__main__":
    main()
