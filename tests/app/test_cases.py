"""Cases at the window: open (收件), record materials, decide; the audit chain and outbox."""

from __future__ import annotations

import datetime as dt
import itertools
import sqlite3
import threading
from dataclasses import replace

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from app.domain.case import (
    Agent,
    Applicant,
    ApplicantKind,
    CaseState,
    CaseStatus,
    Clerk,
    Decision,
    IdType,
    MaterialState,
    MaterialStatus,
)
from app.domain.checksum import mod11_2
from app.domain.numbering import CaseNumber
from app.services.cases import CaseRuleError
from app.storage.chain import GENESIS_HASH
from app.storage.models import CaseEventRow, CaseNumberCounter, CaseRow, OutboxOp
from app.workstation import Workstation
from tests.support import chain_walk

D = dt.date.fromisoformat
GETI = "11330100MB0000001X4000116001000"   # 个体工商户设立登记: 即办件
FOOD = "11330100MB0000001X4000215001000"   # 食品经营许可（新办）: 承诺件, 3 工作日, m7 容缺
IDCARD = "11330100MB0000072E4070105001000"  # 居民身份证申领: 承诺件, 20 自然日


def resident_id(body17: str = "33010219800101002") -> str:
    return body17 + mod11_2(body17)


APPLICANT = Applicant(ApplicantKind.PERSON, "王小明", IdType.RESIDENT_ID, resident_id(),
                      phone="138 0013 8000")


def clerk(ws: Workstation, terminal: str = "01") -> Clerk:
    s = ws.settings
    return Clerk("clerk-0001", "张三", s.site_code, terminal, s.window)


def counts(ws: Workstation) -> dict[str, int]:
    with ws.db.read() as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                for model in (CaseRow, CaseEventRow, OutboxOp, CaseNumberCounter)}


def received(ws: Workstation, item_code: str, **overrides: MaterialState
             ) -> list[MaterialState]:
    """Every 必要 material of the item received, except the ones overridden by id."""
    item = ws.catalogue.item(item_code)
    states = []
    for m in item.checklist():
        states.append(overrides.get(m.id) or MaterialState(
            m.id, m.name, MaterialStatus.RECEIVED, form_received=str(m.form),
            copies_received=m.copies))
    return states


def received_case(ws: Workstation, item_code: str, c: Clerk, day: dt.date) -> CaseState:
    """A case of ``item_code`` opened on ``day`` with every 必要 material received."""
    case = ws.cases.open_case(item_code, APPLICANT, c, today=day)
    return ws.cases.record_materials(case.id, received(ws, item_code), c, today=day)


def status(ws: Workstation, item_code: str, material_id: str, st: MaterialStatus,
           **kw: object) -> MaterialState:
    m = ws.catalogue.item(item_code).material(material_id)
    return MaterialState(m.id, m.name, st, **kw)  # type: ignore[arg-type]


# ---- opening and numbering -----------------------------------------------------------


def test_numbers_count_per_terminal_per_day_with_a_valid_check(module_ws: Workstation) -> None:
    day = D("2026-11-02")
    first = [module_ws.cases.open_case(GETI, APPLICANT, clerk(module_ws), today=day)
             for _ in range(3)]
    other_terminal = module_ws.cases.open_case(GETI, APPLICANT, clerk(module_ws, "02"),
                                               today=day)
    next_day = module_ws.cases.open_case(GETI, APPLICANT, clerk(module_ws), today=day +
                                         dt.timedelta(days=1))
    parsed = [CaseNumber.parse(c.number) for c in first]
    assert [p.seq for p in parsed] == [1, 2, 3]
    assert [c.number[-5:-1] for c in first] == ["0001", "0002", "0003"]
    assert {(p.site, p.terminal, p.day) for p in parsed} == {
        (module_ws.settings.site_code, "01", day)}
    assert CaseNumber.parse(other_terminal.number).seq == 1
    assert CaseNumber.parse(other_terminal.number).terminal == "02"
    assert CaseNumber.parse(next_day.number).seq == 1
    assert len({c.number for c in [*first, other_terminal, next_day]}) == 5


