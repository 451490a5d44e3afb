"""Case numbers: issued offline by every terminal, verified when typed or scanned."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.checksum import is_valid_mod11_2, mod11_2
from app.domain.numbering import (
    CaseNumber,
    CaseNumberError,
    check_site_code,
    check_terminal,
    is_valid_case_number,
)

DIGITS = "0123456789"
PROPERTY = settings(max_examples=80, deadline=None)

sites = st.text(DIGITS, min_size=6, max_size=12)
terminals = st.integers(1, 99).map(lambda n: f"{n:02d}")
days = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31))
seqs = st.integers(1, 9999)
case_numbers = st.builds(CaseNumber, sites, terminals, days, seqs)


@PROPERTY
@given(number=case_numbers)
def test_str_then_parse_round_trips(number: CaseNumber) -> None:
    text = str(number)
    assert len(text) == len(number.site) + 15
    assert text.startswith(f"{number.site}{number.terminal}{number.day:%Y%m%d}")
    assert text[-5:-1] == f"{number.seq:04d}"
    assert is_valid_mod11_2(text)
    assert CaseNumber.parse(text) == number
    assert CaseNumber.parse(f"  {text.lower()}\n") == number


@PROPERTY
@given(number=case_numbers, data=st.data())
def test_any_single_character_change_is_detected(number: CaseNumber,
                                                 data: st.DataObject) -> None:
    text = str(number)
    position = data.draw(st.integers(0, len(text) - 1), label="position")
    replacement = data.draw(st.sampled_from([c for c in DIGITS + "X" if c != text[position]]),
                            label="replacement")
    changed = text[:position] + replacement + text[position + 1:]
    with pytest.raises(CaseNumberError):
        CaseNumber.parse(changed)
    assert not is_valid_case_number(changed)


@PROPERTY
@given(number=case_numbers, data=st.data())
def test_swapping_two_different_adjacent_digits_is_detected(number: CaseNumber,
                                                            data: st.DataObject) -> None:
    body = str(number)[:-1]
    position = data.draw(st.integers(0, len(body) - 2), label="position")
    a, b = body[position], body[position + 1]
    if a == b:
        return
    swapped = body[:position] + b + a + body[position + 2:]
    with pytest.raises(CaseNumberError, match="校验位"):
        CaseNumber.parse(swapped + str(number)[-1])


def _numbered(body: str) -> str:
    return body + mod11_2(body)


@pytest.mark.parametrize(("value", "fragment"), [
    ("", "请输入办件编号"),
    ("33010001202611230001", "长度应为21至27位，现在是20位"),
    ("3301000012345601202611230001X", "长度应为21至27位，现在是29位"),
    ("33010000A01202611230001X", "只能是数字"),
    (_numbered("33010000101202613010001"), "日期“20261301”无效"),
    (_numbered("33010000101202602300001"), "日期“20260230”无效"),
    (_numbered("33010000101202611230000"), "序号0超出范围"),
    (_numbered("33010000100202611230001"), "终端号“00”"),
    ("33010000101202611230001Y", "校验位不正确"),
])
def test_bad_case_numbers_are_rejected_with_the_reason(value: str, fragment: str) -> None:
    with pytest.raises(CaseNumberError, match=fragment):
        CaseNumber.parse(value)


def test_a_check_character_x_may_be_typed_in_lower_case() -> None:
    number = next(n for n in (CaseNumber("330100001", "01", dt.date(2026, 11, 23), s)
                              for s in range(1, 100)) if str(n).endswith("X"))
    assert CaseNumber.parse(str(number).lower()) == number


@pytest.mark.parametrize("site", ["33010", "3301000011234", "33010A", "", "３３０１００"])
def test_bad_site_codes_are_refused(site: str) -> None:
    with pytest.raises(CaseNumberError, match="站点编码"):
        check_site_code(site)


def test_site_codes_in_other_digit_scripts_are_refused() -> None:
    # str.isdigit() and re's \d accept Arabic-Indic digits; a case number cannot hold them.
    with pytest.raises(CaseNumberError, match="站点编码"):
        check_site_code("".join(chr(0x0660 + int(c)) for c in "330100001"))
    with pytest.raises(CaseNumberError, match="终端号"):
        check_terminal(chr(0x0660) + chr(0x0661))


@pytest.mark.parametrize("terminal", ["00", "1", "001", "A1", ""])
def test_bad_terminals_are_refused(terminal: str) -> None:
    with pytest.raises(CaseNumberError, match="终端号"):
        check_terminal(terminal)


@pytest.mark.parametrize("seq", [0, 10000, -1])
def test_sequence_outside_one_to_9999_is_refused(seq: int) -> None:
    with pytest.raises(CaseNumberError, match="每个终端每天最多9999件"):
        CaseNumber("330100001", "01", dt.date(2026, 11, 23), seq)


def test_sites_of_different_lengths_parse_from_the_right() -> None:
    short = CaseNumber("330100", "07", dt.date(2026, 1, 2), 12)
    long = CaseNumber("330100001234", "07", dt.date(2026, 1, 2), 12)
    assert CaseNumber.parse(str(short)).site == "330100"
    assert CaseNumber.parse(str(long)).site == "330100001234"
    assert str(short) != str(long)
