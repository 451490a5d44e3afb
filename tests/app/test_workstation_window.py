"""One install, several windows: ``yichuang --window N`` opens the workstation as window N
(the queue panel calls for it, events record it); a bad window number is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.config import ConfigError
from app.services.accounts import DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD
from app.workstation import open_workstation


def test_one_install_opens_as_another_window_and_refuses_a_bad_one(seeded_home: Path, tmp_path: Path) -> None:
    home = shutil.copytree(seeded_home, tmp_path / "home")
    ws = open_workstation(home, window="2")
    try:
        assert ws.settings.window == "2"
        clerk = ws.clerk(ws.accounts.login(DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD))
        assert clerk.window == "2"
    finally:
        ws.close()
    with pytest.raises(ConfigError, match="窗口号“2 3”无效"):
        open_workstation(home, window="2 3")


def test_only_the_installs_own_window_takes_over_the_terminals_old_draft(
        seeded_home: Path, tmp_path: Path) -> None:
    from app.services.drafts import AcceptanceDraft, DraftStore

    home = shutil.copytree(seeded_home, tmp_path / "home")
    DraftStore(home, "01").save(AcceptanceDraft("OLD", (), {"name": "甲"}))   # before
    other = open_workstation(home, window="2")
    try:
        assert other.drafts.load() is None
    finally:
        other.close()
    own = open_workstation(home)
    try:
        draft = own.drafts.load()
        assert draft is not None and draft.item_code == "OLD"
    finally:
        own.close()
