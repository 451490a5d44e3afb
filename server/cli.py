"""``yichuang-server``: set up and run the county's server.

    yichuang-server init [--home DIR] [--database-url URL] [--blob-url URL] [--site-code …]
    yichuang-server serve [--home DIR] [--database-url URL] [--blob-url URL] [--host H] [--port P]
                          [--workers N]
    yichuang-server device …, user … (server/cli_accounts.py), reference … , case …,
    flag … (server/cli_flags.py)

Bad input: one Chinese line on stderr and exit 2; nothing half-created. Everything the
server writes is its user's alone (umask 077): the database holds the token signing key.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.exc import DBAPIError, IntegrityError

from app.errors import UserError
from server.settings import (
    BLOB_URL_ENV,
    DEFAULT_PORT,
    ServerSettings,
    blob_url_from_env,
    checked_home,
    server_home,
)

EXIT_USAGE = 2
ALREADY_INITIALISED = "服务器已初始化过（已有用户）：无须再运行 init。"
# Files and folders the server makes: its user's only (rwx------ / rw-------).
PRIVATE_UMASK = 0o077


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:   # type: ignore[override]
        print(f"yichuang-server: 参数有误：{message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _settings(args: argparse.Namespace) -> ServerSettings:
    settings = ServerSettings(checked_home(server_home(args.home)), args.database_url or
                              os.environ.get("YICHUANG_SERVER_DATABASE_URL", ""),
                              getattr(args, "blob_url", None) or blob_url_from_env())
    settings.url   # noqa: B018 - checks the URL now, with a clear message
    if settings.blob_url:   # a bad bucket URL is refused now, not at the first upload
        from server.blobs_s3 import S3Location

        S3Location.parse(settings.blob_url)
    return settings


def read_password(fd: int | None, prompt: str = "管理员密码：") -> str:
    """A new password: one line from file descriptor ``fd`` (scripts), else typed twice."""
    if fd is not None:
        try:
            with os.fdopen(fd, encoding="utf-8", closefd=False) as stream:
                return stream.readline().rstrip("\r\n")
        except OSError:
            raise UserError(f"无法从文件描述符 {fd} 读取密码。") from None
        except UnicodeDecodeError:
            raise UserError(f"从文件描述符 {fd} 读到的密码不是 UTF-8 文本。") from None
    first = getpass.getpass(prompt)
    if getpass.getpass("再输入一次：") != first:
        raise UserError("两次输入的密码不一致。")
    return first


def _password(args: argparse.Namespace) -> str:
    return read_password(args.password_fd)


def cmd_init(args: argparse.Namespace, password: str | None = None) -> int:
    from server import accounts
    from server.db import PRIVATE_DIR, ServerDatabase
    from server.models import UserRow
    from server.tokens import signing_key

    settings = _settings(args)
    password = _password(args) if password is None else password
    db = ServerDatabase(settings)
    try:
        db.migrate()
        with db.session() as session:
            db.lock_for_init(session)   # a second init on this database waits, then stops
            if session.query(UserRow).first() is not None:
                raise UserError(ALREADY_INITIALISED)
            accounts.create_site(session, args.site_code, args.site_name, args.level)
            accounts.create_user(session, args.admin, "系统管理员", "admin", args.site_code,
                                 password)
            signing_key(session)   # made once here: checking a token never has to write
    except accounts.ApiError as exc:
        raise UserError(exc.message) from None
    except IntegrityError:   # another init got there first, between our check and insert
        raise UserError(ALREADY_INITIALISED) from None
    finally:
        db.dispose()
    # The home holds the blobs (PostgreSQL too): made now, the server user's alone.
    settings.home.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    where = settings.database_url or str(settings.home / "server.db")
    print(f"已初始化：数据库 {where}，站点 {args.site_code} {args.site_name}，管理员 {args.admin}。\n"
          f"下一步：yichuang-server serve --host 0.0.0.0 --port {DEFAULT_PORT}，"
          "然后在各终端用管理员账号登记终端。")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.api.app import create_app
    from server.db import SCHEMA_HEAD, ServerDatabase

    settings = _settings(args)
    db = ServerDatabase(settings)
    try:
        revision = db.revision()
        db.make_private()   # a home made before the server kept it private
    finally:
        db.dispose()
    if revision is None and args.first_run:   # ./run server on a fresh machine
        import secrets

        password = f"Yc{secrets.token_urlsafe(9)}9"
        args.site_code, args.site_name, args.level = _demo_site(), "示例县政务服务中心", "县级"
        args.admin, args.password_fd = "admin", None
        cmd_init(args, password)
        print(f"管理员 admin 的初始密码：{password}（只显示这一次，请记下）", flush=True)
        revision = SCHEMA_HEAD
    if revision != SCHEMA_HEAD:
        raise UserError("数据库尚未初始化或版本不符：请先运行 yichuang-server init"
                        + (f"（当前版本 {revision}）" if revision else "") + "。")
    _check_listen(args.host, args.port)
    print(f"一窗通服务器：http://{args.host}:{args.port}（Ctrl+C 停止）", flush=True)
    if args.workers == 1:
        uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning")
        return 0
    # Each worker is a process of its own that builds the app from the environment; they
    # share the listening socket, the database and the blob store, as processes behind a
    # load balancer do (on SQLite their writes take turns at the file's write lock).
    os.environ.update({"YICHUANG_SERVER_HOME": str(settings.home.absolute()),
                       "YICHUANG_SERVER_DATABASE_URL": settings.database_url,
                       BLOB_URL_ENV: settings.blob_url})
    uvicorn.run("server.api.app:app_from_environment", factory=True, workers=args.workers,
                host=args.host, port=args.port, log_level="warning")
    return 0


def _check_listen(host: str, port: int) -> None:
    """Refuse in one line an address the server cannot listen on (port taken, no such
    host) instead of uvicorn's log lines after start-up."""
    import socket

    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.create_server((host, port), family=family):
            pass
    except (OSError, OverflowError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UserError(f"无法在 {host}:{port} 上监听：{reason}。") from None


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"端口应为1至65535的整数，而不是“{text}”")
    return int(text)


