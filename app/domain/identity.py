"""Checks on the identity numbers an applicant gives: 居民身份证, 港澳台居民居住证,
统一社会信用代码, phone.

Each check normalises what the clerk typed (full-width digits from an IME, a lower-case
``x``, stray spaces) and either returns the normalised value or raises
:class:`IdentityError` whose message says, in Chinese, exactly what is wrong.

The check digits, the compact form and the region table come from python-stdnum
(``stdnum.cn.ric``, ``stdnum.cn.uscc``). Its ``ric.validate()`` is deliberately not
used: it demands that the region code already existed in the birth year, but the prefix
is the place of the first 18-digit registration (most adults were renumbered in 1999),
so e.g. a villager born in 1960 holds a valid 431103… number although 冷水滩区 dates from
1995. We check the region against stdnum's table without the year.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from dataclasses import dataclass

from stdnum import numdb
from stdnum.cn import ric as stdnum_ric
from stdnum.cn import uscc as stdnum_uscc
from stdnum.exceptions import ValidationError


class IdentityError(ValueError):
    """A bad identity number; ``str(err)`` is the message shown to the clerk."""


# First two digits of GB/T 2260 administrative division codes (province level).
PROVINCE_CODES: dict[str, str] = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
    "21": "辽宁省", "22": "吉林省", "23": "黑龙江省",
    "31": "上海市", "32": "江苏省", "33": "浙江省", "34": "安徽省", "35": "福建省",
    "36": "江西省", "37": "山东省",
    "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区",
    "46": "海南省",
    "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省", "54": "西藏自治区",
    "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区",
    "71": "台湾省", "81": "香港特别行政区", "82": "澳门特别行政区",
    # 83 is the prefix of 港澳台居民居住证 numbers (83xxxx for Taiwan residents).
    "83": "台湾居民居住证",
}

# The first six digits of a 港澳台居民居住证 number (GB 11643 layout otherwise).
HMT_RESIDENCE_PREFIXES: dict[str, str] = {"810000": "香港", "820000": "澳门", "830000": "台湾"}

_EARLIEST_BIRTH = dt.date(1890, 1, 1)
_YEAR_RANGE = re.compile(r"^\[[^\]]*\]")


def _normalise(value: str) -> str:
    # NFKC turns full-width digits and letters (typed with a Chinese IME) into ASCII.
    text = unicodedata.normalize("NFKC", value)
    return re.sub(r"[\s\-]", "", text).upper()


@functools.cache
def _region_table() -> dict[str, str]:
    """stdnum's GB/T 2260 table as {six-digit code: name(s)}, every year's codes together.

    A code that was renamed or reused lists all its names, "、"-separated; the
    ``[1995-]``-style year ranges are dropped on purpose (see the module docstring).
    """
    table: dict[str, str] = {}
    for length, low, high, _props, children in numdb.get("cn/loc").prefixes:
        for province in range(int(low), int(high) + 1):
            for c_length, c_low, c_high, c_props, _ in children:
                for county in range(int(c_low), int(c_high) + 1):
                    code = f"{province:0{length}d}{county:0{c_length}d}"
                    names = [_YEAR_RANGE.sub("", n) for n in c_props.get("county", "").split(",")]
                    table[code] = "、".join(n for n in names if n)
    return table


def known_region_codes() -> frozenset[str]:
    """Every six-digit region code in stdnum's table, whatever year it was in use."""
    return frozenset(_region_table())


def region_name(code: str) -> str | None:
    """The county-level name(s) of a six-digit region code, or None when not in the table."""
    return _region_table().get(code)


def _check_gb11643_format(number: str, label: str) -> None:
    """Length and characters of an 18-digit GB 11643 number (身份证 or 居住证)."""
    if len(number) != 18:
        raise IdentityError(f"{label}应为18位，现在是{len(number)}位。")
    if not (number[:17].isdigit() and number[:17].isascii()):
        raise IdentityError(f"{label}前17位只能是数字。")
    if not (number[17].isdigit() or number[17] == "X"):
        raise IdentityError(f"{label}最后一位只能是数字或X。")


def _check_gb11643_birth_and_check_digit(number: str, label: str, today: dt.date) -> dt.date:
    """Birth date (digits 7-14) and ISO 7064 MOD 11-2 check digit of a checked-format number."""
    try:
        birth = stdnum_ric.get_birth_date(number)
    except (ValidationError, ValueError):
        raise IdentityError(f"{label}中的出生日期“{number[6:14]}”不是有效日期。") from None
    if birth > today:
        raise IdentityError(f"{label}中的出生日期{birth.isoformat()}晚于今天。")
    if birth < _EARLIEST_BIRTH:
        raise IdentityError(f"{label}中的出生日期{birth.isoformat()}早于1890年，请核对。")
    if number[17] != stdnum_ric.calc_check_digit(number):
        raise IdentityError(f"{label}校验位不正确，请逐位核对号码（可能有数字输错或顺序颠倒）。")
    return birth


@dataclass(frozen=True, slots=True)
class ResidentId:
    """A checked 18-digit 居民身份证号码."""

    number: str
    province: str
    birth_date: dt.date
    sex: str  # "男" / "女", from the parity of the 17th digit


