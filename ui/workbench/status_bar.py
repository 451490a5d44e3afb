"""The workbench's status bar: where and who, the day's backup, the connection."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from app.config import Settings
from app.services.accounts import ROLE_NAMES, ClerkSession


class WorkbenchStatusBar(QStatusBar):
    """Built from settings and the session only: nothing here reads the database."""

    def __init__(self, settings: Settings, session: ClerkSession,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        s = settings
        demo = "（演示站点）" if s.is_demo_site else ""
        self.site_label = QLabel(f"站点：{s.site_name}{demo}")
        self.window_label = QLabel(f"窗口：{s.window}号　终端：{s.terminal}")
        self.clerk_label = QLabel()
        self.show_clerk(session)
        # Sync does not exist yet: standalone is the truth, a server URL means "not yet
        # connected" until the sync engine reports otherwise.
        text = "● 单机模式" if s.standalone else "● 离线（尚未连接服务器）"
        self.connection_label = QLabel(text)
        self.connection_label.setStyleSheet("color: #777;")
        for widget in (self.site_label, self.window_label, self.clerk_label):
            self.addWidget(widget)
        self.backup_label = QLabel("自动备份：已配置" if s.backup_dir else "自动备份：未配置")
        self.backup_label.setStyleSheet("color: #777;" if s.backup_dir else "color: #c62828;")
        self.addPermanentWidget(self.backup_label)
        self.addPermanentWidget(self.connection_label)

    def show_clerk(self, session: ClerkSession) -> None:
        self.clerk_label.setText(
            f"工作人员：{session.display_name}（{ROLE_NAMES[session.role]}）")

    def backup_done(self, path: Path | None) -> None:
        if path is not None:
            self.backup_label.setText(f"今日已备份 {path.name[-15:]}")
            self.backup_label.setStyleSheet("color: #2e7d32;")

    def backup_failed(self, exc: Exception) -> None:
        self.backup_label.setText("自动备份失败")
        self.backup_label.setStyleSheet("color: #c62828;")
        self.backup_label.setToolTip(str(exc))
        self.showMessage(f"自动备份失败：{exc}（请检查U盘或共享目录）", 15000)
