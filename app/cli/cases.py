"""``yichuang case …``: the acceptance work of the window, for scripts and for a window
without a screen — open a case, record its materials, decide, come back with more.

Materials are given by id as ``ID=STATE[:DETAIL]``; ``catalog show ITEM`` lists the ids.
STATE is the window's word or its short form: 收 (已收取; DETAIL a form such as 复印件),
缺 (缺失), 误 (有误; DETAIL what is wrong), 容缺 (DETAIL the 补交 date YYYY-MM-DD),
承诺 (告知承诺), 共享 (共享获取). ``--received-all`` marks every material not named as
received in the form and number the checklist asks for.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import TYPE_CHECKING, Any

from app.cli.common import Parser, UsageError, emit, operator, operator_clerk
from app.domain.case import (
    Agent,
    Applicant,
    ApplicantKind,
    CaseState,
    IdType,
    MaterialStatus,
)

if TYPE_CHECKING:
    from app.workstation import Workstation

def _applicant(args: argparse.Namespace) -> Applicant:
    kind = ApplicantKind.ORGANISATION if args.org else ApplicantKind.PERSON
    default = IdType.USCC if args.org else IdType.RESIDENT_ID
    try:
        id_type = IdType(args.id_type) if args.id_type else default
    except ValueError:
        raise UsageError(f"证件类型“{args.id_type}”无法识别，可用：" + "、".join(IdType)) from None
    return Applicant(kind, args.name, id_type, args.id, args.phone or "", args.address or "",
                     args.legal_rep or "")


def _agent(args: argparse.Namespace) -> Agent | None:
    if not args.agent_name and not args.agent_id:
        return None
    if not (args.agent_name and args.agent_id):
        raise UsageError("代理人须同时给出 --agent-name 和 --agent-id")
    try:
        id_type = IdType(args.agent_id_type) if args.agent_id_type else IdType.RESIDENT_ID
    except ValueError:
        raise UsageError(f"证件类型“{args.agent_id_type}”无法识别") from None
    return Agent(args.agent_name, id_type, args.agent_id, args.agent_phone or "",
                 args.agent_relation or "", args.village_agent)


def _outcome(ws: Workstation, case: CaseState) -> dict[str, Any]:
    facts = ws.cases.document_facts(case.id) if case.decision else None
    notice = facts.notice if facts else None
    return {"id": case.id, "number": case.number, "status": case.status,
            "item_code": case.item_code, "item_name": case.item_name,
            "applicant": case.applicant.name, "decision": case.decision or "",
            "reason": case.decision_reason, "accepted_on": case.accepted_on,
            "promised_date": case.promised_date, "promised_estimated": case.promised_estimated,
            "document_number": notice.document_number if notice else "",
            "correct_by": notice.correct_by if notice else None,
            "materials": [{"id": m.material_id, "name": m.name, "status": m.status,
                           "form": m.form_received, "copies": m.copies_received,
                           "fault": m.fault, "deferred_until": m.deferred_until}
                          for m in case.materials]}


def _summary_line(data: dict[str, Any]) -> str:
    text = f"办件 {data['number']}（{data['item_name']}，{data['applicant']}）：{data['status']}"
    if data["promised_date"]:
        text += f"，承诺办结日期 {data['promised_date']}"
        if data["promised_estimated"]:
            text += "（按周一至周五预估）"
    if data["correct_by"]:
        text += f"，补正期限 {data['correct_by']}"
    if data["document_number"]:
        text += f"，文号 {data['document_number']}"
    return text


def _decide(ws: Workstation, case: CaseState, args: argparse.Namespace, clerk: Any) -> CaseState:
    from app.services.intake import decision_of

    decision = decision_of(args.decide)
    if decision is None:
        if args.reason or args.competent:
            raise UsageError("--reason、--competent 须与 --decide 一起使用")
        return case
    return ws.cases.decide(case.id, decision, clerk, reason=args.reason or "",
                           competent_authority=args.competent or "")


def cmd_case_new(ws: Workstation, args: argparse.Namespace) -> None:
    from app.services.catalogue import NotFound
    from app.services.permissions import Action

    try:
        item = ws.catalogue.item(args.item)
    except NotFound as exc:
        try:   # a 一件事 code: one case per item
            bundle = ws.catalogue.bundle(args.item)
        except NotFound:
            raise UsageError(str(exc)) from None
        from app.cli.case_bundle import new_bundle_cases

        new_bundle_cases(ws, args, bundle)
        return
    scenarios = frozenset(args.scenario)
    unknown = scenarios - {s.id for s in item.scenarios}
    if unknown:
        raise UsageError(f"事项“{item.name}”没有办理情形“{'、'.join(sorted(unknown))}”，可用："
                         + "、".join(f"{s.id} {s.name}" for s in item.scenarios))
    from app.errors import UserError
    from app.services.intake import (
        credit_precheck,
        decision_of,
        left_behind,
        material_states,
        precheck,
    )

    decision = decision_of(args.decide)   # a typo is found before the password prompt
    states = material_states(item, scenarios, args.material, args.received_all)
    applicant, agent = _applicant(args), _agent(args)
    precheck(item, scenarios, states, decision, args.reason or "", ws.cases,
             args.competent or "")
    clerk = operator_clerk(ws, args, Action.WRITE_CASES)
    # After the login: whether someone is on the 失信名单 is for operators only.
    credit_precheck(ws.credit, applicant, decision, states)
    case = ws.cases.open_case(item.code, applicant, clerk, agent=agent)
    try:
        if states or scenarios:
            case = ws.cases.record_materials(case.id, states, clerk, scenario_ids=scenarios)
        case = _decide(ws, case, args, clerk)
    except UserError as exc:
        raise left_behind([case.number], exc) from exc
    data = _outcome(ws, case)
    emit(args, data, _summary_line(data))


def cmd_case_supplement(ws: Workstation, args: argparse.Namespace) -> None:
    """A return visit (补正, 容缺): the materials brought now, then a decision."""
    from app.domain.case import deferred_outstanding
    from app.services.intake import material_states
    from app.services.permissions import Action

    clerk = operator_clerk(ws, args, Action.WRITE_CASES)
    case = ws.documents.verified_case(args.number)
    item = ws.catalogue.item_version(case.item_code, case.item_version)
    if deferred_outstanding(case):
        _supply_deferred(ws, case, item, args, clerk)
        return
    states = material_states(item, frozenset(case.scenarios), args.material, args.received_all,
                        case.materials)
    if args.material or args.received_all:
        case = ws.cases.record_materials(case.id, states, clerk)
    case = _decide(ws, case, args, clerk)
    data = _outcome(ws, case)
    emit(args, data, _summary_line(data))


def _supply_deferred(ws: Workstation, case: CaseState, item: Any, args: argparse.Namespace,
                     clerk: Any) -> None:
    """容缺补交: the deferred materials brought now (``--received-all``: every one)."""
    from app.domain.material_marks import received_by_default
    from app.services.deferred_supply import supply_deferred
    from app.services.intake import material_states

    if args.decide or args.reason or args.competent:
        raise UsageError(f"办件 {case.number} 已容缺受理，补交材料时不再作受理决定，"
                         "请去掉 --decide、--reason、--competent")
    if not (args.material or args.received_all):
        raise UsageError("请用 --material 编号=收 写明补交的材料，或用 --received-all 表示全部补齐")
    states = material_states(item, frozenset(case.scenarios), args.material, False,
                             case.materials)
    if args.received_all:
        specs = {m.id: m for m in item.checklist(frozenset(case.scenarios))}
        states = [received_by_default(specs[s.material_id])
                  if s.status is MaterialStatus.DEFERRED and s.material_id in specs else s
                  for s in states]
    data = _outcome(ws, supply_deferred(ws.cases, ws.catalogue, case.id, states, clerk))
    emit(args, data, _summary_line(data))


def cmd_case_complete(ws: Workstation, args: argparse.Namespace) -> None:
    """办结 recorded at the window: the result has arrived and waits for pickup."""
    from app.services.permissions import Action

    clerk = operator_clerk(ws, args, Action.WRITE_CASES)
    case = ws.documents.verified_case(args.number)
    data = _outcome(ws, ws.pickup.complete(case.id, clerk))
    emit(args, data, _summary_line(data))


def _delivery(args: argparse.Namespace) -> Any:
    from app.domain.pickup import Delivery, DeliveryMethod

    chosen = [m for m, on in ((DeliveryMethod.IN_PERSON, args.in_person),
                              (DeliveryMethod.PROXY, args.proxy is not None),
                              (DeliveryMethod.MAIL, args.mail)) if on]
    if len(chosen) != 1:
        raise UsageError("请选择一种出件方式：--in-person（本人领取）、--proxy 姓名（代领）或 "
                         "--mail（邮寄送达）")
    method = chosen[0]
    if method is DeliveryMethod.IN_PERSON:
        return Delivery(method, "", id_number=args.id or "")
    if method is DeliveryMethod.PROXY:
        try:
            id_type = IdType(args.id_type) if args.id_type else IdType.RESIDENT_ID
        except ValueError:
            raise UsageError(f"证件类型“{args.id_type}”无法识别，可用：" + "、".join(IdType)) from None
        return Delivery(method, args.proxy, id_type=id_type, id_number=args.id or "",
                        proxy_letter=args.letter, relation=args.relation or "")
    if args.id_type:
        raise UsageError("--id-type 只用于代领人的证件；本人领取按办件登记的证件核对")
    return Delivery(method, args.recipient or "", carrier=args.carrier or "",
                    tracking=args.tracking or "", address=args.address or "")


def cmd_case_deliver(ws: Workstation, args: argparse.Namespace) -> None:
    """出件 by barcode or number: who took it is checked against the case."""
    from app.services.permissions import Action

    delivery = _delivery(args)
    clerk = operator_clerk(ws, args, Action.WRITE_CASES)
    case = ws.documents.verified_case(args.number)
    data = _outcome(ws, ws.pickup.deliver(case.id, delivery, clerk))
    recorded = ws.pickup.delivery_facts(case.id)
    data["delivery"] = recorded.delivery.to_json() if recorded else delivery.to_json()
    emit(args, data, lambda: _summary_line(data) + f"（{delivery.method}）；可打印送达回证："
         f"yichuang print service {data['number']}")


def cmd_case_import(ws: Workstation, args: argparse.Namespace) -> None:
    """A batch collected offline (村代办员): each application on its own, each failure
    named; the exit status is 2 if any failed (those changed nothing)."""
    from pathlib import Path

    from app.services.intake import read_batch, run_batch
    from app.services.permissions import Action

    doc = read_batch(Path(args.file))   # a bad file is named before the password prompt
    clerk = operator_clerk(ws, args, Action.WRITE_CASES)
    report = run_batch(ws, doc, clerk)
    ok = [o for o in report.outcomes if o.ok]
    emit(args, report, lambda: "\n".join(
        [f"共 {len(report.outcomes)} 件，收件 {len(ok)} 件，未收件 {report.failed} 件"]
        + [f"  {o.message}：{'、'.join(o.case_numbers)}" for o in ok]))
    for o in report.outcomes:
        if not o.ok:
            print(f"yichuang: {o.message}", file=sys.stderr)
    if report.failed:
        raise SystemExit(2)


def cmd_case_show(ws: Workstation, args: argparse.Namespace) -> None:
    operator(ws, args)   # applicants' data is for operators only
    case = ws.documents.verified_case(args.number)
    data = _outcome(ws, case)
    data["documents"] = [{"kind": d.kind, "outcome": d.outcome, "reprint": d.reprint,
                          "printed_at": d.printed_at} for d in ws.documents.history(case.id)]
    credit = ws.cases.credit_facts(case.id)
    data["credit"] = credit.to_json() if credit else None
    # Scanned pages per material: how many, and their hashes (what sync will verify).
    data["pages"] = {mid: [p.sha256 for p in pages] for mid, pages in case.pages}
    names = ws.scans.material_names(case) if case.pages else {}

    def text() -> str:
        lines = [_summary_line(data)]
        lines += [f"  {m['id']} {m['name']}：{m['status']}"
                  + (f"（{m['fault']}）" if m["fault"] else "")
                  + (f"（{m['deferred_until']} 前补交）" if m["deferred_until"] else "")
                  + (f"，扫描件{len(data['pages'][m['id']])}页" if m["id"] in data["pages"]
                     else "")
                  for m in data["materials"]]
        marked = {m["id"] for m in data["materials"]}
        lines += [f"  {mid} {names.get(mid, mid)}：未核验，扫描件{len(shas)}页"
                  for mid, shas in data["pages"].items() if mid not in marked]
        if data["reason"]:
            lines.append(f"  理由或说明：{data['reason']}")
        if credit is not None:
            lines.append(f"  {credit.summary()}")
        lines += [f"  已打印：{d['kind']} {d['outcome']}{'（补打）' if d['reprint'] else ''} "
                  f"{d['printed_at']}" for d in data["documents"]]
        return "\n".join(lines)

    emit(args, data, text)


def cmd_case_list(ws: Workstation, args: argparse.Namespace) -> None:
    from app.domain.case import CaseStatus
    from app.services.case_list import CaseQuery

    try:
        statuses = tuple(CaseStatus(s) for s in args.status)
    except ValueError:
        raise UsageError("--status 可用：" + "、".join(CaseStatus)) from None
    opened_on = dt.date.today() if args.today else None
    operator(ws, args)
    rows = ws.case_list.find(CaseQuery(statuses, args.item or "", args.applicant or "",
                                       opened_on, args.flagged, args.limit))

    def text() -> str:
        if not rows:
            return "没有符合条件的办件"
        return "\n".join(
            f"{r.number}  {r.status:<5} {r.item_name}  {r.applicant_name}"
            + (f"  承诺 {r.promised_date}" if r.promised_date else "")
            + (f"  【{r.flag}，剩 {r.workdays_left} 个工作日】" if r.flag else "")
            for r in rows)

    emit(args, rows, text)


def register(sub: Any, common: Parser, operator_opts: Parser) -> None:
    case = sub.add_parser("case", parents=[common], help="办件：收件、受理、补正、查询（须 --user）",
                          description=__doc__).add_subparsers(
        dest="sub", metavar="操作", required=True, parser_class=Parser)
    decide_opts = Parser(add_help=False)
    decide_opts.add_argument("--material", action="append", default=[], metavar="ID=STATE",
                             help="材料及其状态，如 m1=收、m2=缺、m3=误:未签字、m4=容缺:2026-12-05")
    decide_opts.add_argument("--received-all", action="store_true",
                             help="未列出的材料均按清单要求收取")
    decide_opts.add_argument("--decide", metavar="DECISION",
                             help="受理、容缺受理、补正、不予受理、即办（或 accept、defer、correct、"
                             "reject、done）")
    decide_opts.add_argument("--reason", help="不予受理的理由，或补正的补充说明（最多500字）")
    decide_opts.add_argument("--competent", metavar="AUTHORITY",
                             help="不予受理且不属于本机关职权时，应向哪个机关申请")

    p = case.add_parser("new", parents=[common, operator_opts, decide_opts],
                        help="新办件：收件、材料、决定")
    p.add_argument("item", metavar="ITEM", help="事项编码，或一件事编码（材料按合并清单序号标注）")
    p.add_argument("--name", required=True, help="申请人姓名或单位名称")
    p.add_argument("--id", required=True, help="证件号码（单位为统一社会信用代码）")
    p.add_argument("--id-type", help="证件类型，默认居民身份证（单位为统一社会信用代码）")
    p.add_argument("--org", action="store_true", help="申请人为法人或其他组织")
    p.add_argument("--phone")
    p.add_argument("--address")
    p.add_argument("--legal-rep", help="法定代表人（单位）")
    p.add_argument("--agent-name", help="代理人姓名")
    p.add_argument("--agent-id", help="代理人证件号码")
    p.add_argument("--agent-id-type")
    p.add_argument("--agent-phone")
    p.add_argument("--agent-relation", help="代理人与申请人关系")
    p.add_argument("--village-agent", action="store_true", help="代理人为村代办员")
    p.add_argument("--scenario", action="append", default=[], metavar="ID",
                   help="办理情形编号（catalog show 列出），可多次给出")
    p.set_defaults(fn=cmd_case_new, writes=True)

    p = case.add_parser("supplement", parents=[common, operator_opts, decide_opts],
                        help="补正或容缺补交：记录带来的材料并重新决定")
    p.add_argument("number", metavar="NO", help="办件编号")
    p.set_defaults(fn=cmd_case_supplement, writes=True)

    p = case.add_parser("complete", parents=[common, operator_opts],
                        help="办结：办理结果已送到窗口，等待领取")
    p.add_argument("number", metavar="NO", help="办件编号")
    p.set_defaults(fn=cmd_case_complete, writes=True)

    p = case.add_parser("deliver", parents=[common, operator_opts],
                        help="出件：本人领取、代领或邮寄送达")
    p.add_argument("number", metavar="NO", help="办件编号（可扫描取件通知单条码）")
    p.add_argument("--in-person", action="store_true", help="申请人本人领取（须 --id 核对证件）")
    p.add_argument("--proxy", metavar="NAME", help="代领人姓名（须 --id 和 --letter）")
    p.add_argument("--id", help="领取人证件号码")
    p.add_argument("--id-type", help="代领人证件类型，默认居民身份证（如 护照）")
    p.add_argument("--letter", action="store_true", help="已查验申请人签署的授权委托书")
    p.add_argument("--relation", help="代领人与申请人关系")
    p.add_argument("--mail", action="store_true", help="邮寄送达（须 --carrier 和 --tracking）")
    p.add_argument("--carrier", help="快递公司")
    p.add_argument("--tracking", help="运单号")
    p.add_argument("--recipient", help="邮寄收件人（默认申请人）")
    p.add_argument("--address", help="收件地址（默认申请人登记的地址）")
    p.set_defaults(fn=cmd_case_deliver, writes=True)

    p = case.add_parser("import", parents=[common, operator_opts],
                        help="导入村代办员离线收集的申请（每件单独成败，逐件说明）")
    p.add_argument("file", metavar="FILE", help="申请批量文件（JSON，格式见 docs/operations.md）")
    p.set_defaults(fn=cmd_case_import, writes=True)

    p = case.add_parser("show", parents=[common, operator_opts], help="显示办件")
    p.add_argument("number", metavar="NO", help="办件编号")
    p.set_defaults(fn=cmd_case_show)

    p = case.add_parser("list", parents=[common, operator_opts], help="列出办件")
    p.add_argument("--status", action="append", default=[], help="办件状态，可多次给出")
    p.add_argument("--flagged", action="store_true", help="只列电子监察黄牌、红牌的办件")
    p.add_argument("--today", action="store_true", help="只列今天收件的")
    p.add_argument("--item", help="事项编码")
    p.add_argument("--applicant", help="申请人姓名的一部分，或完整证件号码")
    p.add_argument("--limit", type=int, default=200)
    p.set_defaults(fn=cmd_case_list)
