"""The case lists and their 电子监察 flags, on the working-day calendar."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event

from app.domain.case import CaseStatus, Decision, MaterialStatus
from app.services.case_list import CaseQuery, CaseSummary, Flag
from app.workstation import Workstation
from tests.app.test_documents import DAY, FOOD, case_with, marked

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


def test_several_items_list_newest_first_across_them_up_to_the_limit(
        fresh_ws: Workstation) -> None:
    from tests.app.test_documents import GETI

    made = [case_with(fresh_ws, code, name=f"申请人{n}")
            for n, code in enumerate((FOOD, GETI, FOOD, GETI, FOOD))]
    newest_first = [c.number for c in reversed(made)]
    find = fresh_ws.case_list.find
    assert [r.number for r in find(CaseQuery(item_codes=(FOOD, GETI)))] == newest_first
    assert [r.number for r in find(CaseQuery(item_codes=(GETI, FOOD), limit=3))
            ] == newest_first[:3]
    assert [r.number for r in find(CaseQuery(item_code=GETI, item_codes=(GETI,)))] == [
        made[3].number, made[1].number]
    # Each row as the case is: the list reads only its columns, in CaseSummary's order.
    row = find(CaseQuery(item_codes=(GETI,)), today=DAY)[0]
    case = made[3]
    assert (row.id, row.number, row.status, row.item_code, row.item_name, row.applicant_name,
            row.opened_at, row.promised_date) == (
        case.id, case.number, case.status, case.item_code, case.item_name,
        case.applicant.name, case.opened_at, case.promised_date)


def _listed_with_sql(ws: Workstation, query: CaseQuery) -> tuple[list[CaseSummary], list[str]]:
    """The rows ``query`` lists, and the SQL statements that listed them."""
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        statements.append(statement)

    event.listen(ws.db.engine, "before_cursor_execute", seen)
    try:
        return ws.case_list.find(query, today=DAY), statements
    finally:
        event.remove(ws.db.engine, "before_cursor_execute", seen)


def test_a_common_status_lists_the_same_cases_walked_by_opened_time_as_by_status(
        fresh_ws: Workstation, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.services import case_list

    accepted = [case_with(fresh_ws, FOOD, Decision.ACCEPT, name=f"申请人{n}") for n in range(3)]
    case_with(fresh_ws, FOOD, name="李小红")   # 收件中: never listed as 已受理
    query = CaseQuery(statuses=(CaseStatus.ACCEPTED,), applicant="申请人", limit=2)
    by_status = fresh_ws.case_list.find(query, today=DAY)
    monkeypatch.setattr(case_list, "DENSE_STATUS", 2)   # three 已受理 are "common" now
    walked, statements = _listed_with_sql(fresh_ws, query)
    # The status was no index this time (``status || ''``): the opened-time index walked.
    assert any("cases.status || " in s and "ORDER BY cases.opened_at DESC" in s
               for s in statements)
    assert walked == by_status
    assert [r.number for r in walked] == [accepted[2].number, accepted[1].number]


def test_a_rare_name_is_found_in_the_name_index_and_lists_as_a_common_one_would(
        fresh_ws: Workstation, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.services import case_list

    mings = [case_with(fresh_ws, FOOD, name=name) for name in ("王小明", "李明", "赵明亮")]
    case_with(fresh_ws, FOOD, name="李小红")
    query = CaseQuery(applicant="明", limit=2)

    rare, statements = _listed_with_sql(fresh_ws, query)   # 3 of the 2,000 to be common
    assert any("cases.rowid IN" in s for s in statements)
    monkeypatch.setattr(case_list, "DENSE_STATUS", 2)
    common, statements = _listed_with_sql(fresh_ws, query)
    assert not any("cases.rowid IN" in s for s in statements)
    assert rare == common
    assert [r.number for r in rare] == [mings[2].number, mings[1].number]


def test_a_view_and_the_filters_make_one_query_or_none_when_they_contradict() -> None:
    from app.services.case_list import ListFilters, ListView, view_query

    day = dt.date(2026, 11, 30)
    pickup = view_query(ListFilters(ListView.PICKUP, applicant="王"), today=day)
    assert pickup is not None
    assert (pickup.statuses, pickup.applicant) == ((CaseStatus.COMPLETED,), "王")
    same = view_query(ListFilters(ListView.PICKUP, status=CaseStatus.COMPLETED), today=day)
    assert same is not None and same.statuses == (CaseStatus.COMPLETED,)
    assert view_query(ListFilters(ListView.PICKUP, status=CaseStatus.ACCEPTED), today=day
                      ) is None
    # 今日收件 is today whatever the date field says; the other views take the field.
    today = view_query(ListFilters(ListView.TODAY, opened_on=DAY), today=day)
    assert today is not None and today.opened_on == day
    other = view_query(ListFilters(ListView.ALL, opened_on=DAY), today=day)
    assert other is not None and other.opened_on == DAY
    flagged = view_query(ListFilters(ListView.FLAGGED, status=CaseStatus.ACCEPTED), today=day)
    assert flagged is not None and flagged.flagged_only
    assert flagged.statuses == (CaseStatus.ACCEPTED,)


def test_an_item_filter_stands_for_the_items_the_catalogue_search_finds(
        module_ws: Workstation) -> None:
    from app.services.case_list import items_matching
    from tests.app.test_documents import GETI

    catalogue = module_ws.catalogue
    assert items_matching(catalogue, "spjy") == (FOOD,)           # initials
    assert items_matching(catalogue, "食品经营") == (FOOD,)
    assert GETI in items_matching(catalogue, "gtgs")
    assert items_matching(catalogue, " ") == ()
    # Nothing in the catalogue: the text as a code (a withdrawn item's cases).
    assert items_matching(catalogue, "x9-old") == ("X9-OLD",)
    # A bundle (一件事) stands for its items: their cases are separate, one per item.
    restaurant = catalogue.bundle("YJS330100-0001")
    assert restaurant.name == "开办餐饮店"
    assert set(restaurant.item_codes) <= set(items_matching(catalogue, "开办餐饮店"))


def test_a_latin_name_of_eight_letters_or_more_is_searched_as_a_name(
        fresh_ws: Workstation) -> None:
    foreign = case_with(fresh_ws, FOOD, name="MUHAMMAD ALI")
    case_with(fresh_ws, FOOD, name="王小明")
    for typed in ("MUHAMMAD", "muhammad"):
        rows = fresh_ws.case_list.find(CaseQuery(applicant=typed), today=DAY)
        assert [r.number for r in rows] == [foreign.number], typed
