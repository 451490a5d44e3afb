"""Push, pull and the audit heads (docs/sync-protocol.md §5–§6)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1")
