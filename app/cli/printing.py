"""``yichuang print …``: documents, sent where the window would send them."""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.cli.common import Parser, UsageError, emit, jsonable, operator_clerk, parse_date
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


def _stored_ticket(ws: Workstation, args: argparse.Namespace) -> dt.date | None:
    """Check that ``args.ref`` is a ticket taken on --date (today): the ticket printed is
    the stored one, never a number made up on the command line. Returns the day."""
    if not re.fullmatch(r"[A-Za-z]\d{3}", args.ref.strip()):
        raise UsageError(f"票号“{args.ref}”无效，应为一个字母加三位数字，如 A012")
    day = parse_date(args.date) if args.date else None
    from app.domain.queue import QueueRuleError

    try:
        ws.queue.ticket(args.ref, day)
    except QueueRuleError:
        when = "今天" if day is None else f"{day:%Y-%m-%d}"
        raise UsageError(f"{when}没有取过{args.ref.strip().upper()}号，无法打印排队票"
                         "（yichuang queue status 查看今天的排队；其他日期用 --date）") from None
    return day


def _print_ticket(ws: Workstation, args: argparse.Namespace, target: Any) -> None:
    from app.cli.queue import print_issued
    from app.services.permissions import Action

    day = _stored_ticket(ws, args)
    clerk = operator_clerk(ws, args, Action.PRINT_CASE_DOCUMENTS)
    outcome, doc, notes = print_issued(ws, args.ref, day, target, clerk, force=args.force)
    for note in notes:
        print(f"yichuang: 注意：{note}", file=sys.stderr)
    emit(args, {**jsonable(outcome), "kind": DocumentKind.TICKET, "title": doc.title,
                "pages": doc.pages, "bytes": len(doc.pdf), "warnings": list(doc.warnings),
                "number": args.ref.strip().upper()}, outcome.message)
    if not outcome.ok:
        raise SystemExit(1)


def cmd_print(ws: Workstation, args: argparse.Namespace) -> None:
    from app.services.permissions import Action
    from app.storage.files import check_output_path

    kind = DocumentKind(args.kind)
    target = print_target(args)
    # Arguments first: a wrong path or 情形 should not cost a login.
    if target is not None and target.scheme == "pdf":
        check_output_path(Path(target.address), ws.settings.data_dir, force=args.force)
    scenarios = checked_scenarios(ws, args, kind)
    if kind is DocumentKind.TICKET:
        _print_ticket(ws, args, target)
        return
    if args.date:
        raise UsageError("--date 只用于 ticket（排队票）")
    clerk = operator_clerk(ws, args, Action.PRINT_CASE_DOCUMENTS)
    # A DocumentError is a UserError (exit 2); a DocumentIntegrityError an IntegrityProblem.
    if kind is DocumentKind.CHECKLIST:
        doc = ws.documents.render_checklist(args.ref, clerk, scenarios)
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
                       "。REF：checklist 为事项或一件事编码，ticket 为已取的票号（如 A012），"
                       "其余为办件编号。")
    p.add_argument("kind", choices=[k.value for k in DocumentKind], metavar="KIND")
    p.add_argument("ref", metavar="REF")
    p.add_argument("--pdf", metavar="OUT", help="不打印，写成PDF文件（不能写在数据目录里）")
    p.add_argument("--force", action="store_true", help="--pdf：覆盖已有文件")
    p.add_argument("--printer", metavar="NAME", help="系统打印机名称（CUPS）")
    p.add_argument("--escpos", metavar="URI", help="热敏打印机，如 tcp://10.0.0.31:9100")
    p.add_argument("--copy", action="store_true", help="标注为补打")
    p.add_argument("--scenario", action="append", default=[], metavar="ID",
                   help="checklist：适用的办理情形编号，如 s1（可多次给出；catalog show 列出编号）")
    p.add_argument("--date", metavar="YYYY-MM-DD",
                   help="ticket：取号日期，默认今天（票面是取号时保存的类别、票类和时间）")
    p.set_defaults(fn=cmd_print, writes=True)