def test_opening_writes_the_case_the_event_and_the_outbox_op(module_ws: Workstation) -> None:
    case = module_ws.cases.open_case(FOOD, APPLICANT, clerk(module_ws), queue_ticket="A012",
                                     today=D("2026-11-03"))
    assert case.status is CaseStatus.RECEIVING
    assert case.applicant.phone == "13800138000"  # normalised
    assert (case.item_code, case.item_name) == (FOOD, "食品经营许可（新办）")
    assert case.item_version == module_ws.catalogue.item(FOOD).version
    with module_ws.db.read() as session:
        row = session.get(CaseRow, case.id)
        assert row is not None
        assert (row.number, row.status, row.queue_ticket) == (case.number, "收件中", "A012")
        assert row.applicant_id_number == APPLICANT.id_number
        events = session.scalars(select(CaseEventRow).where(
            CaseEventRow.case_id == case.id)).all()
        assert [(e.kind, e.case_seq) for e in events] == [("opened", 1)]
        assert events[0].payload["number"] == case.number
        assert events[0].payload["opened_on"] == "2026-11-03"
        ops = session.scalars(select(OutboxOp).where(OutboxOp.entity_id == case.id)).all()
        assert [(o.entity, o.kind, o.state, o.base_version) for o in ops] == [
            ("case", "opened", "pending", 0)]
        assert ops[0].payload["hash"] == events[0].hash
        assert ops[0].payload["event_id"] == events[0].event_id
    assert module_ws.cases.by_number(case.number) == module_ws.cases.get(case.id)


def test_a_bad_id_number_writes_nothing_not_even_a_number(module_ws: Workstation) -> None:
    day = D("2026-11-04")
    module_ws.cases.open_case(GETI, APPLICANT, clerk(module_ws), today=day)
    before = counts(module_ws)
    bad = replace(APPLICANT, id_number=APPLICANT.id_number[:-1] + (
        "0" if APPLICANT.id_number[-1] != "0" else "1"))
    with pytest.raises(CaseRuleError, match="申请人证件：身份证号码校验位不正确") as info:
        module_ws.cases.open_case(GETI, bad, clerk(module_ws), today=day)
    assert len(info.value.problems) == 1
    with pytest.raises(CaseRuleError, match="出生日期"):
        module_ws.cases.open_case(GETI, replace(APPLICANT, id_number=resident_id(
            "33010219801301002")), clerk(module_ws), today=day)
    assert counts(module_ws) == before
    # The next good case takes the next number: the failures used none.
    assert module_ws.cases.open_case(GETI, APPLICANT, clerk(module_ws),
                                     today=day).number[-5:-1] == "0002"


def test_every_applicant_problem_is_reported_at_once(module_ws: Workstation) -> None:
    bad = replace(APPLICANT, name=" ", id_number="12345", phone="12345")
    with pytest.raises(CaseRuleError) as info:
        module_ws.cases.open_case(GETI, bad, clerk(module_ws), today=D("2026-11-05"))
    problems = info.value.problems
    assert problems[0] == "请填写申请人姓名或名称。"
    assert "申请人证件：身份证号码应为18位" in problems[1]
    assert problems[2].startswith("申请人电话：")
    assert len(problems) == 3


def test_organisations_agents_and_unknown_items(module_ws: Workstation) -> None:
    company = Applicant(ApplicantKind.ORGANISATION, "示例餐饮有限公司", IdType.USCC,
                        "91350100m000100y43", legal_representative="李四")
    agent = Agent("赵六", IdType.RESIDENT_ID, resident_id("33010219900505003"),
                  relation="受托人")
    case = module_ws.cases.open_case(FOOD, company, clerk(module_ws), agent=agent,
                                     today=D("2026-11-05"))
    assert case.applicant.id_number == "91350100M000100Y43"
    assert module_ws.cases.get(case.id).agent == agent
    wrong_check = agent.id_number[:-1] + ("1" if agent.id_number[-1] == "0" else "0")
    with pytest.raises(CaseRuleError, match=r"代理人证件：.*校验位"):
        module_ws.cases.open_case(FOOD, company, clerk(module_ws), today=D("2026-11-05"),
                                  agent=replace(agent, id_number=wrong_check))
    with pytest.raises(CaseRuleError, match="统一社会信用代码含有不允许的字符：O"):
        module_ws.cases.open_case(FOOD, replace(company, id_number="91350100MO00100Y43"),
                                  clerk(module_ws), today=D("2026-11-05"))
    with pytest.raises(CaseRuleError, match="目录中没有编码为“NOPE”的事项"):
        module_ws.cases.open_case("NOPE", APPLICANT, clerk(module_ws), today=D("2026-11-05"))


