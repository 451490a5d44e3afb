"""``yichuang audit …``, ``backup``, ``restore``, ``recover``: the record and its copies."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.cli.common import EXIT_INTEGRITY, Parser, UsageError, emit, operator_clerk, secrets

if TYPE_CHECKING:
    from app.workstation import Workstation


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):   # a uid without a passwd entry (containers)
        return "?"


def cmd_audit_verify(ws: Workstation, args: argparse.Namespace) -> None:
    report = ws.integrity.verify()

    def text() -> str:
        lines = []
        for c in report.chains:
            word = "办件记录" if c.chain == "events" else "文书档案"
            state = "完整" if c.intact else "断开"
            anchor = "，与锚定文件一致" if c.anchored else "，与锚定文件不符"
            extra = f"（其后 {c.unwitnessed} 条尚未锚定）" if c.unwitnessed else ""
            lines.append(f"站点{c.site}终端{c.terminal}{word} {c.rows} 条：链{state}{anchor}{extra}")
        lines.append(f"逐件重放核对 {report.cases} 件办件")
        lines += [f"注意：{r['at'][:16].replace('T', ' ')} 由 {r['os_user']} 接受了与锚定记录不符的数据库"
                  f"（原因：{r['reason']}）" for r in report.recoveries]
        lines += [f"注意：{a['at'][:16].replace('T', ' ')} 启动时补记锚定终端{a['terminal']}的 {a['rows']} 条"
                  "记录（上次断电时的最后一次写入，或有人绕过程序直接写入了数据库）"
                  for a in report.adopted]
        lines += [f"!! {f.problem}" for f in report.findings]
        lines.append("结论：未发现篡改" if report.ok else
                     f"结论：发现 {len(report.findings)} 处问题，记录可能被篡改，请联系管理员")
        return "\n".join(lines)

    emit(args, {"ok": report.ok, "cases": report.cases, "chains": report.chains,
                "findings": report.findings, "recoveries": report.recoveries,
                "adopted": report.adopted,
                "anchor_lines": report.anchor_lines}, text)
    if not report.ok:
        raise SystemExit(EXIT_INTEGRITY)


def cmd_audit_check_paper(ws: Workstation, args: argparse.Namespace) -> None:
    from app.domain.numbering import CaseNumber, CaseNumberError

    try:
        number = str(CaseNumber.parse(args.number))
    except CaseNumberError as exc:
        raise UsageError(f"“{args.number}”不是有效的办件编号：{exc}") from None
    try:
        result = ws.integrity.check_paper(number, args.code)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    emit(args, result, result.message)
    if not result.agrees:
        raise SystemExit(EXIT_INTEGRITY)


def cmd_backup(ws: Workstation, args: argparse.Namespace) -> None:
    from app.services.backup import BackupService
    from app.services.permissions import Action

    service = BackupService(ws.settings, ws.db)
    if args.auto:
        info = service.backup_if_due()
        if info is None:
            emit(args, {"done": False}, "今天已备份，或未配置 [backup] dir：未做改动"
                 if ws.settings.backup_dir else "未配置自动备份位置（settings.toml 的 [backup] dir）")
            return
    else:
        operator_clerk(ws, args, Action.BACKUP)
        place = args.dir or ws.settings.backup_dir
        if not place:
            raise UsageError("请给出备份目录（如 U 盘上的目录），或在 settings.toml 的 [backup] dir 中配置")
        info = service.backup(Path(place))
    emit(args, info, f"已备份到 {info.path}：{info.files} 个文件，{info.bytes / 1048576:.1f} MB，"
         f"{info.cases} 件办件，已校验" + (f"；{len(info.problems)} 个扫描件或文书缺失、损坏，未能备份"
                                        if info.problems else ""))
    for problem in info.problems:
        print(f"yichuang: 注意：{problem}", file=sys.stderr)


def cmd_restore(args: argparse.Namespace) -> None:
    from app.config import load_settings
    from app.services.backup import restore
    from app.services.permissions import Action
    from app.storage.db import DatabaseError
    from app.workstation import open_workstation

    settings = load_settings()
    # While the live database knows its administrators, one of them must do this; a
    # database too damaged to open leaves it to whoever controls the data directory.
    try:
        ws = open_workstation(check=False, seed=False)
    except DatabaseError:
        ws = None
    if ws is not None:
        try:
            if ws.accounts.users():
                operator_clerk(ws, args, Action.RESTORE)
        finally:
            ws.close()
    info = restore(settings, Path(args.dir), accept_older=args.accept_older,
                   reason=args.reason or "", os_user=_os_user())
    lines = [f"已从 {info.restored_from} 恢复"]
    if info.kept_aside:
        lines.append(f"原数据库已移到 {info.kept_aside}（未删除）")
    if info.older_than_anchors:
        lines.append("备份比锚定记录旧，已记录恢复原因；办件编号将从已发出的编号之后继续")
    emit(args, info, "\n".join(lines))


def cmd_recover(ws: Workstation, args: argparse.Namespace) -> None:
    from app.services.accounts import check_password_policy
    from app.services.permissions import Action

    if not args.reason:
        raise UsageError("请用 --reason 写明为什么接受当前数据库（会记入锚定文件）")
    has_accounts = bool(ws.accounts.users())
    password = ""
    if has_accounts:
        # The database still knows its administrators: one of them must say so.
        operator_clerk(ws, args, Action.RESTORE)
    else:
        # Asked and checked before anything is recorded: a refused password changes nothing.
        password = secrets(args).read("数据库中没有账号，请为 admin 设置新密码：")
        check_password_policy("admin", password)
    try:
        done = ws.integrity.recover(args.reason, os_user=_os_user())
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    lines = ["已接受当前数据库，恢复原因已记入锚定文件"]
    marks = done["numbers_resumed_above"]
    if isinstance(marks, list) and marks:
        lines.append("办件编号将从以下编号之后继续：" + "、".join(
            f"终端{t} {d} 第{q}号" for t, d, q in marks))
    docnos = done.get("document_numbers_resumed_above")
    if isinstance(docnos, list) and docnos:
        lines.append("文号将从以下文号之后继续：" + "、".join(str(d) for d in docnos))
    if not has_accounts:
        ws.accounts.create_first_admin(password)
        lines.append("已创建管理员 admin（使用刚才设置的密码）")
    emit(args, done, "\n".join(lines))


def register(sub: Any, common: Parser, operator_opts: Parser) -> None:
    aud = sub.add_parser("audit", parents=[common], help="全程纪实").add_subparsers(
        dest="sub", metavar="操作", required=True, parser_class=Parser)
    aud.add_parser("verify", parents=[common],
                   help="校验所有办件记录链、逐件重放核对、核对锚定文件和已发编号").set_defaults(
        fn=cmd_audit_verify, check="try")
    p = aud.add_parser("check-paper", parents=[common], help="核对文书上的记录校验码")
    p.add_argument("number", metavar="办件编号")
    p.add_argument("code", metavar="校验码", help="文书上印的“记录校验码”，如 1a2b-3c4d-5e6f")
    p.set_defaults(fn=cmd_audit_check_paper, check="try")

    p = sub.add_parser("backup", parents=[common, operator_opts],
                       help="备份（数据库、锚定文件、档案文件），窗口运行时也可以")
    p.add_argument("dir", nargs="?", help="备份到哪个目录（默认为 [backup] dir）")
    p.add_argument("--auto", action="store_true", help="每日自动备份：今天尚未备份时才备份（供计划任务）")
    p.set_defaults(fn=cmd_backup, writes=True)

    p = sub.add_parser("restore", parents=[common, operator_opts],
                       help="从备份恢复（先关闭窗口；原数据库移到 replaced/ 保留）")
    p.add_argument("dir", help="备份目录（yichuang-backup-…）")
    p.add_argument("--accept-older", action="store_true", help="备份比锚定记录旧时仍然恢复")
    p.add_argument("--reason", help="恢复原因（恢复较旧备份时必填，记入锚定文件）")
    p.set_defaults(fn=None, standalone=cmd_restore)

    p = sub.add_parser("recover", parents=[common, operator_opts],
                       help="完整性检查未通过时，由管理员接受当前数据库（编号从已发出的之后继续）")
    p.add_argument("--reason", help="原因（必填，记入锚定文件）")
    p.set_defaults(fn=cmd_recover, check=False, writes=True)
