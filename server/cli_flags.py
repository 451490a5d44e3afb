"""``yichuang-server flag list|resolve``: what a supervisor must settle — a rewritten or
restored-older terminal log, a change based on an old version, an op_id reused with
other content (docs/sync-protocol.md §5) — from the server's own machine, with the same
rules as ``/v1/audit/flags``. The operator names themself and gives their password as
for ``case`` (server/cli_cases.py)."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from app.errors import UserError


def register(sub: argparse._SubParsersAction,  # type: ignore[type-arg]
             common: argparse.ArgumentParser) -> None:
    """Add ``flag …`` to ``yichuang-server``'s sub-commands."""
    from server.cli_cases import operator_options

    p = sub.add_parser("flag", help="同步问题：列出待处理的（改写的终端记录、冲突），记录处理结果")
    inner = p.add_subparsers(dest="flag_command", required=True, parser_class=type(p))
    parents = [common, operator_options(type(p))]
    q = inner.add_parser("list", parents=parents, help="列出本站点待处理的同步问题，最早的在前")
    q.set_defaults(fn=cmd_list)
    q = inner.add_parser("resolve", parents=parents, help="记录一个问题的核查和处理结果")
    q.add_argument("flag_id", metavar="ID", help="问题编号（flag list 显示）")
    q.add_argument("--resolution", required=True, help="核查结果和处理情况")
    q.set_defaults(fn=cmd_resolve)


def _allowed(who: Any) -> None:
    if who.role not in ("supervisor", "admin"):
        raise UserError("只有值班长或管理员可以处理同步问题。")


def cmd_list(args: argparse.Namespace) -> int:
    from server import chain_witness
    from server.cli_cases import as_operator

    def work(session: Session, who: Any, _now: dt.datetime) -> list[dict[str, Any]]:
        _allowed(who)
        return chain_witness.open_flags(session, who.site)

    flags = as_operator(args, work, write=False)
    for f in flags:
        print(f"{f['id']}  {f['created_at'][:19]}  {f['kind']}  终端{f['terminal']}  {f['message']}")
    print(f"共 {len(flags)} 个待处理的问题。")
    return 0


def cmd_resolve(args: argparse.Namespace) -> int:
    from server import chain_witness
    from server.cli_cases import as_operator

    resolution = args.resolution.strip()
    if len(resolution) < 2 or len(resolution) > 500:
        raise UserError("--resolution 请写明核查结果和处理情况（2至500字）。")

    def work(session: Session, who: Any, now: dt.datetime) -> dict[str, Any]:
        _allowed(who)
        return chain_witness.resolve_flag(session, args.flag_id, site=who.site,
                                          admin=who.role == "admin", user_id=who.user_id,
                                          resolution=resolution, now=now)

    done = as_operator(args, work, write=True)
    print(f"已记录处理结果：{done['kind']}（终端{done['terminal']}），{done['resolved_at'][:19]}。")
    return 0
