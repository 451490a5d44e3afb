"""The legal frame of decision notices, read back from the printed PDFs.

Each notice names its deciding authority, acts "受……委托" where the window is entrusted,
cites the law that fits the item's category, carries a 文号 that is never issued twice,
and states what the law asks of it (补正期限, remedies with their bodies and periods).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from app.config import ConfigError, load_settings
from app.documents.form import DocumentKind as K
from app.domain.case import Agent, Clerk, Decision, IdType, MaterialStatus
from app.domain.catalogue import LimitUnit, TimeLimit
from app.domain.notice import AuthoritySettings, RejectionGround
from app.services.cases import CaseRuleError
from app.services.integrity import IntegrityAlarm
from app.workstation import Workstation, open_workstation
from tests.app.test_documents import (
    DAY,
    FOOD,
    applicant,
    case_with,
    clerk,
    marked,
    pdf_text,
    received,
    resident_id,
    squash,
)
from tests.support import documents_with

TOBACCO = "11330100MB0000023K4000031001000"   # 行政许可, 烟草专卖局 (entrusted), 补正 5 工作日
SOCIAL_CARD = "11330100MB0000031C4200101001000"   # 公共服务, 人社局 (entrusted), 即办件
DIBAO = "11330100MB0000146R4030011001000"      # 行政给付, 城关镇人民政府 (its own seal)
LAW = "《中华人民共和国行政许可法》"


def printed(ws: Workstation, kind: K, number: str, tmp_path: Path, c: Clerk | None = None
            ) -> str:
    doc = ws.documents.render_case_document(kind, number, c or clerk(ws))
    return squash(pdf_text(doc.pdf, tmp_path))


def test_only_a_license_item_cites_the_license_law(fresh_ws: Workstation,
                                                   tmp_path: Path) -> None:
    food = case_with(fresh_ws, FOOD, Decision.ACCEPT)
    text = printed(fresh_ws, K.ACCEPTANCE, food.number, tmp_path)
    assert f"根据{LAW}第三十二条第一款第（五）项的规定，决定予以受理" in text
    assert "符合法定形式" in text
    card = case_with(fresh_ws, SOCIAL_CARD, Decision.ON_THE_SPOT)
    text = printed(fresh_ws, K.ACCEPTANCE, card.number, tmp_path)
    assert "行政许可法" not in text
    assert "依据《中华人民共和国社会保险法》第五十八条等，决定予以受理" in text
    assert "符合规定要求" in text


def test_an_entrusted_window_accepts_in_the_authoritys_name(fresh_ws: Workstation,
                                                            tmp_path: Path) -> None:
    case = case_with(fresh_ws, TOBACCO, Decision.ACCEPT)
    text = printed(fresh_ws, K.ACCEPTANCE, case.number, tmp_path)
    site = fresh_ws.settings.site_name
    # The authority heads the notice; the centre signs as its entrusted window.
    assert text.startswith("示例县烟草专卖局受理通知书")
    assert f"向{site}（受示例县烟草专卖局委托受理）提出的" in text
    assert f"{site}（盖章）" in text and "受示例县烟草专卖局委托" in text
    facts = fresh_ws.cases.document_facts(case.id)
    assert facts is not None and facts.notice is not None
    assert facts.notice.seal == f"{site}综合受理专用章"   # which seal the clerk stamps
    assert "本机关" not in text


def test_an_authority_deciding_itself_uses_its_own_seal_and_no_entrustment(
        fresh_ws: Workstation, tmp_path: Path) -> None:
    case = case_with(fresh_ws, DIBAO, Decision.ACCEPT)
    text = printed(fresh_ws, K.ACCEPTANCE, case.number, tmp_path)
    assert "示例县城关镇人民政府（盖章）" in text
    facts = fresh_ws.cases.document_facts(case.id)
    assert facts is not None and facts.notice is not None
    assert facts.notice.seal == "示例县城关镇人民政府便民服务专用章"
    assert "委托受理" not in text and "（受" not in text
    assert "行政许可法" not in text


def test_document_numbers_count_per_authority_and_year(fresh_ws: Workstation,
                                                       tmp_path: Path) -> None:
    first = case_with(fresh_ws, FOOD, Decision.ACCEPT)
    other = case_with(fresh_ws, TOBACCO, Decision.ACCEPT)
    second = case_with(fresh_ws, FOOD, Decision.REJECT, reason="经营场所位于居民住宅楼内")
    numbers = [fresh_ws.cases.document_facts(c.id).notice.document_number   # type: ignore[union-attr]
               for c in (first, other, second)]
    assert numbers == ["城关市监受〔2026〕第01-0001号", "城关烟专受〔2026〕第01-0001号",
                       "城关市监受〔2026〕第01-0002号"]
    assert "城关市监受〔2026〕第01-0002号" in printed(fresh_ws, K.REJECTION, second.number,
                                                   tmp_path)


def test_a_refused_decision_takes_no_document_number(fresh_ws: Workstation) -> None:
    case = case_with(fresh_ws, FOOD, m5=marked(fresh_ws, FOOD, "m5", MaterialStatus.MISSING))
    with pytest.raises(CaseRuleError):
        fresh_ws.cases.decide(case.id, Decision.ACCEPT, clerk(fresh_ws), today=DAY)
    accepted = case_with(fresh_ws, FOOD, Decision.ACCEPT)
    facts = fresh_ws.cases.document_facts(accepted.id)
    assert facts is not None and facts.notice is not None
    assert facts.notice.document_number.endswith("第01-0001号")


def test_a_restored_old_database_never_reissues_a_document_number(fresh_ws: Workstation
                                                                  ) -> None:
    case_with(fresh_ws, FOOD, Decision.ACCEPT)
    db = fresh_ws.settings.database_path
    old = db.with_name("old-copy.db")
    with sqlite3.connect(db) as live, sqlite3.connect(old) as copy:
        live.backup(copy)
    case_with(fresh_ws, FOOD, Decision.ACCEPT)   # 第01-0002号 is now on paper
    fresh_ws.close()
    for suffix in ("-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    old.replace(db)
    with pytest.raises(IntegrityAlarm, match="文号至 城关市监受〔2026〕第01-0002号"):
        open_workstation(fresh_ws.settings.data_dir)
    ws = open_workstation(fresh_ws.settings.data_dir, check=False, seed=False)
    done = ws.integrity.recover("数据库从旧副本恢复", os_user="tester")
    assert done["document_numbers_resumed_above"] == ["城关市监受〔2026〕第01-0002号"]
    ws.close()
    ws = open_workstation(fresh_ws.settings.data_dir)
    try:
        again = case_with(ws, FOOD, Decision.ACCEPT)
        facts = ws.cases.document_facts(again.id)
        assert facts is not None and facts.notice is not None
        assert facts.notice.document_number == "城关市监受〔2026〕第01-0003号"
    finally:
        ws.close()


def test_a_rejection_names_its_basis_the_review_body_and_the_court_with_periods(
        fresh_ws: Workstation, tmp_path: Path) -> None:
    case = case_with(fresh_ws, TOBACCO, Decision.REJECT, reason="申请地点与学校距离不足五十米")
    text = printed(fresh_ws, K.REJECTION, case.number, tmp_path)
    assert text.startswith("示例县烟草专卖局不予受理决定书")
    assert "示例县烟草专卖局决定不予受理" in text
    assert "法律依据《中华人民共和国烟草专卖法》第十六条等" in text
    assert ("可以自收到本决定书之日起六十日内向示例市烟草专卖局申请行政复议，或者自收到本决定书"
            "之日起六个月内向示例县人民法院提起行政诉讼") in text
    assert "签收日期" in text
    assert "本机关" not in text


def test_a_rejection_for_another_authority_cites_article_32_item_2_and_names_it(
        fresh_ws: Workstation, tmp_path: Path) -> None:
    c = clerk(fresh_ws)
    case = case_with(fresh_ws, FOOD, reason="", m1=marked(fresh_ws, FOOD, "m1",
                                                           MaterialStatus.RECEIVED))
    fresh_ws.cases.decide(case.id, Decision.REJECT, c, reason="申请经营的是药品零售",
                          competent_authority="示例县药品监督管理部门", today=DAY)
    text = printed(fresh_ws, K.REJECTION, case.number, tmp_path)
    assert f"{LAW}第三十二条第一款第（二）项" in text
    assert "依法不属于示例县市场监督管理局的职权范围，请向示例县药品监督管理部门申请" in text


def test_not_ours_without_naming_whose_is_refused(fresh_ws: Workstation) -> None:
    case = case_with(fresh_ws, FOOD, m1=marked(fresh_ws, FOOD, "m1", MaterialStatus.RECEIVED))
    with pytest.raises(CaseRuleError, match="应向哪个机关申请"):
        fresh_ws.cases.decide(case.id, Decision.REJECT, clerk(fresh_ws), reason="不归本局管",
                              ground=RejectionGround.NOT_COMPETENT, today=DAY)


def test_a_rejection_is_refused_while_the_authority_has_no_remedy_bodies(
        fresh_ws: Workstation) -> None:
    name = "示例县烟草专卖局"
    notices = fresh_ws.cases.notices
    fresh_ws.cases.notices = dataclasses.replace(notices, authorities={
        **notices.authorities, name: AuthoritySettings(name, entrusted=True)})
    case = case_with(fresh_ws, TOBACCO, m1=marked(fresh_ws, TOBACCO, "m1",
                                                  MaterialStatus.RECEIVED))
    with pytest.raises(CaseRuleError, match=r'authorities\."示例县烟草专卖局"\].*review（复议机关）'
                                            r"、court（人民法院）"):
        fresh_ws.cases.decide(case.id, Decision.REJECT, clerk(fresh_ws), reason="距离学校太近",
                              today=DAY)
    # An authority the site never registered cannot be decided for at all.
    fresh_ws.cases.notices = dataclasses.replace(notices, authorities={})
    with pytest.raises(CaseRuleError, match="未登记实施主体“示例县烟草专卖局”"):
        fresh_ws.cases.decide(case.id, Decision.ACCEPT, clerk(fresh_ws), today=DAY)


def test_a_correction_notice_states_its_deadline_and_what_follows(fresh_ws: Workstation,
                                                                  tmp_path: Path) -> None:
    # The site default: 30 calendar days from the decision.
    food = case_with(fresh_ws, FOOD, Decision.CORRECTION,
                     m5=marked(fresh_ws, FOOD, "m5", MaterialStatus.MISSING))
    text = printed(fresh_ws, K.CORRECTION, food.number, tmp_path)
    assert "请于2026年12月24日前（自本通知书出具之日起30个自然日内）按上述要求补正" in text
    assert "逾期未补正的，视为你放弃本次申请" in text
    assert f"根据{LAW}第三十二条第一款第（四）项的规定" in text
    # The item's own limit wins: 5 working days from Tuesday 2026-11-24 is Tuesday 12-01.
    tobacco = case_with(fresh_ws, TOBACCO, Decision.CORRECTION,
                        m1=marked(fresh_ws, TOBACCO, "m1", MaterialStatus.MISSING))
    text = printed(fresh_ws, K.CORRECTION, tobacco.number, tmp_path)
    assert "请于2026年12月1日前（自本通知书出具之日起5个工作日内）" in text


def test_an_acceptance_names_the_agent_who_signs_for_the_applicant(fresh_ws: Workstation,
                                                                   tmp_path: Path) -> None:
    c = clerk(fresh_ws)
    agent = Agent("李代办", IdType.RESIDENT_ID, resident_id("33010219700101003"),
                  village_agent=True)
    case = fresh_ws.cases.open_case(DIBAO, applicant(), c, agent=agent, today=DAY)
    fresh_ws.cases.record_materials(case.id, received(fresh_ws, DIBAO), c, today=DAY)
    fresh_ws.cases.decide(case.id, Decision.ACCEPT, c, today=DAY)
    text = printed(fresh_ws, K.ACCEPTANCE, case.number, tmp_path)
    assert "代理人李代办（代办员）" in text
    assert "代理人（签收）：" in text and "申请人（签收）" not in text


def test_special_procedures_are_stated_where_the_item_has_them(fresh_ws: Workstation,
                                                               tmp_path: Path) -> None:
    food = case_with(fresh_ws, FOOD, Decision.ACCEPT)
    text = printed(fresh_ws, K.ACCEPTANCE, food.number, tmp_path)
    assert (f"本事项办理中需要现场核查的，所需时间不计算在承诺办结时限内（{LAW}第四十五条）"
            in text)
    dibao = case_with(fresh_ws, DIBAO, Decision.ACCEPT)
    assert "不计算在承诺办结时限内" not in printed(fresh_ws, K.ACCEPTANCE, dibao.number, tmp_path)


def test_a_deferral_prints_only_the_consequence_the_item_configures(fresh_ws: Workstation,
                                                                    tmp_path: Path) -> None:
    later = DAY + dt.timedelta(days=5)
    food = case_with(fresh_ws, FOOD, Decision.ACCEPT_DEFERRED, m7=marked(
        fresh_ws, FOOD, "m7", MaterialStatus.DEFERRED, deferred_until=later))
    text = printed(fresh_ws, K.DEFERRED, food.number, tmp_path)
    assert "逾期未补交或补交材料不符合要求的，终止办理本次许可申请" in text
    assert "信用" not in text
    assert "本地容缺受理有关规定" in text and "行政许可法》第三十二条" not in text


def test_a_reprint_after_the_settings_and_site_name_change_keeps_the_frozen_frame(
        fresh_ws: Workstation, tmp_path: Path) -> None:
    case = case_with(fresh_ws, TOBACCO, Decision.REJECT, reason="申请地点与学校距离不足五十米")
    before = printed(fresh_ws, K.REJECTION, case.number, tmp_path)
    notices = fresh_ws.cases.notices
    name = "示例县烟草专卖局"
    fresh_ws.cases.notices = dataclasses.replace(notices, authorities={
        **notices.authorities, name: AuthoritySettings(name, "别的复议机关", "别的法院")})
    renamed = documents_with(fresh_ws, site_name="示例县城关镇党群服务中心",
                             authorities={})
    doc = renamed.render_case_document(K.REJECTION, case.number, clerk(fresh_ws))
    after = squash(pdf_text(doc.pdf, tmp_path))
    assert "示例市烟草专卖局申请行政复议" in after and "别的" not in after
    assert "党群" not in after
    assert after == before


def test_a_service_receipt_can_prove_a_rejection_was_served(fresh_ws: Workstation,
                                                            tmp_path: Path) -> None:
    case = case_with(fresh_ws, FOOD, Decision.REJECT, reason="经营场所位于居民住宅楼内")
    text = printed(fresh_ws, K.SERVICE, case.number, tmp_path)
    assert text.startswith("示例县市场监督管理局送达回证")   # served by the issuing authority
    assert "送达文书不予受理决定书（城关市监受〔2026〕第01-0001号）" in text
    correction = case_with(fresh_ws, FOOD, Decision.CORRECTION,
                           m5=marked(fresh_ws, FOOD, "m5", MaterialStatus.MISSING))
    text = printed(fresh_ws, K.SERVICE, correction.number, tmp_path)
    assert "送达文书补正材料通知书（城关市监受〔2026〕第01-0002号）" in text


# ---- settings.toml ---------------------------------------------------------------------


def _settings_with(tmp_path: Path, extra: str) -> Path:
    load_settings(tmp_path)   # writes the defaults
    path = tmp_path / "settings.toml"
    text = path.read_text(encoding="utf-8")
    cut = text.index("[authorities.")
    path.write_text(text[:cut] + extra, encoding="utf-8")
    return path


def test_settings_keep_the_authorities_and_the_correction_limit(tmp_path: Path) -> None:
    _settings_with(tmp_path, '[authorities."某县交通运输局"]\nreview = "某县人民政府"\n'
                             'court = "某县人民法院"\nprefix = "某交受"\nentrusted = true\n')
    s = load_settings(tmp_path)
    assert list(s.authorities) == ["某县交通运输局"]
    assert s.authorities["某县交通运输局"].entrusted
    assert s.correction_limit == TimeLimit(30, LimitUnit.CALENDAR_DAYS)


@pytest.mark.parametrize(("entry", "message"), [
    ('review = "某县人民政府"\n', r"court 不能为空"),
    ('court = "某县人民法院"\n', r"review 不能为空"),
    ('review = "某县人民政府"\ncourt = "某县人民法院"\nentrusted = "yes"\n', r"entrusted 应为"),
    ('review = "某县人民政府"\ncourt = "某县人民法院"\nprefx = "某"\n', r"“prefx”无法识别"),
    ('review = "某县人民政府"\ncourt = "某县人民法院"\nprefix = "某〔2026〕"\n', r"prefix 只填"),
])
def test_a_bad_authority_entry_is_named_in_the_error(tmp_path: Path, entry: str,
                                                     message: str) -> None:
    _settings_with(tmp_path, f'[authorities."某县交通运输局"]\n{entry}')
    with pytest.raises(ConfigError, match=r'\[authorities\."某县交通运输局"\].*' + message):
        load_settings(tmp_path)


# ---- every demo category, every decision: what a supervisor signs ----------------------

CATEGORY_ITEMS = {
    "行政许可": FOOD,
    "行政确认": "13330100MB0000064W4070011001000",   # 残疾人证新办
    "行政给付": "11330100MB0000146R4030013001000",   # 临时救助 (可容缺)
    "公共服务": SOCIAL_CARD,                         # 即办件
    "其他": "11330100MB0000001X4990216001000",       # 小餐饮店登记 (可容缺)
}
DOC_OF = {Decision.ACCEPT: K.ACCEPTANCE, Decision.ON_THE_SPOT: K.ACCEPTANCE,
          Decision.REJECT: K.REJECTION, Decision.CORRECTION: K.CORRECTION,
          Decision.ACCEPT_DEFERRED: K.DEFERRED}


def _decided(ws: Workstation, code: str, decision: Decision) -> str:
    item = ws.catalogue.item(code)
    marks = {}
    if decision is Decision.CORRECTION:
        first = next(m for m in item.checklist() if m.necessity.value == "必要"
                     and m.source.value != "共享获取")
        marks[first.id] = marked(ws, code, first.id, MaterialStatus.FAULTY, fault="未签字")
    if decision is Decision.ACCEPT_DEFERRED:
        later = next(m for m in item.checklist() if m.deferrable)
        marks[later.id] = marked(ws, code, later.id, MaterialStatus.DEFERRED,
                                 deferred_until=dt.date.today() + dt.timedelta(days=7))
    reason = "申请人户籍不在本县，不符合受理条件" if decision is Decision.REJECT else ""
    c = clerk(ws)
    case = ws.cases.open_case(code, applicant(), c)
    ws.cases.record_materials(case.id, received(ws, code, **marks), c)
    ws.cases.decide(case.id, decision, c, reason=reason)
    return case.number


@pytest.mark.parametrize("category", list(CATEGORY_ITEMS))
def test_each_category_gets_its_frame_and_a_reprint_a_month_later_differs_only_by_its_mark(
        fresh_ws: Workstation, tmp_path: Path, category: str) -> None:
    code = CATEGORY_ITEMS[category]
    item = fresh_ws.catalogue.item(code)
    assert str(item.category) == category
    decisions = [Decision.ON_THE_SPOT if item.kind.value == "即办件" else Decision.ACCEPT,
                 Decision.REJECT, Decision.CORRECTION]
    if any(m.deferrable for m in item.checklist()):
        decisions.append(Decision.ACCEPT_DEFERRED)
    prefix = fresh_ws.settings.authorities[item.department.name].prefix
    docs = fresh_ws.documents
    for decision in decisions:
        number = _decided(fresh_ws, code, decision)
        kind = DOC_OF[decision]
        docs.now = lambda: dt.datetime.now().replace(microsecond=0)
        first = printed(fresh_ws, kind, number, tmp_path)
        assert first.startswith(f"{item.department.name}{kind.display}{prefix}〔")
        assert "本机关" not in first
        assert ("行政许可法》第三十二条" in first) == (
            category == "行政许可" and decision is not Decision.ACCEPT_DEFERRED), decision
        later = dt.datetime.now().replace(microsecond=0) + dt.timedelta(days=31)
        docs.now = lambda later=later: later   # type: ignore[misc]
        again = printed(fresh_ws, kind, number, tmp_path,
                        Clerk("c9", "周八", fresh_ws.settings.site_code, "01", "5"))
        mark = f"补打{later:%Y-%m-%d%H:%M}周八"
        assert again.replace(f"【{mark}】", "").replace(mark, "") == first, decision
