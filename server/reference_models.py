"""The server's tables for reference data (catalogue versions, calendar, credit list,
queue categories), on ``server.models.Base``.

A published file is one row of ``reference_versions``: its canonical JSON exactly as it is
served, and that JSON's SHA-256 (the ETag). Versions are never changed or deleted: a pushed
op may cite an old catalogue version. ``reference_current`` names the current one per kind;
its row is locked while a new version is published, so two server processes publishing at
once take turns.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.models import Base

__all__ = ["Base", "CatalogueItemVersionRow", "QueueCategoryRow", "ReferenceCurrentRow",
           "ReferenceVersionRow"]


class ReferenceVersionRow(Base):
    __tablename__ = "reference_versions"
    # One content is one version; one version name is one content (ops cite the name).
    __table_args__ = (UniqueConstraint("kind", "version"), UniqueConstraint("kind", "sha256"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))        # catalogue | calendar | credit-list
    version: Mapped[str] = mapped_column(String(64))     # the file's own version name
    sha256: Mapped[str] = mapped_column(String(64))      # of ``document``
    document: Mapped[str] = mapped_column(Text)          # canonical JSON, served as is
    size: Mapped[int] = mapped_column(Integer)           # bytes of ``document`` in UTF-8
    entries: Mapped[int] = mapped_column(Integer)        # items, years or list entries
    published_by: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ReferenceCurrentRow(Base):
    """The version each kind serves now (none before the first publication)."""
    __tablename__ = "reference_current"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    version_id: Mapped[int | None] = mapped_column(ForeignKey("reference_versions.id"))
    changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class CatalogueItemVersionRow(Base):
    """Every (item code, item version) ever published, with the hash of its body: a later
    catalogue may not give the same pair another content (the client refuses that too)."""
    __tablename__ = "reference_catalogue_items"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    first_version_id: Mapped[int] = mapped_column(ForeignKey("reference_versions.id"))


class QueueCategoryRow(Base):
    """A site's own queue categories (业务类别); a site without any serves the demo set."""
    __tablename__ = "site_queue_categories"

    site_code: Mapped[str] = mapped_column(ForeignKey("sites.code"), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(1), primary_key=True)
    name: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean)
    position: Mapped[int] = mapped_column(Integer)
