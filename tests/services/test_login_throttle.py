"""Login throttling that cannot be sidestepped and cannot lock the owner out (issue 13 #1, #2).

Failures count on the account the login resolves to; one client gets five free tries per
account, then growing waits; one client may fail twenty times in the window on any accounts;
a citizen's account failing fifty times an hour from everywhere allows a try a minute; staff
accounts have no account-wide limit (their second factor protects them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from services import accounts
from services.errors import NotAuthorized, TooManyAttempts
from tests.conftest import DEMO_PASSWORD

START = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
HOME, ATTACKER = "203.0.113.7", "198.51.100.9"


def fail(login: str, addr: str = ATTACKER) -> None:
    with pytest.raises(NotAuthorized):
        accounts.authenticate(login, "wrong-pass1", remote_addr=addr)


def refused(login: str, password: str = DEMO_PASSWORD, addr: str = ATTACKER) -> bool:
    try:
        accounts.authenticate(login, password, remote_addr=addr)
    except TooManyAttempts:
        return True
    except NotAuthorized:
        return False
    return False


@pytest.mark.parametrize(
    "written", ["138 0000 0003", "+8613800000003", "138-0000-0003", " 13800000003 "]
)
def test_writing_the_phone_another_way_gives_no_fresh_tries(app_ctx, written):
    with time_machine.travel(START, tick=False):
        for _ in range(5):
            fail("13800000003")
        assert refused(written)  # not even the right password, however the phone is written
        assert refused(written, "wrong-pass1")


def test_the_owner_elsewhere_is_not_locked_out(app_ctx):
    with time_machine.travel(START, tick=False):
        for _ in range(5):
            fail("13800000003")
        assert refused("13800000003")
        user = accounts.authenticate("13800000003", DEMO_PASSWORD, remote_addr=HOME)
        assert user.phone == "13800000003"


def test_waits_grow_after_the_free_tries(app_ctx):
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(5):
            fail("13800000003")
        assert refused("13800000003")
        clock.shift(timedelta(seconds=31))  # the first wait is 30 s
        fail("13800000003")
        clock.shift(timedelta(seconds=31))  # the next one is 60 s
        assert refused("13800000003")
        clock.shift(timedelta(seconds=30))
        fail("13800000003")
        clock.shift(timedelta(seconds=100))  # then 120 s
        assert refused("13800000003")
        clock.shift(timedelta(minutes=16))  # the window has passed: fresh tries
        assert accounts.authenticate("13800000003", DEMO_PASSWORD, remote_addr=ATTACKER)


def test_one_client_guessing_many_accounts_is_stopped(app_ctx):
    with time_machine.travel(START, tick=False):
        for n in range(20):
            fail(f"1390000{n:04d}")  # unknown accounts count for the client too
        assert refused("13800000001")  # even the right password, for any account
        assert not refused("13800000001", addr=HOME)


def test_nobody_can_lock_a_staff_account(app_ctx):
    with time_machine.travel(START, tick=False):
        for n in range(60):  # many clients, each within its own free tries
            fail("reviewer02", addr=f"10.0.{n // 4}.{n % 4}")
        user = accounts.authenticate("reviewer02", DEMO_PASSWORD, remote_addr=HOME)
        assert user.username == "reviewer02"


def test_a_citizen_account_guessed_from_everywhere_slows_to_a_try_a_minute(app_ctx):
    with time_machine.travel(START, tick=False) as clock:
        for n in range(50):
            fail("13800000002", addr=f"10.1.{n // 4}.{n % 4}")
        assert refused("13800000002", addr=HOME)
        clock.shift(timedelta(seconds=61))
        assert accounts.authenticate("13800000002", DEMO_PASSWORD, remote_addr=HOME)


def test_an_unknown_login_costs_the_same_password_check(app_ctx, monkeypatch):
    """Timing must not tell which accounts exist: the hash is checked either way."""
    checked = []
    real = accounts.check_password_hash
    monkeypatch.setattr(
        accounts, "check_password_hash", lambda h, p: checked.append(h) or real(h, p)
    )
    fail("13999999999")
    fail("13800000001")
    assert len(checked) == 2
    assert checked[0].split("$")[0] == checked[1].split("$")[0]  # the same method and cost
