"""The window makes the day's backup by itself, to the place the administrator set."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.services.accounts import DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD
from app.services.backup import BackupService
from app.workstation import open_workstation
from ui import ops
from ui.workbench.main_window import MainWindow


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    home = tmp_path / "home"
    home.mkdir()
    (home / "settings.toml").write_text(f'[backup]\ndir = "{tmp_path / "usb"}"\nkeep = 3\n',
                                        encoding="utf-8")
    station = open_workstation(home)
    win = MainWindow(station, station.accounts.login(DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD))
    qtbot.addWidget(win)
    yield win
    ops.wait_idle(30_000)
    station.close()


def test_the_window_backs_up_once_a_day_without_blocking(qtbot: QtBot, window: MainWindow,
                                                         tmp_path: Path) -> None:
    qtbot.waitUntil(lambda: "今日已备份" in window.backup_label.text(), timeout=30000)
    made = BackupService(window.station.settings, window.station.db).backups(tmp_path / "usb")
    assert len(made) == 1
    BackupService.verify(made[0])   # a verified, complete copy
    window.backup_if_due()          # the hourly check later that day: nothing new
    qtbot.wait(500)
    assert len(BackupService(window.station.settings,
                             window.station.db).backups(tmp_path / "usb")) == 1
