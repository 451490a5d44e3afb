"""Attacks on the case record, each reproduced first: what the program now does about it.

Every test plays someone with the database file in hand — a dishonest insider with the
sqlite3 shell, a careless administrator, a power cut — and checks that the change is
refused by the database, or detected at start, by ``audit verify`` and before printing.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest

from app.documents.form import DocumentKind as K
from app.documents.targets import PrintTarget
from app.domain.case import (
    Applicant,
    ApplicantKind,
    CaseState,
    Clerk,
    IdType,
)
from app.domain.numbering import CaseNumber
from app.services.cases import CaseRuleError
from app.services.integrity import IntegrityAlarm
from app.services.printing import DocumentError
from app.storage.chain import event_hash
from app.storage.db import NestedWriteError
from app.workstation import Workstation, open_workstation
from tests.support import PaperTray, accepted_case, chain_walk

APPLICANT = Applicant(ApplicantKind.PERSON, "王小明", IdType.RESIDENT_ID, "330102198001010026")
DAY = dt.date(2026, 11, 23)
FOOD_CODE = "11330100MB0000001X4000215001000"


def clerk(ws: Workstation, terminal: str | None = None) -> Clerk:
    s = ws.settings
    return Clerk("clerk-1", "张三", s.site_code, terminal or s.terminal, s.window)


def raw(ws: Workstation) -> sqlite3.Connection:
    return sqlite3.connect(ws.settings.database_path)


def drop_guards(conn: sqlite3.Connection) -> None:
    """What an insider does first: remove the append-only triggers."""
    for name, in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")


def rechain_events(conn: sqlite3.Connection, site: str, terminal: str) -> None:
    """Recompute every event's prev_hash and hash of a chain, as a forger would."""
    names = ("id", "event_id", "case_id", "case_seq", "kind", "payload", "clerk_id",
             "clerk_name", "site", "terminal", "window", "occurred_at")
    rows = conn.execute(f"SELECT {', '.join(names)} FROM case_events WHERE site = ? AND "
                        "terminal = ? ORDER BY id", (site, terminal)).fetchall()
    prev = "0" * 64
    for values in rows:
        fields = dict(zip(names, values, strict=True))
        row_id = fields.pop("id")
        fields["payload"] = json.loads(fields["payload"])
        digest = event_hash(prev, fields)
        conn.execute("UPDATE case_events SET prev_hash = ?, hash = ? WHERE id = ?",
                     (prev, digest, row_id))
        prev = digest


def forge_promised_date(ws: Workstation, case_id: str, clerk: Clerk) -> None:
    """Move a decided case's promised date in its event and its row, then re-hash the
    chain so that it walks intact again: the forgery a careful insider would make."""
    conn = raw(ws)
    with conn:
        drop_guards(conn)
        conn.execute("UPDATE case_events SET payload = json_set(payload, '$.promised_date', "
                     "'2027-06-30') WHERE case_id = ? AND kind = 'decided'", (case_id,))
        conn.execute("UPDATE cases SET promised_date = '2027-06-30' WHERE id = ?", (case_id,))
        rechain_events(conn, clerk.site, clerk.terminal)
    conn.close()


def reopen(ws: Workstation) -> Workstation:
    ws.close()
    return open_workstation(ws.settings.data_dir)


# ---- the database refuses ------------------------------------------------------------------


def test_insert_or_replace_cannot_overwrite_an_event(fresh_ws: Workstation) -> None:
    case = fresh_ws.cases.open_case("11330100MB0000001X4000215001000", APPLICANT,
                                    clerk(fresh_ws), today=DAY)
    conn = raw(fresh_ws)
    try:
        row = conn.execute("SELECT id, event_id, case_id, case_seq FROM case_events "
                           "WHERE case_id = ?", (case.id,)).fetchone()
        columns = [c[1] for c in conn.execute("PRAGMA table_info(case_events)")]
        values = conn.execute(f"SELECT {', '.join(columns)} FROM case_events WHERE id = ?",
                              (row[0],)).fetchone()
        forged = dict(zip(columns, values, strict=True))
        forged["clerk_name"] = "李四"
        placeholders = ", ".join("?" for _ in columns)
        # Same id; same event_id under a new id; same (case, seq) under new ids.
        for changes in ({}, {"id": 10_000}, {"id": 10_001, "event_id": "e-new"}):
            attempt = {**forged, **changes}
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                conn.execute(f"INSERT OR REPLACE INTO case_events ({', '.join(columns)}) "
                             f"VALUES ({placeholders})", [attempt[c] for c in columns])
        assert conn.execute("SELECT clerk_name FROM case_events WHERE id = ?",
                            (row[0],)).fetchone() == ("张三",)
    finally:
        conn.close()