def _workers(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 32:
        raise argparse.ArgumentTypeError(f"进程数应为1至32的整数，而不是“{text}”")
    return int(text)


def _demo_site() -> str:
    from app.config import DEMO_SITE_CODE

    return DEMO_SITE_CODE


def build_parser() -> argparse.ArgumentParser:
    from app.config import DEMO_SITE_CODE

    parser = _Parser(prog="yichuang-server", description="一窗通县级服务器")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    common = _Parser(add_help=False)
    common.add_argument("--home", type=Path, help="服务器数据目录（SQLite 数据库、材料文件）")
    common.add_argument("--database-url", help="PostgreSQL：postgresql+psycopg://用户@主机/库名")
    common.add_argument("--blob-url", help="材料存储：默认数据目录下 blobs/；对象存储如 "
                        "s3://桶名/前缀?endpoint=https://…（密钥用 AWS_ACCESS_KEY_ID 等环境变量）")
    p = sub.add_parser("init", parents=[common], help="建立数据库、第一个站点和管理员")
    p.add_argument("--site-code", default=DEMO_SITE_CODE,
                   help="站点编码（6至12位数字：行政区划代码加站点序号）")
    p.add_argument("--site-name", default="示例县政务服务中心")
    p.add_argument("--level", default="县级", help="县级、乡镇或村")
    p.add_argument("--admin", default="admin", help="管理员用户名")
    p.add_argument("--password-fd", type=int, help="从此文件描述符读取管理员密码（脚本用）")
    p.set_defaults(fn=cmd_init)
    p = sub.add_parser("serve", parents=[common], help="启动服务")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=_port, default=DEFAULT_PORT)
    p.add_argument("--workers", type=_workers, default=1,
                   help="服务进程数（默认1）：多核机器上可设为核数，共用同一数据库")
    p.add_argument("--first-run", action="store_true",
                   help="数据库尚未建立时先初始化（演示站点，管理员 admin，随机初始密码）")
    p.set_defaults(fn=cmd_serve)
    from server import cli_reference

    cli_reference.register(sub, common)
    from server import cli_cases

    cli_cases.register(sub, common)
    from server import cli_accounts

    cli_accounts.register(sub, common)
    from server import cli_flags

    cli_flags.register(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.umask(PRIVATE_UMASK)
    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except UserError as exc:
        return _refused(str(exc))
    except DBAPIError as exc:   # unreachable PostgreSQL, a file that is not a database …
        from server.db import problem

        return _refused(f"数据库出错：{problem(exc)}")
    except OSError as exc:      # a home in a read-only place, a path through a file …
        where = f"（{exc.filename}）" if exc.filename else ""
        return _refused(f"无法读写文件{where}：{exc.strerror or exc}")
    except KeyboardInterrupt:
        return 130


def _refused(message: str) -> int:
    """One line, always: a message with line breaks would look like several problems."""
    print(f"yichuang-server: {' '.join(message.split())}", file=sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
