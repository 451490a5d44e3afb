"""``yichuang credit …``: the 失信名单 for 信用核查 — import, check a number, status.

The file format is in docs/operations.md ("信用核查").
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from app.cli.common import Parser, UsageError, emit, input_file, operator, operator_clerk
from app.domain.case import IdType

if TYPE_CHECKING:
    from app.workstation import Workstation


def cmd_credit_import(ws: Workstation, args: argparse.Namespace) -> None:
    from app.services.permissions import Action

    path = input_file(args.file)   # a wrong or huge file should not cost a login
    clerk = operator_clerk(ws, args, Action.IMPORT_REFERENCE)
    info = ws.credit.import_file(path, clerk)
    text = (f"失信名单 {info.version} 与当前名单相同，未作改动" if info.unchanged else
            f"已导入失信名单 {info.version}（{info.publisher or '发布方未注明'}，发布于 "
            f"{info.published_at}）：{info.entries} 条")
    emit(args, info, text)


def cmd_credit_check(ws: Workstation, args: argparse.Namespace) -> None:
    try:
        id_type = IdType(args.id_type)
    except ValueError:
        raise UsageError(f"证件类型“{args.id_type}”无法识别，可用：" + "、".join(IdType)) from None
    operator(ws, args)   # whether someone is on the list is personal data
    check = ws.credit.check(id_type, args.id)
    data = {**check.to_json(), "listed": check.listed}
    emit(args, data, check.summary())


def cmd_credit_status(ws: Workstation, args: argparse.Namespace) -> None:
    info = ws.credit.status()
    if info is None:
        emit(args, None, "尚未导入失信名单（yichuang credit import 文件）")
        return
    emit(args, info, f"失信名单 {info.version}：{info.entries} 条，{info.publisher or '发布方未注明'}"
         f"发布于 {info.published_at}（已 {info.age_days} 天），{info.imported_at:%Y-%m-%d %H:%M} "
         f"由 {info.imported_by} 导入")


def register(sub: Any, common: Parser, operator_opts: Parser) -> None:
    credit = sub.add_parser("credit", parents=[common], help="信用核查：失信名单").add_subparsers(
        dest="sub", metavar="操作", required=True, parser_class=Parser)
    p = credit.add_parser("import", parents=[common, operator_opts],
                          help="导入失信名单文件，整体替换当前名单（管理员、值班长）")
    p.add_argument("file")
    p.set_defaults(fn=cmd_credit_import, writes=True)
    p = credit.add_parser("check", parents=[common, operator_opts],
                          help="核查一个证件号码是否在失信名单中（须 --user）")
    p.add_argument("id", metavar="ID", help="证件号码")
    p.add_argument("--id-type", default=str(IdType.RESIDENT_ID),
                   help="证件类型，默认居民身份证（单位为统一社会信用代码）")
    p.set_defaults(fn=cmd_credit_check)
    credit.add_parser("status", parents=[common], help="当前名单的版本、条数和发布天数").set_defaults(
        fn=cmd_credit_status)
