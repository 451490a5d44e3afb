"""One window per data directory: a second launch brings the first to the front (issue 9).

A new clerk started 一窗通 twice and got a second login over the first window.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtNetwork import QAbstractSocket, QLocalServer
from pytestqt.qtbot import QtBot

from app.services.accounts import DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD
from app.workstation import Workstation
from ui.app import Handover, InstanceGuard, ask_running_window, bring_to_front, instance_name
from ui.workbench.main_window import MainWindow

SCRIPT = Path(sys.executable).parent / "yichuang"
LAUNCH_TIMEOUT = 120   # seconds: only so that a hung launch fails instead of hanging the run
ASK_CHILD = (
    "import sys\n"
    "from PySide6.QtCore import QCoreApplication\n"
    "from ui.app import ask_running_window\n"
    "app = QCoreApplication([])\n"
    "answer = ask_running_window(sys.argv[1])\n"
    "print(answer.name if answer else 'NOBODY')\n"
)
KILLED_OWNER_CHILD = (
    "import sys\n"
    "from PySide6.QtCore import QCoreApplication\n"
    "from ui.app import InstanceGuard\n"
    "app = QCoreApplication([])\n"
    "guard = InstanceGuard(sys.argv[1])\n"
    "print(guard.claim().name, flush=True)\n"
    "sys.stdin.read()\n"   # until killed
)

posix_only = pytest.mark.skipif(
    os.name != "posix", reason="only a Unix local socket outlives its killed process")


@pytest.fixture
def name(tmp_path: Path) -> Iterator[str]:
    server_name = instance_name(tmp_path / "home")
    yield server_name
    QLocalServer.removeServer(server_name)   # a killed child's socket file, if any


def _python(code: str, *args: str, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code, *args], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)  # type: ignore[call-overload]


# ---- the name ------------------------------------------------------------------------


def test_the_same_directory_spelt_differently_gives_the_same_name(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    link = tmp_path / "link"
    link.symlink_to(home)
    assert instance_name(home) == instance_name(link) == instance_name(tmp_path / "x" / ".." / "home")
    assert instance_name(home) != instance_name(tmp_path / "other")


def test_the_name_is_short_and_plain(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*["很深的目录"] * 30)
    name = instance_name(deep)
    # Unix socket paths are limited to about 100 bytes, whatever the data directory.
    assert name.isascii() and len(name) <= 40 and "/" not in name


# ---- the guard and the handover -------------------------------------------------------


def test_nobody_listening_makes_this_process_the_owner(name: str) -> None:
    guard = InstanceGuard(name)
    assert ask_running_window(name) is None
    assert guard.claim() is Handover.OWNER
    guard.close()


def test_a_second_launch_asks_the_owner_which_comes_to_the_front(qtbot: QtBot, name: str) -> None:
    guard = InstanceGuard(name)
    assert guard.claim() is Handover.OWNER
    with qtbot.waitSignal(guard.activated, timeout=LAUNCH_TIMEOUT * 1000):
        child = _python(ASK_CHILD, name)
        qtbot.waitUntil(lambda: child.poll() is not None, timeout=LAUNCH_TIMEOUT * 1000)
    out, err = child.communicate()
    assert out.strip() == "RAISED", err
    guard.close()


def test_an_owner_that_never_answers_is_reported_silent(name: str) -> None:
    # Listening, but this test's event loop does not run while it asks: no answer.
    server = QLocalServer()
    assert server.listen(name)
    assert ask_running_window(name, timeout_ms=200) is Handover.SILENT
    server.close()


@posix_only
def test_the_name_left_by_a_killed_window_is_taken_over(name: str) -> None:
    child = _python(KILLED_OWNER_CHILD, name, stdin=subprocess.PIPE)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "OWNER"
    child.kill()
    child.communicate()
    # The killed window's socket file is still there, and nobody answers on it.
    probe = QLocalServer()
    assert not probe.listen(name)
    assert probe.serverError() == QAbstractSocket.SocketError.AddressInUseError
    assert ask_running_window(name) is None

    guard = InstanceGuard(name)
    assert guard.claim() is Handover.OWNER
    guard.close()


def test_bring_to_front_restores_a_minimized_workbench(qtbot: QtBot, station: Workstation) -> None:
    session = station.accounts.login(DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD)
    window = MainWindow(station, session)
    qtbot.addWidget(window)
    window.showMinimized()
    qtbot.waitUntil(window.isMinimized)
    bring_to_front()
    assert not window.isMinimized() and window.isVisible()


# ---- two real launches ---------------------------------------------------------------


def _wait_until_answering(name: str, window: subprocess.Popen[str]) -> None:
    """Until the launched window answers (it asks to come to the front, harmlessly)."""
    give_up = time.monotonic() + LAUNCH_TIMEOUT
    while ask_running_window(name) is not Handover.RAISED:
        assert window.poll() is None, window.communicate()
        assert time.monotonic() < give_up, "the launched window never answered"
        time.sleep(0.1)   # nobody listens yet: the window is still importing Qt


def _launch(home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "YICHUANG_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.Popen([str(SCRIPT)], env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


@posix_only
def test_launching_twice_hands_over_to_the_open_window_even_after_a_killed_one(
        station: Workstation) -> None:
    home = station.settings.data_dir   # seeded already: the launches only log in
    name = instance_name(home)
    first = _launch(home)
    try:
        _wait_until_answering(name, first)   # the first window waits at its login
        second = _launch(home)
        _, err = second.communicate(timeout=LAUNCH_TIMEOUT)
        # A second login would wait for a clerk for ever; it handed over and ended.
        assert second.returncode == 0, err
        assert first.poll() is None
    finally:
        first.kill()
        first.communicate()
    third = _launch(home)   # the killed window's socket file is in its way
    try:
        _wait_until_answering(name, third)
        fourth = _launch(home)
        _, err = fourth.communicate(timeout=LAUNCH_TIMEOUT)
        assert fourth.returncode == 0, err
        assert third.poll() is None
    finally:
        third.kill()
        third.communicate()
        QLocalServer.removeServer(name)


def test_each_window_of_one_install_has_its_own_workbench(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    names = {instance_name(home), instance_name(home, "1"), instance_name(home, "2")}
    assert len(names) == 3
    assert instance_name(home, "2") == instance_name(tmp_path / "x" / ".." / "home", "2")


def test_the_installs_own_window_given_by_number_is_the_same_workbench(tmp_path: Path) -> None:
    from ui.app import own_window

    home = tmp_path / "home"
    home.mkdir()
    (home / "settings.toml").write_text('[terminal]\nwindow = "3"\n', encoding="utf-8")
    assert own_window(home, None) == own_window(home, "3") == ""
    assert own_window(home, "2") == "2"
