"""Writers of every process take turns at one flock beside the database (app/storage/db.py).

A holder process keeps a write transaction open while the test writes from its own
process: the write waits and goes on once the holder is done, sees what the holder
committed, survives a holder killed with -9, and gives up with a Chinese message on a
holder that is stopped. Where the lock cannot be had (no fcntl, a lock file that cannot
be opened) writes go on as before, on SQLite's busy handler. ``write_cursor`` (the queue's
plain-SQL writes) keeps the same discipline as ``write``.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from app.storage import db as db_module
from app.storage.db import (
    Database,
    DatabaseBusyError,
    NestedWriteError,
    WriteTurns,
    open_database,
)
from app.storage.install_meta import meta_get, meta_set

fcntl = pytest.importorskip("fcntl")   # the turns are POSIX; elsewhere SQLite alone
REPO_ROOT = Path(__file__).resolve().parents[2]
META = "SELECT value FROM install_meta WHERE key = ?"

HOLDER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from app.storage.db import Database
    from app.storage.install_meta import meta_set

    db = Database(Path(sys.argv[1]))
    with db.write() as session:
        meta_set(session, "holder", "first")
        session.flush()
        print("holding", flush=True)
        sys.stdin.readline()
    print("done", flush=True)
""")


@pytest.fixture
def path(tmp_path: Path) -> Iterator[Path]:
    database = tmp_path / "yichuang.db"
    open_database(database).dispose()
    yield database


