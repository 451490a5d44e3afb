"""The ``yichuang`` entry point: arguments go to the CLI without loading Qt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(sys.executable).parent / "yichuang"


def test_console_script_with_arguments_runs_cli_without_qt(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "sys.argv = ['yichuang', 'calendar', 'check', '2026-10-01']\n"
        "from ui.launcher import main\n"
        "rc = main()\n"
        "assert 'PySide6' not in sys.modules, 'CLI path imported Qt'\n"
        "raise SystemExit(rc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"YICHUANG_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
                         timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert "国庆节" in out.stdout


def test_installed_script_answers_version() -> None:
    assert SCRIPT.exists(), "pip install -e . must create the yichuang console script"
    out = subprocess.run([str(SCRIPT), "--version"], capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 0
    assert out.stdout.startswith("yichuang ")


def test_no_display_gives_one_chinese_line_instead_of_a_qt_abort(tmp_path: Path) -> None:
    env = {"YICHUANG_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}  # no DISPLAY at all
    out = subprocess.run([str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60,
                         check=False)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "没有可用的图形界面" in out.stderr
    assert not (tmp_path / "yichuang.db").exists()  # nothing was opened or created


def test_a_bad_window_for_the_workbench_is_one_line_and_opens_nothing(tmp_path: Path) -> None:
    env = {"YICHUANG_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([str(SCRIPT), "--window", "3号; rm"], capture_output=True, text=True,
                         env=env, timeout=60, check=False)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "窗口号“3号; rm”应为1至8位" in out.stderr
    assert not (tmp_path / "yichuang.db").exists()


def test_window_n_opens_the_workbench_not_the_cli() -> None:
    from ui.launcher import workbench_window

    assert workbench_window(["--window", "2"]) == "2"
    assert workbench_window(["--window=综合2"]) == "综合2"
    assert workbench_window(["queue", "call", "--window", "2"]) is None
    assert workbench_window([]) is None
