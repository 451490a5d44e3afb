"""The case lists and their 电子监察 flags, on the working-day calendar."""

from __future__ import annotations

import datetime as dt

from app.domain.case import CaseStatus, Decision, MaterialStatus
from app.services.case_list import CaseQuery, Flag
from app.workstation import Workstation
from tests.app.test_documents import FOOD, case_with, marked

# 食品经营许可 promises 3 working days: accepted Tuesday 2026-11-24, due Friday 11-27.
ACCEPTED_ON = dt.date(2026, 11, 24)


def test_flags_turn_yellow_within_the_warning_days_and_red_once_overdue(
        fresh_ws: Workstation) -> None:
    case = case_with(fresh_ws, FOOD, Decision.ACCEPT)
    assert case.promised_date == dt.date(2026, 11, 27)
    yellow_days = fresh_ws.settings.yellow_warning_days
    assert yellow_days == 2

    def flag_on(day: dt.date) -> tuple[Flag, int | None]:
        rows = fresh_ws.case_list.find(CaseQuery(), today=day)
        return rows[0].flag, rows[0].workdays_left

    assert flag_on(dt.date(2026, 11, 24)) == (Flag.NONE, 3)
    assert flag_on(dt.date(2026, 11, 25)) == (Flag.YELLOW, 2)
    assert flag_on(dt.date(2026, 11, 27)) == (Flag.YELLOW, 0)
    assert flag_on(dt.date(2026, 11, 28)) == (Flag.RED, 0)   # Saturday: due yesterday
    assert flag_on(dt.date(2026, 11, 30)) == (Flag.RED, -1)
    flagged = fresh_ws.case_list.find(CaseQuery(flagged_only=True), today=dt.date(2026, 11, 24))
    assert flagged == []
    flagged = fresh_ws.case_list.find(CaseQuery(flagged_only=True), today=dt.date(2026, 11, 30))
    assert [r.number for r in flagged] == [case.number]


def test_a_case_whose_clock_has_stopped_is_never_flagged(fresh_ws: Workstation) -> None:
    correction = case_with(fresh_ws, FOOD, Decision.CORRECTION,
                           m5=marked(fresh_ws, FOOD, "m5", MaterialStatus.MISSING))
    rows = fresh_ws.case_list.find(CaseQuery(), today=dt.date(2027, 1, 1))
    assert [(r.number, r.status, r.flag) for r in rows] == [
        (correction.number, CaseStatus.CORRECTION, Flag.NONE)]


def test_filters_by_status_item_and_applicant(fresh_ws: Workstation) -> None:
    accepted = case_with(fresh_ws, FOOD, Decision.ACCEPT)
    other = case_with(fresh_ws, FOOD, name="李小红")
    find = fresh_ws.case_list.find
    assert [r.number for r in find(CaseQuery(statuses=(CaseStatus.ACCEPTED,)))] == [
        accepted.number]
    assert [r.number for r in find(CaseQuery(applicant="小红"))] == [other.number]
    assert [r.number for r in find(CaseQuery(applicant=accepted.applicant.id_number.lower()))
            ] == [other.number, accepted.number]   # one ID number, newest first
    assert find(CaseQuery(item_code="NO-SUCH-ITEM")) == []
    assert len(find(CaseQuery(opened_on=dt.date.today()))) == 2
    assert find(CaseQuery(opened_on=dt.date.today() - dt.timedelta(days=1))) == []
    # A name with a LIKE wildcard finds only itself.
    assert find(CaseQuery(applicant="%")) == []


def test_a_returning_applicant_is_found_by_the_whole_id_number_only(
        fresh_ws: Workstation) -> None:
    from dataclasses import replace

    from app.domain.case import Applicant
    from tests.app.test_documents import applicant, clerk

    first = replace(applicant(), phone="13800138000", address="城关镇解放路1号")
    fresh_ws.cases.open_case(FOOD, first, clerk(fresh_ws))
    moved = replace(first, address="城关镇人民路8号")
    fresh_ws.cases.open_case(FOOD, moved, clerk(fresh_ws))
    found = fresh_ws.case_list.returning_applicant(first.id_number.lower())
    assert isinstance(found, Applicant) and found.address == "城关镇人民路8号"   # the latest
    assert found.phone == "13800138000"
    assert fresh_ws.case_list.returning_applicant(first.id_number[:10]) is None
    assert fresh_ws.case_list.returning_applicant("王小明") is None
