"""Attacks on the notices' legal frame, each found by a review and fixed since.

Careless settings, a renamed authority, a power cut before the anchor line, a reason
too long to print, decisions from before the frame existed, and the wording of the
rarer cases (a 即办件 with 容缺, a village committee's refusal, an organisation at pickup).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest

from app.config import ConfigError, load_settings, save_settings
from app.documents import a4
from app.documents.fonts import font_set
from app.documents.form import DocumentKind as K
from app.documents.form import Fields, FormDocument, Stamp, Text
from app.domain.case import Decision, MaterialStatus
from app.domain.catalogue_format import CatalogueFileError
from app.domain.notice import NoticeFacts
from app.services.cases import CaseRuleError
from app.services.integrity import IntegrityAlarm
from app.workstation import Workstation, open_workstation
from tests.app.test_documents import FOOD, case_with, clerk, marked, pdf_text, received, squash
from tests.app.test_notices import DIBAO, TOBACCO
from tests.support import documents_with

REPO = Path(__file__).resolve().parents[2]
MARKET = "示例县市场监督管理局"
TOBACCO_AUTH = "示例县烟草专卖局"


def docno(ws: Workstation, case_id: str) -> str:
    facts = ws.cases.document_facts(case_id)
    assert facts is not None and facts.notice is not None
    return facts.notice.document_number


def with_prefix(home: Path, prefix: str, *names: str) -> None:
    """settings.toml where ``names`` all use ``prefix`` (accepted by save and load)."""
    s = load_settings(home)
    auths = dict(s.authorities)
    for name in names:
        auths[name] = dataclasses.replace(auths[name], prefix=prefix)
    save_settings(dataclasses.replace(s, authorities=auths))


def release(home: Path, change: dict[str, object], *, department: tuple[str, str] | None = None
            ) -> Path:
    """A new catalogue release of the demo catalogue with FOOD changed by ``change``."""
    doc = json.loads((REPO / "resources/catalogue/demo.json").read_text(encoding="utf-8"))
    doc["version"] = "2026.12.1-review"
    for item in doc["items"]:
        touched = False
        if item["code"] == FOOD:
            item.update(change)
            touched = True
        if department and item["department"]["name"] == department[0]:
            item["department"]["name"] = department[1]
            touched = True
        if touched:
            item["version"] = str(int(item.get("version", "1")) + 1)
    path = home / "release.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


# ---- 1. 文号 printed twice -------------------------------------------------------------


@pytest.mark.parametrize(("prefix", "message"), [("城关受", "文号会重复"),
                                               ("", "prefix 不能为空")],
                         ids=["shared-prefix", "no-prefix"])
def test_two_authorities_cannot_be_given_one_printed_document_number_prefix(
        tmp_path: Path, prefix: str, message: str) -> None:
    # The printed 文号 is prefix〔year〕第terminal-seq号: a shared or empty prefix would
    # print the same number for two authorities, so the settings are refused on save.
    with pytest.raises(ConfigError, match=message):
        with_prefix(tmp_path, prefix, MARKET, TOBACCO_AUTH)


def test_an_authority_renamed_by_a_new_catalogue_does_not_restart_its_document_numbers(
        fresh_ws: Workstation) -> None:
    # 机构改革: the release renames the 实施主体; the administrator renames its section and
    # keeps its prefix. The register counts per printed prefix, so numbering goes on.
    home = fresh_ws.settings.data_dir
    first = case_with(fresh_ws, FOOD, Decision.ACCEPT)
    before = docno(fresh_ws, first.id)
    renamed = f"{MARKET}（示例县知识产权局）"
    path = release(home, {}, department=(MARKET, renamed))
    fresh_ws.close()
    s = load_settings(home)
    auths = {k: v for k, v in s.authorities.items() if k != MARKET}
    auths[renamed] = dataclasses.replace(s.authorities[MARKET], name=renamed)
    save_settings(dataclasses.replace(s, authorities=auths))
    ws = open_workstation(home)
    try:
        ws.catalogue.import_file(path)
        second = case_with(ws, FOOD, Decision.ACCEPT)
        assert (before, docno(ws, second.id)) == ("城关市监受〔2026〕第01-0001号",
                                                  "城关市监受〔2026〕第01-0002号")
    finally:
        ws.close()


def test_a_power_cut_before_the_anchor_line_never_lets_a_restore_reissue_a_printed_number(
        fresh_ws: Workstation, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = fresh_ws
    case_with(ws, FOOD, Decision.ACCEPT)                    # 第01-0001号, anchored
    db = ws.settings.database_path
    old = db.with_name("yesterday.db")
    with sqlite3.connect(db) as live, sqlite3.connect(old) as copy:
        live.backup(copy)
    # The decision commits; the process dies before Witness.record writes its lines.
    with monkeypatch.context() as m:
        m.setattr(ws.integrity.witness, "record", lambda **_kw: None)
        cut = case_with(ws, FOOD, Decision.ACCEPT)
    on_paper = docno(ws, cut.id)
    ws.close()
    ws = open_workstation(ws.settings.data_dir)             # restart: adopts the tail
    ws.documents.render_case_document(K.ACCEPTANCE, cut.number, clerk(ws))   # printed
    ws.close()
    for suffix in ("-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    old.replace(db)                                         # disk trouble: yesterday's copy
    with pytest.raises(IntegrityAlarm):
        open_workstation(db.parent)
    ws = open_workstation(db.parent, check=False, seed=False)
    ws.integrity.recover("硬盘损坏，从昨天的副本恢复", os_user="admin")
    ws.close()
    ws = open_workstation(db.parent)
    try:
        again = case_with(ws, FOOD, Decision.ACCEPT)
        assert docno(ws, again.id) != on_paper
    finally:
        ws.close()


# ---- 2. a decision whose notice cannot be printed ----------------------------------------


def test_a_reason_too_long_to_print_is_refused_before_a_document_number_is_taken(
        fresh_ws: Workstation) -> None:
    reason = ("经营场所位于居民住宅楼内，不符合食品经营场所设置要求；" * 200)[:3600]
    with pytest.raises(CaseRuleError, match="最多500字（现有3600字）"):
        case_with(fresh_ws, FOOD, Decision.REJECT, reason=reason)
    # The longest reason allowed prints, and the refused decision used up no number.
    case = case_with(fresh_ws, FOOD, Decision.REJECT, reason=reason[:500])
    assert docno(fresh_ws, case.id) == "城关市监受〔2026〕第01-0001号"
    doc = fresh_ws.documents.render_case_document(K.REJECTION, case.number, clerk(fresh_ws))
    assert doc.pages >= 1


def test_a_field_row_taller_than_a_page_after_a_long_paragraph_renders() -> None:
    # a4's docstring: "a row taller than a whole page … still splits instead of failing".
    # It depends on where the table starts; this layout fails (LayoutError).
    long = ("经营场所位于居民住宅楼内，不符合食品经营场所设置要求；" * 200)[:3000]
    stamp = Stamp("示例县政务服务中心", "1", "张三", dt.datetime(2026, 11, 24, 10))
    doc = FormDocument(K.REJECTION, "排版测试单", stamp, (
        Text(long), Fields((("编号", "1"), ("申请人", "王"), ("事项", "食品"),
                            ("理由", long), ("依据", "短")), columns=1)))
    assert a4.render_pdf(doc, font_set()).pages >= 2


# ---- 3. decisions read back from legacy events --------------------------------------------


def test_a_legacy_rejection_reprint_never_prints_a_remedy_without_its_bodies(
        fresh_ws: Workstation, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A case decided before 0004 has no "notice" in its event (simulated: an empty one).
    # Reprinted on a site whose settings do not (yet) register the authority — every
    # real site right after the upgrade — _legacy_notice falls back to empty review/court.
    with monkeypatch.context() as m:
        m.setattr(NoticeFacts, "to_json", lambda self: {})
        case = case_with(fresh_ws, FOOD, Decision.REJECT, reason="经营场所位于居民住宅楼内")
    facts = fresh_ws.cases.document_facts(case.id)
    assert facts is not None and facts.notice is None          # a legacy decision
    docs = documents_with(fresh_ws, authorities={})
    doc = docs.render_case_document(K.REJECTION, case.number, clerk(fresh_ws))
    text = squash(pdf_text(doc.pdf, tmp_path))
    assert "向申请行政复议" not in text and "向提起行政诉讼" not in text, text
    assert "六十日内依法申请行政复议" in text and "依法向人民法院提起行政诉讼" in text
    assert "委托" not in text.replace("授权委托书", "")   # no entrustment it never claimed
    assert "〔2026〕" not in text                        # and no 文号 it never had


# ---- 4. deadlines and wording ------------------------------------------------------------


def test_a_zero_day_correction_limit_is_refused_at_import(fresh_ws: Workstation) -> None:
    # A 补正期限 of 0 days would have passed on the day the notice is handed over.
    path = release(fresh_ws.settings.data_dir,
                   {"correction_limit": {"value": 0, "unit": "工作日"}})
    with pytest.raises(CatalogueFileError, match="补正期限至少为1天"):
        fresh_ws.catalogue.import_file(path)


def test_a_deferred_immediate_item_does_not_count_当场办结_from_the_deadline(
        fresh_ws: Workstation, tmp_path: Path) -> None:
    lost = "11330100MB0000001X4000119001000"   # 营业执照遗失补领: 即办件 with a 可容缺 material
    item = fresh_ws.catalogue.item(lost)
    later = next(m for m in item.checklist() if m.deferrable)
    case = case_with(fresh_ws, lost, Decision.ACCEPT_DEFERRED, **{later.id: marked(
        fresh_ws, lost, later.id, MaterialStatus.DEFERRED,
        deferred_until=dt.date(2026, 11, 27))})
    text = squash(pdf_text(fresh_ws.documents.render_case_document(
        K.DEFERRED, case.number, clerk(fresh_ws)).pdf, tmp_path))
    assert "承诺办结时限（当场办结）自最迟补交期限起计算" not in text
    assert "本事项在容缺材料补齐后当场办结" in text


def test_citations_are_not_joined_with_等及(fresh_ws: Workstation, tmp_path: Path) -> None:
    case = case_with(fresh_ws, FOOD, Decision.REJECT, reason="经营场所位于居民住宅楼内")
    text = squash(pdf_text(fresh_ws.documents.render_case_document(
        K.REJECTION, case.number, clerk(fresh_ws)).pdf, tmp_path))
    assert "等及" not in text, text
    assert ("《中华人民共和国食品安全法》第三十五条等规定和《中华人民共和国行政许可法》第三十二条"
            in text)


def test_the_service_receipt_of_an_authoritys_own_rejection_names_that_authority(
        fresh_ws: Workstation, tmp_path: Path) -> None:
    # 城关镇人民政府 decides under its own seal (not entrusted); its 不予受理决定书 is headed
    # and sealed by it, but the 送达回证 proving its service is headed by the centre.
    case = case_with(fresh_ws, DIBAO, Decision.REJECT, reason="申请人户籍不在本镇")
    text = pdf_text(fresh_ws.documents.render_case_document(
        K.SERVICE, case.number, clerk(fresh_ws)).pdf, tmp_path)
    assert text.splitlines()[0].strip() == "示例县城关镇人民政府"


def test_a_reprint_after_the_site_is_renamed_tells_the_same_place_to_submit(
        fresh_ws: Workstation, tmp_path: Path) -> None:
    case = case_with(fresh_ws, FOOD, Decision.CORRECTION,
                     m5=marked(fresh_ws, FOOD, "m5", MaterialStatus.MISSING))
    c = clerk(fresh_ws)
    before = squash(pdf_text(fresh_ws.documents.render_case_document(
        K.CORRECTION, case.number, c).pdf, tmp_path))
    renamed = documents_with(fresh_ws, site_name="示例县城关镇便民服务中心（新址）")
    after = squash(pdf_text(renamed.render_case_document(K.CORRECTION, case.number, c).pdf,
                            tmp_path))
    site = fresh_ws.settings.site_name
    assert f"持本通知书到{site}窗口提交" in before
    assert f"持本通知书到{site}窗口提交" in after


# ---- 5. settings.toml --------------------------------------------------------------------


def _settings_with(home: Path, extra: str) -> None:
    load_settings(home)
    path = home / "settings.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text[:text.index("[authorities.")] + extra, encoding="utf-8")


AUTH = 'review = "某县人民政府"\ncourt = "某县人民法院"\nprefix = "某交受"\n'


@pytest.mark.parametrize("entry", [
    f'[authorities.""]\n{AUTH}',
    f'[authorities."   "]\n{AUTH}',
    '[authorities."某县交通运输局"]\nreview = "某县人民政府"\ncourt = "某县人民法院"\n'
    'prefix = "某交\\n受"\n',
    '[authorities."某县交通运输局"]\nreview = "某县人民政府"\ncourt = "某县人民法院"\n'
    'prefix = "某交\u3000受"\n',
    f'[authorities."某县交通运输局"]\n{AUTH}[authorities." 某县交通运输局"]\n{AUTH}',
], ids=["empty-name", "blank-name", "newline-in-prefix", "ideographic-space-in-prefix",
        "same-name-twice-after-trimming"])
def test_a_bad_authority_entry_is_refused(tmp_path: Path, entry: str) -> None:
    _settings_with(tmp_path, entry)
    with pytest.raises(ConfigError, match=r"settings\.toml"):
        load_settings(tmp_path)


def test_a_real_sites_settings_from_the_previous_version_get_no_demo_authorities(
        tmp_path: Path) -> None:
    load_settings(tmp_path)
    path = tmp_path / "settings.toml"
    text = path.read_text(encoding="utf-8")
    text = text[:text.index("[notices]")].replace('code = "330100001"', 'code = "330521001"')
    path.write_text(text, encoding="utf-8")
    s = load_settings(tmp_path)
    assert not s.is_demo_site
    # 示例县人民政府 as 复议机关 would be written into this site's file at the next save.
    assert not any(name.startswith("示例县") for name in s.authorities), list(s.authorities)


# ---- 6. archive copies -------------------------------------------------------------------


def test_the_same_notice_rendered_twice_gives_the_same_archive_bytes(
        fresh_ws: Workstation) -> None:
    import time

    case = case_with(fresh_ws, TOBACCO, Decision.REJECT, reason="距离学校不足五十米")
    fixed = dt.datetime(2026, 11, 24, 10, 0)
    fresh_ws.documents.now = lambda: fixed   # type: ignore[method-assign]

    def archived() -> bytes:
        doc = fresh_ws.documents.render_case_document(K.REJECTION, case.number,
                                                      clerk(fresh_ws), reprint=False)
        return fresh_ws.documents.archival(doc).pdf

    first = archived()
    start = int(time.time())
    while int(time.time()) == start:
        time.sleep(0.05)
    assert archived() == first   # reportlab's time-based /ID used to differ


# ---- 7. the rarer parties -------------------------------------------------------------

VILLAGE = "54330100MEA00001184200004001000"   # 社会救助申请代办: 东风村村民委员会


def test_a_village_committees_refusal_offers_no_administrative_review(
        fresh_ws: Workstation, tmp_path: Path) -> None:
    # A 村民委员会 is not an administrative organ: no 行政复议 or 行政诉讼 against it,
    # but the town government it answers to hears objections.
    case = case_with(fresh_ws, VILLAGE, Decision.REJECT, reason="申请人不是本村村民")
    text = squash(pdf_text(fresh_ws.documents.render_case_document(
        K.REJECTION, case.number, clerk(fresh_ws)).pdf, tmp_path))
    assert "如对本决定有异议，可以向示例县城关镇人民政府反映" in text
    assert "行政复议" not in text and "行政诉讼" not in text


def test_an_organisation_is_told_to_bring_its_licence_to_pickup(fresh_ws: Workstation,
                                                                tmp_path: Path) -> None:
    from app.domain.case import Applicant, ApplicantKind, IdType

    c = clerk(fresh_ws)
    shop = Applicant(ApplicantKind.ORGANISATION, "示例县好味道餐饮店", IdType.USCC,
                     "91330100MA2H0Q8X1G")
    case = fresh_ws.cases.open_case(FOOD, shop, c)
    fresh_ws.cases.record_materials(case.id, received(fresh_ws, FOOD), c)
    fresh_ws.cases.decide(case.id, Decision.ACCEPT, c)
    text = squash(pdf_text(fresh_ws.documents.render_case_document(
        K.ACCEPTANCE, case.number, c).pdf, tmp_path))
    assert "你单位于" in text
    assert "营业执照（或统一社会信用代码证明）副本及经办人身份证件" in text
    assert "申请人有效身份证件" not in text


def test_a_clock_set_back_takes_no_decision_and_no_document_number(
        fresh_ws: Workstation, monkeypatch: pytest.MonkeyPatch) -> None:
    case = case_with(fresh_ws, FOOD, m1=marked(fresh_ws, FOOD, "m1", MaterialStatus.RECEIVED))
    monkeypatch.setattr(fresh_ws.integrity, "clock_problem",
                        lambda _years: "本机时钟早于本终端最近的办件记录")
    with pytest.raises(CaseRuleError, match="本机时钟早于"):
        fresh_ws.cases.decide(case.id, Decision.ACCEPT, clerk(fresh_ws))
    monkeypatch.undo()
    decided = fresh_ws.cases.decide(case.id, Decision.ACCEPT, clerk(fresh_ws))
    assert docno(fresh_ws, decided.id) == "城关市监受〔2026〕第01-0001号"
