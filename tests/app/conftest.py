"""Shared fixtures for the Qt-free core: real SQLite files in temporary directories.

Seeding a workstation (package calendar, default admin, demo catalogue with pinyin keys)
takes a second or two, so it is done once per session and the data directory is copied
for each module or test that needs its own database.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.storage.db import Database, open_database
from app.workstation import Workstation, open_workstation
from tests.support import forget_calendar_years_from

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_CATALOGUE = REPO_ROOT / "resources" / "catalogue" / "demo.json"


@pytest.fixture
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny Argon2 parameters for tests about something else than the hash's cost."""
    from argon2 import PasswordHasher

    from app.services import accounts

    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(accounts, "_HASHER", cheap)
    monkeypatch.setattr(accounts, "_DUMMY_HASH", cheap.hash("dummy"))


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database of the test's own."""
    database = open_database(tmp_path / "yichuang.db")
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def seeded_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory after a first start: settings, migrated and seeded database."""
    home = tmp_path_factory.mktemp("seeded-home")
    ws = open_workstation(home)
    ws.close()
    forget_calendar_years_from(home, 2027)
    return home


def _copy_home(seeded: Path, target: Path) -> Path:
    shutil.copytree(seeded, target, dirs_exist_ok=True)
    return target


@pytest.fixture(scope="module")
def module_ws(seeded_home: Path, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[Workstation]:
    """One seeded workstation shared by the tests of a module."""
    ws = open_workstation(_copy_home(seeded_home, tmp_path_factory.mktemp("module-ws")))
    yield ws
    ws.close()


@pytest.fixture
def fresh_ws(seeded_home: Path, tmp_path: Path) -> Iterator[Workstation]:
    """A seeded workstation of its own, for a test that changes or damages the data."""
    ws = open_workstation(_copy_home(seeded_home, tmp_path / "home"))
    yield ws
    ws.close()

