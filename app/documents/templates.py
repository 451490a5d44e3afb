"""The words of each A4 document, built from plain data: an item, a case, a stamp.

One function per form in ``domain.md``'s table. Each returns a :class:`FormDocument`;
:mod:`app.documents.a4` draws it. Wording follows the notices county halls hand out
(行政许可法 第三十二条 for 受理 / 补正 / 不予受理).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

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
from app.documents.masking import mask_id
from app.domain.case import (
    ApplicantKind,
    CaseState,
    CaseStatus,
    Decision,
    MaterialStatus,
)
from app.domain.catalogue import (
    Bundle,
    BundleMaterial,
    Material,
    ServiceItem,
)
from app.domain.pickup import Delivery, DeliveryMethod

APPLICANT_COPY = "第一联 申请人留存"
ARCHIVE_COPY = "第二联 窗口存档"


def cn_date(day: dt.date | dt.datetime | None) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if day else "____年__月__日"


def _you(case: CaseState) -> str:
    return "你单位" if case.applicant.kind is ApplicantKind.ORGANISATION else "你"


def _self(case: CaseState) -> str:
    return "本单位" if case.applicant.kind is ApplicantKind.ORGANISATION else "本人"


def local_time(utc: dt.datetime) -> dt.datetime:
    """A stored UTC time (naive, as the database keeps it) in this machine's time zone."""
    return utc.replace(tzinfo=dt.UTC).astimezone().replace(tzinfo=None)


def _opened(case: CaseState) -> dt.date:
    # Stored in UTC: at 07:00 in Beijing it is still yesterday in UTC.
    return local_time(case.opened_at).date()


def _material_terms(m: Material) -> str:
    marks = [str(m.source)]
    if m.deferrable:
        marks.append("可容缺")
    if m.commitment:
        marks.append("可告知承诺")
    text = "；".join(marks)
    if m.note:
        text += f"。{m.note}"
    if m.template:
        text += f"（窗口可领取：{m.template}）"
    return text


def _applicant_fields(case: CaseState, *, masked: bool = False) -> list[tuple[str, str]]:
    a = case.applicant
    pairs = [("申请人", a.name), (str(a.id_type), mask_id(a.id_number) if masked else a.id_number)]
    if a.legal_representative:
        pairs.append(("法定代表人", a.legal_representative))
    if a.phone:
        pairs.append(("联系电话", a.phone))
    if case.agent:
        g = case.agent
        pairs += [("代理人" + ("（代办员）" if g.village_agent else ""), g.name),
                  (f"代理人{g.id_type}", mask_id(g.id_number) if masked else g.id_number)]
    return pairs


def _case_fields(case: CaseState, item: ServiceItem) -> Fields:
    pairs = [("办件编号", case.number), ("收件日期", cn_date(_opened(case))),
             *_applicant_fields(case), ("事项名称", item.name),
             ("实施主体", item.department.name)]
    return Fields(tuple(pairs))


def _promised(case: CaseState, item: ServiceItem) -> str:
    if case.decision is Decision.ON_THE_SPOT:
        return "即办件，当场办结"
    text = cn_date(case.promised_date)
    if case.promised_estimated:
        text += "（该年度节假日安排未发布，按周一至周五预估，以窗口通知为准）"
    return text


def _received_table(case: CaseState, item: ServiceItem, *, taken_in: bool = False) -> Table:
    """The materials the window holds; with ``taken_in`` also those taken in but faulty
    (the 收件凭证 lists every paper the applicant handed over, with its state)."""
    shown = (MaterialStatus.RECEIVED, MaterialStatus.SHARED, MaterialStatus.COMMITMENT,
             *((MaterialStatus.FAULTY,) if taken_in else ()))
    sources = {m.id: str(m.source) for m in item.materials}
    rows: list[tuple[str, ...]] = []
    for m in case.materials:
        if m.status not in shown:
            continue
        form = m.form_received or ("电子" if m.status is MaterialStatus.SHARED else "")
        copies = str(m.copies_received) if m.copies_received else "—"
        state = f"有误：{m.fault}" if m.status is MaterialStatus.FAULTY else str(m.status)
        rows.append((str(len(rows) + 1), m.name, form or "—", copies,
                     sources.get(m.material_id, "—"), state))
    return Table((Column("序号", 0.7, True), Column("材料名称", 4.0), Column("形式", 1.2, True),
                  Column("份数", 0.7, True), Column("来源", 1.2, True),
                  Column("收取方式", 1.1, True)), tuple(rows),
                 empty_text="（未收取纸质材料）")


