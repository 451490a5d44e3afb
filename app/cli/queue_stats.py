"""``yichuang queue stats``: a day's 排队统计 — tickets, waiting and service times, no-shows,
evaluations, per category, window and clerk, and who has waited half an hour; and
``yichuang queue manual``: 手工叫号, recorded when the queue cannot be used."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from app.cli.common import Parser, emit, jsonable, parse_date

if TYPE_CHECKING:
    from app.domain.queue_stats import CategoryFigures, DayStatistics, DeskFigures, Durations
    from app.workstation import Workstation


def _times(d: Durations) -> str:
    from app.domain.queue_stats import format_duration

    if not d.count:
        return "—"
    return (f"平均 {format_duration(d.mean)}，中位 {format_duration(d.median)}，"
            f"90% {format_duration(d.p90)}")


def _category_line(c: CategoryFigures) -> list[str]:
    head = f"{c.prefix} {c.name}" if c.prefix else "全部"
    return [f"  {head}：取号 {c.issued}，已叫 {c.called}，办结 {c.finished}，"
            f"过号未到 {c.no_shows}，仍在等候 {c.waiting_now}，等候超时 {c.waited_too_long}",
            f"      等候时长 {_times(c.waiting)}",
            f"      办理时长 {_times(c.service)}"]


def _desk_line(d: DeskFigures) -> str:
    from app.domain.queue_stats import format_share

    r = d.ratings
    rated = (f"，评价 {r.total}（满意率 {format_share(r.satisfied_share)}，差评 {r.dissatisfied}）"
             if r.total else "")
    manual = f"，手工叫号 {d.manual}" if d.manual else ""
    return (f"  {d.name}：叫号 {d.calls}，办结 {d.finished}，过号 {d.skipped}，"
            f"办理时长 {_times(d.service)}{rated}{manual}")


def report(day: DayStatistics) -> str:
    from app.domain.queue import TicketClass
    from app.domain.queue_stats import format_share
    from app.domain.rating import Grade

    hall = day.hall
    lines = [f"{day.day:%Y-%m-%d} 排队统计（截至 {day.at.astimezone():%H:%M}）",
             "  票类：" + "，".join(f"{c} {hall.by_class[c]}" for c in TicketClass),
             "业务类别："]
    for c in [hall, *day.categories]:
        lines += _category_line(c)
    lines.append("窗口：")
    lines += [_desk_line(w) for w in day.windows] or ["  （无）"]
    lines.append("工作人员：")
    lines += [_desk_line(c) for c in day.clerks] or ["  （无）"]
    r = day.ratings
    lines.append(f"评价：共 {r.total}，满意率 {format_share(r.satisfied_share)}；"
                 + "，".join(f"{g.label} {r.by_grade.get(g, 0)}" for g in Grade)
                 + f"；差评 {r.dissatisfied}，待回访 {r.open_follow_ups}")
    if day.manual_calls:
        lines.append(f"手工叫号：{day.manual_calls} 次（排队系统不可用时记录）")
    if day.alerts:
        lines.append(f"⚠ 等候超过{day.limit_minutes}分钟：" + "、".join(
            f"{a.number}（{a.minutes}分钟）" for a in day.alerts))
    return "\n".join(lines)


def data(day: DayStatistics) -> dict[str, Any]:
    """The figures as JSON: grades by their names, times in seconds."""
    out: dict[str, Any] = jsonable(day)

    def named(ratings: dict[str, Any], figures: Any) -> None:
        ratings["by_grade"] = {g.label: n for g, n in figures.by_grade.items()}
        ratings["satisfied_share"] = figures.satisfied_share

    named(out["ratings"], day.ratings)
    for key in ("windows", "clerks"):
        for desk, figures in zip(out[key], getattr(day, key), strict=True):
            named(desk["ratings"], figures.ratings)
    return out


def cmd_stats(ws: Workstation, args: argparse.Namespace) -> None:
    day = ws.queue_stats.day(parse_date(args.date) if args.date else None)
    emit(args, data(day), lambda: report(day))


def cmd_manual(ws: Workstation, args: argparse.Namespace) -> None:
    from app.cli.common import operator_clerk
    from app.services.permissions import Action

    clerk = operator_clerk(ws, args, Action.WRITE_CASES)
    call = ws.manual_calls.record(args.window, args.number, clerk, reason=args.reason or "")
    emit(args, call, f"已记录手工叫号：{call.number}号，{call.window}号窗口，"
                     f"{call.called_at.astimezone():%H:%M}（{call.reason}）")


def register(queue: Any, common: Parser, operator_opts: Parser) -> None:
    p = queue.add_parser("stats", parents=[common],
                         help="排队统计：取号、等候和办理时长、过号、评价，按类别、窗口和人员")
    p.add_argument("--date", metavar="YYYY-MM-DD", help="哪一天，默认今天")
    p.set_defaults(fn=cmd_stats)
    p = queue.add_parser("manual", parents=[common, operator_opts],
                         help="手工叫号：排队系统不可用时，记录口头叫到的号（须 --user）")
    p.add_argument("--window", required=True, metavar="N", help="窗口号")
    p.add_argument("number", metavar="NUMBER", help="叫到的号码，如 A012 或手写号 15")
    p.add_argument("--reason", help="为何手工叫号，默认“排队系统不可用”")
    p.set_defaults(fn=cmd_manual, writes=True)
