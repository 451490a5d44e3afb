"""The SQLite database: pragmas, the write discipline, migrations at start-up.

Writes are serialised by a process-wide lock and run in ``BEGIN IMMEDIATE`` transactions:
SQLite takes the write lock at the start, so a transaction that reads and then writes
never fails half-way with "database is locked" (a deferred one would, without waiting).
Reads use ordinary deferred transactions and, under WAL, never block the writer.

Between processes, writers take turns at an ``flock`` on a file beside the database
(``<db>.writelock``) before BEGIN IMMEDIATE. SQLite's own busy handler polls in growing
sleeps (up to 100 ms), so with many window processes a waiter woke long after the lock
was free, and the latest arrival often won (叫号 p99 0.75 s with 16 windows). The kernel
wakes the next flock waiter the moment the holder is done, and releases the lock of a
process killed with -9, so there is no stale lock. The wait is bounded like SQLite's
(BUSY_TIMEOUT_MS, then :class:`DatabaseBusyError`). Where flock is missing (Windows) or the
lock file cannot be opened (a read-only folder), writes go on as before: SQLite's busy
handler alone.
"""

from __future__ import annotations

import math
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.errors import UserError
from app.storage.files import describe_os_error

try:
    import fcntl
except ImportError:  # Windows: SQLite's busy handler decides who writes next, as before
    fcntl = None  # type: ignore[assignment]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
# The newest migration's revision id; a test checks it against Alembic's own head.
# Knowing it lets a start-up on an up-to-date database skip loading Alembic at all.
SCHEMA_HEAD = "0009"
BUSY_TIMEOUT_MS = 10_000


class DatabaseError(UserError, RuntimeError):
    """The database cannot be opened or upgraded; the message says what to do."""


class DatabaseBusyError(DatabaseError):
    """Another process held the write turn for BUSY_TIMEOUT_MS (stuck, or a huge write)."""


class NestedWriteError(RuntimeError):
    """A write transaction was opened inside another one (a bug, not a user error)."""


def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's implicit BEGIN would
    # always be DEFERRED).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    try:
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")  # a receipt printed is a case on disk
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    finally:
        cur.close()


def _on_begin(conn: Any) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


class WriteTurns:
    """Writers of every process on one database take turns at an flock on ``path``.

    :meth:`take` returns the descriptor holding the turn, or None when there is no lock
    to take (no fcntl, the file cannot be opened or locked): the caller then relies on
    SQLite's busy handler alone. Each turn has its own descriptor: flock belongs to an
    open file, and a turn given up after the timeout must not be shared with the next.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def take(self, deadline: float) -> int | None:
        """Wait for the turn until ``deadline`` (time.monotonic) at the latest."""
        if fcntl is None:
            return None
        try:
            # Read-only is enough for flock; 0600 like the database beside it. Never
            # blocking, never through a link: a FIFO put at this path would make open()
            # wait for a writer for ever, with no deadline yet.
            fd = os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_NONBLOCK | _NOFOLLOW
                         | os.O_CLOEXEC, 0o600)
        except OSError:
            return None   # a read-only folder: SQLite's busy handler alone
        if not stat.S_ISREG(os.fstat(fd).st_mode):   # a FIFO, a device: not a lock file
            os.close(fd)
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            pass
        except OSError:   # a file system without flock
            os.close(fd)
            return None
        return _BlockedTurn(fd).wait(deadline - time.monotonic())

    @staticmethod
    def give_back(fd: int | None) -> None:
        if fd is not None:
            os.close(fd)   # closing the last descriptor of the open file unlocks it


class _BlockedTurn:
    """A blocking flock in a helper thread, so that the caller can stop waiting.

    Linux has no flock with a timeout, and polling with LOCK_NB would bring back the late
    wake-ups this lock exists to avoid. A wait given up at the deadline leaves the thread
    blocked; if it ever gets the lock it closes the descriptor at once.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.settled = threading.Event()
        self.guard = threading.Lock()
        self.abandoned = False
        self.failed = False

    def wait(self, seconds: float) -> int | None:
        threading.Thread(target=self._block, name="write-turn", daemon=True).start()
        try:
            self.settled.wait(max(seconds, 0.0))
        except BaseException:   # interrupted (Ctrl+C): never keep a turn nobody uses
            if not self._give_up():
                os.close(self.fd)
            raise
        if self._give_up():
            raise DatabaseBusyError(
                f"数据库正忙：另一个窗口或程序正在写入，等待{math.ceil(seconds)}秒仍未轮到，"
                "本次操作未保存，请稍后重试；如一直如此，请关闭卡住的一窗通程序。")
        if self.failed:
            os.close(self.fd)
            return None
        return self.fd

    def _give_up(self) -> bool:
        """True if the turn had not come: the helper closes the descriptor when it does."""
        with self.guard:
            if not self.settled.is_set():
                self.abandoned = True
                return True
        return False

    def _block(self) -> None:
        assert fcntl is not None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except OSError:
            self.failed = True
        with self.guard:
            if self.abandoned:
                os.close(self.fd)
            else:
                self.settled.set()


