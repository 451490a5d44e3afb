"""A day of the queue in figures (排队统计), computed from the tickets' events.

Every figure comes from the timestamped events (app.domain.queue), never from a clock
read at the window, so the county can recompute the same figures from what it receives:

* **等候时长** (waiting): from 取号 to the ticket's first 叫号. A ticket nobody called is
  not in the figure; if it still waits, it counts in ``waiting_now`` (and in the alert
  once it has waited ``limit`` minutes).
* **办理时长** (service): the time the ticket spent at a window — each stint from 叫号 or
  回呼 to the next 挂起, 转移, 过号 or 办结 — added up for a ticket that was finished.
  A stint that ended in 过号 is not service (the applicant was not there), and the
  time a ticket spent 挂起 (fetching a paper) is not either.
* A **window** and a **clerk** are credited with the stints they began (the clerk who
  called the number); their ``finished`` counts the 办结 events they recorded.
* **过号未到** (no-show): a ticket whose final state is 过号 — it used its returns.
* **评价**: the ratings of the day's tickets, with the window and the clerk who finished.
* **手工叫号**: numbers called aloud while the queue was out (app.domain.manual_call);
  counted per window and clerk, with no times (nothing recorded when they were taken).

Averages, medians and 90th percentiles are over the tickets (not the stints) in seconds;
the 90th percentile is the nearest-rank one (a real ticket's time, never interpolated).
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from app.domain.manual_call import ManualCall
from app.domain.queue import Ticket, TicketClass, TicketEventKind, TicketStatus
from app.domain.rating import Grade, StoredRating

# Hall practice: an applicant who has waited half an hour is a case for the 值班长.
WAIT_ALERT_MINUTES = 30

_STINT_STARTS = frozenset({TicketEventKind.CALLED, TicketEventKind.RESUMED})
_STINT_ENDS = frozenset({TicketEventKind.SUSPENDED, TicketEventKind.TRANSFERRED,
                         TicketEventKind.MISSED, TicketEventKind.FINISHED})


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One stored ticket event, as much of it as the figures need."""

    ticket_id: str
    seq: int
    kind: TicketEventKind
    at: dt.datetime
    window: str = ""
    clerk_id: str = ""


@dataclass(frozen=True, slots=True)
class Durations:
    """Count, mean, median and 90th percentile of some durations, in seconds."""

    count: int = 0
    mean: float | None = None
    median: float | None = None
    p90: float | None = None

    @classmethod
    def of(cls, seconds: Iterable[float]) -> Durations:
        values = sorted(seconds)
        if not values:
            return cls()
        rank = math.ceil(0.9 * len(values))          # nearest rank, 1-based
        return cls(len(values), statistics.fmean(values), statistics.median(values),
                   values[rank - 1])


@dataclass(frozen=True, slots=True)
class RatingFigures:
    total: int = 0
    by_grade: Mapping[Grade, int] = field(default_factory=dict)
    dissatisfied: int = 0        # 不满意 + 非常不满意 (差评)
    open_follow_ups: int = 0     # 差评 not yet followed up (整改)

    @property
    def satisfied_share(self) -> float | None:
        """满意率: the share of ratings of 基本满意 or better."""
        return None if not self.total else (self.total - self.dissatisfied) / self.total


@dataclass(frozen=True, slots=True)
class CategoryFigures:
    prefix: str                  # "" for the whole hall
    name: str
    issued: int
    by_class: Mapping[TicketClass, int]
    called: int
    finished: int
    no_shows: int
    waiting_now: int
    waited_too_long: int         # waited ``limit`` minutes or more (called or not yet)
    waiting: Durations
    service: Durations


@dataclass(frozen=True, slots=True)
class DeskFigures:
    """One window's or one clerk's day."""

    key: str                     # the window number, or the clerk's id ("" if none)
    name: str
    calls: int                   # 叫号 and 回呼 (stints begun, finished or not)
    finished: int
    skipped: int                 # 过号 recorded
    service: Durations
    ratings: RatingFigures
    manual: int = 0              # 手工叫号 (numbers called aloud while the queue was out)


@dataclass(frozen=True, slots=True)
class WaitingAlert:
    """A ticket that has waited ``minutes`` since it joined the queue, and still waits."""

    number: str
    category: str
    ticket_class: TicketClass
    minutes: int


@dataclass(frozen=True, slots=True)
class DayStatistics:
    day: dt.date
    at: dt.datetime              # when computed (for "waiting now" and the alerts)
    limit_minutes: int
    hall: CategoryFigures
    categories: list[CategoryFigures]
    windows: list[DeskFigures]
    clerks: list[DeskFigures]
    ratings: RatingFigures
    alerts: list[WaitingAlert]   # longest wait first
    manual_calls: int = 0


