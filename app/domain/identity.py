"""Checks on the identity numbers an applicant gives: 居民身份证, 统一社会信用代码, phone.

Each check normalises what the clerk typed (full-width digits from an IME, a lower-case
``x``, stray spaces) and either returns the normalised value or raises
:class:`IdentityError` whose message says, in Chinese, exactly what is wrong.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from app.domain.checksum import mod11_2


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

_EARLIEST_BIRTH = dt.date(1890, 1, 1)


def _normalise(value: str) -> str:
    # NFKC turns full-width digits and letters (typed with a Chinese IME) into ASCII.
    text = unicodedata.normalize("NFKC", value)
    return re.sub(r"[\s\-]", "", text).upper()


@dataclass(frozen=True, slots=True)
class ResidentId:
    """A checked 18-digit 居民身份证号码."""

    number: str
    province: str
    birth_date: dt.date
    sex: str  # "男" / "女", from the parity of the 17th digit


def check_resident_id(value: str, *, today: dt.date | None = None) -> ResidentId:
    """Validate an 18-digit 居民身份证号码 (GB 11643): region, birth date, check digit."""
    number = _normalise(value)
    if not number:
        raise IdentityError("请输入身份证号码。")
    if len(number) == 15 and number.isdigit():
        raise IdentityError("这是15位旧身份证号码，请使用18位居民身份证号码。")
    if len(number) != 18:
        raise IdentityError(f"身份证号码应为18位，现在是{len(number)}位。")
    if not (number[:17].isdigit() and number[:17].isascii()):
        raise IdentityError("身份证号码前17位只能是数字。")
    if not (number[17].isdigit() or number[17] == "X"):
        raise IdentityError("身份证号码最后一位只能是数字或X。")
    province = PROVINCE_CODES.get(number[:2])
    if province is None:
        raise IdentityError(f"身份证号码前两位“{number[:2]}”不是有效的省级行政区划代码。")
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise IdentityError(
            f"身份证号码中的出生日期“{number[6:14]}”不是有效日期。"
        ) from None
    today = today or dt.date.today()
    if birth > today:
        raise IdentityError(f"身份证号码中的出生日期{birth.isoformat()}晚于今天。")
    if birth < _EARLIEST_BIRTH:
        raise IdentityError(f"身份证号码中的出生日期{birth.isoformat()}早于1890年，请核对。")
    expected = mod11_2(number[:17])
    if number[17] != expected:
        raise IdentityError("身份证号码校验位不正确，请逐位核对号码（可能有数字输错或顺序颠倒）。")
    sex = "男" if int(number[16]) % 2 == 1 else "女"
    return ResidentId(number=number, province=province, birth_date=birth, sex=sex)


# GB 32100-2015: 31 characters, the letters I, O, Z, S, V are never used.
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check_char(body17: str) -> str:
    """The 18th character of a 统一社会信用代码 whose first 17 characters are ``body17``."""
    total = sum(USCC_CHARS.index(c) * w for c, w in zip(body17, _USCC_WEIGHTS, strict=True))
    return USCC_CHARS[(31 - total % 31) % 31]


def check_uscc(value: str) -> str:
    """Validate an 18-character 统一社会信用代码; return it normalised."""
    code = _normalise(value)
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
