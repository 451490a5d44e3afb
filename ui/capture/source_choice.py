"""Where pages come from and how they are taken: the scan panel's source list and its
four profiles, one key each (Ctrl+1…4), shown with what each one means.

The list holds the document cameras Qt Multimedia sees (asked on the GUI thread, where
Qt wants it and where it is quick) and what :func:`app.capture.sources.discover` finds
off the GUI thread (SANE takes seconds).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtMultimedia import QMediaDevices
from PySide6.QtWidgets import QComboBox, QLabel, QWidget

from app.capture.profiles import DEFAULT, PROFILES, Profile
from app.capture.source import SourceInfo
from app.capture.sources import Discovery, discover
from app.config import Settings
from ui.capture.camera import SPEC_PREFIX, camera_devices
from ui.ops import Operation

TIP = "扫描来源（Ctrl+E）"


class SourceList(QComboBox):
    """The sources found: the cameras first (a 高拍仪 is the usual device at a window),
    then the scanners, folder, file import and the fake. The one ``[devices] scanner``
    names is chosen, else the first. The item data is the source's spec."""

    failed = Signal(str)

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._asked = False
        # The cameras Qt sees now (tests put a list of their own here).
        self.cameras: Callable[[], list[SourceInfo]] = camera_devices
        self._devices: QMediaDevices | None = None
        self.setToolTip(TIP)
        self.setPlaceholderText("正在查找扫描设备…")

    def look(self) -> None:
        """Look for sources (once: asking SANE takes a moment). The cameras are listed
        at once; a camera plugged in later is added when Qt sees it."""
        if self._asked:
            return
        self._asked = True
        self._add_cameras()
        self._devices = QMediaDevices(self)
        self._devices.videoInputsChanged.connect(self._add_cameras)
        settings = self._settings
        Operation(self, lambda: discover(settings), self._discovered).failure(
            lambda exc: self.failed.emit(f"查找扫描设备失败：{exc}")).run()

    def _specs(self) -> list[str]:
        return [self.itemData(i) for i in range(self.count())]

    def _add_cameras(self) -> None:
        # Only added: a camera unplugged keeps its entry (choosing it says to plug it
        # in), and the chosen entry never changes under the clerk's hands.
        known = self._specs()
        at = 0
        while at < len(known) and known[at].startswith(SPEC_PREFIX):
            at += 1
        for info in self.cameras():
            if info.spec not in known:
                self.insertItem(at, info.name, info.spec)
                at += 1

    def _discovered(self, found: Discovery) -> None:
        wanted = self._settings.scanner.strip()
        if wanted and wanted not in [*self._specs(), *(s.spec for s in found.sources)]:
            # Configured but not seen now (switched off, on another network): still the
            # clerk's default — the scan then says what is wrong with it.
            self.addItem(f"设置中的扫描仪 {wanted}", wanted)
        for info in found.sources:
            self.addItem(info.name, info.spec)
        if self.currentIndex() < 0:   # the clerk has not picked one meanwhile
            self.setCurrentIndex(max(0, self.findData(wanted) if wanted else 0))
        if found.problems:
            self.setToolTip(TIP + "\n" + "\n".join(found.problems))

    @property
    def spec(self) -> str | None:
        data = self.currentData()
        return data if isinstance(data, str) else None

    def open_list(self) -> None:
        self.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.showPopup()


class ProfileChoice(QLabel):
    """The four profiles, the chosen one marked."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.profile: Profile = DEFAULT
        self._show()

    def choose(self, profile: Profile) -> None:
        self.profile = profile
        self._show()

    def _show(self) -> None:
        rows = []
        for p in PROFILES:
            text = f"Ctrl+{p.key} {p.name}（{p.summary}）"
            rows.append(f"<b>▶ {text}</b>" if p is self.profile
                        else f'<span style="color:#666">{text}</span>')
        self.setText("<br>".join(rows))
