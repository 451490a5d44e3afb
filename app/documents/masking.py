"""Identity numbers on paper that leaves the window: only enough to recognise them."""

from __future__ import annotations


def mask_id(number: str) -> str:
    """Keep the first 4 and last 4 characters of an identity number."""
    if len(number) <= 8:
        return number[:1] + "*" * (len(number) - 1) if number else ""
    return number[:4] + "*" * (len(number) - 8) + number[-4:]
