"""差评整改 dialog on a real workstation: a ticket taken, called, finished by a clerk and
rated 非常不满意 on the evaluation screen's service; the supervisor records the follow-up
with the keyboard and the database holds it; a clerk is refused with the service's words
and keeps the note; a 差评 given meanwhile appears. Screenshot: /tmp/shots/."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.domain.case import Applicant, ApplicantKind, Clerk, IdType
from app.domain.rating import Grade, Rating
from app.notifications import changes_of
from app.services.accounts import DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD, Role
from app.workstation import Workstation
from tests.support import FOOD
from tests.ui.keys import commit, here, press
from ui import ops
from ui.events import ChangeEvents
from ui.queue.followups import RatingFollowUpDialog

SHOTS = Path("/tmp/shots")
NOTE = "已电话回访申请人并致歉；窗口人员已重新学习服务规范。"


@dataclass
class Hall:
    station: Workstation
    clerk: Clerk          # 张三, who served the tickets
    supervisor: Clerk     # 李四
    number: str           # the ticket rated 非常不满意
    case_number: str


def _rate(station: Workstation, clerk: Clerk, grade: Grade, reasons: tuple[str, ...] = (),
          *, with_case: bool = False) -> tuple[str, str]:
    """A ticket taken, called and finished at window 1 by ``clerk``, then rated."""
    number = station.queue.take("A").ticket.number
    called = station.queue.call_next("1", clerk_id=clerk.clerk_id)
    assert called is not None and called.number == number
    case_number = ""
    if with_case:
        applicant = Applicant(ApplicantKind.PERSON, "王小明", IdType.RESIDENT_ID,
                              "330102198001010026", phone="13800138000")
        case_number = station.cases.open_case(FOOD, applicant, clerk,
                                              queue_ticket=number).number
    finished = station.queue.finish("1", clerk_id=clerk.clerk_id)
    station.ratings.record(Rating(finished.id, number, "1", grade, reasons))
    return number, case_number


@pytest.fixture
def hall(station: Workstation) -> Hall:
    accounts = station.accounts
    admin = accounts.login(DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD)
    admin = accounts.change_password(admin.user_id, DEFAULT_ADMIN_PASSWORD, "Guanli2026")
    clerk = station.clerk(accounts.add_user(admin, "zhangsan", "张三", Role.CLERK,
                                            "Chuangkou2026"))
    supervisor = station.clerk(accounts.add_user(admin, "lisi", "李四", Role.SUPERVISOR,
                                                 "Zhiban2026"))
    _rate(station, clerk, Grade.SATISFIED)                       # no follow-up needed
    number, case_number = _rate(station, clerk, Grade.VERY_DISSATISFIED,
                                ("服务态度不好", "多次跑腿仍未办成"), with_case=True)
    return Hall(station, clerk, supervisor, number, case_number)


def _dialog(qtbot: QtBot, hall: Hall, clerk: Clerk) -> Iterator[RatingFollowUpDialog]:
    events = ChangeEvents(changes_of(hall.station.db))
    dialog = RatingFollowUpDialog(hall.station, clerk, events=events)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.loaded, timeout=10_000):
        dialog.show()
    qtbot.waitExposed(dialog)
    dialog.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog)   # activation is async
    yield dialog
    ops.wait_idle(30_000)
    events.stop()
    dialog.close()


@pytest.fixture
def supervisor_dialog(qtbot: QtBot, hall: Hall) -> Iterator[RatingFollowUpDialog]:
    yield from _dialog(qtbot, hall, hall.supervisor)


@pytest.fixture
def clerk_dialog(qtbot: QtBot, hall: Hall) -> Iterator[RatingFollowUpDialog]:
    yield from _dialog(qtbot, hall, hall.clerk)


def _row(dialog: RatingFollowUpDialog, row: int) -> list[str]:
    table = dialog.table
    cells = [table.item(row, col) for col in range(table.columnCount())]
    return [cell.text() if cell is not None else "" for cell in cells]


def _ctrl_enter(qtbot: QtBot) -> None:
    press(qtbot, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)


def test_the_supervisor_records_a_follow_up_by_keyboard_and_it_leaves_the_list(
        qtbot: QtBot, hall: Hall, supervisor_dialog: RatingFollowUpDialog) -> None:
    dialog, ratings = supervisor_dialog, hall.station.ratings
    [rating] = ratings.open_followups()
    assert dialog.heading.text() == "待回访的差评：1 条"
    assert dialog.table.rowCount() == 1
    cells = _row(dialog, 0)
    assert cells[1:] == [hall.number, "1号", "张三", "非常不满意", "服务态度不好、多次跑腿仍未办成",
                         hall.case_number, "待回访"]
    assert cells[0] == f"{rating.rated_at.astimezone():%Y-%m-%d %H:%M}"
    assert here() is dialog.table

    press(qtbot, Qt.Key.Key_Return)
    assert here() is dialog.note
    assert dialog.detail.text().startswith(f"{hall.number}号（1号窗口，张三）：非常不满意")
    _ctrl_enter(qtbot)                                   # nothing written yet
    assert dialog.error.text() == "请填写回访情况。"
    commit(dialog.note, NOTE)
    assert dialog.error.text() == ""                     # the message goes as one writes
    SHOTS.mkdir(exist_ok=True)
    assert dialog.grab().save(str(SHOTS / "rating-followups.png"))

    with qtbot.waitSignal(dialog.recorded, timeout=10_000) as recorded:
        _ctrl_enter(qtbot)

    [stored] = ratings.follow_ups(rating.id)
    assert recorded.args == [stored]
    assert (stored.supervisor_id, stored.note) == (hall.supervisor.clerk_id, NOTE)
    assert ratings.open_followups() == []
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 0, timeout=10_000)
    assert dialog.heading.text() == "没有待回访的差评。"
    assert dialog.status.text() == f"已记录{hall.number}号差评的回访。"
    assert dialog.error.text() == "" and not dialog.note.isEnabled()

    with qtbot.waitSignal(dialog.loaded, timeout=10_000):
        press(qtbot, Qt.Key.Key_F8)                      # the closed ones, with what was done
    assert dialog.table.rowCount() == 1
    assert _row(dialog, 0)[-1] == f"李四 {stored.at.astimezone():%m-%d %H:%M}：{NOTE}"
    assert dialog.heading.text() == "没有待回访的差评。"
    SHOTS.mkdir(exist_ok=True)
    assert dialog.grab().save(str(SHOTS / "rating-followups-closed.png"))


def test_a_clerk_is_refused_with_the_services_message_and_keeps_the_note(
        qtbot: QtBot, hall: Hall, clerk_dialog: RatingFollowUpDialog) -> None:
    dialog = clerk_dialog
    press(qtbot, Qt.Key.Key_Return)
    commit(dialog.note, NOTE)
    ops.wait_idle(30_000)

    _ctrl_enter(qtbot)
    qtbot.waitUntil(lambda: dialog.error.text() != "", timeout=10_000)

    assert dialog.error.text() == "当前账号（窗口工作人员）无权回访差评，须由系统管理员或值班长操作。"
    assert dialog.note.toPlainText() == NOTE and here() is dialog.note
    [rating] = hall.station.ratings.open_followups()
    assert hall.station.ratings.follow_ups(rating.id) == []
    assert dialog.table.rowCount() == 1


def test_esc_in_the_note_goes_back_to_the_list_and_esc_there_closes(
        qtbot: QtBot, supervisor_dialog: RatingFollowUpDialog) -> None:
    dialog = supervisor_dialog
    press(qtbot, Qt.Key.Key_Return)
    commit(dialog.note, "已回访")
    press(qtbot, Qt.Key.Key_Escape)
    assert dialog.isVisible() and here() is dialog.table
    assert dialog.note.toPlainText() == "已回访"        # Enter again finds it
    press(qtbot, Qt.Key.Key_Escape)
    assert not dialog.isVisible()


def test_a_bad_rating_given_while_the_list_is_open_appears_in_it(
        qtbot: QtBot, hall: Hall, supervisor_dialog: RatingFollowUpDialog) -> None:
    dialog = supervisor_dialog
    with qtbot.waitSignal(dialog.loaded, timeout=10_000):
        number, _ = _rate(hall.station, hall.clerk, Grade.DISSATISFIED, ("政策解释不清楚",))
    assert dialog.heading.text() == "待回访的差评：2 条"
    assert [_row(dialog, r)[1] for r in range(2)] == [hall.number, number]
