"""What ID-card readers hand the window: a number typed by a keyboard wedge, or a file.

Desktop 居民身份证 readers (华视 CVR-100, 神思 SS628 …) work in one of two ways:

* **keyboard wedge** — the reader types the 18-character number (some models the name
  first, Tab-separated) and Enter into whatever has the focus. :func:`find_card_number`
  picks a whole, check-digit-valid number out of what a field holds, so the form can
  move it where it belongs.
* **a file per read** — the reader's software writes the card's text into a folder.
  :func:`parse_reader_file` reads the two shapes such files have:

  - ``wz.txt`` of the vendors' common SDK (``SDT_ReadBaseMsgToFile``): the chip's 256-byte
    text block as it is, UTF-16LE, fixed widths in characters — 姓名 15, 性别 1 (code),
    民族 2 (code), 出生 8, 住址 35, 公民身份号码 18, 签发机关 15, 有效期 8 + 8, 18 reserved;
  - a text of ``key=value`` / ``key:value`` / ``key：value`` / ``key<Tab>value`` lines
    (INI section headers and ``#`` or ``;`` comments skipped), in UTF-8, GBK/GB18030 or
    UTF-16 with or without BOM; keys in Chinese (姓名, 公民身份号码 …), English (name,
    id …) or pinyin initials (xm, sfzh …), see ``_KEYS``.

  Only the number is required; a missing 民族 or 签发机关 is just empty. Anything else
  — binary, an unknown encoding, a file larger than :data:`MAX_READER_FILE_BYTES`, no
  valid number — raises :class:`IdCardFileError` with a Chinese message.

The masking helpers show a returning applicant's stored data only as much as a clerk
needs to recognise it (the ID number has :func:`app.documents.masking.mask_id`).
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from app.domain.case import Applicant, ApplicantKind, IdType
from app.domain.identity import (
    HMT_RESIDENCE_PREFIXES,
    PROVINCE_CODES,
    IdentityError,
    check_hmt_residence_id,
    check_resident_id,
)
from app.errors import UserError

# A reader's text file is a few hundred bytes; anything much larger is not one, and is
# refused before it is decoded (a 100 MB file must not hang the worker).
MAX_READER_FILE_BYTES = 64 * 1024
WZ_RECORD_BYTES = 256
_MAX_NAME = 60            # foreign names on 居住证 are long; Chinese ones are ≤ 15
_MAX_TEXT = 200

# GB/T 3304 codes of the 民族 field, as printed on the card (without "族").
_ETHNIC = ("汉", "蒙古", "回", "藏", "维吾尔", "苗", "彝", "壮", "布依", "朝鲜", "满", "侗", "瑶",
           "白", "土家", "哈尼", "哈萨克", "傣", "黎", "傈僳", "佤", "畲", "高山", "拉祜", "水",
           "东乡", "纳西", "景颇", "柯尔克孜", "土", "达斡尔", "仫佬", "羌", "布朗", "撒拉", "毛南",
           "仡佬", "锡伯", "阿昌", "普米", "塔吉克", "怒", "乌孜别克", "俄罗斯", "鄂温克", "德昂",
           "保安", "裕固", "京", "塔塔尔", "独龙", "鄂伦春", "赫哲", "门巴", "珞巴", "基诺")
ETHNIC_GROUPS: dict[str, str] = {f"{i:02d}": n for i, n in enumerate(_ETHNIC, start=1)}
ETHNIC_GROUPS.update({"97": "其他", "98": "外国血统中国籍人士"})
_SEX = {"1": "男", "2": "女", "0": "未知", "9": "未说明"}

# Field → the keys reader programs use for it (compared after NFKC, lower case, without
# spaces, "_" and "-").
_KEYS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "name", "xm", "partyname", "cardname"),
    "sex": ("性别", "sex", "gender", "xb"),
    "ethnicity": ("民族", "nation", "nationality", "folk", "mz"),
    "birth": ("出生", "出生日期", "birth", "birthday", "born", "bornday", "csrq"),
    "address": ("住址", "地址", "address", "addr", "zz", "dz"),
    "id_number": ("公民身份号码", "公民身份证号码", "身份证号码", "身份证号", "证件号码", "号码",
                  "idnumber", "idno", "id", "idcard", "idcode", "cardno", "code", "certno",
                  "sfzh", "gmsfhm", "zjhm"),
    "issuer": ("签发机关", "发证机关", "issuer", "issue", "department", "police", "qfjg"),
    "valid": ("有效期限", "有效期", "validity", "valid", "validdate", "validperiod", "yxqx"),
    "valid_from": ("有效期起始日期", "有效期开始", "起始日期", "validbegin", "validstart",
                   "startdate", "userlifebegin", "effecteddate"),
    "valid_to": ("有效期截止日期", "有效期结束", "截止日期", "validend", "enddate",
                 "userlifeend", "expireddate"),
}
_FIELD_OF = {key: field for field, keys in _KEYS.items() for key in keys}
_SEPARATORS = ("=", "＝", ":", "：", "\t")
_NUMBER = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9Xx])")
_CJK = re.compile(r"[\u3400-\u9fff\U00020000-\U0003134f]")


class IdCardFileError(UserError, ValueError):
    """A file that is not a readable ID-card read; the message says why, in Chinese."""


@dataclass(frozen=True, slots=True)
class IdCardRecord:
    """The text of one 居民身份证 (or 港澳台居民居住证) as its reader gave it."""

    name: str
    id_number: str
    id_type: IdType = IdType.RESIDENT_ID
    sex: str = ""
    ethnicity: str = ""
    birth_date: dt.date | None = None
    address: str = ""
    issuer: str = ""
    valid: str = ""          # 有效期限 as the card prints it: "2015.01.01-2035.01.01"


@dataclass(frozen=True, slots=True)
class CardNumber:
    """A whole card number found in what a field holds, and the rest of its text."""

    number: str
    id_type: IdType
    rest: str


# -- the keyboard wedge ------------------------------------------------------------------

def card_number_type(number: str) -> IdType | None:
    """The card an 18-character number belongs to, or None if it is not a whole one.

    Checks what a keystroke handler can afford: layout, province, birth date and the
    ISO 7064 MOD 11-2 check digit — no region table. The services check it fully when
    the case is opened.
    """
    if len(number) != 18 or not number[:17].isdigit() or not number.isascii():
        return None
    if not (number[17].isdigit() or number[17] == "X") or number[:2] not in PROVINCE_CODES:
        return None
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None
    if not dt.date(1890, 1, 1) <= birth <= dt.date.today():
        return None
    checksum = (1 - 2 * int(number[:17], 13)) % 11
    if number[17] != ("X" if checksum == 10 else str(checksum)):
        return None
    return IdType.HMT_RESIDENCE if number[:6] in HMT_RESIDENCE_PREFIXES else IdType.RESIDENT_ID


def find_card_number(text: str) -> CardNumber | None:
    """A whole card number inside ``text`` (typed by a wedge into any field), or None.

    ``rest`` is the text without it and without the wedge's separators (Tab, spaces):
    in a name field, the name.
    """
    for match in _NUMBER.finditer(text):
        number = match.group().upper()
        kind = card_number_type(number)
        if kind is not None:
            rest = (text[:match.start()] + " " + text[match.end():]).replace("\t", " ")
            return CardNumber(number, kind, " ".join(rest.split()))
    return None


def looks_like_name(text: str) -> bool:
    """Chinese text without digits: what a wedge's name looks like in a field for digits."""
    return bool(_CJK.search(text)) and not any(c.isdigit() for c in text)


