"""The core (``app/``) must never import Qt: the CLI and the server run without it."""

from __future__ import annotations

import ast
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
    if info.name == "app.__main__":   # importing it would run the CLI
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
    assert set(report["imported"]) == expected
    assert report["qt"] == []


def _qt_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                  "import_module", "__import__")):
            names = [node.args[0].value]
        found += [f"{path.name}:{node.lineno} {n}" for n in names
                  if n.split(".")[0] in QT_PACKAGES]
    return found


def test_no_core_source_file_imports_qt() -> None:
    files = sorted(APP_DIR.rglob("*.py"))
    assert len(files) > 20
    offenders = [hit for path in files for hit in _qt_imports(path)]
    assert offenders == []


def test_the_scan_itself_sees_qt_imports(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import os, PySide6.QtCore\nfrom PyQt6 import QtGui\n"
                     "from . import sibling\nimport importlib\n"
                     "importlib.import_module('PySide6.QtWidgets')\n", encoding="utf-8")
    assert [h.split(" ", 1)[1] for h in _qt_imports(probe)] == [
        "PySide6.QtCore", "PyQt6", "PySide6.QtWidgets"]
