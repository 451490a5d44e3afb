"""Group commit on the server's SQLite database (server/group_commit.py): the writes of
request threads that wait together share one commit, and each still gets its own answer
— its result, or its own exception with nothing it wrote kept."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Connection, event, text

from server.db import ServerDatabase
from server.models import ServerMetaRow
from server.settings import ServerSettings


class Refused(Exception):
    pass


@pytest.fixture
def db(tmp_path: Path) -> ServerDatabase:
    database = ServerDatabase(ServerSettings(tmp_path / "home"))
    database.migrate()
    return database


def _store(key: str) -> str:
    def work(conn: Connection) -> str:
        conn.execute(text("INSERT INTO server_meta (key, value) VALUES (:k, 'v')"), {"k": key})
        if key == "k3":
            raise Refused(key)
        return key.upper()
    return work


def test_writes_waiting_together_share_one_commit_and_each_gets_its_own_answer(
        db: ServerDatabase) -> None:
    commits: list[int] = []
    event.listen(db.engine, "commit", lambda _conn: commits.append(1))
    answers: dict[str, str | BaseException] = {}

    def write(key: str) -> None:
        try:
            answers[key] = db.write(_store(key))
        except Refused as exc:
            answers[key] = exc

    assert db.group is not None
    threads = [threading.Thread(target=write, args=(f"k{i}",)) for i in range(10)]
    with db.session() as session:   # another writer holds the turn while they arrive
        session.add(ServerMetaRow(key="first", value="v"))
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while db.group.waiting < 9 and time.monotonic() < deadline:
            time.sleep(0.01)   # the first leads (its batch taken), nine wait behind it
        assert db.group.waiting == 9
        commits.clear()
    for t in threads:
        t.join()
    # The session's commit, then the first piece's, then the nine others together.
    assert len(commits) == 3
    assert isinstance(answers.pop("k3"), Refused)
    assert answers == {f"k{i}": f"K{i}" for i in range(10) if i != 3}
    with db.read_connection() as conn:
        stored = set(conn.execute(text("SELECT key FROM server_meta WHERE key LIKE 'k%'"))
                     .scalars())
    assert stored == {f"k{i}" for i in range(10) if i != 3}   # k3's insert rolled back alone
    db.dispose()


def test_a_batch_whose_commit_fails_stores_none_of_its_pieces(db: ServerDatabase) -> None:
    # A deferred check fails only at COMMIT: every piece of the batch must hear it.
    with db.write_connection() as conn:
        conn.execute(text("CREATE TABLE parent (id TEXT PRIMARY KEY)"))
        conn.execute(text("CREATE TABLE child (id TEXT PRIMARY KEY, parent TEXT REFERENCES "
                          "parent(id) DEFERRABLE INITIALLY DEFERRED)"))

    def orphan(conn: Connection) -> str:
        conn.execute(text("INSERT INTO child VALUES ('c1', 'nobody')"))
        return "written"

    with pytest.raises(Exception, match="FOREIGN KEY"):
        db.write(orphan)
    with db.read_connection() as conn:
        assert conn.execute(text("SELECT count(*) FROM child")).scalar() == 0
    assert db.write(lambda conn: "after") == "after"   # and the next batch is led again
    db.dispose()