def _sentence(text: str) -> str:
    """Free text typed by a clerk, ended with a full stop if it has no closing mark."""
    text = text.strip()
    return text if not text or text[-1] in "。！？；.!?;）)" else text + "。"


def _notice(kind: DocumentKind, case: CaseState, stamp: Stamp, blocks: Sequence[Block],
            number_line: str, copies: tuple[str, ...] = ()) -> FormDocument:
    """A notice addressed to the applicant, carrying the case number as codes."""
    return FormDocument(kind, kind.display, stamp, tuple(blocks), number_line=number_line,
                        addressee=f"{case.applicant.name}：", case_number=case.number,
                        copies=copies)


def _seal(stamp: Stamp, *parties: str) -> Signatures:
    return Signatures(tuple(parties), issuer=stamp.site_name, date=stamp.issued.date())


# ---- 一次性告知单 (consultation) ----------------------------------------------------------


def checklist(item: ServiceItem, stamp: Stamp,
              scenario_ids: frozenset[str] = frozenset()) -> FormDocument:
    """The item's full material list, told once and in writing; no case needed."""
    facts = [("事项名称", item.name), ("事项编码", item.code),
             ("实施主体", item.department.name), ("事项类型", str(item.category)),
             ("办件类型", str(item.kind)), ("法定办结时限", str(item.legal_limit)),
             ("承诺办结时限", str(item.promised_limit)), ("收费", _fee(item)),
             ("办理地点", item.place or stamp.site_name), ("办理时间", item.hours or "工作日"),
             ("咨询电话", item.phone or "—"),
             ("到现场次数", f"{item.visits}次" + ("（可网上办理）" if item.online else ""))]
    chosen = [s.name for s in item.scenarios if s.id in scenario_ids]
    blocks: list[Fields | Heading | Text | Table | Signatures] = [Fields(tuple(facts))]
    if item.conditions:
        blocks += [Heading("一、受理条件"), Text(item.conditions)]
    blocks.append(Heading("二、申请材料" + (f"（办理情形：{'、'.join(chosen)}）" if chosen else "")))
    blocks.append(_checklist_table(item.checklist(scenario_ids)))
    others = [s for s in item.scenarios if s.id not in scenario_ids]
    if others:
        blocks.append(Text("以下情形另需材料，请如实告知窗口：" + "；".join(
            f"{s.name}（{'、'.join(_names(item, s.adds)) or '无增加'}）" for s in others),
            small=True))
    if item.basis:
        blocks += [Heading("三、设定依据"), Text(item.basis, small=True)]
    blocks.append(Text("以上为办理本事项所需的全部材料，本窗口一次性告知。申请材料齐全、符合法定形式的，"
                       "窗口当场受理；标注“可容缺”的材料缺失时可容缺受理，标注“可告知承诺”的材料"
                       "可以书面承诺替代。", emphasis=True))
    # The applicant's signature is the proof that the notice was given (首问负责).
    blocks.append(_seal(stamp, "申请人（签收）：", f"经办人：{stamp.clerk_name}"))
    return FormDocument(DocumentKind.CHECKLIST, "一次性告知单", stamp, tuple(blocks),
                        number_line=f"事项编码：{item.code}  版本：{item.version}")


