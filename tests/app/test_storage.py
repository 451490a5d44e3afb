"""The SQLite database: migrations, pragmas, the write discipline under concurrency."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select

from app.storage.case_log import next_case_number
from app.storage.db import (
    BUSY_TIMEOUT_MS,
    SCHEMA_HEAD,
    Database,
    DatabaseError,
    open_database,
)
from app.storage.models import Base, CaseNumberCounter, UserRow

DAY = dt.date(2026, 11, 23)
SITE = "330100001"


def _user(username: str) -> UserRow:
    return UserRow(id=f"id-{username}", username=username, display_name=username,
                   role="clerk", password_hash="x", must_change_password=True, active=True,
                   failed_logins=0, created_at=dt.datetime(2026, 11, 23, 9, 0))


def _last_seq(db: Database, terminal: str = "01") -> int | None:
    with db.read() as session:
        row = session.get(CaseNumberCounter, (SITE, terminal, DAY))
        return None if row is None else row.last_seq


@pytest.fixture
def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    database = open_database(tmp_path / "data" / "yichuang.db")
    yield database
    database.dispose()


# ---- schema --------------------------------------------------------------------------


def test_migrating_an_empty_file_creates_every_table_at_head(tmp_path: Path) -> None:
    path = tmp_path / "new" / "yichuang.db"
    db = open_database(path)
    try:
        assert path.is_file()
        with sqlite3.connect(path) as raw:
            tables = {r[0] for r in raw.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")}
            triggers = {r[0] for r in raw.execute(
                "SELECT name FROM sqlite_master WHERE type='trigger'")}
            version = raw.execute("SELECT version_num FROM alembic_version").fetchall()
        assert tables == set(Base.metadata.tables) | {"alembic_version"}
        assert triggers == {f"{table}_no_{what}" for table in
                            ("case_events", "case_documents", "queue_ticket_events",
                             "queue_ratings", "queue_manual_calls")
                            for what in ("update", "delete", "replace")}
        assert version == [(db.head_revision(),)]
        assert db.current_revision() == db.head_revision()
    finally:
        db.dispose()


def test_the_known_schema_head_is_alembics_head(db: Database) -> None:
    # Start-up skips Alembic when the database is at SCHEMA_HEAD: it must be the real head.
    assert db.head_revision() == SCHEMA_HEAD


def test_the_migration_matches_the_models(db: Database) -> None:
    with db.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert differences == []


def test_pragmas_on_every_connection(db: Database) -> None:
    with db.engine.connect() as conn:
        pragma = {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                  for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")}
    assert pragma == {"journal_mode": "wal", "foreign_keys": 1,
                      "busy_timeout": BUSY_TIMEOUT_MS, "synchronous": 2}


def test_reopening_keeps_the_data_and_the_revision(tmp_path: Path) -> None:
    path = tmp_path / "yichuang.db"
    first = open_database(path)
    with first.write() as session:
        session.add(_user("zhangsan"))
    first.dispose()
    second = open_database(path)
    try:
        assert second.current_revision() == second.head_revision()
        with second.read() as session:
            assert session.scalars(select(UserRow.username)).all() == ["zhangsan"]
    finally:
        second.dispose()


def test_a_database_from_a_newer_program_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "yichuang.db"
    open_database(path).dispose()
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(DatabaseError, match="更新版本的一窗通"):
        open_database(path)


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "yichuang.db"
    path.write_bytes(b"this is not an SQLite file, it is a letter. " * 100)
    with pytest.raises(DatabaseError, match="无法打开"):
        open_database(path)


def test_foreign_keys_are_enforced(db: Database) -> None:
    from app.storage.models import CalendarDay

    with pytest.raises(Exception, match="FOREIGN KEY"), db.write() as session:
        session.add(CalendarDay(day=DAY, kind="法定节假日", name="测试", notice_year=1999))
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(CalendarDay)) == 0


# ---- transactions --------------------------------------------------------------------


def test_a_failed_write_leaves_nothing_behind(db: Database) -> None:
    with pytest.raises(RuntimeError, match="power cut"), db.write() as session:
        next_case_number(session, SITE, "01", DAY)
        session.add(_user("lisi"))
        session.flush()  # the rows reached the database inside the transaction
        raise RuntimeError("power cut")
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(UserRow)) == 0
    assert _last_seq(db) is None
    # And the database is still usable afterwards.
    with db.write() as session:
        assert next_case_number(session, SITE, "01", DAY).seq == 1


def _hammer(db: Database, n: int, barrier: threading.Barrier, issued: list[int],
            errors: list[BaseException]) -> None:
    try:
        barrier.wait()
        for _ in range(n):
            with db.write() as session:
                issued.append(next_case_number(session, SITE, "01", DAY).seq)
    except BaseException as exc:  # reported by the test, not swallowed
        errors.append(exc)


def _hammer_together(dbs: list[Database]) -> tuple[list[int], list[BaseException]]:
    """One thread per database object, 50 numbers each, all started at one barrier."""
    issued: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(dbs))
    threads = [threading.Thread(target=_hammer, args=(d, 50, barrier, issued, errors))
               for d in dbs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return issued, errors


def test_two_threads_writing_through_one_database_lose_nothing(db: Database) -> None:
    issued, errors = _hammer_together([db, db])
    assert errors == []
    assert sorted(issued) == list(range(1, 101))
    assert _last_seq(db) == 100


def test_two_database_objects_on_one_file_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "yichuang.db"
    first, second = open_database(path), Database(path)
    try:
        issued, errors = _hammer_together([first, second])
        assert errors == []
        assert sorted(issued) == list(range(1, 101))
    finally:
        first.dispose()
        second.dispose()


WRITER = textwrap.dedent("""
    import datetime as dt, sys, time
    from pathlib import Path
    from app.storage.case_log import next_case_number
    from app.storage.db import Database

    db = Database(Path(sys.argv[1]))
    go = Path(sys.argv[2])
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.005)
    issued = []
    for _ in range(int(sys.argv[3])):
        with db.write() as session:
            issued.append(next_case_number(session, "330100001", "01",
                                           dt.date(2026, 11, 23)).seq)
    print(",".join(map(str, issued)), flush=True)
""")


def test_two_processes_writing_to_one_file_both_succeed(tmp_path: Path) -> None:
    path = tmp_path / "yichuang.db"
    open_database(path).dispose()
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(go), "60"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    try:
        for p in procs:
            assert p.stdout is not None
            assert p.stdout.readline().strip() == "ready"
        go.touch()
        results = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    issued: list[int] = []
    for p, (out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err
        assert "locked" not in err
        issued += [int(s) for s in out.strip().split(",")]
    assert sorted(issued) == list(range(1, 121))
    db = Database(path)
    try:
        assert _last_seq(db) == 120
    finally:
        db.dispose()


def test_a_reader_does_not_block_the_writer(db: Database) -> None:
    with db.write() as session:
        next_case_number(session, SITE, "01", DAY)
    with db.read() as reader:
        reader.get(CaseNumberCounter, (SITE, "01", DAY))   # holds a read snapshot
        started = time.monotonic()
        with db.write() as writer:
            next_case_number(writer, SITE, "01", DAY)
        assert time.monotonic() - started < 2
    assert _last_seq(db) == 2
