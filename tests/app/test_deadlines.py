"""Open cases' promised dates follow the working calendar when a notice is imported."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from app.domain.case import CaseEventKind, Clerk, Decision
from app.services import deadlines
from app.services.deadlines import DeadlineChange, DeadlineRecompute, describe
from app.storage.case_log import case_events, projection_diff
from app.storage.models import CaseEventRow, CaseRow
from app.workstation import Workstation
from tests.app.test_calendar import NOTICE_2027, write_json
from tests.support import accepted_case

D = dt.date.fromisoformat


def clerk(ws: Workstation) -> Clerk:
    return Clerk("admin-0001", "李管理", ws.settings.site_code, ws.settings.terminal,
                 ws.settings.window, "admin")


class Recorder:
    """The ``on_events`` callback: what each committed batch handed over."""

    def __init__(self, ws: Workstation) -> None:
        self.ws = ws
        self.batches: list[list[CaseEventRow]] = []

    def __call__(self, rows: list[CaseEventRow]) -> None:
        self.batches.append(rows)
        self.ws.integrity.witness.record(events=rows)   # as the workstation wires it


def recompute(ws: Workstation) -> tuple[DeadlineRecompute, Recorder]:
    recorder = Recorder(ws)
    return DeadlineRecompute(ws.db, ws.catalogue, ws.calendar, recorder), recorder


def replays(ws: Workstation, case_id: str) -> list[str]:
    with ws.db.read() as session:
        row = session.get(CaseRow, case_id)
        assert row is not None
        return projection_diff(row, case_events(session, case_id))


def test_an_estimated_deadline_becomes_exact_once_its_year_is_imported(
        fresh_ws: Workstation, tmp_path: Path) -> None:
    c = clerk(fresh_ws)
    # 食品经营许可: 3 working days from Wednesday 30 December 2026 reach into 2027.
    case = accepted_case(fresh_ws, c, day=D("2026-12-30"))
    assert (case.promised_date, case.promised_estimated) == (D("2027-01-04"), True)
    service, recorder = recompute(fresh_ws)
    assert service.preview() == []          # still uncovered: nothing to change

    fresh_ws.calendar.import_file(write_json(tmp_path / "2027.json", NOTICE_2027))
    # 31 December, then 元旦 1-3 January: Monday 4 and Tuesday 5 January.
    expected = DeadlineChange(case.id, case.number, "王小明", case.item_name,
                              D("2027-01-04"), True, D("2027-01-05"), False)
    assert service.preview() == [expected]
    assert fresh_ws.cases.get(case.id) == case      # preview writes nothing

    assert service.apply(c) == [expected]
    after = fresh_ws.cases.get(case.id)
    assert (after.promised_date, after.promised_estimated) == (D("2027-01-05"), False)
    assert after.version == case.version + 1
    assert after.status is case.status
    [[event]] = recorder.batches
    assert event.kind == CaseEventKind.DEADLINE_RECOMPUTED
    assert event.case_id == case.id and event.case_seq == after.version
    assert event.payload["promised_date"] == "2027-01-05"
    assert event.payload["promised_estimated"] is False
    assert event.payload["previous_date"] == "2027-01-04"
    assert event.payload["previous_estimated"] is True
    assert event.payload["reason"]
    assert event.clerk_id == c.clerk_id
    assert replays(fresh_ws, case.id) == []
    assert fresh_ws.cases.verified(case.id) == after   # the log proves the new date

    # Done once: a second run finds nothing, and hands nothing over.
    assert service.apply(c) == []
    assert len(recorder.batches) == 1
    assert "2027-01-04（预估） → 2027-01-05" in describe([expected])[0]


def test_replacing_a_notice_moves_exact_deadlines_too(fresh_ws: Workstation,
                                                      tmp_path: Path) -> None:
    c = clerk(fresh_ws)
    fresh_ws.calendar.import_file(write_json(tmp_path / "2027.json", NOTICE_2027))
    # Friday 5 February; 春节 6-13; Sunday 14 worked (调休), then 15 and 16.
    case = accepted_case(fresh_ws, c, day=D("2027-02-05"))
    early = accepted_case(fresh_ws, c, day=D("2026-11-02"))   # long done with 2027
    assert (case.promised_date, case.promised_estimated) == (D("2027-02-16"), False)

    corrected = copy.deepcopy(NOTICE_2027)
    corrected["years"][0]["workdays"] = [{"name": "春节调休", "date": "2027-02-20"}]
    fresh_ws.calendar.import_file(write_json(tmp_path / "fix.json", corrected), replace=True)
    service, _ = recompute(fresh_ws)
    [change] = service.apply(clerk(fresh_ws))
    assert (change.case_id, change.old_date, change.new_date) == (
        case.id, D("2027-02-16"), D("2027-02-17"))
    assert not change.old_estimated and not change.new_estimated
    assert fresh_ws.cases.get(case.id).promised_date == D("2027-02-17")
    assert fresh_ws.cases.get(early.id) == early
    assert replays(fresh_ws, case.id) == []


def test_only_cases_whose_clock_runs_are_recomputed(fresh_ws: Workstation,
                                                    tmp_path: Path) -> None:
    c = clerk(fresh_ws)
    open_case = accepted_case(fresh_ws, c, day=D("2026-12-30"))
    # A case still at the window and a rejected one have no promised date to move.
    at_window = fresh_ws.cases.open_case(open_case.item_code, open_case.applicant, c,
                                         today=D("2026-12-30"))
    rejected = fresh_ws.cases.open_case(open_case.item_code, open_case.applicant, c,
                                        today=D("2026-12-30"))
    fresh_ws.cases.decide(rejected.id, Decision.REJECT, c, reason="不属于本部门职权范围",
                          competent_authority="示例市场监督管理局", today=D("2026-12-30"))
    fresh_ws.calendar.import_file(write_json(tmp_path / "2027.json", NOTICE_2027))
    service, _ = recompute(fresh_ws)
    assert [ch.case_id for ch in service.apply(c)] == [open_case.id]
    assert fresh_ws.cases.get(at_window.id).version == 1


def test_many_cases_are_written_in_short_batches(fresh_ws: Workstation, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    c = clerk(fresh_ws)
    cases = [accepted_case(fresh_ws, c, day=D("2026-12-30")) for _ in range(7)]
    fresh_ws.calendar.import_file(write_json(tmp_path / "2027.json", NOTICE_2027))
    monkeypatch.setattr(deadlines, "MAX_CASES_PER_TRANSACTION", 3)
    writes = 0
    real_write = fresh_ws.db.write

    @contextmanager
    def counting_write() -> Iterator[Session]:
        nonlocal writes
        writes += 1
        with real_write() as session:
            yield session

    monkeypatch.setattr(fresh_ws.db, "write", counting_write)
    service, recorder = recompute(fresh_ws)
    changes = service.apply(c)
    assert sorted(ch.case_id for ch in changes) == sorted(x.id for x in cases)
    assert writes == 3 == len(service.transactions)
    assert [len(batch) for batch in recorder.batches] == [3, 3, 1]
    # Each batch's events are committed (and readable elsewhere) when it is handed over.
    assert all(replays(fresh_ws, x.id) == [] for x in cases)


def test_events_already_committed_stay_when_the_callback_fails(
        fresh_ws: Workstation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = clerk(fresh_ws)
    cases = [accepted_case(fresh_ws, c, day=D("2026-12-30")) for _ in range(2)]
    fresh_ws.calendar.import_file(write_json(tmp_path / "2027.json", NOTICE_2027))
    monkeypatch.setattr(deadlines, "MAX_CASES_PER_TRANSACTION", 1)

    def failing(rows: list[CaseEventRow]) -> None:
        raise OSError("anchor file not writable")

    service = DeadlineRecompute(fresh_ws.db, fresh_ws.catalogue, fresh_ws.calendar, failing)
    with pytest.raises(OSError):
        service.apply(c)
    states = [fresh_ws.cases.get(x.id) for x in cases]
    assert [s.promised_estimated for s in states] == [False, True]
    # The next run finishes the rest.
    rest = DeadlineRecompute(fresh_ws.db, fresh_ws.catalogue, fresh_ws.calendar,
                             lambda rows: None).apply(c)
    assert [ch.case_id for ch in rest] == [cases[1].id]
    assert all(replays(fresh_ws, x.id) == [] for x in cases)
