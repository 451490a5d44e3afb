"""The server's tables for sync (pushed ops, cases, events, chain heads, the change
sequence), on ``server.models.Base``."""

from __future__ import annotations

from server.models import Base

__all__ = ["Base"]
