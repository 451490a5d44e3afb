"""What ID-card readers produce: reader files in their encodings and shapes, the number a
keyboard wedge types, and the masks a returning applicant is shown with."""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.case import Applicant, ApplicantKind, IdType
from app.domain.id_card import (
    MAX_READER_FILE_BYTES,
    IdCardFileError,
    IdCardRecord,
    card_number_type,
    find_card_number,
    looks_like_name,
    mask_address,
    mask_name,
    mask_phone,
    masked_applicant,
    parse_reader_file,
)

GOOD_ID = "330102198001010026"
HMT_ID = "830000199001010012"       # 台湾居民居住证
CARD_TEXT = ("姓名：王小明\r\n性别：男\r\n民族：汉\r\n出生：1980年1月1日\r\n"
             "住址：浙江省杭州市上城区清波街道劳动路100号\r\n公民身份号码：330102198001010026\r\n"
             "签发机关：杭州市公安局上城分局\r\n有效期限：2015.01.01-2035.01.01\r\n")
WANG = IdCardRecord("王小明", GOOD_ID, IdType.RESIDENT_ID, "男", "汉", dt.date(1980, 1, 1),
                    "浙江省杭州市上城区清波街道劳动路100号", "杭州市公安局上城分局",
                    "2015.01.01-2035.01.01")


def wz_record(name: str, sex: str, nation: str, birth: str, address: str, number: str,
              issuer: str, start: str, end: str, card_type: str = " ") -> bytes:
    """The 256-byte text block the vendors' SDK writes to wz.txt: UTF-16LE, space-padded."""
    text = (name.ljust(15) + sex + nation + birth + address.ljust(35) + number
            + issuer.ljust(15) + start + end.ljust(8))
    text = text.ljust(124) + card_type + "   "
    assert len(text) == 128
    return text.encode("utf-16-le")


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8", "utf-8-sig", "utf-16",
                                      "utf-16-le", "utf-16-be"])
def test_a_reader_file_is_read_in_each_encoding_reader_programs_write(encoding: str) -> None:
    assert parse_reader_file(CARD_TEXT.encode(encoding)) == WANG


def test_key_value_lines_with_english_or_pinyin_keys_and_an_ini_section() -> None:
    text = ("[IDCARD]\n; written by the reader\nName=王小明\nSex=男\nNation=汉\n"
            "Born=19800101\nAddress=浙江省杭州市上城区清波街道劳动路100号\n"
            "IDNumber = 330102198001010026\nIssue=杭州市公安局上城分局\n"
            "UserLifeBegin=20150101\nUserLifeEnd=20350101\n")
    assert parse_reader_file(text.encode("gbk")) == WANG
    pinyin = "xm:王小明\nsfzh:330102198001010026\nzz:浙江省杭州市\n"
    card = parse_reader_file(pinyin.encode("utf-8"))
    assert (card.name, card.id_number, card.address) == ("王小明", GOOD_ID, "浙江省杭州市")


def test_tab_and_space_separated_lines_are_read() -> None:
    card = parse_reader_file("姓名\t王小明\n公民身份号码 330102198001010026\n".encode("gbk"))
    assert (card.name, card.id_number) == ("王小明", GOOD_ID)


def test_the_fixed_wz_txt_record_of_the_vendor_sdk_is_read() -> None:
    data = wz_record("王小明", "1", "01", "19800101", "浙江省杭州市上城区清波街道劳动路100号",
                     GOOD_ID, "杭州市公安局上城分局", "20150101", "20350101")
    assert len(data) == 256
    assert parse_reader_file(data) == WANG
    long_term = parse_reader_file(wz_record("李四", "2", "03", "19800101", "浙江省杭州市",
                                            GOOD_ID, "杭州市公安局", "20150101", "长期"))
    assert (long_term.sex, long_term.ethnicity, long_term.valid) == ("女", "回", "2015.01.01-长期")


def test_a_foreigners_permanent_residence_card_record_is_refused_with_the_reason() -> None:
    data = wz_record("ZHANG SAN", "1", "01", "19800101", "", GOOD_ID, "", "20150101",
                     "20350101", card_type="I")
    with pytest.raises(IdCardFileError, match="外国人永久居留身份证"):
        parse_reader_file(data)


def test_a_hong_kong_macao_taiwan_residence_permit_gets_its_own_id_type() -> None:
    card = parse_reader_file(f"姓名=陈大文\n公民身份号码={HMT_ID}\n".encode())
    assert card.id_type is IdType.HMT_RESIDENCE and card.id_number == HMT_ID


