"""The change log pull serves (docs/sync-protocol.md §6), and how its numbers are given.

A reader must never skip a change because a transaction that took a lower number
committed after one that took a higher number (PostgreSQL sequences and auto-increments
allow exactly that). So a change number is not taken when a change is made but at the end
of the writing transaction, by an ``UPDATE`` of the one ``sync_counters`` row: its row
lock is held until commit, so the next writer gets its numbers only after this one is
visible. Numbers therefore become visible in order, in any number of server processes.
The lock is held only from the allocation to the commit (callers allocate last). On
SQLite every write transaction holds the database lock anyway.

Back-office changes (审批中, 办结, 通知取件…) go through :func:`record_changes` too.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from server.accounts import ApiError
from server.sync_models import SyncChangeRow, SyncCounterRow

CHANGES = "changes"
MAX_PULL = 1000
DEFAULT_PULL = 200
_CURSOR_PREFIX = "c1:"
# ASCII digits only: str.isdigit() also accepts "²" (which int() refuses) and full-width
# or Arabic-Indic digits (which int() reads), so a forged cursor could pass as another.
_CURSOR_DIGITS = re.compile(r"[0-9]{1,18}")


@dataclass(frozen=True, slots=True)
class Change:
    site: str
    entity: str
    entity_id: str
    kind: str
    data: dict[str, Any]
    owner_id: str | None = None     # the case's opener: an agent pulls only its cases


def record_changes(session: Session, changes: Sequence[Change], now: dt.datetime) -> None:
    """Number and store ``changes``. Call it as the last write of the transaction: from
    here to the commit every other writer of changes waits."""
    if not changes:
        return
    last = session.execute(
        update(SyncCounterRow).where(SyncCounterRow.name == CHANGES)
        .values(value=SyncCounterRow.value + len(changes))
        .returning(SyncCounterRow.value)).scalar_one()
    first = last - len(changes) + 1
    session.add_all(SyncChangeRow(seq=first + i, site=c.site, entity=c.entity,
                                  entity_id=c.entity_id, kind=c.kind, owner_id=c.owner_id,
                                  data=c.data, changed_at=now)
                    for i, c in enumerate(changes))
    session.flush()


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The change number a cursor stands for; no cursor is the beginning."""
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    digits = raw.removeprefix(_CURSOR_PREFIX)
    if not raw.startswith(_CURSOR_PREFIX) or not _CURSOR_DIGITS.fullmatch(digits):
        raise ApiError(422, "bad_cursor", "同步游标无效：请使用服务器上次返回的游标，或不带游标从头同步。")
    return int(digits)


def pull(session: Session, site: str, *, after: int, limit: int,
         only_owner: str | None = None) -> dict[str, Any]:
    """The site's changes after ``after``, oldest first, at most ``limit``; an agent
    (``only_owner``) gets only the changes of the cases it registered."""
    last = session.scalar(select(SyncCounterRow.value).where(SyncCounterRow.name == CHANGES))
    if after > (last or 0):
        # Never given by this server (another server's, or its database restored from an
        # older backup): the client's copy may hold changes this server never made.
        raise ApiError(409, "cursor_ahead", "同步游标超出了服务器已有的变更（服务器数据可能已从备份恢复）："
                       "请不带游标从头同步。")
    query = select(SyncChangeRow).where(SyncChangeRow.site == site,
                                        SyncChangeRow.seq > after)
    if only_owner is not None:
        query = query.where(SyncChangeRow.owner_id == only_owner)
    rows = list(session.scalars(query.order_by(SyncChangeRow.seq).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = rows[-1].seq if rows else after
    return {"changes": [{"entity": r.entity, "entity_id": r.entity_id, "kind": r.kind,
                         "data": r.data} for r in rows],
            "cursor": encode_cursor(cursor), "more": more}
