"""The server's migrations build exactly the tables its models declare, up to the head
the server checks at start-up, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from server.db import SCHEMA_HEAD, ServerDatabase
from server.schema import Base
from server.settings import ServerSettings


def test_migrations_match_the_models_and_reach_the_head(tmp_path: Path,
                                                       database_url: str) -> None:
    db = ServerDatabase(ServerSettings(tmp_path, database_url))
    try:
        db.migrate()
        assert db.revision() == SCHEMA_HEAD
        with db.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    finally:
        db.dispose()
