"""Drafts of the form being typed: kept across a kill, never an error at start-up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.services.drafts import AcceptanceDraft, DraftStore

FORM: dict[str, str | bool] = {"kind": "法人或其他组织", "name": "示例县城关镇好味道餐饮店",
                               "id_number": "91330100MA2H0Q8X1G", "has_agent": False}


def test_a_saved_draft_comes_back_and_clearing_removes_it(tmp_path: Path) -> None:
    store = DraftStore(tmp_path, "01")
    assert store.load() is None
    store.save(AcceptanceDraft("CODE-1", ("s1",), FORM))
    back = store.load()
    assert back is not None and (back.item_code, back.scenarios, back.form) == (
        "CODE-1", ("s1",), FORM)
    assert back.saved_at   # stamped when saved, for the clerk
    store.clear()
    assert store.load() is None
    store.clear()   # twice is fine


def test_a_draft_survives_the_process_being_killed_after_saving(tmp_path: Path) -> None:
    code = (f"import sys; sys.path.insert(0, {str(Path.cwd())!r});"
            "from pathlib import Path; from app.services.drafts import AcceptanceDraft, DraftStore;"
            f"DraftStore(Path({str(tmp_path)!r}), '01').save(AcceptanceDraft('CODE-1', (), "
            "{'name': '王小明'})); import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    proc = subprocess.run([sys.executable, "-c", code], check=False)
    assert proc.returncode == -9
    back = DraftStore(tmp_path, "01").load()
    assert back is not None and back.form == {"name": "王小明"}


def test_an_unreadable_draft_is_moved_aside_not_an_error(tmp_path: Path) -> None:
    store = DraftStore(tmp_path, "01")
    store.path.parent.mkdir(parents=True)
    for junk in (b"{not json", "申请".encode("gbk"), b'{"kind": "other"}', b"[1, 2]",
                 b"x" * (70 * 1024)):
        store.path.write_bytes(junk)
        assert store.load() is None
        assert not store.path.exists() and store.path.with_suffix(".unreadable").exists()


def test_each_terminal_keeps_its_own_draft(tmp_path: Path) -> None:
    DraftStore(tmp_path, "01").save(AcceptanceDraft("A", (), {"name": "甲"}))
    DraftStore(tmp_path, "02").save(AcceptanceDraft("B", (), {"name": "乙"}))
    one, two = DraftStore(tmp_path, "01").load(), DraftStore(tmp_path, "02").load()
    assert one is not None and two is not None and (one.item_code, two.item_code) == ("A", "B")


def test_each_window_of_one_terminal_keeps_its_own_draft(tmp_path: Path) -> None:
    DraftStore(tmp_path, "01", "1").save(AcceptanceDraft("A", (), {"name": "甲"}))
    DraftStore(tmp_path, "01", "2").save(AcceptanceDraft("B", (), {"name": "乙"}))
    DraftStore(tmp_path, "01", "2").clear()   # window 2 submits: window 1's form stays
    one = DraftStore(tmp_path, "01", "1").load()
    assert one is not None and one.item_code == "A"
    assert DraftStore(tmp_path, "01", "2").load() is None


def test_a_draft_from_before_windows_had_their_own_is_taken_over_once(tmp_path: Path) -> None:
    DraftStore(tmp_path, "01").save(AcceptanceDraft("OLD", (), {"name": "甲"}))
    # Window 2 opens first: the old draft was typed at the install's own window, not here.
    assert DraftStore(tmp_path, "01", "2", adopt_legacy=False).load() is None
    first = DraftStore(tmp_path, "01", "1").load()
    assert first is not None and first.item_code == "OLD"
    assert DraftStore(tmp_path, "01", "2").load() is None   # not offered twice
    again = DraftStore(tmp_path, "01", "1").load()
    assert again is not None and again.item_code == "OLD"
