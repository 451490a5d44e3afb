"""排队统计 from a real queue: one morning at a hall, played event by event on a clock the
test moves, and the figures the day's statistics must give for it."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from app.domain.queue import TicketClass
from app.domain.queue_stats import Durations, day_statistics
from app.domain.rating import Grade, Rating
from app.notifications import changes_of
from app.services.queue import QueueService
from app.services.queue_manual import ManualCalls
from app.services.queue_stats import QueueStatistics
from app.services.queue_store import SqliteQueueStore
from app.services.ratings import RatingService
from app.storage.models import UserRow
from app.workstation import Workstation

START = dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)   # 09:00 in Beijing


class Clock:
    """Stands still until the test moves it to a minute past START."""

    def __init__(self) -> None:
        self.now = START

    def at(self, minute: int) -> None:
        self.now = START + dt.timedelta(minutes=minute)

    def __call__(self) -> dt.datetime:
        return self.now


class Hall:
    def __init__(self, ws: Workstation) -> None:
        self.clock = Clock()
        hub = changes_of(ws.db)
        self.queue = QueueService(SqliteQueueStore(ws.db), hub, clock=self.clock)
        self.ratings = RatingService(ws.db, hub, clock=self.clock)
        self.manual = ManualCalls(ws.db, hub, clock=self.clock)
        self.stats = QueueStatistics(ws.db, self.queue, self.ratings, self.manual,
                                     clock=self.clock)
        with ws.db.read() as session:
            user = session.scalars(select(UserRow)).first()
        assert user is not None
        self.clerk, self.clerk_name = user.id, user.display_name

    def act(self, minute: int, action: str, window: str, *args: str) -> str:
        self.clock.at(minute)
        ticket = getattr(self.queue, action)(window, *args, clerk_id=self.clerk
                                             if window == "1" else "")
        assert ticket is not None
        return str(ticket.number)


@pytest.fixture
def morning(fresh_ws: Workstation) -> Hall:
    """09:00–09:40 at a hall with windows 1 (A, C) and 2 (A, B):

    * A002 (优先) taken 09:01, called at 1 09:05, finished 09:15: waited 4 min, served 10.
    * A001 taken 09:00, called at 1 09:16, 挂起 09:17, 回呼 09:27, finished 09:30:
      waited 16 min, served 1 + 3 min (the ten minutes away are not service).
    * B001 taken 09:18, called at 2 09:20, 过号 09:21 (back to the end), called 09:25,
      过号 09:26: a no-show, waited 2 min.
    * C001 taken 09:02 and still waiting at 09:40: 38 minutes, an alert.
    * A002 rated 非常满意; A001 rated 不满意 (a 差评, nobody has followed it up yet).
    """
    hall = Hall(fresh_ws)
    q, c = hall.queue, hall.clock
    c.at(0)
    q.take("A")
    c.at(1)
    q.take("A", TicketClass.PRIORITY, priority_reason="残疾人")
    c.at(2)
    q.take("C")
    assert hall.act(5, "call_next", "1") == "A002"
    hall.act(6, "serve", "1")
    a002 = q.ticket("A002")
    hall.act(15, "finish", "1")
    c.at(15)
    hall.ratings.record(Rating(a002.id, "A002", "1", Grade.VERY_SATISFIED))
    assert hall.act(16, "call_next", "1") == "A001"
    hall.act(17, "suspend", "1")
    c.at(18)
    q.take("B")
    assert hall.act(20, "call_next", "2") == "B001"
    hall.act(21, "skip", "2")
    assert hall.act(25, "call_next", "2") == "B001"
    hall.act(26, "skip", "2")
    hall.act(27, "resume", "1", "A001")
    hall.act(30, "finish", "1")
    hall.ratings.record(Rating(q.ticket("A001").id, "A001", "1", Grade.DISSATISFIED,
                               ("服务态度不好",)))
    c.at(40)
    return hall


def test_the_halls_figures_come_from_the_events(morning: Hall) -> None:
    day = morning.stats.day()
    hall = day.hall
    assert day.day == dt.date(2026, 12, 1)
    assert (hall.issued, hall.called, hall.finished, hall.no_shows, hall.waiting_now) == (
        4, 3, 2, 1, 1)
    assert hall.by_class[TicketClass.PRIORITY] == 1 and hall.by_class[TicketClass.ORDINARY] == 3
    # Waits: A002 4 min, A001 16 min, B001 2 min (its second call is not a wait).
    assert hall.waiting == Durations(3, 440.0, 240.0, 960.0)
    # Service: A002 10 min; A001 1 + 3 min, the 挂起 between them left out.
    assert hall.service == Durations(2, 420.0, 420.0, 600.0)
    assert hall.waited_too_long == 1


def test_each_category_counts_the_tickets_issued_in_it(morning: Hall) -> None:
    by_prefix = {c.prefix: c for c in morning.stats.day().categories}
    assert [(p, c.name, c.issued, c.finished, c.no_shows, c.waiting_now)
            for p, c in by_prefix.items()] == [
        ("A", "综合受理", 2, 2, 0, 0), ("B", "出件", 1, 0, 1, 0), ("C", "咨询", 1, 0, 0, 1)]
    assert by_prefix["A"].waiting == Durations(2, 600.0, 600.0, 960.0)
    assert by_prefix["C"].waiting == Durations()   # nobody called it: no wait to count yet


def test_windows_and_clerks_are_credited_with_what_they_did(morning: Hall) -> None:
    day = morning.stats.day()
    one, two = day.windows
    assert (one.key, one.calls, one.finished, one.skipped) == ("1", 3, 2, 0)
    assert one.service == Durations(2, 420.0, 420.0, 600.0)
    assert (two.key, two.calls, two.finished, two.skipped) == ("2", 2, 0, 2)
    assert two.service == Durations()
    by_clerk = {c.key: c for c in day.clerks}
    assert by_clerk[morning.clerk].name == morning.clerk_name
    assert by_clerk[morning.clerk].finished == 2
    assert by_clerk[""].name == "（未记录）" and by_clerk[""].skipped == 2


def test_ratings_count_per_grade_window_and_clerk_with_open_follow_ups(morning: Hall) -> None:
    day = morning.stats.day()
    assert day.ratings.total == 2 and day.ratings.dissatisfied == 1
    assert day.ratings.by_grade[Grade.VERY_SATISFIED] == 1
    assert day.ratings.satisfied_share == 0.5
    assert day.ratings.open_follow_ups == 1
    assert day.windows[0].ratings.total == 2 and day.windows[1].ratings.total == 0
    assert {c.key: c.ratings.dissatisfied for c in day.clerks} == {morning.clerk: 1, "": 0}


def test_a_ticket_waiting_thirty_minutes_raises_the_alert(morning: Hall) -> None:
    morning.clock.at(31)
    assert morning.stats.day().alerts == []   # 29 minutes: not yet
    morning.clock.at(32)
    assert [(a.number, a.minutes) for a in morning.stats.day().alerts] == [("C001", 30)]
    morning.clock.at(40)
    assert [(a.number, a.minutes) for a in morning.stats.day().alerts] == [("C001", 38)]


def test_another_day_has_its_own_figures(morning: Hall) -> None:
    empty = morning.stats.day(dt.date(2026, 11, 30))
    assert empty.hall.issued == 0 and empty.ratings.total == 0 and empty.alerts == []
    assert [c.issued for c in empty.categories] == [0, 0, 0]


def test_durations_are_nearest_rank_and_empty_when_nothing_happened() -> None:
    assert Durations.of([]) == Durations()
    assert Durations.of([5.0]) == Durations(1, 5.0, 5.0, 5.0)
    assert Durations.of(float(s) for s in range(1, 11)).p90 == 9.0
    assert Durations.of(float(s) for s in range(1, 12)).p90 == 10.0


def test_a_clock_set_back_never_makes_a_negative_service_time(morning: Hall) -> None:
    hall = morning
    hall.clock.at(10)   # the PC's clock jumps back twenty minutes before C001 is called
    assert hall.act(10, "call_next", "1") == "C001"
    hall.act(5, "finish", "1")
    day = hall.stats.day()
    c = next(c for c in day.categories if c.prefix == "C")
    assert c.service.count == 1 and c.service.median == 0.0


def test_the_domain_function_needs_no_database() -> None:
    figures = day_statistics(dt.date(2026, 12, 1), [], [], [], now=START,
                             category_names={"A": "综合受理"}, window_names={},
                             clerk_names={})
    assert figures.hall.issued == 0 and [c.prefix for c in figures.categories] == ["A"]


def test_manual_calls_count_for_their_window_and_clerk(morning: Hall) -> None:
    from app.domain.case import Clerk

    clerk = Clerk(morning.clerk, morning.clerk_name, "330102", "T1", "3", "clerk")
    morning.manual.record("3", "17", clerk, reason="取号机故障")
    day = morning.stats.day()
    assert day.manual_calls == 1
    assert {w.key: w.manual for w in day.windows} == {"1": 0, "2": 0, "3": 1}
    assert {c.key: c.manual for c in day.clerks}[morning.clerk] == 1


def test_the_window_sees_the_same_alert_without_reading_the_days_events(
        morning: Hall) -> None:
    assert [(a.number, a.minutes) for a in morning.queue.waiting_alerts()] == [("C001", 38)]
    assert morning.queue.waiting_alerts(limit_minutes=39) == []



def test_a_ticket_still_at_the_window_counts_as_its_call(morning: Hall) -> None:
    morning.act(41, "call_next", "1")          # C001: called, not finished
    day = morning.stats.day()
    one = next(w for w in day.windows if w.key == "1")
    assert (one.calls, one.finished) == (4, 2)
    assert {c.key: c.calls for c in day.clerks}[morning.clerk] == 4


def test_a_window_whose_first_ticket_is_still_at_it_is_in_the_tables(
        fresh_ws: Workstation) -> None:
    hall = Hall(fresh_ws)
    hall.clock.at(0)
    hall.queue.take("A")
    hall.act(1, "call_next", "1")
    day = hall.stats.day()
    assert [(w.key, w.calls, w.finished) for w in day.windows] == [("1", 1, 0)]
    assert [(c.key, c.calls) for c in day.clerks] == [(hall.clerk, 1)]


def test_a_handover_credits_the_service_to_the_clerk_who_served(fresh_ws: Workstation) -> None:
    hall = Hall(fresh_ws)
    hall.clock.at(0)
    hall.queue.take("A")
    hall.clock.at(20)
    hall.queue.call_next("2", clerk_id="clerk-x")       # X serves twenty minutes …
    hall.clock.at(40)
    hall.queue.finish("2", clerk_id="clerk-y")          # … Y, on the next shift, records 办结
    by_clerk = {c.key: c for c in hall.stats.day().clerks}
    assert by_clerk["clerk-x"].service == Durations(1, 1200.0, 1200.0, 1200.0)
    assert (by_clerk["clerk-x"].finished, by_clerk["clerk-y"].finished) == (0, 1)
    assert by_clerk["clerk-y"].service == Durations()   # Y served none of it


def test_a_day_that_is_over_raises_no_alert_and_counts_to_its_end(morning: Hall) -> None:
    morning.clock.now += dt.timedelta(days=3)
    day = morning.stats.day(dt.date(2026, 12, 1))
    assert day.alerts == [] and day.at.astimezone().date() <= dt.date(2026, 12, 2)
    assert day.hall.waiting_now == 1 and day.hall.waited_too_long == 1


def test_a_wait_across_a_clock_set_back_is_left_out_not_negative(fresh_ws: Workstation) -> None:
    hall = Hall(fresh_ws)
    hall.clock.at(10)
    hall.queue.take("A")
    hall.act(5, "call_next", "1")                       # the clock went back 5 minutes
    day = hall.stats.day()
    assert day.hall.called == 1 and day.hall.waiting == Durations()


def test_a_rating_counts_for_its_window_though_its_tickets_events_are_gone() -> None:
    from app.domain.rating import StoredRating

    rating = StoredRating("r1", "t1", "A001", dt.date(2026, 12, 1), "", "1", "clerk-7",
                          Grade.VERY_DISSATISFIED, ("服务态度不好",), START, True)
    figures = day_statistics(dt.date(2026, 12, 1), [], [], [rating], now=START,
                             category_names={}, window_names={"1": "1号窗口"},
                             clerk_names={}, open_follow_ups=["r1"])
    assert [(w.key, w.ratings.dissatisfied, w.ratings.open_follow_ups)
            for w in figures.windows] == [("1", 1, 1)]
    assert [c.key for c in figures.clerks] == ["clerk-7"]
