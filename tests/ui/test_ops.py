"""Background operations (ui/ops.py): results on the main thread, counted until delivered.

The waits are on signals and conditions, never on elapsed time: a worker is held at a
threading.Event until the test lets it go.
"""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QObject
from pytestqt.qtbot import QtBot

from ui import ops
from ui.ops import Cancelled, Operation, ProgressUpdate, Reporter


def _on_main() -> bool:
    return threading.current_thread() is threading.main_thread()


def test_success_runs_on_the_main_thread_with_the_result(qtbot: QtBot) -> None:
    parent = QObject()
    seen: list[tuple[object, bool, bool]] = []
    worker_was_main: list[bool] = []

    def work() -> int:
        worker_was_main.append(_on_main())
        return 42

    Operation(parent, work, lambda value: seen.append((value, _on_main(), True))).run()
    qtbot.waitUntil(lambda: bool(seen))
    assert seen == [(42, True, True)]
    assert worker_was_main == [False]


def test_failure_runs_on_the_main_thread_with_the_exception(qtbot: QtBot) -> None:
    parent = QObject()
    failures: list[tuple[Exception, bool]] = []

    def work() -> int:
        raise ValueError("坏了")

    Operation(parent, work, lambda _v: pytest.fail("success called")).failure(
        lambda exc: failures.append((exc, _on_main()))).run()
    qtbot.waitUntil(lambda: bool(failures))
    exc, on_main = failures[0]
    assert isinstance(exc, ValueError) and str(exc) == "坏了" and on_main


def test_callbacks_are_skipped_when_the_parent_was_destroyed(qtbot: QtBot) -> None:
    parent = QObject()
    release = threading.Event()
    called: list[object] = []
    op = Operation(parent, lambda: release.wait(), called.append).failure(called.append).run()
    parent.deleteLater()
    qtbot.waitUntil(lambda: not _alive(parent))
    release.set()
    qtbot.waitUntil(lambda: op.done)
    assert called == []


def _alive(obj: QObject) -> bool:
    import shiboken6

    return shiboken6.isValid(obj)


def test_running_counts_an_operation_until_its_result_is_delivered(qtbot: QtBot) -> None:
    parent = QObject()
    release = threading.Event()
    before = ops.running()
    delivered: list[bool] = []
    op = Operation(parent, release.wait, lambda _v: delivered.append(ops.running() == before)).run()
    assert ops.running() == before + 1
    release.set()
    qtbot.waitUntil(lambda: op.done)
    assert ops.running() == before
    assert delivered == [True]   # the count had dropped when success ran


def test_wait_idle_returns_true_once_the_running_operation_delivered(qtbot: QtBot) -> None:
    parent = QObject()
    release = threading.Event()
    Operation(parent, release.wait, lambda _v: None).run()
    release.set()
    assert ops.wait_idle(60_000)
    assert ops.running() == 0


def test_progress_reaches_the_main_thread_in_order_before_the_result(qtbot: QtBot) -> None:
    parent = QObject()
    events: list[object] = []

    def work(reporter: Reporter) -> str:
        for n in range(3):
            reporter.report("正在备份", n, 3)
        return "完成"

    Operation.reporting(parent, work, events.append).progress(
        lambda update: events.append((update, _on_main()))).run()
    qtbot.waitUntil(lambda: "完成" in events)
    assert events == [(ProgressUpdate("正在备份", n, 3), True) for n in range(3)] + ["完成"]


def test_cancelled_work_stops_at_its_next_check_and_calls_back_nothing(qtbot: QtBot) -> None:
    parent = QObject()
    started, go_on = threading.Event(), threading.Event()
    stopped: list[bool] = []
    called: list[object] = []

    def work(reporter: Reporter) -> None:
        started.set()
        go_on.wait()
        try:
            reporter.check()
        except Cancelled:
            stopped.append(True)
            raise

    op = Operation.reporting(parent, work, called.append).failure(called.append).run()
    started.wait()
    op.cancel()
    go_on.set()
    qtbot.waitUntil(lambda: op.done)
    assert stopped == [True] and called == []


def test_an_operation_is_started_from_the_main_thread_only(qtbot: QtBot) -> None:
    errors: list[Exception] = []
    parent = QObject()

    def start_elsewhere() -> None:
        try:
            Operation(parent, lambda: 1, lambda _v: None).run()
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=start_elsewhere)
    thread.start()
    thread.join()
    assert len(errors) == 1
