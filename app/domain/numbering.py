"""Case numbers that every terminal can issue offline without ever colliding.

``{site}{terminal}{yyyymmdd}{seq:04d}{check}``: the site code (6-12 digits, the
administrative division code plus a site suffix) and the two-digit terminal number are
fixed at installation, ``seq`` counts per terminal per day, and ``check`` is the
ISO 7064 MOD 11-2 character over all the digits before it. The fixed-width tail makes the
number parseable from the right, so sites may have codes of different lengths.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from app.domain.checksum import mod11_2
from app.errors import UserError

# re.ASCII: without it \d also matches full-width and other scripts' digits.
SITE_CODE_RE = re.compile(r"\d{6,12}", re.ASCII)
TERMINAL_RE = re.compile(r"\d{2}", re.ASCII)
MAX_DAILY_SEQ = 9999
_TAIL = 2 + 8 + 4 + 1  # terminal, date, sequence, check


class CaseNumberError(UserError, ValueError):
    """A malformed case number or numbering parameter; the message is for the clerk."""


def check_site_code(site: str) -> str:
    if not SITE_CODE_RE.fullmatch(site):
        raise CaseNumberError(f"站点编码“{site}”应为6至12位数字（行政区划代码加站点序号）。")
    return site


def check_terminal(terminal: str) -> str:
    if not TERMINAL_RE.fullmatch(terminal) or terminal == "00":
        raise CaseNumberError(f"终端号“{terminal}”应为两位数字 01-99。")
    return terminal


@dataclass(frozen=True, slots=True, order=True)
class CaseNumber:
    """A parsed case number (办件编号)."""

    site: str
    terminal: str
    day: dt.date
    seq: int

    def __post_init__(self) -> None:
        check_site_code(self.site)
        check_terminal(self.terminal)
        if not 1 <= self.seq <= MAX_DAILY_SEQ:
            raise CaseNumberError(
                f"办件序号{self.seq}超出范围：每个终端每天最多{MAX_DAILY_SEQ}件。"
            )

    def __str__(self) -> str:
        body = f"{self.site}{self.terminal}{self.day:%Y%m%d}{self.seq:04d}"
        return body + mod11_2(body)

    @classmethod
    def parse(cls, text: str) -> CaseNumber:
        """Parse and verify a case number typed or scanned; raise CaseNumberError."""
        value = text.strip().upper()
        if not value:
            raise CaseNumberError("请输入办件编号。")
        if len(value) < 6 + _TAIL or len(value) > 12 + _TAIL:
            raise CaseNumberError(
                f"办件编号长度应为{6 + _TAIL}至{12 + _TAIL}位，现在是{len(value)}位。"
            )
        body, check = value[:-1], value[-1]
        if not body.isdigit() or not body.isascii():
            raise CaseNumberError("办件编号除最后一位校验位外只能是数字。")
        if mod11_2(body) != check:
            raise CaseNumberError("办件编号校验位不正确，可能输错或扫描不完整。")
        site, terminal = body[:-14], body[-14:-12]
        date_part, seq_part = body[-12:-4], body[-4:]
        try:
            day = dt.datetime.strptime(date_part, "%Y%m%d").date()
        except ValueError:
            raise CaseNumberError(f"办件编号中的日期“{date_part}”无效。") from None
        return cls(site=site, terminal=terminal, day=day, seq=int(seq_part))


def is_valid_case_number(text: str) -> bool:
    try:
        CaseNumber.parse(text)
    except CaseNumberError:
        return False
    return True
