"""ID-card readers at the applicant form: the keyboard wedge and the reader's folder.

:class:`KeyboardWedge` watches the form's fields for what a reader in keyboard mode
types — the card number, sometimes with the name and a Tab, then Enter — wherever the
focus happens to be. It is recognised by content, not by typing speed: a whole,
check-digit-valid card number appearing in a field that is not its number field (a
person's name never holds one), or digits typed on a choice or a switch (where they
mean nothing). The number is moved to the person's number field and the name kept in
the name field; the wedge's Tab and Enter that follow are absorbed so that they neither
lose the name nor submit the form.

:class:`ReaderFolder` watches the folder a reader program writes a text file into per
card (``QFileSystemWatcher``); files are listed, read and deleted by an
:class:`ui.ops.Operation`, never on the GUI thread. A file is deleted once read: the
card's data is then in the form (and in the case record once opened), and a folder of
every applicant's name, number and address left on a counter PC is a liability, not a
record. Files it cannot read are left in place — they may not be the reader's — and
reported once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from PySide6.QtCore import QEvent, QFileSystemWatcher, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QDropEvent, QKeyEvent
from PySide6.QtWidgets import QApplication, QLineEdit, QWidget

from app.domain.id_card import (
    MAX_READER_FILE_BYTES,
    IdCardFileError,
    IdCardRecord,
    check_reader_file_size,
    find_card_number,
    looks_like_name,
    parse_reader_file,
)
from ui.ops import Operation

READER_SUFFIXES = (".txt", ".ini")   # what reader programs write; other files are not ours
SETTLE_S = 1.0        # a file younger than this may still be being written: read it again
FRESH_S = 120.0       # a card read this long before the form opened is still this applicant's
RESCAN_MS = 300
CHANGE_MS = 100       # let a burst of directory events settle into one scan

Signature = tuple[str, int, int]   # file name, size, mtime: "this version of this file"


@dataclass(frozen=True)
class WedgePerson:
    """The fields of one person a card fills: the applicant's or the agent's; for an
    organisation its legal representative, whose number has no field (``id_number`` None)."""

    name: QLineEdit
    id_number: QLineEdit | None
    digit_fields: tuple[QLineEdit, ...] = ()   # for digits (the phone): a name there is the card's
    other_fields: tuple[QLineEdit, ...] = ()   # where a burst may land too (address, relation)
    redirect: tuple[QWidget, ...] = ()         # choices, switches: digits typed there go to id_number

    def holds(self, widget: QObject) -> bool:
        return widget in (self.name, self.id_number, *self.digit_fields, *self.other_fields)


class KeyboardWedge(QObject):
    """Recognises a reader's keystrokes in the form; see the module docstring."""

    # WedgePerson, CardNumber, and whether a reader typed it (not the clerk, in its own field)
    recognised = Signal(object, object, bool)
    settled = Signal(object)              # WedgePerson: the wedge's Enter after the number

    def __init__(self, edits: Sequence[QLineEdit], redirects: Sequence[QWidget],
                 people: Callable[[], list[WedgePerson]], parent: QObject) -> None:
        super().__init__(parent)
        self._people = people            # asked each time: they depend on the form's state
        self._after: WedgePerson | None = None   # a number was moved: its Tab, Enter follow
        self._tab_absorbed = False
        self._redirected: QLineEdit | None = None   # digits sent here from a choice
        for edit in edits:
            edit.textEdited.connect(lambda text, e=edit: self._edited(e, text))
            edit.installEventFilter(self)
        for widget in redirects:
            widget.installEventFilter(self)

    def _person_of(self, widget: QObject) -> WedgePerson | None:
        return next((p for p in self._people() if p.holds(widget) or widget in p.redirect), None)

    def _edited(self, edit: QLineEdit, text: str) -> None:
        person = self._person_of(edit)
        found = find_card_number(text)
        if person is None or found is None:
            return
        if edit is person.id_number:
            # Typed where it belongs; a name typed just before it (no Tab) goes up.
            if found.rest and looks_like_name(found.rest):
                person.name.setText(found.rest)
            if text != found.number:
                edit.setText(found.number)
            by_reader = edit is self._redirected or bool(found.rest)
            self._redirected = None
            self.recognised.emit(person, found, by_reader)
            return
        edit.setText(found.rest)
        if person.id_number is not None:
            # "姓名<Tab>号码" typed from the number field: the name is in a digits field.
            for other in (*person.digit_fields, person.id_number):
                if other is not edit and looks_like_name(other.text()):
                    person.name.setText(other.text())
                    other.clear()
            person.id_number.setText(found.number)
        self._after, self._tab_absorbed = person, False
        # The name field takes what follows ("号码<Tab>姓名"): a name typed by the clerk
        # before is selected, so the card's replaces it.
        person.name.setFocus(Qt.FocusReason.OtherFocusReason)
        person.name.selectAll()
        self.recognised.emit(person, found, True)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.KeyPress:
            return self._key(watched, cast(QKeyEvent, event))
        if kind == QEvent.Type.FocusOut:   # the burst is over once its field is left
            if self._after is not None and watched is self._after.name:
                self._after = None
            if watched is self._redirected:
                self._redirected = None
        return False

    def _key(self, watched: QObject, event: QKeyEvent) -> bool:
        after = self._after
        if after is not None and watched is after.name:
            if event.key() in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab) and not self._tab_absorbed:
                self._tab_absorbed = True    # one: the wedge's; the clerk's next Tab walks on
                return True
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self._after = None
                self.settled.emit(after)
                return True
            return False
        text = event.text()
        if len(text) == 1 and text.isdigit() and text.isascii() \
                and not isinstance(watched, QLineEdit):
            person = self._person_of(watched)
            if person is not None and person.id_number is not None:
                # A choice or a switch has the focus: digits mean nothing there, they are
                # a number being typed (the Tab of "姓名<Tab>号码" landed here).
                target = person.id_number
                target.setFocus(Qt.FocusReason.OtherFocusReason)
                target.selectAll()
                self._redirected = target
                QApplication.sendEvent(target, QKeyEvent(event.type(), event.key(),
                                                         event.modifiers(), text))
                return True
        return False


