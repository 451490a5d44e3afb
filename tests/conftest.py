"""Shared test set-up: the offscreen Qt platform and a private data dir for every test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Must be set before anything imports Qt (pytest-qt creates the QApplication lazily).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _private_home(tmp_path_factory: pytest.TempPathFactory,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test ever touches the real user data dir."""
    if "YICHUANG_HOME" not in os.environ:
        monkeypatch.setenv("YICHUANG_HOME", str(tmp_path_factory.mktemp("home")))
    monkeypatch.setenv("YICHUANG_RESOURCES", str(REPO_ROOT / "resources"))
    yield
