"""``yichuang-server device list|revoke`` and ``yichuang-server user
list|add|disable|enable|set-role``: the county's administrator manages terminals and
accounts from the server's own machine (docs/sync-protocol.md §2).

Whoever can run these can read the server's database (its home or its URL): like
``init``, they ask for no further password. Every change is one transaction through
server/accounts.py, and takes effect at once on every server process: a revoked device's
tokens get ``403 device_revoked``, a disabled user's ``401 user_inactive``, a user whose
role changed ``401 role_changed`` (a refresh gives a token with the new role).

Bad input is one Chinese line and exit 2; nothing is half-done.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from app.errors import UserError

T = TypeVar("T")
ROLE_NAMES = {"clerk": "窗口工作人员", "agent": "代办员", "supervisor": "值班长", "admin": "管理员"}


def register(sub: argparse._SubParsersAction,  # type: ignore[type-arg]
             common: argparse.ArgumentParser) -> None:
    """Add ``device …`` and ``user …`` to ``yichuang-server``'s sub-commands."""
    from server.accounts import ROLES

    p = sub.add_parser("device", help="终端：列出已登记的终端，停用终端")
    inner = p.add_subparsers(dest="device_command", required=True, parser_class=type(p))
    q = inner.add_parser("list", parents=[common], help="列出已登记的终端（含已停用的）")
    q.add_argument("--site", help="只列此站点的终端")
    q.set_defaults(fn=cmd_device_list)
    q = inner.add_parser("revoke", parents=[common],
                         help="停用终端：其终端令牌和已登录的会话立即失效，终端号不再使用")
    q.add_argument("device_id", metavar="ID", help="终端编号（device list 第一列）")
    q.set_defaults(fn=cmd_device_revoke)

    p = sub.add_parser("user", help="账号：添加、停用、启用、改角色")
    inner = p.add_subparsers(dest="user_command", required=True, parser_class=type(p))
    q = inner.add_parser("list", parents=[common], help="列出账号")
    q.add_argument("--site", help="只列此站点的账号")
    q.set_defaults(fn=cmd_user_list)
    q = inner.add_parser("add", parents=[common], help="添加账号（属于一个站点）")
    q.add_argument("username", help="用户名（登录用）")
    q.add_argument("--name", required=True, help="姓名")
    q.add_argument("--role", required=True, choices=ROLES,
                   help="clerk 窗口工作人员，agent 代办员，supervisor 值班长，admin 管理员")
    q.add_argument("--site", required=True, help="站点编码")
    q.add_argument("--password-fd", type=int, help="从此文件描述符读取密码（脚本用）")
    q.set_defaults(fn=cmd_user_add)
    for name, active, what in (("disable", False, "停用账号：立即不能登录，已登录的会话立即失效"),
                               ("enable", True, "重新启用账号（同时解除密码错误锁定）")):
        q = inner.add_parser(name, parents=[common], help=what)
        q.add_argument("username", help="用户名")
        q.set_defaults(fn=cmd_user_active, active=active)
    q = inner.add_parser("set-role", parents=[common], help="改变账号的角色")
    q.add_argument("username", help="用户名")
    q.add_argument("role", choices=ROLES, help="clerk、agent、supervisor 或 admin")
    q.set_defaults(fn=cmd_user_role)


def _in_database(args: argparse.Namespace, work: Callable[[Session], T], *,
                 write: bool) -> T:
    """``work`` in one transaction on an initialised database; a refusal is one line."""
    from server.accounts import ApiError
    from server.cli import _settings
    from server.db import SCHEMA_HEAD, ServerDatabase

    db = ServerDatabase(_settings(args))
    try:
        if db.revision() != SCHEMA_HEAD:
            raise UserError("数据库尚未初始化或版本不符：请先运行 yichuang-server init。")
        with db.session() if write else db.read() as session:
            return work(session)
    except ApiError as exc:
        raise UserError(exc.message) from None
    finally:
        db.dispose()


def _when(at: object) -> str:
    return str(at)[:19].replace("T", " ")


def cmd_device_list(args: argparse.Namespace) -> int:
    from server import accounts

    def work(session: Session) -> list[str]:
        return [f"{d.id}  站点{d.site_code}  终端{d.terminal}  {d.name}  登记于{_when(d.registered_at)}"
                + (f"  已停用（{_when(d.revoked_at)}）" if d.revoked_at else "")
                for d in accounts.devices(session, args.site)]

    lines = _in_database(args, work, write=False)
    print("\n".join(lines) if lines else "没有已登记的终端。")
    return 0


def cmd_device_revoke(args: argparse.Namespace) -> int:
    from server import accounts

    def work(session: Session) -> str:
        device = accounts.revoke_device(session, args.device_id, accounts.utc_now())
        return f"已停用终端：站点{device.site_code} 终端{device.terminal}（{device.name}）。"

    print(_in_database(args, work, write=True))
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from server.models import UserRow

    def work(session: Session) -> list[str]:
        query = select(UserRow).order_by(UserRow.site_code, UserRow.username)
        if args.site:
            query = query.where(UserRow.site_code == args.site)
        return [f"{u.username}  {u.display_name}  {ROLE_NAMES.get(u.role, u.role)}  "
                f"站点{u.site_code}" + ("" if u.active else "  已停用")
                for u in session.scalars(query)]

    lines = _in_database(args, work, write=False)
    print("\n".join(lines) if lines else "没有账号。")
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    from server import accounts
    from server.cli import read_password

    password = read_password(args.password_fd, f"{args.username} 的密码：")
    user = _in_database(args, lambda s: accounts.create_user(
        s, args.username, args.name, args.role, args.site, password), write=True)
    print(f"已添加账号 {user.username}（{user.display_name}，{ROLE_NAMES[user.role]}，"
          f"站点{user.site_code}）。")
    return 0


def cmd_user_active(args: argparse.Namespace) -> int:
    from server import accounts

    user = _in_database(args, lambda s: accounts.set_user_active(s, args.username, args.active),
                        write=True)
    print(f"已{'启用' if args.active else '停用'}账号 {user.username}（{user.display_name}）。")
    return 0


def cmd_user_role(args: argparse.Namespace) -> int:
    from server import accounts

    user = _in_database(args, lambda s: accounts.set_user_role(s, args.username, args.role),
                        write=True)
    print(f"账号 {user.username}（{user.display_name}）的角色现为{ROLE_NAMES[user.role]}。")
    return 0
