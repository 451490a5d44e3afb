"""手工叫号: a number called by voice while the queue cannot be used.

architecture.md, "Queue authority": when the queue is out of reach (the site server down,
the kiosk or its printer broken and numbers handed out on paper) the clerk calls the next
applicant aloud and types the number announced. The call is recorded — window, clerk,
time, why — so the day's figures and the county still see it; it moves no ticket.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from app.domain.queue import QueueRuleError
from app.domain.text_checks import forbidden_character

# What a paper number looks like: A012, 12, 手写12 — letters, digits, Chinese, a hyphen.
MANUAL_NUMBER_RE = re.compile(r"[0-9A-Za-z\u4e00-\u9fff-]{1,16}")
REASON_MAX = 100
DEFAULT_REASON = "排队系统不可用"


@dataclass(frozen=True, slots=True)
class ManualCall:
    id: str
    day: dt.date
    number: str
    window: str
    clerk_id: str
    reason: str
    called_at: dt.datetime   # UTC


def checked_number(text: str) -> str:
    """The number as it will be recorded (upper-case); refused with a Chinese message."""
    number = text.strip().upper()
    if not number:
        raise QueueRuleError("请输入叫到的号码。")
    if not MANUAL_NUMBER_RE.fullmatch(number) or not number.strip("-"):
        raise QueueRuleError(f"号码“{number[:20]}”无效：只能是字母、数字或汉字，最多16位（如 A012）。")
    return number


def checked_reason(text: str) -> str:
    reason = " ".join(text.split()) or DEFAULT_REASON
    bad = forbidden_character(reason)
    if bad:
        raise QueueRuleError(f"手工叫号原因：{bad}。")
    if len(reason) > REASON_MAX:
        raise QueueRuleError(f"手工叫号原因最多{REASON_MAX}字，现有{len(reason)}字。")
    return reason
