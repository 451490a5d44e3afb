"""The autouse guard of conftest.py really catches ui/ code reading the database on the
GUI thread (otherwise every other UI test would pass vacuously)."""

from __future__ import annotations

import pytest

from app.workstation import Workstation
from tests.ui.conftest import UI_DIR, GuiThreadIO

# Compiled as if it were a module in ui/: the guard recognises ui/ code by its file.
FAKE_UI_CODE = compile("station.catalogue.releases()", UI_DIR + "fake_panel.py", "exec")


def test_the_guard_catches_ui_code_reading_the_database_on_the_gui_thread(
        station: Workstation, no_database_on_the_gui_thread: list[str]) -> None:
    with pytest.raises(GuiThreadIO, match=r"fake_panel\.py"):
        exec(FAKE_UI_CODE, {"station": station})
    assert len(no_database_on_the_gui_thread) == 1
    no_database_on_the_gui_thread.clear()   # caught on purpose: let the test pass


def test_the_guard_lets_test_code_read_on_the_main_thread(
        station: Workstation, no_database_on_the_gui_thread: list[str]) -> None:
    station.catalogue.releases()
    assert no_database_on_the_gui_thread == []
