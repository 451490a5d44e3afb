"""The server's tables for blobs (declared, received in chunks, verified), on ``server.models.Base``."""

from __future__ import annotations

from server.models import Base

__all__ = ["Base"]
