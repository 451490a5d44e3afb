"""The window's plumbing: closing waits for running work; panels follow the core's
change notifications, from this process and from another one."""

from __future__ import annotations

import sqlite3
import threading

from PySide6.QtCore import QObject
from pytestqt.qtbot import QtBot

from app.documents.form import DocumentKind
from app.services.accounts import DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD
from app.workstation import Workstation
from tests.support import PaperTray, accepted_case
from ui import ops
from ui.cases.documents import CaseDocumentsDialog
from ui.events import ChangeEvents
from ui.ops import Operation
from ui.workbench.main_window import MainWindow


def _window(qtbot: QtBot, station: Workstation) -> MainWindow:
    window = MainWindow(station, station.accounts.login(DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: ops.running() == 0)   # the index load and the first watch check
    return window


def test_closing_waits_for_a_running_operation_and_says_so(qtbot: QtBot,
                                                          station: Workstation) -> None:
    window = _window(qtbot, station)
    release = threading.Event()
    Operation(QObject(), release.wait, lambda _v: None).run()
    window.close()
    assert window.isVisible()
    assert "正在等待 1 项后台操作" in window.statusBar().currentMessage()
    assert not window.isEnabled()   # nothing new starts while it waits
    release.set()
    qtbot.waitUntil(lambda: not window.isVisible())
    assert ops.running() == 0


def test_closing_gives_up_waiting_after_its_bound(qtbot: QtBot, station: Workstation) -> None:
    window = _window(qtbot, station)
    window.close_wait_ms = 0
    release = threading.Event()
    op = Operation(QObject(), release.wait, lambda _v: None).run()
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible())
    assert not op.done   # closed although the operation still runs
    release.set()
    qtbot.waitUntil(lambda: op.done)


def test_f6_rereads_the_case_when_its_document_is_printed_elsewhere(
        qtbot: QtBot, station: Workstation) -> None:
    window = _window(qtbot, station)
    PaperTray(station)
    case = accepted_case(station, window.clerk)
    dialog = CaseDocumentsDialog(station.documents, window.clerk, window.events, window)
    dialog.number.setText(case.number)
    with qtbot.waitSignal(dialog.case_shown):
        dialog.look_up()
    assert dialog.history.rowCount() == 0
    # Another preview (or terminal of this process) prints the 收件凭证.
    doc = station.documents.render_case_document(DocumentKind.RECEIPT, case.number,
                                                 window.clerk)
    with qtbot.waitSignal(dialog.case_shown):
        assert station.documents.print(doc, window.clerk).ok
    assert dialog.history.rowCount() == 1
    assert dialog.kinds.item(0).text().startswith("收件凭证　（已打印")


def test_a_commit_by_another_process_reaches_the_window_as_database_changed(
        qtbot: QtBot, station: Workstation) -> None:
    window = _window(qtbot, station)
    events: ChangeEvents = window.events
    with sqlite3.connect(station.settings.database_path) as raw:   # as the CLI would
        raw.execute("CREATE TABLE elsewhere (x)")
    with qtbot.waitSignal(events.database_changed):
        events.check_now()


def test_a_ticket_taken_on_a_worker_thread_reaches_the_window_as_queue_changed(
        qtbot: QtBot, station: Workstation) -> None:
    window = _window(qtbot, station)
    with qtbot.waitSignal(window.events.queue_changed) as heard:
        threading.Thread(target=lambda: station.queue.take("A")).start()
    assert heard.args is not None and heard.args[0].startswith("A")
