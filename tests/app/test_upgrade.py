"""A database left by each released schema opens with today's code, nothing lost.

The fixtures in tests/fixtures/schema-*.db are written once per released revision by
``python -m tests.fixtures.make_schema_fixture`` and never regenerated.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from app.domain.case import CaseStatus
from app.domain.rating import Grade
from app.storage.db import SCHEMA_HEAD
from app.storage.models import CaseRow, QueueTicketRow
from app.workstation import Workstation, open_workstation

FIXTURES = sorted((Path(__file__).resolve().parents[1] / "fixtures").glob("schema-*.db"))


def test_there_is_a_fixture_for_the_current_schema() -> None:
    assert f"schema-{SCHEMA_HEAD}.db" in {p.name for p in FIXTURES}


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
def test_old_database_upgrades_and_keeps_everything(fixture: Path, tmp_path: Path) -> None:
    shutil.copyfile(fixture, tmp_path / "yichuang.db")
    anchors = fixture.with_name(f"{fixture.stem}-anchors")
    if anchors.is_dir():   # from schema 0003 on, the witnesses kept beside the database
        shutil.copytree(anchors, tmp_path / "anchors")
    blobs = fixture.with_name(f"{fixture.stem}-blobs")
    if blobs.is_dir():     # from schema 0009 on, the files the record names
        shutil.copytree(blobs, tmp_path / "blobs")
    ws = open_workstation(tmp_path)
    try:
        assert ws.db.current_revision() == SCHEMA_HEAD
        # Seeding must not duplicate what the old install already had.
        assert {u.username for u in ws.accounts.users()} == {"admin", "clerk01"}
        assert [r.version for r in ws.catalogue.releases()] == ["2026.11"]
        assert 2026 in ws.calendar.calendar().covered_years
        assert ws.accounts.login("clerk01", "Fixture2026a").display_name == "张敏"
        case = ws.cases.by_number(_only_case_number(ws))
        assert case.status is CaseStatus.COMPLETED
        assert case.applicant.name == "王小明"
        assert len(case.materials) >= 2
        if fixture.stem >= "schema-0002":
            archived = ws.documents.history(case.id)
            assert [(d.kind.value, d.outcome) for d in archived] == [("acceptance", "exported")]
        report = ws.integrity.verify()
        # Fixtures before 0009 were kept without their archive: the audit says the
        # printed document is missing, and nothing else.
        missing = [f.problem for f in report.findings if "缺失" in f.problem]
        assert [f for f in report.findings if "缺失" not in f.problem] == []
        assert missing == ([] if blobs.is_dir() or fixture.stem < "schema-0002" else
                           [f"办件{case.number}的文书“受理通知书”（{_receipt_sha(ws, case.id)[:12]}…）"
                            "缺失：请从备份恢复（yichuang restore），扫描件也可删除后重扫"])
        # Until 0004 an export was recorded as an attempt and its outcome (two rows).
        exported_rows = 1 if fixture.stem >= "schema-0004" else 2
        # 0009's case has two more events: its pages scanned, then one turned.
        events = 5 if fixture.stem >= "schema-0009" else 3
        assert [(c.chain, c.rows, c.intact, c.anchored) for c in report.chains] == (
            [("documents", exported_rows, True, True), ("events", events, True, True)]
            if fixture.stem >= "schema-0002" else [("events", events, True, True)])
        # Scanned pages came with 0009; an older case replays to none, and has none.
        if fixture.stem >= "schema-0009":
            [(material, pages)] = case.pages
            assert material == case.materials[0].material_id
            assert [(p.dpi, p.turns, p.origin) for p in pages] == [
                (200, 0, "fixture 1"), (200, 1, "fixture 2")]
        else:
            assert case.pages == ()
        if fixture.stem >= "schema-0004":   # the 文号 register came with 0004
            facts = ws.cases.document_facts(case.id)
            assert facts is not None and facts.notice is not None
            assert facts.notice.document_number == "城关市监受〔2026〕第01-0001号"
        assert report.cases == 1
        credit = ws.cases.credit_facts(case.id)
        if fixture.stem >= "schema-0005":   # the 失信名单 and 咨询登记 came with 0005
            status = ws.credit.status()
            assert status is not None and (status.version, status.entries) == ("2026.11.19", 2)
            assert credit is not None and credit.hit and credit.list_version == "2026.11.19"
            assert credit.entry is not None and credit.entry.measure == "限制适用告知承诺制和容缺受理"
            assert [(c.name, c.question) for c in ws.consultations.find()] == [
                ("李华", "开餐馆要办什么证？")]
        else:   # recorded nothing then, and the upgrade invents nothing
            assert credit is None and ws.credit.status() is None
            assert ws.consultations.find() == []
        # The queue came with 0007: an older install gets the demo site's categories
        # and windows and no tickets; a 0007 one keeps its tickets and their history.
        assert [c.prefix for c in ws.queue.categories()] == ["A", "B", "C"]
        assert [w.number for w in ws.queue.windows()] == ["1", "2", "3"]
        tickets = _tickets(ws)
        if fixture.stem >= "schema-0007":
            assert [(t.number, t.status, t.ticket_class) for t in tickets] == [
                ("A001", "waiting", "普通"), ("A002", "finished", "优先"),
                ("C001", "waiting", "普通")]
            day = tickets[0].day
            assert ws.queue.ticket("A002", day).priority_reason == "军人依法优先"
            assert ws.queue.ticket("A002", day).version == 3   # issued, called, finished
            # … and its 好差评: a 差评 by the admin's 办结, waiting for a 回访.
            admin = {u.username: u.user_id for u in ws.accounts.users()}["admin"]
            [rating] = ws.ratings.ratings(day)
            assert (rating.number, rating.window, rating.clerk_id, rating.grade,
                    rating.reasons, rating.case_id) == (
                "A002", "1", admin, Grade.DISSATISFIED, ("办事效率低、等候时间长",), "")
            assert ws.ratings.open_followups() == [rating]
        else:
            assert tickets == []
            assert ws.ratings.open_followups() == []
        # 手工叫号 came with 0008: kept as recorded; an older install starts with none.
        manual = [(c.number, c.window, c.reason) for c in ws.manual_calls.of(tickets[0].day)
                  ] if tickets else []
        if fixture.stem >= "schema-0008":
            assert manual == [("15", "2", "取号机打印机卡纸")]
        else:
            assert manual == []
    finally:
        ws.close()


def _receipt_sha(ws: Workstation, case_id: str) -> str:
    [sha] = {d.sha256 for d in ws.documents.history(case_id)}
    return sha


def _only_case_number(ws: Workstation) -> str:
    with ws.db.read() as session:
        numbers = session.scalars(select(CaseRow.number)).all()
    assert len(numbers) == 1
    return numbers[0]


def _tickets(ws: Workstation) -> list[QueueTicketRow]:
    with ws.db.read() as session:
        return list(session.scalars(select(QueueTicketRow).order_by(QueueTicketRow.number)))
