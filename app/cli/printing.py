"""``yichuang print …``: documents, sent where the window would send them."""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.cli.common import Parser, UsageError, emit, jsonable, operator_clerk
from app.documents.form import DocumentKind

if TYPE_CHECKING:
    from app.workstation import Workstation


def print_target(args: argparse.Namespace) -> Any:
    from app.documents.targets import PrintTarget

    chosen = [t for t in (("pdf", args.pdf), ("system", args.printer), ("escpos", args.escpos))
              if t[1] is not None]
    if len(chosen) > 1:
        raise UsageError("--pdf、--printer、--escpos 只能选一个")
    if not chosen:
        return None
    try:
        return PrintTarget.parse(f"{chosen[0][0]}:{chosen[0][1]}")
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def checked_scenarios(ws: Workstation, args: argparse.Namespace, kind: DocumentKind) -> frozenset[str]:
    """The --scenario ids, checked against the item: a 情形's name is not its id."""
    given = [s.strip() for s in args.scenario]
    if not given:
        return frozenset()
    if kind is not DocumentKind.CHECKLIST:
        raise UsageError("--scenario 只用于 checklist（一次性告知单）")
    from app.services.catalogue import NotFound

    try:
        item = ws.catalogue.item(args.ref)
    except NotFound:
        try:
            ws.catalogue.bundle(args.ref)
        except NotFound:
            return frozenset(given)   # the document service says the code is unknown
        raise UsageError(f"“{args.ref.strip()}”是一件事，不区分办理情形：请去掉 --scenario，"
                         "或对其中的单个事项打印告知单") from None
    ids = {s.id for s in item.scenarios}
    for value in given:
        if value in ids:
            continue
        named = next((s for s in item.scenarios if s.name == value), None)
        if named is not None:
            raise UsageError(f"“{value}”是情形名称，请用编号 {named.id}（--scenario {named.id}）")
        if not item.scenarios:
            raise UsageError(f"事项“{item.name}”不区分办理情形，请去掉 --scenario “{value}”")
        choices = "、".join(f"{s.id}（{s.name}）" for s in item.scenarios)
        raise UsageError(f"事项“{item.name}”没有办理情形“{value}”，可选编号：{choices}")
    return frozenset(given)


def cmd_print(ws: Workstation, args: argparse.Namespace) -> None:
    from app.documents.slips import TicketInfo
    from app.services.permissions import Action
    from app.storage.files import check_output_path

    kind = DocumentKind(args.kind)
    target = print_target(args)
    # Arguments first: a wrong path or 情形 should not cost a login.
    if target is not None and target.scheme == "pdf":
        check_output_path(Path(target.address), ws.settings.data_dir, force=args.force)
    scenarios = checked_scenarios(ws, args, kind)
    if kind is DocumentKind.TICKET:
        if args.ahead < 0:
            raise UsageError("--ahead 不能为负数")
        if not re.fullmatch(r"[A-Za-z]{0,2}\d{1,4}", args.ref.strip()):
            raise UsageError(f"票号“{args.ref}”无效，应为字母加数字，如 A012")
    clerk = operator_clerk(ws, args, Action.PRINT_CASE_DOCUMENTS)
    # A DocumentError is a UserError (exit 2); a DocumentIntegrityError an IntegrityProblem.
    if kind is DocumentKind.CHECKLIST:
        doc = ws.documents.render_checklist(args.ref, clerk, scenarios)
    elif kind is DocumentKind.TICKET:
        doc = ws.documents.render_ticket(TicketInfo(
            args.ref.strip().upper(), args.business, ws.settings.site_name,
            dt.datetime.now().replace(microsecond=0), args.ahead, args.ticket_class))
    else:
        doc = ws.documents.render_case_document(kind, args.ref, clerk,
                                                reprint=True if args.copy else None)
    doc = ws.documents.archival(doc)   # what print() sends: the bytes reported are these
    outcome = ws.documents.print(doc, clerk, target, overwrite=args.force)
    for warning in doc.warnings:
        print(f"yichuang: 注意：{warning}", file=sys.stderr)
    data = {**jsonable(outcome), "kind": kind, "title": doc.title, "pages": doc.pages,
            "bytes": len(doc.pdf), "warnings": list(doc.warnings)}
    emit(args, data, outcome.message)
    if not outcome.ok:
        raise SystemExit(1)


def register(sub: Any, common: Parser, operator_opts: Parser) -> None:
    p = sub.add_parser("print", parents=[common, operator_opts], help="打印文书（须 --user）",
                       description="打印或导出文书，以 --user 给出的操作员为经办人。KIND：" + "，".join(
                           f"{k.value}={k.display}" for k in DocumentKind) +
                       "。REF：checklist 为事项或一件事编码，ticket 为票号，其余为办件编号。")
    p.add_argument("kind", choices=[k.value for k in DocumentKind], metavar="KIND")
    p.add_argument("ref", metavar="REF")
    p.add_argument("--pdf", metavar="OUT", help="不打印，写成PDF文件（不能写在数据目录里）")
    p.add_argument("--force", action="store_true", help="--pdf：覆盖已有文件")
    p.add_argument("--printer", metavar="NAME", help="系统打印机名称（CUPS）")
    p.add_argument("--escpos", metavar="URI", help="热敏打印机，如 tcp://10.0.0.31:9100")
    p.add_argument("--copy", action="store_true", help="标注为补打")
    p.add_argument("--scenario", action="append", default=[], metavar="ID",
                   help="checklist：适用的办理情形编号，如 s1（可多次给出；catalog show 列出编号）")
    p.add_argument("--business", default="综合受理", help="ticket：业务类别")
    p.add_argument("--ahead", type=int, default=0, help="ticket：前面等候人数")
    p.add_argument("--class", dest="ticket_class", default="普通",
                   choices=["普通", "预约", "绿色通道"], help="ticket：票类")
    p.set_defaults(fn=cmd_print, writes=True)
