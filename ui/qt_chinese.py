"""Qt's own texts in Chinese: its translation file, and the labels that file lacks.

The labels it lacks are compiled, when the window starts, into a small translation in
Qt's own ``.qm`` format, loaded from memory: no Python runs when Qt looks a text up.
(An earlier ``QTranslator`` subclass answering in Python crashed the interpreter:
PySide6 6.12 releases one reference to None too many each time Qt calls a Python
``translate()`` without a disambiguation — that is, for nearly every text of every
dialog — and the process aborts with "deallocating None" once None runs out.)
"""

from __future__ import annotations

import struct

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

# Labels Qt reworded after qtbase_zh_CN was last translated, so the file has no entry
# for them: (context, source text) -> Chinese, in the file's own terms for the old text.
QT_TRANSLATION_GAPS = {
    ("QFileDialog", "&Look in:"): "查找范围(&L)：",
    ("QFileDialog", "Files of &type:"): "文件类型(&T)：",
    ("QPrintSettingsOutput", "Page &Set:"): "页面组(&S)：",
    ("QPageSetupWidget", "Page &order:"): "页面顺序(&O)：",
    ("QPageSetupWidget", "Pages &per sheet:"): "每张页数(&P)：",
    ("QAbstractFileIconProvider", "Folder"): "文件夹",
    ("QAbstractFileIconProvider", "Drive"): "驱动器",
}

# The .qm format as QTranslator reads it (qtranslator.cpp): a magic number, then blocks
# of tag, length (32-bit big-endian) and data. The hash block is sorted (hash, offset)
# pairs; each message at its offset is a run of tagged fields ended by TAG_END.
_QM_MAGIC = bytes.fromhex("3cb86418caef9c95cd211cbf60a1bddd")
_BLOCK_HASHES, _BLOCK_MESSAGES = 0x42, 0x69
_TAG_END, _TAG_TRANSLATION, _TAG_SOURCE_TEXT, _TAG_CONTEXT = 1, 3, 6, 7


def _elf_hash(text: bytes) -> int:
    """The hash QTranslator looks a source text up by (disambiguation empty)."""
    h = 0
    for byte in text:
        h = ((h << 4) + byte) & 0xFFFFFFFF
        g = h & 0xF0000000
        if g:
            h ^= g >> 24
        h &= ~g & 0xFFFFFFFF
    return h or 1


def compile_qm(messages: dict[tuple[str, str], str]) -> bytes:
    """A ``.qm`` translation of ``(context, source text) -> translation``, as
    ``lrelease`` would make it for messages without disambiguation or plural forms."""
    body = bytearray()
    index: list[tuple[int, int]] = []
    for (context, source), translation in messages.items():
        index.append((_elf_hash(source.encode()), len(body)))
        for tag, data in ((_TAG_TRANSLATION, translation.encode("utf-16-be")),
                          (_TAG_SOURCE_TEXT, source.encode()),
                          (_TAG_CONTEXT, context.encode())):
            body += struct.pack(">BI", tag, len(data)) + data
        body.append(_TAG_END)
    hashes = b"".join(struct.pack(">II", h, offset) for h, offset in sorted(index))
    return (_QM_MAGIC + struct.pack(">BI", _BLOCK_HASHES, len(hashes)) + hashes
            + struct.pack(">BI", _BLOCK_MESSAGES, len(body)) + bytes(body))


class _InMemoryTranslator(QTranslator):
    """Holds the bytes it was loaded from: QTranslator reads them in place, for as long
    as it lives."""

    def __init__(self, qm: bytes, parent: QCoreApplication) -> None:
        super().__init__(parent)
        self._qm = qm
        self.loaded = self.load(qm)


def install_translations(app: QCoreApplication) -> bool:
    """Qt's own texts in Chinese: the 确定/取消 of message boxes and button boxes, the
    Save As and Print dialogs. Their translations ship with PySide6; window PCs often
    run an English system locale, so they are loaded whatever the locale says.
    False when the translation file is missing (the window still works, in English)."""
    translator = QTranslator(app)   # parented: it must live as long as the application
    directory = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    if not translator.load("qtbase_zh_CN", directory):
        translator.deleteLater()
        return False
    app.installTranslator(translator)
    gaps = _InMemoryTranslator(compile_qm(QT_TRANSLATION_GAPS), app)
    if gaps.loaded:
        app.installTranslator(gaps)   # the last installed is asked first
    # Dates and numbers in Qt's dialogs (the print dialog's page ranges…) follow suit.
    QLocale.setDefault(QLocale(QLocale.Language.Chinese, QLocale.Country.China))
    return True
