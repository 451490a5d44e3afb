"""Blobs keyed by SHA-256: declare, upload in chunks, resume (docs/sync-protocol.md §7)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1")
