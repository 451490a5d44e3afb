"""``yichuang`` sub-commands: the same services the window uses, for scripts and admins.

Every command prints a human-readable answer, or JSON with ``--json``. Failures are one
Chinese line on stderr and a documented status, never a traceback:

====  =====================================================================
0     done
1     could not be done (a printer that failed) or an internal error — the
      traceback is written to a log file whose path the line names
2     bad input: an argument, a file, a rule; nothing was changed — any
      :class:`app.errors.UserError`, whose message is the line
3     the database is busy (another program is writing): try again shortly
4     integrity: the record disagrees with its witnesses (see docs/integrity.md) —
      any :class:`app.errors.IntegrityProblem`
====  =====================================================================

Commands that change accounts, reference data or the case record, or print case
documents, run as an authenticated operator (``--user``; the password is prompted for,
or read from ``--password-fd``), never with a password on the command line.

Each command module has ``register(sub, common, operator_opts)`` and is listed in
:func:`build_parser`. Every one is imported to build the parser, even for
``yichuang --version``, so at module level they import only what the parser needs:
``Workstation`` under ``TYPE_CHECKING``, services inside the command functions
(tests/cli/test_cli_imports.py holds ``--version`` and ``catalog search`` to that).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from app import __version__
from app.cli import (
    accounts,
    capture,
    cases,
    consult,
    credit,
    doctor,
    integrity,
    printing,
    queue,
    reference,
)
from app.cli.common import (
    EXIT_BUSY,
    EXIT_FAILED,
    EXIT_INTEGRITY,
    EXIT_OK,
    EXIT_USAGE,
    Parser,
    UsageError,
    add_operator_options,
)
from app.errors import IntegrityProblem, UserError

__all__ = ["EXIT_BUSY", "EXIT_FAILED", "EXIT_INTEGRITY", "EXIT_OK", "EXIT_USAGE",
           "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    common = Parser(add_help=False)
    # SUPPRESS: a sub-command that is not given --json must not reset the --json given
    # before it (``yichuang --json catalog search yyzz``) to False; main() adds the
    # False. (Not set_defaults: the parsers share this action object.)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="以 JSON 输出")
    operator_opts = Parser(add_help=False)
    add_operator_options(operator_opts)
    parser = Parser(prog="yichuang", parents=[common],
                    description="一窗通：政务服务综合窗口客户端。不带参数运行时打开窗口；"
                    "yichuang kiosk（自助取号机）、yichuang display（大厅叫号屏）、"
                    "yichuang evaluate --window N（评价器）打开全屏界面。"
                    "退出状态：0 成功；1 未能完成（如打印失败）或内部错误；2 输入有误；"
                    "3 数据库正忙，请稍后重试；4 记录完整性检查未通过。")
    parser.add_argument("--version", action="version", version=f"yichuang {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="命令", parser_class=Parser)
    for module in (doctor, reference, accounts, cases, consult, credit, printing, capture,
                   integrity, queue):
        module.register(sub, common, operator_opts)
    return parser


def _user_message(exc: UserError) -> str:
    from app.domain.catalogue_format import CatalogueFileError

    if isinstance(exc, CatalogueFileError) and len(exc.issues) > 1:
        # Still one line, but the administrator sees every problem at once.
        return "目录文件有误：" + "；".join(str(i) for i in exc.issues)
    return str(exc)


def _say(message: str) -> None:
    # One line, whatever a file's value smuggled into the message.
    print(f"yichuang: {' '.join(message.split())}", file=sys.stderr)


def _busy(exc: BaseException) -> bool:
    from app.storage.db import DatabaseBusyError

    if isinstance(exc, DatabaseBusyError):   # the write turn did not come in time
        return True
    text = str(exc).lower()
    return "database is locked" in text or "database is busy" in text


def _log_internal(exc: BaseException) -> str:
    """Write the traceback where an administrator can find it; returns the path."""
    import datetime as dt
    import tempfile
    import traceback

    from app.config import data_dir

    text = (f"--- {dt.datetime.now().isoformat(timespec='seconds')} yichuang {__version__} "
            f"argv={sys.argv[1:]!r}\n" + "".join(traceback.format_exception(exc)))
    for folder in (data_dir() / "logs", Path(tempfile.gettempdir())):
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            path = folder / "yichuang-cli-errors.log"
            # O_NOFOLLOW: in a shared temp folder the name could be a planted symlink.
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT
                         | getattr(os, "O_NOFOLLOW", 0), 0o600)
            with os.fdopen(fd, "a", encoding="utf-8", errors="replace") as log:
                log.write(text)
            return str(path)
        except OSError:
            continue
    return "（日志也无法写入）"


def _refuse_undecodable(argv: Sequence[str]) -> None:
    # Python carries undecodable bytes as lone surrogates: every later print would fail.
    for arg in argv:
        if any("\udc80" <= ch <= "\udcff" for ch in arg):
            shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            raise UsageError(f"参数“{shown}”含有不是 UTF-8 编码的字节（如 GBK 编码的文件名）："
                             "请把文件改名或换用 UTF-8 终端")


def _run(argv: list[str]) -> int:
    _refuse_undecodable(argv)
    args = build_parser().parse_args(argv)
    args.json = getattr(args, "json", False)
    standalone = getattr(args, "standalone", None)
    if standalone is not None:
        standalone(args)
        return EXIT_OK
    if not getattr(args, "fn", None):
        raise UsageError("请给出命令，例如 yichuang catalog search yyzz（--help 查看全部命令）")
    from app.workstation import open_workstation  # not before: --version needs none of it

    check = getattr(args, "check", True)
    if check == "try":
        # Inspection commands (doctor, audit): a normal start if the record is sound,
        # else open it unchecked and unseeded so they can say what is wrong.
        from app.services.integrity import IntegrityAlarm

        try:
            ws = open_workstation(adopt=False)
        except IntegrityAlarm as alarm:
            args.alarm = alarm
            ws = open_workstation(check=False, seed=False)
    else:
        ws = open_workstation(check=check, seed=check)
    try:
        args.fn(ws, args)
    finally:
        ws.close()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return _run(args)
    except BrokenPipeError:
        # `yichuang catalog list | head -2`: the reader is gone, which is not our error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        _say("已取消")
        return 130
    except SystemExit:
        raise
    except Exception as exc:
        # IntegrityProblem first: IntegrityAlarm is also a DatabaseError, a UserError.
        if isinstance(exc, IntegrityProblem):
            _say(str(exc))
            return EXIT_INTEGRITY
        if _busy(exc):
            _say(str(exc) if isinstance(exc, UserError)
                 else "数据库正忙（另一个程序正在写入），请稍后重试")
            return EXIT_BUSY
        if isinstance(exc, UserError):
            _say(_user_message(exc))
            return EXIT_USAGE
        _say(f"内部错误（{type(exc).__name__}），详情已记录到 {_log_internal(exc)}，请联系维护人员")
        return EXIT_FAILED