class Database:
    """One SQLite file. ``read()`` and ``write()`` give a Session for one operation."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseError(f"无法创建数据目录 {path.parent}：{describe_os_error(exc)}") from exc
        # URL.create, not "sqlite:///{path}": a "#", "?" or "%" in a folder name
        # (U盘#1) would otherwise be parsed as URL syntax and open another file.
        self.engine: Engine = create_engine(
            URL.create("sqlite", database=str(path)),
            connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )
        event.listen(self.engine, "connect", _on_connect)
        event.listen(self.engine, "begin", _on_begin)
        self._write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self._write_lock = threading.Lock()
        self._writing = threading.local()
        self._turns = WriteTurns(path.with_name(path.name + ".writelock"))

    # -- sessions --

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; objects are expunged when it closes."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction (BEGIN IMMEDIATE): committed on success, else rolled back.

        A write opened inside another on the same thread is a programming error: it
        would wait for the turn its own outer transaction holds. It fails at once instead.
        """
        if getattr(self._writing, "active", False):
            raise NestedWriteError("a write transaction is already open on this thread")
        with self._turn():
            self._writing.active = True
            try:
                with (Session(self._write_engine, expire_on_commit=False) as session,
                      session.begin()):
                    yield session
            finally:
                self._writing.active = False

    @contextmanager
    def write_cursor(self) -> Iterator[sqlite3.Cursor]:
        """One write transaction as a plain sqlite3 cursor: the same turn, BEGIN
        IMMEDIATE, commit or rollback as :meth:`write`, without the ORM session.

        For the queue's 叫号, which every window process waits on: the session's own
        begin and commit cost ~0.1 ms of its ~0.8 ms under the turn.
        """
        if getattr(self._writing, "active", False):
            raise NestedWriteError("a write transaction is already open on this thread")
        with self._turn():
            self._writing.active = True
            try:
                pooled = self.engine.raw_connection()   # with the pragmas of _on_connect
                try:
                    driver = pooled.driver_connection
                    assert isinstance(driver, sqlite3.Connection)
                    cursor = driver.cursor()
                    cursor.execute("BEGIN IMMEDIATE")
                    try:
                        yield cursor
                    except BaseException:
                        if driver.in_transaction:   # SQLite may have rolled back already
                            driver.execute("ROLLBACK")
                        raise
                    driver.execute("COMMIT")
                finally:
                    pooled.close()   # back to the pool, which rolls back what is left open
            finally:
                self._writing.active = False

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """This thread's turn to write: first among this process's threads, then among
        processes (WriteTurns), so BEGIN IMMEDIATE finds the SQLite lock free."""
        with self._write_lock:
            fd = self._turns.take(time.monotonic() + BUSY_TIMEOUT_MS / 1000)
            try:
                yield
            finally:
                self._turns.give_back(fd)

    # -- schema --

    def _alembic_config(self) -> Any:
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        return cfg

    def head_revision(self) -> str:
        from alembic.script import ScriptDirectory

        head = ScriptDirectory.from_config(self._alembic_config()).get_current_head()
        assert head is not None
        return str(head)

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            try:
                return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            except OperationalError:  # no alembic_version table: an empty database
                return None

    def migrate(self) -> None:
        """Bring the schema to the newest revision; an older database keeps its data."""
        try:
            if self.current_revision() == SCHEMA_HEAD:
                return
        except Exception as exc:
            raise DatabaseError(f"无法打开数据库 {self.path}：{exc}") from exc
        from alembic import command
        from alembic.util.exc import CommandError

        cfg = self._alembic_config()
        try:
            with self._turn(), self._write_engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except DatabaseError:
            raise   # busy: its own message says what to do
        except CommandError as exc:
            raise DatabaseError(
                f"数据库 {self.path} 的结构版本无法识别（可能来自更新版本的一窗通），"
                f"请升级本程序后再打开：{exc}"
            ) from exc
        except Exception as exc:
            raise DatabaseError(f"无法打开或升级数据库 {self.path}：{exc}") from exc

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(path: Path) -> Database:
    """Open (creating if needed) and migrate the database at ``path``."""
    db = Database(path)
    db.migrate()
    return db
