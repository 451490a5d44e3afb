"""``yichuang doctor``: is this machine ready for the window?"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import TYPE_CHECKING, Any

from app.cli.common import Parser, emit

if TYPE_CHECKING:
    from app.workstation import Workstation


def cmd_doctor(ws: Workstation, args: argparse.Namespace) -> None:
    from app.services import doctor

    s = ws.settings
    checks = [doctor.check_data_dir(s), doctor.check_site(s)]
    current, head = ws.db.current_revision(), ws.db.head_revision()
    checks.append(doctor.Check("数据库", current == head,
                               f"{s.database_path}（结构版本 {current}）" if current == head else
                               f"结构版本 {current}，应为 {head}：请重新启动程序以升级"))
    checks.append(_integrity_check(ws, getattr(args, "alarm", None)))
    releases = [r for r in ws.catalogue.releases() if r.current]
    checks.append(doctor.Check(
        "事项目录", bool(releases),
        f"{releases[0].version}，{releases[0].items} 个事项" if releases else
        "尚未导入事项目录：yichuang catalog import 文件"))
    if releases:
        authorities = {i.department.name for i in ws.catalogue.current().items
                       if not i.is_withdrawn(dt.date.today())}
        checks.append(doctor.check_authorities(s, authorities))
    years = sorted(ws.calendar.calendar().covered_years)
    today = dt.date.today()
    need = today.year + 1 if today.month >= 11 else today.year
    covered = need in years
    checks.append(doctor.Check(
        "工作日历", covered,
        f"覆盖 {years[0]}-{years[-1]} 年" if covered else
        f"覆盖至 {years[-1] if years else '无'} 年，缺 {need} 年节假日安排："
        "国务院通知发布后用 yichuang calendar import 导入"))
    clock = ws.integrity.clock_problem(set(years))
    checks.append(doctor.Check("系统时钟", not clock, clock or
                               f"{dt.datetime.now():%Y-%m-%d %H:%M}，不早于本终端最近的办件记录"))
    checks.append(doctor.Check(
        "自动备份", bool(s.backup_dir),
        f"每日备份到 {s.backup_dir}，保留 {s.backup_keep} 份" if s.backup_dir else
        "未配置：请在 settings.toml 的 [backup] dir 中填写U盘或共享目录"))
    checks += [doctor.check_screen_fonts(), doctor.check_document_fonts(s),
               doctor.check_printers(s), doctor.check_voice(s), doctor.check_capture_devices(s),
               doctor.check_server(s)]
    emit(args, checks, lambda: "\n".join(
        f"{'OK ' if c.ok else '!! '} {c.name}：{c.detail}" for c in checks))


def _integrity_check(ws: Workstation, alarm: Exception | None) -> Any:
    from app.services import doctor

    if alarm is not None:
        return doctor.Check("记录完整性", False, str(alarm))
    problem = ws.integrity.witness.problem
    if problem:
        return doctor.Check("记录完整性", False, f"锚定文件写入失败：{problem}")
    return doctor.Check("记录完整性", True, f"数据库与锚定文件 {ws.integrity.anchor.folder} 一致"
                        "（完整核对用 yichuang audit verify）")


def register(sub: Any, common: Parser, operator_opts: Parser) -> None:
    sub.add_parser("doctor", parents=[common], help="检查本机环境").set_defaults(
        fn=cmd_doctor, check="try")
