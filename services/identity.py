"""Chinese identity numbers and masking of personal data."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError as StdnumError

from services import clock
from services.errors import ValidationError

PHONE_RE = re.compile(r"^1[3-9][0-9]{9}$")

# GB/T 2260 province-level codes (the first two digits of a 身份证号), with 71 台湾 and the
# 港澳台居民居住证 prefixes 81 (香港), 82 (澳门) and 83 (台湾).
PROVINCE_CODES = frozenset(
    {
        "11", "12", "13", "14", "15",
        "21", "22", "23",
        "31", "32", "33", "34", "35", "36", "37",
        "41", "42", "43", "44", "45", "46",
        "50", "51", "52", "53", "54",
        "61", "62", "63", "64", "65",
        "71", "81", "82", "83",
    }
)  # fmt: skip
EARLIEST_BIRTH_YEAR = 1900


@dataclass(frozen=True)
class ResidentId:
    number: str
    birth_date: date
    gender: str  # "M" or "F"


def is_known_region(number: str) -> bool:
    """Whether the first two digits of a 身份证号 are a real province-level code.

    Deliberately no finer than the province. A number keeps the county code it was issued
    with for life: many districts were created, merged or renamed in the 1980s–2000s, so a
    holder born in 1955 may carry a code that did not exist in 1955 (the number was issued
    later), or one that has since been abolished. python-stdnum's ``ric.validate`` refuses a
    county code that did not exist in the birth year, which turns real people away from
    registration and the counter, so it is not used for this part.
    """
    return number[:2] in PROVINCE_CODES


def parse_resident_id(value: str, field: str = "id_number") -> ResidentId:
    """Validate a 居民身份证号 and return its facts.

    Accepted: 18 characters, the right check character, a real birth date between 1900 and
    today, a real province-level code (see ``is_known_region``).
    """

    def wrong() -> ValidationError:  # translated only when it is raised
        return ValidationError(
            {field: str(_l("身份证号不正确，请核对后重新输入（18 位，最后一位可能是 X）"))}
        )

    number = ric.compact((value or "").strip()).upper()
    if len(number) != 18:
        raise ValidationError({field: str(_l("请输入 18 位居民身份证号"))})
    if not number[:-1].isdigit() or not (number[-1].isdigit() or number[-1] == "X"):
        raise wrong()
    if number[-1] != ric.calc_check_digit(number):
        raise wrong()
    try:
        born = ric.get_birth_date(number)
    except (StdnumError, ValueError):
        raise ValidationError({field: str(_l("身份证号中的出生日期不正确"))}) from None
    if born.year < EARLIEST_BIRTH_YEAR or born > clock.local_today():
        raise ValidationError({field: str(_l("身份证号中的出生日期不正确"))})
    if not is_known_region(number):
        raise ValidationError({field: str(_l("身份证号的前两位不是有效的省级行政区划代码"))})
    gender = "M" if int(number[16]) % 2 else "F"
    return ResidentId(number=number, birth_date=born, gender=gender)


def parse_credit_code(value: str, field: str = "credit_code") -> str:
    """Validate a legal person's 统一社会信用代码 (GB 32100-2015: 18 characters from its own
    alphabet, the last a check character) with python-stdnum; the code in capitals."""
    try:
        return uscc.validate((value or "").strip().upper())
    except StdnumError:
        raise ValidationError(
            {field: str(_l("统一社会信用代码不正确，请核对后重新输入（18 位）"))}
        ) from None


def is_holder_code(value: str) -> bool:
    """Whether ``value`` is a valid 身份证号 or 统一社会信用代码 (a licence's holder code)."""
    for parse in (parse_resident_id, parse_credit_code):
        try:
            parse(value)
        except ValidationError:
            continue
        return True
    return False


def normalise_phone(value: str, field: str = "phone") -> str:
    """One spelling per phone (full-width digits, spaces, hyphens and +86 folded away), so that
    a phone is found, and counted by the SMS limits, however it was typed."""
    phone = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", value or ""))
    if phone.startswith("+86"):
        phone = phone[3:]
    if not PHONE_RE.match(phone):
        raise ValidationError({field: str(_l("请输入 11 位手机号码"))})
    return phone


def mask_name(name: str) -> str:
    """张三 → 张*, 张小三 → 张*三, 欧阳小明 → 欧**明."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_id_number(number: str) -> str:
    """Keep the first 6 and the last 4 characters."""
    if len(number) <= 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def mask_phone(phone: str) -> str:
    if len(phone) != 11:
        return "*" * len(phone)
    return phone[:3] + "****" + phone[-4:]
