"""Inputs from the review that crashed with a traceback: each is one line and exit 2."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.cli import EXIT_USAGE, main
from tests.cli.conftest import ADMIN_PASSWORD, make_operators


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "home"
    monkeypatch.setenv("YICHUANG_HOME", str(target))
    return target


def _fails(argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert expected in err, err
    assert "Traceback" not in err


def test_dates_and_counts_out_of_range(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fails(["calendar", "add-workdays", "9999-12-31", "1"], "超出范围", capsys)
    _fails(["calendar", "add-workdays", "2026-01-01", "99999"], "工作日数应在", capsys)
    _fails(["calendar", "check", "0001-01-01"], "超出范围", capsys)


def _as_admin(argv: list[str]) -> list[str]:
    """``argv`` run as the test admin, the password waiting in a pipe."""
    read, write = os.pipe()
    os.write(write, (ADMIN_PASSWORD + "\n").encode())
    os.close(write)
    return [*argv, "--user", "admin", "--password-fd", str(read)]


@pytest.mark.parametrize("kind", ["catalog", "calendar"])
def test_pathological_json_is_refused_not_crashed_on(kind: str, home: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    make_operators(home)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000, encoding="utf-8")
    _fails(_as_admin([kind, "import", str(deep)]), "嵌套过深", capsys)
    huge = tmp_path / "huge.json"
    huge.write_text('{"format": "yichuang-catalogue", "format_version": ' + "9" * 5000 + "}",
                    encoding="utf-8")
    _fails(_as_admin([kind, "import", str(huge)]), "过大的数字", capsys)


@pytest.mark.parametrize("kind", ["catalog", "calendar"])
def test_export_to_a_directory_or_missing_folder(kind: str, home: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "folder.json"
    folder.mkdir()
    _fails([kind, "export", str(folder)], "是一个目录", capsys)
    _fails([kind, "export", str(tmp_path / "missing" / "x.json")], "所在目录不存在", capsys)
    assert list(folder.iterdir()) == []
    assert not any(p.name.endswith(".tmp") for p in tmp_path.rglob("*"))


def test_data_dir_that_is_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv("YICHUANG_HOME", str(blocker))
    _fails(["catalog", "list"], "无法使用数据目录", capsys)
    assert blocker.read_text(encoding="utf-8") == "x"
