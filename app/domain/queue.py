"""The queue (排队叫号): tickets, their numbers and the events that move them.

A ticket changes only through events (:class:`TicketEventKind`); :func:`apply_event` is
the one place that says which event may follow which status, so the client's own
database, the site server and the tests all run the same lifecycle::

    waiting ──called──▶ called ──serving──▶ serving ──finished──▶ finished
       ▲                 │ ▲ recalled (at most ``max_recalls`` times per call)
       │                 │ └──────────┐
       ├──missed (returns left)───────┤ missed (none left) ──▶ missed (no-show, final)
       ├──transferred (from called / serving / suspended / waiting)
       │                 called|serving ──suspended──▶ suspended ──resumed──▶ called

A missed ticket goes back to the *end* of its queue (``policy.missed_returns`` times,
once by default); a transferred one keeps its place by issue time in the queue it joins.
Which waiting ticket a window calls next is :mod:`app.domain.queue_policy`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from app.errors import UserError

PREFIX_RE = re.compile(r"[A-Z]", re.ASCII)
WINDOW_RE = re.compile(r"[0-9A-Za-z\u4e00-\u9fff-]{1,8}")   # as settings.toml names it
APPOINTMENT_RE = re.compile(r"[0-9A-Za-z]{4,32}", re.ASCII)
MAX_DAILY_TICKETS = 999   # the number has three digits: A001 … A999


class QueueRuleError(UserError, ValueError):
    """A queue action that may not happen now, or a bad setting (message in Chinese)."""


class TicketTransitionError(QueueRuleError):
    """An event that may not follow the ticket's current status (like CaseTransitionError)."""


class TicketClass(StrEnum):
    ORDINARY = "普通"
    APPOINTMENT = "预约"       # checked in with an appointment code or ID number
    PRIORITY = "优先"          # 绿色通道: elderly 60+, disabled, 军人依法优先 …


# Why a ticket is 优先; recorded with it (statistics, and the clerk sees why).
PRIORITY_REASONS = ("老年人（60周岁及以上）", "残疾人", "军人依法优先", "孕妇或怀抱婴儿者",
                    "其他绿色通道")


