"""信用核查: the locally stored 失信名单, its import, and the check against it.

The list is replaced whole by each import, in one write transaction: a check sees the
old list or the new one, never half of each. Entries are looked up by the normalised
identity number (an index), so a check costs one query whatever the list's size.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from app.domain.case import Clerk, IdType, normalise_identity
from app.domain.credit import (
    MAX_FILE_BYTES,
    CreditCheck,
    CreditEntry,
    CreditFileError,
    parse_credit_bytes,
)
from app.domain.identity import IdentityError
from app.errors import UserError
from app.services.calendar import ReferenceFileRefused, read_reference_file
from app.services.permissions import Action, require
from app.storage.db import Database
from app.storage.models import CreditEntryRow, CreditListRow


class CreditCheckError(UserError, ValueError):
    """The number to check is not a valid identity number (message in Chinese)."""


@dataclass(frozen=True, slots=True)
class CreditListInfo:
    """The current list, as ``credit status`` shows it."""

    version: str
    publisher: str
    published_at: dt.date
    imported_at: dt.datetime    # local time
    imported_by: str
    origin: str
    entries: int
    age_days: int               # from publication to today
    unchanged: bool = False     # an import of the very file already current


def _imported_key(row: CreditListRow) -> str:
    return row.imported_at.isoformat()


def _local(utc: dt.datetime) -> dt.datetime:
    return utc.replace(tzinfo=dt.UTC).astimezone().replace(tzinfo=None)


class CreditService:
    def __init__(self, db: Database) -> None:
        self._db = db

    def import_file(self, path: Path, clerk: Clerk, *, today: dt.date | None = None
                    ) -> CreditListInfo:
        """Replace the list with the file's, or change nothing (CreditFileError)."""
        require(clerk.role, Action.IMPORT_REFERENCE)
        day = today or dt.date.today()
        try:
            data = read_reference_file(path, max_bytes=MAX_FILE_BYTES, what="失信名单")
        except ReferenceFileRefused as exc:
            raise CreditFileError([str(exc)]) from exc
        parsed = parse_credit_bytes(data, today=day)
        sha = hashlib.sha256(data).hexdigest()
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        with self._db.write() as session:
            current = self._current(session)
            if current is not None and current.sha256 == sha:
                # Importing the same file again changes nothing, and must not make every
                # open case look as if its list had changed.
                return self._info(current, day, unchanged=True)
            session.execute(update(CreditListRow).values(is_current=False))
            session.execute(delete(CreditEntryRow))
            if parsed.entries:
                # One executemany: 100,000 entries in about a second, not 100,000 flushes.
                session.execute(insert(CreditEntryRow), [
                    {"id_type": str(e.id_type), "id_number": e.id_number, "name": e.name,
                     "measure": e.measure, "source": e.source, "until": e.until}
                    for e in parsed.entries])
            row = CreditListRow(version=parsed.version, publisher=parsed.publisher,
                                published_at=parsed.published_at, imported_at=now,
                                imported_by=clerk.clerk_name, origin=str(path)[:500],
                                sha256=sha, entry_count=len(parsed.entries), is_current=True)
            session.add(row)
        return self._info(row, day)

    def status(self, *, today: dt.date | None = None) -> CreditListInfo | None:
        """The current list (None before the first import)."""
        with self._db.read() as session:
            row = self._current(session)
            return self._info(row, today or dt.date.today()) if row else None

    def check(self, id_type: IdType, number: str, *, today: dt.date | None = None
              ) -> CreditCheck:
        """信用核查 of one identity number, as typed (checked and normalised first)."""
        day = today or dt.date.today()
        try:
            normalised = normalise_identity(id_type, number, today=day)
        except IdentityError as exc:
            raise CreditCheckError(f"证件号码有误：{exc}") from exc
        with self._db.read() as session:
            return self.check_in(session, id_type, normalised, day)

    def check_in(self, session: Session, id_type: IdType, number: str, day: dt.date
                 ) -> CreditCheck:
        """The check inside the caller's transaction; ``number`` is already normalised.

        An entry whose ``until`` has passed is no hit: the measure has ended.
        """
        current = self._current(session)
        if current is None:
            return CreditCheck(day)
        row = session.scalars(select(CreditEntryRow).where(
            CreditEntryRow.id_number == number, CreditEntryRow.id_type == str(id_type))).first()
        entry = None
        if row is not None:
            entry = CreditEntry(IdType(row.id_type), row.id_number, row.name, row.measure,
                                row.source, row.until)
            if not entry.in_force(day):
                entry = None
        return CreditCheck(day, current.version, current.published_at, _imported_key(current),
                           entry)

    def current_key(self, session: Session) -> tuple[str, str]:
        """(version, import time) of the current list, ("", "") without one."""
        current = self._current(session)
        return (current.version, _imported_key(current)) if current else ("", "")

    @staticmethod
    def _current(session: Session) -> CreditListRow | None:
        return session.scalars(select(CreditListRow).where(CreditListRow.is_current)
                               .order_by(CreditListRow.id.desc()).limit(1)).first()

    @staticmethod
    def _info(row: CreditListRow, day: dt.date, *, unchanged: bool = False) -> CreditListInfo:
        return CreditListInfo(row.version, row.publisher, row.published_at,
                              _local(row.imported_at), row.imported_by, row.origin,
                              row.entry_count, (day - row.published_at).days, unchanged)
