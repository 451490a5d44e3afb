"""``yichuang-server case list|show|advance|notify-pickup``: the back office from the
server's own machine (docs/sync-protocol.md §9), with the same rules as ``/v1/cases``.

The operator names themself (``--user``) and gives their password (``--password-fd`` for
scripts, else a prompt): only a supervisor of the case's site or an administrator may act,
and the history records who did. Bad input is one Chinese line and exit 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import os
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from app.domain.case import CaseStatus
from app.errors import UserError

T = TypeVar("T")


def register(sub: argparse._SubParsersAction,  # type: ignore[type-arg]
             common: argparse.ArgumentParser) -> None:
    """Add ``case …`` to ``yichuang-server``'s sub-commands."""
    from server import back_office

    p = sub.add_parser("case", help="后台办理：查看、推进办件（审批中、办结），通知取件")
    inner = p.add_subparsers(dest="case_command", required=True, parser_class=type(p))
    parents = [common, operator_options(type(p))]

    q = inner.add_parser("list", parents=parents, help="列出办件，最近变化的在前")
    q.add_argument("--status", choices=[str(s) for s in CaseStatus])
    q.add_argument("--site", help="站点编码（管理员可看任一站点；默认本站点，管理员默认全部）")
    q.add_argument("--limit", type=int, default=back_office.DEFAULT_LIST)
    q.set_defaults(fn=cmd_list)

    q = inner.add_parser("show", parents=parents, help="查看一件办件及其全部记录")
    q.add_argument("number", metavar="NO", help="办件编号")
    q.set_defaults(fn=cmd_show)

    q = inner.add_parser("advance", parents=parents, help="推进办件：审批中、暂停或恢复计时、办结")
    q.add_argument("number", metavar="NO", help="办件编号")
    how = q.add_mutually_exclusive_group(required=True)
    how.add_argument("--to", choices=tuple(back_office.TARGETS), help="转为审批中或办结")
    how.add_argument("--pause", action="store_true", help="暂停计时（如现场勘查、专家评审）")
    how.add_argument("--resume", action="store_true", help="恢复计时")
    q.add_argument("--result", choices=back_office.RESULTS, help="办结时的审批结果")
    q.add_argument("--reason", default="", help="说明")
    q.set_defaults(fn=cmd_advance)

    q = inner.add_parser("notify-pickup", parents=parents, help="通知申请人取件（办件须已办结）")
    q.add_argument("number", metavar="NO", help="办件编号")
    q.add_argument("--note", default="", help="备注")
    q.set_defaults(fn=cmd_notify)


def operator_options(parser: type[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """``--user`` and ``--password-fd``: who acts (see as_operator), for sub-commands."""
    who = parser(add_help=False)
    who.add_argument("--user", required=True, help="操作人用户名（值班长或管理员）")
    who.add_argument("--password-fd", type=int, help="从此文件描述符读取密码（脚本用）")
    return who


def _password(args: argparse.Namespace) -> str:
    if args.password_fd is not None:
        try:
            with os.fdopen(args.password_fd, encoding="utf-8", closefd=False) as stream:
                return stream.readline().rstrip("\n")
        except OSError:
            raise UserError(f"无法从文件描述符 {args.password_fd} 读取密码。") from None
    return getpass.getpass(f"{args.user} 的密码：")


def as_operator(args: argparse.Namespace,
                 work: Callable[[Session, Any, dt.datetime], T], *, write: bool) -> T:
    """``work`` as the operator, in one transaction; a refusal becomes one line."""
    from server import back_office
    from server.accounts import ApiError, utc_now
    from server.cli import _settings
    from server.db import SCHEMA_HEAD, ServerDatabase

    settings = _settings(args)
    password = _password(args)
    db = ServerDatabase(settings)
    try:
        if db.revision() != SCHEMA_HEAD:
            raise UserError("数据库尚未初始化或版本不符：请先运行 yichuang-server init。")
        now = utc_now()
        actor = back_office.operator(db, args.user, password, now)
        with db.session() if write else db.read() as session:
            return work(session, actor, now)
    except ApiError as exc:
        raise UserError(exc.message) from None
    finally:
        db.dispose()


def cmd_list(args: argparse.Namespace) -> int:
    from server import back_office

    if not 1 <= args.limit <= back_office.MAX_LIST:
        raise UserError(f"--limit 应为1至{back_office.MAX_LIST}。")
    found = as_operator(args, lambda s, who, _now: back_office.list_cases(
        s, who, status=args.status, site=args.site, limit=args.limit), write=False)
    for c in found["cases"]:
        print(f"{c['number']}  {c['status']}  {c['item_name']}  {c['applicant_name']}  "
              f"站点{c['site']}  第{c['version']}版" + ("  有冲突" if c["conflicted"] else ""))
    more = "（还有更多，请用 --status、--site 缩小范围或加大 --limit）" if found["more"] else ""
    print(f"共 {len(found['cases'])} 件{more}。")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from server import back_office

    c = as_operator(args, lambda s, who, _now: back_office.show(s, who, args.number),
                     write=False)
    print(f"办件 {c['number']}：{c['item_name']}，申请人 {c['applicant_name']}，站点 {c['site']}")
    print(f"状态 {c['status']}（第{c['version']}版）" + (f"，审批结果 {c['result']}" if c["result"] else "")
          + (f"，承诺办结 {c['promised_date']}" if c["promised_date"] else ""))
    for e in c["events"]:
        status = e["payload"].get("status", "")
        print(f"  {e['case_seq']:>3}  {e['occurred_at'][:19]}  {e['kind']}"
              + (f" → {status}" if status else "")
              + f"  {e['clerk_name']}（{'服务器' if e['origin'] == 'server' else '终端' + e['terminal']}）")
    for n in c["notices"]:
        print(f"  已通知取件  {n['notified_at'][:19]}  {n['notified_by_name']}")
    return 0


def cmd_advance(args: argparse.Namespace) -> int:
    from server import back_office

    def work(session: Session, who: Any, now: dt.datetime) -> dict[str, Any]:
        payload = back_office.move(to=args.to, result=args.result, pause=args.pause,
                                   resume=args.resume, reason=args.reason)
        return back_office.advance(session, who, args.number, payload, now,
                                   resume=args.resume)

    done = as_operator(args, work, write=True)
    result = f"，审批结果 {done['payload']['result']}" if "result" in done["payload"] else ""
    print(f"办件 {done['number']}：{done['previous_status']} → {done['status']}{result}"
          f"（第{done['version']}版），操作人 {done['by']}。")
    return 0


def cmd_notify(args: argparse.Namespace) -> int:
    from server import back_office

    done = as_operator(args, lambda s, who, now: back_office.notify_pickup(
        s, who, args.number, args.note, now), write=True)
    owed = (f"；请提醒申请人带来容缺材料：{'、'.join(done['deferred_outstanding'])}"
            if done["deferred_outstanding"] else "")
    print(f"已通知取件：办件 {done['number']}（{done['result'] or done['status']}），"
          f"操作人 {done['notified_by_name']}{owed}。")
    return 0

