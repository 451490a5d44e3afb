"""db.SCHEMA_HEAD lets start-up skip Alembic; it must name Alembic's real head."""

from __future__ import annotations

from pathlib import Path

from app.storage.db import SCHEMA_HEAD, Database, open_database


def test_schema_head_constant_matches_alembic_head(tmp_path: Path) -> None:
    db = Database(tmp_path / "x.db")
    assert db.head_revision() == SCHEMA_HEAD
    db.dispose()


def test_reopening_current_database_keeps_revision(tmp_path: Path) -> None:
    db = open_database(tmp_path / "x.db")
    assert db.current_revision() == SCHEMA_HEAD
    db.dispose()
    again = open_database(tmp_path / "x.db")
    assert again.current_revision() == SCHEMA_HEAD
    again.dispose()
