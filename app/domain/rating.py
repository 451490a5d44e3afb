"""好差评: the applicant's grade for the service of one ticket, and what a 差评 needs.

The five grades and the reasons an applicant may tick are those of the national 政务服务
好差评 system. Pure data and rules: the service (app.services.ratings) decides which
ticket a window may rate and stores the rating with the clerk who served it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from app.errors import UserError

# A rating is accepted this long after the ticket was finished (办结) at the window: the
# applicant rates on the spot, not the next one in line for an earlier ticket.
RATING_WINDOW = dt.timedelta(minutes=30)
NOTE_MAX = 500   # characters of a supervisor's follow-up note


class RatingError(UserError, ValueError):
    """A rating or follow-up that may not be stored (message in Chinese)."""


class Grade(IntEnum):
    """The five grades of the national 好差评 system (5 best)."""

    VERY_SATISFIED = 5
    SATISFIED = 4
    FAIRLY_SATISFIED = 3
    DISSATISFIED = 2
    VERY_DISSATISFIED = 1

    @property
    def label(self) -> str:
        return GRADE_LABELS[self]

    @property
    def needs_reason(self) -> bool:
        """不满意 and 非常不满意 are 差评: they must say why, and a supervisor follows up."""
        return self <= Grade.DISSATISFIED


GRADE_LABELS = {Grade.VERY_SATISFIED: "非常满意", Grade.SATISFIED: "满意",
                Grade.FAIRLY_SATISFIED: "基本满意", Grade.DISSATISFIED: "不满意",
                Grade.VERY_DISSATISFIED: "非常不满意"}
# What the applicant may tick for a 差评; nothing else is accepted.
DISSATISFIED_REASONS = ("服务态度不好", "办事效率低、等候时间长", "政策解释不清楚",
                        "要求提交的材料过多", "多次跑腿仍未办成", "其他")


@dataclass(frozen=True, slots=True)
class Rating:
    """What the applicant said about the service of one ticket at one window."""

    ticket_id: str
    number: str
    window: str
    grade: Grade
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StoredRating:
    """A rating as stored: with the day, the case and the clerk the service found."""

    id: str
    ticket_id: str
    number: str
    day: dt.date
    case_id: str          # "" when no case was opened for the ticket
    window: str
    clerk_id: str         # who finished the ticket (its 办结 event), never the caller
    grade: Grade
    reasons: tuple[str, ...]
    rated_at: dt.datetime
    follow_up_required: bool


@dataclass(frozen=True, slots=True)
class FollowUp:
    """A supervisor's 回访 of a 差评."""

    id: str
    rating_id: str
    supervisor_id: str
    note: str
    at: dt.datetime


def checked_grade(grade: int, reasons: Iterable[str]) -> tuple[Grade, tuple[str, ...]]:
    """The grade and its reasons (duplicates dropped, order kept) if they may be stored."""
    try:
        checked = Grade(int(grade))
    except (TypeError, ValueError):
        raise RatingError(f"评价等级“{grade}”无效，须为1至5。") from None
    kept = tuple(dict.fromkeys(r.strip() for r in reasons))
    unknown = [r for r in kept if r not in DISSATISFIED_REASONS]
    if unknown:
        raise RatingError(f"不满意的原因“{'、'.join(unknown)}”不在可选范围内。")
    if checked.needs_reason and not kept:
        raise RatingError(f"“{checked.label}”须至少选择一项不满意的原因。")
    if not checked.needs_reason and kept:
        raise RatingError(f"“{checked.label}”不需要填写不满意的原因。")
    return checked, kept


def checked_note(note: str) -> str:
    note = note.strip()
    if not note:
        raise RatingError("请填写回访情况。")
    if len(note) > NOTE_MAX:
        raise RatingError(f"回访情况最多{NOTE_MAX}字，现有{len(note)}字。")
    return note