def test_missing_fields_are_empty_only_the_number_is_required() -> None:
    card = parse_reader_file(b"id=330102198001010026\n")
    assert card == IdCardRecord("", GOOD_ID)
    with pytest.raises(IdCardFileError, match="没有“公民身份号码”"):
        parse_reader_file("姓名=王小明\n住址=浙江省\n".encode("gbk"))


def test_a_number_with_a_wrong_check_digit_is_refused_with_the_identity_message() -> None:
    with pytest.raises(IdCardFileError, match="校验位不正确"):
        parse_reader_file(b"id=330102198001010027\n")


@pytest.mark.parametrize("data", [
    b"",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00",
    bytes(range(256)) * 4,
    b"\xff\xfe\x00\xd8\x00\xd8",                  # UTF-16 BOM, then lone surrogates
    "你好，世界\n".encode("gbk") * 10,            # text, but not a card
])
def test_garbage_is_refused_with_a_chinese_message(data: bytes) -> None:
    with pytest.raises(IdCardFileError) as caught:
        parse_reader_file(data)
    assert any("\u4e00" <= c <= "\u9fff" for c in str(caught.value))


def test_a_100_mb_file_is_refused_by_its_size_before_it_is_decoded() -> None:
    huge = CARD_TEXT.encode("gbk") * (100 * 1024 * 1024 // len(CARD_TEXT.encode("gbk")))
    assert len(huge) > 99 * 1024 * 1024
    with pytest.raises(IdCardFileError, match="文件有 100 MB"):
        parse_reader_file(huge)
    # The cap is the size: a valid card padded past it is refused too.
    with pytest.raises(IdCardFileError, match="上限 64 KB"):
        parse_reader_file(CARD_TEXT.encode("gbk") + b" " * MAX_READER_FILE_BYTES)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_any_bytes_give_a_card_or_the_reader_file_error_nothing_else(data: bytes) -> None:
    with contextlib.suppress(IdCardFileError):
        parse_reader_file(data)


# -- the keyboard wedge -------------------------------------------------------------------

def test_a_whole_card_number_is_found_with_the_name_typed_around_it() -> None:
    found = find_card_number("王小明\t330102198001010026")
    assert found is not None
    assert (found.number, found.id_type, found.rest) == (GOOD_ID, IdType.RESIDENT_ID, "王小明")
    lower = find_card_number("33010219800101000x")     # the wedge's shift was not pressed
    assert lower is not None and lower.number == "33010219800101000X"
    hmt = find_card_number(HMT_ID)
    assert hmt is not None and hmt.id_type is IdType.HMT_RESIDENCE


@pytest.mark.parametrize("text", [
    "王小明",
    "33010219800101002",           # 17 digits: still being typed
    "330102198001010027",          # wrong check digit
    "3301021980010100261",         # part of a longer run of digits
    "990102198001010026",          # no such province
    "某某路18号",
])
def test_no_card_number_is_found_in_ordinary_text(text: str) -> None:
    assert find_card_number(text) is None


def test_card_number_type_wants_a_valid_birth_date() -> None:
    assert card_number_type(GOOD_ID) is IdType.RESIDENT_ID
    assert card_number_type("330102198013010020") is None   # month 13


def test_a_name_is_chinese_text_without_digits() -> None:
    assert looks_like_name("王小明") and looks_like_name("欧阳 娜娜")
    assert not looks_like_name("13800138000") and not looks_like_name("王1")
    assert not looks_like_name("")


# -- masking -------------------------------------------------------------------------------

def test_masks_keep_only_what_recognises_the_applicant() -> None:
    assert [mask_name(n) for n in ("王小明", "王明", "欧阳小明", "王")] == [
        "王*明", "王*", "欧**明", "王"]
    assert mask_phone("13800138000") == "138****8000"
    assert mask_phone("057188886666") == "057*****6666"
    assert mask_address("浙江省杭州市上城区劳动路100号") == "浙江省****"
    assert mask_address("北京市朝阳区") == "北京市****"
    assert mask_address("广西壮族自治区南宁市") == "广西壮族自治区****"
    person = Applicant(ApplicantKind.PERSON, "王小明", IdType.RESIDENT_ID, GOOD_ID,
                       "13800138000", "浙江省杭州市上城区劳动路100号")
    assert masked_applicant(person) == "王*明 138****8000 地址 浙江省****"
    company = Applicant(ApplicantKind.ORGANISATION, "示例县好味道餐饮店", IdType.USCC,
                        "92330100MA2XXXXX0X", legal_representative="李四")
    assert masked_applicant(company) == "示例县好味道餐饮店 法定代表人 李*"


def test_the_utf16_bom_decides_over_guessing() -> None:
    data = codecs.BOM_UTF16_BE + CARD_TEXT.encode("utf-16-be")
    assert parse_reader_file(data) == WANG
