"""``yichuang-server reference import catalogue|calendar|credit-list FILE``: an
administrator publishes reference data from the server's own machine, checked with the
client's code exactly as ``PUT /v1/reference/{kind}`` checks it (docs/sync-protocol.md §4).

A file is refused before it is read when it is too large, a directory or a device (the
client's ``read_reference_file``); a bad file is one Chinese line and exit 2, and nothing
is published.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from app.errors import UserError

WHO = "命令行"    # published_by for a file imported here rather than through the API


def register(sub: argparse._SubParsersAction,  # type: ignore[type-arg]
             common: argparse.ArgumentParser) -> None:
    """Add ``reference import …`` to ``yichuang-server``'s sub-commands."""
    p = sub.add_parser("reference", help="发布参考数据（事项目录、工作日历、失信名单）")
    inner = p.add_subparsers(dest="reference_command", required=True, parser_class=type(p))
    imp = inner.add_parser("import", parents=[common],
                           help="导入文件并发布为新版本（各终端同步时取得）")
    imp.add_argument("kind", choices=("catalogue", "calendar", "credit-list"),
                     help="catalogue 事项目录，calendar 工作日历，credit-list 失信名单")
    imp.add_argument("file", type=Path, metavar="FILE", help="文件路径（UTF-8 JSON）")
    imp.add_argument("--replace", action="store_true",
                     help="工作日历：替换服务器上已有的同一年份")
    imp.set_defaults(fn=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    from app.services.calendar import ReferenceFileRefused, read_reference_file
    from server import reference
    from server.accounts import ApiError
    from server.cli import _settings
    from server.db import SCHEMA_HEAD, ServerDatabase

    kind: str = args.kind
    try:
        data = read_reference_file(args.file, max_bytes=reference.MAX_BYTES[kind],
                                   what=reference.KINDS[kind])
    except ReferenceFileRefused as exc:
        raise UserError(str(exc)) from None
    settings = _settings(args)
    db = ServerDatabase(settings)
    try:
        if db.revision() != SCHEMA_HEAD:
            raise UserError("数据库尚未初始化或版本不符：请先运行 yichuang-server init。")
        parsed = reference.parse(kind, data)
        with db.session() as session:
            done = reference.publish(session, kind, parsed, WHO, dt.datetime.now(dt.UTC),
                                     replace=args.replace)
    except ApiError as exc:
        raise UserError(exc.message) from None
    finally:
        db.dispose()
    what = reference.KINDS[kind]
    if done.created:
        print(f"已发布{what}版本 {done.version}（{done.entries}项）。")
    else:
        print(f"{what}版本 {done.version} 已发布过，内容相同，未生成新版本；现为当前版本。")
    return 0
