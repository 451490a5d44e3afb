"""Change notifications in the core (app/notifications.py): what services publish, and
the watch that notices another process's commits."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from app.documents.form import DocumentKind
from app.notifications import (
    CaseChanged,
    CatalogueChanged,
    Change,
    ChangeHub,
    DatabaseChanged,
    DatabaseWatch,
    DocumentPrinted,
    changes_of,
)
from app.services.accounts import DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD
from app.storage.db import Database
from app.workstation import Workstation
from tests.support import PaperTray, accepted_case


def test_a_subscriber_hears_changes_until_it_unsubscribes() -> None:
    hub = ChangeHub()
    heard: list[Change] = []
    unsubscribe = hub.subscribe(heard.append)
    hub.case_changed("c1")
    unsubscribe()
    hub.catalogue_changed()
    assert heard == [CaseChanged("c1")]


def test_a_failing_subscriber_neither_reaches_the_publisher_nor_silences_the_others() -> None:
    hub = ChangeHub()
    heard: list[Change] = []

    def broken(_change: Change) -> None:
        raise RuntimeError("listener bug")

    hub.subscribe(broken)
    hub.subscribe(heard.append)
    hub.document_printed("c1", "receipt")
    assert heard == [DocumentPrinted("c1", "receipt")]


def test_publishing_from_another_thread_calls_subscribers_on_that_thread() -> None:
    hub = ChangeHub()
    threads: list[threading.Thread] = []
    hub.subscribe(lambda _c: threads.append(threading.current_thread()))
    worker = threading.Thread(target=hub.catalogue_changed)
    worker.start()
    worker.join()
    assert threads == [worker]


def test_each_database_has_its_own_hub(db: Database, tmp_path: Path) -> None:
    other = Database(tmp_path / "other.db")
    try:
        assert changes_of(db) is changes_of(db)
        assert changes_of(db) is not changes_of(other)
    finally:
        other.dispose()


def test_the_watch_publishes_once_per_commit_by_another_connection(db: Database) -> None:
    hub = ChangeHub()
    heard: list[Change] = []
    hub.subscribe(heard.append)
    watch = DatabaseWatch(db.path, hub)
    try:
        assert not watch.check()   # the first look only records where the file stands
        assert not watch.check()
        with sqlite3.connect(db.path) as other:   # another process, as far as SQLite knows
            other.execute("CREATE TABLE elsewhere (x)")
        assert watch.check()
        assert not watch.check()
    finally:
        watch.close()
    assert heard == [DatabaseChanged()]


def test_opening_and_changing_a_case_publishes_case_changed(fresh_ws: Workstation) -> None:
    heard: list[Change] = []
    changes_of(fresh_ws.db).subscribe(heard.append)
    clerk = fresh_ws.clerk(fresh_ws.accounts.login(DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD))
    case = accepted_case(fresh_ws, clerk)
    assert heard and set(heard) == {CaseChanged(case.id)}


def test_printing_a_case_document_publishes_document_printed(fresh_ws: Workstation) -> None:
    clerk = fresh_ws.clerk(fresh_ws.accounts.login(DEFAULT_ADMIN, DEFAULT_ADMIN_PASSWORD))
    case = accepted_case(fresh_ws, clerk)
    PaperTray(fresh_ws)
    heard: list[Change] = []
    changes_of(fresh_ws.db).subscribe(heard.append)
    doc = fresh_ws.documents.render_case_document(DocumentKind.RECEIPT, case.number, clerk)
    assert fresh_ws.documents.print(doc, clerk).ok
    assert heard == [DocumentPrinted(case.id, DocumentKind.RECEIPT.value)]


def test_importing_a_catalogue_publishes_catalogue_changed(fresh_ws: Workstation,
                                                          tmp_path: Path) -> None:
    out = tmp_path / "export.json"
    fresh_ws.catalogue.export_file(out)
    text = out.read_text(encoding="utf-8").replace(
        f'"version": "{fresh_ws.catalogue.current().version}"', '"version": "next"', 1)
    out.write_text(text, encoding="utf-8")
    heard: list[Change] = []
    changes_of(fresh_ws.db).subscribe(heard.append)
    assert not fresh_ws.catalogue.import_file(out).unchanged
    assert heard == [CatalogueChanged()]


def test_a_catalogue_imported_by_another_process_is_read_at_once_after_the_notice(
        fresh_ws: Workstation, tmp_path: Path) -> None:
    from app.notifications import DatabaseChanged, DatabaseWatch
    from app.workstation import open_workstation

    before = fresh_ws.catalogue.current().version   # cached, checked just now
    out = tmp_path / "export.json"
    fresh_ws.catalogue.export_file(out)
    out.write_text(out.read_text(encoding="utf-8").replace(
        f'"version": "{before}"', '"version": "next"', 1), encoding="utf-8")
    watch = DatabaseWatch(fresh_ws.settings.database_path, changes_of(fresh_ws.db))
    watch.check()
    other = open_workstation(fresh_ws.settings.data_dir, seed=False)   # "the CLI"
    try:
        other.catalogue.import_file(out)
    finally:
        other.close()
    heard: list[Change] = []
    changes_of(fresh_ws.db).subscribe(heard.append)
    assert watch.check() and heard == [DatabaseChanged()]
    # Within the cache's two seconds: without the notice this would still be the old one.
    assert fresh_ws.catalogue.current().version == "next"
    watch.close()
