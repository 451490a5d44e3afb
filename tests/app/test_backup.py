"""Backups while the window works, and restores that never destroy what they replace."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from app.domain.case import Clerk
from app.services.backup import BackupError, BackupService, restore
from app.workstation import Workstation, open_workstation
from tests.support import accepted_case


def clerk(ws: Workstation) -> Clerk:
    s = ws.settings
    return Clerk("c1", "张三", s.site_code, s.terminal, s.window)


def copy_cases(backup: Path) -> int:
    with sqlite3.connect(backup / "yichuang.db") as conn:
        return int(conn.execute("SELECT count(*) FROM cases").fetchone()[0])


def test_paths_with_hash_and_percent_signs_back_up_the_real_database(
        seeded_home: Path, tmp_path: Path) -> None:
    import shutil

    home = tmp_path / "数据#1%20"
    shutil.copytree(seeded_home, home)
    ws = open_workstation(home)
    try:
        accepted_case(ws, clerk(ws))
        info = BackupService(ws.settings, ws.db).backup(tmp_path / "U盘#1?x")
    finally:
        ws.close()
    assert info.cases == 1 and copy_cases(info.path) == 1
    assert BackupService.verify(info.path)["install_id"]
    assert not (tmp_path / "数据").exists()   # no stray database where "#" cut the path


def test_a_backup_copies_while_the_window_keeps_writing(fresh_ws: Workstation,
                                                       tmp_path: Path) -> None:
    accepted_case(fresh_ws, clerk(fresh_ws))
    service = BackupService(fresh_ws.settings, fresh_ws.db)
    first = service.backup(tmp_path / "usb")
    accepted_case(fresh_ws, clerk(fresh_ws))
    second = service.backup(tmp_path / "usb")
    assert (copy_cases(first.path), copy_cases(second.path)) == (1, 2)
    assert [p.name for p in service.backups(tmp_path / "usb")] == sorted(
        [first.path.name, second.path.name])


def test_a_damaged_backup_is_refused_before_anything_changes(fresh_ws: Workstation,
                                                             tmp_path: Path) -> None:
    info = BackupService(fresh_ws.settings, fresh_ws.db).backup(tmp_path / "usb")
    with open(info.path / "yichuang.db", "r+b") as f:
        f.seek(200)
        f.write(b"\x00garbage")
    settings = fresh_ws.settings
    fresh_ws.close()
    before = settings.database_path.read_bytes()
    with pytest.raises(BackupError, match="与清单不符"):
        restore(settings, info.path, accept_older=False, reason="", os_user="t")
    assert settings.database_path.read_bytes() == before


def test_restore_waits_for_the_window_to_close(fresh_ws: Workstation, tmp_path: Path) -> None:
    info = BackupService(fresh_ws.settings, fresh_ws.db).backup(tmp_path / "usb")
    with pytest.raises(BackupError, match="正在使用"):   # an idle window holds no db lock
        restore(fresh_ws.settings, info.path, accept_older=False, reason="", os_user="t")
    fresh_ws.close()
    done = restore(fresh_ws.settings, info.path, accept_older=False, reason="", os_user="t")
    assert done.kept_aside is not None and (done.kept_aside / "yichuang.db").is_file()
