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