def test_insert_or_replace_cannot_overwrite_a_print_record(fresh_ws: Workstation,
                                                           tmp_path: Path) -> None:
    c = clerk(fresh_ws)
    case = accepted_case(fresh_ws, c, day=DAY)
    doc = fresh_ws.documents.render_case_document(K.ACCEPTANCE, case.number, c)
    fresh_ws.documents.print(doc, c, PrintTarget("pdf", str(tmp_path / "a.pdf")))
    conn = raw(fresh_ws)
    try:
        columns = [col[1] for col in conn.execute("PRAGMA table_info(case_documents)")]
        values = conn.execute(f"SELECT {', '.join(columns)} FROM case_documents LIMIT 1").fetchone()
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(f"INSERT OR REPLACE INTO case_documents ({', '.join(columns)}) VALUES "
                         f"({', '.join('?' for _ in columns)})", values)
    finally:
        conn.close()


def test_print_records_form_a_chain_of_their_own(fresh_ws: Workstation, tmp_path: Path) -> None:
    c = clerk(fresh_ws)
    case = accepted_case(fresh_ws, c, day=DAY)
    tray = PaperTray(fresh_ws)
    for _ in range(2):   # two prints on paper: an attempt and an outcome row each
        doc = fresh_ws.documents.render_case_document(K.ACCEPTANCE, case.number, c)
        assert fresh_ws.documents.print(doc, c, tray.target).ok
    report = fresh_ws.integrity.verify()
    assert report.ok, report.findings
    docs = next(ch for ch in report.chains if ch.chain == "documents")
    assert (docs.rows, docs.intact, docs.anchored, docs.unwitnessed) == (4, True, True, 0)
    conn = raw(fresh_ws)
    with conn:
        drop_guards(conn)
        conn.execute("UPDATE case_documents SET clerk_name = '李四' WHERE rowid = 1")
    conn.close()
    report = fresh_ws.integrity.verify()
    assert any("文书档案链在第1条" in f.problem for f in report.findings), report.findings


# ---- the log proves itself ----------------------------------------------------------------


def test_every_case_replays_to_its_projection(fresh_ws: Workstation) -> None:
    c = clerk(fresh_ws)
    accepted_case(fresh_ws, c, day=DAY)
    fresh_ws.cases.open_case("11330100MB0000001X4000215001000", APPLICANT, c, today=DAY)
    report = fresh_ws.integrity.verify()
    assert report.ok and report.cases == 2, report.findings


def test_a_hand_edited_projection_is_named_by_case_and_field_and_never_printed(
        fresh_ws: Workstation) -> None:
    c = clerk(fresh_ws)
    case = accepted_case(fresh_ws, c, day=DAY)
    conn = raw(fresh_ws)
    with conn:   # needs no schema change at all
        conn.execute("UPDATE cases SET applicant_name = '李四', promised_date = '2027-06-30' "
                     "WHERE id = ?", (case.id,))
    conn.close()
    report = fresh_ws.integrity.verify()
    assert [(f.case_number, f.fields) for f in report.findings] == [
        (case.number, ("申请人姓名", "承诺办结日期"))]
    for kind in (K.ACCEPTANCE, K.PICKUP_SLIP, K.RECEIPT):
        with pytest.raises(DocumentError, match=r"不一致（申请人姓名、承诺办结日期）"):
            fresh_ws.documents.render_case_document(kind, case.number, c)


def test_an_edited_and_rechained_event_is_caught_by_the_anchor(fresh_ws: Workstation) -> None:
    c = clerk(fresh_ws)
    first = accepted_case(fresh_ws, c, day=DAY)
    accepted_case(fresh_ws, c, day=DAY)
    forge_promised_date(fresh_ws, first.id, c)
    # The forgery is internally consistent: the chain walks and the case replays…
    assert chain_walk(fresh_ws, c.site, c.terminal).intact
    report = fresh_ws.integrity.verify()
    # …but its head is not the head the anchor file witnessed.
    assert len(report.findings) == 1, report.findings
    problem = report.findings[0].problem
    assert problem.startswith(f"站点{c.site}终端{c.terminal}办件记录链中已锚定的记录")
    assert problem.endswith("的校验值与锚定文件不符：记录被改写后重新计算了哈希")
    with pytest.raises(IntegrityAlarm, match="被改写"):
        reopen(fresh_ws)


