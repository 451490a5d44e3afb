"""Without a display the window says so in one Chinese line and exits non-zero (issue 9).

Run as a clerk's session would run it (the whole environment, only the display gone),
and with a Qt platform chosen that has no display to go to: Qt itself would abort with
an English plugin error and a core dump.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ui.launcher import NO_DISPLAY, NO_DISPLAY_STATUS, has_display

SCRIPT = Path(sys.executable).parent / "yichuang"
DISPLAY_VARS = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="other systems need no display server")


def _launch(tmp_path: Path, *args: str, **display: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in DISPLAY_VARS}
    env.update(YICHUANG_HOME=str(tmp_path / "home"), **display)
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


@linux_only
def test_no_display_at_all_exits_non_zero_with_one_chinese_line(tmp_path: Path) -> None:
    out = _launch(tmp_path)
    assert out.returncode == NO_DISPLAY_STATUS != 0
    assert out.stderr == NO_DISPLAY + "\n"
    assert out.stdout == ""
    assert not (tmp_path / "home").exists()   # nothing opened or created


@linux_only
@pytest.mark.parametrize("screen", [["kiosk"], ["display"], ["evaluate", "--window", "1"]])
def test_the_hall_screens_without_a_display_exit_non_zero_with_one_chinese_line(
        tmp_path: Path, screen: list[str]) -> None:
    out = _launch(tmp_path, *screen)
    assert out.returncode == NO_DISPLAY_STATUS
    assert out.stderr == NO_DISPLAY + "\n"
    assert not (tmp_path / "home").exists()


def test_the_evaluator_needs_its_window(tmp_path: Path) -> None:
    out = _launch(tmp_path, "evaluate")
    assert out.returncode == 2 and "--window" in out.stderr


@linux_only
@pytest.mark.parametrize("platform", ["xcb", "wayland", "wayland;xcb", "xcb:dpi=96"])
def test_a_qt_platform_without_its_display_server_is_no_display(tmp_path: Path,
                                                                 platform: str) -> None:
    out = _launch(tmp_path, QT_QPA_PLATFORM=platform)
    assert out.returncode == NO_DISPLAY_STATUS, out.stderr[-500:]
    assert out.stderr == NO_DISPLAY + "\n"


@linux_only
@pytest.mark.parametrize(("env", "expected"), [
    ({}, False),
    ({"DISPLAY": ":0"}, True),
    ({"WAYLAND_DISPLAY": "wayland-0"}, True),
    ({"QT_QPA_PLATFORM": "offscreen"}, True),
    ({"QT_QPA_PLATFORM": "xcb"}, False),
    ({"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":0"}, True),
    ({"QT_QPA_PLATFORM": "wayland", "DISPLAY": ":0"}, False),
    ({"QT_QPA_PLATFORM": "wayland;xcb", "DISPLAY": ":0"}, True),
    ({"QT_QPA_PLATFORM": "wayland-egl", "WAYLAND_DISPLAY": "wayland-0"}, True),
    ({"QT_QPA_PLATFORM": "eglfs"}, True),
    ({"QT_QPA_PLATFORM": "", "DISPLAY": ":0"}, True),
])
def test_has_display(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                     expected: bool) -> None:
    for var in DISPLAY_VARS:
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    assert has_display() is expected