@dataclass
class _Ticket:
    """What the events of one ticket add up to."""

    ticket: Ticket
    first_call: dt.datetime | None = None
    # (window, clerk, seconds, how it ended) for each stint at a window
    stints: list[tuple[str, str, float, TicketEventKind]] = field(default_factory=list)

    @property
    def waited(self) -> float | None:
        """取号 to first 叫号; None if not called, or if the clock was set back between
        them (no wait can be known then, and a negative one would skew the mean)."""
        if self.first_call is None:
            return None
        seconds = (self.first_call - self.ticket.issued_at).total_seconds()
        return seconds if seconds >= 0 else None

    def waited_by(self, now: dt.datetime) -> float:
        """Its wait, or how long it has waited by ``now`` if nobody has called it."""
        if self.first_call is not None:
            return self.waited or 0.0
        return (now - self.ticket.issued_at).total_seconds()

    def began(self, desk: str, *, by_clerk: bool) -> bool:
        """Did ``desk`` serve it (a stint it began that was not a no-show)?"""
        return any((c if by_clerk else w) == desk and end is not TicketEventKind.MISSED
                   for w, c, _s, end in self.stints)

    def served(self, desk: str | None = None, *, by_clerk: bool = False) -> float:
        return sum(s for w, c, s, end in self.stints if end is not TicketEventKind.MISSED
                   and (desk is None or (c if by_clerk else w) == desk))


def _walk(ticket: Ticket, events: Sequence[EventRecord]) -> _Ticket:
    walked = _Ticket(ticket)
    start: EventRecord | None = None
    for e in sorted(events, key=lambda e: e.seq):
        if e.kind is TicketEventKind.CALLED and walked.first_call is None:
            walked.first_call = e.at
        if e.kind in _STINT_ENDS and start is not None:
            seconds = max(0.0, (e.at - start.at).total_seconds())   # a clock set back
            walked.stints.append((start.window, start.clerk_id, seconds, e.kind))
            start = None
        if e.kind in _STINT_STARTS:
            start = e
    return walked


def _ratings(ratings: Iterable[StoredRating], open_ids: frozenset[str]) -> RatingFigures:
    listed = list(ratings)
    by_grade = {g: 0 for g in Grade}
    for r in listed:
        by_grade[r.grade] += 1
    bad = [r for r in listed if r.grade.needs_reason]
    return RatingFigures(len(listed), by_grade, len(bad),
                         sum(1 for r in bad if r.id in open_ids))


def _category(prefix: str, name: str, walked: list[_Ticket], now: dt.datetime,
              limit: dt.timedelta) -> CategoryFigures:
    by_class = {c: 0 for c in TicketClass}
    for w in walked:
        by_class[w.ticket.ticket_class] += 1
    waits = [s for w in walked if (s := w.waited) is not None]
    waiting = [w for w in walked if w.ticket.status is TicketStatus.WAITING]
    too_long = sum(1 for w in walked if w.waited_by(now) >= limit.total_seconds())
    finished = [w for w in walked if w.ticket.status is TicketStatus.FINISHED]
    return CategoryFigures(
        prefix, name, len(walked), by_class,
        called=sum(1 for w in walked if w.first_call is not None), finished=len(finished),
        no_shows=sum(1 for w in walked if w.ticket.status is TicketStatus.MISSED),
        waiting_now=len(waiting), waited_too_long=too_long, waiting=Durations.of(waits),
        service=Durations.of(w.served() for w in finished))


