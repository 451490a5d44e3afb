"""The workbench: panels in tabs (the catalogue browser first), menus, the status bar.

Closing waits (boundedly, saying so in the status bar) for the background operations
still running — a print being archived, the backup — so that none of them is cut off
when the program then disposes of the database engine.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QDialog, QMainWindow, QMessageBox, QTabWidget, QWidget

from app import __version__
from app.domain.case import CaseState, CaseStatus, Clerk, awaits_materials
from app.domain.catalogue import Bundle, ServiceItem
from app.errors import UserError
from app.services.accounts import ClerkSession
from app.services.drafts import AcceptanceDraft
from app.services.permissions import Action, allowed
from app.workstation import Workstation
from ui import ops
from ui.cases.case_list_panel import CaseListPanel
from ui.cases.pickup_desk import PickupPanel
from ui.catalogue.panel import CataloguePanel
from ui.events import ChangeEvents
from ui.ops import Operation
from ui.workbench.acceptance import AcceptancePanel
from ui.workbench.login import ChangePasswordDialog
from ui.workbench.prompts import TextPrompt
from ui.workbench.queue_panel import QueuePanel
from ui.workbench.status_bar import WorkbenchStatusBar

if TYPE_CHECKING:
    from ui.queue.followups import RatingFollowUpDialog
    from ui.workbench.consultation import ConsultationLogDialog
    from ui.workbench.queue_stats import QueueStatsDialog

# How long closing waits for running operations (a slow printer driver) before it
# closes anyway; the status bar says what it waits for meanwhile.
CLOSE_WAIT_MS = 30_000

SHORTCUTS = (
    ("F2 / Ctrl+F", "事项搜索"),
    ("↓ ↑", "在结果中移动"),
    ("Enter", "打开事项"),
    ("Esc", "返回搜索 / 清空搜索"),
    ("F3", "收件（事项页）：登记申请人，核验材料，作出受理决定"),
    ("1-6 / 0", "收件材料：已收取 缺失 有误 容缺 告知承诺 共享获取 / 清除"),
    ("Ctrl+O", "收件表单：调出以往申请人资料（按证件号码找到时，先打码显示）"),
    ("F4 / Ctrl+A", "其余材料全部收取"),
    ("F9 F10 F11 F12", "受理（即办） 补正 不予受理 容缺受理"),
    ("Ctrl+S", "收件清单：扫描到所选材料（Ctrl+1–4 扫描方案，Ctrl+E 来源，Esc 取消，"
               "Ctrl+Shift+S 重扫所选页）"),
    ("Tab", "收件清单 → 缩略图：R/Shift+R 旋转 Ctrl+←→ 调整顺序 Del 删除 M 移到其他材料 "
            "Enter 放大（+ - 缩放，F 适合窗口）"),
    ("Ctrl+P", "打印一次性告知单（事项页）/ 打印（预览中）"),
    ("F5", "补正 / 容缺补交（输入或扫描办件编号，材料已勾选，补齐后 F9）"),
    ("F7", "出件：扫描取件通知单；1/2/3 出件方式，F5 记录办结，F9 出件，Ctrl+P 补打送达回证"),
    ("Ctrl+K", "咨询登记（事项页上即为该事项），可打印一次性告知单；Ctrl+Shift+K 今日咨询"),
    ("F6", "文书打印 / 补打（输入或扫描办件编号；Enter 预览，Ctrl+P 直接打印）"),
    ("F8", "办件查询：Alt+1 今日收件 Alt+2 待取件 Alt+3 补正中 Alt+4 电子监察（黄牌、红牌） Alt+5 全部；"
           "↓ 进入列表，Enter 打开（补正/补交、出件或文书）"),
    ("Alt+Q", "叫号：F9 叫号 F10 重呼 F11 过号 F12 办结 F4 挂起 F3 为此号收件 Ctrl+T 转移 "
              "Ctrl+R 回呼 Ctrl+W 暂停/恢复本窗口 Ctrl+M 手工叫号（排队系统不可用时）"),
    ("Ctrl+Shift+Q", "排队统计：取号、等候和办理时长、过号、评价，按类别、窗口和人员；等候超30分钟提示"),
    ("Ctrl+Shift+H", "差评回访（值班长、管理员）：Enter 填写整改情况，Ctrl+Enter 记录，F8 含已回访"),
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

        self.events = ChangeEvents.watching(station.db, s.database_path, self)
        self.close_wait_ms = CLOSE_WAIT_MS
        self._waiting_to_close = False
        self._stop_waiting = False
        self._closed = False

        self.tabs = QTabWidget()
        # Not a Tab stop: it would sit in every page's Tab walk doing nothing; the tabs
        # are clicked, or reached by their shortcuts (F2…).
        self.tabs.tabBar().setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.catalogue_panel = CataloguePanel(station.catalogue, self.events)
        self.tabs.addTab(self.catalogue_panel, "事项目录 (F2)")
        self.pickup_panel = PickupPanel(station, self.clerk, self.events)
        self.pickup_panel.finished.connect(self.show_catalogue)
        self.tabs.addTab(self.pickup_panel, "出件 (F7)")
        self.case_list = CaseListPanel(station, self.events)
        self.case_list.case_chosen.connect(self.open_listed_case)
        self.tabs.addTab(self.case_list, "办件 (F8)")
        self.queue_panel = QueuePanel(station, self.clerk, self.events)
        self.queue_panel.start_case.connect(self.receive_for_ticket)
        self.tabs.addTab(self.queue_panel, "叫号 (Alt+Q)")
        self.pending_ticket = ""   # called at the queue panel, for the next 收件
        self.setCentralWidget(self.tabs)
        self._build_menus()
        # On the 出件 desk F5 records 办结 (its own key): two live F5 shortcuts would
        # cancel each other out, so the window's gives way there.
        self.tabs.currentChanged.connect(lambda _index: self.return_visit_action.setEnabled(
            self.tabs.currentWidget() is not self.pickup_panel))
        self.status = WorkbenchStatusBar(s, session)
        self.setStatusBar(self.status)
        # Kept as the window's own names: tests and later panels read them.
        self.site_label, self.window_label = self.status.site_label, self.status.window_label
        self.clerk_label, self.backup_label = self.status.clerk_label, self.status.backup_label
        self.connection_label = self.status.connection_label
        self.catalogue_panel.detail.print_requested.connect(self.print_checklist)
        self.catalogue_panel.detail.accept_requested.connect(self.start_acceptance)
        self.catalogue_panel.detail.bundle_accept_requested.connect(self.start_bundle)
        self.acceptance: AcceptancePanel | None = None
        self.return_prompt: TextPrompt | None = None
        self.notice: QMessageBox | None = None
        self.consultation: QDialog | None = None
        self.consultation_log: ConsultationLogDialog | None = None
        self.queue_stats: QueueStatsDialog | None = None
        self.followups: RatingFollowUpDialog | None = None
        self.catalogue_panel.focus_search()
        self._offer_draft()
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
        Operation(self, service.backup_if_due, self._backup_done).failure(
            self.status.backup_failed).run()

    def _backup_done(self, info: object) -> None:
        path = getattr(info, "path", None)
        self.status.backup_done(path if isinstance(path, Path) else None)

    # -- closing ------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        running = ops.running()
        if running and not self._stop_waiting:
            event.ignore()
            self.status.showMessage(f"正在等待 {running} 项后台操作（打印、备份等）完成，随后关闭…")
            if not self._waiting_to_close:
                self._waiting_to_close = True
                self.setEnabled(False)   # nothing new may start while we wait
                ops.tracker().idle.connect(self._close_when_idle)
                QTimer.singleShot(self.close_wait_ms, self._give_up_waiting)
            return
        if self._waiting_to_close:
            ops.tracker().idle.disconnect(self._close_when_idle)
        self._closed = True
        self.events.stop()
        super().closeEvent(event)

    def _close_when_idle(self) -> None:
        if not self._closed:
            self.close()

    def _give_up_waiting(self) -> None:
        if not self._closed:
            self._stop_waiting = True
            self.close()

    @property
    def clerk(self) -> Clerk:
        return self.station.clerk(self.session)

    def print_checklist(self, code: str, scenarios: frozenset[str]) -> None:
        from ui.documents.print_preview import DocumentPreview

        documents, clerk = self.station.documents, self.clerk
        preview = DocumentPreview(
            documents, clerk, lambda: documents.render_checklist(code, clerk, scenarios), self)
        preview.open()

    def _offer_draft(self) -> None:
        """A form left unsubmitted by a crash or a power cut comes back at start."""
        drafts, catalogue = self.station.drafts, self.station.catalogue

        Subject = ServiceItem | tuple[Bundle, dict[str, ServiceItem]]

        def load() -> tuple[Subject, AcceptanceDraft] | None:
            draft = drafts.load()
            if draft is None:
                return None
            try:
                return catalogue.item(draft.item_code), draft
            except UserError:
                pass
            try:   # a 一件事's form
                bundle = catalogue.bundle(draft.item_code)
                return (bundle, catalogue.bundle_items(bundle)), draft
            except UserError:   # it left the catalogue since: nothing to resume
                drafts.clear()
                return None

        def resume(found: tuple[Subject, AcceptanceDraft] | None) -> None:
            if found is None or self.acceptance is not None:
                return
            subject, draft = found
            if isinstance(subject, ServiceItem):
                known = {s.id for s in subject.scenarios}
                self.start_acceptance(subject, frozenset(draft.scenarios) & known, draft)
            else:
                self.start_bundle(*subject, draft=draft)

        Operation(self, load, resume).run()

    def start_acceptance(self, item: ServiceItem, scenarios: frozenset[str],
                         draft: AcceptanceDraft | None = None) -> None:
        """F3 on an item page: the 收件受理 tab for a new case of ``item``."""
        if self._may_replace_acceptance():
            self._show_acceptance(
                AcceptancePanel(self.station, self.clerk, item, scenarios, draft=draft,
                                queue_ticket=self._take_ticket()))

    def start_bundle(self, bundle: Bundle, items: dict[str, ServiceItem],
                     draft: AcceptanceDraft | None = None) -> None:
        """F3 on a 一件事 page: one applicant, the merged checklist, a case per item."""
        from ui.workbench.bundle_acceptance import BundlePanel

        if self._may_replace_acceptance():
            self._show_acceptance(BundlePanel(self.station, self.clerk, bundle, items,
                                              draft=draft, queue_ticket=self._take_ticket()))

    def _may_replace_acceptance(self) -> bool:
        """One 收件受理 tab: a form being typed there is given up only when the clerk says."""
        old = self.acceptance
        if old is not None and old.typed_anything():
            answer = QMessageBox.question(
                self, "放弃收件", f"正在收件的“{old.item.name}”尚未登记申请人，放弃已输入的内容？",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes:
                self.tabs.setCurrentWidget(old)
                return False
            old.discard_draft()
        return True

    def _show_acceptance(self, panel: AcceptancePanel) -> None:
        old = self.acceptance
        panel.finished.connect(self.show_catalogue)
        if old is not None:
            index = self.tabs.indexOf(old)
            self.tabs.removeTab(index)
            old.deleteLater()
        self.acceptance = panel
        self.tabs.addTab(panel, "收件受理 (F3)")
        self.tabs.setCurrentWidget(panel)
        if panel.case is None:
            panel.form.focus_first()
        else:   # a return visit opens at the checklist, after the number prompt closed
            self.activateWindow()
            panel.table.setFocus(Qt.FocusReason.OtherFocusReason)

    # -- return visits: 补正, 容缺补交 -------------------------------------------------------

    def ask_return_visit(self) -> None:
        """F5: the case number, typed or scanned from the notice the applicant brings."""
        self.return_prompt = TextPrompt("补正 / 容缺补交", "输入或扫描办件编号（通知书上的条码）：",
                                        self.open_return_visit, self)
        self.return_prompt.open()

    def _case_and_item(self, ref: str) -> Callable[[], tuple[CaseState, ServiceItem]]:
        """The work reading a case (proved against its log) and its item's version."""
        documents, catalogue = self.station.documents, self.station.catalogue

        def load() -> tuple[CaseState, ServiceItem]:
            case = documents.verified_case(ref)
            return case, catalogue.item_version(case.item_code, case.item_version)

        return load

    def open_return_visit(self, ref: str) -> None:
        Operation(self, self._case_and_item(ref), self._return_visit_found).failure(
            lambda exc: self._warn("补正 / 容缺补交", exc)).run()

    def _return_visit_found(self, found: tuple[CaseState, ServiceItem]) -> None:
        case, item = found
        if not awaits_materials(case):
            self._notice("补正 / 容缺补交",
                         f"办件 {case.number} 状态为“{case.status}”，没有待补正或待补交的材料。")
            return
        if self._may_replace_acceptance():
            self._show_acceptance(AcceptancePanel(self.station, self.clerk, item,
                                                  frozenset(case.scenarios), case=case))

    def _warn(self, title: str, exc: Exception) -> None:
        text = str(exc) if isinstance(exc, UserError) else f"操作失败：{exc}"
        self._notice(title, text, QMessageBox.Icon.Warning)

    def _notice(self, title: str, text: str,
                icon: QMessageBox.Icon = QMessageBox.Icon.Information) -> None:
        """A message that does not block the event loop (a scanner may already be typing
        the next number); Enter or Esc closes it."""
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self)
        self.notice = box
        box.open()

    def print_case_documents(self, number: str = "") -> None:
        from ui.cases.documents import CaseDocumentsDialog

        dialog = CaseDocumentsDialog(self.station.documents, self.clerk, self.events, self)
        dialog.open()
        if number:
            dialog.number.setText(number)
            dialog.look_up()

    def show_queue(self) -> None:
        self.tabs.setCurrentWidget(self.queue_panel)
        self.queue_panel.setFocus(Qt.FocusReason.OtherFocusReason)

    def receive_for_ticket(self, number: str) -> None:
        """F3 at the queue panel: find the item, and the case opened next records the
        ticket (its waiting and service times join the case's)."""
        self.pending_ticket = number
        self.show_catalogue()
        self.status.showMessage(f"为 {number} 号收件：搜索事项，Enter 打开，F3 收件。", 15000)

    def _take_ticket(self) -> str:
        ticket, self.pending_ticket = self.pending_ticket, ""
        return ticket

    def show_case_list(self) -> None:
        self.tabs.setCurrentWidget(self.case_list)
        self.case_list.focus_filter()

    def open_listed_case(self, number: str) -> None:
        """Enter on a row of the case list: where that case's next step is done."""
        Operation(self, self._case_and_item(number), self._open_listed).failure(
            lambda exc: self._warn("办件", exc)).run()

    def _open_listed(self, found: tuple[CaseState, ServiceItem]) -> None:
        case = found[0]
        if awaits_materials(case):
            self._return_visit_found(found)          # 补正, 容缺补交, an undecided case
        elif case.status is CaseStatus.COMPLETED:
            self.show_pickup()                       # the result waits: 出件
            self.pickup_panel.number.setText(case.number)
            self.pickup_panel.look_up()
        else:
            self.print_case_documents(case.number)   # its documents and their prints

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
        self.return_visit_action = self._action("补正 / 容缺补交…", [QKeySequence("F5")],
                                                self.ask_return_visit)
        work.addAction(self.return_visit_action)
        work.addAction(self._action("文书打印 / 补打…", [QKeySequence("F6")],
                                    self.print_case_documents))
        work.addAction(self._action("出件", [QKeySequence("F7")], self.show_pickup))
        work.addAction(self._action("办件查询与电子监察", [QKeySequence("F8")],
                                    self.show_case_list))
        work.addAction(self._action("叫号", [QKeySequence("Alt+Q")], self.show_queue))
        work.addAction(self._action("排队统计", [QKeySequence("Ctrl+Shift+Q")],
                                    self.show_queue_stats))
        if allowed(self.clerk.role, Action.FOLLOW_UP_RATINGS):   # the service checks too
            work.addAction(self._action("差评回访…", [QKeySequence("Ctrl+Shift+H")],
                                        self.show_followups))
        work.addSeparator()
        work.addAction(self._action("咨询登记…", [QKeySequence("Ctrl+K")], self.consult))
        work.addAction(self._action("今日咨询", [QKeySequence("Ctrl+Shift+K")],
                                    self.show_consultations))
        account = bar.addMenu("账号(&A)")
        account.addAction(self._action("修改密码…", [], self.change_password))
        account.addSeparator()
        account.addAction(self._action("退出", [QKeySequence("Ctrl+Q")], self.close))
        help_menu = bar.addMenu("帮助(&H)")
        help_menu.addAction(self._action("快捷键", [QKeySequence("F1")], self.show_shortcuts))
        help_menu.addAction(self._action("关于一窗通", [], self.show_about))

    def show_pickup(self) -> None:
        self.tabs.setCurrentWidget(self.pickup_panel)
        self.pickup_panel.focus_entry()

    def consult(self) -> None:
        """Ctrl+K: an enquiry that opens no case; on an item page, about that item."""
        from ui.workbench.consultation import ConsultationDialog

        detail = self.catalogue_panel.detail
        on_item = self.tabs.currentWidget() is self.catalogue_panel and detail.isVisible()
        subject = detail.shown if on_item else None
        scenarios = detail.selected_scenarios() if isinstance(subject, ServiceItem) else frozenset()
        self.consultation = ConsultationDialog(self.station, self.clerk, self, item=subject,
                                               scenarios=scenarios)
        if self.consultation_log is not None:
            self.consultation.saved.connect(self.consultation_log.refresh)
        self.consultation.open()

    def show_queue_stats(self) -> None:
        from ui.workbench.queue_stats import QueueStatsDialog

        if self.queue_stats is None:
            self.queue_stats = QueueStatsDialog(self.station, self, events=self.events)
        else:
            self.queue_stats.refresh()
        self.queue_stats.show()
        self.queue_stats.raise_()
        self.queue_stats.activateWindow()   # its keys work at once, without a click

    def show_followups(self) -> None:
        from ui.queue.followups import RatingFollowUpDialog

        if self.followups is None:
            self.followups = RatingFollowUpDialog(self.station, self.clerk, self,
                                                  events=self.events)
        self.followups.open()
        self.followups.activateWindow()

    def show_consultations(self) -> None:
        from ui.workbench.consultation import ConsultationLogDialog

        if self.consultation_log is None:
            self.consultation_log = ConsultationLogDialog(self.station, self, events=self.events)
        self.consultation_log.refresh()
        self.consultation_log.show()
        self.consultation_log.raise_()

    def show_catalogue(self) -> None:
        self.tabs.setCurrentWidget(self.catalogue_panel)
        self.catalogue_panel.focus_search()

    def change_password(self) -> None:
        dialog = ChangePasswordDialog(self.station.accounts, self.session, forced=False,
                                      parent=self)
        if dialog.exec() and dialog.session is not None:
            self.session = dialog.session
            self.status.show_clerk(dialog.session)
            self.status.showMessage("密码已修改。", 5000)

    def show_shortcuts(self) -> None:
        text = "\n".join(f"{keys}\t{what}" for keys, what in SHORTCUTS)
        QMessageBox.information(self, "快捷键", text)

    def show_about(self) -> None:
        s = self.station.settings
        QMessageBox.about(self, "关于一窗通",
                          f"一窗通 {__version__}\n政务服务综合窗口客户端\n\n"
                          f"数据目录：{s.data_dir}\n站点编码：{s.site_code}")

