"""The server's database: SQLite (one file, one machine) or PostgreSQL (several server
processes), migrated with Alembic at ``init`` and checked at ``serve``."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from server.settings import ServerSettings, ServerSettingsError

MIGRATIONS = Path(__file__).parent / "migrations"
SCHEMA_HEAD = "s0005"


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


class ServerDatabase:
    def __init__(self, settings: ServerSettings) -> None:
        url = settings.url
        self.sqlite = url.get_backend_name() == "sqlite"
        if self.sqlite:
            settings.home.mkdir(parents=True, exist_ok=True)
            # As many connections as request threads: a read never waits for the pool.
            self.engine: Engine = create_engine(url, connect_args={"timeout": 10,
                                                                   "check_same_thread": False},
                                                pool_size=40, max_overflow=10)
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
            writer: Engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        else:
            self.engine = create_engine(url, pool_pre_ping=True, pool_size=20, max_overflow=20)
            writer = self.engine
        self._writer = writer
        self._sessions = sessionmaker(writer, expire_on_commit=False)
        self._readers = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time; the request threads of this process take turns
        # here instead of in SQLite's busy handler, which sleeps in steps of up to 100 ms.
        self._write_turn: AbstractContextManager[Any] = (threading.Lock() if self.sqlite
                                                          else nullcontext())

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

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """One read-only transaction as a Core connection (see :meth:`write_connection`)."""
        with self.engine.begin() as conn:
            yield conn

    def revision(self) -> str | None:
        try:
            with self.engine.connect() as conn:
                return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except OperationalError:
            return None
        except Exception as exc:   # e.g. PostgreSQL not reachable
            if "alembic_version" in str(exc):
                return None
            raise ServerSettingsError(f"无法连接数据库：{exc}") from exc

    def migrate(self) -> None:
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def dispose(self) -> None:
        self.engine.dispose()
