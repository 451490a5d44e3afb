"""手工叫号 on a real workstation database: what a manual call records and sends on, what
it refuses, and that two processes typing the same paper number record it once."""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import sqlite3
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
from sqlalchemy import select

from app.domain.case import Clerk
from app.domain.queue import QueueRuleError
from app.notifications import Change, QueueChanged, changes_of
from app.services.queue_manual import ManualCalls
from app.storage.db import open_database
from app.storage.models import OutboxOp
from app.storage.queue_models import QueueManualCallRow
from app.workstation import Workstation

CLERK = Clerk("clerk-7", "王芳", "330102", "T1", "2", "clerk")


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def manual(fresh_ws: Workstation, clock: Clock) -> ManualCalls:
    return ManualCalls(fresh_ws.db, changes_of(fresh_ws.db), clock=clock)


def rows(ws: Workstation) -> list[tuple[str, str, str, str]]:
    with ws.db.read() as session:
        return [(r.number, r.window, r.clerk_id, r.reason)
                for r in session.scalars(select(QueueManualCallRow))]


def test_a_manual_call_is_kept_with_window_clerk_time_and_reason_and_sent_on(
        fresh_ws: Workstation, manual: ManualCalls, clock: Clock) -> None:
    heard: list[Change] = []
    changes_of(fresh_ws.db).subscribe(heard.append)
    call = manual.record("2", " a012 ", CLERK)
    assert (call.number, call.window, call.clerk_id, call.reason) == (
        "A012", "2", "clerk-7", "排队系统不可用")
    assert call.called_at == clock.now and call.day == dt.date(2026, 12, 1)
    assert rows(fresh_ws) == [("A012", "2", "clerk-7", "排队系统不可用")]
    with fresh_ws.db.read() as session:
        (op,) = session.scalars(select(OutboxOp).where(OutboxOp.entity == "queue_manual_call"))
        assert (op.entity_id, op.kind, op.state) == (call.id, "called", "pending")
        assert op.payload["number"] == "A012" and op.payload["window"] == "2"
    assert QueueChanged("A012", "manual", "2") in heard
    assert [c.number for c in manual.of()] == ["A012"]


def test_the_same_paper_number_is_recorded_once_a_day(
        fresh_ws: Workstation, manual: ManualCalls, clock: Clock) -> None:
    manual.record("2", "15", CLERK, reason="取号机打印机故障，发手写号")
    with pytest.raises(QueueRuleError, match="15号今天已在2号窗口手工叫过"):
        manual.record("3", "15", CLERK)
    clock.now += dt.timedelta(days=1)
    manual.record("3", "15", CLERK)   # a new day, a new paper series
    assert [(n, w) for n, w, _c, _r in rows(fresh_ws)] == [("15", "2"), ("15", "3")]


@pytest.mark.parametrize(("number", "reason", "message"), [
    ("", "", "请输入叫到的号码"),
    ("A 12", "", "号码“A 12”无效"),
    ("A" * 17, "", "最多16位"),
    ("--", "", "号码“--”无效"),
    ("A012", "停电\x00", "控制字符"),
    ("A012", "很" * 101, "最多100字"),
])
def test_bad_input_is_refused_and_nothing_is_kept(
        fresh_ws: Workstation, manual: ManualCalls, number: str, reason: str,
        message: str) -> None:
    with pytest.raises(QueueRuleError, match=message):
        manual.record("2", number, CLERK, reason=reason)
    assert rows(fresh_ws) == []


def test_a_bad_window_is_refused(fresh_ws: Workstation, manual: ManualCalls) -> None:
    with pytest.raises(QueueRuleError):
        manual.record("2; drop", "A012", CLERK)
    assert rows(fresh_ws) == []


def test_the_database_refuses_to_edit_or_remove_a_manual_call(
        fresh_ws: Workstation, manual: ManualCalls) -> None:
    manual.record("2", "A012", CLERK)
    with sqlite3.connect(fresh_ws.db.path) as raw:
        for sql in ("UPDATE queue_manual_calls SET window = '9'",
                    "DELETE FROM queue_manual_calls",
                    "INSERT OR REPLACE INTO queue_manual_calls "
                    "SELECT 'x', day, number, window, clerk_id, reason, called_at "
                    "FROM queue_manual_calls"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                raw.execute(sql)
    assert rows(fresh_ws) == [("A012", "2", "clerk-7", "排队系统不可用")]


def _record(path: str, window: str, together: Barrier, out: str) -> None:
    calls = ManualCalls(open_database(Path(path)), changes_of(open_database(Path(path))))
    together.wait()
    try:
        calls.record(window, "B033", CLERK)
        Path(out).write_text("recorded", encoding="utf-8")
    except QueueRuleError as exc:
        Path(out).write_text(str(exc), encoding="utf-8")


def test_two_processes_typing_the_same_number_record_it_once(
        fresh_ws: Workstation, tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    together = ctx.Barrier(4)
    outs = [tmp_path / f"{w}.txt" for w in "1234"]
    procs = [ctx.Process(target=_record, args=(str(fresh_ws.db.path), w, together, str(o)))
             for w, o in zip("1234", outs, strict=True)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    answers = sorted(o.read_text(encoding="utf-8") for o in outs)
    assert answers.count("recorded") == 1
    assert all("B033号今天已" in a for a in answers if a != "recorded")
    assert [n for n, *_ in rows(fresh_ws)] == ["B033"]


def test_a_number_the_queue_may_still_call_is_refused(fresh_ws: Workstation) -> None:
    queue, manual = fresh_ws.queue, fresh_ws.manual_calls   # both on today's clock
    number = queue.take("A").ticket.number
    with pytest.raises(QueueRuleError, match=f"{number}号在排队系统中（等候中）"):
        manual.record("2", number, CLERK)
    assert rows(fresh_ws) == []
    assert queue.call_next("1") is not None
    queue.finish("1")
    manual.record("2", number, CLERK)   # finished in the queue: it may be said aloud again
    assert [n for n, *_ in rows(fresh_ws)] == [number]
