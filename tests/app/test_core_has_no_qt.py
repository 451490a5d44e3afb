"""The core (``app/``) must never load Qt: the CLI and the server run without it.

The layering itself (``app`` imports neither PySide6/shiboken6 nor ``ui``, and the layers
inside ``app``) is a static rule checked by import-linter: see ``[tool.importlinter]`` in
pyproject.toml and the ``./test`` script. What import-linter cannot see is an import made
at run time (``importlib.import_module``, ``__import__``, a plugin hook…), so this test
imports every core module in a fresh interpreter and looks at what got loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
APP_DIR = REPO_ROOT / "app"
QT_PACKAGES = ("PySide6", "PySide2", "PyQt6", "PyQt5", "shiboken6", "qtpy")

IMPORT_ALL = """
import importlib, json, pkgutil, sys
import app

qt_packages = set(sys.argv[1].split(","))
imported = []
for info in pkgutil.walk_packages(app.__path__, "app."):
    if info.name.rsplit(".", 1)[-1] == "__main__":   # importing it would run the CLI
        continue
    importlib.import_module(info.name)
    imported.append(info.name)
qt = sorted(m for m in sys.modules if m.split(".")[0] in qt_packages)
print(json.dumps({"imported": imported, "qt": qt}))
"""


def test_importing_every_core_module_loads_no_qt() -> None:
    result = subprocess.run([sys.executable, "-c", IMPORT_ALL, ",".join(QT_PACKAGES)],
                            capture_output=True, text=True, cwd=REPO_ROOT, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    expected = {
        ".".join(p.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in APP_DIR.rglob("*.py")
        if "migrations" not in p.parts and p.name != "__main__.py"}
    expected.discard("app")
    # Every core module was imported (a module the walk missed would go unchecked) …
    assert set(report["imported"]) == expected
    # … and not one Qt module came along.
    assert report["qt"] == []