def test_a_deleted_event_with_its_successors_rechained_is_detected(
        fresh_ws: Workstation) -> None:
    c = clerk(fresh_ws)
    cases = [fresh_ws.cases.open_case("11330100MB0000001X4000215001000", APPLICANT, c,
                                      today=DAY) for _ in range(3)]
    conn = raw(fresh_ws)
    with conn:
        drop_guards(conn)
        conn.execute("DELETE FROM case_events WHERE case_id = ?", (cases[1].id,))
        conn.execute("DELETE FROM outbox WHERE entity_id = ?", (cases[1].id,))
        conn.execute("DELETE FROM cases WHERE id = ?", (cases[1].id,))
        rechain_events(conn, c.site, c.terminal)
    conn.close()
    walk = chain_walk(fresh_ws, c.site, c.terminal)
    assert walk.intact and walk.count == 2   # relinked: the chain alone cannot tell
    report = fresh_ws.integrity.verify()
    assert any("与锚定文件不符" in f.problem for f in report.findings), report.findings
    with pytest.raises(IntegrityAlarm):
        reopen(fresh_ws)


def test_deleting_the_newest_events_is_detected(fresh_ws: Workstation) -> None:
    c = clerk(fresh_ws)
    case = accepted_case(fresh_ws, c, day=DAY)
    conn = raw(fresh_ws)
    with conn:
        drop_guards(conn)
        conn.execute("DELETE FROM case_events WHERE case_id = ? AND case_seq > 1", (case.id,))
        conn.execute("UPDATE cases SET status = '收件中', version = 1, decision = '', "
                     "materials = '[]', accepted_on = NULL, promised_date = NULL "
                     "WHERE id = ?", (case.id,))
    conn.close()
    assert chain_walk(fresh_ws, c.site, c.terminal).intact
    report = fresh_ws.integrity.verify()
    assert any("缺少已锚定的" in f.problem for f in report.findings), report.findings
    with pytest.raises(IntegrityAlarm, match="缺少已锚定的记录"):
        reopen(fresh_ws)


def test_audit_checks_every_terminal_not_only_the_configured_one(
        fresh_ws: Workstation) -> None:
    other = clerk(fresh_ws, "07")
    case = fresh_ws.cases.open_case("11330100MB0000001X4000215001000", APPLICANT, other,
                                    today=DAY)
    conn = raw(fresh_ws)
    with conn:
        drop_guards(conn)
        conn.execute("UPDATE case_events SET clerk_name = '李四' WHERE case_id = ?", (case.id,))
    conn.close()
    report = fresh_ws.integrity.verify()
    assert {(ch.terminal, ch.intact) for ch in report.chains if ch.chain == "events"} == {
        ("07", False)}
    assert not report.ok


# ---- numbers are never issued twice -------------------------------------------------------


def test_a_zeroed_database_refuses_to_start_and_recover_resumes_above_the_mark(
        fresh_ws: Workstation) -> None:
    c = clerk(fresh_ws)
    last = [fresh_ws.cases.open_case("11330100MB0000001X4000215001000", APPLICANT, c,
                                     today=dt.date.today()) for _ in range(3)][-1]
    fresh_ws.close()
    db = fresh_ws.settings.database_path
    for suffix in ("", "-wal", "-shm"):
        f = db.with_name(db.name + suffix)
        if f.exists():
            f.write_bytes(b"")
    with pytest.raises(IntegrityAlarm, match=r"第3号.*yichuang restore"):
        open_workstation(fresh_ws.settings.data_dir)
    # The refused start seeded nothing: no admin/123456 came back.
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM users").fetchone() == (0,)
    conn.close()
    with pytest.raises(IntegrityAlarm):   # and it keeps refusing
        open_workstation(fresh_ws.settings.data_dir)

    ws = open_workstation(fresh_ws.settings.data_dir, check=False, seed=False)
    done = ws.integrity.recover("硬盘故障，数据库无法恢复", os_user="tester")
    assert done["numbers_resumed_above"] == [(c.terminal, dt.date.today().isoformat(), 3)]
    ws.close()
    ws = open_workstation(fresh_ws.settings.data_dir)
    try:
        assert ws.accounts.users() == []   # recovery never brings admin/123456 back
        again = ws.cases.open_case("11330100MB0000001X4000215001000", APPLICANT, c,
                                   today=dt.date.today())
        assert CaseNumber.parse(again.number).seq == CaseNumber.parse(last.number).seq + 1
        lines = [json.loads(x) for p in ws.integrity.anchor.segments()
                 for x in p.read_text(encoding="utf-8").splitlines()]
        recovery = [x for x in lines if x["kind"] == "recovery"]
        assert [(r["reason"], r["os_user"]) for r in recovery] == [("硬盘故障，数据库无法恢复",
                                                                    "tester")]
    finally:
        ws.close()


