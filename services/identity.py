"""Chinese identity numbers and masking of personal data."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from stdnum.cn import ric
from stdnum.exceptions import ValidationError as StdnumError

from services.errors import ValidationError

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")


@dataclass(frozen=True)
class ResidentId:
    number: str
    birth_date: date
    gender: str  # "M" or "F"


def parse_resident_id(value: str, field: str = "id_number") -> ResidentId:
    """Validate a 居民身份证号 (checksum and birth date) and return its facts."""
    raw = (value or "").strip().upper()
    try:
        number = ric.validate(raw)
        born = ric.get_birth_date(number)
    except (StdnumError, ValueError):
        raise ValidationError(
            {field: str(_l("身份证号不正确，请核对后重新输入（18 位，最后一位可能是 X）"))}
        ) from None
    if len(number) != 18:
        raise ValidationError({field: str(_l("请输入 18 位居民身份证号"))})
    if born > date.today():
        raise ValidationError({field: str(_l("身份证号中的出生日期不正确"))})
    gender = "M" if int(number[16]) % 2 else "F"
    return ResidentId(number=number, birth_date=born, gender=gender)


def normalise_phone(value: str, field: str = "phone") -> str:
    phone = re.sub(r"[\s-]", "", value or "")
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
