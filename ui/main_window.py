"""The workbench: panels in tabs (the catalogue browser first), menus, the status bar."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QTabWidget, QWidget

from app import __version__
from app.domain.case import Clerk
from app.services.accounts import ROLE_NAMES, ClerkSession
from app.workstation import Workstation
from ui.catalogue_panel import CataloguePanel
from ui.login import ChangePasswordDialog
from ui.tasks import run_in_background

SHORTCUTS = (
    ("F2 / Ctrl+F", "事项搜索"),
    ("↓ ↑", "在结果中移动"),
    ("Enter", "打开事项"),
    ("Esc", "返回搜索 / 清空搜索"),
    ("Ctrl+P", "打印一次性告知单（事项页）/ 打印（预览中）"),
    ("F6", "文书打印 / 补打（输入或扫描办件编号；Enter 预览，Ctrl+P 直接打印）"),
    ("F1", "快捷键说明"),
)


class MainWindow(QMainWindow):
    def __init__(self, station: Workstation, session: ClerkSession,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.station = station
        self.session = session
        s = station.settings
        self.setWindowTitle(f"一窗通 — {s.site_name} {s.window}号窗口")
        # Fit small screens too (many window PCs are 1366×768); the program maximizes
        # the window anyway where a window manager allows it.
        screen = QGuiApplication.primaryScreen()
        avail = screen.availableGeometry() if screen is not None else None
        self.resize(min(1280, avail.width()) if avail else 1280,
                    min(800, avail.height()) if avail else 800)

        self.tabs = QTabWidget()
        # Not a Tab stop: it would sit in every page's Tab walk doing nothing; the tabs
        # are clicked, or reached by their shortcuts (F2…).
        self.tabs.tabBar().setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.catalogue_panel = CataloguePanel(station.catalogue)
        self.tabs.addTab(self.catalogue_panel, "事项目录 (F2)")
        self.setCentralWidget(self.tabs)
        self._build_menus()
        self._build_status_bar()
        self.catalogue_panel.detail.print_requested.connect(self.print_checklist)
        # Printing on system printers goes through Qt in the window (CUPS in the CLI).
        station.documents.system_spooler = _qt_spooler
        self.catalogue_panel.focus_search()
        # The daily backup to the configured USB disk or share: now, then hourly (the
        # window stays open across midnight); it copies while the clerk keeps working.
        self._backup_timer = QTimer(self)
        self._backup_timer.setInterval(60 * 60 * 1000)
        self._backup_timer.timeout.connect(self.backup_if_due)
        if s.backup_dir:
            self._backup_timer.start()
            QTimer.singleShot(0, self.backup_if_due)

    def backup_if_due(self) -> None:
        from app.services.backup import BackupService

        service = BackupService(self.station.settings, self.station.db)
        run_in_background(self, service.backup_if_due, self._backup_done, self._backup_failed)

    def _backup_done(self, info: object) -> None:
        path = getattr(info, "path", None)
        if path is not None:
            self.backup_label.setText(f"今日已备份 {path.name[-15:]}")
            self.backup_label.setStyleSheet("color: #2e7d32;")

    def _backup_failed(self, exc: Exception) -> None:
        self.backup_label.setText("自动备份失败")
        self.backup_label.setStyleSheet("color: #c62828;")
        self.backup_label.setToolTip(str(exc))
        self.statusBar().showMessage(f"自动备份失败：{exc}（请检查U盘或共享目录）", 15000)

    @property
    def clerk(self) -> Clerk:
        return self.station.clerk(self.session)

    def print_checklist(self, code: str, scenarios: frozenset[str]) -> None:
        from ui.print_preview import DocumentPreview

        documents, clerk = self.station.documents, self.clerk
        preview = DocumentPreview(
            documents, clerk, lambda: documents.render_checklist(code, clerk, scenarios), self)
        preview.open()

    def print_case_documents(self) -> None:
        from ui.case_documents import CaseDocumentsDialog

        CaseDocumentsDialog(self.station.documents, self.clerk, self).open()

    def _action(self, text: str, keys: list[QKeySequence], slot: object) -> QAction:
        action = QAction(text, self)
        action.setShortcuts(keys)
        action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        work = bar.addMenu("业务(&B)")
        work.addAction(self._action("事项搜索", [QKeySequence("F2"), QKeySequence("Ctrl+F")],
                                    self.show_catalogue))
        work.addAction(self._action("文书打印 / 补打…", [QKeySequence("F6")],
                                    self.print_case_documents))
        account = bar.addMenu("账号(&A)")
        account.addAction(self._action("修改密码…", [], self.change_password))
        account.addSeparator()
        account.addAction(self._action("退出", [QKeySequence("Ctrl+Q")], self.close))
        help_menu = bar.addMenu("帮助(&H)")
        help_menu.addAction(self._action("快捷键", [QKeySequence("F1")], self.show_shortcuts))
        help_menu.addAction(self._action("关于一窗通", [], self.show_about))

    def _build_status_bar(self) -> None:
        s = self.station.settings
        status = self.statusBar()
        demo = "（演示站点）" if s.is_demo_site else ""
        self.site_label = QLabel(f"站点：{s.site_name}{demo}")
        self.window_label = QLabel(f"窗口：{s.window}号　终端：{s.terminal}")
        self.clerk_label = QLabel(
            f"工作人员：{self.session.display_name}（{ROLE_NAMES[self.session.role]}）")
        # Sync does not exist yet: standalone is the truth, a server URL means "not yet
        # connected" until the sync engine reports otherwise.
        text = "● 单机模式" if s.standalone else "● 离线（尚未连接服务器）"
        self.connection_label = QLabel(text)
        self.connection_label.setStyleSheet("color: #777;")
        for widget in (self.site_label, self.window_label, self.clerk_label):
            status.addWidget(widget)
        self.backup_label = QLabel("自动备份：已配置" if s.backup_dir else "自动备份：未配置")
        self.backup_label.setStyleSheet("color: #777;" if s.backup_dir else "color: #c62828;")
        status.addPermanentWidget(self.backup_label)
        status.addPermanentWidget(self.connection_label)

    def show_catalogue(self) -> None:
        self.tabs.setCurrentWidget(self.catalogue_panel)
        self.catalogue_panel.focus_search()

    def change_password(self) -> None:
        dialog = ChangePasswordDialog(self.station.accounts, self.session, forced=False,
                                      parent=self)
        if dialog.exec() and dialog.session is not None:
            self.session = dialog.session
            self.statusBar().showMessage("密码已修改。", 5000)

    def show_shortcuts(self) -> None:
        text = "\n".join(f"{keys}\t{what}" for keys, what in SHORTCUTS)
        QMessageBox.information(self, "快捷键", text)

    def show_about(self) -> None:
        s = self.station.settings
        QMessageBox.about(self, "关于一窗通",
                          f"一窗通 {__version__}\n政务服务综合窗口客户端\n\n"
                          f"数据目录：{s.data_dir}\n站点编码：{s.site_code}")


def _qt_spooler(pdf: bytes, printer: str) -> None:
    # QtPdf and QtPrintSupport load on the first print, not at start-up.
    from ui.system_printer import print_pdf

    print_pdf(pdf, printer)
