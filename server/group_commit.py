"""Group commit: the short write transactions of many request threads, committed together.

On SQLite every commit is an fsync (``synchronous=FULL``: an acknowledged op is on disk),
and writers take turns, so a hall of windows pressing 叫号 at once waits for one fsync per
window in line. Here the first thread to arrive leads: it takes every piece of work that
is waiting, runs each in a SAVEPOINT of one transaction, commits once, and only then
answers each (its result, or the exception that rolled its savepoint back). Threads that
arrive meanwhile wait for the next batch. A piece of work is therefore acknowledged only
after the commit that holds it, as before: what the fsync of a batch saves is the other
fsyncs, not a promise. A batch whose commit fails fails every piece in it — none of them
was stored.

PostgreSQL commits concurrent transactions together by itself (and its writers do not
take turns): there each piece runs in a transaction of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine

T = TypeVar("T")
MAX_BATCH = 64   # a bound on how long the last piece of one batch waits for the others


@dataclass
class _Piece(Generic[T]):
    work: Callable[[Connection], T]
    wake: threading.Event = field(default_factory=threading.Event)
    leads: bool = False       # this piece's thread commits the next batch
    finished: bool = False
    result: Any = None
    error: BaseException | None = None


class GroupCommit:
    """Runs ``work(connection)`` pieces on ``engine`` (a SQLite writer engine whose
    transactions begin IMMEDIATE), several to a transaction; ``turn`` is the lock every
    other writer of this process takes too.

    The thread of the first waiting piece commits the batch; leadership then passes to
    the first piece still waiting, so no thread works for others after its own answer."""

    def __init__(self, engine: Engine, turn: AbstractContextManager[Any]) -> None:
        self._engine = engine
        self._turn = turn
        self._lock = threading.Lock()
        self._waiting: list[_Piece[Any]] = []
        self._leading = False

    @property
    def waiting(self) -> int:
        """How many pieces wait for a commit (the next batch, and the one being led)."""
        with self._lock:
            return len(self._waiting)

    def run(self, work: Callable[[Connection], T]) -> T:
        """``work``'s result once its transaction is committed (or its exception, with
        nothing it did kept)."""
        piece: _Piece[T] = _Piece(work)
        with self._lock:
            self._waiting.append(piece)
            if not self._leading:
                self._leading = piece.leads = True
        if not piece.leads:
            piece.wake.wait()
        if not piece.finished:   # woken to lead: its own piece is first in the batch
            self._lead()
        if piece.error is not None:
            raise piece.error
        result: T = piece.result
        return result

    def _lead(self) -> None:
        with self._lock:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
        try:
            self._commit(batch)
        finally:   # whatever happened, every piece of the batch is answered, and one leads
            for piece in batch:
                piece.finished = True
                piece.wake.set()
            with self._lock:
                if self._waiting:
                    self._waiting[0].leads = True
                    self._waiting[0].wake.set()
                else:
                    self._leading = False

    def _commit(self, batch: list[_Piece[Any]]) -> None:
        try:
            with self._turn, self._engine.begin() as conn:
                for piece in batch:
                    savepoint = conn.begin_nested()
                    try:
                        piece.result = piece.work(conn)
                    except Exception as exc:   # its own failure: the others go on
                        savepoint.rollback()
                        piece.error = exc
                    else:
                        savepoint.commit()
        except BaseException as exc:   # the commit itself failed: nothing was stored
            for piece in batch:
                if piece.error is None:
                    piece.error = exc
            if not isinstance(exc, Exception):
                raise
