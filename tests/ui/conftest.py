from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.pool import Pool

import ui
from app.workstation import Workstation, open_workstation
from ui import ops

UI_DIR = str(Path(ui.__file__).resolve().parent) + "/"


class GuiThreadIO(AssertionError):
    """A database connection was taken on the Qt main thread by code in ui/."""


def _ui_frame() -> str | None:
    """The innermost ui/ frame on this thread's stack, as "file:line", if any."""
    frame = sys._getframe(2)
    while frame is not None:
        path = frame.f_code.co_filename
        if path.startswith(UI_DIR):
            return f"{path[len(UI_DIR):]}:{frame.f_lineno}"
        frame = frame.f_back
    return None


@pytest.fixture(autouse=True)
def no_database_on_the_gui_thread() -> Iterator[list[str]]:
    """Fail any test during which ui/ code opened a database session on the main thread.

    Every session takes a pooled connection ("checkout"): the listener sees each one. The
    test's own set-up and checks (not ui/ code) may read on the main thread; operations
    run their work on pool threads. Raised at the spot (pytest-qt reports exceptions
    from slots) and recorded, in case the code under test swallowed the exception.
    """
    caught: list[str] = []

    def on_checkout(*_args: Any) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        where = _ui_frame()
        if where is not None:
            caught.append(f"{where}\n{''.join(traceback.format_stack(limit=12))}")
            raise GuiThreadIO(f"数据库在界面线程上被访问：ui/{where}")

    event.listen(Pool, "checkout", on_checkout)
    try:
        yield caught
    finally:
        event.remove(Pool, "checkout", on_checkout)
    assert not caught, "ui/ read the database on the GUI thread:\n" + "\n".join(caught)


@pytest.fixture
def station(tmp_path: Path) -> Iterator[Workstation]:
    ws = open_workstation(tmp_path / "home")
    yield ws
    # As the program does: no operation may still use the engine it disposes of.
    ops.wait_idle(30_000)
    ws.close()