def check_resident_id(value: str, *, today: dt.date | None = None) -> ResidentId:
    """Validate an 18-digit 居民身份证号码 (GB 11643): region, birth date, check digit.

    The region must be in stdnum's GB/T 2260 table, in any year: not necessarily in the
    birth year (see the module docstring).
    """
    number = _normalise(stdnum_ric.compact(value))
    if not number:
        raise IdentityError("请输入身份证号码。")
    if len(number) == 15 and number.isdigit():
        raise IdentityError("这是15位旧身份证号码，请使用18位居民身份证号码。")
    _check_gb11643_format(number, "身份证号码")
    province = PROVINCE_CODES.get(number[:2])
    if province is None:
        raise IdentityError(f"身份证号码前两位“{number[:2]}”不是有效的省级行政区划代码。")
    if number[:6] in HMT_RESIDENCE_PREFIXES:
        raise IdentityError(
            f"以“{number[:6]}”开头的是港澳台居民居住证号码，不是居民身份证号码，"
            "请将证件类型选为“港澳台居民居住证”。"
        )
    if region_name(number[:6]) is None:
        raise IdentityError(
            f"身份证号码前六位“{number[:6]}”不是有效的行政区划代码（查无此县级地区），请核对。"
        )
    birth = _check_gb11643_birth_and_check_digit(number, "身份证号码", today or dt.date.today())
    sex = "男" if int(number[16]) % 2 == 1 else "女"
    return ResidentId(number=number, province=province, birth_date=birth, sex=sex)


def check_hmt_residence_id(value: str, *, today: dt.date | None = None) -> str:
    """Validate an 18-digit 港澳台居民居住证号码; return it normalised.

    The number has the 居民身份证 layout (GB 11643) with the region part fixed to 810000
    (香港), 820000 (澳门) or 830000 (台湾): birth date, sequence, MOD 11-2 check digit.
    """
    number = _normalise(stdnum_ric.compact(value))
    label = "港澳台居民居住证号码"
    if not number:
        raise IdentityError(f"请输入{label}。")
    _check_gb11643_format(number, label)
    if number[:6] not in HMT_RESIDENCE_PREFIXES:
        raise IdentityError(
            f"{label}应以810000（香港）、820000（澳门）或830000（台湾）开头，"
            f"现在是“{number[:6]}”。"
        )
    _check_gb11643_birth_and_check_digit(number, label, today or dt.date.today())
    return number


# GB 32100-2015: 31 characters, the letters I, O, Z, S, V are never used.
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def uscc_check_char(body17: str) -> str:
    """The 18th character of a 统一社会信用代码 whose first 17 characters are ``body17``."""
    if len(body17) != 17 or any(c not in USCC_CHARS for c in body17):
        raise ValueError("a USCC body is 17 characters of GB 32100's 31-character set")
    return stdnum_uscc.calc_check_digit(body17)


def check_uscc(value: str) -> str:
    """Validate an 18-character 统一社会信用代码; return it normalised.

    Not ``stdnum.cn.uscc.validate()``: that wants the first two characters to be digits,
    but GB 32100 allows letters there (N1/N2… for 农村集体经济组织, Y… and others).
    """
    code = _normalise(stdnum_uscc.compact(value))
    if not code:
        raise IdentityError("请输入统一社会信用代码。")
    if len(code) != 18:
        raise IdentityError(f"统一社会信用代码应为18位，现在是{len(code)}位。")
    bad = sorted({c for c in code if c not in USCC_CHARS})
    if bad:
        shown = "、".join(bad)
        raise IdentityError(
            f"统一社会信用代码含有不允许的字符：{shown}（代码中不使用字母I、O、Z、S、V）。"
        )
    if not code[2:8].isdigit():
        raise IdentityError("统一社会信用代码第3至8位应为行政区划代码（数字）。")
    if code[17] != uscc_check_char(code[:17]):
        raise IdentityError("统一社会信用代码校验位不正确，请逐位核对。")
    return code


_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0\d{2,3}\d{7,8}")


def check_phone(value: str) -> str:
    """Validate a mainland mobile (11 digits) or landline (area code + 7-8 digits) number.

    Returns the digits only; a leading +86/0086 is dropped.
    """
    text = unicodedata.normalize("NFKC", value)
    digits = re.sub(r"[\s\-()（）]", "", text)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    if not digits:
        raise IdentityError("请输入联系电话。")
    if not (digits.isdigit() and digits.isascii()):
        raise IdentityError("联系电话只能包含数字（可带区号和“-”）。")
    if digits.startswith("1"):
        if len(digits) != 11:
            raise IdentityError(f"手机号码应为11位，现在是{len(digits)}位。")
        if not _MOBILE.fullmatch(digits):
            raise IdentityError("手机号码第二位应为3至9，请核对。")
        return digits
    if digits.startswith("0"):
        if not _LANDLINE.fullmatch(digits):
            raise IdentityError("固定电话应为区号（3-4位，以0开头）加7-8位号码。")
        return digits
    if len(digits) in (7, 8):
        raise IdentityError("固定电话请加上区号，例如0571-88888888。")
    raise IdentityError("联系电话应为11位手机号码或带区号的固定电话。")