# -- the reader's folder --------------------------------------------------------------------

def read_card_file(path: Path) -> IdCardRecord:
    """Read and parse one file, at most :data:`MAX_READER_FILE_BYTES` of it (worker thread)."""
    with path.open("rb") as handle:
        check_reader_file_size(os.fstat(handle.fileno()).st_size)
        data = handle.read(MAX_READER_FILE_BYTES + 1)
    return parse_reader_file(data)


def take_dropped_card(path: Path, reader_dir: Path | None) -> tuple[IdCardRecord, bool]:
    """A file dropped on the form: the card, and whether the file was deleted.

    Only a file in the reader's folder is deleted; one dragged from elsewhere belongs to
    whoever put it there, and is left (the form says so).
    """
    card = read_card_file(path)
    if reader_dir is not None and path.resolve().parent == reader_dir.resolve():
        path.unlink(missing_ok=True)
        return card, True
    return card, False


@dataclass
class FolderScan:
    exists: bool = True
    cards: list[IdCardRecord] = field(default_factory=list)   # oldest first
    refused: list[tuple[Signature, str]] = field(default_factory=list)
    kept: list[tuple[Signature, str]] = field(default_factory=list)   # read, not deletable
    retry: bool = False          # a file still being written: look again shortly
    stale: int = 0               # card files from before the form opened, deleted unread


def scan_folder(folder: Path, *, opened_at: float, first: bool,
                skip: frozenset[Signature]) -> FolderScan:
    """Take every card file in ``folder``: read, then delete (worker thread).

    In the first scan, cards read well before the form opened are someone else's: they
    are deleted unread (``stale``). Later, any card is new: a file copied in keeps its
    old time.
    """
    scan = FolderScan()
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except FileNotFoundError:
        return FolderScan(exists=False)
    found: list[tuple[float, IdCardRecord]] = []
    now = time.time()
    for entry in entries:
        if not entry.name.lower().endswith(READER_SUFFIXES) or not entry.is_file():
            continue
        try:
            stat = entry.stat()
        except FileNotFoundError:
            continue
        signature = (entry.name, stat.st_size, stat.st_mtime_ns)
        if signature in skip:
            continue
        try:
            card = read_card_file(Path(entry.path))
        except FileNotFoundError:
            continue
        except (IdCardFileError, OSError) as exc:
            if now - stat.st_mtime < SETTLE_S:
                scan.retry = True     # probably half-written
            else:
                scan.refused.append((signature, f"{entry.name}：{exc}"))
            continue
        try:
            os.unlink(entry.path)
        except FileNotFoundError:
            continue                  # taken by another window meanwhile
        except OSError as exc:
            scan.kept.append((signature, f"读卡文件 {entry.name} 未能删除，请手工删除：{exc}"))
        if first and stat.st_mtime < opened_at - FRESH_S:
            scan.stale += 1           # someone else's card, read long ago
        else:
            found.append((stat.st_mtime, card))
    scan.cards = [card for _mtime, card in sorted(found, key=lambda f: f[0])]
    return scan