def bundle_checklist(bundle: Bundle, items: dict[str, ServiceItem],
                     stamp: Stamp) -> FormDocument:
    """一件事一次办: every item's materials merged, each material asked for once."""
    merged = bundle.merged_materials(items)
    names = "、".join(items[c].name for c in bundle.item_codes)
    blocks: list[Fields | Heading | Text | Table | Signatures] = [
        Fields((("一件事", bundle.name), ("包含事项", names)), columns=1)]
    if bundle.description:
        blocks.append(Text(_sentence(bundle.description)))
    blocks += [Heading("合并材料清单（同一材料只需提交一次）"), _bundle_table(merged, items)]
    # 情形必要 materials are part of a complete notice too: each under its 情形.
    situations = [f"{items[c].name}·{sc.name}（{'、'.join(_names(items[c], sc.adds)) or '无增加'}）"
                  for c in bundle.item_codes for sc in items[c].scenarios]
    if situations:
        blocks.append(Text("以下情形另需材料，请如实告知窗口：" + "；".join(situations) + "。",
                           small=True))
    blocks.append(Text("以上为办理本“一件事”所需的全部材料，本窗口一次性告知，一次受理。",
                       emphasis=True))
    blocks.append(_seal(stamp, "申请人（签收）：", f"经办人：{stamp.clerk_name}"))
    return FormDocument(DocumentKind.CHECKLIST, "一次性告知单（一件事一次办）", stamp,
                        tuple(blocks), number_line=f"一件事编码：{bundle.code}")


def _fee(item: ServiceItem) -> str:
    return str(item.fee) + (f"（{item.fee.basis}）" if item.fee.basis else "")


def _names(item: ServiceItem, ids: tuple[str, ...]) -> list[str]:
    return [m.name for m in item.materials if m.id in ids]


def _checklist_table(materials: tuple[Material, ...]) -> Table:
    rows = tuple((str(n), m.name, str(m.form), str(m.copies), str(m.necessity),
                  _material_terms(m)) for n, m in enumerate(materials, 1))
    return Table((Column("序号", 0.7, True), Column("材料名称", 3.2), Column("形式", 1.1, True),
                  Column("份数", 0.7, True), Column("必要性", 0.9, True), Column("说明", 3.4)),
                 rows)


def _bundle_table(merged: tuple[BundleMaterial, ...], items: dict[str, ServiceItem]) -> Table:
    rows = tuple((str(n), bm.material.name, str(bm.material.form), str(bm.material.copies),
                  str(bm.material.necessity), _material_terms(bm.material),
                  "、".join(items[c].name for c in bm.item_codes))
                 for n, bm in enumerate(merged, 1))
    return Table((Column("序号", 0.7, True), Column("材料名称", 2.8), Column("形式", 1.1, True),
                  Column("份数", 0.7, True), Column("必要性", 0.9, True), Column("说明", 2.4),
                  Column("涉及事项", 2.0)), rows)


# ---- case documents --------------------------------------------------------------------


def receipt(case: CaseState, item: ServiceItem, stamp: Stamp) -> FormDocument:
    """收件凭证: the window has the materials listed; not yet a decision.

    The ID number is masked (the slip the applicant carries around may be lost); the
    time is that of the material record it states.
    """
    received = f"{cn_date(stamp.issued)} {stamp.issued:%H:%M}"
    blocks = (
        Fields((("办件编号", case.number), ("收件时间", received),
                *_applicant_fields(case, masked=True), ("事项名称", item.name),
                ("实施主体", item.department.name))),
        Heading("收取材料"),
        _received_table(case, item, taken_in=True),
        Text(f"以上材料已于{received}收取。本凭证仅证明窗口已收到上述材料，"
             "是否受理以窗口出具的书面决定为准。请妥善保管，凭办件编号查询办理进度。"),
        _seal(stamp, "申请人（签字）：", f"经办人：{stamp.clerk_name}"),
    )
    return FormDocument(DocumentKind.RECEIPT, "收件凭证", stamp, blocks,
                        number_line=f"办件编号：{case.number}", case_number=case.number)


