"""The server's database: SQLite (one file, one machine) or PostgreSQL (several server
processes), migrated with Alembic at ``init`` and checked at ``serve``.

Only :meth:`ServerDatabase.migrate` (``init``) creates a SQLite database and its home:
every other use opens an existing file or finds none (a read-only command pointed at the
wrong home says so instead of leaving an empty database behind). The home is the server
user's alone (0700) and the database files too (0600): they hold the token signing key.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from app.storage.db import BUSY_TIMEOUT_MS, WriteTurns
from server.group_commit import GroupCommit
from server.settings import ServerSettings, ServerSettingsError

T = TypeVar("T")

MIGRATIONS = Path(__file__).parent / "migrations"
SCHEMA_HEAD = "s0007"
PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600
# PostgreSQL advisory lock taken by ``init`` (migration, then the first site and admin):
# two inits racing on one database take turns, and the second finds the work done.
_INIT_LOCK = 0x79630011


def problem(exc: BaseException) -> str:
    """The database's own complaint in one line (a driver's message may have several)."""
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    return "；".join(lines[:2])[:300] or type(orig).__name__


def _sqlite_pragmas(conn: sqlite3.Connection, _record: Any) -> None:
    conn.isolation_level = None   # SQLAlchemy's begin event issues BEGIN itself
    cur = conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")   # an acknowledged op is on disk
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # Writes BEGIN IMMEDIATE: one that reads then writes never fails half-way on the lock.
    # Reads BEGIN DEFERRED: under WAL they never wait for a writer.
    conn.exec_driver_sql(f"BEGIN {conn.get_execution_options().get('sqlite_begin', 'DEFERRED')}")


class SqliteWriteTurn:
    """SQLite has one writer at a time. The request threads of this process take turns at
    a lock, then the processes serving the file (``serve --workers``) at an flock on
    ``server.db.writelock`` — the client's own WriteTurns — instead of in SQLite's busy
    handler, which sleeps in steps of up to 100 ms. A turn not had within the busy
    timeout is DatabaseBusyError (a 503)."""

    def __init__(self, path: Path | None) -> None:
        self._threads = threading.Lock()
        self._turns = (WriteTurns(path.with_name(path.name + ".writelock"))
                       if path is not None else None)
        self._fd: int | None = None   # only the thread holding _threads touches it

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            if self._turns is not None:
                self._fd = self._turns.take(time.monotonic() + BUSY_TIMEOUT_MS / 1000)
        except BaseException:
            self._threads.release()
            raise

    def __exit__(self, *_exc: object) -> None:
        fd, self._fd = self._fd, None
        WriteTurns.give_back(fd)
        self._threads.release()


class ServerDatabase:
    def __init__(self, settings: ServerSettings) -> None:
        url = settings.url
        self.home = settings.home
        self.sqlite = url.get_backend_name() == "sqlite"
        # The SQLite file (None: PostgreSQL, or an in-memory SQLite).
        self.path: Path | None = (Path(url.database).absolute() if self.sqlite and url.database
                                  and url.database != ":memory:" else None)
        if self.sqlite:
            # As many connections as request threads: a read never waits for the pool.
            self.engine: Engine = create_engine(url, connect_args={"timeout": 10,
                                                                   "check_same_thread": False},
                                                pool_size=40, max_overflow=10,
                                                **self._existing_file_only())
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
            writer: Engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        else:
            self.engine = create_engine(url, pool_pre_ping=True, pool_size=20, max_overflow=20)
            writer = self.engine
        self._writer = writer
        self._sessions = sessionmaker(writer, expire_on_commit=False)
        self._readers = sessionmaker(self.engine, expire_on_commit=False)
        self._write_turn: AbstractContextManager[Any] = (
            SqliteWriteTurn(self.path) if self.sqlite else nullcontext())
        # SQLite: the queue's short writes of many request threads share commits (fsyncs).
        self.group = GroupCommit(writer, self._write_turn) if self.sqlite else None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One write transaction: committed on success, rolled back on any error."""
        with self._write_turn, self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """One read-only transaction (on SQLite it never waits for the writer)."""
        with self._readers() as session, session.begin():
            yield session

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """One write transaction as a Core connection, for hot paths that speak prebuilt
        SQL (the hall queue): the ORM's unit of work costs more than their statements."""
        with self._write_turn, self._writer.begin() as conn:
            yield conn

    def write(self, work: Callable[[Connection], T]) -> T:
        """``work(connection)`` in a write transaction, its result once committed. On
        SQLite the pieces of concurrent callers share a transaction, each in a savepoint
        of its own (server/group_commit.py); on PostgreSQL each has its own."""
        if self.group is not None:
            return self.group.run(work)
        with self.write_connection() as conn:
            return work(conn)

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """One read-only transaction as a Core connection (see :meth:`write_connection`)."""
        with self.engine.begin() as conn:
            yield conn

    def _existing_file_only(self) -> dict[str, Any]:
        """Connections that open the SQLite file but never create it (``mode=rw``)."""
        path = self.path
        if path is None:
            return {}

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(f"{path.as_uri()}?mode=rw", uri=True, timeout=10,
                                   check_same_thread=False)

        return {"creator": connect}

    def revision(self) -> str | None:
        """The schema's Alembic revision; None for a database nobody initialised (or no
        SQLite file at all). A database that cannot be read is a ServerSettingsError."""
        if self.path is not None and not self.path.is_file():
            if self.path.exists():
                raise ServerSettingsError(f"数据库 {self.path} 不是文件。")
            return None
        try:
            with self.engine.connect() as conn:
                return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except DBAPIError as exc:
            if "alembic_version" in str(exc.orig):   # the table is not there: not initialised
                return None
            raise ServerSettingsError(f"无法打开数据库：{problem(exc)}") from None

    def migrate(self) -> None:
        """Create (SQLite: the home and the file, private) and upgrade to the head."""
        from alembic import command
        from alembic.config import Config

        self._create_file()
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            self.lock_for_init(conn)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        self.make_private()

    def lock_for_init(self, conn: Connection | Session) -> None:
        """On PostgreSQL, wait for any other ``init`` on this database to finish (held to
        the end of the caller's transaction). SQLite's write lock already does it."""
        if not self.sqlite:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _INIT_LOCK})

    def _create_file(self) -> None:
        if self.path is None or self.path.exists():
            return
        if self.path.parent == self.home.absolute():
            self.home.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        elif not self.path.parent.is_dir():
            raise ServerSettingsError(f"数据库文件所在的目录 {self.path.parent} 不存在。")
        # Created private: the signing key goes in it (O_EXCL: never someone else's file).
        os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE))

    def make_private(self) -> None:
        """The home 0700 and the SQLite files 0600 (a home made by an older version, or
        copied in, may be readable by every local user: it holds the signing key)."""
        if self.home.is_dir():
            _restrict(self.home, PRIVATE_DIR)
        if self.path is not None:
            for suffix in ("", "-wal", "-shm", "-journal"):
                _restrict(Path(f"{self.path}{suffix}"), PRIVATE_FILE)

    def dispose(self) -> None:
        self.engine.dispose()


def _restrict(path: Path, mode: int) -> None:
    """Take away group and other permissions from ``path`` if it exists and is ours
    (POSIX only: Windows keeps a user's data folder private by its ACLs)."""
    if not hasattr(os, "geteuid"):
        return
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    if st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) & ~mode:
        path.chmod(stat.S_IMODE(st.st_mode) & mode)