class ReaderFolder(QObject):
    """Cards written into a reader program's folder, while the form is shown."""

    card_read = Signal(object)   # IdCardRecord: the newest card of a scan
    refused = Signal(str)        # a file that is no card read, or the folder is missing

    def __init__(self, folder: Path, parent: QObject) -> None:
        super().__init__(parent)
        self.folder = folder
        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(lambda _path: self._soon(CHANGE_MS))
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._scan)
        self._active = False
        self._scanning = False
        self._again = False
        self._opened_at = 0.0
        self._first = True
        self._reported: set[Signature] = set()
        self.scans = 0               # finished scans (tests wait for them)

    @property
    def active(self) -> bool:
        return self._active

    @property
    def watching(self) -> bool:
        """The folder is under watch: a new file is seen without waiting for a scan."""
        return bool(self._watcher.directories())

    @property
    def idle(self) -> bool:
        return not self._scanning and not self._timer.isActive()

    def follow_visibility(self, widget: QWidget) -> None:
        """Watch while ``widget`` is shown: a hidden form must not take the next card."""
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Show:
            self.start()
        elif event.type() == QEvent.Type.Hide:
            self.stop()
        return False

    def start(self) -> None:
        if self._active:
            return
        self._active = True
        self._opened_at = time.time()
        self._first = True
        self._scan()                 # what is there already; the watch is set once it exists

    def stop(self) -> None:
        self._active = False
        self._timer.stop()
        if self._watcher.directories():
            self._watcher.removePaths(self._watcher.directories())

    def _soon(self, ms: int) -> None:
        if self._active:
            self._timer.start(ms)

    def _scan(self) -> None:
        if not self._active:
            return
        if self._scanning:
            self._again = True
            return
        self._scanning = True
        folder, opened_at, first = self.folder, self._opened_at, self._first
        self._first = False
        skip = frozenset(self._reported)
        Operation(self, lambda: scan_folder(folder, opened_at=opened_at, first=first,
                                            skip=skip),
                  self._scanned).failure(self._failed).run()

    def _failed(self, exc: Exception) -> None:
        self._scanning = False
        self.scans += 1
        if self._active:
            self.refused.emit(f"读卡文件夹 {self.folder} 无法读取：{exc}")

    def _scanned(self, scan: FolderScan) -> None:
        self._scanning = False
        self.scans += 1
        if not self._active:
            return
        if not scan.exists:
            self.refused.emit(f"读卡文件夹 {self.folder} 不存在：请检查读卡程序的保存位置和本机设置。")
            return
        if str(self.folder) not in self._watcher.directories():
            self._watcher.addPath(str(self.folder))
            self._again = True       # a card written before the watch began
        for signature, message in (*scan.refused, *scan.kept):
            self._reported.add(signature)
            self.refused.emit(message)
        if scan.cards:
            self.card_read.emit(scan.cards[-1])   # older ones in the same scan are superseded
        if scan.retry:
            self._soon(RESCAN_MS)
        elif self._again:
            self._again = False
            self._soon(CHANGE_MS)


class CardDrops(QObject):
    """A reader file dragged onto the form or one of its fields (which would otherwise
    paste the file's path): read off the GUI thread."""

    card_read = Signal(object, object, bool)   # IdCardRecord, Path, deleted
    refused = Signal(str)

    def __init__(self, widgets: Sequence[QWidget], reader_dir: Path | None,
                 parent: QObject) -> None:
        super().__init__(parent)
        self._reader_dir = reader_dir
        for widget in widgets:
            widget.setAcceptDrops(True)
            widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() not in (QEvent.Type.DragEnter, QEvent.Type.DragMove,
                                QEvent.Type.Drop):
            return False
        drop = cast(QDropEvent, event)
        files = [u.toLocalFile() for u in drop.mimeData().urls() if u.isLocalFile()]
        if not files:
            return False      # dragged text goes into a field as usual
        drop.acceptProposedAction()
        if event.type() == QEvent.Type.Drop:
            self.take(Path(files[0]))
        return True

    def take(self, path: Path) -> None:
        reader_dir = self._reader_dir
        Operation(self, lambda: take_dropped_card(path, reader_dir),
                  lambda result: self.card_read.emit(result[0], path, result[1])).failure(
            lambda exc: self.refused.emit(f"{path.name}：{exc}")).run()
