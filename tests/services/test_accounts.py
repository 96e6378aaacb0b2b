import pytest
from sqlalchemy import select

from portal.config import DEFAULTS
from portal.extensions import db
from portal.models import Citizen, LoginFailure, Role, User
from services import accounts
from services.errors import NotAuthorized, TooManyAttempts, ValidationError
from tests.conftest import DEMO_PASSWORD, TEST_PASSWORD_HASH_METHOD
from tests.helpers import count

VALID_ID = "11010519491231002X"


def test_register_creates_citizen_and_user(app_ctx):
    user = accounts.register_citizen(
        phone="13912345678",
        password="Qingshan2026!",
        name="赵六",
        id_number=VALID_ID.lower(),
        address="人民路 1 号",
    )
    assert user.role == Role.citizen
    assert user.citizen.id_number == VALID_ID
    assert user.citizen.birth_date.year == 1949
    assert user.password_hash.startswith(TEST_PASSWORD_HASH_METHOD + "$")  # cheap in tests
    assert accounts.authenticate("13912345678", "Qingshan2026!") is user


def test_passwords_are_hashed_with_scrypt_unless_configured_otherwise(app_ctx):
    """Production keeps scrypt; a hash made with either method still logs in."""
    assert DEFAULTS["PASSWORD_HASH_METHOD"] == "scrypt"
    app_ctx.config["PASSWORD_HASH_METHOD"] = "scrypt"
    try:
        user = accounts.register_citizen(
            phone="13912345678", password="Qingshan2026!", name="赵六", id_number=VALID_ID
        )
    finally:
        app_ctx.config["PASSWORD_HASH_METHOD"] = TEST_PASSWORD_HASH_METHOD
    assert user.password_hash.startswith("scrypt:")
    assert accounts.authenticate("13912345678", "Qingshan2026!") is user
    assert accounts.authenticate("13800000001", DEMO_PASSWORD).phone == "13800000001"


def test_register_collects_every_field_error_at_once_and_writes_nothing(app_ctx):
    users, citizens = count(User), count(Citizen)
    with pytest.raises(ValidationError) as err:
        accounts.register_citizen(
            phone="13800000001", password="short", name="1", id_number="110105194912310021"
        )
    assert set(err.value.errors) == {"phone", "password", "name", "id_number"}
    assert (count(User), count(Citizen)) == (users, citizens)


def test_register_refuses_an_id_number_that_already_has_an_account(app_ctx):
    existing = db.session.scalar(select(User).where(User.phone == "13800000002"))
    with pytest.raises(ValidationError) as err:
        accounts.register_citizen(
            phone="13912345670",
            password="Qingshan2026!",
            name=existing.citizen.name,
            id_number=existing.citizen.id_number,
        )
    assert "id_number" in err.value.errors


@pytest.mark.parametrize(
    "password,ok", [("Demo@2026", True), ("abcdefgh", False), ("12345678", False), ("a1", False)]
)
def test_password_strength(password, ok):
    if ok:
        accounts.check_password_strength(password)
    else:
        with pytest.raises(ValidationError):
            accounts.check_password_strength(password)


def test_wrong_password_is_recorded_and_throttled(app_ctx):
    for _ in range(5):
        with pytest.raises(NotAuthorized):
            accounts.authenticate("13800000002", "wrong-pass1")
    assert count(LoginFailure) >= 5
    with pytest.raises(TooManyAttempts):
        accounts.authenticate("13800000002", "Demo@2026")


def test_staff_login_by_account_name(app_ctx):
    user = accounts.authenticate("reviewer01", "Demo@2026")
    assert user.role == Role.reviewer
    assert user.department is not None and "公安" in user.department.name


def test_end_sessions_changes_the_session_id(app_ctx):
    user = accounts.authenticate("admin", "Demo@2026")
    before = user.get_id()
    accounts.end_sessions(user)
    assert user.get_id() != before