@pytest.fixture
def holder(path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process in the middle of a write transaction (until it reads a line)."""
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)],
                             env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "holding"
    yield child
    if child.poll() is None:
        child.kill()
    child.wait(timeout=30)


def _let_go(child: subprocess.Popen[str]) -> None:
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write("\n")
    child.stdin.flush()
    assert child.stdout.readline().strip() == "done"
    assert child.wait(timeout=30) == 0


def _lock_file(path: Path) -> Path:
    return path.with_name(path.name + ".writelock")


def _locked(lock: Path) -> bool:
    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _write_in_thread(db: Database, seen: dict[str, str | None], how: str
                     ) -> threading.Thread:
    def write() -> None:
        if how == "session":
            with db.write() as session:
                seen["holder"] = meta_get(session, "holder")
                meta_set(session, "waiter", "second")
        else:
            with db.write_cursor() as cursor:
                row = cursor.execute(META, ("holder",)).fetchone()
                seen["holder"] = row[0] if row else None
                cursor.execute("INSERT INTO install_meta VALUES ('waiter', 'second')")

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("how", ["session", "cursor"])
def test_a_write_waits_for_the_turn_another_process_holds_and_goes_on_after_it(
        path: Path, holder: subprocess.Popen[str], how: str) -> None:
    assert _locked(_lock_file(path))   # the holder's transaction holds the turn
    db = Database(path)
    try:
        seen: dict[str, str | None] = {}
        waiter = _write_in_thread(db, seen, how)
        waiter.join(0.5)
        assert waiter.is_alive() and seen == {}   # still waiting for its turn
        _let_go(holder)
        waiter.join(30)
        assert not waiter.is_alive()
        assert seen == {"holder": "first"}   # it began after the holder's commit
        assert not _locked(_lock_file(path))
    finally:
        db.dispose()


def test_a_turn_held_by_a_process_killed_with_sigkill_is_free_at_once(
        path: Path, holder: subprocess.Popen[str]) -> None:
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    db = Database(path)
    try:
        with db.write() as session:
            assert meta_get(session, "holder") is None   # its transaction never was
            meta_set(session, "after", "ok")
        with db.read() as session:
            assert meta_get(session, "after") == "ok"
    finally:
        db.dispose()


def test_a_stopped_holder_makes_a_write_fail_in_chinese_instead_of_hanging(
        path: Path, holder: subprocess.Popen[str], monkeypatch: pytest.MonkeyPatch) -> None:
    db = Database(path)
    try:
        holder.send_signal(signal.SIGSTOP)
        monkeypatch.setattr(db_module, "BUSY_TIMEOUT_MS", 300)
        failed: list[BaseException] = []

        def write() -> None:
            try:
                with db.write() as session:
                    meta_set(session, "lost", "never")
            except BaseException as exc:  # reported below
                failed.append(exc)

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        writer.join(60)   # a wait without a bound would still be waiting
        assert not writer.is_alive()
        assert len(failed) == 1 and isinstance(failed[0], DatabaseBusyError)
        assert "数据库正忙" in str(failed[0]) and "请稍后重试" in str(failed[0])
        monkeypatch.undo()
        holder.send_signal(signal.SIGCONT)
        _let_go(holder)
        # The wait given up left no lock behind in this process.
        with db.write() as session:
            assert meta_get(session, "lost") is None
            meta_set(session, "later", "ok")
        with db.read() as session:
            assert (meta_get(session, "holder"), meta_get(session, "later")) == ("first", "ok")
    finally:
        db.dispose()


def test_a_migration_waits_for_the_turn(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    turns = WriteTurns(_lock_file(path))
    held = turns.take(time.monotonic() + 5)   # another descriptor: another writer
    assert held is not None
    opened: list[Database] = []
    thread = threading.Thread(target=lambda: opened.append(open_database(path)), daemon=True)
    thread.start()
    thread.join(0.5)
    assert thread.is_alive() and opened == []
    turns.give_back(held)
    thread.join(60)
    assert len(opened) == 1
    try:
        assert opened[0].current_revision() == opened[0].head_revision()
    finally:
        opened[0].dispose()


def _count_writes(dbs: list[Database], each: int) -> list[str]:
    """One thread per database object, ``each`` writes of its own key each."""
    errors: list[BaseException] = []

    def write(index: int, db: Database) -> None:
        try:
            for n in range(each):
                with db.write() as session:
                    meta_set(session, f"w{index}-{n}", "x")
        except BaseException as exc:  # reported by the test, not swallowed
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i, d)) for i, d in enumerate(dbs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with dbs[0].read() as session:
        return [k for i in range(len(dbs)) for n in range(each)
                if meta_get(session, k := f"w{i}-{n}") == "x"]


def test_without_flock_writes_go_on_on_sqlites_busy_handler(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db_module, "fcntl", None)   # as on Windows
    path = tmp_path / "yichuang.db"
    dbs = [open_database(path), Database(path)]
    try:
        assert len(_count_writes(dbs, 30)) == 60
        assert not _lock_file(path).exists()
    finally:
        for d in dbs:
            d.dispose()


def test_a_lock_file_that_cannot_be_opened_falls_back_to_sqlite_alone(tmp_path: Path) -> None:
    path = tmp_path / "yichuang.db"
    _lock_file(path).mkdir(parents=True)   # a folder where the lock file should be
    dbs = [open_database(path), Database(path)]
    try:
        assert len(_count_writes(dbs, 30)) == 60
    finally:
        for d in dbs:
            d.dispose()
    assert WriteTurns(tmp_path / "missing" / "x.writelock").take(time.monotonic() + 1) is None


def test_a_write_cursor_commits_what_it_wrote_and_rolls_back_on_an_error(path: Path) -> None:
    db = Database(path)
    try:
        with db.write_cursor() as cursor:
            cursor.execute("INSERT INTO install_meta VALUES ('kept', '1')")
        with pytest.raises(sqlite3.IntegrityError), db.write_cursor() as cursor:
            cursor.execute("INSERT INTO install_meta VALUES ('undone', '1')")
            cursor.execute("INSERT INTO install_meta VALUES ('kept', '2')")   # a duplicate
        with db.read() as session:
            assert (meta_get(session, "kept"), meta_get(session, "undone")) == ("1", None)
        with db.write() as session:   # nothing was left open on the pooled connection
            meta_set(session, "after", "ok")
    finally:
        db.dispose()


def test_a_write_of_either_kind_inside_another_is_refused_at_once(path: Path) -> None:
    db = Database(path)
    try:
        with db.write(), pytest.raises(NestedWriteError), db.write_cursor():
            pass
        with db.write_cursor(), pytest.raises(NestedWriteError), db.write():
            pass
    finally:
        db.dispose()


def test_a_fifo_put_at_the_lock_path_falls_back_instead_of_blocking(tmp_path: Path) -> None:
    db = open_database(tmp_path / "q.db")
    lock = tmp_path / "q.db.writelock"
    lock.unlink(missing_ok=True)
    os.mkfifo(lock)   # opening a FIFO for reading blocks until a writer comes: never here
    done = threading.Event()

    def write() -> None:
        with db.write() as session:
            session.execute(text("CREATE TABLE IF NOT EXISTS t (x)"))
        done.set()

    threading.Thread(target=write, daemon=True).start()
    assert done.wait(5), "a write blocked on the FIFO at the lock path"
    db.dispose()