# -- reader files --------------------------------------------------------------------------

def check_reader_file_size(size: int) -> None:
    """Refuse a file too large to be a card read before reading it (size from stat)."""
    if size > MAX_READER_FILE_BYTES:
        raise IdCardFileError(
            f"文件有 {_size(size)}，不是身份证阅读器生成的文件"
            f"（读卡文件只有几百字节，上限 {MAX_READER_FILE_BYTES // 1024} KB）。")


def parse_reader_file(data: bytes) -> IdCardRecord:
    """The card in a reader program's file (see the module docstring for the formats)."""
    check_reader_file_size(len(data))
    if not data.strip(b" \t\r\n\x00"):
        raise IdCardFileError("文件是空的：读卡程序可能还没写完，或读卡失败。")
    record = _fixed_record(data)
    if record is not None:
        return record
    fields = _key_values(_decode(data))
    if "id_number" not in fields:
        raise IdCardFileError("文件中没有“公民身份号码”一项，不是身份证阅读器生成的文件。")
    number, id_type = _checked_number(fields["id_number"])
    valid = fields.get("valid", "")
    if not valid and (fields.get("valid_from") or fields.get("valid_to")):
        valid = f"{_card_date(fields.get('valid_from', ''))}-{_card_date(fields.get('valid_to', ''))}"
    return IdCardRecord(
        name=_text(fields.get("name", ""), "姓名", _MAX_NAME), id_number=number,
        id_type=id_type, sex=_text(fields.get("sex", ""), "性别", 10),
        ethnicity=_text(fields.get("ethnicity", ""), "民族", 20),
        birth_date=_digits_date(fields.get("birth", "")),
        address=_text(fields.get("address", ""), "住址", _MAX_TEXT),
        issuer=_text(fields.get("issuer", ""), "签发机关", _MAX_TEXT),
        valid=_text(valid, "有效期限", 60))


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.0f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"


