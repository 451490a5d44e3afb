"""``yichuang`` command start-up: ``--version`` and ``catalog search``, beside a bare Python.

Each figure is a fresh process, wall clock from spawn to exit, through the installed
``yichuang`` script (``ui.launcher:main``) on a data directory that has had its first
start (seeded demo catalogue). The three commands take turns, so a slower moment of the
machine falls on all of them; the median of ``RUNS`` each is reported. The very first
start (creating the database, importing the demo catalogue) is measured once, apart.

Targets (issue 9): ``--version`` ≤ 0.3 s, ``catalog search`` ≤ 0.6 s. What the commands
may import is a test (tests/cli/test_cli_imports.py); the module counts here are for
reading beside the times.

``python -m bench.cli_startup`` (or ``./run bench``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import summary, write_result

RUNS = 15
ROOT = Path(__file__).resolve().parent.parent
VERSION_TARGET_S, SEARCH_TARGET_S = 0.3, 0.6
QUERY = "营业执照"
_LAUNCHER = "import sys; from ui.launcher import main; sys.exit(main())"
_COUNT = ("import sys; from ui.launcher import main\n"
          "try:\n    main()\nexcept SystemExit:\n    pass\n"
          "print(len(sys.modules), file=sys.stderr)")


def _yichuang() -> list[str]:
    """The installed script when there is one beside this Python, else what it runs."""
    script = Path(sys.executable).with_name("yichuang")
    return [str(script)] if script.exists() else [sys.executable, "-c", _LAUNCHER]


def _env(home: Path) -> dict[str, str]:
    env = {**os.environ, "YICHUANG_HOME": str(home),
           "YICHUANG_RESOURCES": str(ROOT / "resources"), "PYTHONIOENCODING": "utf-8"}
    env.pop("PYTHONWARNINGS", None)
    return env


def _time(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=ROOT, check=True, capture_output=True, timeout=60)
    return time.perf_counter() - start


def _modules(code: str, args: list[str], env: dict[str, str]) -> int:
    """How many modules are in ``sys.modules`` when the command is done."""
    proc = subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=ROOT,
                          check=True, capture_output=True, text=True, timeout=60)
    return int(proc.stderr.split()[-1])


def _verdict(median: float, target: float) -> str:
    return "达标" if median <= target else "未达标"


def main() -> dict[str, object]:
    yichuang = _yichuang()
    commands = {
        "python_pass": [sys.executable, "-c", "pass"],
        "version": [*yichuang, "--version"],
        "catalog_search": [*yichuang, "catalog", "search", QUERY],
    }
    with tempfile.TemporaryDirectory() as tmp:
        env = _env(Path(tmp))
        first = _time(commands["catalog_search"], env)   # creates and seeds the database
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(RUNS):
            for name, cmd in commands.items():
                times[name].append(_time(cmd, env))
        modules = {"python_pass": _modules("import sys; print(len(sys.modules), file=sys.stderr)",
                                           [], env),
                   "version": _modules(_COUNT, ["--version"], env),
                   "catalog_search": _modules(_COUNT, ["catalog", "search", QUERY], env)}
    stats = {name: summary(values) for name, values in times.items()}
    figures: dict[str, object] = {
        "runs": RUNS,
        "command": yichuang,
        "targets_s": {"version": VERSION_TARGET_S, "catalog_search": SEARCH_TARGET_S},
        "first_start_catalog_search_s": first,
        "python_pass_s": stats["python_pass"],
        "version_s": stats["version"],
        "catalog_search_s": stats["catalog_search"],
        "modules_loaded": modules,
    }
    path = write_result("cli_startup", figures)
    bare = stats["python_pass"]["median"]
    version, search = stats["version"]["median"], stats["catalog_search"]["median"]
    print(f"python -c pass：中位数 {bare:.3f} s（{RUNS} 次），{modules['python_pass']} 个模块")
    print(f"yichuang --version：中位数 {version:.3f} s（目标 ≤ {VERSION_TARGET_S} s，"
          f"{_verdict(version, VERSION_TARGET_S)}），比空 Python 多 {version - bare:.3f} s，"
          f"{modules['version']} 个模块")
    print(f"yichuang catalog search {QUERY}：中位数 {search:.3f} s（目标 ≤ {SEARCH_TARGET_S} s，"
          f"{_verdict(search, SEARCH_TARGET_S)}），比空 Python 多 {search - bare:.3f} s，"
          f"{modules['catalog_search']} 个模块")
    print(f"首次运行（建库并导入演示目录）：{first:.3f} s")
    print(f"→ {path}")
    return figures


if __name__ == "__main__":
    main()
