"""Staff accounts and their two-factor login (services/staff.py, services/two_factor.py)."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    Event,
    RecoveryCode,
    Role,
    SecondFactorFailure,
    StaffRole,
    User,
)
from services import accounts, staff, two_factor
from services.errors import NotAuthorized, TooManyAttempts, ValidationError
from services.two_factor import LoginStep
from tests.conftest import DEMO_PASSWORD
from tests.helpers import count, hall
from tests.workflow_cases import user

INITIAL = "Start2026go"


def last_event(action: str) -> Event:
    return db.session.scalar(select(Event).where(Event.action == action).order_by(Event.id.desc()))


def new_clerk(username: str = "clerk01", **changes) -> User:
    values = {
        "actor": user("admin"),
        "username": username,
        "display_name": "窗口新人",
        "roles": {Role.counter},
        "acting_role": Role.counter,
        "department": user("counter01").department,
        "hall": hall(),
        "initial_password": INITIAL,
    }
    values.update(changes)
    return staff.create_staff_account(**values)


def new_admin(username: str = "admin9") -> User:
    return staff.create_staff_account(
        actor=user("admin"),
        username=username,
        display_name="第二管理员",
        roles={Role.admin},
        acting_role=Role.admin,
        department=None,
        hall=None,
        initial_password=INITIAL,
    )


def enrolled(person: User) -> list[str]:
    two_factor.start_enrolment(person)
    return two_factor.confirm_enrolment(person, pyotp.TOTP(person.totp_secret).now())


# ---------------------------------------------------------------------------- accounts


def test_created_account_holds_its_roles_and_must_change_the_initial_password(app_ctx):
    person = new_clerk(roles={Role.counter, Role.reviewer}, acting_role=Role.reviewer)
    assert person.roles_held == [Role.counter, Role.reviewer]
    assert person.role == Role.reviewer
    assert person.must_change_password and not person.second_factor_enrolled
    assert person.hall_id == hall().id
    event = last_event("staff_created")
    assert event.actor_id == user("admin").id and event.details["user_id"] == person.id
    assert two_factor.next_login_step(person, verified=False) == LoginStep.change_password


@pytest.mark.parametrize("taken", ["counter01", "Counter01", " counter01 "])
def test_a_taken_username_is_refused_next_to_the_field(app_ctx, taken):
    before = count(User)
    with pytest.raises(ValidationError) as refused:
        new_clerk(taken)
    assert refused.value.errors == {"username": "该账号已被使用，请换一个"}
    assert count(User) == before


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("initial_password", {"initial_password": "short1"}),
        ("initial_password", {"initial_password": "onlyletters"}),
        ("username", {"username": "13800000009"}),  # would be read as a phone at login
        ("hall_id", {"hall": None}),
        ("department", {"department": None}),
        ("acting_role", {"acting_role": Role.admin}),
        ("roles", {"roles": set(), "acting_role": None}),
        ("roles", {"roles": {Role.citizen}, "acting_role": Role.citizen}),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(app_ctx, field, changes):
    before, events = count(User), count(Event)
    with pytest.raises(ValidationError) as refused:
        new_clerk(**changes)
    assert field in refused.value.errors
    assert (count(User), count(Event)) == (before, events)


def test_an_admin_cannot_remove_their_own_admin_role(app_ctx):
    admin = user("admin")
    new_admin()  # not the last admin: the rule is about oneself
    with pytest.raises(ValidationError) as refused:
        staff.update_staff_account(
            admin,
            actor=admin,
            display_name=admin.display_name,
            roles={Role.reviewer},
            acting_role=Role.reviewer,
            department=user("reviewer01").department,
            hall=None,
        )
    assert refused.value.errors == {"roles": "不能取消自己的管理员角色"}
    assert user("admin").roles_held == [Role.admin] and user("admin").role == Role.admin


def test_the_last_active_admin_keeps_the_role_and_stays_active(app_ctx):
    """Whoever acts (here a colleague the view would have refused already), the service
    refuses to leave the console without an active admin."""
    admin, other = user("admin"), user("reviewer01")
    for colleague in db.session.scalars(
        select(StaffRole.user_id).where(StaffRole.role == Role.admin)
    ):
        if colleague != admin.id:  # the demo's other admins leave: "admin" is the last one
            staff.set_staff_active(db.session.get(User, colleague), False, actor=admin)
    keep = {"display_name": admin.display_name, "department": other.department, "hall": None}
    with pytest.raises(ValidationError, match="最后一位在岗的管理员"):
        staff.update_staff_account(
            admin, actor=other, roles={Role.reviewer}, acting_role=Role.reviewer, **keep
        )
    with pytest.raises(ValidationError, match="最后一位在岗的管理员"):
        staff.set_staff_active(admin, False, actor=other)
    assert user("admin").active and user("admin").roles_held == [Role.admin]

    second = new_admin()  # an inactive second admin does not count
    staff.set_staff_active(second, False, actor=admin)
    with pytest.raises(ValidationError, match="最后一位在岗的管理员"):
        staff.set_staff_active(admin, False, actor=other)
    staff.set_staff_active(second, True, actor=admin)  # once active, the first may go
    staff.set_staff_active(admin, False, actor=second)
    assert not user("admin").active


def test_an_admin_cannot_deactivate_themselves(app_ctx):
    admin = user("admin")
    new_admin()
    with pytest.raises(ValidationError, match="不能停用自己的账号"):
        staff.set_staff_active(admin, False, actor=admin)
    assert user("admin").active


def test_roles_change_with_an_audit_event_naming_the_actor(app_ctx):
    person = new_clerk()
    staff.update_staff_account(
        person,
        actor=user("admin"),
        display_name="窗口新人",
        roles={Role.counter, Role.reviewer},
        acting_role=Role.counter,
        department=person.department,
        hall=hall(),
    )
    assert person.roles_held == [Role.counter, Role.reviewer]
    event = last_event("staff_updated")
    assert event.actor_id == user("admin").id
    assert event.details["changes"] == {"roles": [["counter"], ["counter", "reviewer"]]}
    staff.update_staff_account(  # the counter role goes: so does the hall
        person,
        actor=user("admin"),
        display_name="审批新人",
        roles={Role.reviewer},
        acting_role=Role.reviewer,
        department=person.department,
        hall=hall(),
    )
    assert person.roles_held == [Role.reviewer] and person.role == Role.reviewer
    assert person.hall_id is None
    assert count(StaffRole, StaffRole.user_id == person.id) == 1


def test_a_deactivated_account_cannot_log_in_and_its_sessions_end(app_ctx):
    person = user("counter01")
    epoch = person.session_epoch
    staff.set_staff_active(person, False, actor=user("admin"))
    assert person.session_epoch == epoch + 1  # every session's id names the old epoch
    assert last_event("staff_deactivated").actor_id == user("admin").id
    with pytest.raises(NotAuthorized):
        accounts.authenticate("counter01", DEMO_PASSWORD)
    staff.set_staff_active(person, True, actor=user("admin"))
    assert accounts.authenticate("counter01", DEMO_PASSWORD) is person


def test_switching_the_acting_role_is_limited_to_roles_held(app_ctx):
    person = new_clerk(roles={Role.counter, Role.reviewer}, acting_role=Role.counter)
    staff.switch_acting_role(person, Role.reviewer)
    assert person.role == Role.reviewer
    event = last_event("acting_role_switched")
    assert event.actor_id == person.id and event.details["to"] == "reviewer"
    with pytest.raises(NotAuthorized):
        staff.switch_acting_role(person, Role.admin)
    assert person.role == Role.reviewer


# ---------------------------------------------------------------------------- passwords


def test_the_initial_password_must_change_to_a_strong_new_one(app_ctx):
    person = new_clerk()
    with pytest.raises(ValidationError) as reused:
        staff.change_initial_password(person, INITIAL)
    assert reused.value.errors == {"password": "新密码不能与当前密码相同"}
    with pytest.raises(ValidationError) as weak:
        staff.change_initial_password(person, "12345678")
    assert "password" in weak.value.errors
    assert person.must_change_password
    epoch = person.session_epoch
    staff.change_initial_password(person, "Mine2026now")
    assert not person.must_change_password and person.session_epoch == epoch + 1
    assert last_event("password_changed").actor_id == person.id
    assert accounts.authenticate("clerk01", "Mine2026now") is person
    assert two_factor.next_login_step(person, verified=False) == LoginStep.enrol


def test_an_admin_gives_a_colleague_who_forgot_a_new_initial_password(app_ctx):
    person = new_clerk()
    staff.change_initial_password(person, "Mine2026now")
    enrolled(person)
    with pytest.raises(ValidationError) as weak:
        staff.reset_password(person, "short", actor=user("admin"))
    assert "initial_password" in weak.value.errors and not person.must_change_password
    with pytest.raises(NotAuthorized):
        staff.reset_password(user("admin"), "Again2026ok", actor=user("admin"))
    epoch = person.session_epoch
    staff.reset_password(person, "Again2026ok", actor=user("admin"))
    assert person.must_change_password and person.session_epoch == epoch + 1
    assert last_event("staff_password_reset").actor_id == user("admin").id
    assert accounts.authenticate("clerk01", "Again2026ok") is person
    # the authenticator stays: first the code, then the new password
    assert two_factor.next_login_step(person, verified=False) == LoginStep.verify
    assert two_factor.next_login_step(person, verified=True) == LoginStep.change_password


# ---------------------------------------------------------------------------- second factor


def test_enrolment_needs_a_right_code_and_gives_ten_hashed_recovery_codes(app_ctx):
    person = new_clerk()
    two_factor.start_enrolment(person)
    with pytest.raises(ValidationError) as wrong:
        two_factor.confirm_enrolment(
            person, "000000" if pyotp.TOTP(person.totp_secret).now() != "000000" else "111111"
        )
    assert "code" in wrong.value.errors and not person.second_factor_enrolled
    codes = two_factor.confirm_enrolment(person, pyotp.TOTP(person.totp_secret).now())
    assert person.second_factor_enrolled and len(set(codes)) == 10
    stored = db.session.scalars(
        select(RecoveryCode.code_hash).where(RecoveryCode.user_id == person.id)
    ).all()
    assert len(stored) == 10 and not set(codes) & set(stored)
    assert last_event("second_factor_enrolled").actor_id == person.id


def test_a_code_is_accepted_once_and_a_wrong_one_is_recorded(app_ctx):
    person = new_clerk()
    enrolled(person)  # the enrolment used the current code
    assert two_factor.next_login_step(person, verified=False) == LoginStep.verify
    with pytest.raises(ValidationError):  # the same code again: a replay
        two_factor.verify_second_factor(person, pyotp.TOTP(person.totp_secret).now())
    with pytest.raises(ValidationError):
        two_factor.verify_second_factor(person, "12345", remote_addr="10.0.0.1")
    assert count(SecondFactorFailure, SecondFactorFailure.user_id == person.id) == 2


def test_a_right_code_is_accepted(app_ctx):
    person = new_clerk()
    two_factor.start_enrolment(person)
    person.totp_enrolled_at = person.created_at  # enrolled without using a code yet
    assert two_factor.verify_second_factor(person, pyotp.TOTP(person.totp_secret).now()) == "totp"
    assert person.totp_last_step is not None


def test_wrong_codes_are_throttled_per_account(app_ctx):
    person = new_clerk()
    enrolled(person)
    person.totp_last_step = None  # the current code would be right again
    for n in range(5):
        with pytest.raises(ValidationError):
            two_factor.verify_second_factor(person, "RECOVERXYZ", remote_addr=f"10.0.0.{n}")
    with pytest.raises(TooManyAttempts):  # even the right code, from yet another address
        two_factor.verify_second_factor(
            person, pyotp.TOTP(person.totp_secret).now(), remote_addr="10.9.9.9"
        )
    assert count(SecondFactorFailure, SecondFactorFailure.user_id == person.id) == 5


def test_wrong_codes_are_throttled_per_client(app_ctx):
    person, other = new_clerk(), new_clerk("clerk02")
    enrolled(person)
    person.totp_last_step = None
    for _ in range(20):  # guessing across accounts from one address
        db.session.add(SecondFactorFailure(user_id=other.id, remote_addr="10.0.0.7"))
    db.session.flush()
    with pytest.raises(TooManyAttempts):
        two_factor.verify_second_factor(
            person, pyotp.TOTP(person.totp_secret).now(), remote_addr="10.0.0.7"
        )
    assert (
        two_factor.verify_second_factor(
            person, pyotp.TOTP(person.totp_secret).now(), remote_addr="10.0.0.8"
        )
        == "totp"
    )


def test_a_recovery_code_works_once(app_ctx):
    person = new_clerk()
    codes = enrolled(person)
    assert two_factor.verify_second_factor(person, codes[3].lower()) == "recovery"
    assert two_factor.unused_recovery_codes(person) == 9
    assert last_event("recovery_code_used").details["left"] == 9
    with pytest.raises(ValidationError):
        two_factor.verify_second_factor(person, codes[3])


def test_an_admin_resets_a_colleagues_second_factor_with_an_audit_event(app_ctx):
    person = new_clerk()
    enrolled(person)
    epoch = person.session_epoch
    staff.reset_second_factor(person, actor=user("admin"))
    assert not person.second_factor_enrolled and person.totp_secret is None
    assert count(RecoveryCode, RecoveryCode.user_id == person.id) == 0
    assert person.session_epoch == epoch + 1
    event = last_event("second_factor_reset")
    assert event.actor_id == user("admin").id and event.details["user_id"] == person.id
    person.must_change_password = False
    assert two_factor.next_login_step(person, verified=False) == LoginStep.enrol
    with pytest.raises(NotAuthorized):
        staff.reset_second_factor(user("admin"), actor=user("admin"))


def test_demo_accounts_skip_the_second_factor_but_production_refuses_them(app_ctx):
    demo = user("reviewer01")
    assert demo.second_factor_exempt
    assert two_factor.next_login_step(demo, verified=False) == LoginStep.done
    two_factor.refuse_demo_account_in_production(demo, production=False)
    with pytest.raises(NotAuthorized, match="演示账号"):
        two_factor.refuse_demo_account_in_production(demo, production=True)
    two_factor.refuse_demo_account_in_production(new_clerk(), production=True)


def test_the_first_admin_of_a_fresh_install_must_enrol(app_ctx):
    first = staff.create_first_admin(username="chief", display_name="首位管理员", password=INITIAL)
    assert first.roles_held == [Role.admin] and not first.second_factor_exempt
    assert two_factor.next_login_step(first, verified=False) == LoginStep.enrol
    with pytest.raises(ValidationError) as taken:
        staff.create_first_admin(username="CHIEF", display_name="另一位", password=INITIAL)
    assert taken.value.errors == {"username": "该账号已被使用，请换一个"}
    with pytest.raises(ValidationError) as weak:
        staff.create_first_admin(username="chief2", display_name="另一位", password="password")
    assert "password" in weak.value.errors
