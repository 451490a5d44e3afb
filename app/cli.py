"""``yichuang`` sub-commands: the same services the window uses, for scripts and admins.

Every command prints a human-readable answer, or JSON with ``--json``. Bad arguments
and bad files print one line on stderr and exit with status 2, changing nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import enum
import getpass
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from app import __version__
from app.config import ConfigError
from app.documents.form import DocumentKind
from app.documents.slips import TicketInfo
from app.documents.targets import PrintTarget
from app.domain.calendar import CalendarNotCovered
from app.domain.calendar_format import CalendarFileError
from app.domain.case import Clerk
from app.domain.catalogue_format import CatalogueFileError
from app.domain.catalogue_writer import bundle_to_json, item_to_json
from app.services import doctor
from app.services.accounts import ROLE_NAMES, LoginError, PasswordPolicyError, Role
from app.services.catalogue import NotFound
from app.services.printing import DocumentError
from app.storage.db import DatabaseError
from app.storage.files import FileWriteError
from app.workstation import Workstation, open_workstation

EXIT_USAGE = 2
MIN_YEAR, MAX_YEAR = 1990, 2200
MAX_WORKDAYS = 3650  # the longest limit the catalogue format allows


class UsageError(Exception):
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


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not argparse's usage block
        raise UsageError(f"参数错误：{_translate(message)}（用 {self.prog} --help 查看用法）")


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    return value


def _emit(args: argparse.Namespace, data: Any, text: str | Callable[[], str]) -> None:
    if args.json:
        print(json.dumps(_jsonable(data), ensure_ascii=False, indent=2))
    else:
        print(text() if callable(text) else text)


def _parse_date(value: str) -> dt.date:
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


def _existing_file(value: str) -> Path:
    path = Path(value)
    if not path.is_file():
        raise UsageError(f"文件不存在：{value}")
    return path


# ---- catalog ---------------------------------------------------------------------------


def cmd_catalog_list(ws: Workstation, args: argparse.Namespace) -> None:
    items = [i for i in ws.catalogue.current().items
             if args.level is None or str(i.level) == args.level]
    rows = [{"code": i.code, "name": i.name, "department": i.department.name,
             "level": i.level, "kind": i.kind, "promised_limit": str(i.promised_limit),
             "version": i.version} for i in items]
    _emit(args, rows, lambda: "\n".join(
        f"{r['code']}  {r['name']}  [{r['level']}·{r['kind']}·{r['promised_limit']}]  "
        f"{r['department']}" for r in rows) + f"\n共 {len(rows)} 项")


def cmd_catalog_search(ws: Workstation, args: argparse.Namespace) -> None:
    hits = ws.catalogue.search(args.query, limit=args.limit)
    _emit(args, hits, lambda: "\n".join(
        f"{'【一件事】' if h.kind == 'bundle' else ''}{h.name}  {h.code}  {h.department}"
        for h in hits) if hits else f"没有找到与“{args.query}”相关的事项")


def cmd_catalog_show(ws: Workstation, args: argparse.Namespace) -> None:
    try:
        item = ws.catalogue.item(args.code)
    except NotFound:
        try:
            bundle = ws.catalogue.bundle(args.code)
        except NotFound:
            raise NotFound(f"目录中没有编码为“{args.code}”的事项或一件事。") from None
        items = ws.catalogue.bundle_items(bundle)
        merged = bundle.merged_materials(items)
        data = {**bundle_to_json(bundle), "materials": [
            {"name": bm.material.name, "form": bm.material.form, "copies": bm.material.copies,
             "items": list(bm.item_codes)} for bm in merged]}
        _emit(args, data, lambda: "\n".join(
            [f"【一件事】{bundle.name}（{bundle.code}）",
             "包含事项：" + "、".join(items[c].name for c in bundle.item_codes),
             "合并材料清单："] +
            [f"  {n}. {bm.material.name}（{bm.material.form}，{bm.material.copies}份）"
             for n, bm in enumerate(merged, 1)]))
        return
    _emit(args, item_to_json(item), lambda: _item_text(item))


def _item_text(item: Any) -> str:
    lines = [
        f"{item.name}",
        f"事项编码：{item.code}（版本 {item.version}）",
        f"实施主体：{item.department.name}",
        f"事项类型：{item.category}  层级：{item.level}  办件类型：{item.kind}",
        f"法定时限：{item.legal_limit}  承诺时限：{item.promised_limit}",
        f"收费：{item.fee}  到现场次数：{item.visits}  网办：{'是' if item.online else '否'}",
    ]
    if item.place:
        lines.append(f"办理地点：{item.place}")
    if item.phone:
        lines.append(f"咨询电话：{item.phone}")
    lines.append("申请材料：")
    for n, m in enumerate(item.materials, 1):
        marks = [str(m.necessity), str(m.source)]
        if m.deferrable:
            marks.append("可容缺")
        if m.commitment:
            marks.append("可告知承诺")
        lines.append(f"  {n}. {m.name}（{m.form}，{m.copies}份；{'，'.join(marks)}）")
    for s in item.scenarios:
        lines.append(f"情形“{s.name}”：增加 {', '.join(s.adds) or '无'}")
    return "\n".join(lines)


def cmd_catalog_import(ws: Workstation, args: argparse.Namespace) -> None:
    result = ws.catalogue.import_file(_existing_file(args.file))
    text = (f"目录 {result.version} 与当前目录相同，未作改动" if result.unchanged else
            f"已导入目录 {result.version}：{result.items} 个事项（新增或新版本 "
            f"{result.new_items} 个），{result.bundles} 个一件事")
    _emit(args, result, text)


def cmd_catalog_export(ws: Workstation, args: argparse.Namespace) -> None:
    count = ws.catalogue.export_file(Path(args.file))
    _emit(args, {"file": args.file, "items": count}, f"已导出 {count} 个事项到 {args.file}")


def cmd_catalog_versions(ws: Workstation, args: argparse.Namespace) -> None:
    releases = ws.catalogue.releases()
    _emit(args, releases, lambda: "\n".join(
        f"{'*' if r.current else ' '} {r.version}  {r.items}项/{r.bundles}个一件事  "
        f"导入于 {r.imported_at:%Y-%m-%d %H:%M}  来源 {r.origin}" for r in releases)
        or "尚未导入任何目录")


# ---- calendar --------------------------------------------------------------------------


def cmd_calendar_check(ws: Workstation, args: argparse.Namespace) -> None:
    info = ws.calendar.check(_parse_date(args.date))
    data = {"date": info.day, "kind": info.kind, "workday": info.is_workday, "name": info.name}
    weekday = "一二三四五六日"[info.day.weekday()]
    _emit(args, data, f"{info.day}（星期{weekday}）：{info.kind}"
          + (f"（{info.name}）" if info.name else ""))


def cmd_calendar_add_workdays(ws: Workstation, args: argparse.Namespace) -> None:
    start = _parse_date(args.date)
    if abs(args.n) > MAX_WORKDAYS:
        raise UsageError(f"工作日数应在 -{MAX_WORKDAYS} 至 {MAX_WORKDAYS} 之间")
    result = ws.calendar.add_workdays(start, args.n)
    data = {"from": start, "workdays": args.n, "date": result}
    _emit(args, data, f"{start} 之后第 {args.n} 个工作日是 {result}"
          f"（星期{'一二三四五六日'[result.weekday()]}）")


def cmd_calendar_import(ws: Workstation, args: argparse.Namespace) -> None:
    years = ws.calendar.import_file(_existing_file(args.file))
    _emit(args, {"years": years}, f"已导入 {'、'.join(map(str, years))} 年节假日安排")


def cmd_calendar_export(ws: Workstation, args: argparse.Namespace) -> None:
    years = ws.calendar.export_file(Path(args.file))
    _emit(args, {"file": args.file, "years": years},
          f"已导出 {years[0]}-{years[-1]} 年工作日历到 {args.file}" if years else "日历为空")


def cmd_calendar_years(ws: Workstation, args: argparse.Namespace) -> None:
    years = ws.calendar.years()
    _emit(args, years, lambda: "\n".join(
        f"{y.year}  放假{y.holidays}天  调休上班{y.adjusted_workdays}天  "
        f"来源 {y.source}" for y in years))


# ---- print -----------------------------------------------------------------------------


def _cli_clerk(ws: Workstation, args: argparse.Namespace) -> Clerk:
    # The command line has no login: documents name who ran it (--clerk, else the OS
    # account), and the archive records it as such.
    name = (args.clerk or _os_user() or "管理员").strip()[:32]
    s = ws.settings
    return Clerk(f"cli:{name}", name, s.site_code, s.terminal, s.window)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):   # a uid without a passwd entry (containers)
        return ""


def _print_target(args: argparse.Namespace) -> PrintTarget | None:
    chosen = [t for t in (("pdf", args.pdf), ("system", args.printer), ("escpos", args.escpos))
              if t[1] is not None]
    if len(chosen) > 1:
        raise UsageError("--pdf、--printer、--escpos 只能选一个")
    if not chosen:
        return None
    try:
        return PrintTarget.parse(f"{chosen[0][0]}:{chosen[0][1]}")
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def cmd_print(ws: Workstation, args: argparse.Namespace) -> None:
    kind = DocumentKind(args.kind)
    target = _print_target(args)
    clerk = _cli_clerk(ws, args)
    try:
        if kind is DocumentKind.CHECKLIST:
            doc = ws.documents.render_checklist(args.ref, clerk, frozenset(args.scenario))
        elif kind is DocumentKind.TICKET:
            if args.ahead < 0:
                raise UsageError("--ahead 不能为负数")
            if not re.fullmatch(r"[A-Za-z]{0,2}\d{1,4}", args.ref.strip()):
                raise UsageError(f"票号“{args.ref}”无效，应为字母加数字，如 A012")
            doc = ws.documents.render_ticket(TicketInfo(
                args.ref.strip().upper(), args.business, ws.settings.site_name,
                dt.datetime.now().replace(microsecond=0), args.ahead, args.ticket_class))
        else:
            doc = ws.documents.render_case_document(kind, args.ref, clerk,
                                                    reprint=True if args.copy else None)
    except DocumentError as exc:
        raise UsageError(str(exc)) from exc
    outcome = ws.documents.print(doc, clerk, target)
    for warning in doc.warnings:
        print(f"yichuang: 注意：{warning}", file=sys.stderr)
    data = {**_jsonable(outcome), "kind": kind, "title": doc.title, "pages": doc.pages,
            "bytes": len(doc.pdf), "warnings": list(doc.warnings)}
    _emit(args, data, outcome.message)
    if not outcome.ok:
        raise SystemExit(1)


# ---- users, audit, doctor --------------------------------------------------------------


def cmd_user_list(ws: Workstation, args: argparse.Namespace) -> None:
    users = ws.accounts.users()
    _emit(args, users, lambda: "\n".join(
        f"{u.username}  {u.display_name}  {ROLE_NAMES[u.role]}"
        + ("  （须修改密码）" if u.must_change_password else "") for u in users))


def cmd_user_add(ws: Workstation, args: argparse.Namespace) -> None:
    user = ws.accounts.add_user(args.username, args.name, Role(args.role), args.password)
    _emit(args, user, f"已创建用户 {user.username}（{user.display_name}），首次登录须修改密码")


def cmd_user_reset(ws: Workstation, args: argparse.Namespace) -> None:
    ws.accounts.reset_password(args.username, args.password)
    _emit(args, {"username": args.username}, f"已重置 {args.username} 的密码，登录后须修改")


def cmd_audit_verify(ws: Workstation, args: argparse.Namespace) -> None:
    s = ws.settings
    report = ws.cases.verify_audit_chain(s.site_code, s.terminal)
    _emit(args, {**_jsonable(report), "intact": report.intact},
          f"本终端 {report.events} 条办件记录，哈希链完整" if report.intact else
          f"哈希链在事件 {report.broken_at} 处断开：记录可能被篡改，请联系管理员")
    if not report.intact:
        raise SystemExit(1)


def cmd_doctor(ws: Workstation, args: argparse.Namespace) -> None:
    s = ws.settings
    checks = [doctor.check_data_dir(s), doctor.check_site(s)]
    current, head = ws.db.current_revision(), ws.db.head_revision()
    checks.append(doctor.Check("数据库", current == head,
                               f"{s.database_path}（结构版本 {current}）" if current == head else
                               f"结构版本 {current}，应为 {head}：请重新启动程序以升级"))
    releases = [r for r in ws.catalogue.releases() if r.current]
    checks.append(doctor.Check(
        "事项目录", bool(releases),
        f"{releases[0].version}，{releases[0].items} 个事项" if releases else
        "尚未导入事项目录：yichuang catalog import 文件"))
    years = sorted(ws.calendar.calendar().covered_years)
    today = dt.date.today()
    need = today.year + 1 if today.month >= 11 else today.year
    covered = need in years
    checks.append(doctor.Check(
        "工作日历", covered,
        f"覆盖 {years[0]}-{years[-1]} 年" if covered else
        f"覆盖至 {years[-1] if years else '无'} 年，缺 {need} 年节假日安排："
        "国务院通知发布后用 yichuang calendar import 导入"))
    checks += [doctor.check_screen_fonts(), doctor.check_document_fonts(s),
               doctor.check_printers(s), doctor.check_capture_devices(),
               doctor.check_server(s)]
    _emit(args, checks, lambda: "\n".join(
        f"{'OK ' if c.ok else '!! '} {c.name}：{c.detail}" for c in checks))


# ---- parser ----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    # SUPPRESS: a sub-command that is not given --json must not reset the --json given
    # before it (``yichuang --json catalog search yyzz``) to False; main() adds the
    # False. (Not set_defaults: the parsers share this action object.)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="以 JSON 输出")
    parser = _Parser(prog="yichuang", parents=[common],
                     description="一窗通：政务服务综合窗口客户端。不带参数运行时打开窗口。")
    parser.add_argument("--version", action="version", version=f"yichuang {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="命令", parser_class=_Parser)

    sub.add_parser("doctor", parents=[common], help="检查本机环境").set_defaults(fn=cmd_doctor)

    cat = sub.add_parser("catalog", parents=[common], help="事项目录").add_subparsers(
        dest="sub", metavar="操作", required=True, parser_class=_Parser)
    p = cat.add_parser("list", parents=[common], help="列出事项")
    p.add_argument("--level", choices=["县级", "乡镇", "村"])
    p.set_defaults(fn=cmd_catalog_list)
    p = cat.add_parser("search", parents=[common], help="按名称、拼音或首字母搜索")
    p.add_argument("query")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(fn=cmd_catalog_search)
    p = cat.add_parser("show", parents=[common], help="显示事项或一件事")
    p.add_argument("code")
    p.set_defaults(fn=cmd_catalog_show)
    p = cat.add_parser("import", parents=[common], help="导入目录文件")
    p.add_argument("file")
    p.set_defaults(fn=cmd_catalog_import)
    p = cat.add_parser("export", parents=[common], help="导出当前目录")
    p.add_argument("file")
    p.set_defaults(fn=cmd_catalog_export)
    cat.add_parser("versions", parents=[common], help="导入记录").set_defaults(
        fn=cmd_catalog_versions)

    cal = sub.add_parser("calendar", parents=[common], help="工作日历").add_subparsers(
        dest="sub", metavar="操作", required=True, parser_class=_Parser)
    p = cal.add_parser("check", parents=[common], help="查询某天是否上班")
    p.add_argument("date")
    p.set_defaults(fn=cmd_calendar_check)
    p = cal.add_parser("add-workdays", parents=[common], help="计算第N个工作日")
    p.add_argument("date")
    p.add_argument("n", type=int)
    p.set_defaults(fn=cmd_calendar_add_workdays)
    p = cal.add_parser("import", parents=[common], help="导入节假日安排")
    p.add_argument("file")
    p.set_defaults(fn=cmd_calendar_import)
    p = cal.add_parser("export", parents=[common], help="导出工作日历")
    p.add_argument("file")
    p.set_defaults(fn=cmd_calendar_export)
    cal.add_parser("years", parents=[common], help="已覆盖的年份").set_defaults(
        fn=cmd_calendar_years)

    usr = sub.add_parser("user", parents=[common], help="账号").add_subparsers(
        dest="sub", metavar="操作", required=True, parser_class=_Parser)
    usr.add_parser("list", parents=[common], help="列出账号").set_defaults(fn=cmd_user_list)
    p = usr.add_parser("add", parents=[common], help="新建账号")
    p.add_argument("username")
    p.add_argument("--name", required=True, help="姓名")
    p.add_argument("--role", choices=[r.value for r in Role], default="clerk")
    p.add_argument("--password", required=True, help="初始密码（首次登录须修改）")
    p.set_defaults(fn=cmd_user_add)
    p = usr.add_parser("reset-password", parents=[common], help="重置密码")
    p.add_argument("username")
    p.add_argument("--password", required=True)
    p.set_defaults(fn=cmd_user_reset)

    p = sub.add_parser("print", parents=[common], help="打印文书",
                       description="打印或导出文书。KIND：" + "，".join(
                           f"{k.value}={k.display}" for k in DocumentKind) +
                       "。REF：checklist 为事项或一件事编码，ticket 为票号，其余为办件编号。")
    p.add_argument("kind", choices=[k.value for k in DocumentKind], metavar="KIND")
    p.add_argument("ref", metavar="REF")
    p.add_argument("--pdf", metavar="OUT", help="不打印，写成PDF文件")
    p.add_argument("--printer", metavar="NAME", help="系统打印机名称（CUPS）")
    p.add_argument("--escpos", metavar="URI", help="热敏打印机，如 tcp://10.0.0.31:9100")
    p.add_argument("--copy", action="store_true", help="标注为补打")
    p.add_argument("--clerk", help="经办人姓名（默认为当前系统用户）")
    p.add_argument("--scenario", action="append", default=[], metavar="ID",
                   help="checklist：适用的办理情形（可多次给出）")
    p.add_argument("--business", default="综合受理", help="ticket：业务类别")
    p.add_argument("--ahead", type=int, default=0, help="ticket：前面等候人数")
    p.add_argument("--class", dest="ticket_class", default="普通",
                   choices=["普通", "预约", "绿色通道"], help="ticket：票类")
    p.set_defaults(fn=cmd_print)

    aud = sub.add_parser("audit", parents=[common], help="全程纪实").add_subparsers(
        dest="sub", metavar="操作", required=True, parser_class=_Parser)
    aud.add_parser("verify", parents=[common], help="校验本终端办件记录哈希链").set_defaults(
        fn=cmd_audit_verify)
    return parser


_USER_ERRORS = (UsageError, CatalogueFileError, CalendarFileError, CalendarNotCovered,
                NotFound, ConfigError, DatabaseError, LoginError, PasswordPolicyError,
                FileWriteError)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        args.json = getattr(args, "json", False)
        if not getattr(args, "fn", None):
            raise UsageError("请给出命令，例如 yichuang catalog search yyzz（--help 查看全部命令）")
        ws = open_workstation()
        try:
            args.fn(ws, args)
        finally:
            ws.close()
    except _USER_ERRORS as exc:
        message = str(exc)
        if isinstance(exc, CatalogueFileError) and len(exc.issues) > 1:
            # Still one line, but the administrator sees every problem at once.
            message = "目录文件有误：" + "；".join(str(i) for i in exc.issues)
        # One line, whatever a file's value smuggled into the message.
        print(f"yichuang: {' '.join(message.split())}", file=sys.stderr)
        return EXIT_USAGE
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