def test_two_threads_opening_cases_get_distinct_consecutive_numbers(
        module_ws: Workstation) -> None:
    day = D("2026-11-06")
    numbers: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def work() -> None:
        try:
            barrier.wait()
            for _ in range(50):
                numbers.append(module_ws.cases.open_case(GETI, APPLICANT, clerk(module_ws),
                                                         today=day).number)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert sorted(CaseNumber.parse(n).seq for n in numbers) == list(range(1, 101))
    assert chain_walk(module_ws, module_ws.settings.site_code, "01").intact


# ---- the audit chain -----------------------------------------------------------------


def test_events_form_an_intact_hash_chain(module_ws: Workstation) -> None:
    c = clerk(module_ws, "07")
    day = D("2026-09-29")
    case = received_case(module_ws, FOOD, c, day)
    module_ws.cases.decide(case.id, Decision.ACCEPT, c, today=day)
    module_ws.cases.open_case(GETI, APPLICANT, c, today=day)

    report = chain_walk(module_ws, c.site, "07")
    assert (report.count, report.intact, report.broken_at) == (4, True, None)
    with module_ws.db.read() as session:
        rows = session.scalars(select(CaseEventRow).where(CaseEventRow.terminal == "07")
                               .order_by(CaseEventRow.id)).all()
        assert rows[0].prev_hash == GENESIS_HASH
        for before, after in itertools.pairwise(rows):
            assert after.prev_hash == before.hash
        assert [r.kind for r in rows] == ["opened", "materials_recorded", "decided", "opened"]
        assert [r.case_seq for r in rows] == [1, 2, 3, 1]
        ops = session.scalars(select(OutboxOp).where(OutboxOp.entity_id == case.id)
                              .order_by(OutboxOp.device_seq)).all()
        assert [(o.kind, o.base_version) for o in ops] == [
            ("opened", 0), ("materials_recorded", 1), ("decided", 2)]


