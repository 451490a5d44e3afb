"""``yichuang scan …`` and ``yichuang capture …``: pages into a case from any source.

``scan`` runs the window's path — source, profile, pipeline, ``CaseScans.add`` — and
records each page as it comes, so a scanner unplugged at the seventh sheet (or Ctrl+C)
leaves the first six on the case. ``capture sources`` lists what this machine can scan
from, ``capture profiles`` the profiles, ``capture pdf`` writes a case's materials as one
PDF with a bookmark per material.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from app.cli.common import Parser, UsageError, emit, operator, operator_clerk, output_file

if TYPE_CHECKING:
    from app.domain.case import CaseState
    from app.workstation import Workstation


def _material(ws: Workstation, case: CaseState, given: str) -> str:
    names = ws.scans.material_names(case)
    wanted = given.strip()
    if wanted in names:
        return wanted
    named = [mid for mid, name in names.items() if name == wanted]
    if len(named) == 1:
        return named[0]
    choices = "、".join(f"{mid}（{name}）" for mid, name in names.items())
    raise UsageError(f"办件 {case.number} 的事项没有材料“{given}”，可选：{choices}")


def _say(message: str) -> None:
    print(f"yichuang: {message}", file=sys.stderr, flush=True)


def cmd_scan(ws: Workstation, args: argparse.Namespace) -> None:
    from app.capture.prepare import captured_pages
    from app.capture.profiles import profile
    from app.capture.source import Cancel, CaptureError
    from app.capture.sources import open_source
    from app.errors import UserError
    from app.services.permissions import Action

    chosen = profile(args.profile)
    case = ws.cases.by_number(args.case)
    material = _material(ws, case, args.material)
    source = open_source(args.source, ws.settings)
    clerk = operator_clerk(ws, args, Action.WRITE_CASES)
    # Progress is for a person watching; a script gets the outcome (and a failure is
    # one line, as everywhere in this CLI).
    quiet = args.json or not sys.stderr.isatty()
    added: list[dict[str, Any]] = []
    cancel = Cancel()
    raws = source.acquire(chosen.settings, cancel, (lambda _m: None) if quiet else _say)
    try:
        for page in captured_pages(raws, chosen):
            case = ws.scans.add(case.id, material, [page], clerk)
            ref = dict(case.pages)[material][-1]
            added.append({"sha256": ref.sha256, "bytes": ref.size, "width": ref.width,
                          "height": ref.height, "dpi": ref.dpi,
                          "effective_dpi": ref.effective_dpi, "origin": ref.origin,
                          "skew_removed": round(page.skew_removed, 2), "blank": page.blank})
            if not quiet:
                _say(f"第{len(added)}页已保存（{ref.size // 1024} KB，{ref.dpi} dpi）")
    except UserError as exc:   # the device, or the case's rules (a page limit)
        if not added:
            raise
        # The pages before the failure are on the case: say both.
        raise CaptureError(f"{exc}（此前的{len(added)}页已保存到办件）") from exc
    finally:
        cancel.set()
    if not added:
        raise UsageError(f"来源“{args.source}”没有给出页面（进纸器为空，或只有空白页）")
    total = len(dict(case.pages)[material])
    name = ws.scans.material_names(case)[material]
    emit(args, {"case": case.number, "material": material, "profile": chosen.code,
                "added": added, "pages_of_material": total},
         f"办件 {case.number}“{name}”新增{len(added)}页，共{total}页"
         f"（{chosen.name}，{sum(a['bytes'] for a in added) // 1024} KB）")


def cmd_sources(ws: Workstation, args: argparse.Namespace) -> None:
    from app.capture.sources import discover

    found = discover(ws.settings)

    def text() -> str:
        lines = [f"{s.spec}\t{s.name}" for s in found.sources]
        lines += [f"注意：{p}" for p in found.problems]
        return "\n".join(lines)

    emit(args, {"sources": found.sources, "problems": found.problems}, text)


def cmd_profiles(_ws: Workstation, args: argparse.Namespace) -> None:
    from app.capture.profiles import PROFILES

    emit(args, [{"key": p.key, "code": p.code, "name": p.name, "dpi": p.dpi,
                 "colour": p.colour, "feeder": p.feeder, "duplex": p.duplex}
                for p in PROFILES],
         "\n".join(f"{p.key}  {p.code:<12} {p.name}（{p.summary}）" for p in PROFILES))


def cmd_pdf(ws: Workstation, args: argparse.Namespace) -> None:
    from app.storage.files import replace_with_bytes

    target = output_file(ws, args.out, args.force)
    case = ws.cases.by_number(args.case)
    operator(ws, args)   # applicants' papers (identity cards) are for operators only
    data = ws.scans.case_pdf(case.id)
    replace_with_bytes(target, data)
    sections = ws.scans.sections(case)
    emit(args, {"case": case.number, "path": str(target), "bytes": len(data),
                "materials": [{"title": s.title, "pages": len(s.pages)} for s in sections]},
         f"已写出 {target}（{sum(len(s.pages) for s in sections)}页，"
         f"{len(sections)}项材料，{len(data) // 1024} KB）")


def register(sub: Any, common: Parser, operator_opts: Parser) -> None:
    p = sub.add_parser("scan", parents=[common, operator_opts],
                       help="扫描材料到办件（须 --user）",
                       description="从扫描仪、扫描文件夹或文件取得页面，经纠偏和压缩后存入办件的某项"
                       "材料。每页取得后立即保存：中途拔出设备或按 Ctrl+C，已保存的页面保留。")
    p.add_argument("--source", required=True, metavar="SPEC",
                   help="来源：sane:设备名、escl:http://地址/eSCL、folder:目录、file:文件、fake"
                   "（yichuang capture sources 列出本机可用的来源）")
    p.add_argument("--case", required=True, metavar="NO", help="办件编号")
    p.add_argument("--material", required=True, metavar="ID", help="材料编号（如 m1）或名称")
    p.add_argument("--profile", default="a4_form", metavar="P",
                   help="扫描方案：id_card 身份证正反面、a4_form A4 表单（默认）、"
                   "certificate 营业执照/证照、adf_duplex 多页 ADF 双面（或按键 1–4）")
    p.set_defaults(fn=cmd_scan, writes=True)

    c = sub.add_parser("capture", parents=[common], help="扫描来源、方案与办件扫描件",
                       description="列出本机的扫描来源和扫描方案，或把办件的扫描件导出为一个 PDF。")
    csub = c.add_subparsers(dest="capture_command", metavar="子命令", parser_class=Parser,
                            required=True)
    s = csub.add_parser("sources", parents=[common], help="本机可用的扫描来源")
    s.set_defaults(fn=cmd_sources)
    pr = csub.add_parser("profiles", parents=[common], help="扫描方案")
    pr.set_defaults(fn=cmd_profiles)
    d = csub.add_parser("pdf", parents=[common, operator_opts],
                        help="办件的扫描件合成一个 PDF（每项材料一个书签；须 --user）")
    d.add_argument("case", metavar="NO", help="办件编号")
    d.add_argument("--out", required=True, metavar="FILE",
                   help="写到的 PDF 文件（不能在数据目录里）")
    d.add_argument("--force", action="store_true", help="覆盖已有文件")
    d.set_defaults(fn=cmd_pdf)
