from datetime import date

import pytest

from services.errors import ValidationError
from services.identity import (
    mask_id_number,
    mask_name,
    mask_phone,
    normalise_phone,
    parse_resident_id,
)


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
