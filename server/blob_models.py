"""The server's tables for blobs (declared, received in chunks, verified), on
``server.models.Base``.

The bytes live in the blob store (``server.blobs``); these rows are the bookkeeping every
server process shares: what was declared, how much has been acknowledged, whether it was
accepted, and which PATCH may write right now (a lease, so that two processes never
append to one partial upload at once without holding a database lock for a whole chunk).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models import Base

__all__ = ["Base", "BlobRow", "BlobSiteRow"]


class BlobRow(Base):
    """One blob by its SHA-256: declared size and type, bytes acknowledged so far (each
    fsynced before it was counted), and when it was verified and accepted."""
    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(64))
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    declared_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # The PATCH that may write the partial upload now, until lease_until (renewed while
    # it streams; NULL when free): a conditional update takes it, so only one writer at a
    # time, in any server process. ``lease`` keeps naming the last writer after it ends,
    # which tells a process whether the bytes so far are all its own chunks (and its
    # running hash of them still good).
    lease: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class BlobSiteRow(Base):
    """A site that declared the blob, and who did first. Only those sites may upload it,
    ask how far it got, or read it: a scan is a citizen's private paper."""
    __tablename__ = "blob_sites"

    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256", ondelete="CASCADE"),
                                        primary_key=True)
    site_code: Mapped[str] = mapped_column(ForeignKey("sites.code"), primary_key=True)
    declared_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    declared_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
