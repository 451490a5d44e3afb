"""The decision notices: 受理 (and 即办), 容缺受理, 补正, 不予受理.

Each states a decision as the log froze it: the case, and the decision's
:class:`~app.domain.notice.NoticeFacts` (issuing authority, seal, legal basis, 文号,
补正期限, remedy). Wording follows the item's category: 《行政许可法》 only for 行政许可.
The deciding authority is always named — never an undefined "本机关" — and when the
window accepts on its behalf the notice says 受……委托.
"""

from __future__ import annotations

from app.documents.form import (
    Block,
    Column,
    DocumentKind,
    Fields,
    FormDocument,
    Heading,
    Signatures,
    Stamp,
    Table,
    Text,
)
from app.documents.templates import (
    APPLICANT_COPY,
    ARCHIVE_COPY,
    _fee,
    _material_terms,
    _opened,
    _promised,
    _received_table,
    _self,
    _sentence,
    _you,
    cn_date,
)
from app.domain.case import ApplicantKind, CaseState, Decision, MaterialState, MaterialStatus
from app.domain.catalogue import MaterialSource, Necessity, ServiceItem
from app.domain.notice import LICENSE_LAW, NoticeFacts, RejectionGround

_BLANK = "\u00a0\u00a0"


def _signer(case: CaseState, verb: str = "签收") -> str:
    """Who signs for the applicant: the agent when one filed the case."""
    if case.agent:
        return f"代理人（{verb}）："
    return f"申请人（{verb}）："


def _people(case: CaseState) -> list[tuple[str, str]]:
    pairs = [("申请人", case.applicant.name)]
    if case.agent:
        g = case.agent
        role = "代办员" if g.village_agent else (g.relation or "受托人")
        pairs.append(("代理人", f"{g.name}（{role}）"))
    return pairs


def _to(notice: NoticeFacts) -> str:
    """Whom the application was made to, as the opening sentence names it."""
    if notice.entrusted_site:
        return f"{notice.entrusted_site}（受{notice.authority}委托受理）"
    return notice.authority


def _signature(case: CaseState, stamp: Stamp, notice: NoticeFacts, *parties: str
               ) -> Signatures:
    return Signatures(tuple(parties) or (_signer(case), f"经办人：{stamp.clerk_name}"),
                      issuer=notice.issuer, date=stamp.issued.date(),
                      on_behalf=notice.on_behalf)


def _decision_notice(kind: DocumentKind, case: CaseState, stamp: Stamp, notice: NoticeFacts,
                     blocks: list[Block], copies: tuple[str, ...] = ()) -> FormDocument:
    number = notice.document_number or f"办件编号：{case.number}"
    return FormDocument(kind, kind.display, stamp, tuple(blocks), number_line=number,
                        addressee=f"{case.applicant.name}：", case_number=case.number,
                        copies=copies, issuer=notice.authority, authority=notice.authority)


def _cited(notice: NoticeFacts) -> str:
    """"根据…的规定" for a law's article, "依据…" for an item's own basis."""
    if notice.basis.startswith(LICENSE_LAW):
        return f"根据{notice.basis}的规定"
    return f"依据{notice.basis}"


def _special(item: ServiceItem, notice: NoticeFacts) -> list[Block]:
    procedures = notice.special_procedures
    if not procedures:
        return []
    law = f"（{LICENSE_LAW}第四十五条）" if notice.license else ""
    return [Text(f"本事项办理中需要{procedures}的，所需时间不计算在承诺办结时限内{law}；"
                 f"需要时{item.department.name}将书面告知所需时间。")]


# ---- 受理通知书 ---------------------------------------------------------------------------


def acceptance(case: CaseState, item: ServiceItem, stamp: Stamp,
               notice: NoticeFacts) -> FormDocument:
    """受理通知书 (also for 即办): accepted, the promised date, how to pick up."""
    you = _you(case)
    form = "符合法定形式" if notice.license else "符合规定要求"
    facts = Fields((("办件编号", case.number), ("受理日期", cn_date(case.accepted_on)),
                    *_people(case), ("事项名称", item.name), ("实施主体", notice.authority),
                    ("办件类型", str(item.kind)), ("承诺办结时限", str(item.promised_limit)),
                    ("承诺办结日期", _promised(case, item)), ("收费", _fee(item))))
    blocks: list[Block] = [
        Text(f"{you}于{cn_date(_opened(case))}向{_to(notice)}提出的{item.name}申请，经审查，"
             f"申请材料齐全、{form}，{_cited(notice)}，决定予以受理。"),
        facts,
        *_special(item, notice),
        Heading("已收取材料"),
        _received_table(case, item),
        Heading("查询与取件"),
        Text(_pickup_sentence(case, item, stamp)),
        _signature(case, stamp, notice),
    ]
    return _decision_notice(DocumentKind.ACCEPTANCE, case, stamp, notice, blocks)


