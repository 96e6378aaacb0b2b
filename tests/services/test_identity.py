from datetime import date

import pytest

from services.errors import ValidationError
from services.identity import (
    is_holder_code,
    mask_id_number,
    mask_name,
    mask_phone,
    normalise_phone,
    parse_credit_code,
    parse_resident_id,
)
from services.materials import clean_answer


def test_valid_id_number_gives_birth_date_and_gender():
    rid = parse_resident_id("11010519491231002x")
    assert rid.number == "11010519491231002X"
    assert rid.birth_date == date(1949, 12, 31)
    assert rid.gender == "F"


@pytest.mark.parametrize(
    "bad",
    [
        "110105194912310021",  # wrong checksum
        "110105194913310026",  # month 13
        "11010519491231002",  # 17 digits
        "",
        "abcdefghijklmnopqr",
    ],
)
def test_invalid_id_numbers_are_refused_with_a_field_error(bad):
    with pytest.raises(ValidationError) as err:
        parse_resident_id(bad)
    assert "id_number" in err.value.errors


def test_phone_normalisation():
    assert normalise_phone("+86 138-0000-0001") == "13800000001"
    with pytest.raises(ValidationError):
        normalise_phone("1234")


def test_masks():
    assert mask_name("张三") == "张*"
    assert mask_name("张小三") == "张*三"
    assert mask_name("欧阳小明") == "欧**明"
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_phone("13800000001") == "138****0001"


def mod11_2(body: str) -> str:
    """ISO 7064 MOD 11-2, written out here so the tests do not trust the code under test."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


# Real county codes from 14 provinces; several holders are older than their district's code
# (浦东新区 310115 dates from 1993, 南山区 440305 from 1990, 武侯区 510107 from 1990, 渝北区
# 500112 from 1994, 上城区 330102 was re-coded in 2021): numbers keep the code they were issued.
VALID_NUMBERS = [
    ("110105193604120318", date(1936, 4, 12)),  # 北京 朝阳区
    ("120101194207041123", date(1942, 7, 4)),  # 天津 和平区
    ("130102195801012459", date(1958, 1, 1)),  # 河北 石家庄
    ("310115195003010163", date(1950, 3, 1)),  # 上海 浦东新区, born before 1993
    ("320106196309150273", date(1963, 9, 15)),  # 江苏 南京鼓楼区
    ("330102195508152249", date(1955, 8, 15)),  # 浙江 杭州上城区
    ("370102197111200384", date(1971, 11, 20)),  # 山东 济南历下区
    ("420106198002290418", date(1980, 2, 29)),  # 湖北 武汉武昌区, a leap day
    ("440305194510010523", date(1945, 10, 1)),  # 广东 深圳南山区, born before 1990
    ("500112198806060631", date(1988, 6, 6)),  # 重庆 渝北区, born before 1994
    ("51010719390127074X", date(1939, 1, 27)),  # 四川 成都武侯区, check character X
    ("610113199707070857", date(1997, 7, 7)),  # 陕西 西安雁塔区
    ("650102200503100966", date(2005, 3, 10)),  # 新疆 乌鲁木齐天山区
    ("230103201212121073", date(2012, 12, 12)),  # 黑龙江 哈尔滨南岗区
    ("350203201908081180", date(2019, 8, 8)),  # 福建 厦门思明区
    ("210102193305031299", date(1933, 5, 3)),  # 辽宁 沈阳和平区
]


@pytest.mark.parametrize(("number", "born"), VALID_NUMBERS)
def test_every_valid_number_is_accepted_whatever_the_age_of_its_county_code(number, born):
    assert number[-1] == mod11_2(number[:17])
    rid = parse_resident_id(number.lower())
    assert rid.number == number
    assert rid.birth_date == born
    assert rid.gender == ("M" if int(number[16]) % 2 else "F")


def test_valid_numbers_span_ten_provinces_and_eight_decades():
    assert len({n[:2] for n, _ in VALID_NUMBERS}) >= 10
    assert {b.year // 10 * 10 for _, b in VALID_NUMBERS} >= set(range(1930, 2020, 10))


def with_check(body: str) -> str:
    return body + mod11_2(body)


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("330102195508152248", "不正确"),  # wrong check character
        (with_check("33010219550230224"), "出生日期"),  # 30 February
        (with_check("33010220990101224"), "出生日期"),  # born in the future
        (with_check("33010218990101224"), "出生日期"),  # born before 1900
        (with_check("99010219550815224"), "省级"),  # no province 99
        (with_check("20010219550815224"), "省级"),  # no province 20
        (with_check("72010219550815224"), "省级"),  # no province 72
        ("33010219550815224", "18 位"),  # 17 characters
    ],
)
def test_numbers_that_must_still_be_refused(number, message):
    with pytest.raises(ValidationError) as err:
        parse_resident_id(number)
    assert message in err.value.errors["id_number"]


@pytest.mark.parametrize(
    "code",
    ["91110000600037341L", "91330100MA27XL0E2G", "12100000400000770u", " 91330100ma27xl0e2g "],
)
def test_a_valid_unified_social_credit_code_is_accepted(code):
    assert parse_credit_code(code) == code.strip().upper()


@pytest.mark.parametrize(
    "code",
    [
        "91330100MA27XL0E2Q",  # wrong check character
        "91110000600037341",  # 17 characters
        "9111000060003734IL",  # I is not in the code's alphabet
        "",
    ],
)
def test_a_wrong_credit_code_is_refused_next_to_its_field(code):
    with pytest.raises(ValidationError) as err:
        parse_credit_code(code, field="credit_code")
    assert "统一社会信用代码不正确" in err.value.errors["credit_code"]


def test_a_credit_code_question_checks_its_answer():
    question = {"key": "credit_code", "type": "credit_code", "required": True}
    assert clean_answer(question, "91330100ma27xl0e2g") == "91330100MA27XL0E2G"
    with pytest.raises(ValueError, match="统一社会信用代码不正确"):
        clean_answer(question, "91330100MA27XL0E2Q")


def test_a_licence_holder_code_is_a_valid_id_number_or_credit_code():
    assert is_holder_code("330102195508152249") and is_holder_code("91110000600037341L")
    assert not is_holder_code("330102195508152248") and not is_holder_code("91110000600037341X")
