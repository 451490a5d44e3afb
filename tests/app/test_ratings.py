"""好差评 on a real workstation database: which ticket a window may rate, what a rating
stores (the clerk of the 办结 event, the case, an outbox op), what it refuses, and the
supervisors' 回访 of a 差评."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
from sqlalchemy import select

from app.domain.case import Applicant, ApplicantKind, Clerk, IdType
from app.domain.queue import QueueRuleError
from app.domain.rating import RATING_WINDOW, Grade, Rating, RatingError
from app.notifications import Change, QueueChanged, changes_of
from app.services.permissions import PermissionDenied
from app.services.queue import QueueService
from app.services.queue_store import SqliteQueueStore
from app.services.ratings import RatingService
from app.storage.models import OutboxOp, QueueRatingRow
from app.workstation import Workstation

FOOD = "11330100MB0000001X4000215001000"   # 食品经营许可（新办）in the demo catalogue
APPLICANT = Applicant(ApplicantKind.PERSON, "王小明", IdType.RESIDENT_ID,
                      "330102198001010026")
SLOW = ("办事效率低、等候时间长",)


class Clock:
    """Time moves only when the test says so (one second per reading), from now: the
    cases the service looks up are stamped with the real time."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


class Hall:
    """A workstation's queue and ratings on one test clock."""

    def __init__(self, ws: Workstation) -> None:
        self.ws, self.clock = ws, Clock()
        hub = changes_of(ws.db)
        self.queue = QueueService(SqliteQueueStore(ws.db), hub, clock=self.clock)
        self.ratings = RatingService(ws.db, hub, clock=self.clock)

    def finish(self, window: str, *, called_by: str = "clerk-1",
               finished_by: str = "clerk-1", category: str = "A") -> Rating:
        """A ticket taken, called and finished at ``window``; a 满意 rating of it."""
        number = self.queue.take(category).ticket.number
        called = self.queue.call_next(window, clerk_id=called_by)
        assert called is not None and called.number == number
        done = self.queue.finish(window, clerk_id=finished_by)
        return Rating(done.id, done.number, window, Grade.SATISFIED)


@pytest.fixture
def hall(fresh_ws: Workstation) -> Hall:
    return Hall(fresh_ws)


def supervisor(clerk_id: str = "sup-1", role: str = "supervisor") -> Clerk:
    return Clerk(clerk_id, "李值班", "330100001", "01", "1", role)


def test_the_workstations_ratings_offer_a_finished_ticket_until_it_is_rated(
        fresh_ws: Workstation) -> None:
    number = fresh_ws.queue.take("A").ticket.number
    fresh_ws.queue.call_next("1", clerk_id="clerk-1")
    done = fresh_ws.queue.finish("1", clerk_id="clerk-1")
    awaiting = fresh_ws.ratings.awaiting("1")
    assert awaiting is not None and (awaiting.id, awaiting.number) == (done.id, number)
    assert fresh_ws.ratings.awaiting("2") is None

    fresh_ws.ratings.record(Rating(done.id, number, "1", Grade.VERY_SATISFIED))

    assert fresh_ws.ratings.awaiting("1") is None
    [stored] = fresh_ws.ratings.ratings()
    assert (stored.number, stored.grade, stored.follow_up_required) == (
        number, Grade.VERY_SATISFIED, False)


def test_a_rating_stores_the_clerk_who_finished_the_ticket_and_an_outbox_op(
        hall: Hall) -> None:
    rating = hall.finish("1", called_by="clerk-1", finished_by="clerk-2")
    seen: list[Change] = []
    unsubscribe = changes_of(hall.ws.db).subscribe(seen.append)
    try:
        hall.ratings.record(rating)
    finally:
        unsubscribe()
    rated_at = hall.clock.now   # the clock's last reading, before today() reads it again

    [stored] = hall.ratings.ratings(hall.queue.today())
    assert (stored.ticket_id, stored.number, stored.window, stored.clerk_id, stored.grade,
            stored.reasons, stored.case_id) == (
        rating.ticket_id, rating.number, "1", "clerk-2", Grade.SATISFIED, (), "")
    assert stored.rated_at == rated_at
    assert seen == [QueueChanged(rating.number, "rated", "1")]
    with hall.ws.db.read() as session:
        [op] = session.scalars(select(OutboxOp).where(OutboxOp.entity == "queue_rating"))
    assert (op.entity_id, op.kind, op.payload["clerk_id"], op.payload["grade"]) == (
        stored.id, "rated", "clerk-2", 4)


