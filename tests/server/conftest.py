"""The real server, as a county runs it: ``yichuang-server init`` then ``serve`` in a
process of its own on a loopback port, over a database in a temporary home."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "Guanli2026x"


def server_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "server.cli", *args]


def run_server_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(server_command(*args), input=stdin, capture_output=True, text=True,
                          timeout=120, cwd=REPO, check=False,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    home: Path
    url: str
    process: subprocess.Popen[str]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(home: Path) -> Server:
    port = free_port()
    process = subprocess.Popen(server_command("serve", "--home", str(home), "--port", str(port)),
                               cwd=REPO, text=True, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:   # until it answers (start-up is not under test)
        if process.poll() is not None:
            raise RuntimeError(f"the server ended: {process.communicate()}")
        try:
            if requests.get(f"{url}/v1/health", timeout=1).ok:
                return Server(home, url, process)
        except requests.ConnectionError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the server did not answer within 60 s")


def init_home(home: Path) -> None:
    done = run_server_cli("init", "--home", str(home), "--password-fd", "0",
                          stdin=ADMIN_PASSWORD + "\n")
    assert done.returncode == 0, done.stderr


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    home = tmp_path / "server-home"
    init_home(home)
    running = start(home)
    yield running
    running.stop()
