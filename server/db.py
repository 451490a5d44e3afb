"""The server's database: SQLite (one file, one machine) or PostgreSQL (several server
processes), migrated with Alembic at ``init`` and checked at ``serve``."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
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
    # IMMEDIATE: a request that reads then writes never fails half-way on the lock.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


class ServerDatabase:
    def __init__(self, settings: ServerSettings) -> None:
        url = settings.url
        if url.get_backend_name() == "sqlite":
            settings.home.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(url, connect_args={"timeout": 10})
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        else:
            self.engine = create_engine(url, pool_pre_ping=True)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed on success, rolled back on any error."""
        with self._sessions() as session, session.begin():
            yield session

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
