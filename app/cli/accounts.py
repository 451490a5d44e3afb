"""``yichuang user …``: accounts, run as an authenticated administrator."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from app.cli.common import Parser, UsageError, emit, operator, secrets

if TYPE_CHECKING:
    from app.workstation import Workstation


def _admin(ws: Workstation, args: argparse.Namespace) -> Any:
    from app.services.permissions import Action, require

    session = operator(ws, args)
    require(str(session.role), Action.MANAGE_USERS)
    return session


def _new_password(args: argparse.Namespace, whose: str) -> str:
    reader = secrets(args)
    first = reader.read(f"{whose}的新密码：")
    if getattr(reader, "_fd", None) is None and reader.read("再输入一次：") != first:
        raise UsageError("两次输入的密码不一致，未作改动")
    return first


def cmd_user_list(ws: Workstation, args: argparse.Namespace) -> None:
    from app.services.accounts import ROLE_NAMES

    _admin(ws, args)
    users = ws.accounts.users()
    emit(args, users, lambda: "\n".join(
        f"{u.username}  {u.display_name}  {ROLE_NAMES[u.role]}"
        + ("  （须修改密码）" if u.must_change_password else "") for u in users))


def cmd_user_add(ws: Workstation, args: argparse.Namespace) -> None:
    from app.services.accounts import Role

    actor = _admin(ws, args)
    password = _new_password(args, f"新用户 {args.username} ")
    user = ws.accounts.add_user(actor, args.username, args.name, Role(args.role), password)
    emit(args, user, f"已创建用户 {user.username}（{user.display_name}），首次登录须修改密码")


def cmd_user_reset(ws: Workstation, args: argparse.Namespace) -> None:
    actor = _admin(ws, args)
    ws.accounts.reset_password(actor, args.username, _new_password(args, f"{args.username} "))
    emit(args, {"username": args.username}, f"已重置 {args.username} 的密码，登录后须修改")


def cmd_user_passwd(ws: Workstation, args: argparse.Namespace) -> None:
    username = getattr(args, "user", None)
    if not username:
        raise UsageError("请用 --user 工号 指明要修改谁的密码")
    reader = secrets(args)
    old = reader.read(f"{username} 的当前密码：")
    session = ws.accounts.login(username, old)
    new = _new_password(args, "")
    ws.accounts.change_password(session.user_id, old, new)
    emit(args, {"username": username}, f"已修改 {username} 的密码")


def register(sub: Any, common: Parser, operator_opts: Parser) -> None:
    usr = sub.add_parser("user", parents=[common], help="账号").add_subparsers(
        dest="sub", metavar="操作", required=True, parser_class=Parser)
    usr.add_parser("list", parents=[common, operator_opts], help="列出账号（管理员）").set_defaults(
        fn=cmd_user_list)
    p = usr.add_parser("add", parents=[common, operator_opts],
                       help="新建账号（管理员；初始密码提示输入，首次登录须修改）")
    p.add_argument("username")
    p.add_argument("--name", required=True, help="姓名")
    p.add_argument("--role", choices=["clerk", "agent", "supervisor", "admin"], default="clerk")
    p.set_defaults(fn=cmd_user_add, writes=True)
    p = usr.add_parser("reset-password", parents=[common, operator_opts],
                       help="重置他人密码（管理员；新密码提示输入）")
    p.add_argument("username")
    p.set_defaults(fn=cmd_user_reset, writes=True)
    p = usr.add_parser("passwd", parents=[common, operator_opts],
                       help="修改自己的密码（--user 工号；先输入当前密码，再输入新密码）")
    p.set_defaults(fn=cmd_user_passwd, writes=True)