def test_the_case_opened_for_the_ticket_that_day_is_stored_with_its_rating(
        hall: Hall) -> None:
    first = hall.finish("1")
    second = hall.finish("1")
    s = hall.ws.settings
    clerk = Clerk("clerk-1", "张三", s.site_code, "01", "1")
    other = hall.ws.cases.open_case(FOOD, APPLICANT, clerk, queue_ticket=first.number)
    case = hall.ws.cases.open_case(FOOD, APPLICANT, clerk, queue_ticket=second.number)

    hall.ratings.record(second)

    rating = hall.ratings.rating_of(second.ticket_id)
    assert rating is not None and rating.case_id == case.id != other.id


def test_only_the_ticket_last_finished_at_the_window_awaits_a_rating(hall: Hall) -> None:
    earlier = hall.finish("1")
    last = hall.finish("1")
    elsewhere = hall.finish("2")
    awaiting = hall.ratings.awaiting("1")
    assert awaiting is not None and awaiting.id == last.ticket_id
    awaiting = hall.ratings.awaiting("2")
    assert awaiting is not None and awaiting.id == elsewhere.ticket_id

    hall.ratings.record(last)

    # The applicant of the earlier ticket has gone: the screen does not ask for it again.
    assert hall.ratings.awaiting("1") is None
    hall.ratings.record(earlier)   # but a screen still showing it may send its rating
    assert [r.number for r in hall.ratings.ratings()] == [last.number, earlier.number]


def test_a_ticket_is_rated_only_at_its_window_within_thirty_minutes(hall: Hall) -> None:
    rating = hall.finish("1")
    with pytest.raises(RatingError, match=f"{rating.number}号不是在2号窗口办结的"):
        hall.ratings.record(Rating(rating.ticket_id, rating.number, "2", Grade.SATISFIED))
    assert dt.timedelta(minutes=30) == RATING_WINDOW
    hall.clock.now += RATING_WINDOW - dt.timedelta(seconds=30)
    awaiting = hall.ratings.awaiting("1")
    assert awaiting is not None and awaiting.id == rating.ticket_id
    hall.clock.now += dt.timedelta(seconds=30)

    assert hall.ratings.awaiting("1") is None
    with pytest.raises(RatingError, match=f"{rating.number}号办结已超过30分钟，不能再评价"):
        hall.ratings.record(rating)
    assert hall.ratings.ratings() == []


def test_a_ticket_not_yet_finished_cannot_be_rated(hall: Hall) -> None:
    ticket = hall.queue.take("A").ticket
    hall.queue.call_next("1")
    assert hall.ratings.awaiting("1") is None
    with pytest.raises(RatingError, match=f"{ticket.number}号不是在1号窗口办结的"):
        hall.ratings.record(Rating(ticket.id, ticket.number, "1", Grade.SATISFIED))
    with pytest.raises(RatingError, match="没有B009号的办理记录"):
        hall.ratings.record(Rating(ticket.id, "B009", "1", Grade.SATISFIED))
    with pytest.raises(QueueRuleError, match="窗口号"):
        hall.ratings.awaiting("1 OR 1=1")


def test_a_second_rating_of_the_same_ticket_is_refused(hall: Hall) -> None:
    rating = hall.finish("1")
    hall.ratings.record(rating)
    with pytest.raises(RatingError, match=f"{rating.number}号已经评价过，每个号只能评价一次"):
        hall.ratings.record(Rating(rating.ticket_id, rating.number, "1",
                                   Grade.VERY_DISSATISFIED, SLOW))
    assert [r.grade for r in hall.ratings.ratings()] == [Grade.SATISFIED]


@pytest.mark.parametrize(("grade", "reasons", "message"), [
    (Grade.DISSATISFIED, (), "“不满意”须至少选择一项不满意的原因"),
    (Grade.VERY_DISSATISFIED, ("服务态度不好", "太热了"), "原因“太热了”不在可选范围内"),
    (Grade.SATISFIED, SLOW, "“满意”不需要填写不满意的原因"),
    (6, (), "评价等级“6”无效"),
], ids=["bad-without-reason", "unknown-reason", "good-with-reason", "grade-6"])
def test_a_rating_with_wrong_grade_or_reasons_is_refused(
        hall: Hall, grade: int, reasons: tuple[str, ...], message: str) -> None:
    rating = hall.finish("1")
    with pytest.raises(RatingError, match=message):
        hall.ratings.record(Rating(rating.ticket_id, rating.number, "1",
                                   grade, reasons))  # type: ignore[arg-type]
    assert hall.ratings.ratings() == []
    assert hall.ratings.awaiting("1") is not None   # still waiting for a valid one


