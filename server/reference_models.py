"""The server's tables for reference data (catalogue versions, calendar, credit list,
queue categories), on ``server.models.Base``."""

from __future__ import annotations

from server.models import Base

__all__ = ["Base"]
