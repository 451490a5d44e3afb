from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.workstation import Workstation, open_workstation


@pytest.fixture
def station(tmp_path: Path) -> Iterator[Workstation]:
    ws = open_workstation(tmp_path / "home")
    yield ws
    ws.close()
