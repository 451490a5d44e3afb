"""The keys a clerk presses from "item chosen" to "受理通知书 printed" (five-material item
and more: 食品经营许可（新办）, seven materials), counted by the pytest-qt script that
drives the real window (tests/ui/test_acceptance_workbench.py), which prints the count.

Fewer is better, and each key must be obvious. They are: F3 (收件), the name, Enter, the
ID number, Enter, the phone, Enter (opens the case), F4 (all received), F9 (受理), Enter
(confirm, with the promised date shown), Enter (print). Chinese counts as its pinyin
letters plus one key to commit them, as a pinyin input method does.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from bench.common import write_result

ROOT = Path(__file__).resolve().parents[1]
TEST = ("tests/ui/test_acceptance_workbench.py::"
        "test_full_acceptance_by_keyboard_prints_the_acceptance_notice")
_COUNT = re.compile(r"从选中事项到打印受理通知书的按键数：(\d+)")


def main() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                          TEST], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    found = _COUNT.search(run.stdout)
    if run.returncode != 0 or found is None:
        print(run.stdout[-2000:], run.stderr[-2000:], sep="\n")
        raise SystemExit("keystroke script failed")
    count = int(found.group(1))
    print(f"item chosen → 受理通知书 printed: {count} keys")
    path = write_result("keystrokes", {"scenario": "食品经营许可（新办）, person, phone, F4, F9",
                                       "keys": count})
    print(f"written {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
