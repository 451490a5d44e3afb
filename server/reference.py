"""Reference data the terminals keep a copy of, each version named by an ETag (the hash
of its canonical JSON): a terminal that has it gets ``304 Not Modified`` and keeps using
it (docs/sync-protocol.md §4)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import UserRow


def etag_of(data: Any) -> str:
    canonical = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return '"' + hashlib.sha256(canonical.encode()).hexdigest()[:32] + '"'


def site_users(session: Session, site: str) -> dict[str, Any]:
    """The site's accounts, with the hashes a terminal needs to let a clerk in offline
    (disabled accounts too: the terminal must stop letting them in)."""
    rows = session.scalars(select(UserRow).where(UserRow.site_code == site)
                           .order_by(UserRow.username))
    return {"site": site, "users": [
        {"id": u.id, "username": u.username, "display_name": u.display_name, "role": u.role,
         "active": u.active, "password_hash": u.password_hash if u.active else ""}
        for u in rows]}
