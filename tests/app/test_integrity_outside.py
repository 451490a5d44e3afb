"""Attacks from outside the program: private data on disk, rows written around it.

The data directory's files must stay private to the OS user; a row inserted or changed
with the sqlite3 shell (or by a second program) must be found at start, by ``audit
verify`` and before anything prints from it. Helpers are those of test_integrity.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from app.documents.form import DocumentKind as K
from app.documents.targets import PrintTarget
from app.domain.case import Clerk
from app.services.cases import CaseRuleError
from app.services.integrity import IntegrityAlarm
from app.services.printing import DocumentError
from app.storage.chain import document_fields, document_hash, event_hash
from app.storage.models import CaseDocumentRow, CaseEventRow
from app.workstation import Workstation, open_workstation
from tests.app.test_integrity import (
    APPLICANT,
    DAY,
    FOOD_CODE,
    clerk,
    drop_guards,
    raw,
    reopen,
)
from tests.support import accepted_case

# ---- private data ---------------------------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes; Windows relies on the profile ACL")
def test_the_data_directory_and_what_is_in_it_are_private(fresh_ws: Workstation,
                                                          tmp_path: Path) -> None:
    c = clerk(fresh_ws)
    case = accepted_case(fresh_ws, c, day=DAY)
    doc = fresh_ws.documents.render_case_document(K.ACCEPTANCE, case.number, c)
    fresh_ws.documents.print(doc, c, PrintTarget("pdf", str(tmp_path / "a.pdf")))
    home = fresh_ws.settings.data_dir
    home.chmod(0o755)   # an older install
    fresh_ws = reopen(fresh_ws)

    def mode(p: Path) -> int:
        return stat.S_IMODE(p.stat().st_mode)

    assert mode(home) == 0o700
    assert mode(fresh_ws.settings.database_path) == 0o600
    blobs = [p for p in (home / "blobs").rglob("*") if p.is_file()]
    assert blobs and {mode(p) for p in blobs} == {0o600}
    assert {mode(p) for p in fresh_ws.integrity.anchor.segments()} == {0o600}
    fresh_ws.close()


def test_a_pdf_export_onto_the_database_is_refused(fresh_ws: Workstation) -> None:
    c = clerk(fresh_ws)
    case = accepted_case(fresh_ws, c, day=DAY)
    before = fresh_ws.settings.database_path.read_bytes()[:100]
    doc = fresh_ws.documents.render_case_document(K.RECEIPT, case.number, c)
    for where in (fresh_ws.settings.database_path, fresh_ws.settings.data_dir / "x.pdf"):
        outcome = fresh_ws.documents.print(doc, c, PrintTarget("pdf", str(where)),
                                           overwrite=True)
        assert not outcome.ok and "数据目录" in outcome.message
    assert fresh_ws.settings.database_path.read_bytes()[:100] == before
    assert fresh_ws.documents.history(case.id) == []
    assert fresh_ws.cases.get(case.id).number == case.number


def test_document_hashes_cover_every_field(fresh_ws: Workstation, tmp_path: Path) -> None:
    c = clerk(fresh_ws)
    case = accepted_case(fresh_ws, c, day=DAY)
    doc = fresh_ws.documents.render_case_document(K.ACCEPTANCE, case.number, c)
    fresh_ws.documents.print(doc, c, PrintTarget("pdf", str(tmp_path / "a.pdf")))
    with fresh_ws.db.read() as session:
        row = session.scalars(select(CaseDocumentRow)).first()
        assert row is not None
        assert document_hash(row.prev_hash, document_fields(row)) == row.hash
        fields = document_fields(row)
    assert set(fields) == {c.name for c in CaseDocumentRow.__table__.columns} - {
        "prev_hash", "hash"}


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes; Windows relies on the profile ACL")
def test_an_upgraded_install_makes_its_old_archive_private(tmp_path: Path) -> None:
    import shutil

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "schema-0002.db"
    home = tmp_path / "home"
    (home / "blobs" / "ab").mkdir(parents=True)
    shutil.copyfile(fixture, home / "yichuang.db")
    old = home / "blobs" / "ab" / ("ab" + "0" * 62)
    old.write_bytes(b"an archived PDF from before")
    old.chmod(0o644)
    home.chmod(0o755)
    ws = open_workstation(home)
    try:
        assert stat.S_IMODE(old.stat().st_mode) == 0o600
        assert stat.S_IMODE(home.stat().st_mode) == 0o700
        assert stat.S_IMODE((home / "blobs").stat().st_mode) == 0o700
        # Anchoring began at this upgrade; the fixture was kept without its printed PDF,
        # which the audit names (and nothing else).
        findings = [f.problem for f in ws.integrity.verify().findings]
        assert len(findings) == 1 and "文书“受理通知书”" in findings[0] and "缺失" in findings[0]
    finally:
        ws.close()


def test_a_bogus_future_time_in_the_anchors_is_cleared_by_recover(fresh_ws: Workstation) -> None:
    c = clerk(fresh_ws)
    case = fresh_ws.cases.open_case(FOOD_CODE, APPLICANT, c, today=DAY)
    with fresh_ws.db.read() as session:
        head = session.scalars(select(CaseEventRow).where(
            CaseEventRow.case_id == case.id)).one()
    fresh_ws.integrity.anchor.append({"kind": "head", "chain": "events", "site": c.site,
                                      "terminal": c.terminal, "key": head.event_id,
                                      "hash": head.hash, "time": "2099-01-01T00:00:00+00:00"})
    fresh_ws = reopen(fresh_ws)
    with pytest.raises(CaseRuleError, match="本机时钟"):
        fresh_ws.cases.open_case(FOOD_CODE, APPLICANT, c, today=DAY)
    fresh_ws.integrity.recover("锚定文件中有伪造的未来时间", os_user="tester")
    fresh_ws = reopen(fresh_ws)
    try:
        fresh_ws.cases.open_case(FOOD_CODE, APPLICANT, c, today=DAY)
    finally:
        fresh_ws.close()


# ---- rows written around the program -------------------------------------------------------


def forge_appended_event(ws: Workstation, case_id: str, clerk: Clerk) -> None:
    """Append a correctly chained event with the sqlite3 shell, triggers left in place."""
    conn = raw(ws)
    with conn:
        prev, seq = conn.execute("SELECT e.hash, (SELECT max(case_seq) FROM case_events "
                                 "WHERE case_id = ?) FROM case_events e WHERE site = ? AND "
                                 "terminal = ? ORDER BY id DESC LIMIT 1",
                                 (case_id, clerk.site, clerk.terminal)).fetchone()
        fields = {"event_id": "forged-1", "case_id": case_id, "case_seq": seq + 1,
                  "kind": "deadline_recomputed",
                  "payload": {"promised_date": "2027-06-30", "promised_estimated": False},
                  "clerk_id": "nobody", "clerk_name": "nobody", "site": clerk.site,
                  "terminal": clerk.terminal, "window": "1",
                  "occurred_at": "2026-11-28T01:00:00.000000+00:00"}
        conn.execute("INSERT INTO case_events (event_id, case_id, case_seq, kind, payload, "
                     "clerk_id, clerk_name, site, terminal, window, occurred_at, prev_hash, "
                     "hash) VALUES (:event_id, :case_id, :case_seq, :kind, :payload, "
                     ":clerk_id, :clerk_name, :site, :terminal, :window, :occurred_at, :prev, "
                     ":hash)", {**fields, "payload": json.dumps(fields["payload"]),
                                "prev": prev, "hash": event_hash(prev, fields)})
        conn.execute("UPDATE cases SET promised_date = '2027-06-30', version = ? WHERE id = ?",
                     (seq + 1, case_id))
    conn.close()


def test_an_event_slipped_in_while_the_program_runs_is_named(fresh_ws: Workstation) -> None:
    c = clerk(fresh_ws)
    case = accepted_case(fresh_ws, c, day=DAY)
    forge_appended_event(fresh_ws, case.id, c)
    # The program writes on (another applicant): its anchor covers only its own row.
    fresh_ws.cases.open_case(FOOD_CODE, APPLICANT, c, today=DAY)
    report = fresh_ws.integrity.verify()
    assert any("没有对应的锚定记录" in f.problem and "第4条" in f.problem
               for f in report.findings), report.findings


def test_a_tail_found_at_start_is_anchored_and_listed(fresh_ws: Workstation) -> None:
    c = clerk(fresh_ws)
    case = accepted_case(fresh_ws, c, day=DAY)
    forge_appended_event(fresh_ws, case.id, c)
    fresh_ws = reopen(fresh_ws)   # the same as after a power cut before the anchor line
    try:
        report = fresh_ws.integrity.verify()
        assert report.ok, report.findings
        assert [(a["terminal"], a["rows"]) for a in report.adopted] == [(c.terminal, "1")]
    finally:
        fresh_ws.close()


def test_a_power_cut_between_commit_and_anchor_is_not_an_alarm(fresh_ws: Workstation) -> None:
    c = clerk(fresh_ws)
    real = fresh_ws.integrity.witness.record
    fresh_ws.integrity.witness.record = lambda **_: None   # type: ignore[method-assign]
    fresh_ws.cases.open_case(FOOD_CODE, APPLICANT, c, today=DAY)   # committed, not anchored
    fresh_ws.integrity.witness.record = real   # type: ignore[method-assign]
    fresh_ws = reopen(fresh_ws)
    try:
        fresh_ws.cases.open_case(FOOD_CODE, APPLICANT, c, today=DAY)
        report = fresh_ws.integrity.verify()
        assert report.ok, report.findings
        assert len(report.adopted) == 1
    finally:
        fresh_ws.close()


def test_one_rehashed_event_is_refused_before_printing_even_unrelinked(
        fresh_ws: Workstation) -> None:
    c = clerk(fresh_ws)
    case = accepted_case(fresh_ws, c, day=DAY)
    conn = raw(fresh_ws)
    with conn:
        drop_guards(conn)
        names = ("event_id", "case_id", "case_seq", "kind", "payload", "clerk_id",
                 "clerk_name", "site", "terminal", "window", "occurred_at")
        values = conn.execute(f"SELECT {', '.join(names)}, prev_hash, id FROM case_events "
                              "WHERE case_id = ? AND case_seq = 1", (case.id,)).fetchone()
        fields = dict(zip(names, values[:-2], strict=True))
        fields["payload"] = json.loads(fields["payload"])
        fields["payload"]["applicant"]["name"] = "王大明"
        conn.execute("UPDATE case_events SET payload = ?, hash = ? WHERE id = ?",
                     (json.dumps(fields["payload"], ensure_ascii=False),
                      event_hash(values[-2], fields), values[-1]))
        conn.execute("UPDATE cases SET applicant_name = '王大明', applicant = json_set(applicant,"
                     " '$.name', '王大明') WHERE id = ?", (case.id,))
    conn.close()
    with pytest.raises(DocumentError, match="记录被改动过"):
        fresh_ws.documents.render_case_document(K.ACCEPTANCE, case.number, c)


def test_a_deleted_case_row_does_not_hide_the_case(fresh_ws: Workstation) -> None:
    c = clerk(fresh_ws)
    case = accepted_case(fresh_ws, c, day=DAY)
    conn = raw(fresh_ws)
    with conn:
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("DELETE FROM cases WHERE id = ?", (case.id,))
    conn.close()
    report = fresh_ws.integrity.verify()
    assert [f.case_number for f in report.findings] == [case.number]
    assert "当前状态表中没有它" in report.findings[0].problem


@pytest.mark.parametrize("line", [
    {"kind": "head", "site": "330100001"},
    {"kind": "number", "site": "330100001", "terminal": "01", "day": "garbage", "seq": 1},
    {"kind": "summary", "heads": "abc", "numbers": []},
    {"kind": "head", "chain": "events", "site": "330100001", "terminal": "01", "key": "k",
     "hash": "0" * 64, "time": "2026-11-28T10:00:00"},
])
def test_a_malformed_anchor_line_is_an_alarm_and_recover_still_works(
        fresh_ws: Workstation, line: dict[str, object]) -> None:
    c = clerk(fresh_ws)
    fresh_ws.cases.open_case(FOOD_CODE, APPLICANT, c, today=DAY)
    fresh_ws.integrity.anchor.append(line)
    fresh_ws.integrity.anchor.append({"kind": "probe"})   # so it is not the torn last line
    fresh_ws.close()
    with pytest.raises(IntegrityAlarm, match="不是有效的锚定记录"):
        open_workstation(fresh_ws.settings.data_dir)
    ws = open_workstation(fresh_ws.settings.data_dir, check=False, seed=False)
    try:
        ws.integrity.recover("锚定文件被人改过一行", os_user="tester")
    finally:
        ws.close()
    ws = open_workstation(fresh_ws.settings.data_dir)   # the office works again…
    try:
        report = ws.integrity.verify()
        assert report.ok, report.findings
        assert [r["reason"] for r in report.recoveries] == ["锚定文件被人改过一行"]   # …on record
    finally:
        ws.close()


def test_a_torn_last_anchor_line_is_a_power_cut_not_an_alarm(fresh_ws: Workstation) -> None:
    c = clerk(fresh_ws)
    fresh_ws.cases.open_case(FOOD_CODE, APPLICANT, c, today=DAY)
    segment = fresh_ws.integrity.anchor.segments()[-1]
    with open(segment, "ab") as f:
        f.write(b'{"kind": "head", "chain": "ev')
    fresh_ws = reopen(fresh_ws)
    try:
        fresh_ws.cases.open_case(FOOD_CODE, APPLICANT, c, today=DAY)
        report = fresh_ws.integrity.verify()
        assert report.ok, report.findings
    finally:
        fresh_ws.close()
    fresh_ws = reopen(fresh_ws)   # and it stays harmless once closed by the next line
    try:
        assert fresh_ws.integrity.verify().ok
    finally:
        fresh_ws.close()


def test_an_emptied_database_with_its_anchors_deleted_is_not_a_fresh_install(
        fresh_ws: Workstation, tmp_path: Path) -> None:
    c = clerk(fresh_ws)
    case = accepted_case(fresh_ws, c, day=DAY)
    doc = fresh_ws.documents.render_case_document(K.ACCEPTANCE, case.number, c)
    fresh_ws.documents.print(doc, c, PrintTarget("pdf", str(tmp_path / "a.pdf")))
    fresh_ws.close()
    for p in fresh_ws.integrity.anchor.segments():
        p.unlink()
    db = fresh_ws.settings.database_path
    for suffix in ("", "-wal", "-shm"):
        f = db.with_name(db.name + suffix)
        if f.exists():
            f.write_bytes(b"")
    with pytest.raises(IntegrityAlarm, match="使用过的痕迹"):
        open_workstation(fresh_ws.settings.data_dir)
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM users").fetchone() == (0,)
    conn.close()


def test_two_writers_whose_anchor_lines_cross_raise_no_alarm(fresh_ws: Workstation) -> None:
    c = clerk(fresh_ws)
    held: list[dict[str, object]] = []
    real = fresh_ws.integrity.witness.record
    fresh_ws.integrity.witness.record = lambda **kw: held.append(kw)  # type: ignore[method-assign]
    for _ in range(2):   # committed in this order…
        fresh_ws.cases.open_case(FOOD_CODE, APPLICANT, c, today=DAY)
    fresh_ws.integrity.witness.record = real   # type: ignore[method-assign]
    for kw in reversed(held):   # …anchored in the other, as two processes may
        real(**kw)  # type: ignore[arg-type]
    fresh_ws = reopen(fresh_ws)
    try:
        report = fresh_ws.integrity.verify()
        assert report.ok and report.adopted == [], (report.findings, report.adopted)
        events = next(ch for ch in report.chains if ch.chain == "events")
        assert events.unwitnessed == 0
    finally:
        fresh_ws.close()


def test_an_anchor_write_that_failed_is_made_good_by_the_next(fresh_ws: Workstation,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    from app.storage.anchor import AnchorError, AnchorFile

    c = clerk(fresh_ws)
    real = AnchorFile.append
    calls = {"n": 0}

    def flaky(self: AnchorFile, *lines: dict[str, object]) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise AnchorError("磁盘空间已满")
        real(self, *lines)

    monkeypatch.setattr(AnchorFile, "append", flaky)
    fresh_ws.cases.open_case(FOOD_CODE, APPLICANT, c, today=DAY)   # committed, line lost
    assert "磁盘空间已满" in fresh_ws.integrity.witness.problem
    fresh_ws.cases.open_case(FOOD_CODE, APPLICANT, c, today=DAY)   # carries the lost line
    assert fresh_ws.integrity.witness.problem == ""
    report = fresh_ws.integrity.verify()
    assert report.ok and report.adopted == [], report.findings


def test_a_torn_line_stays_harmless_across_a_new_segment(fresh_ws: Workstation,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from app.storage import anchor

    c = clerk(fresh_ws)
    fresh_ws.cases.open_case(FOOD_CODE, APPLICANT, c, today=DAY)
    with open(fresh_ws.integrity.anchor.segments()[-1], "ab") as f:
        f.write(b'{"kind": "hea')
    monkeypatch.setattr(anchor, "SEGMENT_BYTES", 600)   # the next append opens a segment
    for _ in range(3):
        fresh_ws.cases.open_case(FOOD_CODE, APPLICANT, c, today=DAY)
    assert len(fresh_ws.integrity.anchor.segments()) > 1
    report = fresh_ws.integrity.verify()
    assert report.ok, report.findings


def test_inspection_writes_nothing_to_the_anchors(fresh_ws: Workstation) -> None:
    c = clerk(fresh_ws)
    case = accepted_case(fresh_ws, c, day=DAY)
    forge_appended_event(fresh_ws, case.id, c)
    fresh_ws.close()
    before = [p.read_bytes() for p in fresh_ws.integrity.anchor.segments()]
    ws = open_workstation(fresh_ws.settings.data_dir, adopt=False)
    try:
        report = ws.integrity.verify()
        events = next(ch for ch in report.chains if ch.chain == "events")
        assert events.unwitnessed == 1
    finally:
        ws.close()
    assert [p.read_bytes() for p in fresh_ws.integrity.anchor.segments()] == before
