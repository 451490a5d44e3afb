"""``yichuang queue …``: 排队叫号 from a terminal — take a number, call it, deal with it.

Who runs what:

* ``take`` is the kiosk's: no operator. Whoever stands in the hall takes a number at an
  unattended kiosk; a ticket records no decision about anyone, and the kiosk's own view
  asks for no login either. ``--print`` sends it to the thermal printer (``[printers]``
  ``ticket`` or ``thermal`` in settings.toml, or ``--escpos``/``--pdf``/``--printer``):
  the number is saved first, so a printer fault never loses it (exit 1, the number said).
* ``status`` and the ``list`` of categories and windows: no operator — the hall display
  shows the same to everyone.
* The window's actions (call, recall, serve, skip, suspend, resume, transfer, finish,
  pause, unpause) run as an operator (``--user``): the clerk goes into every event.
* ``categories set`` and ``windows set`` change the site's queue configuration:
  administrators and 值班长 only (the same right as the other reference data).
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import TYPE_CHECKING, Any

from app.cli.common import Parser, UsageError, emit, operator_clerk
from app.domain.queue import PRIORITY_REASONS, STATUS_NAMES, TicketClass

if TYPE_CHECKING:
    from app.domain.case import Clerk
    from app.domain.queue import Ticket
    from app.workstation import Workstation

CLASS_WORDS = {"普通": TicketClass.ORDINARY, "预约": TicketClass.APPOINTMENT,
               "优先": TicketClass.PRIORITY, "绿色通道": TicketClass.PRIORITY}
# What a kiosk attendant types for the recorded reasons (each must name one reason).
REASON_WORDS = {"60岁以上": PRIORITY_REASONS[0], "60周岁以上": PRIORITY_REASONS[0],
                "老人": PRIORITY_REASONS[0], "老年人": PRIORITY_REASONS[0],
                "残疾": PRIORITY_REASONS[1], "军人": PRIORITY_REASONS[2],
                "孕妇": PRIORITY_REASONS[3], "婴儿": PRIORITY_REASONS[3],
                "其他": PRIORITY_REASONS[4]}


# ---- how tickets are shown ---------------------------------------------------------------


def local_time(at: dt.datetime) -> dt.datetime:
    """Tickets keep UTC; the hall reads its own clock."""
    return at.astimezone().replace(microsecond=0, tzinfo=None)


def ticket_data(t: Ticket, names: dict[str, str]) -> dict[str, Any]:
    from app.documents.masking import mask_id

    return {"number": t.number, "category": t.category,
            "category_name": names.get(t.category, t.category), "class": t.ticket_class,
            "status": t.status, "status_name": STATUS_NAMES[t.status], "window": t.window,
            "day": t.day, "issued_at": local_time(t.issued_at),
            "priority_reason": t.priority_reason, "appointment": t.appointment,
            "id_number": mask_id(t.id_number),   # the full number stays in the database
            "target_window": t.target_window, "recalls": t.recalls, "returns": t.returns}


def _named(t: Ticket, names: dict[str, str]) -> str:
    mark = "" if t.ticket_class is TicketClass.ORDINARY else f"，{t.ticket_class}"
    return f"{t.number}（{names.get(t.category, t.category)}{mark}）"


def _names(ws: Workstation) -> dict[str, str]:
    return {c.prefix: c.name for c in ws.queue.categories()}


# ---- the kiosk -------------------------------------------------------------------------


def _ticket_class(args: argparse.Namespace) -> TicketClass:
    """--class, or what --reason (优先) and --code/--id (预约) imply; misfits refused."""
    if args.ticket_class is None:
        if args.reason:
            return TicketClass.PRIORITY
        return TicketClass.APPOINTMENT if (args.code or args.id) else TicketClass.ORDINARY
    chosen = CLASS_WORDS[args.ticket_class]
    if args.reason and chosen is not TicketClass.PRIORITY:
        raise UsageError(f"--reason 只用于优先号（绿色通道），不能用于{chosen}号")
    if (args.code or args.id) and chosen is not TicketClass.APPOINTMENT:
        raise UsageError(f"--code、--id 用于预约取号，不能用于{chosen}号")
    return chosen


def priority_reason(text: str) -> str:
    """The recorded reason for what was typed: the reason itself, a short word, or a
    part of exactly one reason."""
    text = text.strip()
    if not text:
        return ""
    if text in PRIORITY_REASONS:
        return text
    if text in REASON_WORDS:
        return REASON_WORDS[text]
    found = [r for r in PRIORITY_REASONS if text in r]
    if len(found) == 1:
        return found[0]
    raise UsageError(f"优先原因“{text}”无法识别，可选：" + "、".join(PRIORITY_REASONS))


def _id_number(text: str) -> str:
    from app.domain.identity import IdentityError, check_resident_id

    if not text.strip():
        return ""
    try:
        return check_resident_id(text).number
    except IdentityError as exc:
        raise UsageError(f"--id：{exc}") from None


def kiosk_clerk(ws: Workstation) -> Clerk:
    """Who prints at the kiosk: nobody logged in; the ticket is no case document, so
    the print service checks no right for it."""
    from app.domain.case import Clerk

    s = ws.settings
    return Clerk("", "自助取号", s.site_code, s.terminal, "", "")


def ticket_target(ws: Workstation, args: argparse.Namespace) -> Any:
    """Where --print sends the ticket; refused before a number is taken if nowhere."""
    from app.cli.printing import print_target
    from app.documents.form import DocumentKind
    from app.storage.files import check_output_path

    target = print_target(args)
    if target is None:
        target = ws.documents.target_for(DocumentKind.TICKET)
    if target is None:
        raise UsageError("未配置热敏打印机，未取号：请用 --escpos 地址 指定，或请管理员在 "
                         "settings.toml 的 [printers] 中设置 ticket 或 thermal")
    if target.scheme == "pdf":
        from pathlib import Path

        check_output_path(Path(target.address), ws.settings.data_dir, force=args.force)
    return target


def print_issued(ws: Workstation, number: str, day: dt.date | None, target: Any,
                 clerk: Clerk, *, force: bool = False) -> tuple[Any, Any, list[str]]:
    """Print the stored ticket ``number`` of ``day``: what the store says, people ahead
    counted now. Returns the print outcome, the document and notes for stderr."""
    from app.documents.slips import TicketInfo
    from app.domain.queue import TicketStatus
    from app.domain.queue_policy import waiting_ahead

    ticket = ws.queue.ticket(number, day)   # QueueRuleError (exit 2) if there is none
    notes: list[str] = []
    ahead = 0
    if ticket.status is TicketStatus.WAITING:
        ahead = waiting_ahead(ticket, ws.queue.tickets(ticket.day))
    else:   # no longer queueing: the slip must not invent a queue for it
        notes.append(f"{ticket.number}号{STATUS_NAMES[ticket.status]}，票面等候人数印为0")
    info = TicketInfo(ticket.number, _names(ws).get(ticket.category, ticket.category),
                      ws.settings.site_name, local_time(ticket.issued_at), ahead,
                      str(ticket.ticket_class))
    doc = ws.documents.archival(ws.documents.render_ticket(info))
    outcome = ws.documents.print(doc, clerk, target, overwrite=force)
    return outcome, doc, [*notes, *doc.warnings]


def cmd_take(ws: Workstation, args: argparse.Namespace) -> None:
    import sys

    from app.cli.common import jsonable

    ticket_class = _ticket_class(args)
    reason = priority_reason(args.reason or "")
    id_number = _id_number(args.id or "")
    if not args.print and (args.pdf or args.printer or args.escpos or args.force):
        raise UsageError("--pdf、--printer、--escpos、--force 须与 --print 一起使用")
    target = ticket_target(ws, args) if args.print else None
    issued = ws.queue.take(args.category, ticket_class, priority_reason=reason,
                           appointment=args.code or "", id_number=id_number)
    names = _names(ws)
    data: dict[str, Any] = {**ticket_data(issued.ticket, names),
                            "waiting_ahead": issued.waiting_ahead, "printed": None}
    text = (f"已取号 {_named(issued.ticket, names)}，前面还有 {issued.waiting_ahead} 人等候")
    if target is None:
        emit(args, data, text)
        return
    outcome, _doc, notes = print_issued(ws, issued.ticket.number, issued.ticket.day, target,
                                  kiosk_clerk(ws), force=args.force)
    for note in notes:
        print(f"yichuang: 注意：{note}", file=sys.stderr)
    data["printed"] = jsonable(outcome)
    if outcome.ok:
        emit(args, data, f"{text}\n{outcome.message}")
        return
    emit(args, data, f"{text}\n排队票未能打印（{outcome.message}）。号码 {issued.ticket.number} "
                     "已保存，不会丢失：请记下号码，或联系工作人员补打"
                     f"（yichuang print ticket {issued.ticket.number}）")
    raise SystemExit(1)   # the number is taken; the paper is not


# ---- the window ------------------------------------------------------------------------


def _clerk(ws: Workstation, args: argparse.Namespace) -> Clerk:
    from app.domain.queue import check_window
    from app.services.permissions import Action

    args.window = check_window(args.window.strip())
    known = [w.number for w in ws.queue.windows()]
    if args.window not in known:   # a typo costs no password prompt
        raise UsageError(f"{args.window}号窗口没有配置排队业务，已配置的窗口："
                         + ("、".join(known) or "无") + "（管理员用 yichuang queue windows set 添加）")
    return operator_clerk(ws, args, Action.WRITE_CASES)


def cmd_call(ws: Workstation, args: argparse.Namespace) -> None:
    clerk = _clerk(ws, args)
    ticket = ws.queue.call_next(args.window, clerk_id=clerk.clerk_id)
    names = _names(ws)
    if ticket is None:
        emit(args, {"window": args.window, "ticket": None},
             f"{args.window}号窗口：没有等候的号")
        return
    emit(args, {"window": args.window, "ticket": ticket_data(ticket, names)},
         f"请{ticket.number}号到{args.window}号窗口办理 —— {_named(ticket, names)}")


# The window's actions on the ticket it holds: (service method, what the line says).
ACTIONS = {"recall": ("recall", "重呼"), "serve": ("serve", "开始办理"),
           "skip": ("skip", "过号"), "suspend": ("suspend", "挂起"),
           "finish": ("finish", "办结")}


def cmd_action(ws: Workstation, args: argparse.Namespace) -> None:
    method, word = ACTIONS[args.action]
    clerk = _clerk(ws, args)
    ticket = getattr(ws.queue, method)(args.window, clerk_id=clerk.clerk_id)
    names = _names(ws)
    text = f"{args.window}号窗口{word}：{_named(ticket, names)}，{STATUS_NAMES[ticket.status]}"
    if args.action == "recall":
        text += f"（本次叫号已重呼{ticket.recalls}次）"
    elif args.action == "skip" and ticket.status.value == "waiting":
        text += f"（已排到队尾，第{ticket.returns}次过号）"
    _window_result(args, ticket, names, text)


def cmd_resume(ws: Workstation, args: argparse.Namespace) -> None:
    clerk = _clerk(ws, args)
    ticket = ws.queue.resume(args.window, args.number, clerk_id=clerk.clerk_id)
    names = _names(ws)
    _window_result(args, ticket, names,
                   f"请{ticket.number}号到{args.window}号窗口办理 —— 回呼{_named(ticket, names)}")


def cmd_transfer(ws: Workstation, args: argparse.Namespace) -> None:
    # Checked here, not by an argparse group: its messages are English.
    if bool(args.to_category) == bool(args.to_window):
        raise UsageError("转移须给出 --to-category 业务类别 或 --to-window 窗口号，二者选一")
    clerk = _clerk(ws, args)
    ticket = ws.queue.transfer(args.window, category=args.to_category or "",
                               to_window=args.to_window or "", clerk_id=clerk.clerk_id)
    names = _names(ws)
    where = (f"{args.to_window}号窗口" if args.to_window
             else f"{names.get(ticket.category, ticket.category)}（{ticket.category}）")
    _window_result(args, ticket, names,
                   f"{args.window}号窗口已将{ticket.number}号转到{where}，按取号时间排队")


def _window_result(args: argparse.Namespace, ticket: Ticket, names: dict[str, str],
                   text: str) -> None:
    emit(args, {"window": args.window, "ticket": ticket_data(ticket, names)}, text)


def cmd_pause(ws: Workstation, args: argparse.Namespace) -> None:
    _clerk(ws, args)
    pause = args.action == "pause"
    window = (ws.queue.pause_window if pause else ws.queue.resume_window)(args.window)
    emit(args, {"window": window.number, "paused": window.paused},
         f"{window.number}号窗口已{'暂停叫号' if pause else '恢复叫号'}")


# ---- the hall --------------------------------------------------------------------------


def cmd_status(ws: Workstation, args: argparse.Namespace) -> None:
    status = ws.queue.status()
    names = _names(ws)
    windows: list[dict[str, Any]] = [
        {"window": w, "paused": w in status.paused,
         "current": ticket_data(t, names) if t else None,
         "suspended": [s.number for s in status.suspended.get(w, [])]}
        for w, t in status.current.items()]
    data = {"day": status.day,
            "waiting": [{"category": p, "name": names.get(p, p), "waiting": n}
                        for p, n in status.waiting.items()],
            "windows": windows}

    def text() -> str:
        lines = [f"{status.day:%Y-%m-%d} 排队情况"]
        lines += [f"  {p} {names.get(p, p)}：等候 {n} 人" for p, n in status.waiting.items()]
        for w in windows:
            now = w["current"]
            state = f"{now['number']} {now['status_name']}" if now else "空闲"
            if w["paused"]:
                state += "（已暂停）"
            if w["suspended"]:
                state += "，挂起：" + "、".join(w["suspended"])
            lines.append(f"  {w['window']}号窗口：{state}")
        return "\n".join(lines)

    emit(args, data, text)


# ---- configuration ---------------------------------------------------------------------


def _configurer(ws: Workstation, args: argparse.Namespace) -> None:
    """An administrator or 值班长: the queue's categories and windows are the site's
    reference data, with the same right as the catalogue and the calendar."""
    from app.cli.common import operator
    from app.services.permissions import ROLE_NAMES, Action, PermissionDenied, allowed

    session = operator(ws, args)
    if not allowed(str(session.role), Action.IMPORT_REFERENCE):
        who = ROLE_NAMES.get(session.role, str(session.role))
        raise PermissionDenied(f"当前账号（{who}）无权修改排队设置，须由系统管理员或值班长操作。",
                               action=Action.IMPORT_REFERENCE, role=str(session.role))


def cmd_categories(ws: Workstation, args: argparse.Namespace) -> None:
    from dataclasses import replace

    from app.domain.queue_policy import Category

    if getattr(args, "prefix", None) is not None:
        prefix = args.prefix.strip().upper()
        old = next((c for c in ws.queue.categories() if c.prefix == prefix), None)
        _configurer(ws, args)
        new = Category(prefix, args.name, position=len(ws.queue.categories()) + 1)
        if old is not None:
            new = replace(old, name=args.name)
        if args.position is not None:
            new = replace(new, position=args.position)
        if args.active is not None:
            new = replace(new, active=args.active)
        saved = ws.queue.save_category(new)
        emit(args, saved, f"已{'修改' if old else '添加'}业务类别 {saved.prefix} {saved.name}"
                          + ("" if saved.active else "（停用：不再取号）"))
        return
    rows = ws.queue.categories()
    emit(args, rows, lambda: "\n".join(
        f"{c.prefix} {c.name}" + ("" if c.active else "（停用）") for c in rows))


def _ranked(text: str) -> tuple[tuple[str, int], ...]:
    """"A,C" (ranks 1, 2 in that order) or "B:1,C:1" (ranks given)."""
    out = []
    for n, part in enumerate(p.strip() for p in text.split(",") if p.strip()):
        prefix, colon, rank = part.partition(":")
        if colon and not rank.strip().isdigit():
            raise UsageError(f"--categories：“{part}”的优先级应为数字，如 A:1")
        out.append((prefix.strip().upper(), int(rank) if colon else n + 1))
    if not out:
        raise UsageError("--categories 至少给出一个业务类别，如 A,C 或 A:1,C:2")
    return tuple(out)


def cmd_windows(ws: Workstation, args: argparse.Namespace) -> None:
    from dataclasses import replace

    from app.domain.queue import check_window
    from app.domain.queue_policy import WindowConfig

    if getattr(args, "number", None) is not None:
        number = check_window(args.number.strip())
        categories = _ranked(args.categories)
        old = next((w for w in ws.queue.windows() if w.number == number), None)
        _configurer(ws, args)
        new = replace(old, categories=categories) if old else WindowConfig(
            number, f"{number}号窗口", categories)
        if args.name is not None:
            new = replace(new, name=args.name.strip())
        saved = ws.queue.save_window(new)
        emit(args, saved, f"已{'修改' if old else '添加'}{saved.number}号窗口：{_serves(saved)}")
        return
    rows = ws.queue.windows()
    emit(args, rows, lambda: "\n".join(
        f"{w.number} {w.name}：{_serves(w)}" + ("（已暂停）" if w.paused else "") for w in rows))


def _serves(w: Any) -> str:
    return "、".join(f"{p}（优先级{r}）" for p, r in w.categories) or "不办理排队业务"


def register(sub: Any, common: Parser, operator_opts: Parser) -> None:
    queue = sub.add_parser("queue", parents=[common], help="排队叫号：取号、叫号、排队设置",
                           description=__doc__).add_subparsers(
        dest="sub", metavar="操作", required=True, parser_class=Parser)
    p = queue.add_parser("take", parents=[common], help="取号（自助取号机，无须登录）")
    p.add_argument("category", metavar="CATEGORY", help="业务类别字母，如 A")
    p.add_argument("--class", dest="ticket_class", choices=list(CLASS_WORDS),
                   help="票类，默认普通；给出 --reason 即为优先，给出 --code 或 --id 即为预约")
    p.add_argument("--reason", help="优先原因：" + "、".join(PRIORITY_REASONS)
                   + "（可简写，如 60岁以上、残疾、军人）")
    p.add_argument("--id", help="预约取号：身份证号码")
    p.add_argument("--code", help="预约取号：预约码")
    p.add_argument("--print", action="store_true", help="取号后打印排队票（号码先保存）")
    p.add_argument("--escpos", metavar="URI", help="--print：热敏打印机，默认按设置")
    p.add_argument("--pdf", metavar="OUT", help="--print：不打印，写成PDF文件")
    p.add_argument("--printer", metavar="NAME", help="--print：系统打印机名称")
    p.add_argument("--force", action="store_true", help="--pdf：覆盖已有文件")
    p.set_defaults(fn=cmd_take, writes=True)

    def window_parser(name: str, help_text: str) -> argparse.ArgumentParser:
        w: argparse.ArgumentParser = queue.add_parser(
            name, parents=[common, operator_opts], help=help_text + "（须 --user）")
        w.add_argument("--window", required=True, metavar="N", help="窗口号")
        return w

    window_parser("call", "叫下一个号").set_defaults(fn=cmd_call, writes=True)
    for action, help_text in (("recall", "重呼当前号"), ("serve", "当前号开始办理"),
                              ("skip", "过号（按设置排到队尾一次）"),
                              ("suspend", "挂起当前号（之后用 resume 回呼）"),
                              ("finish", "办结当前号")):
        window_parser(action, help_text).set_defaults(fn=cmd_action, action=action,
                                                      writes=True)
    p = window_parser("resume", "回呼本窗口挂起的号")
    p.add_argument("number", metavar="NUMBER", help="挂起的票号，如 A012")
    p.set_defaults(fn=cmd_resume, writes=True)
    p = window_parser("transfer", "转移当前号到其他业务类别或窗口（按取号时间排队）")
    p.add_argument("--to-category", metavar="X", help="转到的业务类别字母")
    p.add_argument("--to-window", metavar="M", help="转到的窗口号")
    p.set_defaults(fn=cmd_transfer, writes=True)
    window_parser("pause", "暂停本窗口叫号").set_defaults(fn=cmd_pause, action="pause",
                                                    writes=True)
    window_parser("unpause", "恢复本窗口叫号").set_defaults(fn=cmd_pause, action="unpause",
                                                      writes=True)
    from app.cli import queue_stats

    queue_stats.register(queue, common, operator_opts)
    queue.add_parser("status", parents=[common],
                     help="今天的排队情况：各类别等候人数，各窗口当前号").set_defaults(
        fn=cmd_status)
    p = queue.add_parser("categories", parents=[common], help="业务类别：列出，或设置（管理员）")
    p.set_defaults(fn=cmd_categories)
    acts = p.add_subparsers(dest="what", metavar="操作", parser_class=Parser)
    acts.add_parser("list", parents=[common], help="列出业务类别").set_defaults(
        fn=cmd_categories)
    p = acts.add_parser("set", parents=[common, operator_opts],
                        help="添加或修改业务类别（管理员或值班长）")
    p.add_argument("prefix", metavar="PREFIX", help="字母 A-Z，票号以它开头")
    p.add_argument("name", metavar="NAME", help="名称，如 综合受理")
    p.add_argument("--position", type=int, help="在取号机和大厅屏上的顺序")
    state = p.add_mutually_exclusive_group()
    state.add_argument("--active", dest="active", action="store_true", default=None,
                       help="启用（可取号）")
    state.add_argument("--inactive", dest="active", action="store_false",
                       help="停用：不再取号，历史保留")
    p.set_defaults(fn=cmd_categories, writes=True)
    p = queue.add_parser("windows", parents=[common], help="窗口：列出，或设置（管理员）")
    p.set_defaults(fn=cmd_windows)
    acts = p.add_subparsers(dest="what", metavar="操作", parser_class=Parser)
    acts.add_parser("list", parents=[common], help="列出窗口").set_defaults(fn=cmd_windows)
    p = acts.add_parser("set", parents=[common, operator_opts],
                        help="添加或修改窗口办理的业务类别（管理员或值班长）")
    p.add_argument("number", metavar="N", help="窗口号")
    p.add_argument("--categories", required=True, metavar="A,B",
                   help="办理的业务类别，按先后为优先级1、2…；或写明，如 B:1,C:1")
    p.add_argument("--name", help="窗口名称，默认“N号窗口”")
    p.set_defaults(fn=cmd_windows, writes=True)
