"""Document rendering: A4 受理通知书 time and size, thermal pickup slip raster time.

A real case is made through the services on a fresh seeded workstation (so the case,
item and stamp are what the window prints); fonts are loaded once before timing, as
the window does when it opens the first preview. Targets (issue 3): A4 receipt
≤ 30 ms and ≤ 60 KB with the font subset; thermal slip raster ≤ 20 ms.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.documents import decisions, slips, templates
from app.documents.a4 import archive_meta, render_pdf
from app.documents.archival import archival_pdf
from app.documents.form import Stamp
from app.documents.spool import escpos_raster
from app.documents.thermal import render_slip
from app.domain.case import (
    Applicant,
    ApplicantKind,
    CaseState,
    Clerk,
    Decision,
    IdType,
    MaterialState,
    MaterialStatus,
)
from app.domain.catalogue import ServiceItem
from app.workstation import Workstation, open_workstation
from bench.common import summary, write_result

RUNS = 60
FOOD = "11330100MB0000001X4000215001000"   # 食品经营许可（新办）: 7 materials
TARGET_A4_MS, TARGET_A4_KB, TARGET_SLIP_MS = 30.0, 60.0, 20.0


def _case(ws: Workstation) -> tuple[CaseState, ServiceItem, Clerk]:
    clerk = Clerk("bench", "张三", ws.settings.site_code, ws.settings.terminal, "3")
    item = ws.catalogue.item(FOOD)
    applicant = Applicant(ApplicantKind.PERSON, "王小明", IdType.RESIDENT_ID,
                          "330102198001010026", phone="13800138000")
    case = ws.cases.open_case(FOOD, applicant, clerk)
    states = [MaterialState(m.id, m.name, MaterialStatus.RECEIVED, str(m.form), m.copies)
              for m in item.checklist()]
    ws.cases.record_materials(case.id, states, clerk)
    return ws.cases.decide(case.id, Decision.ACCEPT, clerk), item, clerk


def _times(fn: Callable[[], Any], runs: int = RUNS) -> list[float]:
    fn()   # warm caches (barcode modules, glyph widths) as a second print would
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        ws = open_workstation(Path(tmp))
        try:
            case, item, _clerk = _case(ws)
            start = time.perf_counter()
            fonts = ws.documents.fonts()
            font_load_ms = (time.perf_counter() - start) * 1000
            stamp = Stamp(ws.settings.site_name, "3", "张三", dt.datetime.now())
            facts = ws.cases.document_facts(case.id)
            assert facts is not None and facts.notice is not None
            acceptance = decisions.acceptance(case, item, stamp, facts.notice)
            pdf = render_pdf(acceptance, fonts)
            a4 = summary(_times(lambda: render_pdf(acceptance, fonts)))
            # The archive-grade copy is made once, when the notice is issued (off the UI
            # thread): XMP, output intent, PDF/A-2b validation.
            meta = archive_meta(acceptance)
            archival = summary(_times(lambda: archival_pdf(pdf.data, meta), runs=20))
            checklist = templates.checklist(item, stamp)
            checklist_pdf = render_pdf(checklist, fonts)
            checklist_ms = summary(_times(lambda: render_pdf(checklist, fonts)))
            slip = slips.pickup_slip(case, item, stamp)
            raster = render_slip(slip, fonts)
            slip_ms = summary(_times(lambda: render_slip(slip, fonts)))
            ticket = slips.ticket(slips.TicketInfo("A012", "综合受理", ws.settings.site_name,
                                                   dt.datetime.now(), 5))
            ticket_ms = summary(_times(lambda: render_slip(ticket, fonts)))
            escpos = escpos_raster(raster)
        finally:
            ws.close()
    figures = {
        "font_load_ms": round(font_load_ms, 1),
        "a4_acceptance_ms": a4, "a4_acceptance_kb": round(len(pdf.data) / 1024, 1),
        "a4_archival_ms": archival,
        "a4_checklist_ms": checklist_ms,
        "a4_checklist_kb": round(len(checklist_pdf.data) / 1024, 1),
        "a4_checklist_pages": checklist_pdf.pages,
        "thermal_pickup_slip_ms": slip_ms, "thermal_ticket_ms": ticket_ms,
        "thermal_slip_dots": list(raster.image.size),
        "escpos_bytes": len(escpos),
        "targets": {"a4_ms": TARGET_A4_MS, "a4_kb": TARGET_A4_KB, "slip_ms": TARGET_SLIP_MS},
    }
    path = write_result("documents", figures)
    print(f"fonts loaded in {font_load_ms:.0f} ms (once per process)")
    print(f"A4 受理通知书: median {a4['median']:.1f} ms, p99 {a4['p99']:.1f} ms, "
          f"{figures['a4_acceptance_kb']} KB (targets ≤ {TARGET_A4_MS:.0f} ms, "
          f"≤ {TARGET_A4_KB:.0f} KB)")
    print(f"archive-grade copy (XMP, PDF/A-2b check) when issued: median "
          f"{archival['median']:.1f} ms")
    print(f"A4 一次性告知单 ({checklist_pdf.pages} pages): median "
          f"{checklist_ms['median']:.1f} ms, {figures['a4_checklist_kb']} KB")
    print(f"80 mm pickup slip raster {raster.image.size[0]}×{raster.image.size[1]}: median "
          f"{slip_ms['median']:.1f} ms, p99 {slip_ms['p99']:.1f} ms (target ≤ "
          f"{TARGET_SLIP_MS:.0f} ms); ticket median {ticket_ms['median']:.1f} ms; "
          f"ESC/POS {len(escpos)} bytes")
    print(f"→ {path}")
    return figures


if __name__ == "__main__":
    main()
