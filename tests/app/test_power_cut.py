"""Kill -9 in the middle of work loses nothing that was committed and leaves no half case.

A child process opens, records and decides cases as fast as it can; the test kills it
with SIGKILL at arbitrary moments, then checks that every case in the database has all
of its events and outbox ops, that numbering has no gaps, and that the hash chain holds.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.workstation import open_workstation

REPO_ROOT = Path(__file__).resolve().parents[2]

WORKER = r"""
import datetime as dt, sys
from pathlib import Path
from app.domain.case import (Applicant, ApplicantKind, Clerk, Decision, IdType,
                             MaterialState, MaterialStatus)
from app.domain.checksum import mod11_2
from app.workstation import open_workstation

ws = open_workstation(Path(sys.argv[1]))
clerk = Clerk("c1", "张三", ws.settings.site_code, "01", "1")
body = "33010219800101002"
applicant = Applicant(ApplicantKind.PERSON, "王小明", IdType.RESIDENT_ID, body + mod11_2(body))
item = ws.catalogue.item("11330100MB0000001X4000116001000")
day = dt.date(2026, 11, 23)
print("ready", flush=True)
while True:
    case = ws.cases.open_case(item.code, applicant, clerk, today=day)
    states = [MaterialState(m.id, m.name, MaterialStatus.RECEIVED, str(m.form), m.copies)
              for m in item.checklist()]
    ws.cases.record_materials(case.id, states, clerk, today=day)
    ws.cases.decide(case.id, Decision.ON_THE_SPOT, clerk, today=day)
"""


def _count_cases(db: Path) -> int:
    raw = sqlite3.connect(db, timeout=10)
    try:
        return int(raw.execute("SELECT count(*) FROM cases").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        raw.close()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL is POSIX-only")
def test_sigkill_at_random_moments_leaves_only_whole_cases(tmp_path: Path) -> None:
    home = tmp_path / "home"
    open_workstation(home).close()
    db = home / "yichuang.db"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    for round_, target in enumerate((5, 17, 31)):
        child = subprocess.Popen([sys.executable, "-c", WORKER, str(home)], env=env,
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60
        while _count_cases(db) < target and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.003 * (round_ + 1))  # land somewhere inside a transaction
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert _count_cases(db) >= target

    ws = open_workstation(home)
    try:
        raw = sqlite3.connect(db)
        cases = raw.execute("SELECT id, version, number FROM cases").fetchall()
        for case_id, version, _number in cases:
            seqs = [r[0] for r in raw.execute(
                "SELECT case_seq FROM case_events WHERE case_id = ? ORDER BY case_seq",
                (case_id,))]
            assert seqs == list(range(1, version + 1)), case_id
            ops = raw.execute("SELECT count(*) FROM outbox WHERE entity_id = ?",
                              (case_id,)).fetchone()[0]
            assert ops == version, case_id
        orphans = raw.execute("SELECT count(*) FROM case_events WHERE case_id NOT IN "
                              "(SELECT id FROM cases)").fetchone()[0]
        assert orphans == 0
        last_seq = raw.execute("SELECT last_seq FROM case_number_counters").fetchone()[0]
        numbers = sorted(int(n[-5:-1]) for _, _, n in cases)
        assert numbers == list(range(1, last_seq + 1))  # no gap, no duplicate
        raw.close()
        # The anchor file may lag the database by the last commit, never run ahead of it.
        report = ws.integrity.verify()
        assert report.ok, report.findings
        events = next(c for c in report.chains if c.chain == "events")
        assert events.intact and events.rows == sum(v for _, v, _ in cases)
        assert events.anchored and events.unwitnessed <= 1
    finally:
        ws.close()
