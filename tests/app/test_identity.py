"""居民身份证, 港澳台居民居住证, 统一社会信用代码 and phone numbers: what the clerk types.

python-stdnum (``stdnum.cn.ric``, ``stdnum.cn.uscc``) is the oracle for the check digits.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import numdb
from stdnum.cn import ric as stdnum_ric
from stdnum.cn import uscc as stdnum_uscc
from stdnum.exceptions import InvalidComponent, InvalidFormat

from app.domain.checksum import is_valid_mod11_2, mod11_2
from app.domain.identity import (
    HMT_RESIDENCE_PREFIXES,
    PROVINCE_CODES,
    USCC_CHARS,
    IdentityError,
    check_hmt_residence_id,
    check_phone,
    check_resident_id,
    check_uscc,
    known_region_codes,
    region_name,
    uscc_check_char,
)

TODAY = dt.date(2026, 11, 23)
DIGITS = "0123456789"
PROPERTY = settings(max_examples=80, deadline=None)


def stdnum_check_digit(body17: str) -> str:
    # stdnum's calc_check_digit takes the whole number and ignores its last character.
    return stdnum_ric.calc_check_digit(body17 + "?")


def make_resident_id(region: str, birth: dt.date, seq: int) -> str:
    body = f"{region}{birth:%Y%m%d}{seq:03d}"
    return body + stdnum_check_digit(body)


def single_character_changes(number: str, alphabet: str) -> list[str]:
    """Every string that differs from ``number`` in exactly one position (from ``alphabet``)."""
    return [number[:i] + c + number[i + 1:]
            for i in range(len(number)) for c in alphabet if c != number[i]]


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


# Every county-level code of stdnum's table, whatever year it was in use (the 港澳台居民居住证
# prefixes are not 居民身份证 regions).
REGION_CODES = sorted(known_region_codes() - set(HMT_RESIDENCE_PREFIXES))
regions = st.sampled_from(REGION_CODES)
births = st.dates(min_value=dt.date(1890, 1, 1), max_value=TODAY)
resident_ids = st.builds(make_resident_id, regions, births, st.integers(0, 999))


# ---- MOD 11-2 ------------------------------------------------------------------------


def test_mod11_2_matches_the_published_gb11643_example() -> None:
    # The example number printed in GB 11643-1999.
    assert mod11_2("11010519491231002") == "X"
    assert is_valid_mod11_2("11010519491231002X")
    assert not is_valid_mod11_2("110105194912310021")
    with pytest.raises(ValueError):
        mod11_2("1101051949123100A")


@PROPERTY
@given(body=st.text(DIGITS, min_size=17, max_size=17))
def test_mod11_2_agrees_with_stdnum(body: str) -> None:
    # mod11_2 still numbers our cases; stdnum is the reference implementation.
    assert mod11_2(body) == stdnum_check_digit(body)


# ---- 居民身份证 ----------------------------------------------------------------------


@PROPERTY
@given(region=regions, birth=births, seq=st.integers(0, 999))
def test_generated_resident_ids_are_accepted_and_parsed(region: str, birth: dt.date,
                                                        seq: int) -> None:
    number = make_resident_id(region, birth, seq)
    rid = check_resident_id(number, today=TODAY)
    assert rid.number == number
    assert rid.birth_date == birth
    assert rid.sex == ("男" if seq % 2 == 1 else "女")
    assert rid.province == PROVINCE_CODES[region[:2]]


@PROPERTY
@given(number=resident_ids, position=st.integers(0, 16), digit=st.sampled_from(DIGITS))
def test_any_single_digit_change_in_the_body_is_rejected(number: str, position: int,
                                                         digit: str) -> None:
    if number[position] == digit:
        digit = str((int(digit) + 1) % 10)
    changed = number[:position] + digit + number[position + 1:]
    with pytest.raises(IdentityError):
        check_resident_id(changed, today=TODAY)


@PROPERTY
@given(region=regions, birth=births, seq=st.integers(0, 999))
def test_the_stdnum_check_digit_is_accepted_and_every_single_change_refused(
        region: str, birth: dt.date, seq: int) -> None:
    body = f"{region}{birth:%Y%m%d}{seq:03d}"
    number = body + stdnum_check_digit(body)
    assert check_resident_id(number, today=TODAY).number == number
    for changed in single_character_changes(number[:17], DIGITS):
        with pytest.raises(IdentityError):
            check_resident_id(changed + number[17], today=TODAY)
    for check in (DIGITS + "X").replace(number[17], ""):
        with pytest.raises(IdentityError, match="校验位"):
            check_resident_id(body + check, today=TODAY)


@PROPERTY
@given(number=resident_ids, check=st.sampled_from(DIGITS + "X"))
def test_a_changed_check_digit_is_rejected_with_the_check_message(number: str,
                                                                  check: str) -> None:
    if check == number[17]:
        return
    with pytest.raises(IdentityError, match="校验位"):
        check_resident_id(number[:17] + check, today=TODAY)


@PROPERTY
@given(number=resident_ids)
def test_full_width_digits_spaces_and_lower_case_x_are_normalised(number: str) -> None:
    typed = full_width(number[:6]) + " " + number[6:14] + "-" + number[14:].lower()
    assert check_resident_id(typed, today=TODAY).number == number
    assert check_resident_id(full_width(number.lower()), today=TODAY).number == number


@PROPERTY
@given(number=resident_ids, dash=st.sampled_from("-\u2010\u2013\u2014\u2212\uff0d"))
def test_any_kind_of_dash_between_the_groups_is_dropped(number: str, dash: str) -> None:
    # IMEs give en/em dashes, minus signs and full-width hyphens; stdnum's compact() knows them.
    typed = number[:6] + dash + number[6:14] + dash + number[14:]
    assert check_resident_id(typed, today=TODAY).number == number


def test_the_published_example_with_lower_case_x_in_full_width() -> None:
    rid = check_resident_id("１１０１０５１９４９１２３１００２ｘ", today=TODAY)
    assert rid.number == "11010519491231002X"
    assert rid.birth_date == dt.date(1949, 12, 31)
    assert rid.sex == "女"
    assert rid.province == "北京市"


def _with_check(body17: str) -> str:
    return body17 + mod11_2(body17)


def _with_wrong_check(body17: str) -> str:
    return body17 + ("0" if mod11_2(body17) != "0" else "1")


@pytest.mark.parametrize(("value", "fragment"), [
    ("", "请输入身份证号码"),
    ("   ", "请输入身份证号码"),
    ("110105491231002", "15位旧身份证"),
    ("11010519491231002", "18位，现在是17位"),
    ("11010519491231002X1", "18位，现在是19位"),
    ("1101051949123100AX", "前17位只能是数字"),
    ("11010519491231002Y", "最后一位只能是数字或X"),
    (_with_check("00010519491231002"), "省级行政区划代码"),
    (_with_check("99010519491231002"), "“99”"),
    (_with_check("11019919491231002"), "前六位“110199”不是有效的行政区划代码"),
    (_with_check("43999919600101002"), "前六位“439999”不是有效的行政区划代码"),
    (_with_check("81000019491231002"), "港澳台居民居住证"),
    (_with_check("83000019491231002"), "请将证件类型选为“港澳台居民居住证”"),
    (_with_check("11010519900230002"), "出生日期“19900230”不是有效日期"),
    (_with_check("11010519901301002"), "出生日期"),
    (_with_check("11010520270101002"), "晚于今天"),
    (_with_check("11010518800101002"), "早于1890年"),
    ("110105194912310021", "校验位"),
])
def test_each_bad_resident_id_gets_its_specific_message(value: str, fragment: str) -> None:
    with pytest.raises(IdentityError, match=fragment):
        check_resident_id(value, today=TODAY)


def test_a_region_code_newer_than_the_birth_year_is_accepted() -> None:
    # 冷水滩区 (431103) dates from 1995; a villager born there in 1960 was given a 431103…
    # number when renumbered in 1999. stdnum's validate() refuses it, we must not.
    number = make_resident_id("431103", dt.date(1960, 1, 1), 1)
    assert number[:14] == "43110319600101"
    with pytest.raises(InvalidComponent):
        stdnum_ric.validate(number)
    rid = check_resident_id(number, today=TODAY)
    assert rid.number == number
    assert rid.province == "湖南省"
    assert rid.birth_date == dt.date(1960, 1, 1)
    assert rid.sex == "男"
    assert region_name("431103") == "冷水滩区"


def test_a_region_code_no_longer_in_use_is_accepted() -> None:
    # 崇文区 (110103) was merged into 东城区 in 2010; its people keep their numbers.
    assert region_name("110103") == "崇文区"
    number = make_resident_id("110103", dt.date(2015, 6, 1), 2)
    assert check_resident_id(number, today=TODAY).number == number


def test_region_table_is_stdnums_without_the_years() -> None:
    db = numdb.get("cn/loc")
    assert len(REGION_CODES) > 3000
    for code in REGION_CODES[::97]:
        parts = db.info(code)
        assert [len(part) for part, _ in parts] == [2, 4]
        assert "county" in parts[1][1]
        assert "[" not in (region_name(code) or "[")
    # A code reused for a new county names both.
    assert region_name("120110") == "东郊区、东丽区"
    assert region_name("110199") is None
    assert region_name("990000") is None


@PROPERTY
@given(region=regions, seq=st.integers(0, 999), data=st.data())
def test_whatever_stdnum_validates_is_accepted(region: str, seq: int,
                                               data: st.DataObject) -> None:
    birth = data.draw(births)
    number = make_resident_id(region, birth, seq)
    if stdnum_ric.is_valid(number):
        assert check_resident_id(number, today=TODAY).number == number


def test_birth_date_today_is_accepted_tomorrow_is_not() -> None:
    assert check_resident_id(make_resident_id("330102", TODAY, 5), today=TODAY).sex == "男"
    tomorrow = TODAY + dt.timedelta(days=1)
    with pytest.raises(IdentityError, match="晚于今天"):
        check_resident_id(make_resident_id("330102", tomorrow, 5), today=TODAY)


def test_digits_of_other_scripts_are_refused_with_a_message() -> None:
    # Arabic-Indic digits are "digits" to str.isdigit() but not to the check algorithm.
    arabic = "".join(chr(0x0660 + int(c)) for c in "010519491231002")
    with pytest.raises(IdentityError, match="数字"):
        check_resident_id("11" + arabic + "X", today=TODAY)


@PROPERTY
@given(st.text(max_size=24))
def test_any_text_gives_a_result_or_an_identity_error(value: str) -> None:
    try:
        rid = check_resident_id(value, today=TODAY)
    except IdentityError as exc:
        assert str(exc)
    else:
        assert rid.number.isascii() and len(rid.number) == 18


# ---- 港澳台居民居住证 ------------------------------------------------------------------

hmt_prefixes = st.sampled_from(sorted(HMT_RESIDENCE_PREFIXES))


@PROPERTY
@given(prefix=hmt_prefixes, birth=births, seq=st.integers(0, 999))
def test_hmt_residence_ids_accept_the_stdnum_check_digit_and_refuse_any_single_change(
        prefix: str, birth: dt.date, seq: int) -> None:
    body = f"{prefix}{birth:%Y%m%d}{seq:03d}"
    number = body + stdnum_check_digit(body)
    assert check_hmt_residence_id(number, today=TODAY) == number
    assert check_hmt_residence_id(full_width(number.lower()), today=TODAY) == number
    for changed in single_character_changes(number, DIGITS + "X"):
        with pytest.raises(IdentityError):
            check_hmt_residence_id(changed, today=TODAY)


def test_a_known_hmt_residence_id_is_accepted() -> None:
    number = make_resident_id("810000", dt.date(1985, 3, 14), 21)
    assert check_hmt_residence_id(" " + number[:6] + "-" + number[6:], today=TODAY) == number
    # A 居住证 number is not a 居民身份证 number: the message says which type to choose.
    with pytest.raises(IdentityError, match="港澳台居民居住证"):
        check_resident_id(number, today=TODAY)


@pytest.mark.parametrize(("value", "fragment"), [
    ("", "请输入港澳台居民居住证号码"),
    ("83000019850314002", "港澳台居民居住证号码应为18位，现在是17位"),
    ("8300001985031400211", "港澳台居民居住证号码应为18位，现在是19位"),
    ("830000198503140A2X", "前17位只能是数字"),
    ("83000019850314002Y", "最后一位只能是数字或X"),
    (_with_check("33010219850314002"), "应以810000（香港）、820000（澳门）或830000（台湾）开头，"
                                       "现在是“330102”"),
    (_with_check("84000019850314002"), "“840000”"),
    (_with_check("82000019850230002"), "出生日期“19850230”不是有效日期"),
    (_with_check("82000020270101002"), "晚于今天"),
    (_with_check("82000018800101002"), "早于1890年"),
    (_with_wrong_check("82000019850314002"), "港澳台居民居住证号码校验位不正确"),
])
def test_each_bad_hmt_residence_id_gets_its_specific_message(value: str, fragment: str) -> None:
    with pytest.raises(IdentityError, match=fragment):
        check_hmt_residence_id(value, today=TODAY)


@PROPERTY
@given(st.text(max_size=24))
def test_any_text_gives_an_hmt_number_or_an_identity_error(value: str) -> None:
    try:
        number = check_hmt_residence_id(value, today=TODAY)
    except IdentityError as exc:
        assert str(exc)
    else:
        assert number.isascii() and len(number) == 18


# ---- 统一社会信用代码 --------------------------------------------------------------------


def make_uscc(head: str, region: str, tail: str) -> str:
    body = head + region + tail
    return body + stdnum_uscc.calc_check_digit(body)


usccs = st.builds(make_uscc, st.text(USCC_CHARS, min_size=2, max_size=2),
                  st.text(DIGITS, min_size=6, max_size=6),
                  st.text(USCC_CHARS, min_size=9, max_size=9))


def test_a_known_real_uscc_is_valid() -> None:
    assert check_uscc("91350100M000100Y43") == "91350100M000100Y43"
    assert check_uscc(" 91350100m000100y43 ") == "91350100M000100Y43"
    assert uscc_check_char("91350100M000100Y4") == "3"


@PROPERTY
@given(body=st.text(USCC_CHARS, min_size=17, max_size=17))
def test_uscc_check_char_agrees_with_stdnum(body: str) -> None:
    assert uscc_check_char(body) == stdnum_uscc.calc_check_digit(body)


def test_a_uscc_with_letters_in_the_first_two_places_is_accepted() -> None:
    # GB 32100 allows letters there (N2…: 农村集体经济组织); stdnum's validate() does not.
    code = make_uscc("N2", "431103", "MA4L0000X")
    with pytest.raises(InvalidFormat):
        stdnum_uscc.validate(code)
    assert check_uscc(code) == code


@PROPERTY
@given(code=usccs)
def test_generated_usccs_are_accepted(code: str) -> None:
    assert check_uscc(code) == code
    assert check_uscc(full_width(code.lower())) == code


@PROPERTY
@given(code=usccs, position=st.integers(0, 17), replacement=st.sampled_from(USCC_CHARS))
def test_any_single_character_change_of_a_uscc_is_rejected(code: str, position: int,
                                                           replacement: str) -> None:
    if code[position] == replacement:
        return
    with pytest.raises(IdentityError):
        check_uscc(code[:position] + replacement + code[position + 1:])


@pytest.mark.parametrize("letter", ["I", "O", "Z", "S", "V"])
def test_letters_never_used_in_uscc_are_named_in_the_message(letter: str) -> None:
    code = "91350100M000100Y43"
    bad = code[:8] + letter + code[9:]
    with pytest.raises(IdentityError, match=f"不允许的字符：{letter}") as info:
        check_uscc(bad)
    assert "I、O、Z、S、V" in str(info.value)


@pytest.mark.parametrize(("value", "fragment"), [
    ("", "请输入统一社会信用代码"),
    ("91350100M000100Y4", "18位，现在是17位"),
    ("91350100M000100Y433", "18位，现在是19位"),
    ("91ABCDEFM000100Y43", "第3至8位应为行政区划代码"),
    ("91350100M000100Y44", "校验位不正确"),
    ("9135010*M000100Y43", "不允许的字符：\\*"),
])
def test_each_bad_uscc_gets_its_specific_message(value: str, fragment: str) -> None:
    with pytest.raises(IdentityError, match=fragment):
        check_uscc(value)


# ---- phone numbers -------------------------------------------------------------------


@PROPERTY
@given(second=st.sampled_from("3456789"), rest=st.text(DIGITS, min_size=9, max_size=9))
def test_mobile_numbers_are_accepted_in_the_forms_people_type(second: str, rest: str) -> None:
    number = "1" + second + rest
    assert check_phone(number) == number
    assert check_phone(f"+86 {number[:3]}-{number[3:7]}-{number[7:]}") == number
    assert check_phone("0086" + number) == number
    assert check_phone(full_width(number)) == number


@pytest.mark.parametrize(("value", "expected"), [
    ("0571-88888888", "057188888888"),
    ("(010) 6552 0000", "01065520000"),
    ("（0571）8888888", "05718888888"),
])
def test_landlines_with_area_code_are_accepted(value: str, expected: str) -> None:
    assert check_phone(value) == expected


@pytest.mark.parametrize(("value", "fragment"), [
    ("", "请输入联系电话"),
    ("138-0013-800", "手机号码应为11位，现在是10位"),
    ("12800138000", "第二位应为3至9"),
    ("88888888", "请加上区号"),
    ("0571-123", "固定电话应为区号"),
    ("13800138abc", "只能包含数字"),
    ("23456", "11位手机号码或带区号的固定电话"),
])
def test_each_bad_phone_gets_its_specific_message(value: str, fragment: str) -> None:
    with pytest.raises(IdentityError, match=fragment):
        check_phone(value)


@PROPERTY
@given(st.text(alphabet=st.characters(categories=["Nd", "Zs", "Pd"]), max_size=14))
def test_any_digits_give_ascii_digits_or_an_identity_error(value: str) -> None:
    try:
        phone = check_phone("1" + value)
    except IdentityError as exc:
        assert str(exc)
    else:
        assert phone.isascii() and phone.isdigit()


def test_mobile_numbers_in_other_scripts_are_refused() -> None:
    arabic = "".join(chr(0x0660 + int(c)) for c in "800138000")
    with pytest.raises(IdentityError, match="只能包含数字"):
        check_phone("13" + arabic)