def pickup(case: CaseState, item: ServiceItem, stamp: Stamp) -> FormDocument:
    """取件通知单 (A4): where and when to collect the result, and what to bring."""
    blocks = (
        Text(f"{_you(case)}申请的{item.name}" + ("已办结" if case.status in
             (CaseStatus.COMPLETED, CaseStatus.DELIVERED) else f"预计于{_promised(case, item)}前办结") +
             "，请按以下方式领取办理结果。"),
        Fields((("办件编号", case.number), ("申请人", case.applicant.name),
                ("事项名称", item.name), ("办理结果", item.result or "办理结果"),
                ("取件地点", item.place or stamp.site_name),
                ("取件时间", item.hours or "工作日办公时间")), columns=1),
        Heading("取件须知"),
        Text("1. 请携带本通知单及申请人有效身份证件原件。", indent=False),
        Text("2. 委托他人代领的，代领人须持申请人签署的授权委托书及代领人本人身份证件原件。",
             indent=False),
        Text("3. 也可申请邮寄送达，请向窗口登记收件地址。", indent=False),
        _seal(stamp, f"经办人：{stamp.clerk_name}"),
    )
    return _notice(DocumentKind.PICKUP, case, stamp, blocks, f"办件编号：{case.number}")


def _proxy_reason(proxy: Delivery, case: CaseState) -> str:
    """Why someone else took the result, as it was checked: the letter seen, or the
    agent who filed the case (whose 委托 is on file)."""
    if proxy.proxy_letter:
        return f"{proxy.recipient}（持申请人授权委托书代领）"
    return f"{proxy.recipient}（受托代理人代领，委托材料已在案）"


def service_receipt(case: CaseState, item: ServiceItem, stamp: Stamp, served: str,
                    issuer: str = "", delivery: Delivery | None = None) -> FormDocument:
    """送达回证: what was delivered (``served``: the result, or a 不予受理决定书 / 补正材料
    通知书 with its 文号) to whom; the recipient signs in the blank cells.

    After 出件 (``delivery``) the way it went and who took it are filled in as recorded;
    the signature stays a blank for the recipient's hand.
    """
    blank = "\n\n"
    nbsp = "\u00a0"
    ways = {DeliveryMethod.IN_PERSON: "直接送达", DeliveryMethod.PROXY: "委托送达",
            DeliveryMethod.MAIL: "邮寄送达"}
    chosen = ways.get(delivery.method) if delivery else None
    way = "  ".join(f"{w}  {'☑' if w == chosen else '□'}" for w in ways.values())
    proxy = delivery if delivery and delivery.method is DeliveryMethod.PROXY else None
    mail = delivery if delivery and delivery.method is DeliveryMethod.MAIL else None
    blocks = (
        Fields((("送达文书", served),
                ("办件编号", case.number),
                ("受送达人", case.applicant.name + (
                    f"（邮寄收件人：{mail.recipient}）" if mail and mail.recipient
                    and mail.recipient != case.applicant.name else "")),
                ("送达地点", mail.address or case.applicant.address if mail else
                 f"{stamp.site_name} {stamp.window}号窗口"),
                ("送达方式", way),
                ("收件人签名", blank + nbsp * 30 + "年" + nbsp * 6 + "月" + nbsp * 6 + "日"
                 + nbsp * 6 + "时"),
                ("代收人及代收理由", (_proxy_reason(proxy, case) if proxy else blank)),
                ("代收人与受送达人关系", proxy.relation or nbsp if proxy else nbsp),
                ("代收人证件号码", mask_id(proxy.id_number) if proxy else nbsp),
                ("送达人", f"{stamp.clerk_name}" + blank),
                ("备注", f"{mail.carrier} 运单号 {mail.tracking}" if mail else blank)),
               columns=1),
        Text("受送达人或代收人签收后，本回证由窗口存档。", small=True),
    )
    # A decision notice is served by the authority that issued it (``issuer``).
    return FormDocument(DocumentKind.SERVICE, "送达回证", stamp, blocks,
                        number_line=f"办件编号：{case.number}", case_number=case.number,
                        issuer=issuer, authority=issuer)
