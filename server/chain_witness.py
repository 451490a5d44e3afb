"""The server as the second witness of each terminal's case log (docs/integrity.md).

Every case event a terminal writes carries the hash of the previous event of the same
site + terminal (``app.storage.chain``). The server recomputes each pushed event's hash
with the client's own function, checks that it extends the head it acknowledged before,
and stores the new head. An event that does not extend the head comes from a log that was
rewritten or restored from an older copy: it is refused (``chain_rewritten``) and flagged
for a supervisor — whatever the terminal's own database now says, the server remembers
what it saw.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.storage.chain import GENESIS_HASH, row_hash
from app.storage.models import CaseEventRow
from server.accounts import ApiError
from server.sync_models import ChainHeadRow, ChainLinkRow, SyncFlagRow

# What a pushed case event must carry: the client's case_events columns but its local id
# (``event_fields`` of app.storage.chain, plus ``prev_hash`` and ``hash``).
EVENT_KEYS = tuple(c.key for c in CaseEventRow.__table__.columns if c.key != "id")


@dataclass
class ChainRefusal(Exception):
    """Why an event cannot join its terminal's chain (reason code, Chinese message)."""

    reason: str
    message: str
    detail: dict[str, Any] = field(default_factory=dict)


def event_hash_ok(event: dict[str, Any]) -> bool:
    """Whether ``event['hash']`` is what the client's hashing gives for its fields."""
    row = CaseEventRow(**{key: event[key] for key in EVENT_KEYS})   # transient, never added
    return bool(row_hash(row) == event["hash"])


def locked_head(session: Session, site: str, terminal: str, now: dt.datetime) -> ChainHeadRow:
    """The terminal's head, locked until commit (FOR UPDATE on PostgreSQL; SQLite holds
    the database lock): pushes of one terminal are witnessed one at a time."""
    head = session.get(ChainHeadRow, (site, terminal), with_for_update=True)
    if head is None:
        try:
            with session.begin_nested():
                session.add(ChainHeadRow(site=site, terminal=terminal, sequence=0,
                                         event_id="", hash=GENESIS_HASH, acknowledged_at=now))
        except IntegrityError:
            pass   # another process created it first: lock theirs
        head = session.get(ChainHeadRow, (site, terminal), with_for_update=True,
                           populate_existing=True)
    assert head is not None
    return head


def extend(session: Session, head: ChainHeadRow, event: dict[str, Any], op_id: str,
           now: dt.datetime) -> None:
    """Witness ``event`` as the next link after ``head``, or raise ChainRefusal."""
    where = f"终端 {head.site}-{head.terminal}"
    if not event_hash_ok(event):
        raise ChainRefusal("hash_mismatch", f"{where} 的办件记录 {event['event_id']} 与其哈希不符："
                           "记录在写入后被改动过。", {"event_id": event["event_id"]})
    if event["prev_hash"] != head.hash:
        earlier = session.scalars(select(ChainLinkRow.sequence).where(
            ChainLinkRow.site == head.site, ChainLinkRow.terminal == head.terminal,
            ChainLinkRow.hash == event["prev_hash"])).first()
        if event["prev_hash"] == GENESIS_HASH:
            earlier = 0
        detail = {"event_id": event["event_id"], "prev_hash": event["prev_hash"],
                  "head_sequence": head.sequence, "head_hash": head.hash,
                  "forks_after": earlier}
        if earlier is not None:
            message = (f"{where} 的办件记录从第{earlier}条之后与服务器已确认的记录（共{head.sequence}条）"
                       "分叉：本机记录被改写，或恢复了较旧的副本。已报值班长核查。")
        else:
            message = (f"{where} 的办件记录接不上服务器已确认的第{head.sequence}条：其前一条记录服务器"
                       "从未见过（本机记录被改写，或有记录未按顺序上传）。已报值班长核查。")
        raise ChainRefusal("chain_rewritten", message, detail)
    head.sequence += 1
    head.event_id, head.hash, head.acknowledged_at = event["event_id"], event["hash"], now
    session.add(ChainLinkRow(site=head.site, terminal=head.terminal, sequence=head.sequence,
                             event_id=event["event_id"], prev_hash=event["prev_hash"],
                             hash=event["hash"], op_id=op_id))


def add_flag(session: Session, *, site: str, kind: str, device_id: str, terminal: str,
             op_id: str, entity_id: str, message: str, detail: dict[str, Any],
             now: dt.datetime) -> None:
    session.add(SyncFlagRow(id=str(uuid.uuid4()), site=site, kind=kind, device_id=device_id,
                            terminal=terminal, op_id=op_id, entity_id=entity_id,
                            message=message, detail=detail, created_at=now,
                            resolved_at=None, resolved_by=None))


def head_json(head: ChainHeadRow) -> dict[str, Any]:
    when = head.acknowledged_at
    when = when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)
    return {"site": head.site, "terminal": head.terminal, "sequence": head.sequence,
            "event_id": head.event_id, "hash": head.hash,
            "acknowledged_at": when.isoformat()}


def heads(session: Session, site: str | None) -> list[dict[str, Any]]:
    """The acknowledged heads of ``site`` (every site's for None), by site and terminal."""
    query = select(ChainHeadRow).where(ChainHeadRow.sequence > 0)
    if site is not None:
        query = query.where(ChainHeadRow.site == site)
    return [head_json(h) for h in session.scalars(
        query.order_by(ChainHeadRow.site, ChainHeadRow.terminal))]


def flag_json(f: SyncFlagRow) -> dict[str, Any]:
    def utc(at: dt.datetime) -> str:
        return (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).isoformat()

    settled = ({} if f.resolved_at is None else {
        "resolved_at": utc(f.resolved_at), "resolved_by": f.resolved_by,
        "resolution": f.resolution or ""})
    return {"id": f.id, "kind": f.kind, "terminal": f.terminal, "op_id": f.op_id,
            "entity_id": f.entity_id, "message": f.message, "detail": f.detail,
            "created_at": utc(f.created_at), **settled}


def open_flags(session: Session, site: str) -> list[dict[str, Any]]:
    """The site's flags no supervisor has settled yet, oldest first."""
    rows = session.scalars(select(SyncFlagRow).where(
        SyncFlagRow.site == site, SyncFlagRow.resolved_at.is_(None))
        .order_by(SyncFlagRow.created_at, SyncFlagRow.id))
    return [flag_json(f) for f in rows]


def resolve_flag(session: Session, flag_id: str, *, site: str, admin: bool, user_id: str,
                 resolution: str, now: dt.datetime) -> dict[str, Any]:
    """A supervisor of the flag's site (or an administrator) settles it, saying what they
    found and did. The flag is kept, settled, with who and when: it is the audit trail.
    Settling does not change the case or the chain — a rewritten log stays refused."""
    flag = session.get(SyncFlagRow, flag_id.strip(), with_for_update=True)
    if flag is None or (not admin and flag.site != site):
        raise ApiError(404, "flag_not_found", "没有这个待处理的同步问题。")
    if flag.resolved_at is not None:
        raise ApiError(409, "flag_resolved", "这个问题已经处理过了。")
    flag.resolved_at, flag.resolved_by, flag.resolution = now, user_id, resolution
    session.flush()
    return flag_json(flag)
