"""信用核查: the 失信名单 file, its import, and the check a case records and decides by."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.domain.case import (
    Applicant,
    ApplicantKind,
    CaseEventKind,
    CaseStatus,
    Clerk,
    Decision,
    IdType,
    MaterialState,
    MaterialStatus,
)
from app.domain.checksum import mod11_2
from app.domain.credit import CreditFileError
from app.domain.identity import uscc_check_char
from app.services import credit as credit_service
from app.services.cases import CaseRuleError
from app.services.permissions import PermissionDenied
from app.storage.models import CaseEventRow, CreditEntryRow
from app.workstation import Workstation

FOOD = "11330100MB0000001X4000215001000"   # 食品经营许可（新办）: m7 可容缺, m4 m6 可告知承诺
TODAY = dt.date.today()


def resident_id(body17: str) -> str:
    return body17 + mod11_2(body17)


LISTED = resident_id("33010219800101002")        # 王小明, on the list
CLEAN = resident_id("33010219900202003")         # 李华, not on the list
EXPIRED = resident_id("33010219700303004")       # 赵强, whose measure has ended
COMPANY_BODY = "91330100MA2B3C4D5"
COMPANY = COMPANY_BODY + uscc_check_char(COMPANY_BODY)

ADMIN = Clerk("admin-0001", "管理员", "", "01", "01", role="admin")
WANG = Applicant(ApplicantKind.PERSON, "王小明", IdType.RESIDENT_ID, LISTED)
LI = Applicant(ApplicantKind.PERSON, "李华", IdType.RESIDENT_ID, CLEAN)


def entry(number: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"id_type": "居民身份证", "id_number": number, "name": name,
            "measure": "限制适用告知承诺制和容缺受理", "source": "示例县市场监督管理局",
            "until": None, **extra}


def credit_file(tmp_path: Path, entries: list[dict[str, Any]], *, version: str = "2026.11.20",
                published: str = "2026-11-20", name: str = "credit.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({
        "format": "yichuang-credit", "format_version": 1, "version": version,
        "published_at": published, "publisher": "示例县公共信用信息中心",
        "entries": entries}, ensure_ascii=False), encoding="utf-8")
    return path


def standard_list(tmp_path: Path, **kw: Any) -> Path:
    return credit_file(tmp_path, [
        entry(LISTED, "王小明"),
        entry(EXPIRED, "赵强", until=(TODAY - dt.timedelta(days=1)).isoformat()),
        {**entry(COMPANY, "示例餐饮有限公司"), "id_type": "统一社会信用代码"},
    ], **kw)


def clerk(ws: Workstation) -> Clerk:
    s = ws.settings
    return Clerk("clerk-0001", "张三", s.site_code, "01", s.window)


def states(ws: Workstation, **overrides: MaterialState) -> list[MaterialState]:
    item = ws.catalogue.item(FOOD)
    return [overrides.get(m.id) or MaterialState(m.id, m.name, MaterialStatus.RECEIVED,
                                                 str(m.form), m.copies)
            for m in item.checklist()]


def deferred_m7(ws: Workstation) -> list[MaterialState]:
    m7 = ws.catalogue.item(FOOD).material("m7")
    return states(ws, m7=MaterialState("m7", m7.name, MaterialStatus.DEFERRED,
                                       deferred_until=TODAY + dt.timedelta(days=10)))


def commitment_m4(ws: Workstation) -> list[MaterialState]:
    m4 = ws.catalogue.item(FOOD).material("m4")
    return states(ws, m4=MaterialState("m4", m4.name, MaterialStatus.COMMITMENT))


def opened_payload(ws: Workstation, case_id: str, kind: CaseEventKind) -> dict[str, Any]:
    with ws.db.read() as session:
        row = session.scalars(select(CaseEventRow).where(
            CaseEventRow.case_id == case_id, CaseEventRow.kind == str(kind))
            .order_by(CaseEventRow.case_seq.desc())).first()
        assert row is not None
        return dict(row.payload)


# ---- the file -----------------------------------------------------------------------


def test_an_import_stores_every_entry_with_its_number_normalised(
        fresh_ws: Workstation, tmp_path: Path) -> None:
    lower_x = resident_id("11010519491231002")   # check character X, typed in lower case
    assert lower_x.endswith("X")
    path = credit_file(tmp_path, [entry(lower_x.lower(), "钱老")])
    info = fresh_ws.credit.import_file(path, ADMIN)
    assert (info.version, info.entries, info.published_at) == (
        "2026.11.20", 1, dt.date(2026, 11, 20))
    assert info.imported_by == "管理员"
    assert fresh_ws.credit.check(IdType.RESIDENT_ID, lower_x).hit


def test_every_bad_entry_is_named_and_nothing_changes(fresh_ws: Workstation,
                                                      tmp_path: Path) -> None:
    fresh_ws.credit.import_file(standard_list(tmp_path), ADMIN)
    bad_check = LISTED[:-1] + ("0" if LISTED[-1] != "0" else "1")
    path = credit_file(tmp_path, [
        entry(CLEAN, "李华"),
        entry(bad_check, "孙错"),
        {**entry(CLEAN, "李华又一条")},
        {**entry(LISTED, "周某"), "id_type": "驾驶证"},
        {**entry(EXPIRED, "吴某"), "until": "2026-13-01"},
    ], version="2026.11.27", name="bad.json")
    with pytest.raises(CreditFileError) as info:
        fresh_ws.credit.import_file(path, ADMIN)
    issues = info.value.issues
    assert len(issues) == 4
    assert issues[0].startswith("第2条（孙错）证件号码") and "校验位" in issues[0]
    assert issues[1] == "第3条（李华又一条）与第1条是同一居民身份证号码，请合并为一条"
    assert issues[2].startswith("第4条（周某）证件类型“驾驶证”无法识别")
    assert issues[3].startswith("第5条（吴某）字段 until")
    assert "未作任何改动" in str(info.value)
    status = fresh_ws.credit.status()
    assert status is not None and (status.version, status.entries) == ("2026.11.20", 3)
    assert not fresh_ws.credit.check(IdType.RESIDENT_ID, CLEAN).hit


@pytest.mark.parametrize(("data", "message"), [
    ("名单".encode("gbk"), "不是UTF-8编码"),
    (b'{"format": "yichuang-credit", ', "不是有效的JSON"),
    (b'{"format": "yichuang-catalogue", "format_version": 1}', "不是失信名单文件"),
    (b'{"format": "yichuang-credit", "format_version": 2}', "只认1"),
], ids=["not-utf8", "bad-json", "other-format", "newer-format"])
def test_a_file_that_is_no_credit_list_changes_nothing(
        fresh_ws: Workstation, tmp_path: Path, data: bytes, message: str) -> None:
    fresh_ws.credit.import_file(standard_list(tmp_path), ADMIN)
    path = tmp_path / "bad.json"
    path.write_bytes(data)
    with pytest.raises(CreditFileError, match=message):
        fresh_ws.credit.import_file(path, ADMIN)
    status = fresh_ws.credit.status()
    assert status is not None and status.version == "2026.11.20"


def test_a_file_over_the_size_limit_is_refused_unread(fresh_ws: Workstation, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = standard_list(tmp_path)
    monkeypatch.setattr(credit_service, "MAX_FILE_BYTES", path.stat().st_size - 1)
    with pytest.raises(CreditFileError, match="超过上限"):
        fresh_ws.credit.import_file(path, ADMIN)
    assert fresh_ws.credit.status() is None


def test_a_list_published_after_today_is_refused(fresh_ws: Workstation, tmp_path: Path) -> None:
    path = standard_list(tmp_path, published=(TODAY + dt.timedelta(days=1)).isoformat())
    with pytest.raises(CreditFileError, match="晚于今天"):
        fresh_ws.credit.import_file(path, ADMIN)


def test_a_clerk_may_not_import_the_list(fresh_ws: Workstation, tmp_path: Path) -> None:
    with pytest.raises(PermissionDenied):
        fresh_ws.credit.import_file(standard_list(tmp_path), clerk(fresh_ws))
    assert fresh_ws.credit.status() is None


def test_an_import_replaces_the_whole_list(fresh_ws: Workstation, tmp_path: Path) -> None:
    fresh_ws.credit.import_file(standard_list(tmp_path), ADMIN)
    fresh_ws.credit.import_file(credit_file(tmp_path, [entry(CLEAN, "李华")],
                                            version="2026.11.27", name="new.json"), ADMIN)
    assert fresh_ws.credit.check(IdType.RESIDENT_ID, CLEAN).hit
    assert not fresh_ws.credit.check(IdType.RESIDENT_ID, LISTED).hit
    with fresh_ws.db.read() as session:
        assert session.scalars(select(CreditEntryRow.name)).all() == ["李华"]


def test_the_same_file_imported_again_is_reported_unchanged(fresh_ws: Workstation,
                                                            tmp_path: Path) -> None:
    path = standard_list(tmp_path)
    first = fresh_ws.credit.import_file(path, ADMIN)
    again = fresh_ws.credit.import_file(path, ADMIN)
    assert again.unchanged and not first.unchanged
    assert again.imported_at == first.imported_at


def test_a_list_of_100000_entries_is_imported_and_its_last_entry_found(
        fresh_ws: Workstation, tmp_path: Path) -> None:
    # Bodies 330102 + birth dates from 1950 on + sequence: 100,000 distinct valid numbers.
    start = dt.date(1950, 1, 1)
    numbers = [resident_id(f"330102{start + dt.timedelta(days=n // 100):%Y%m%d}{n % 100:03d}")
               for n in range(100_000)]
    path = credit_file(tmp_path, [entry(n, f"名{i}") for i, n in enumerate(numbers)])
    assert fresh_ws.credit.import_file(path, ADMIN).entries == 100_000
    found = fresh_ws.credit.check(IdType.RESIDENT_ID, numbers[-1])
    assert found.entry is not None and found.entry.name == "名99999"


# ---- the check -----------------------------------------------------------------------


def test_a_check_reports_the_list_version_and_its_age(fresh_ws: Workstation,
                                                      tmp_path: Path) -> None:
    fresh_ws.credit.import_file(standard_list(tmp_path), ADMIN)
    day = dt.date(2026, 11, 27)
    hit = fresh_ws.credit.check(IdType.RESIDENT_ID, LISTED, today=day)
    assert hit.entry is not None and hit.entry.measure == "限制适用告知承诺制和容缺受理"
    assert (hit.list_version, hit.age_days) == ("2026.11.20", 7)
    company = fresh_ws.credit.check(IdType.USCC, COMPANY.lower(), today=day)
    assert company.hit
    miss = fresh_ws.credit.check(IdType.RESIDENT_ID, CLEAN, today=day)
    assert (miss.hit, miss.listed) == (False, True)


def test_an_entry_is_a_hit_through_its_last_day_and_not_after(fresh_ws: Workstation,
                                                              tmp_path: Path) -> None:
    fresh_ws.credit.import_file(credit_file(tmp_path, [entry(LISTED, "王小明",
                                                             until="2026-11-25")]), ADMIN)
    assert fresh_ws.credit.check(IdType.RESIDENT_ID, LISTED, today=dt.date(2026, 11, 25)).hit
    assert not fresh_ws.credit.check(IdType.RESIDENT_ID, LISTED,
                                     today=dt.date(2026, 11, 26)).hit


def test_without_a_list_the_check_says_so(fresh_ws: Workstation) -> None:
    check = fresh_ws.credit.check(IdType.RESIDENT_ID, LISTED)
    assert (check.listed, check.hit) == (False, False)
    assert check.summary() == "尚未导入失信名单，未能进行信用核查"


# ---- on the case ---------------------------------------------------------------------


def test_opening_a_case_records_the_hit_in_the_opened_event(fresh_ws: Workstation,
                                                            tmp_path: Path) -> None:
    fresh_ws.credit.import_file(standard_list(tmp_path), ADMIN)
    case = fresh_ws.cases.open_case(FOOD, WANG, clerk(fresh_ws))
    recorded = opened_payload(fresh_ws, case.id, CaseEventKind.OPENED)["credit"]
    assert recorded["hit"] is True and recorded["list_version"] == "2026.11.20"
    assert recorded["entry"]["measure"] == "限制适用告知承诺制和容缺受理"
    assert recorded["entry"]["source"] == "示例县市场监督管理局"
    assert recorded["age_days"] == (TODAY - dt.date(2026, 11, 20)).days
    facts = fresh_ws.cases.credit_facts(case.id)
    assert facts is not None and facts.hit and facts.checked_on == TODAY


def test_a_case_opened_without_a_list_records_that_none_was_imported(
        fresh_ws: Workstation) -> None:
    case = fresh_ws.cases.open_case(FOOD, WANG, clerk(fresh_ws))
    facts = fresh_ws.cases.credit_facts(case.id)
    assert facts is not None and not facts.listed and not facts.hit


def test_an_expired_entry_is_no_hit_on_the_case(fresh_ws: Workstation, tmp_path: Path) -> None:
    fresh_ws.credit.import_file(standard_list(tmp_path), ADMIN)
    zhao = Applicant(ApplicantKind.PERSON, "赵强", IdType.RESIDENT_ID, EXPIRED)
    case = fresh_ws.cases.open_case(FOOD, zhao, clerk(fresh_ws))
    fresh_ws.cases.record_materials(case.id, deferred_m7(fresh_ws), clerk(fresh_ws))
    decided = fresh_ws.cases.decide(case.id, Decision.ACCEPT_DEFERRED, clerk(fresh_ws))
    assert decided.status is CaseStatus.ACCEPTED_DEFERRED
    facts = fresh_ws.cases.credit_facts(case.id)
    assert facts is not None and facts.listed and not facts.hit


def test_deferred_acceptance_is_refused_for_a_listed_applicant_naming_the_entry(
        fresh_ws: Workstation, tmp_path: Path) -> None:
    fresh_ws.credit.import_file(standard_list(tmp_path), ADMIN)
    c = clerk(fresh_ws)
    case = fresh_ws.cases.open_case(FOOD, WANG, c)
    fresh_ws.cases.record_materials(case.id, deferred_m7(fresh_ws), c)
    with pytest.raises(CaseRuleError) as info:
        fresh_ws.cases.decide(case.id, Decision.ACCEPT_DEFERRED, c)
    assert info.value.problems == [
        "申请人在失信名单中（王小明，限制适用告知承诺制和容缺受理，认定：示例县市场监督管理局，长期有效），"
        "不能容缺受理：请收齐材料后受理，或出具补正通知。"]
    assert fresh_ws.cases.get(case.id).status is CaseStatus.RECEIVING


def test_a_commitment_is_refused_for_a_listed_applicant(fresh_ws: Workstation,
                                                        tmp_path: Path) -> None:
    fresh_ws.credit.import_file(standard_list(tmp_path), ADMIN)
    c = clerk(fresh_ws)
    case = fresh_ws.cases.open_case(FOOD, WANG, c)
    fresh_ws.cases.record_materials(case.id, commitment_m4(fresh_ws), c)
    with pytest.raises(CaseRuleError, match="不适用告知承诺制") as info:
        fresh_ws.cases.decide(case.id, Decision.ACCEPT, c)
    assert fresh_ws.catalogue.item(FOOD).material("m4").name in str(info.value)


def test_a_listed_applicant_with_every_material_received_is_accepted(
        fresh_ws: Workstation, tmp_path: Path) -> None:
    fresh_ws.credit.import_file(standard_list(tmp_path), ADMIN)
    c = clerk(fresh_ws)
    case = fresh_ws.cases.open_case(FOOD, WANG, c)
    fresh_ws.cases.record_materials(case.id, states(fresh_ws), c)
    assert fresh_ws.cases.decide(case.id, Decision.ACCEPT, c).status is CaseStatus.ACCEPTED


def test_a_commitment_is_accepted_for_an_applicant_not_listed(fresh_ws: Workstation,
                                                              tmp_path: Path) -> None:
    fresh_ws.credit.import_file(standard_list(tmp_path), ADMIN)
    c = clerk(fresh_ws)
    case = fresh_ws.cases.open_case(FOOD, LI, c)
    fresh_ws.cases.record_materials(case.id, commitment_m4(fresh_ws), c)
    assert fresh_ws.cases.decide(case.id, Decision.ACCEPT, c).status is CaseStatus.ACCEPTED
    # The list did not change: the decision rests on the check made at 收件.
    assert "credit" not in opened_payload(fresh_ws, case.id, CaseEventKind.DECIDED)


def test_a_list_updated_after_opening_is_rechecked_at_the_decision(
        fresh_ws: Workstation, tmp_path: Path) -> None:
    fresh_ws.credit.import_file(standard_list(tmp_path), ADMIN)
    c = clerk(fresh_ws)
    case = fresh_ws.cases.open_case(FOOD, WANG, c)
    fresh_ws.cases.record_materials(case.id, deferred_m7(fresh_ws), c)
    # 王小明's record was lifted in the newer list.
    fresh_ws.credit.import_file(credit_file(tmp_path, [entry(CLEAN, "李华")],
                                            version="2026.11.27", published="2026-11-27",
                                            name="new.json"), ADMIN)
    decided = fresh_ws.cases.decide(case.id, Decision.ACCEPT_DEFERRED, c)
    assert decided.status is CaseStatus.ACCEPTED_DEFERRED
    payload = opened_payload(fresh_ws, case.id, CaseEventKind.DECIDED)
    assert payload["credit_rechecked"] is True
    assert (payload["credit"]["list_version"], payload["credit"]["hit"]) == ("2026.11.27", False)
    facts = fresh_ws.cases.credit_facts(case.id)
    assert facts is not None and facts.list_version == "2026.11.27"
    report = fresh_ws.integrity.verify()
    assert report.ok, report.findings


def test_a_listing_added_after_opening_refuses_the_deferred_acceptance(
        fresh_ws: Workstation, tmp_path: Path) -> None:
    c = clerk(fresh_ws)
    case = fresh_ws.cases.open_case(FOOD, LI, c)   # no list yet
    fresh_ws.cases.record_materials(case.id, deferred_m7(fresh_ws), c)
    fresh_ws.credit.import_file(credit_file(tmp_path, [entry(CLEAN, "李华")]), ADMIN)
    with pytest.raises(CaseRuleError, match=r"李华.*不能容缺受理"):
        fresh_ws.cases.decide(case.id, Decision.ACCEPT_DEFERRED, c)


def test_cases_with_credit_checks_replay_and_verify(fresh_ws: Workstation,
                                                    tmp_path: Path) -> None:
    fresh_ws.credit.import_file(standard_list(tmp_path), ADMIN)
    c = clerk(fresh_ws)
    refused = fresh_ws.cases.open_case(FOOD, WANG, c)
    fresh_ws.cases.record_materials(refused.id, states(fresh_ws), c)
    fresh_ws.cases.decide(refused.id, Decision.ACCEPT, c)
    other = fresh_ws.cases.open_case(FOOD, LI, c)
    fresh_ws.cases.record_materials(other.id, deferred_m7(fresh_ws), c)
    fresh_ws.credit.import_file(credit_file(tmp_path, [entry(LISTED, "王小明")],
                                            version="2026.11.27", name="new.json"), ADMIN)
    fresh_ws.cases.decide(other.id, Decision.ACCEPT_DEFERRED, c)   # rechecked, not listed
    report = fresh_ws.integrity.verify()
    assert report.ok, report.findings
    assert report.cases == 2
