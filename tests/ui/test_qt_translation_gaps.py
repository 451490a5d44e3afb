"""The labels Qt's Chinese file lacks are translated without Python in Qt's look-ups.

A QTranslator subclass answering in Python made PySide6 6.12 release a reference to None
on every look-up; a process that opened the Save As and Print dialogs aborted at exit
("deallocating None") once the core's imports no longer padded None's count. Checked in
a fresh process under an English locale, as tests/ui/test_qt_chinese.py does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

CHILD = """
import json, sys
from PySide6.QtCore import QCoreApplication
from ui.app import start_application
from ui.qt_chinese import QT_TRANSLATION_GAPS

app = start_application()
gaps = {f"{c}|{s}": QCoreApplication.translate(c, s) for c, s in QT_TRANSLATION_GAPS}
elsewhere = {s: QCoreApplication.translate("NoSuchContext", s) for _, s in QT_TRANSLATION_GAPS}
texts = [("QFileDialog", "&Look in:"), ("QFileDialog", "Save As"),
         ("QFileDialog", "A text no file has"), ("QPrintDialog", "Print")]
before = sys.getrefcount(None)
for _ in range(2000):
    for context, source in texts:
        QCoreApplication.translate(context, source)
print(json.dumps({"gaps": gaps, "elsewhere": elsewhere,
                  "none_refs_lost": before - sys.getrefcount(None)}, ensure_ascii=False))
"""


def _child() -> dict[str, Any]:
    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "LANGUAGE": "",
           "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                         encoding="utf-8", env=env, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_each_gap_label_is_chinese_in_its_own_context_only() -> None:
    from ui.qt_chinese import QT_TRANSLATION_GAPS

    result = _child()
    assert result["gaps"] == {f"{c}|{s}": zh for (c, s), zh in QT_TRANSLATION_GAPS.items()}
    assert result["elsewhere"] == {s: s for _, s in QT_TRANSLATION_GAPS}


def test_looking_texts_up_costs_no_reference_to_none() -> None:
    # 8,000 look-ups: the old translator lost 8,000 references (and aborted at exit).
    assert abs(_child()["none_refs_lost"]) < 50
