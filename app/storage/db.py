"""The SQLite database: pragmas, the write discipline, migrations at start-up.

Writes are serialised by a process-wide lock and run in ``BEGIN IMMEDIATE`` transactions:
SQLite takes the write lock at the start, so a transaction that reads and then writes
never fails half-way with "database is locked" (a deferred one would, without waiting).
Reads use ordinary deferred transactions and, under WAL, never block the writer.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.errors import UserError
from app.storage.files import describe_os_error

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# The newest migration's revision id; a test checks it against Alembic's own head.
# Knowing it lets a start-up on an up-to-date database skip loading Alembic at all.
SCHEMA_HEAD = "0008"
BUSY_TIMEOUT_MS = 10_000


class DatabaseError(UserError, RuntimeError):
    """The database cannot be opened or upgraded; the message says what to do."""


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
        would wait for the lock its own outer transaction holds (the busy timeout, then
        "database is locked"). It fails at once instead.
        """
        if getattr(self._writing, "active", False):
            raise NestedWriteError("a write transaction is already open on this thread")
        with self._write_lock:
            self._writing.active = True
            try:
                with (Session(self._write_engine, expire_on_commit=False) as session,
                      session.begin()):
                    yield session
            finally:
                self._writing.active = False

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
            with self._write_lock, self._write_engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
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