class TicketStatus(StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    SUSPENDED = "suspended"
    FINISHED = "finished"
    MISSED = "missed"          # final: no-show after its returns were used


STATUS_NAMES = {TicketStatus.WAITING: "等候中", TicketStatus.CALLED: "已叫号",
                TicketStatus.SERVING: "办理中", TicketStatus.SUSPENDED: "已挂起",
                TicketStatus.FINISHED: "已办结", TicketStatus.MISSED: "已过号"}
# A window holds at most one ticket in these (the one it is dealing with).
AT_WINDOW = frozenset({TicketStatus.CALLED, TicketStatus.SERVING})


class TicketEventKind(StrEnum):
    ISSUED = "issued"
    CALLED = "called"          # 叫号
    RECALLED = "recalled"      # 重呼
    SERVING = "serving"        # the applicant is at the window
    SUSPENDED = "suspended"    # 挂起: the applicant fetches a paper; 回呼 later
    RESUMED = "resumed"        # 回呼
    TRANSFERRED = "transferred"  # 转移 to a category or a window
    MISSED = "missed"          # 过号
    FINISHED = "finished"      # 办结


@dataclass(frozen=True, slots=True)
class QueuePolicy:
    """The site's queue settings (stored with the categories and windows)."""

    fair_after: int = 3        # K: after K preferred calls in a row, an ordinary one
    max_recalls: int = 2       # 重呼 per call
    missed_returns: int = 1    # how often a missed ticket goes back to the end (0: never)

    def __post_init__(self) -> None:
        if not 1 <= self.fair_after <= 20:
            raise QueueRuleError("连续优先叫号次数应为1至20。")
        if not 0 <= self.max_recalls <= 10:
            raise QueueRuleError("重呼次数上限应为0至10。")
        if not 0 <= self.missed_returns <= 5:
            raise QueueRuleError("过号后重新排队的次数应为0至5。")

    def to_json(self) -> dict[str, Any]:
        return {"fair_after": self.fair_after, "max_recalls": self.max_recalls,
                "missed_returns": self.missed_returns}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> QueuePolicy:
        return cls(int(d.get("fair_after", 3)), int(d.get("max_recalls", 2)),
                   int(d.get("missed_returns", 1)))


@dataclass(frozen=True, slots=True)
class Ticket:
    """The current state of a ticket, as the projection row holds it."""

    id: str
    number: str                # A012: issued prefix + daily sequence, never changes
    category: str              # the prefix of the queue it is in now (transfers change it)
    day: dt.date               # the business day it was issued on
    ticket_class: TicketClass
    status: TicketStatus
    issued_at: dt.datetime     # UTC
    queued_at: dt.datetime     # its place in the queue (issue time; a missed one: re-queue)
    priority_reason: str = ""
    appointment: str = ""
    id_number: str = ""
    target_window: str = ""    # transferred to one window: only it may call the ticket
    window: str = ""           # the window holding it (called / serving / suspended)
    recalls: int = 0           # 重呼 since it was last called
    returns: int = 0           # times it went back to the end after a 过号
    version: int = 1

    @property
    def preferred(self) -> bool:
        """优先 and 预约 tickets go before ordinary ones (within the fairness bound)."""
        return self.ticket_class is not TicketClass.ORDINARY


@dataclass(frozen=True, slots=True)
class TicketEvent:
    """One thing that happened to a ticket, when and where."""

    kind: TicketEventKind
    at: dt.datetime            # UTC
    window: str = ""
    clerk_id: str = ""
    category: str = ""         # TRANSFERRED: the queue it joins
    target_window: str = ""    # TRANSFERRED: the one window that may call it

    def to_json(self) -> dict[str, Any]:
        return {"kind": str(self.kind), "at": self.at.isoformat(), "window": self.window,
                "clerk_id": self.clerk_id, "category": self.category,
                "target_window": self.target_window}


def ticket_number(prefix: str, seq: int) -> str:
    """A012: the category's letter and the day's three-digit sequence."""
    check_prefix(prefix)
    if not 1 <= seq <= MAX_DAILY_TICKETS:
        raise QueueRuleError(f"“{prefix}”类今天的号码已取完（每天最多{MAX_DAILY_TICKETS}个）。")
    return f"{prefix}{seq:03d}"


def check_prefix(prefix: str) -> str:
    if not PREFIX_RE.fullmatch(prefix):
        raise QueueRuleError(f"业务类别字母“{prefix}”应为一个大写英文字母 A-Z。")
    return prefix


def check_window(window: str) -> str:
    if not WINDOW_RE.fullmatch(window):
        raise QueueRuleError(f"窗口号“{window}”应为1至8位字母、数字或汉字。")
    return window


def check_ticket_request(ticket_class: TicketClass, *, priority_reason: str = "",
                         appointment: str = "", id_number: str = "") -> None:
    """What a ticket of ``ticket_class`` must come with (raise QueueRuleError)."""
    if ticket_class is TicketClass.PRIORITY and priority_reason not in PRIORITY_REASONS:
        raise QueueRuleError("优先号请选择优先原因：" + "、".join(PRIORITY_REASONS) + "。")
    if ticket_class is TicketClass.APPOINTMENT and not (appointment or id_number):
        raise QueueRuleError("预约取号请输入预约码或身份证号。")
    if appointment and not APPOINTMENT_RE.fullmatch(appointment):
        raise QueueRuleError("预约码应为4至32位字母或数字。")
    if id_number:
        check_check_in_id(id_number)


def check_check_in_id(id_number: str) -> str:
    """An ID number a 预约 ticket is checked in with: a valid 居民身份证 or 港澳台居民
    居住证 number (the kiosk, the CLI and the site server all take it through here)."""
    from app.domain.identity import IdentityError, check_hmt_residence_id, check_resident_id

    try:
        if id_number.startswith(("81", "82", "83")):
            return check_hmt_residence_id(id_number)
        return check_resident_id(id_number).number
    except IdentityError as exc:
        raise QueueRuleError(f"预约取号的身份证号码无效：{exc}") from None


def new_ticket(ticket_id: str, prefix: str, seq: int, day: dt.date, ticket_class: TicketClass,
               at: dt.datetime, *, priority_reason: str = "", appointment: str = "",
               id_number: str = "") -> Ticket:
    """The ticket an ISSUED event creates."""
    check_ticket_request(ticket_class, priority_reason=priority_reason,
                         appointment=appointment, id_number=id_number)
    return Ticket(id=ticket_id, number=ticket_number(prefix, seq), category=prefix, day=day,
                  ticket_class=ticket_class, status=TicketStatus.WAITING, issued_at=at,
                  queued_at=at, priority_reason=priority_reason, appointment=appointment,
                  id_number=id_number)


# Which statuses each event may follow.
_FROM: dict[TicketEventKind, frozenset[TicketStatus]] = {
    TicketEventKind.CALLED: frozenset({TicketStatus.WAITING}),
    TicketEventKind.RECALLED: frozenset({TicketStatus.CALLED}),
    TicketEventKind.SERVING: frozenset({TicketStatus.CALLED}),
    TicketEventKind.SUSPENDED: AT_WINDOW,
    TicketEventKind.RESUMED: frozenset({TicketStatus.SUSPENDED}),
    TicketEventKind.TRANSFERRED: frozenset({TicketStatus.WAITING, TicketStatus.CALLED,
                                            TicketStatus.SERVING, TicketStatus.SUSPENDED}),
    TicketEventKind.MISSED: frozenset({TicketStatus.CALLED}),
    TicketEventKind.FINISHED: AT_WINDOW,
}
_ACTION_NAMES = {TicketEventKind.CALLED: "叫号", TicketEventKind.RECALLED: "重呼",
                 TicketEventKind.SERVING: "开始办理", TicketEventKind.SUSPENDED: "挂起",
                 TicketEventKind.RESUMED: "回呼", TicketEventKind.TRANSFERRED: "转移",
                 TicketEventKind.MISSED: "过号", TicketEventKind.FINISHED: "办结"}


def check_transition(ticket: Ticket, event: TicketEvent, policy: QueuePolicy) -> None:
    """Raise TicketTransitionError if ``event`` may not happen to ``ticket`` now."""
    kind = event.kind
    if kind is TicketEventKind.ISSUED:
        raise TicketTransitionError(f"{ticket.number}号已经取号，不能重复取号。")
    name = _ACTION_NAMES[kind]
    if ticket.status not in _FROM[kind]:
        raise TicketTransitionError(
            f"{ticket.number}号{STATUS_NAMES[ticket.status]}，不能{name}。")
    held_elsewhere = (ticket.status is not TicketStatus.WAITING and ticket.window
                      and event.window and event.window != ticket.window)
    if held_elsewhere and kind is not TicketEventKind.TRANSFERRED:
        raise TicketTransitionError(
            f"{ticket.number}号由{ticket.window}号窗口办理，本窗口不能{name}。")
    if kind is TicketEventKind.CALLED:
        if not event.window:
            raise TicketTransitionError("叫号须指明窗口。")
        if ticket.target_window and event.window != ticket.target_window:
            raise TicketTransitionError(
                f"{ticket.number}号已转到{ticket.target_window}号窗口，本窗口不能叫号。")
    if kind is TicketEventKind.RECALLED and ticket.recalls >= policy.max_recalls:
        raise TicketTransitionError(
            f"{ticket.number}号已重呼{ticket.recalls}次（上限{policy.max_recalls}次），"
            "请过号或开始办理。")
    if kind is TicketEventKind.TRANSFERRED and not (event.category or event.target_window):
        raise TicketTransitionError("转移须指明转到哪个业务类别或窗口。")


def apply_event(ticket: Ticket, event: TicketEvent, policy: QueuePolicy) -> Ticket:
    """Return the ticket after ``event``; raise TicketTransitionError if it may not happen."""
    check_transition(ticket, event, policy)
    kind = event.kind
    after = replace(ticket, version=ticket.version + 1)
    if kind is TicketEventKind.CALLED:
        # ``target_window`` stays: a ticket transferred to one window goes back to that
        # window's queue after a 过号, not to every window of its category.
        return replace(after, status=TicketStatus.CALLED, window=event.window, recalls=0)
    if kind is TicketEventKind.RECALLED:
        return replace(after, recalls=ticket.recalls + 1)
    if kind is TicketEventKind.SERVING:
        return replace(after, status=TicketStatus.SERVING)
    if kind is TicketEventKind.SUSPENDED:
        return replace(after, status=TicketStatus.SUSPENDED)
    if kind is TicketEventKind.RESUMED:
        # 回呼 announces the ticket again at the window that suspended it.
        return replace(after, status=TicketStatus.CALLED, recalls=0)
    if kind is TicketEventKind.TRANSFERRED:
        # Keeps ``queued_at``: it joins the other queue at its place by issue time.
        return replace(after, status=TicketStatus.WAITING, window="", recalls=0,
                       category=event.category or ticket.category,
                       target_window=event.target_window)
    if kind is TicketEventKind.MISSED:
        if ticket.returns < policy.missed_returns:
            return replace(after, status=TicketStatus.WAITING, window="", recalls=0,
                           returns=ticket.returns + 1, queued_at=event.at)
        return replace(after, status=TicketStatus.MISSED)
    if kind is TicketEventKind.FINISHED:
        return replace(after, status=TicketStatus.FINISHED)
    raise TicketTransitionError(f"未知的排队事件：{kind}")


def event_from_json(d: dict[str, Any]) -> TicketEvent:
    return TicketEvent(TicketEventKind(d["kind"]), dt.datetime.fromisoformat(d["at"]),
                       d.get("window", ""), d.get("clerk_id", ""), d.get("category", ""),
                       d.get("target_window", ""))
