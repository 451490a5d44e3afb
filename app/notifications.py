"""Change notifications: services say what they changed, the window refreshes from it.

Qt-free, so the CLI and the services carry no UI. A service publishes after a successful
write, from whatever thread it runs on::

    changes_of(self._db).case_changed(case_id)

Subscribers are called on the publisher's thread; the window's bridge
(``ui/events.py``) hands them to the Qt main thread. There is one hub per open
:class:`~app.storage.db.Database` object, found by :func:`changes_of`, so services need
no new constructor argument and two installations open in one process (tests) do not
hear each other.

Another process writing the same database (the CLI importing a catalogue, a second
terminal's sync later) publishes nothing here. :class:`DatabaseWatch` notices it: SQLite's
``PRAGMA data_version`` changes on a connection whenever another connection committed,
and reading it costs no table access. The window runs :meth:`DatabaseWatch.check` on a
background timer and publishes :class:`DatabaseChanged`.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaseChanged:
    case_id: str


@dataclass(frozen=True)
class CatalogueChanged:
    pass


@dataclass(frozen=True)
class DocumentPrinted:
    case_id: str
    kind: str   # DocumentKind value


@dataclass(frozen=True)
class QueueChanged:
    """A ticket moved (``number`` and the event ``kind``, at ``window``), or the queue's
    configuration changed (all three empty)."""

    number: str = ""
    kind: str = ""     # TicketEventKind value
    window: str = ""


@dataclass(frozen=True)
class DatabaseChanged:
    """Some connection committed: another process, or (indistinguishably) this one."""


Change = CaseChanged | CatalogueChanged | DocumentPrinted | DatabaseChanged | QueueChanged
Subscriber = Callable[[Change], None]


class ChangeHub:
    """Publish/subscribe for :data:`Change` events; safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[int, Subscriber] = {}
        self._next = 0

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback`` for every change from now on; returns the unsubscriber."""
        with self._lock:
            key = self._next
            self._next += 1
            self._subscribers[key] = callback

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers.pop(key, None)

        return unsubscribe

    def publish(self, change: Change) -> None:
        with self._lock:
            subscribers = list(self._subscribers.values())
        for callback in subscribers:
            try:
                callback(change)
            except Exception:
                # The write that published has succeeded: a listener's failure must not
                # turn it into an error for the caller.
                log.exception("change listener failed on %r", change)

    def case_changed(self, case_id: str) -> None:
        self.publish(CaseChanged(case_id))

    def catalogue_changed(self) -> None:
        self.publish(CatalogueChanged())

    def document_printed(self, case_id: str, kind: str) -> None:
        self.publish(DocumentPrinted(case_id, kind))

    def queue_changed(self, number: str = "", kind: str = "", window: str = "") -> None:
        self.publish(QueueChanged(number, kind, window))


_hubs: weakref.WeakKeyDictionary[object, ChangeHub] = weakref.WeakKeyDictionary()
_hubs_lock = threading.Lock()


def changes_of(db: object) -> ChangeHub:
    """The hub of an open database (made on first use, gone with the database object)."""
    with _hubs_lock:
        hub = _hubs.get(db)
        if hub is None:
            hub = _hubs[db] = ChangeHub()
        return hub


class DatabaseWatch:
    """Publishes :class:`DatabaseChanged` when the database file was committed to.

    Its own read-only connection, kept open: ``data_version`` compares commits seen by
    one connection. Commits of this process's other connections count too, so a local
    write is heard twice (its own event, then this) — harmless, listeners only re-read.
    Call :meth:`check` off the UI thread; calls are serialised.
    """

    def __init__(self, path: Path, hub: ChangeHub) -> None:
        self._path = path
        self._hub = hub
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._version: int | None = None

    def check(self) -> bool:
        """True (and published) when something was committed since the last check."""
        with self._lock:
            if self._conn is None:
                uri = self._path.resolve().as_uri() + "?mode=ro"
                self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            row = self._conn.execute("PRAGMA data_version").fetchone()
            version = int(row[0])
            changed = self._version is not None and version != self._version
            self._version = version
        if changed:
            self._hub.publish(DatabaseChanged())
        return changed

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