def test_an_older_copy_of_the_database_is_refused(fresh_ws: Workstation,
                                                  tmp_path: Path) -> None:
    c = clerk(fresh_ws)
    fresh_ws.cases.open_case("11330100MB0000001X4000215001000", APPLICANT, c, today=DAY)
    copy = tmp_path / "old.db"
    src = sqlite3.connect(fresh_ws.settings.database_path)
    dst = sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    dst.close()
    fresh_ws.cases.open_case("11330100MB0000001X4000215001000", APPLICANT, c, today=DAY)
    fresh_ws.close()
    db = fresh_ws.settings.database_path
    for suffix in ("-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    db.write_bytes(copy.read_bytes())
    with pytest.raises(IntegrityAlarm, match="缺少已锚定的记录"):
        open_workstation(fresh_ws.settings.data_dir)


def test_a_missing_anchor_folder_is_an_alarm_not_a_fresh_start(fresh_ws: Workstation) -> None:
    fresh_ws.cases.open_case("11330100MB0000001X4000215001000", APPLICANT, clerk(fresh_ws),
                             today=DAY)
    fresh_ws.close()
    for p in fresh_ws.integrity.anchor.segments():
        p.unlink()
    with pytest.raises(IntegrityAlarm, match="锚定目录"):
        open_workstation(fresh_ws.settings.data_dir)


# ---- clock -------------------------------------------------------------------------------


def test_a_clock_set_back_issues_no_final_number(fresh_ws: Workstation) -> None:
    c = clerk(fresh_ws)
    fresh_ws.cases.open_case("11330100MB0000001X4000215001000", APPLICANT, c, today=DAY)
    real = fresh_ws.integrity.clock
    fresh_ws.integrity.clock = lambda: real() - dt.timedelta(hours=2)
    with pytest.raises(CaseRuleError, match=r"本机时钟.*早于本终端最近一次办件记录"):
        fresh_ws.cases.open_case("11330100MB0000001X4000215001000", APPLICANT, c, today=DAY)
    fresh_ws.integrity.clock = lambda: real() - dt.timedelta(minutes=2)   # within slack
    fresh_ws.cases.open_case("11330100MB0000001X4000215001000", APPLICANT, c, today=DAY)


def test_a_clock_outside_the_calendar_years_issues_no_final_number(
        fresh_ws: Workstation) -> None:
    c = clerk(fresh_ws)
    for far in (dt.datetime(2201, 1, 5, tzinfo=dt.UTC), dt.datetime(2003, 1, 6, tzinfo=dt.UTC)):
        fresh_ws.integrity.clock = lambda far=far: far
        with pytest.raises(CaseRuleError, match="超出工作日历的范围"):
            fresh_ws.cases.open_case("11330100MB0000001X4000215001000", APPLICANT, c,
                                     today=DAY)


# ---- paper witnesses -----------------------------------------------------------------------


def test_the_code_on_paper_checks_against_the_record(fresh_ws: Workstation) -> None:
    c = clerk(fresh_ws)
    case: CaseState = accepted_case(fresh_ws, c, day=DAY)
    code = fresh_ws.cases.witness_hash(case.id)[:12]
    printed = f"{code[:4]}-{code[4:8]}-{code[8:]}"
    assert fresh_ws.integrity.check_paper(case.number, printed).agrees
    assert not fresh_ws.integrity.check_paper(case.number, "0000-0000-0000").agrees
    with pytest.raises(ValueError, match="校验码"):
        fresh_ws.integrity.check_paper(case.number, "12zz")
    forge_promised_date(fresh_ws, case.id, c)
    result = fresh_ws.integrity.check_paper(case.number, printed)
    assert not result.agrees and "不一致" in result.message


# ---- transactions ---------------------------------------------------------------------------


def test_a_nested_write_fails_at_once(fresh_ws: Workstation) -> None:
    with fresh_ws.db.write(), pytest.raises(NestedWriteError), fresh_ws.db.write():
        pass
    with fresh_ws.db.write() as session:   # the lock was released
        assert session is not None