def _desks(walked: list[_Ticket], events: Sequence[EventRecord], ratings: list[StoredRating],
           manual: Sequence[ManualCall], open_ids: frozenset[str], names: Mapping[str, str],
           *, by_clerk: bool) -> list[DeskFigures]:
    keys: dict[str, None] = {}
    for m in manual:
        keys[m.clerk_id if by_clerk else m.window] = None
    for w in walked:
        for window, clerk, _s, _end in w.stints:
            keys[clerk if by_clerk else window] = None
    for e in events:   # a window is in the table from its first call, not its first 办结
        if e.kind is TicketEventKind.FINISHED or e.kind in _STINT_STARTS:
            keys[e.clerk_id if by_clerk else e.window] = None
    for r in ratings:   # rated, though its tickets' events are gone
        keys[r.clerk_id if by_clerk else r.window] = None
    out = []

    def order(k: str) -> tuple[int, str]:   # windows 1, 2 … 10; clerks by name
        if by_clerk:
            return 0, names.get(k, k)
        return (0, k.zfill(8)) if k.isdigit() else (1, k)

    for key in sorted(keys, key=order):
        def mine(e: EventRecord, kind: TicketEventKind, key: str = key) -> bool:
            return e.kind is kind and (e.clerk_id if by_clerk else e.window) == key

        finished_here = {e.ticket_id for e in events if mine(e, TicketEventKind.FINISHED)}
        # Its time on the finished tickets it served, whoever recorded the 办结 (a shift
        # handing over, a colleague's 回呼): the caller's stint is the caller's service.
        service = [w.served(key, by_clerk=by_clerk) for w in walked
                   if w.ticket.status is TicketStatus.FINISHED
                   and w.began(key, by_clerk=by_clerk)]
        out.append(DeskFigures(
            key, names.get(key, key or "（未记录）"),
            calls=sum(1 for e in events if e.kind in _STINT_STARTS
                      and (e.clerk_id if by_clerk else e.window) == key),
            finished=len(finished_here),
            skipped=sum(1 for e in events if mine(e, TicketEventKind.MISSED)),
            service=Durations.of(service),
            ratings=_ratings((r for r in ratings
                              if (r.clerk_id if by_clerk else r.window) == key), open_ids),
            manual=sum(1 for m in manual if (m.clerk_id if by_clerk else m.window) == key)))
    return out


def waiting_alerts(tickets: Iterable[Ticket], now: dt.datetime,
                   limit_minutes: int = WAIT_ALERT_MINUTES) -> list[WaitingAlert]:
    """The tickets still waiting that joined their queue ``limit_minutes`` or more before
    ``now`` (a missed one that went back counts from its return), longest first."""
    return sorted(
        (WaitingAlert(t.number, t.category, t.ticket_class, minutes)
         for t in tickets if t.status is TicketStatus.WAITING
         and (minutes := int((now - t.queued_at).total_seconds() // 60)) >= limit_minutes),
        key=lambda a: (-a.minutes, a.number))


def day_statistics(day: dt.date, tickets: Sequence[Ticket], events: Sequence[EventRecord],
                   ratings: Sequence[StoredRating], *, now: dt.datetime,
                   category_names: Mapping[str, str], window_names: Mapping[str, str],
                   clerk_names: Mapping[str, str], open_follow_ups: Iterable[str] = (),
                   manual_calls: Sequence[ManualCall] = (), live: bool = True,
                   limit_minutes: int = WAIT_ALERT_MINUTES) -> DayStatistics:
    """The figures of ``day`` from its tickets, their events and their ratings.

    ``now`` decides who "still waits" and for how long; ``open_follow_ups`` are the ids
    of the 差评 nobody has followed up yet; ``manual_calls`` the day's 手工叫号. A day
    that is over is not ``live``: ``now`` is its end, and nobody is alerted about it.
    """
    by_ticket: dict[str, list[EventRecord]] = {}
    for e in events:
        by_ticket.setdefault(e.ticket_id, []).append(e)
    walked = [_walk(t, by_ticket.get(t.id, [])) for t in tickets]
    limit = dt.timedelta(minutes=limit_minutes)
    open_ids = frozenset(open_follow_ups)
    rated = [r for r in ratings if r.day == day]
    manual = [m for m in manual_calls if m.day == day]

    # A ticket counts in the category it was issued in (its number's prefix): a transfer
    # moves the work, not the count of people who came for that business.
    issued_in: dict[str, list[_Ticket]] = {p: [] for p in category_names}
    for w in walked:
        issued_in.setdefault(w.ticket.number[0], []).append(w)
    categories = [_category(p, category_names.get(p, p), ws, now, limit)
                  for p, ws in issued_in.items() if ws or p in category_names]
    alerts = waiting_alerts(tickets, now, limit_minutes) if live else []
    return DayStatistics(
        day=day, at=now, limit_minutes=limit_minutes,
        hall=_category("", "全部", walked, now, limit), categories=categories,
        windows=_desks(walked, events, rated, manual, open_ids, window_names, by_clerk=False),
        clerks=_desks(walked, events, rated, manual, open_ids, clerk_names, by_clerk=True),
        ratings=_ratings(rated, open_ids), alerts=alerts, manual_calls=len(manual))


def format_duration(seconds: float | None) -> str:
    """12分05秒, 1小时02分 — as the hall's reports write a time; "—" for none."""
    if seconds is None or seconds < 0:
        return "—"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}小时{minutes:02d}分"
    return f"{minutes}分{secs:02d}秒"


def format_share(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.1f}%"