def _fixed_record(data: bytes) -> IdCardRecord | None:
    """The 256-byte UTF-16LE block of ``wz.txt``, or None when ``data`` is not one."""
    if data.startswith(codecs.BOM_UTF16_LE):
        data = data[2:]
    if len(data) != WZ_RECORD_BYTES:
        return None
    try:
        text = data.decode("utf-16-le")
    except UnicodeDecodeError:
        return None
    number = text[61:79].strip().upper()
    if len(number) != 18 or not number[:17].isdigit():
        return None
    if text[124:125] == "I":   # 外国人永久居留身份证: another layout (English name first)
        raise IdCardFileError("这是外国人永久居留身份证的读卡文件，暂不能自动填写，请手工输入。")
    number, id_type = _checked_number(number)
    valid_to = text[102:110].strip()
    return IdCardRecord(
        name=_text(text[0:15], "姓名", _MAX_NAME), id_number=number, id_type=id_type,
        sex=_SEX.get(text[15], ""), ethnicity=ETHNIC_GROUPS.get(text[16:18], ""),
        birth_date=_digits_date(text[18:26]), address=_text(text[26:61], "住址", _MAX_TEXT),
        issuer=_text(text[79:94], "签发机关", _MAX_TEXT),
        valid=f"{_card_date(text[94:102])}-{_card_date(valid_to)}")


def _decode(data: bytes) -> str:
    """The text of a reader file: BOM first, then UTF-16 by its zero bytes, UTF-8, GB18030."""
    boms = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
            (codecs.BOM_UTF16_BE, "utf-16-be"))
    candidates: list[tuple[bytes, str]] = []
    for bom, encoding in boms:
        if data.startswith(bom):
            candidates = [(data[len(bom):], encoding)]
            break
    else:
        if b"\x00" in data.rstrip(b"\x00"):
            # ASCII in UTF-16 has a zero byte: after it (LE) or before it (BE).
            little = data[1::2].count(0) >= data[0::2].count(0)
            candidates = [(data, "utf-16-le" if little else "utf-16-be")]
        else:
            # UTF-8 first: GBK bytes almost never form valid UTF-8, the reverse is common.
            candidates = [(data, "utf-8"), (data, "gb18030")]
    for raw, encoding in candidates:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        text = text.strip("\x00\x1a\ufeff")   # padding, DOS end-of-file, a doubled BOM
        if any((unicodedata.category(c) in ("Cc", "Cs", "Co") and c not in "\t\r\n")
               or c == "\ufffd" for c in text):
            raise IdCardFileError("文件含有非文字内容，不是身份证阅读器生成的文字文件。")
        return text
    raise IdCardFileError("无法识别文件的文字编码（读卡文件应为 GBK、UTF-8 或 UTF-16）。")


