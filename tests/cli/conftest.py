"""Running the ``yichuang`` command end to end: ``python -m app`` in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.workstation import open_workstation
from tests.support import forget_calendar_years_from

REPO_ROOT = Path(__file__).resolve().parents[2]
RESOURCES = REPO_ROOT / "resources"


@dataclass(frozen=True)
class CliResult:
    args: tuple[str, ...]
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


def cli_command(home: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "YICHUANG_HOME": str(home), "YICHUANG_RESOURCES": str(RESOURCES),
           "PYTHONIOENCODING": "utf-8"}
    env.pop("PYTHONWARNINGS", None)
    return [sys.executable, "-m", "app", *args], env


# The operators every seeded test home has (their passwords already changed).
ADMIN, ADMIN_PASSWORD = "admin", "Guanli2026x"
CLERK, CLERK_PASSWORD, CLERK_NAME = "lisi", "Chuangkou2026", "李四"


def one_line_error(result: CliResult) -> str:
    """Exit 2, nothing on stdout, exactly one line on stderr and no traceback; returns it."""
    assert result.code == 2, result
    assert result.out == ""
    assert len(result.err_lines) == 1, result.err
    assert result.err_lines[0].startswith("yichuang: ")
    assert "Traceback" not in result.err
    return str(result.err_lines[0])


def run_cli(home: Path, *args: str, timeout: float = 60, stdin: str | None = None
            ) -> CliResult:
    cmd, env = cli_command(home, *args)
    proc = subprocess.run(cmd, env=env, cwd=REPO_ROOT, capture_output=True, text=True,
                          encoding="utf-8", timeout=timeout, check=False,
                          input=stdin if stdin is not None else "")
    return CliResult(tuple(args), proc.returncode, proc.stdout, proc.stderr)


def as_clerk(home: Path, *args: str, timeout: float = 60) -> CliResult:
    """Run a command as the clerk 李四, the password read from standard input."""
    return run_cli(home, *args, "--user", CLERK, "--password-fd", "0", timeout=timeout,
                   stdin=CLERK_PASSWORD + "\n")


def as_admin(home: Path, *args: str, extra_lines: tuple[str, ...] = (),
             timeout: float = 60) -> CliResult:
    """Run a command as admin; ``extra_lines`` follow the password on stdin."""
    return run_cli(home, *args, "--user", ADMIN, "--password-fd", "0", timeout=timeout,
                   stdin="\n".join((ADMIN_PASSWORD, *extra_lines)) + "\n")


def make_operators(home: Path) -> None:
    """The first start's admin with a real password, and a clerk 李四 ready to work."""
    from app.services.accounts import Role

    ws = open_workstation(home)
    try:
        first = ws.accounts.login(ADMIN, "123456")
        admin = ws.accounts.change_password(first.user_id, "123456", ADMIN_PASSWORD)
        ws.accounts.add_user(admin, CLERK, CLERK_NAME, Role.CLERK, "Initial2026x")
        clerk = ws.accounts.login(CLERK, "Initial2026x")
        ws.accounts.change_password(clerk.user_id, "Initial2026x", CLERK_PASSWORD)
    finally:
        ws.close()


@pytest.fixture(scope="module")
def seeded_cli_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory after a first start (seeded in-process: it is not under test)."""
    home = tmp_path_factory.mktemp("cli-seeded")
    make_operators(home)
    forget_calendar_years_from(home, 2027)
    return home


@pytest.fixture
def cli_home(seeded_cli_home: Path, tmp_path: Path) -> Path:
    """A seeded data directory of the test's own, for commands that change it."""
    home = tmp_path / "home"
    shutil.copytree(seeded_cli_home, home)
    return home


@pytest.fixture(scope="session")
def cli() -> Callable[..., CliResult]:
    """``cli(home, *args)`` runs one command and returns its exit code and output."""
    return run_cli
