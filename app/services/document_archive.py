"""The case's archive of printed documents (文书档案): the PDFs and who printed what.

Every print of a case document is recorded twice, append-only: an attempt row
(``sending``) written before the printer is tried, and an outcome row after. A process
killed in between leaves an attempt without outcome — shown as "result unknown" and
counted as issued, because the applicant may be holding the paper. Each row goes into
the sync outbox with the PDF's hash, so the county archive receives it exactly once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import literal_column, select
from sqlalchemy.orm import Session

from app.documents.form import DocumentKind
from app.documents.templates import local_time
from app.domain.case import Clerk
from app.services.integrity import Witness
from app.storage.blobs import BlobStore
from app.storage.case_log import utc_now_iso
from app.storage.chain import last_hash, row_hash
from app.storage.db import Database
from app.storage.models import CaseDocumentRow, OutboxOp

SENDING, PRINTED, EXPORTED, FAILED = "sending", "printed", "exported", "failed"
UNKNOWN = "unknown"   # an attempt with no outcome row: the program stopped mid-print
# Paper that went (or may have gone) to a printer; an exported PDF issues nothing.
ISSUED = (PRINTED, UNKNOWN)


@dataclass(frozen=True, slots=True)
class ArchivedDocument:
    """One attempt to print or export a case document, with how it ended."""

    id: str
    kind: DocumentKind
    title: str
    sha256: str
    size: int
    pages: int
    reprint: bool
    outcome: str                 # printed | exported | failed | unknown
    target: str
    message: str
    clerk_name: str
    printed_at: dt.datetime      # local time


@dataclass(frozen=True, slots=True)
class Issue:
    """What is being printed, for the archive rows (plain data from the rendered doc)."""

    case_id: str
    kind: DocumentKind
    title: str
    size: int
    pages: int
    reprint: bool
    since: dt.datetime | None = None   # the event it states (local time), see was_issued


class AlreadyIssued(Exception):
    """An original was asked for, but the document was issued meanwhile: print 补打."""


class DocumentArchive:
    def __init__(self, db: Database, blobs: BlobStore, witness: Witness) -> None:
        self._db = db
        self._blobs = blobs
        self._witness = witness

    def keep(self, pdf: bytes) -> str:
        """Store the PDF (content-addressed); its SHA-256. FileWriteError if the disk fails."""
        return self._blobs.put(pdf)

    def pdf(self, sha256: str) -> bytes:
        return self._blobs.get(sha256)

    def begin(self, issue: Issue, clerk: Clerk, target: str, sha256: str) -> str:
        """Record that ``issue`` is about to go to ``target``; returns the attempt id.

        For an original (``issue.reprint`` False) the check that nothing was issued yet
        and the attempt row share one write transaction, so of two processes printing the
        same document at once exactly one prints the original; the other gets
        AlreadyIssued and prints 补打.
        """
        return self._write(issue, clerk, target, sha256, SENDING, "", "")

    def finish(self, attempt: str, issue: Issue, clerk: Clerk, target: str, sha256: str,
               outcome: str, message: str) -> None:
        self._write(issue, clerk, target, sha256, outcome, message, attempt)

    def record(self, issue: Issue, clerk: Clerk, target: str, sha256: str, outcome: str,
               message: str) -> None:
        """One complete row, for what needs no attempt first (an export to a file)."""
        self._write(issue, clerk, target, sha256, outcome, message, "")

    def _write(self, issue: Issue, clerk: Clerk, target: str, sha256: str, outcome: str,
               message: str, attempt_of: str) -> str:
        row_id = str(uuid.uuid4())
        at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        with self._db.write() as session:
            if outcome == SENDING and not issue.reprint and _issued(
                    session, issue.case_id, issue.kind, issue.since):
                raise AlreadyIssued(issue.kind)
            row = CaseDocumentRow(
                id=row_id, case_id=issue.case_id, kind=str(issue.kind), title=issue.title,
                sha256=sha256, size=issue.size, pages=issue.pages, reprint=issue.reprint,
                outcome=outcome, attempt_of=attempt_of, target=target[:300], message=message,
                clerk_id=clerk.clerk_id, clerk_name=clerk.clerk_name, site=clerk.site,
                terminal=clerk.terminal, window=clerk.window, printed_at=at,
                prev_hash=last_hash(session, "documents", clerk.site, clerk.terminal))
            row.hash = row_hash(row)
            session.add(row)
            session.add(OutboxOp(
                op_id=str(uuid.uuid4()), entity="case_document", entity_id=row_id,
                kind=outcome, base_version=0,
                payload={"case_id": issue.case_id, "kind": str(issue.kind),
                         "title": issue.title, "sha256": sha256, "reprint": issue.reprint,
                         "outcome": outcome, "attempt_of": attempt_of, "target": target,
                         "clerk_id": clerk.clerk_id, "printed_at": at.isoformat()},
                blob_refs=[sha256] if sha256 and not attempt_of else [],
                client_time=utc_now_iso(), state="pending", attempts=0, last_error=""))
        self._witness.record(documents=[row])
        return row_id

    def history(self, case_id: str) -> list[ArchivedDocument]:
        """Every attempt for the case, oldest first, each with its final outcome."""
        with self._db.read() as session:
            return _history(session, case_id)

    def was_issued(self, case_id: str, kind: DocumentKind, *,
                   since: dt.datetime | None = None) -> bool:
        """Has the applicant (possibly) been given this document already — since the
        local time ``since`` (the event it states), when given?"""
        with self._db.read() as session:
            return _issued(session, case_id, kind, since)


def _issued(session: Session, case_id: str, kind: DocumentKind,
            since: dt.datetime | None = None) -> bool:
    return any(d.kind is kind and d.outcome in ISSUED
               and (since is None or d.printed_at >= since)
               for d in _history(session, case_id))


def _history(session: Session, case_id: str) -> list[ArchivedDocument]:
    # rowid breaks ties: Windows clocks tick in 15.6 ms, quick attempts share times.
    rows = list(session.scalars(select(CaseDocumentRow).where(
        CaseDocumentRow.case_id == case_id).order_by(CaseDocumentRow.printed_at,
                                                     literal_column("rowid"))))
    endings = {r.attempt_of: r for r in rows if r.attempt_of}
    out = []
    for r in rows:
        if r.attempt_of:
            continue
        end = endings.get(r.id)
        # Rows of the first archive format (no attempts) are complete in themselves.
        outcome = end.outcome if end else (UNKNOWN if r.outcome == SENDING else r.outcome)
        message = end.message if end else (
            "正在打印，或打印时程序中断，结果未知：请核实申请人是否已拿到"
            if outcome == UNKNOWN
            else r.message)
        out.append(ArchivedDocument(r.id, DocumentKind(r.kind), r.title, r.sha256, r.size,
                                    r.pages, r.reprint, outcome, r.target, message,
                                    r.clerk_name, local_time(r.printed_at)))
    return out

