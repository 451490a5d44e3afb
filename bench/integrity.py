"""What the integrity guarantees cost: anchoring each write, checking before printing,
the start-up check, a full audit and a verified backup.

A fresh seeded workstation takes N applicants from 收件 to 受理 through the services (each
write is followed by an fsynced anchor line); then the checks run over that record. No
targets were set for these; the figures say what a clerk and an administrator wait for.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from app.domain.case import (
    Applicant,
    ApplicantKind,
    Clerk,
    Decision,
    IdType,
    MaterialState,
    MaterialStatus,
)
from app.services.backup import BackupService
from app.storage.anchor import AnchorFile
from app.workstation import open_workstation
from bench.common import summary, write_result

CASES = 1500
FOOD = "11330100MB0000001X4000215001000"   # 食品经营许可（新办）: 7 materials


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as usb:
        ws = open_workstation(Path(tmp))
        s = ws.settings
        clerk = Clerk("bench", "张三", s.site_code, s.terminal, "3")
        item = ws.catalogue.item(FOOD)
        applicant = Applicant(ApplicantKind.PERSON, "王小明", IdType.RESIDENT_ID,
                              "330102198001010026")
        states = [MaterialState(m.id, m.name, MaterialStatus.RECEIVED, str(m.form), m.copies)
                  for m in item.checklist()]
        opened, decided, anchor_only, verified = [], [], [], []
        last = ""
        for _ in range(CASES):
            t = time.perf_counter()
            case = ws.cases.open_case(FOOD, applicant, clerk)
            opened.append(_ms(t))
            ws.cases.record_materials(case.id, states, clerk)
            t = time.perf_counter()
            ws.cases.decide(case.id, Decision.ACCEPT, clerk)
            decided.append(_ms(t))
            last = case.id
        probe = AnchorFile(Path(usb) / "probe")
        for _ in range(200):
            t = time.perf_counter()
            probe.append({"kind": "probe"})
            anchor_only.append(_ms(t))
        for _ in range(200):
            t = time.perf_counter()
            ws.cases.verified(last)
            verified.append(_ms(t))
        t = time.perf_counter()
        ws.integrity.start(site=s.site_code, terminal=s.terminal)
        start_check = _ms(t)
        t = time.perf_counter()
        report = ws.integrity.verify()
        audit = _ms(t)
        assert report.ok, report.findings
        t = time.perf_counter()
        info = BackupService(s, ws.db).backup(Path(usb) / "backups")
        backup = _ms(t)
        ws.close()
    figures = {
        "cases": CASES,
        "open_case_ms": summary(opened), "decide_ms": summary(decided),
        "anchor_append_fsync_ms": summary(anchor_only),
        "verify_case_before_print_ms": summary(verified),
        "start_check_ms": start_check,
        "audit_verify_ms": audit, "audit_cases_per_s": CASES / (audit / 1000),
        "backup_ms": backup, "backup_mb": info.bytes / 1048576,
    }
    print(f"{CASES} cases: open_case median {figures['open_case_ms']['median']:.1f} ms "
          f"(p99 {figures['open_case_ms']['p99']:.1f}), decide median "
          f"{figures['decide_ms']['median']:.1f} ms (p99 {figures['decide_ms']['p99']:.1f})")
    print(f"anchor line append + fsync: median {figures['anchor_append_fsync_ms']['median']:.2f} ms")
    print(f"check a case against its log before printing: median "
          f"{figures['verify_case_before_print_ms']['median']:.2f} ms")
    print(f"start-up check: {start_check:.1f} ms; audit verify: {audit:.0f} ms "
          f"({figures['audit_cases_per_s']:.0f} cases/s); backup: {backup:.0f} ms "
          f"({figures['backup_mb']:.1f} MB, verified)")
    print(f"-> {write_result('integrity', figures)}")


if __name__ == "__main__":
    main()
