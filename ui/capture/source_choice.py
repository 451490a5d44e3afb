"""Where pages come from and how they are taken: the scan panel's source list (filled
by :func:`app.capture.sources.discover`, off the GUI thread) and its four profiles, one
key each (Ctrl+1…4), shown with what each one means."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QLabel, QWidget

from app.capture.profiles import DEFAULT, PROFILES, Profile
from app.capture.sources import Discovery, discover
from app.config import Settings
from ui.ops import Operation

TIP = "扫描来源（Ctrl+E）"


class SourceList(QComboBox):
    """The sources found; the one ``[devices] scanner`` names first, else the first
    found. The item data is the source's spec."""

    failed = Signal(str)

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._asked = False
        self.setToolTip(TIP)
        self.setPlaceholderText("正在查找扫描设备…")

    def look(self) -> None:
        """Look for sources (once: asking SANE takes a moment)."""
        if self._asked:
            return
        self._asked = True
        settings = self._settings
        Operation(self, lambda: discover(settings), self._discovered).failure(
            lambda exc: self.failed.emit(f"查找扫描设备失败：{exc}")).run()

    def _discovered(self, found: Discovery) -> None:
        wanted = self._settings.scanner.strip()
        if wanted and wanted not in [s.spec for s in found.sources]:
            # Configured but not seen now (switched off, on another network): still the
            # clerk's default — the scan then says what is wrong with it.
            self.addItem(f"设置中的扫描仪 {wanted}", wanted)
        for info in found.sources:
            self.addItem(info.name, info.spec)
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
