"""Passwords are checked against common passwords (zxcvbn's lists) and the person's own data
(issue 13): registration, 忘记密码, 修改密码, a colleague's initial password, create-admin."""

from __future__ import annotations

import pytest

from portal.models import Role
from services import accounts, phone_accounts, staff
from services.errors import ValidationError
from tests.conftest import DEMO_PASSWORD

COMMON = ("Password123", "Qwerty123", "Aa123456", "zhang123456", "abc12345", "1qaz2wsx")
PERSON = {"name": "张伟明", "phone": "13912345678", "id_number": "330106198503120017"}


def _refused(password: str, **kwargs) -> str:
    with pytest.raises(ValidationError) as err:
        accounts.check_password_strength(password, **kwargs)
    return err.value.errors["password"]


@pytest.mark.parametrize("password", COMMON)
def test_a_common_password_is_refused_in_plain_chinese(app_ctx, password):
    assert "太常见" in _refused(password)


@pytest.mark.parametrize(
    "password",
    [
        "Ab13912345678",  # the phone
        "Xq19850312!",  # the birth date part of the 身份证号
        "Home#120017",  # its last six
        "ZhangWeiMing#7",  # the name in pinyin
        "weiming@2026",  # the given name in pinyin
    ],
)
def test_a_password_with_the_persons_own_data_is_refused(app_ctx, password):
    words = accounts.personal_words(**PERSON)
    message = _refused(password, personal=words)
    assert "手机号、身份证号中的数字、姓名拼音或账号" in message
    accounts.check_password_strength("Qingshan2026!", personal=words)  # unrelated: fine


def test_the_demo_password_passes_the_new_rules(app_ctx):
    """Demo@2026 is neither common nor personal for any demo account: the seed checks it like
    any password (no bypass)."""
    for who in ("13800000001", "13800000002", "13800000003", "admin", "counter01"):
        user = accounts.find_login(who)
        accounts.check_password_strength(DEMO_PASSWORD, personal=accounts.user_words(user))


def test_every_caller_passes_the_persons_data(app_ctx):
    with pytest.raises(ValidationError) as err:
        accounts.check_registration(password="Xq19850312!", **PERSON)
    assert "password" in err.value.errors
    citizen = accounts.find_login("13800000001")
    birth = accounts.user_words(citizen)
    assert citizen.phone in birth
    with pytest.raises(ValidationError):  # 修改密码 / 忘记密码's new password
        phone_accounts._check_new_password(citizen, f"Zz{citizen.phone}")
    admin = accounts.find_login("admin")
    with pytest.raises(ValidationError) as err:
        staff.create_first_admin(
            username="cityadmin", display_name="李建国", password="Cityadmin#99"
        )
    assert "password" in err.value.errors
    with pytest.raises(ValidationError) as err:
        staff.create_staff_account(
            actor=admin,
            username="wangfang",
            display_name="王芳",
            roles={Role.counter},
            acting_role=Role.counter,
            department=None,
            hall=None,
            initial_password="Wangfang#2026",
        )
    assert "initial_password" in err.value.errors
    with pytest.raises(ValidationError) as err:
        staff.reset_password(accounts.find_login("counter01"), "Counter01#x", actor=admin)
    assert "initial_password" in err.value.errors
