"""The queue service on a real workstation database: numbers, calls, clerk actions, the
events and outbox ops they leave, and the notifications they send."""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.domain.queue import QueuePolicy, QueueRuleError, TicketClass, TicketStatus
from app.domain.queue_policy import Category, WindowConfig
from app.notifications import Change, QueueChanged, changes_of
from app.services.queue import QueueService
from app.services.queue_store import SqliteQueueStore
from app.storage.models import OutboxOp, QueueNumberCounter, QueueTicketEventRow
from app.workstation import Workstation, open_workstation

ELDERLY = "老年人（60周岁及以上）"


class Clock:
    """Time moves only when the test says so (one second per reading)."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(fresh_ws: Workstation, clock: Clock) -> QueueService:
    return QueueService(SqliteQueueStore(fresh_ws.db), changes_of(fresh_ws.db), clock=clock)


def numbers(queue: QueueService, *takes: str) -> list[str]:
    return [queue.take(c).ticket.number for c in takes]


def called(queue: QueueService, window: str) -> str:
    """The number ``window`` calls next (there must be one)."""
    ticket = queue.call_next(window)
    assert ticket is not None
    return ticket.number


def test_the_workstation_opens_with_the_demo_sites_queue(fresh_ws: Workstation) -> None:
    assert [(c.prefix, c.name) for c in fresh_ws.queue.categories()] == [
        ("A", "综合受理"), ("B", "出件"), ("C", "咨询")]
    assert {w.number: w.categories for w in fresh_ws.queue.windows()} == {
        "1": (("A", 1), ("C", 2)), "2": (("A", 1), ("B", 2)), "3": (("B", 1), ("C", 1))}
    issued = fresh_ws.queue.take("a")
    assert (issued.ticket.number, issued.category_name, issued.waiting_ahead) == (
        "A001", "综合受理", 0)


def test_numbers_count_per_category_and_start_again_the_next_day(
        queue: QueueService, clock: Clock) -> None:
    assert numbers(queue, "A", "A", "B", "A") == ["A001", "A002", "B001", "A003"]
    assert queue.take("A").waiting_ahead == 3
    yesterday = queue.today()
    clock.now += dt.timedelta(days=1)
    assert numbers(queue, "B", "A") == ["B001", "A001"]
    # Yesterday's tickets are still there, under yesterday's day.
    assert queue.ticket("A003", yesterday).day == yesterday
    assert queue.ticket("A001").day == yesterday + dt.timedelta(days=1)
    # … and today's window calls today's first ticket, not yesterday's.
    assert called(queue, "1") == "A001"
    assert queue.ticket("A001").status is TicketStatus.CALLED
    assert queue.ticket("A001", yesterday).status is TicketStatus.WAITING


def test_the_series_ends_at_999_and_a_refused_number_writes_nothing(
        fresh_ws: Workstation, queue: QueueService) -> None:
    with fresh_ws.db.write() as session:
        session.add(QueueNumberCounter(day=queue.today(), prefix="C", last_seq=998))
    assert queue.take("C").ticket.number == "C999"
    with pytest.raises(QueueRuleError, match="号码已取完"):
        queue.take("C")
    assert queue.status().waiting["C"] == 1


def test_a_window_calls_its_categories_by_rank_then_by_issue_time(queue: QueueService) -> None:
    numbers(queue, "C", "B", "A", "A")
    # Window 1 serves A first, C second; B is not its business.
    order = []
    for _ in range(3):
        order.append(called(queue, "1"))
        queue.finish("1")
    assert order == ["A001", "A002", "C001"]
    assert queue.call_next("1") is None
    assert called(queue, "3") == "B001"


def test_priority_tickets_go_first_but_ordinary_ones_are_called_after_k(
        queue: QueueService) -> None:
    queue.set_policy(QueuePolicy(fair_after=2))
    numbers(queue, "A")
    for _ in range(3):
        queue.take("A", TicketClass.PRIORITY, priority_reason=ELDERLY)
    called = []
    for _ in range(4):
        ticket = queue.call_next("1")
        assert ticket is not None
        called.append(ticket.number)
        queue.finish("1")
    assert called == ["A002", "A003", "A001", "A004"]


def test_a_window_deals_with_one_ticket_at_a_time(queue: QueueService) -> None:
    numbers(queue, "A", "A")
    queue.call_next("1")
    with pytest.raises(QueueRuleError, match="1号窗口正在办理A001号"):
        queue.call_next("1")
    assert called(queue, "2") == "A002"


def test_recall_is_bounded(queue: QueueService) -> None:
    queue.set_policy(QueuePolicy(max_recalls=2))
    numbers(queue, "A")
    queue.call_next("1")
    assert [queue.recall("1").recalls for _ in range(2)] == [1, 2]
    with pytest.raises(QueueRuleError, match="已重呼2次"):
        queue.recall("1")
    assert queue.serve("1").status is TicketStatus.SERVING


def test_a_missed_ticket_returns_once_at_the_end_then_is_a_no_show(queue: QueueService) -> None:
    numbers(queue, "A", "A")
    queue.call_next("1")
    back = queue.skip("1")
    assert (back.number, back.status, back.returns) == ("A001", TicketStatus.WAITING, 1)
    assert called(queue, "1") == "A002"
    queue.finish("1")
    assert called(queue, "1") == "A001"
    assert queue.skip("1").status is TicketStatus.MISSED
    assert queue.call_next("1") is None


def test_with_no_returns_configured_a_miss_is_final(queue: QueueService) -> None:
    queue.set_policy(QueuePolicy(missed_returns=0))
    numbers(queue, "A")
    queue.call_next("1")
    assert queue.skip("1").status is TicketStatus.MISSED
    assert queue.policy().missed_returns == 0


def test_a_suspended_ticket_frees_the_window_and_is_called_back_there(
        queue: QueueService) -> None:
    numbers(queue, "A", "A")
    queue.call_next("1")
    queue.serve("1")
    assert queue.suspend("1").status is TicketStatus.SUSPENDED
    assert queue.status().suspended["1"][0].number == "A001"
    assert called(queue, "1") == "A002"
    with pytest.raises(QueueRuleError, match="正在办理A002号"):
        queue.resume("1", "A001")
    queue.finish("1")
    resumed = queue.resume("1", "a001")
    assert (resumed.status, resumed.window) == (TicketStatus.CALLED, "1")
    assert queue.finish("1").status is TicketStatus.FINISHED


def test_a_transferred_ticket_keeps_its_place_by_issue_time(queue: QueueService) -> None:
    numbers(queue, "A", "B", "B")
    queue.call_next("1")
    moved = queue.transfer("1", category="B")
    assert (moved.number, moved.category, moved.status) == ("A001", "B", TicketStatus.WAITING)
    assert queue.status().waiting == {"A": 0, "B": 3, "C": 0}
    # Taken before B001 and B002, it is the first B ticket window 3 calls.
    assert called(queue, "3") == "A001"


def test_a_ticket_transferred_to_a_window_is_called_only_there(queue: QueueService) -> None:
    numbers(queue, "A", "A")
    queue.call_next("1")
    queue.transfer("1", to_window="2")
    assert called(queue, "1") == "A002"
    assert called(queue, "2") == "A001"


def test_a_paused_window_calls_nothing_until_resumed(queue: QueueService) -> None:
    numbers(queue, "A")
    queue.pause_window("1")
    with pytest.raises(QueueRuleError, match="已暂停"):
        queue.call_next("1")
    assert queue.status().paused == frozenset({"1"})
    queue.resume_window("1")
    assert called(queue, "1") == "A001"


def test_every_change_is_an_event_an_outbox_op_and_a_notification(
        fresh_ws: Workstation, queue: QueueService) -> None:
    heard: list[Change] = []
    changes_of(fresh_ws.db).subscribe(heard.append)
    ticket = queue.take("A").ticket
    queue.call_next("2", clerk_id="u1")
    queue.recall("2")
    queue.serve("2")
    queue.finish("2")
    kinds = ["issued", "called", "recalled", "serving", "finished"]
    assert [c for c in heard if isinstance(c, QueueChanged)] == [
        QueueChanged("A001", "issued", ""),
        *(QueueChanged("A001", k, "2") for k in kinds[1:])]
    with fresh_ws.db.read() as session:
        events = session.scalars(select(QueueTicketEventRow).where(
            QueueTicketEventRow.ticket_id == ticket.id).order_by(QueueTicketEventRow.seq)).all()
        ops = session.scalars(select(OutboxOp).where(OutboxOp.entity == "queue_ticket")
                              .order_by(OutboxOp.device_seq)).all()
    assert [(e.seq, e.kind) for e in events] == list(enumerate(kinds, start=1))
    times = [dt.datetime.fromisoformat(e.occurred_at) for e in events]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert events[1].clerk_id == "u1" and events[1].window == "2"
    assert [(o.kind, o.base_version, o.payload["version"]) for o in ops] == [
        (k, max(0, i), i + 1) for i, k in enumerate(kinds)]
    assert ops[0].payload["number"] == "A001" and "id_number" not in ops[0].payload


def test_configuration_is_stored_and_checked(queue: QueueService, clock: Clock) -> None:
    queue.save_category(Category("D", " 社保医保 ", position=4))
    queue.save_window(WindowConfig("4", "4号窗口", (("D", 1),)))
    assert queue.take("D").ticket.number == "D001"
    assert called(queue, "4") == "D001"
    queue.save_category(Category("D", "社保医保", active=False))
    with pytest.raises(QueueRuleError, match="没有可取号的业务类别"):
        queue.take("D")
    with pytest.raises(QueueRuleError, match="没有业务类别“E”"):
        queue.save_window(WindowConfig("5", "", (("E", 1),)))
    with pytest.raises(QueueRuleError, match="大写英文字母"):
        queue.save_category(Category("甲", "综合"))
    with pytest.raises(QueueRuleError, match="没有配置排队业务"):
        queue.call_next("9")


@pytest.mark.parametrize("kwargs, message", [
    ({"ticket_class": TicketClass.PRIORITY}, "请选择优先原因"),
    ({"ticket_class": TicketClass.APPOINTMENT}, "请输入预约码或身份证号"),
    ({"ticket_class": TicketClass.APPOINTMENT, "appointment": "a b"}, "预约码应为"),
    ({"ticket_class": "VIP"}, "取号类型“VIP”无法识别"),
])
def test_a_bad_ticket_request_is_refused_and_takes_no_number(
        queue: QueueService, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(QueueRuleError, match=message):
        queue.take("A", **kwargs)  # type: ignore[arg-type]
    assert queue.take("A").ticket.number == "A001"


def test_an_unknown_category_names_the_ones_there_are(queue: QueueService) -> None:
    with pytest.raises(QueueRuleError, match="可选：A 综合受理、B 出件、C 咨询"):
        queue.take("Z")


def test_clerk_actions_without_a_called_ticket_say_so(queue: QueueService) -> None:
    for action in (queue.recall, queue.serve, queue.skip, queue.suspend, queue.finish):
        with pytest.raises(QueueRuleError, match="当前没有叫到的号"):
            action("1")
    numbers(queue, "A")
    queue.call_next("1")
    queue.serve("1")
    with pytest.raises(QueueRuleError, match="办理中，不能过号"):
        queue.skip("1")


def test_status_counts_waiting_per_category_and_shows_each_window(queue: QueueService) -> None:
    numbers(queue, "A", "A", "C")
    queue.take("B", TicketClass.APPOINTMENT, id_number="11010519491231002x")
    queue.call_next("1")
    status = queue.status()
    assert status.waiting == {"A": 1, "B": 1, "C": 1}
    assert {w: (t.number if t else None) for w, t in status.current.items()} == {
        "1": "A001", "2": None, "3": None}
    assert queue.ticket("B001").id_number == "11010519491231002X"


def test_policy_settings_are_checked() -> None:
    with pytest.raises(QueueRuleError, match="连续优先叫号次数"):
        QueuePolicy(fair_after=0)
    assert QueuePolicy.from_json(replace(QueuePolicy(), max_recalls=5).to_json()).max_recalls == 5


def test_the_event_log_counts_as_many_rows_as_ticket_versions(
        fresh_ws: Workstation, queue: QueueService) -> None:
    numbers(queue, "A", "A")
    queue.call_next("1")
    queue.skip("1")
    with fresh_ws.db.read() as session:
        count = session.scalar(select(func.count()).select_from(QueueTicketEventRow))
    assert count == 1 + 1 + 1 + 1   # two issued, one called, one missed


def test_the_ticket_events_refuse_edits_and_deletes_in_the_database_itself(
        tmp_path: Path) -> None:
    ws = open_workstation(tmp_path / "home")
    try:
        ws.queue.take("A")
    finally:
        ws.close()
    with sqlite3.connect(tmp_path / "home" / "yichuang.db") as raw:
        for sql in ("UPDATE queue_ticket_events SET kind = 'finished'",
                    "DELETE FROM queue_ticket_events",
                    "INSERT OR REPLACE INTO queue_ticket_events SELECT * FROM "
                    "queue_ticket_events"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                raw.execute(sql)


def test_an_appointment_by_a_wrong_id_number_is_refused_and_takes_no_number(
        queue: QueueService) -> None:
    with pytest.raises(QueueRuleError, match="身份证号码无效"):
        queue.take("A", TicketClass.APPOINTMENT, id_number="330102198001010027")
    assert queue.tickets() == []
    assert queue.take("A", TicketClass.APPOINTMENT,
                      id_number="330102198001010026").ticket.number == "A001"


def test_a_ticket_transferred_to_a_window_goes_back_to_that_window_after_a_no_show(
        queue: QueueService) -> None:
    number = numbers(queue, "A")[0]
    assert called(queue, "1") == number
    queue.transfer("1", to_window="2")
    assert called(queue, "2") == number
    queue.skip("2")                              # 过号: back to the end, once
    assert queue.call_next("1") is None          # window 1 serves A, but it is window 2's
    assert called(queue, "2") == number
