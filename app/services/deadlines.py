"""Promised dates of open cases, recomputed after the working calendar changed.

A case accepted while the calendar did not cover its deadline's year got the plain
Monday-Friday estimate (``promised_estimated``); a notice imported later — or a corrected
notice replacing a year — moves the deadlines around the holidays. Each case whose date
or estimate flag changes gets a ``deadline_recomputed`` event in its log (the projection
follows from it, as for every change of a case), so the audit trail says when and why
the date the applicant was told changed.

The work is written in short write transactions of a bounded number of cases (the
window's clerks keep accepting cases meanwhile); after each one commits, the events it
wrote are handed to ``on_events`` (which anchors the chain head outside the database).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.calendar import CalendarNotCovered, WorkCalendar, estimate_promised_date
from app.domain.case import (
    CaseEventKind,
    CaseState,
    CaseStatus,
    Clerk,
    Decision,
    apply_event,
    clock_start,
    material_state_from_json,
)
from app.domain.catalogue import TimeLimit
from app.services.calendar import CalendarService
from app.services.catalogue import WRITE_GAP, CatalogueService, NotFound, paused_gc
from app.storage.case_log import append_event, state_from_row, write_projection
from app.storage.db import Database
from app.storage.models import CaseEventRow, CaseRow

# The clock runs (domain.md): the promised date still matters.
OPEN_STATUSES = (CaseStatus.ACCEPTED, CaseStatus.ACCEPTED_DEFERRED, CaseStatus.IN_REVIEW,
                 CaseStatus.PAUSED)
DEFAULT_REASON = "工作日历已更新，按新的节假日安排重新计算承诺办结日期"

# Cases per write transaction, and the time after which a transaction stops taking
# more: about 3 ms per case on a slow terminal keeps each well under 200 ms.
MAX_CASES_PER_TRANSACTION = 50
MAX_TRANSACTION_SECONDS = 0.1

OnEvents = Callable[[list[CaseEventRow]], None]


@dataclass(frozen=True, slots=True)
class DeadlineChange:
    """One open case whose promised date (or its estimate flag) the calendar changes."""

    case_id: str
    number: str
    applicant_name: str
    item_name: str
    old_date: dt.date | None
    old_estimated: bool
    new_date: dt.date
    new_estimated: bool


@dataclass(frozen=True, slots=True)
class _Open:
    case_id: str
    number: str
    applicant_name: str
    item_code: str
    item_version: str
    item_name: str
    accepted_on: dt.date   # the day the promised period counts from (see clock_start)
    promised_date: dt.date | None
    promised_estimated: bool


def promised(calendar: WorkCalendar, accepted_on: dt.date,
             limit: TimeLimit) -> tuple[dt.date, bool]:
    """The promised date and whether it is an estimate, exactly as acceptance sets it."""
    try:
        return calendar.promised_date(accepted_on, limit), False
    except CalendarNotCovered:
        return estimate_promised_date(accepted_on, limit), True


class DeadlineRecompute:
    """Recompute the promised dates of the open cases against the current calendar."""

    def __init__(self, db: Database, catalogue: CatalogueService, calendar: CalendarService,
                 on_events: OnEvents) -> None:
        self._db = db
        self._catalogue = catalogue
        self._calendar = calendar
        self._on_events = on_events
        # Seconds each write transaction of the last apply() held the write lock.
        self.transactions: list[float] = []

    def preview(self) -> list[DeadlineChange]:
        """The changes :meth:`apply` would make now; writes nothing."""
        calendar = self._calendar.calendar()
        limits: dict[tuple[str, str], TimeLimit | None] = {}
        changes = []
        for case in self._open_cases():
            change = self._change(case, calendar, limits)
            if change is not None:
                changes.append(change)
        return changes

    def apply(self, clerk: Clerk, *, reason: str = DEFAULT_REASON) -> list[DeadlineChange]:
        """Write a ``deadline_recomputed`` event for every open case whose date changes.

        Each case is read again under the write lock, so a case decided, paused or
        recomputed by someone else meanwhile is judged as it is then. Returns the changes
        written, in case-number order. ``on_events`` runs after each committed batch; if
        it raises, the batches already committed stay and the rest is not written.
        """
        calendar = self._calendar.calendar()
        limits: dict[tuple[str, str], TimeLimit | None] = {}
        pending = deque(c for c in self._open_cases()
                        if self._change(c, calendar, limits) is not None)
        self.transactions = []
        done: list[DeadlineChange] = []
        with paused_gc():
            self._write_batches(pending, calendar, limits, clerk, reason, done)
        return done

    def _write_batches(self, pending: deque[_Open], calendar: WorkCalendar,
                       limits: dict[tuple[str, str], TimeLimit | None], clerk: Clerk,
                       reason: str, done: list[DeadlineChange]) -> None:
        while pending:
            if self.transactions:
                time.sleep(WRITE_GAP)   # let a waiting writer in (see catalogue._Batches)
            started = time.perf_counter()
            written: list[CaseEventRow] = []
            with self._db.write() as session:
                while pending and len(written) < MAX_CASES_PER_TRANSACTION:
                    case = pending.popleft()
                    result = self._write_one(session, case.case_id, calendar, limits,
                                             clerk, reason)
                    if result is not None:
                        done.append(result[0])
                        written.append(result[1])
                    if time.perf_counter() - started > MAX_TRANSACTION_SECONDS:
                        break
            self.transactions.append(time.perf_counter() - started)
            if written:
                self._on_events(written)

    # ---- internals ----------------------------------------------------------------------

    def _open_cases(self) -> list[_Open]:
        with self._db.read() as session:
            rows = session.execute(
                select(CaseRow.id, CaseRow.number, CaseRow.applicant_name, CaseRow.item_code,
                       CaseRow.item_version, CaseRow.item_name, CaseRow.accepted_on,
                       CaseRow.promised_date, CaseRow.promised_estimated, CaseRow.decision,
                       CaseRow.materials)
                .where(CaseRow.status.in_([str(s) for s in OPEN_STATUSES]),
                       CaseRow.accepted_on.is_not(None))
                .order_by(CaseRow.number)).all()
        return [_Open(r.id, r.number, r.applicant_name, r.item_code, r.item_version,
                      r.item_name, clock_start(Decision(r.decision) if r.decision else None,
                                               r.accepted_on,
                                               [material_state_from_json(m)
                                                for m in r.materials]),
                      r.promised_date, r.promised_estimated)
                for r in rows if r.accepted_on is not None]

    def _limit(self, code: str, version: str,
               limits: dict[tuple[str, str], TimeLimit | None]) -> TimeLimit | None:
        key = (code, version)
        if key not in limits:
            try:
                limits[key] = self._catalogue.item_version(code, version).promised_limit
            except NotFound:   # cannot happen for a stored case; never guess a limit
                limits[key] = None
        return limits[key]

    def _change(self, case: _Open, calendar: WorkCalendar,
                limits: dict[tuple[str, str], TimeLimit | None]) -> DeadlineChange | None:
        limit = self._limit(case.item_code, case.item_version, limits)
        if limit is None:
            return None
        new_date, new_estimated = promised(calendar, case.accepted_on, limit)
        if (new_date, new_estimated) == (case.promised_date, case.promised_estimated):
            return None
        return DeadlineChange(case.case_id, case.number, case.applicant_name, case.item_name,
                              case.promised_date, case.promised_estimated, new_date,
                              new_estimated)

    def _write_one(self, session: Session, case_id: str, calendar: WorkCalendar,
                   limits: dict[tuple[str, str], TimeLimit | None], clerk: Clerk,
                   reason: str) -> tuple[DeadlineChange, CaseEventRow] | None:
        """Recompute one case under the write lock, as CaseService._apply changes cases."""
        row = session.get(CaseRow, case_id)
        if row is None:
            return None
        before = state_from_row(row)
        if before.status not in OPEN_STATUSES or before.accepted_on is None:
            return None
        change = self._change(_open_from_state(before), calendar, limits)
        if change is None:
            return None
        kind = CaseEventKind.DEADLINE_RECOMPUTED
        payload: dict[str, Any] = {
            "promised_date": change.new_date.isoformat(),
            "promised_estimated": change.new_estimated,
            "previous_date": change.old_date.isoformat() if change.old_date else None,
            "previous_estimated": change.old_estimated,
            "reason": reason,
        }
        after = apply_event(before, kind, payload)
        event = append_event(session, case_id, after.version, kind, payload, clerk,
                             base_version=before.version)
        write_projection(row, after)
        return change, event


def _open_from_state(state: CaseState) -> _Open:
    assert state.accepted_on is not None
    return _Open(state.id, state.number, state.applicant.name, state.item_code,
                 state.item_version, state.item_name,
                 clock_start(state.decision, state.accepted_on, state.materials),
                 state.promised_date, state.promised_estimated)


def describe(changes: Iterable[DeadlineChange]) -> list[str]:
    """One line per change, for the CLI and the window (预估 marks an estimate, as printed)."""
    def show(day: dt.date | None, estimated: bool) -> str:
        if day is None:
            return "无"
        return f"{day}（预估）" if estimated else str(day)

    return [f"{c.number} {c.applicant_name} {c.item_name}：承诺办结日期 "
            f"{show(c.old_date, c.old_estimated)} → {show(c.new_date, c.new_estimated)}"
            for c in changes]
