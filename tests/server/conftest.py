"""The real server, as a county runs it: ``yichuang-server init`` then ``serve`` in a
process of its own on a loopback port, over a database in a temporary home.

Every server test runs twice: on SQLite (the single-machine default, one process) and on
a real PostgreSQL — a throw-away cluster of Debian's ``postgresql`` started here in a
temporary directory as an unprivileged user, with a fresh database per test — served by
TWO server processes on that database and one home, as behind a load balancer: each
request a test makes goes to the next process in turn (``Server.url``), so every step of
every test crosses processes. Where PostgreSQL cannot be found the PostgreSQL half is
skipped with that reason printed.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from app.workstation import Workstation
from server.settings import ServerSettings

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
    """One server, or several processes serving one database and home. ``url`` names the
    next process in turn at every read, so consecutive requests are spread across them;
    ``urls`` lists them all."""

    home: Path
    urls: list[str]
    processes: list[subprocess.Popen[str]]
    database_url: str = ""
    _turn: Iterator[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._turn = itertools.cycle(self.urls)

    @property
    def url(self) -> str:
        return next(self._turn)

    @property
    def settings(self) -> ServerSettings:
        """The server's own settings: tests set data up through its database."""
        return ServerSettings(self.home, self.database_url)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _database_args(database_url: str) -> list[str]:
    return ["--database-url", database_url] if database_url else []


def _launch(home: Path, database_url: str, *extra: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    process = subprocess.Popen(server_command("serve", "--home", str(home), "--port", str(port),
                                              *_database_args(database_url), *extra),
                               cwd=REPO, text=True, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
    return process, f"http://127.0.0.1:{port}"


def _answering(process: subprocess.Popen[str], url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:   # until it answers (start-up is not under test)
        if process.poll() is not None:
            raise RuntimeError(f"the server ended: {process.communicate()}")
        try:
            if requests.get(f"{url}/v1/health", timeout=1).ok:
                return
        except requests.ConnectionError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the server did not answer within 60 s")


def start(home: Path, database_url: str = "", processes: int = 1, *extra: str) -> Server:
    """``processes`` server processes on ``home`` and its database, started together
    (``extra``: more arguments of ``serve``)."""
    launched = [_launch(home, database_url, *extra) for _ in range(processes)]
    for process, url in launched:
        _answering(process, url)
    return Server(home, [url for _, url in launched], [p for p, _ in launched], database_url)


def init_home(home: Path, database_url: str = "") -> None:
    done = run_server_cli("init", "--home", str(home), *_database_args(database_url),
                          "--password-fd", "0", stdin=ADMIN_PASSWORD + "\n")
    assert done.returncode == 0, done.stderr


# ---- a throw-away PostgreSQL cluster ------------------------------------------------


def _pg_tool(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """The URL of a PostgreSQL cluster of our own (without a database name)."""
    initdb, pg_ctl = _pg_tool("initdb"), _pg_tool("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL 未安装（Debian：apt-get install postgresql），只测 SQLite")
    root = Path(tempfile.mkdtemp(prefix="yichuang-pg-"))
    data = root / "data"
    # PostgreSQL refuses to run as root: as root, the cluster belongs to "nobody".
    as_user: list[str] = []
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        as_user = ["runuser", "-u", "nobody", "--"]
        shutil.chown(root, "nobody")
    port = free_port()
    subprocess.run([*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "yichuang",
                    "-E", "UTF8", "--locale=C", "--no-sync"], check=True, capture_output=True)
    subprocess.run([*as_user, pg_ctl, "-D", str(data), "-l", str(root / "log"), "-w", "-o",
                    f"-p {port} -h 127.0.0.1 -k {root} -F -c max_connections=200",
                    "start"], check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://yichuang@127.0.0.1:{port}"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
                       check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def fresh_database(cluster: str) -> str:
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(cluster.replace("postgresql+psycopg", "postgresql") + "/postgres",
                         autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{cluster}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """"" for the SQLite file in the home, else a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return ""
    return fresh_database(request.getfixturevalue("postgres"))


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[Server]:
    """The server under test: one process on SQLite; two on PostgreSQL, taking requests
    in turn."""
    home = tmp_path / "server-home"
    init_home(home, database_url)
    running = start(home, database_url, processes=2 if database_url else 1)
    yield running
    running.stop()


@pytest.fixture
def two_servers(tmp_path: Path, postgres: str) -> Iterator[tuple[Server, Server]]:
    """Two server processes on one PostgreSQL database and one blob folder (on one
    machine; across machines the blobs go to an S3-compatible bucket), as behind a
    load balancer."""
    database_url = fresh_database(postgres)
    init_home(tmp_path / "a", database_url)
    both = start(tmp_path / "a", database_url, processes=2)
    first = Server(both.home, both.urls[:1], both.processes[:1], database_url)
    second = Server(both.home, both.urls[1:], both.processes[1:], database_url)
    yield first, second
    first.stop()
    second.stop()


# ---- a client workstation (what pushes to the server) -------------------------------


@pytest.fixture(scope="module")
def seeded_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A client data directory after its first start (seeding takes a few seconds)."""
    from app.workstation import open_workstation

    home = tmp_path_factory.mktemp("client-seeded")
    open_workstation(home).close()
    return home


@pytest.fixture
def client(seeded_client: Path, tmp_path: Path) -> Iterator[Workstation]:
    """A client workstation of its own for the test (a copy of the seeded one)."""
    from app.workstation import open_workstation

    ws = open_workstation(shutil.copytree(seeded_client, tmp_path / "client"))
    yield ws
    ws.close()
