"""What every ``yichuang`` command shares: errors, the parser, output, the operator.

Kept free of heavy imports: ``yichuang --version`` and ``catalog search`` load only what
they use.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import enum
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from app.errors import UserError

if TYPE_CHECKING:
    from app.domain.case import Clerk
    from app.services.accounts import ClerkSession
    from app.workstation import Workstation

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUSY, EXIT_INTEGRITY = 0, 1, 2, 3, 4
MIN_YEAR, MAX_YEAR = 1990, 2200
MAX_INPUT_BYTES = 50 * 1024 * 1024   # catalogue and calendar files; checked before reading
PASSWORD_MAX = 256


class UsageError(UserError):
    """A bad argument or file: one line on stderr, exit 2."""


# argparse speaks English; administrators read Chinese. Its common messages, translated.
_ARGPARSE_MESSAGES = (
    (re.compile(r"argument (\S+): invalid choice: '?([^'(]*)'? \(choose from (.*)\)"),
     "{0}：无效的选择“{1}”，可选：{2}"),
    (re.compile(r"argument (\S+): invalid int value: '?([^']*)'?"), "{0}：“{1}”不是整数"),
    (re.compile(r"the following arguments are required: (.*)"), "缺少参数：{0}"),
    (re.compile(r"unrecognized arguments: (.*)"), "无法识别的参数：{0}"),
    (re.compile(r"argument (\S+): expected one argument"), "{0} 后面需要一个值"),
)


def _translate(message: str) -> str:
    for pattern, chinese in _ARGPARSE_MESSAGES:
        match = pattern.fullmatch(message.strip())
        if match:
            return chinese.format(*(g.replace("'", "") for g in match.groups()))
    return message


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not argparse's usage block
        raise UsageError(f"参数错误：{_translate(message)}（用 {self.prog} --help 查看用法）")


def jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    return value


def emit(args: argparse.Namespace, data: Any, text: str | Callable[[], str]) -> None:
    if args.json:
        print(json.dumps(jsonable(data), ensure_ascii=False, indent=2))
    else:
        print(text() if callable(text) else text)


def parse_date(value: str) -> dt.date:
    v = value.strip()
    if v in ("today", "今天"):
        return dt.date.today()
    for fmt in ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d"):
        try:
            day = dt.datetime.strptime(v, fmt).date()
        except ValueError:
            continue
        if not MIN_YEAR <= day.year <= MAX_YEAR:
            raise UsageError(f"日期“{value}”超出范围（{MIN_YEAR}至{MAX_YEAR}年）")
        return day
    raise UsageError(f"日期“{value}”无效，应为 YYYY-MM-DD（例如 2026-11-23）")


def input_file(value: str, *, limit: int = MAX_INPUT_BYTES) -> Path:
    """A regular file to read, its size checked before a byte is read."""
    import stat

    path = Path(value)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise UsageError(f"文件不存在：{value}") from None
    except OSError as exc:
        raise UsageError(f"无法读取 {value}：{exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{value} 是一个目录，请给出文件")
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(f"{value} 不是普通文件（设备、管道等不能导入）")
    if st.st_size > limit:
        raise UsageError(f"文件 {value} 过大（{st.st_size / 1048576:.0f} MB，上限 "
                         f"{limit // 1048576} MB），未读取")
    return path


def output_file(ws: Workstation, value: str, force: bool) -> Path:
    """A path to write an export to: never inside the data directory; an existing file
    only with --force (else UnsafePath, a UserError)."""
    from app.storage.files import check_output_path

    return check_output_path(Path(value), ws.settings.data_dir, force=force)


# ---- the operator ------------------------------------------------------------------------


def add_operator_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", metavar="工号", default=argparse.SUPPRESS,
                        help="操作员账号（修改数据和打印办件文书时必须给出；密码会提示输入）")
    parser.add_argument("--password-fd", metavar="FD", type=int, default=argparse.SUPPRESS,
                        help="从这个文件描述符逐行读取密码（供脚本使用，例如 --password-fd 3 3<密码文件）")


class SecretReader:
    """Passwords, one per call: from --password-fd (one line each) or typed at a terminal
    without echo. Never from the command line, where ``ps`` and shell history see them."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd
        self._buffer = b""

    def read(self, prompt: str) -> str:
        if self._fd is None:
            if not sys.stdin or not sys.stdin.isatty():
                raise UsageError("需要输入密码，但这里不是终端：请在终端中运行，或用 --password-fd "
                                 "从文件描述符提供")
            import getpass

            try:
                return getpass.getpass(prompt)
            except (EOFError, KeyboardInterrupt):
                raise UsageError("未输入密码，已取消") from None
        while b"\n" not in self._buffer:
            try:
                chunk = os.read(self._fd, 4096)
            except (OSError, OverflowError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else "不是有效的文件描述符"
                raise UsageError(f"无法从文件描述符 {self._fd} 读取密码：{reason}") from None
            if not chunk:
                break
            self._buffer += chunk
            if len(self._buffer) > PASSWORD_MAX * 4:
                raise UsageError("--password-fd 给出的密码过长")
        line, _, self._buffer = self._buffer.partition(b"\n")
        if not line and not self._buffer:
            raise UsageError(f"文件描述符 {self._fd} 中没有（更多）密码行")
        try:
            return line.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError:
            raise UsageError("密码不是 UTF-8 文本") from None


def secrets(args: argparse.Namespace) -> SecretReader:
    reader: SecretReader | None = getattr(args, "_secrets", None)
    if reader is None:
        reader = SecretReader(getattr(args, "password_fd", None))
        args._secrets = reader
    return reader


def operator(ws: Workstation, args: argparse.Namespace) -> ClerkSession:
    """The authenticated user this command runs as (``--user`` and a password)."""
    username = getattr(args, "user", None)
    if not username:
        raise UsageError("此命令会修改数据或打印办件文书，须以操作员身份运行：请加 --user 工号"
                         "（密码会提示输入，脚本可用 --password-fd）")
    password = secrets(args).read(f"{username} 的密码：")
    return ws.accounts.verify_operator(username, password)


def operator_clerk(ws: Workstation, args: argparse.Namespace, action: Any) -> Clerk:
    """The operator as the event context of this terminal, checked for ``action``."""
    from app.services.permissions import require

    session = operator(ws, args)
    require(str(session.role), action)
    return ws.clerk(session)
