"""What went wrong, as the lines a panel lists beside its form (Chinese)."""

from __future__ import annotations

from app.errors import UserError
from app.services.cases import CaseRuleError


def problems_of(exc: Exception) -> list[str]:
    """Every reason a rule gave; a user error's one line; anything else as a failure."""
    if isinstance(exc, CaseRuleError):
        return exc.problems
    if isinstance(exc, UserError):
        return [str(exc)]
    return [f"操作失败：{exc}"]