def _key(text: str) -> str:
    key = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"[\s_\-\"'“”]", "", key)


def _key_values(text: str) -> dict[str, str]:
    """Known fields of ``key=value``-like lines; the first occurrence of a field wins."""
    fields: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;[":
            continue
        cuts = [i for i in (line.find(s) for s in _SEPARATORS) if i > 0]
        if cuts:
            key, value = line[:min(cuts)], line[min(cuts) + 1:]
        else:   # "姓名 王小明": a known key, then spaces
            key, value = [*line.split(maxsplit=1), ""][:2]
        field = _FIELD_OF.get(_key(key))
        if field is not None and field not in fields:
            fields[field] = value.strip().strip("\"'“”").strip()
    return fields


def _checked_number(value: str) -> tuple[str, IdType]:
    number = re.sub(r"\s", "", unicodedata.normalize("NFKC", value)).upper()
    try:
        if number[:6] in HMT_RESIDENCE_PREFIXES:
            return check_hmt_residence_id(number), IdType.HMT_RESIDENCE
        return check_resident_id(number).number, IdType.RESIDENT_ID
    except IdentityError as exc:
        raise IdCardFileError(f"读卡文件中的公民身份号码有误：{exc}") from None


def _text(value: str, label: str, limit: int) -> str:
    text = " ".join(value.split())
    if len(text) > limit:
        raise IdCardFileError(f"读卡文件中的“{label}”有 {len(text)} 个字，超过 {limit} 个，"
                              "不是身份证上的内容。")
    return text


def _digits_date(value: str) -> dt.date | None:
    parts = re.findall(r"\d+", unicodedata.normalize("NFKC", value))
    if len(parts) == 1 and len(parts[0]) == 8:
        parts = [parts[0][:4], parts[0][4:6], parts[0][6:]]
    if len(parts) != 3:
        return None
    try:
        return dt.date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        return None


def _card_date(value: str) -> str:
    """A validity date as the card prints it (2015.01.01); 长期 and unknown text as given."""
    day = _digits_date(value)
    return f"{day:%Y.%m.%d}" if day is not None else value.strip()


# -- masking ---------------------------------------------------------------------------------

def mask_name(name: str) -> str:
    """王小明 → 王*明, 王明 → 王*, 欧阳小明 → 欧**明: the family name and the last character."""
    text = name.strip()
    if len(text) <= 1:
        return text
    if len(text) == 2:
        return text[0] + "*"
    return text[0] + "*" * (len(text) - 2) + text[-1]


def mask_phone(phone: str) -> str:
    """13800138000 → 138****8000; a landline keeps its area code and last four digits."""
    digits = phone.strip()
    if len(digits) >= 11:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    if len(digits) > 4:
        return "*" * (len(digits) - 4) + digits[-4:]
    return "*" * len(digits)


_PROVINCE_PART = re.compile(r"^.{1,7}?(?:省|自治区|特别行政区|市)")


def mask_address(address: str) -> str:
    """浙江省杭州市… → 浙江省****: the province (or municipality) only."""
    text = address.strip()
    if not text:
        return ""
    match = _PROVINCE_PART.match(text)
    return (match.group() if match else text[:2]) + "****"


def masked_applicant(applicant: Applicant) -> str:
    """What a clerk recognises a returning applicant by, and a bystander learns little
    from: "王*明 138****8000 地址 浙江省****" (an organisation's name is public)."""
    person = applicant.kind is ApplicantKind.PERSON
    parts = [mask_name(applicant.name) if person else applicant.name]
    if applicant.legal_representative:
        parts.append(f"法定代表人 {mask_name(applicant.legal_representative)}")
    if applicant.phone:
        parts.append(mask_phone(applicant.phone))
    if applicant.address:
        parts.append(f"地址 {mask_address(applicant.address)}")
    return " ".join(parts)