def _pickup_sentence(case: CaseState, item: ServiceItem, stamp: Stamp) -> str:
    result = item.result or "办理结果"
    if case.decision is Decision.ON_THE_SPOT:
        return (f"本事项为即办件，已当场办结，请当场领取{result}并核对。如需查询，凭办件编号"
                f"（本通知书右上角条码）到{stamp.site_name}窗口或拨打咨询电话"
                f"{item.phone or '（见窗口公示）'}。")
    return (f"凭办件编号（本通知书右上角条码）到{stamp.site_name}窗口或拨打咨询电话"
            f"{item.phone or '（见窗口公示）'}查询办理进度。办结后请凭本通知书及{_papers(case)}"
            f"到{item.place or stamp.site_name}领取{result}；"
            "委托他人代领的，代领人须持授权委托书及本人身份证件。")


def _papers(case: CaseState) -> str:
    """What proves the applicant at pickup: a person's ID, an organisation's licence."""
    if case.applicant.kind is ApplicantKind.ORGANISATION:
        return "营业执照（或统一社会信用代码证明）副本及经办人身份证件"
    return "申请人有效身份证件"


# ---- 容缺受理通知书 -----------------------------------------------------------------------


def deferred(case: CaseState, item: ServiceItem, stamp: Stamp,
             notice: NoticeFacts) -> FormDocument:
    """容缺受理通知书: accepted with materials to follow by a date; two copies.

    The promised period runs from the latest 补交期限 (app.domain.case.clock_start), so
    the promised date is never earlier than a deadline on the same page; the page says so.
    A consequence of missing the deadline is printed only as the item configures it.
    """
    you = _you(case)
    later = [m for m in case.materials if m.status is MaterialStatus.DEFERRED]
    rows = tuple((str(n), m.name, _required_form(item, m), cn_date(m.deferred_until))
                 for n, m in enumerate(later, 1))
    blocks: list[Block] = [
        Text(f"{you}于{cn_date(_opened(case))}向{_to(notice)}提出的{item.name}申请，主要申请"
             f"材料齐全，次要材料暂缺，符合容缺受理条件，{_cited(notice)}，决定予以容缺受理。"),
        Fields((("办件编号", case.number), ("受理日期", cn_date(case.accepted_on)),
                *_people(case), ("事项名称", item.name),
                ("承诺办结日期", _promised(case, item)))),
        Heading("容缺材料及补交期限"),
        Table((Column("序号", 0.7, True), Column("材料名称", 4.0),
               Column("要求", 1.6, True), Column("补交期限", 1.6, True)), rows),
        Text(f"承诺办结时限（{item.promised_limit}）自最迟补交期限起计算，承诺办结日期不早于"
             "任何一项补交期限。" if item.promised_limit.value else
             "本事项在容缺材料补齐后当场办结，承诺办结日期不早于任何一项补交期限。"),
        *_special(item, notice),
        Text("请在补交期限内将上述材料送交本窗口。"
             + (_sentence(notice.deferral_consequence) if notice.deferral_consequence else ""),
             emphasis=True),
        Text(f"申请人承诺：{_self(case)}已知悉上述容缺材料及补交期限，承诺按期补交，所提交材料"
             "真实有效，如违反承诺愿承担相应法律责任。"),
        _signature(case, stamp, notice,
                   "代理人（代申请人签字）：" if case.agent else "申请人（签字）：",
                   f"经办人：{stamp.clerk_name}"),
    ]
    return _decision_notice(DocumentKind.DEFERRED, case, stamp, notice, blocks,
                            copies=(APPLICANT_COPY, ARCHIVE_COPY))


def _required_form(item: ServiceItem, m: MaterialState) -> str:
    try:
        spec = item.material(m.material_id)
    except KeyError:
        return "—"
    return f"{spec.form}{spec.copies}份"


# ---- 补正材料通知书 -----------------------------------------------------------------------


