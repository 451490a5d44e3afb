"""ISO 7064 MOD 11-2, the check character of the 居民身份证 and of our case numbers."""

from __future__ import annotations

_CHECK_CHARS = "0123456789X"


def mod11_2(digits: str) -> str:
    """Return the MOD 11-2 check character ('0'-'9' or 'X') for a string of digits."""
    if not digits.isdigit() or not digits.isascii():
        raise ValueError("MOD 11-2 is defined over decimal digits only")
    total = 0
    for ch in digits:
        # Horner form of sum(d_i * 2^(n-i)) mod 11, with one extra factor 2 for the
        # check position itself.
        total = (total + int(ch)) * 2 % 11
    return _CHECK_CHARS[(12 - total) % 11]


def is_valid_mod11_2(code: str) -> bool:
    """True when the last character of ``code`` is the MOD 11-2 check of the rest."""
    if len(code) < 2:
        return False
    body, check = code[:-1], code[-1].upper()
    return body.isdigit() and body.isascii() and mod11_2(body) == check
