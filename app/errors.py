"""The two kinds of failure a client shows the person in front of it, not a traceback.

:class:`UserError` is a problem with the input or the situation that the user (a clerk
or an administrator) can fix: a wrong argument or file, an unknown code, a refused
password, a setting to fill in. Its message is one sentence of Chinese saying what is
wrong and, where it can, what to do. ``yichuang`` prints it on one line and exits 2.

:class:`IntegrityProblem` is the record disagreeing with its witnesses (see
docs/integrity.md): nobody at the window can fix it by typing something else.
``yichuang`` exits 4. A class may be both (an :class:`IntegrityProblem` raised where a
database or document error is expected); clients check :class:`IntegrityProblem` first.

The errors keep their other bases (``ValueError``, ``LookupError``, ``OSError`` …) for
the code that catches those. This module imports nothing: the domain layer uses it.
"""

from __future__ import annotations

__all__ = ["IntegrityProblem", "UserError"]


class UserError(Exception):
    """Something the user can put right; the message (in Chinese) says what."""


class IntegrityProblem(Exception):
    """The record disagrees with what was witnessed outside it; the message says how."""
