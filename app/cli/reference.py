"""``yichuang catalog …`` and ``yichuang calendar …``: the reference data."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from app.cli.common import (
    Parser,
    UsageError,
    emit,
    input_file,
    operator_clerk,
    output_file,
    parse_date,
)

if TYPE_CHECKING:
    from app.workstation import Workstation

MAX_WORKDAYS = 3650  # the longest limit the catalogue format allows
SEARCH_LIMIT, MAX_SEARCH_LIMIT = 20, 1000


# ---- catalog ---------------------------------------------------------------------------


def cmd_catalog_list(ws: Workstation, args: argparse.Namespace) -> None:
    items = [i for i in ws.catalogue.current().items
             if args.level is None or str(i.level) == args.level]
    rows = [{"code": i.code, "name": i.name, "department": i.department.name,
             "level": i.level, "kind": i.kind, "promised_limit": str(i.promised_limit),
             "version": i.version} for i in items]
    emit(args, rows, lambda: "\n".join(
        f"{r['code']}  {r['name']}  [{r['level']}·{r['kind']}·{r['promised_limit']}]  "
        f"{r['department']}" for r in rows) + f"\n共 {len(rows)} 项")


def cmd_catalog_search(ws: Workstation, args: argparse.Namespace) -> None:
    if not 1 <= args.limit <= MAX_SEARCH_LIMIT:
        raise UsageError(f"--limit 应在 1 至 {MAX_SEARCH_LIMIT} 之间")
    # Every match (at most one per entry of the index), to say how many were left out.
    found = ws.catalogue.search(args.query, limit=max(len(ws.catalogue.index()), 1))
    hits, total = found[:args.limit], len(found)
    data = {"query": args.query, "total": total, "truncated": total > len(hits),
            "results": hits}

    def text() -> str:
        if not hits:
            return f"没有找到与“{args.query}”相关的事项"
        lines = [f"{'【一件事】' if h.kind == 'bundle' else ''}{h.name}  {h.code}  {h.department}"
                 for h in hits]
        if total > len(hits):
            lines.append(f"另有 {total - len(hits)} 项未显示，用 --limit 显示更多")
        return "\n".join(lines)

    emit(args, data, text)


def cmd_catalog_show(ws: Workstation, args: argparse.Namespace) -> None:
    from app.domain.catalogue_writer import bundle_to_json, item_to_json
    from app.services.catalogue import NotFound

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
        emit(args, data, lambda: "\n".join(
            [f"【一件事】{bundle.name}（{bundle.code}）",
             "包含事项：" + "、".join(items[c].name for c in bundle.item_codes),
             "合并材料清单："] +
            [f"  {n}. {bm.material.name}（{bm.material.form}，{bm.material.copies}份）"
             for n, bm in enumerate(merged, 1)]))
        return
    emit(args, item_to_json(item), lambda: _item_text(item))


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
    lines.append("申请材料（编号  名称）：")
    for m in item.materials:
        marks = [str(m.necessity), str(m.source)]
        if m.deferrable:
            marks.append("可容缺")
        if m.commitment:
            marks.append("可告知承诺")
        lines.append(f"  {m.id}  {m.name}（{m.form}，{m.copies}份；{'，'.join(marks)}）")
    if item.scenarios:
        lines.append("办理情形（打印一次性告知单时用 --scenario 编号 选择）：")
        for s in item.scenarios:
            changes = [f"增加 {'、'.join(s.adds)}"] if s.adds else []
            changes += [f"免交 {'、'.join(s.removes)}"] if s.removes else []
            lines.append(f"  {s.id}  {s.name}" + (f"：{'；'.join(changes)}" if changes else ""))
    return "\n".join(lines)


def cmd_catalog_import(ws: Workstation, args: argparse.Namespace) -> None:
    from app.services.permissions import Action

    path = input_file(args.file)
    operator_clerk(ws, args, Action.IMPORT_REFERENCE)
    result = ws.catalogue.import_file(path)
    text = (f"目录 {result.version} 与当前目录相同，未作改动" if result.unchanged else
            f"已导入目录 {result.version}：{result.items} 个事项（新增或新版本 "
            f"{result.new_items} 个），{result.bundles} 个一件事")
    emit(args, result, text)


def cmd_catalog_export(ws: Workstation, args: argparse.Namespace) -> None:
    path = output_file(ws, args.file, args.force)
    count = ws.catalogue.export_file(path)
    emit(args, {"file": str(path), "items": count}, f"已导出 {count} 个事项到 {path}")


def cmd_catalog_versions(ws: Workstation, args: argparse.Namespace) -> None:
    releases = ws.catalogue.releases()
    emit(args, releases, lambda: "\n".join(
        f"{'*' if r.current else ' '} {r.version}  {r.items}项/{r.bundles}个一件事  "
        f"导入于 {r.imported_at:%Y-%m-%d %H:%M}  来源 {r.origin}" for r in releases)
        or "尚未导入任何目录")


# ---- calendar --------------------------------------------------------------------------


def cmd_calendar_check(ws: Workstation, args: argparse.Namespace) -> None:
    info = ws.calendar.check(parse_date(args.date))
    data = {"date": info.day, "kind": info.kind, "workday": info.is_workday, "name": info.name}
    weekday = "一二三四五六日"[info.day.weekday()]
    emit(args, data, f"{info.day}（星期{weekday}）：{info.kind}"
         + (f"（{info.name}）" if info.name else ""))


def cmd_calendar_add_workdays(ws: Workstation, args: argparse.Namespace) -> None:
    start = parse_date(args.date)
    if abs(args.n) > MAX_WORKDAYS:
        raise UsageError(f"工作日数应在 -{MAX_WORKDAYS} 至 {MAX_WORKDAYS} 之间")
    result = ws.calendar.add_workdays(start, args.n)
    data = {"from": start, "workdays": args.n, "date": result}
    emit(args, data, f"{start} 之后第 {args.n} 个工作日是 {result}"
         f"（星期{'一二三四五六日'[result.weekday()]}）")


def cmd_calendar_import(ws: Workstation, args: argparse.Namespace) -> None:
    from app.services.permissions import Action

    path = input_file(args.file)
    clerk = operator_clerk(ws, args, Action.IMPORT_REFERENCE)
    years = ws.calendar.import_file(path, replace=args.replace)
    changes = ws.deadlines.apply(clerk)
    lines = [f"已导入 {'、'.join(map(str, years))} 年节假日安排"]
    if changes:
        lines.append(f"以下 {len(changes)} 件在办办件的承诺办结日期随之重算：")
        lines += [f"  {c.number}  {c.applicant_name}  {c.item_name}  "
                  f"{c.old_date}{'（预估）' if c.old_estimated else ''} → "
                  f"{c.new_date}{'（预估）' if c.new_estimated else ''}" for c in changes]
    emit(args, {"years": years, "recomputed": changes}, "\n".join(lines))


def cmd_calendar_export(ws: Workstation, args: argparse.Namespace) -> None:
    path = output_file(ws, args.file, args.force)
    years = ws.calendar.export_file(path)
    emit(args, {"file": str(path), "years": years},
         f"已导出 {years[0]}-{years[-1]} 年工作日历到 {path}" if years else "日历为空")


def cmd_calendar_years(ws: Workstation, args: argparse.Namespace) -> None:
    years = ws.calendar.years()
    emit(args, years, lambda: "\n".join(
        f"{y.year}  放假{y.holidays}天  调休上班{y.adjusted_workdays}天  "
        f"来源 {y.source}" for y in years))


def register(sub: Any, common: Parser, operator_opts: Parser) -> None:
    cat = sub.add_parser("catalog", parents=[common], help="事项目录").add_subparsers(
        dest="sub", metavar="操作", required=True, parser_class=Parser)
    p = cat.add_parser("list", parents=[common], help="列出事项")
    p.add_argument("--level", choices=["县级", "乡镇", "村"])
    p.set_defaults(fn=cmd_catalog_list)
    p = cat.add_parser("search", parents=[common], help="按名称、拼音或首字母搜索")
    p.add_argument("query")
    p.add_argument("--limit", type=int, default=SEARCH_LIMIT, metavar="N",
                   help=f"最多显示 N 项（默认 {SEARCH_LIMIT}；有更多时会说明）")
    p.set_defaults(fn=cmd_catalog_search)
    p = cat.add_parser("show", parents=[common], help="显示事项或一件事")
    p.add_argument("code")
    p.set_defaults(fn=cmd_catalog_show)
    p = cat.add_parser("import", parents=[common, operator_opts], help="导入目录文件（管理员、值班长）")
    p.add_argument("file")
    p.set_defaults(fn=cmd_catalog_import, writes=True)
    p = cat.add_parser("export", parents=[common], help="导出当前目录")
    p.add_argument("file")
    p.add_argument("--force", action="store_true", help="覆盖已有文件")
    p.set_defaults(fn=cmd_catalog_export)
    cat.add_parser("versions", parents=[common], help="导入记录").set_defaults(
        fn=cmd_catalog_versions)

    cal = sub.add_parser("calendar", parents=[common], help="工作日历").add_subparsers(
        dest="sub", metavar="操作", required=True, parser_class=Parser)
    p = cal.add_parser("check", parents=[common], help="查询某天是否上班")
    p.add_argument("date")
    p.set_defaults(fn=cmd_calendar_check)
    p = cal.add_parser("add-workdays", parents=[common], help="计算第N个工作日")
    p.add_argument("date")
    p.add_argument("n", type=int)
    p.set_defaults(fn=cmd_calendar_add_workdays)
    p = cal.add_parser("import", parents=[common, operator_opts],
                       help="导入节假日安排（管理员、值班长）")
    p.add_argument("file")
    p.add_argument("--replace", action="store_true", help="替换已有年份的安排（会重算在办办件的承诺日期）")
    p.set_defaults(fn=cmd_calendar_import, writes=True)
    p = cal.add_parser("export", parents=[common], help="导出工作日历")
    p.add_argument("file")
    p.add_argument("--force", action="store_true", help="覆盖已有文件")
    p.set_defaults(fn=cmd_calendar_export)
    cal.add_parser("years", parents=[common], help="已覆盖的年份").set_defaults(
        fn=cmd_calendar_years)
