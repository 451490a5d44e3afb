"""Facts about the installation kept in its database (``install_meta``): its id, when
anchoring began, whether it was seeded, the last recovery."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.storage.models import InstallMeta


def meta_get(session: Session, key: str) -> str | None:
    row = session.get(InstallMeta, key)
    return row.value if row else None


def meta_set(session: Session, key: str, value: str) -> None:
    row = session.get(InstallMeta, key)
    if row is None:
        session.add(InstallMeta(key=key, value=value))
    else:
        row.value = value
