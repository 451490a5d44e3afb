"""What ``yichuang --version`` and ``yichuang catalog search`` import: a claim about modules.

Each runs in a fresh process through the installed entry point (``ui.launcher:main``),
which then reports ``sys.modules``. How fast that is belongs to bench/cli_startup.py;
here only *what* is loaded is checked, which does not depend on the machine.

``catalog search`` reads the catalogue from the database, so SQLAlchemy and the
workstation's services are loaded; the document, PDF, image, printer, pinyin and Qt
libraries are not. ``--version`` loads none of them and no service at all.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import REPO_ROOT, cli_command

# Exactly what the ``yichuang`` script does, then the loaded modules into a file.
_WRAPPER = """
import json, sys
out, sys.argv = sys.argv[1], ["yichuang", *sys.argv[2:]]
from ui.launcher import main
try:
    code = main()
except SystemExit as exc:
    code = exc.code
with open(out, "w", encoding="utf-8") as f:
    json.dump(sorted(sys.modules), f)
raise SystemExit(code)
"""

# Not for a look-up in the catalogue: PDF and images, printers, pinyin, Qt.
NEVER_FOR_SEARCH = ("reportlab", "PIL", "pikepdf", "fontTools", "escpos", "qrcode", "barcode",
                    "pypinyin", "PySide6", "shiboken6", "alembic", "requests", "ui.app")
# --version needs none of the above, no database and no service either.
NEVER_FOR_VERSION = (*NEVER_FOR_SEARCH, "sqlalchemy", "argon2", "stdnum", "chinese_calendar",
                     "app.workstation", "app.services", "app.storage", "app.config")


def _modules(home: Path, tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str],
                                                              set[str]]:
    _, env = cli_command(home, *args)   # the tests' environment; the wrapper, not -m app
    out = tmp_path / "modules.json"
    proc = subprocess.run([sys.executable, "-c", _WRAPPER, str(out), *args], env=env,
                          cwd=REPO_ROOT, capture_output=True, text=True, encoding="utf-8",
                          timeout=60, check=False)
    return proc, set(json.loads(out.read_text(encoding="utf-8")))


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """``names`` (packages, with their sub-modules) that were imported."""
    return sorted(m for m in modules for n in names if m == n or m.startswith(n + "."))


def test_version_imports_no_database_service_or_document_library(
        seeded_cli_home: Path, tmp_path: Path) -> None:
    proc, modules = _modules(seeded_cli_home, tmp_path, "--version")
    assert (proc.returncode, proc.stdout.split()[0]) == (0, "yichuang"), proc.stderr
    assert "app.cli" in modules    # the parser was built: every command module imported
    assert _loaded(modules, NEVER_FOR_VERSION) == [], (
        "a module of app/cli imports these when the parser is built: import Workstation "
        "under TYPE_CHECKING and services inside the command functions")


@pytest.mark.parametrize("query", ["营业执照", "yyzz"])
def test_catalog_search_imports_no_document_printer_pinyin_or_qt_library(
        query: str, seeded_cli_home: Path, tmp_path: Path) -> None:
    proc, modules = _modules(seeded_cli_home, tmp_path, "catalog", "search", query)
    assert proc.returncode == 0, proc.stderr
    assert "营业执照遗失补领（个体工商户）" in proc.stdout   # found it, whatever ranks above
    assert "app.services.catalogue" in modules   # it did search the catalogue
    assert _loaded(modules, NEVER_FOR_SEARCH) == []
