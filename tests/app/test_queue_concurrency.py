"""No double calls: eight window processes calling on one database at once.

Each window is a separate process (its own interpreter, engine and connections), as on a
township PC running several clerk windows; a ninth process keeps taking tickets while
they call. Every ticket must be called exactly once: none twice, none skipped. Then the
hall's worst moment (bench/queue.py's burst): sixteen windows pressing 叫号 at once.
"""

from __future__ import annotations

import json
import multiprocessing as mp
from collections import Counter
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path

from sqlalchemy import select

from app.domain.queue import TicketClass, TicketStatus
from app.domain.queue_policy import WindowConfig
from app.notifications import ChangeHub
from app.services.queue import QueueService
from app.services.queue_store import SqliteQueueStore
from app.storage.db import open_database
from app.storage.models import QueueTicketEventRow

WINDOWS = [f"1{i}" for i in range(8)]
BEFORE = 120          # tickets waiting when the windows open
DURING = 40           # tickets taken while they call


def _service(path: Path) -> QueueService:
    return QueueService(SqliteQueueStore(open_database(path)), ChangeHub())


def _take(index: int, queue: QueueService) -> None:
    if index % 3 == 0:
        queue.take("A", TicketClass.PRIORITY, priority_reason="残疾人")
    else:
        queue.take("A" if index % 2 else "C")


def window_process(path: str, window: str, start: Barrier, taking_done: Event,
                   out: str) -> None:
    queue = _service(Path(path))
    called = []
    start.wait()
    while True:
        ticket = queue.call_next(window)
        if ticket is None:
            if taking_done.is_set():
                # One more look: a ticket taken just before "done" must not be left.
                ticket = queue.call_next(window)
                if ticket is None:
                    break
            else:
                continue
        called.append(ticket.number)
        queue.finish(window)
    Path(out).write_text(json.dumps(called), encoding="utf-8")


def kiosk_process(path: str, start: Barrier, taking_done: Event) -> None:
    queue = _service(Path(path))
    start.wait()
    for index in range(DURING):
        _take(index, queue)
    taking_done.set()


def test_eight_window_processes_call_every_ticket_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "yichuang.db"
    queue = _service(path)
    for window in WINDOWS:   # every window serves both categories, by different ranks
        rank_a = 1 if int(window) % 2 else 2
        queue.save_window(WindowConfig(window, categories=(("A", rank_a), ("C", 3 - rank_a))))
    for index in range(BEFORE):
        _take(index, queue)

    ctx = mp.get_context("spawn")
    start, taking_done = ctx.Barrier(len(WINDOWS) + 1), ctx.Event()
    outs = [tmp_path / f"window-{w}.json" for w in WINDOWS]
    processes = [ctx.Process(target=window_process,
                             args=(str(path), w, start, taking_done, str(out)))
                 for w, out in zip(WINDOWS, outs, strict=True)]
    processes.append(ctx.Process(target=kiosk_process, args=(str(path), start, taking_done)))
    for p in processes:
        p.start()
    for p in processes:
        p.join(timeout=300)
    assert [p.exitcode for p in processes] == [0] * len(processes)

    called = [n for out in outs for n in json.loads(out.read_text(encoding="utf-8"))]
    issued = [t.number for t in queue.tickets()]
    assert len(issued) == BEFORE + DURING
    duplicates = [n for n, c in Counter(called).items() if c > 1]
    assert duplicates == []
    assert sorted(called) == sorted(issued)      # none skipped
    # More than one window did the work (the test would prove little otherwise).
    assert sum(1 for out in outs if json.loads(out.read_text(encoding="utf-8"))) > 1
    tickets = queue.tickets()
    assert {t.status for t in tickets} == {TicketStatus.FINISHED}
    with open_database(path).read() as session:
        calls = session.scalars(select(QueueTicketEventRow.ticket_id).where(
            QueueTicketEventRow.kind == "called")).all()
    assert Counter(calls) == Counter({t.id: 1 for t in tickets})


BURST_WINDOWS = [f"{20 + i}" for i in range(16)]
ROUNDS = 5


def burst_process(path: str, window: str, together: Barrier, out: str) -> None:
    queue = _service(Path(path))
    called = []
    for _ in range(ROUNDS):
        together.wait()   # every window presses 叫号 at this instant
        ticket = queue.call_next(window)
        together.wait()
        if ticket is not None:
            called.append(ticket.number)
            queue.finish(window)
    Path(out).write_text(json.dumps(called), encoding="utf-8")


def test_sixteen_windows_pressing_at_the_same_instant_each_get_a_ticket_of_their_own(
        tmp_path: Path) -> None:
    path = tmp_path / "yichuang.db"
    queue = _service(path)
    for window in BURST_WINDOWS:
        rank_a = 1 if int(window) % 2 else 2
        queue.save_window(WindowConfig(window, categories=(("A", rank_a), ("C", 3 - rank_a))))
    for index in range(len(BURST_WINDOWS) * ROUNDS):
        _take(index, queue)

    ctx = mp.get_context("spawn")
    together = ctx.Barrier(len(BURST_WINDOWS))
    outs = [tmp_path / f"window-{w}.json" for w in BURST_WINDOWS]
    processes = [ctx.Process(target=burst_process, args=(str(path), w, together, str(out)))
                 for w, out in zip(BURST_WINDOWS, outs, strict=True)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(timeout=300)
    assert [p.exitcode for p in processes] == [0] * len(processes)

    called = [json.loads(out.read_text(encoding="utf-8")) for out in outs]
    # Enough tickets wait for every press: each window got one each time it pressed.
    assert [len(c) for c in called] == [ROUNDS] * len(BURST_WINDOWS)
    numbers = [n for c in called for n in c]
    assert sorted(numbers) == sorted(t.number for t in queue.tickets())   # once each
    assert {t.status for t in queue.tickets()} == {TicketStatus.FINISHED}