def test_rating_rows_are_append_only_in_the_database(hall: Hall) -> None:
    hall.ratings.record(hall.finish("1"))
    raw = sqlite3.connect(hall.ws.settings.database_path)
    try:
        for sql in ("UPDATE queue_ratings SET grade = 5", "DELETE FROM queue_ratings",
                    "INSERT OR REPLACE INTO queue_ratings SELECT * FROM queue_ratings"):
            with pytest.raises(sqlite3.IntegrityError, match="queue_ratings is append-only"):
                raw.execute(sql)
        with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint"):
            raw.execute("INSERT INTO queue_ratings SELECT 'x', 'y', ticket_number, day, "
                        "case_id, window, clerk_id, 0, reasons, rated_at, "
                        "follow_up_required FROM queue_ratings")
    finally:
        raw.close()
    [stored] = hall.ratings.ratings()
    assert stored.grade is Grade.SATISFIED


def test_a_bad_rating_waits_for_a_supervisors_follow_up(hall: Hall) -> None:
    good = hall.finish("1")
    hall.ratings.record(good)
    bad = hall.finish("2", finished_by="clerk-2")
    hall.ratings.record(Rating(bad.ticket_id, bad.number, "2", Grade.DISSATISFIED, SLOW))
    [open_one] = hall.ratings.open_followups()
    assert (open_one.number, open_one.clerk_id, open_one.reasons,
            open_one.follow_up_required) == (bad.number, "clerk-2", SLOW, True)

    done = hall.ratings.follow_up(open_one.id, "  已电话回访，申请人表示理解。 ", supervisor())

    assert (done.rating_id, done.supervisor_id, done.note) == (
        open_one.id, "sup-1", "已电话回访，申请人表示理解。")
    assert hall.ratings.open_followups() == []
    assert hall.ratings.follow_ups(open_one.id) == [done]
    with hall.ws.db.read() as session:
        ops = session.scalars(select(OutboxOp.entity).where(
            OutboxOp.entity.like("queue_rating%")).order_by(OutboxOp.device_seq)).all()
    assert ops == ["queue_rating", "queue_rating", "queue_rating_followup"]
    [good_row] = [r for r in hall.ratings.ratings() if r.ticket_id == good.ticket_id]
    with pytest.raises(RatingError, match="不是差评，无需回访"):
        hall.ratings.follow_up(good_row.id, "回访", supervisor())


def test_only_another_supervisor_or_admin_may_follow_up_and_must_write_a_note(
        hall: Hall) -> None:
    bad = hall.finish("1", finished_by="sup-1")   # the supervisor served at a window
    hall.ratings.record(Rating(bad.ticket_id, bad.number, "1", Grade.VERY_DISSATISFIED,
                               ("服务态度不好",)))
    [rating] = hall.ratings.open_followups()
    with pytest.raises(PermissionDenied, match="无权回访差评，须由系统管理员或值班长操作"):
        hall.ratings.follow_up(rating.id, "回访", supervisor("clerk-9", "clerk"))
    with pytest.raises(RatingError, match="不能回访对自己服务的差评"):
        hall.ratings.follow_up(rating.id, "回访", supervisor("sup-1"))
    with pytest.raises(RatingError, match="请填写回访情况"):
        hall.ratings.follow_up(rating.id, "   ", supervisor("admin-1", "admin"))
    with pytest.raises(RatingError, match="没有这条评价记录"):
        hall.ratings.follow_up("no-such-id", "回访", supervisor("admin-1", "admin"))
    assert hall.ratings.open_followups() == [rating]

    hall.ratings.follow_up(rating.id, "已约谈当事窗口人员。", supervisor("admin-1", "admin"))
    assert hall.ratings.open_followups() == []


def test_ratings_count_under_the_tickets_day(hall: Hall) -> None:
    rating = hall.finish("1")
    day = hall.queue.today()
    hall.ratings.record(rating)
    assert [r.number for r in hall.ratings.ratings(day)] == [rating.number]
    assert hall.ratings.ratings(day - dt.timedelta(days=1)) == []
    with hall.ws.db.read() as session:
        assert session.scalars(select(QueueRatingRow.day)).all() == [day]
