"""``yichuang consult …``: 咨询登记, the log of enquiries that open no case.

``consult add ITEM --checklist`` also hands out the item's 一次性告知单, printed or
exported exactly as ``yichuang print checklist`` does (same options, same service).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.cli.common import Parser, UsageError, emit, jsonable, operator, operator_clerk
from app.cli.printing import checked_scenarios, print_target
from app.documents.form import DocumentKind
from app.domain.case import IdType

if TYPE_CHECKING:
    from app.workstation import Workstation


def _row(c: Any) -> dict[str, Any]:
    """A consultation as listings show it: the identity number masked."""
    return {"id": c.id, "at": c.at, "window": c.window, "clerk": c.clerk_name,
            "name": c.name, "phone": c.phone, "id_type": c.id_type, "id_number": c.masked_id,
            "item_code": c.item_code, "item_name": c.item_name, "question": c.question,
            "answer": c.answer, "checklist": c.checklist}


def _line(r: dict[str, Any]) -> str:
    who = r["name"] + (f"（{r['id_number']}）" if r["id_number"] else "")
    about = f"[{r['item_name']}] " if r["item_name"] else ""
    answer = f" → {r['answer']}" if r["answer"] else ""
    mark = "（已给一次性告知单）" if r["checklist"] else ""
    return f"{r['at']:%Y-%m-%d %H:%M}  {who}  {about}{r['question']}{answer}{mark}"


def cmd_consult_add(ws: Workstation, args: argparse.Namespace) -> None:
    from app.services.consultations import Enquiry
    from app.services.permissions import Action, require
    from app.storage.files import check_output_path

    try:
        id_type = IdType(args.id_type)
    except ValueError:
        raise UsageError(f"证件类型“{args.id_type}”无法识别，可用：" + "、".join(IdType)) from None
    args.ref = args.item or ""   # the names the print command's helpers read
    target = None
    if args.checklist:
        if not args.item:
            raise UsageError("--checklist 须给出事项或一件事编码：yichuang consult add 事项编码 …")
        target = print_target(args)
        if target is not None and target.scheme == "pdf":
            check_output_path(Path(target.address), ws.settings.data_dir, force=args.force)
        scenarios = checked_scenarios(ws, args, DocumentKind.CHECKLIST)
    elif args.scenario or args.pdf or args.printer or args.escpos:
        raise UsageError("--scenario、--pdf、--printer、--escpos 须与 --checklist 一起使用")
    clerk = operator_clerk(ws, args, Action.WRITE_CASES)
    doc = None
    if args.checklist:
        require(clerk.role, Action.PRINT_CASE_DOCUMENTS)
        # Rendered before the entry is logged: an item that cannot print logs nothing.
        doc = ws.documents.archival(ws.documents.render_checklist(args.item, clerk, scenarios))
    enquiry = Enquiry(args.name, args.question, args.answer or "", args.item or "",
                      args.phone or "", id_type, args.id or "")
    logged = ws.consultations.add(enquiry, clerk, checklist=args.checklist)
    data: dict[str, Any] = {**_row(logged), "printed": None}
    text = f"已登记咨询 #{logged.id}：{_line(_row(logged))}"
    if doc is not None:
        outcome = ws.documents.print(doc, clerk, target, overwrite=args.force)
        for warning in doc.warnings:
            print(f"yichuang: 注意：{warning}", file=sys.stderr)
        data["printed"] = jsonable(outcome)
        text += f"\n{outcome.message}"
        if not outcome.ok:
            emit(args, data, text)
            raise SystemExit(1)   # logged: the enquiry happened, the paper did not
    emit(args, data, text)


def cmd_consult_list(ws: Workstation, args: argparse.Namespace) -> None:
    if not 1 <= args.limit <= 1000:
        raise UsageError("--limit 应在 1 至 1000 之间")
    operator(ws, args)   # names and telephone numbers are for operators only
    rows = [_row(c) for c in ws.consultations.find(
        day=dt.date.today() if args.today else None, item_code=args.item or "",
        limit=args.limit)]
    emit(args, rows, lambda: "\n".join(_line(r) for r in rows) or "没有符合条件的咨询登记")


def register(sub: Any, common: Parser, operator_opts: Parser) -> None:
    consult = sub.add_parser("consult", parents=[common], help="咨询登记（须 --user）",
                             description=__doc__).add_subparsers(
        dest="sub", metavar="操作", required=True, parser_class=Parser)
    p = consult.add_parser("add", parents=[common, operator_opts], help="登记一次咨询")
    p.add_argument("item", metavar="ITEM", nargs="?", help="所咨询的事项或一件事编码（可省略）")
    p.add_argument("--name", required=True, help="咨询人姓名")
    p.add_argument("--question", required=True, help="咨询的问题（一句话）")
    p.add_argument("--answer", help="答复（一句话）")
    p.add_argument("--phone", help="联系电话")
    p.add_argument("--id", help="证件号码（列表中只显示前后四位）")
    p.add_argument("--id-type", default=str(IdType.RESIDENT_ID), help="证件类型，默认居民身份证")
    p.add_argument("--checklist", action="store_true", help="同时打印该事项的一次性告知单")
    p.add_argument("--scenario", action="append", default=[], metavar="ID",
                   help="--checklist：适用的办理情形编号（catalog show 列出）")
    p.add_argument("--pdf", metavar="OUT", help="--checklist：不打印，写成PDF文件")
    p.add_argument("--force", action="store_true", help="--pdf：覆盖已有文件")
    p.add_argument("--printer", metavar="NAME", help="--checklist：系统打印机名称")
    p.add_argument("--escpos", metavar="URI", help="--checklist：热敏打印机")
    p.set_defaults(fn=cmd_consult_add, writes=True)
    p = consult.add_parser("list", parents=[common, operator_opts], help="列出咨询登记")
    p.add_argument("--today", action="store_true", help="只列今天的")
    p.add_argument("--item", metavar="CODE", help="事项或一件事编码")
    p.add_argument("--limit", type=int, default=200)
    p.set_defaults(fn=cmd_consult_list)