def test_the_database_refuses_to_edit_or_delete_events(module_ws: Workstation) -> None:
    case = module_ws.cases.open_case(GETI, APPLICANT, clerk(module_ws), today=D("2026-11-09"))
    with pytest.raises(IntegrityError, match="append-only"), module_ws.db.write() as session:
        session.execute(text("UPDATE case_events SET payload = '{}' WHERE case_id = :c"),
                        {"c": case.id})
    with pytest.raises(IntegrityError, match="append-only"), module_ws.db.write() as session:
        session.execute(text("DELETE FROM case_events WHERE case_id = :c"), {"c": case.id})
    raw = sqlite3.connect(module_ws.settings.database_path)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            raw.execute("UPDATE case_events SET clerk_name = '李四'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            raw.execute("DELETE FROM case_events")
    finally:
        raw.close()
    with module_ws.db.read() as session:
        assert session.scalar(select(func.count()).select_from(CaseEventRow).where(
            CaseEventRow.case_id == case.id)) == 1


# ---- decisions -----------------------------------------------------------------------


def test_accepting_computes_the_promised_date_from_the_calendar(
        module_ws: Workstation) -> None:
    c = clerk(module_ws)
    day = D("2026-09-29")
    case = received_case(module_ws, FOOD, c, day)
    accepted = module_ws.cases.decide(case.id, Decision.ACCEPT, c, today=day)
    # 30 September, then 国庆节 1-7 October, then Thursday 8 and Friday 9 October.
    assert (accepted.status, accepted.accepted_on, accepted.promised_date) == (
        CaseStatus.ACCEPTED, day, D("2026-10-09"))
    assert module_ws.cases.get(case.id).promised_date == D("2026-10-09")

    # 20 自然日 from 17 September ends on 7 October (国庆节): moved to 8 October.
    case = received_case(module_ws, IDCARD, c, D("2026-09-17"))
    accepted = module_ws.cases.decide(case.id, Decision.ACCEPT, c, today=D("2026-09-17"))
    assert accepted.promised_date == D("2026-10-08")


def test_a_decision_is_final(module_ws: Workstation) -> None:
    c = clerk(module_ws)
    day = D("2026-11-12")
    case = received_case(module_ws, FOOD, c, day)
    module_ws.cases.decide(case.id, Decision.ACCEPT, c, today=day)
    # The status is what the clerk hears first, whatever else is wrong with the request.
    with pytest.raises(CaseRuleError, match="不能再作受理决定"):
        module_ws.cases.decide(case.id, Decision.REJECT, c, reason="", today=day)
    with pytest.raises(CaseRuleError, match="不能再修改收件材料"):
        module_ws.cases.record_materials(case.id, received(module_ws, FOOD), c, today=day)
    assert module_ws.cases.get(case.id).status is CaseStatus.ACCEPTED


def test_correction_needs_missing_or_faulty_materials(module_ws: Workstation) -> None:
    c = clerk(module_ws)
    day = D("2026-11-16")
    case = received_case(module_ws, FOOD, c, day)
    with pytest.raises(CaseRuleError, match="无需补正"):
        module_ws.cases.decide(case.id, Decision.CORRECTION, c, today=day)

    with pytest.raises(CaseRuleError, match="请写明问题所在"):
        module_ws.cases.record_materials(case.id, received(module_ws, FOOD, m1=status(
            module_ws, FOOD, "m1", MaterialStatus.FAULTY)), c, today=day)
    faulty = received(module_ws, FOOD, m1=status(module_ws, FOOD, "m1", MaterialStatus.FAULTY,
                                                 fault="申请书未签字"),
                      m2=status(module_ws, FOOD, "m2", MaterialStatus.MISSING))
    module_ws.cases.record_materials(case.id, faulty, c, today=day)
    with pytest.raises(CaseRuleError, match="应一次性告知补正"):
        module_ws.cases.decide(case.id, Decision.ACCEPT, c, today=day)
    corrected = module_ws.cases.decide(case.id, Decision.CORRECTION, c, today=day)
    assert corrected.status is CaseStatus.CORRECTION
    assert corrected.promised_date is None

    # The applicant comes back with the papers: the case is decided again.
    module_ws.cases.record_materials(case.id, received(module_ws, FOOD), c, today=day)
    assert module_ws.cases.decide(case.id, Decision.ACCEPT, c,
                                  today=day).status is CaseStatus.ACCEPTED


def test_deferred_acceptance_rules(module_ws: Workstation) -> None:
    c = clerk(module_ws)
    day = D("2026-11-17")
    case = module_ws.cases.open_case(FOOD, APPLICANT, c, today=day)
    assert module_ws.catalogue.item(FOOD).material("m7").deferrable
    assert not module_ws.catalogue.item(FOOD).material("m1").deferrable

    with pytest.raises(CaseRuleError, match="需要填写晚于今天的补交日期"):
        module_ws.cases.record_materials(case.id, received(module_ws, FOOD, m7=status(
            module_ws, FOOD, "m7", MaterialStatus.DEFERRED, deferred_until=day)), c, today=day)
    with pytest.raises(CaseRuleError, match="不在容缺受理范围内"):
        module_ws.cases.record_materials(case.id, received(module_ws, FOOD, m1=status(
            module_ws, FOOD, "m1", MaterialStatus.DEFERRED,
            deferred_until=day + dt.timedelta(days=5))), c, today=day)

    module_ws.cases.record_materials(case.id, received(module_ws, FOOD), c, today=day)
    with pytest.raises(CaseRuleError, match="没有容缺后补的材料"):
        module_ws.cases.decide(case.id, Decision.ACCEPT_DEFERRED, c, today=day)

    deferred = received(module_ws, FOOD, m7=status(
        module_ws, FOOD, "m7", MaterialStatus.DEFERRED, deferred_until=day + dt.timedelta(5)))
    module_ws.cases.record_materials(case.id, deferred, c, today=day)
    with pytest.raises(CaseRuleError, match="应选择容缺受理"):
        module_ws.cases.decide(case.id, Decision.ACCEPT, c, today=day)
    state = module_ws.cases.decide(case.id, Decision.ACCEPT_DEFERRED, c, today=day)
    assert state.status is CaseStatus.ACCEPTED_DEFERRED
    # The 3 working days run from the 补交期限 (Sunday 22 November), never ending before
    # it: Wednesday 25 November, not Friday 20 (before the material is even due).
    assert state.promised_date == D("2026-11-25")
    assert state.promised_date >= day + dt.timedelta(5)


def test_on_the_spot_only_for_on_the_spot_items(module_ws: Workstation) -> None:
    c = clerk(module_ws)
    day = D("2026-11-18")
    promised = received_case(module_ws, FOOD, c, day)
    with pytest.raises(CaseRuleError, match="承诺件不能当场办结"):
        module_ws.cases.decide(promised.id, Decision.ON_THE_SPOT, c, today=day)

    instant = received_case(module_ws, GETI, c, day)
    done = module_ws.cases.decide(instant.id, Decision.ON_THE_SPOT, c, today=day)
    assert (done.status, done.promised_date) == (CaseStatus.COMPLETED, day)


def test_unverified_materials_block_acceptance(module_ws: Workstation) -> None:
    c = clerk(module_ws)
    day = D("2026-11-19")
    case = module_ws.cases.open_case(FOOD, APPLICANT, c, today=day)
    partial = received(module_ws, FOOD)[:2]
    module_ws.cases.record_materials(case.id, partial, c, today=day)  # allowed while receiving
    with pytest.raises(CaseRuleError, match="尚未核验"):
        module_ws.cases.decide(case.id, Decision.ACCEPT, c, today=day)
    with pytest.raises(CaseRuleError, match="不在本事项的材料清单中"):
        module_ws.cases.record_materials(case.id, [MaterialState(
            "m99", "不存在的材料", MaterialStatus.RECEIVED)], c, today=day)


def test_rejection_needs_a_reason(module_ws: Workstation) -> None:
    c = clerk(module_ws)
    day = D("2026-11-20")
    case = module_ws.cases.open_case(FOOD, APPLICANT, c, today=day)
    with pytest.raises(CaseRuleError, match="不予受理必须写明理由"):
        module_ws.cases.decide(case.id, Decision.REJECT, c, reason="  ", today=day)
    before = counts(module_ws)
    rejected = module_ws.cases.decide(case.id, Decision.REJECT, c, today=day,
                                      reason="经营场所位于禁止区域，不属于受理范围",
                                      competent_authority="示例县自然资源局")
    assert rejected.status is CaseStatus.REJECTED
    assert rejected.competent_authority == "示例县自然资源局"
    assert rejected.promised_date is None
    after = counts(module_ws)
    assert (after["case_events"], after["outbox"]) == (
        before["case_events"] + 1, before["outbox"] + 1)


def test_scenarios_decide_the_checklist_of_the_case(module_ws: Workstation) -> None:
    """委托他人代为办理 adds 授权委托书 and 受托人身份证件 (m7, m8) to 个体工商户设立登记."""
    c = clerk(module_ws)
    day = D("2026-11-20")
    case = module_ws.cases.open_case(GETI, APPLICANT, c, today=day)
    entrust = received(module_ws, GETI) + [
        status(module_ws, GETI, mid, MaterialStatus.RECEIVED, form_received="原件",
               copies_received=1) for mid in ("m7", "m8")]
    # Without the scenario the letter of authority is not on this applicant's list.
    with pytest.raises(CaseRuleError, match=r"授权委托书.*不在本事项的材料清单中"):
        module_ws.cases.record_materials(case.id, entrust, c, today=day)
    with pytest.raises(CaseRuleError, match="没有办理情形“s9”"):
        module_ws.cases.record_materials(case.id, entrust, c, today=day,
                                         scenario_ids=frozenset({"s9"}))
    # Under the scenario, leaving m7/m8 out blocks acceptance: the decision uses the
    # scenarios recorded with the materials, not a fresh guess.
    partial = module_ws.cases.record_materials(case.id, received(module_ws, GETI), c,
                                               today=day, scenario_ids=frozenset({"s3"}))
    assert partial.scenarios == ("s3",)
    assert module_ws.cases.get(case.id).scenarios == ("s3",)
    with pytest.raises(CaseRuleError, match=r"授权委托书.*尚未核验"):
        module_ws.cases.decide(case.id, Decision.ON_THE_SPOT, c, today=day)
    module_ws.cases.record_materials(case.id, entrust, c, today=day,
                                     scenario_ids=frozenset({"s3"}))
    done = module_ws.cases.decide(case.id, Decision.ON_THE_SPOT, c, today=day)
    assert done.status is CaseStatus.COMPLETED
    assert {m.material_id for m in done.materials} >= {"m7", "m8"}


def test_choosing_a_scenario_and_its_materials_in_one_call(module_ws: Workstation) -> None:
    """The clerk ticks 委托他人代为办理 and records the letter in the same step; a later
    call without scenario_ids keeps the scenarios already chosen."""
    c = clerk(module_ws)
    day = D("2026-11-23")
    case = module_ws.cases.open_case(GETI, APPLICANT, c, today=day)
    entrust = received(module_ws, GETI) + [
        status(module_ws, GETI, mid, MaterialStatus.RECEIVED, form_received="原件",
               copies_received=1) for mid in ("m7", "m8")]
    first = module_ws.cases.record_materials(case.id, entrust, c, today=day,
                                             scenario_ids=frozenset({"s3"}))
    assert first.scenarios == ("s3",)
    again = module_ws.cases.record_materials(case.id, entrust, c, today=day)
    assert again.scenarios == ("s3",)
    cleared = module_ws.cases.record_materials(case.id, received(module_ws, GETI), c,
                                               today=day, scenario_ids=frozenset())
    assert cleared.scenarios == ()


def test_a_deadline_in_an_uncovered_year_is_accepted_as_a_marked_estimate(
        module_ws: Workstation) -> None:
    """domain.md: the clerk sees a warning, the applicant is not sent away, no silent guess."""
    c = clerk(module_ws)
    day = D("2026-12-28")  # 居民身份证申领: 20 自然日 → 2027-01-17, a Sunday
    case = received_case(module_ws, IDCARD, c, day)
    accepted = module_ws.cases.decide(case.id, Decision.ACCEPT, c, today=day)
    assert accepted.status is CaseStatus.ACCEPTED
    assert accepted.promised_estimated is True
    assert accepted.promised_date == D("2027-01-18")  # Sunday rolled to Monday
    assert module_ws.cases.get(case.id).promised_estimated is True
    covered = received_case(module_ws, FOOD, c, D("2026-11-23"))
    normal = module_ws.cases.decide(covered.id, Decision.ACCEPT, c, today=D("2026-11-23"))
    assert normal.promised_estimated is False


def test_a_networked_install_refuses_to_number_cases_under_the_demo_site(
        fresh_ws: Workstation) -> None:
    from app.config import DEMO_SITE_CODE
    from app.services.cases import CaseService

    networked = CaseService(fresh_ws.db, fresh_ws.catalogue, fresh_ws.calendar,
                            fresh_ws.integrity, refused_site=DEMO_SITE_CODE)
    demo_clerk = Clerk("c1", "张三", DEMO_SITE_CODE, "01", "1")
    before = counts(fresh_ws)
    with pytest.raises(CaseRuleError, match=r"演示站点编码.*\[site\] code"):
        networked.open_case(FOOD, APPLICANT, demo_clerk, today=D("2026-11-23"))
    assert counts(fresh_ws) == before
    real = replace(demo_clerk, site="330102001")
    assert networked.open_case(FOOD, APPLICANT, real, today=D("2026-11-23")).number.startswith(
        "330102001")