def correction(case: CaseState, item: ServiceItem, stamp: Stamp,
               notice: NoticeFacts) -> FormDocument:
    """补正材料通知书 (一次性告知): every missing or faulty material at once, the 补正期限
    and what follows if it passes."""
    you = _you(case)
    rows: list[tuple[str, ...]] = []
    by_id = {m.material_id: m for m in case.materials}
    for spec in item.checklist(frozenset(case.scenarios)):
        state = by_id.get(spec.id)
        # The same rule as the decision (acceptance.check_decision): only a required
        # material missing or faulty blocks acceptance; a 非必要 one is never asked for.
        # A 共享获取 material comes from another department's system: never the
        # applicant's to bring.
        if spec.source is MaterialSource.SHARED:
            continue
        if spec.necessity is not Necessity.OPTIONAL and (
                state is None or state.status in (MaterialStatus.MISSING,
                                                  MaterialStatus.FAULTY)):
            problem = (f"有误：{state.fault}" if state and state.status is MaterialStatus.FAULTY
                       else "未提交")
            rows.append((str(len(rows) + 1), spec.name, problem,
                         f"{spec.form}{spec.copies}份", _material_terms(spec)))
    form = "不符合法定形式" if notice.license else "不符合规定要求"
    when = (f"请于{cn_date(notice.correct_by)}前（自本通知书出具之日起{notice.correction_limit}内）"
            if notice.correct_by else "请")
    blocks: list[Block] = [
        Text(f"{you}于{cn_date(_opened(case))}向{_to(notice)}提出的{item.name}申请，申请材料"
             f"不齐全或者{form}。{_cited(notice)}，现一次性告知{you}需要补正的全部内容如下："),
        Fields((("办件编号", case.number), *_people(case), ("事项名称", item.name),
                ("补正期限", cn_date(notice.correct_by) if notice.correct_by else "—"))),
        Table((Column("序号", 0.7, True), Column("材料名称", 2.8), Column("问题", 2.0),
               Column("要求", 1.2, True), Column("获取途径及说明", 3.2)), tuple(rows)),
        # The clerk's note explains the list; it comes before the closing promise, which
        # it can never widen.
        *([Text(f"补充说明（不增加上述材料以外的要求）：{_sentence(case.decision_reason)}")]
          if case.decision_reason else []),
        Text(f"{when}按上述要求补正，持本通知书到{stamp.site_name}窗口提交。补正材料齐全、"
             f"{form.removeprefix('不')}的，予以受理；逾期未补正的，视为{you}放弃本次申请，"
             f"{you}可以重新提出申请。除上述材料外，不再要求{you}补正其他材料。", emphasis=True),
        _signature(case, stamp, notice),
    ]
    return _decision_notice(DocumentKind.CORRECTION, case, stamp, notice, blocks)


# ---- 不予受理决定书 -----------------------------------------------------------------------


def rejection(case: CaseState, item: ServiceItem, stamp: Stamp,
              notice: NoticeFacts) -> FormDocument:
    """不予受理决定书: the reason, its legal basis, who is competent if not the deciding
    authority, and the remedy naming the 复议机关 and the court with their periods."""
    you = _you(case)
    reason = _sentence(case.decision_reason) if case.decision_reason else ""
    ground = notice.ground
    blocks: list[Block] = [
        Text(f"{you}于{cn_date(_opened(case))}向{_to(notice)}提出的{item.name}申请，经审查，"
             f"{reason}{_cited(notice)}，{notice.authority}决定不予受理。"),
        Fields((("办件编号", case.number), *_people(case), ("事项名称", item.name),
                ("不予受理理由", case.decision_reason or "—"),
                ("法律依据", notice.basis or "—")), columns=1),
    ]
    if ground == str(RejectionGround.NOT_COMPETENT) and case.competent_authority:
        blocks.append(Text(f"该申请事项依法不属于{notice.authority}的职权范围，请向"
                           f"{case.competent_authority}申请。", emphasis=True))
    elif ground == str(RejectionGround.NOT_REQUIRED):
        needed = "取得行政许可" if notice.license else f"办理{item.name}"
        blocks.append(Text(f"所申请的事项依法不需要{needed}。", emphasis=True))
    blocks += [
        Text(_remedy(notice)),
        # Blanks to write in: no-break spaces, which a paragraph does not collapse.
        _signature(case, stamp, notice, _signer(case),
                   f"签收日期：{_BLANK * 6}年{_BLANK * 4}月{_BLANK * 4}日",
                   f"经办人：{stamp.clerk_name}"),
    ]
    return _decision_notice(DocumentKind.REJECTION, case, stamp, notice, blocks)


def _remedy(notice: NoticeFacts) -> str:
    """Where to turn against the refusal, with its bodies and periods."""
    if not notice.administrative:
        # A 村民委员会 is no administrative organ: no 行政复议, but a body to object to.
        return f"如对本决定有异议，可以向{notice.review}反映，由其依法处理。"
    if not (notice.review and notice.court):
        # A decision taken before the site named them (an older case reprinted): the
        # remedy as it was printed then, without inventing the bodies.
        return ("如不服本决定，可以自收到本决定书之日起六十日内依法申请行政复议，或者自收到"
                "本决定书之日起六个月内依法向人民法院提起行政诉讼。")
    # 行政复议法 第二十条 (sixty days), 行政诉讼法 第四十六条 (six months).
    return (f"如不服本决定，可以自收到本决定书之日起六十日内向{notice.review}申请行政复议，"
            f"或者自收到本决定书之日起六个月内向{notice.court}提起行政诉讼。")


def served_document(case: CaseState, item: ServiceItem, notice: NoticeFacts | None) -> str:
    """What a 送达回证 of the case records as delivered: the decision notice for a 不予受理
    or a 补正 (with its 文号), otherwise the result of the item."""
    number = f"（{notice.document_number}）" if notice and notice.document_number else ""
    if case.decision is Decision.REJECT:
        return f"{DocumentKind.REJECTION.display}{number}"
    if case.decision is Decision.CORRECTION:
        return f"{DocumentKind.CORRECTION.display}{number}"
    return f"{item.result or '办理结果'}（{item.name}）"
