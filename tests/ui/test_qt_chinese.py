"""Qt's own dialogs speak Chinese once the application has started (issue 9).

A new clerk met OK/Cancel, Save As and Print in English: Qt's standard texts come from
its translations, which nothing loaded. Checked in a fresh process under an English
locale (``LANG=C.UTF-8``), as many window PCs are set up, so nothing the test process did
before can help.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

CHILD = """
import json
import re
from PySide6.QtCore import QCoreApplication, QDir, QFileInfo, QLocale
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import (QDialogButtonBox, QFileDialog, QFileIconProvider, QLineEdit,
                               QMessageBox, QWidget)
from ui.app import start_application

app = start_application()
box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
question = QMessageBox(QMessageBox.Icon.Question, "t", "x",
                       QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)


def english(dialog):
    # Visible texts of a dialog with a word of Latin letters (paths and PDF aside).
    dialog.show()
    app.processEvents()
    found = []
    for widget in [dialog, *dialog.findChildren(QWidget)]:
        if not widget.isVisible() or isinstance(widget, QLineEdit):
            continue
        for getter in ("text", "title", "windowTitle"):
            text = getattr(widget, getter, lambda: "")()
            if isinstance(text, str) and re.search("[A-Za-z]{3,}", text.replace("PDF", "")):
                found.append(text)
    dialog.close()
    return found


save_as = QFileDialog(None, "另存为")
save_as.setOption(QFileDialog.Option.DontUseNativeDialog)   # Qt's own, as offscreen
save_as.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
save_as.setDirectory("/")
printer = QPrinter()   # kept: the dialog uses it until it is gone

print(json.dumps({
    "save_as_dialog": english(save_as),
    "print_dialog": english(QPrintDialog(printer)),
    "ok": box.button(QDialogButtonBox.StandardButton.Ok).text(),
    "cancel": box.button(QDialogButtonBox.StandardButton.Cancel).text(),
    "yes": question.button(QMessageBox.StandardButton.Yes).text(),
    "save_as": QCoreApplication.translate("QFileDialog", "Save As"),
    "print": QCoreApplication.translate("QPrintDialog", "Print"),
    "locale": QLocale().name(),
    "folder": QFileIconProvider().type(QFileInfo(QDir.tempPath())),
}, ensure_ascii=False))
"""


def _started_application_texts() -> dict[str, Any]:
    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "LANGUAGE": "",
           "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                         encoding="utf-8", env=env, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    texts: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return texts


def test_after_start_qt_standard_buttons_and_dialog_titles_are_chinese() -> None:
    texts = _started_application_texts()
    assert texts["ok"] == "确定"
    assert texts["cancel"] == "取消"
    assert texts["yes"] == "是(&Y)"
    assert texts["save_as"] == "另存为"
    assert texts["print"] == "打印"
    assert texts["locale"] == "zh_CN"


def test_after_start_the_save_as_and_print_dialogs_show_no_english_label_or_file_type() -> None:
    texts = _started_application_texts()
    # Labels Qt reworded since its Chinese file was made (查找范围, 文件类型…) included.
    assert texts["save_as_dialog"] == []
    assert texts["print_dialog"] == []
    assert texts["folder"] == "文件夹"   # the type column of the file list
