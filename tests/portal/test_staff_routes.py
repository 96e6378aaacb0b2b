"""Staff accounts through the web: the admin's pages, a new colleague's first login (new
password, enrolment), the authenticator step, the half-logged-in state, the role switch."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import time_machine
from sqlalchemy import select

from portal.extensions import db
from portal.models import Event, Role, SecondFactorFailure, User
from services import staff, two_factor
from tests.access import merged
from tests.conftest import DEMO_PASSWORD, csrf_token, login
from tests.helpers import count, hall
from tests.workflow_cases import user

INITIAL = "Start2026go"
NEW = "Mine2026now"
GET_MATRIX, _POST_ONLY = merged()


def error_for(html: str, field: str) -> str:
    match = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', html, re.S)
    return match.group(1) if match else ""


def make_clerk(query, username: str = "clerk01", **changes) -> int:
    def run() -> int:
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
        person = staff.create_staff_account(**values)
        db.session.commit()
        return person.id

    return query(run)


def secret_of(query, username: str) -> str:
    return query(lambda: user(username).totp_secret)


def post(client, path: str, data: dict, token_from: str | None = None):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, token_from or path)})


def first_login(client, query, username: str = "clerk01") -> list[str]:
    """Password, new password, enrolment: returns the recovery codes shown."""
    response = login(client, username, INITIAL)
    assert response.headers["Location"] == "/auth/change-password"
    response = post(client, "/auth/change-password", {"password": NEW, "confirm": NEW})
    assert response.headers["Location"] == "/auth/enrol"
    code = pyotp.TOTP(secret_of(query, username)).now()
    response = post(client, "/auth/enrol", {"code": code})
    assert response.status_code == 200
    return re.findall(
        r"<li><code translate=\"no\">([A-Z0-9-]+)</code></li>", response.get_data(as_text=True)
    )


# ---------------------------------------------------------------------------- admin pages


def test_an_admin_creates_a_colleague(client, query):
    login(client, "admin")
    data = {
        "username": "clerk09",
        "display_name": "新同事",
        "roles": ["counter", "reviewer"],
        "acting_role": "counter",
        "department_id": str(query(lambda: user("counter01").department_id)),
        "hall_id": str(query(lambda: hall().id)),
        "initial_password": INITIAL,
    }
    response = post(client, "/admin/staff/new", data)
    assert response.status_code == 302, error_for(response.get_data(as_text=True), "hall_id")
    created = query(lambda: (user("clerk09").roles_held, user("clerk09").must_change_password))
    assert created == ([Role.counter, Role.reviewer], True)
    page = client.get("/admin/staff").get_data(as_text=True)
    assert "clerk09" in page and "综合窗口人员（当前）、审批人员" in page


@pytest.mark.parametrize(
    ("field", "change", "message"),
    [
        ("username", {"username": "counter01"}, "该账号已被使用，请换一个"),
        ("initial_password", {"initial_password": "abcdefgh"}, "密码需同时包含字母和数字"),
        ("hall_id", {"hall_id": "0"}, "窗口人员须选择所在大厅"),
        ("acting_role", {"acting_role": "admin"}, "登录后使用的角色须是所选角色之一"),
    ],
)
def test_bad_input_on_the_new_colleague_page(client, query, field, change, message):
    login(client, "admin")
    data = {
        "username": "clerk09",
        "display_name": "新同事",
        "roles": ["counter"],
        "acting_role": "counter",
        "department_id": str(query(lambda: user("counter01").department_id)),
        "hall_id": str(query(lambda: hall().id)),
        "initial_password": INITIAL,
        **change,
    }
    before = query(lambda: (count(User), count(Event)))
    response = post(client, "/admin/staff/new", data)
    assert response.status_code == 422
    assert message in error_for(response.get_data(as_text=True), field)
    assert query(lambda: (count(User), count(Event))) == before


def test_an_admin_cannot_take_their_own_admin_role_on_the_edit_page(client, query):
    admin_id = query(lambda: user("admin").id)
    login(client, "admin")
    response = post(
        client,
        f"/admin/staff/{admin_id}/edit",
        {
            "display_name": "系统管理员",
            "roles": ["reviewer"],
            "acting_role": "reviewer",
            "department_id": str(query(lambda: user("reviewer01").department_id)),
            "hall_id": "0",
        },
    )
    assert response.status_code == 422
    assert "不能取消自己的管理员角色" in error_for(response.get_data(as_text=True), "roles")
    assert query(lambda: user("admin").roles_held) == [Role.admin]


def test_deactivating_ends_the_colleagues_session_at_once(client, app, query):
    clerk = app.test_client()
    assert login(clerk, "counter01").status_code == 302
    assert clerk.get("/counter/").status_code == 200
    counter_id = query(lambda: user("counter01").id)
    login(client, "admin")
    token = csrf_token(client, f"/admin/staff/{counter_id}/edit")
    response = client.post(
        f"/admin/staff/{counter_id}/active", data={"active": "0", "csrf_token": token}
    )
    assert response.status_code == 302
    assert "/auth/login" in clerk.get("/counter/").headers["Location"]
    assert login(clerk, "counter01").status_code == 422  # and cannot log in again
    event = query(
        lambda: db.session.scalar(select(Event).where(Event.action == "staff_deactivated"))
    )
    assert event is not None


def test_an_admin_resets_a_colleagues_second_factor(client, app, query):
    make_clerk(query)
    colleague = app.test_client()
    first_login(colleague, query)
    assert colleague.get("/counter/").status_code == 200
    clerk_id = query(lambda: user("clerk01").id)
    login(client, "admin")
    token = csrf_token(client, f"/admin/staff/{clerk_id}/edit")
    client.post(f"/admin/staff/{clerk_id}/reset-second-factor", data={"csrf_token": token})
    assert "/auth/login" in colleague.get("/counter/").headers["Location"]
    assert query(lambda: user("clerk01").second_factor_enrolled) is False
    response = login(colleague, "clerk01", NEW)  # the next login enrols again
    assert response.headers["Location"] == "/auth/enrol"


def test_an_admin_sets_a_new_initial_password(client, app, query):
    make_clerk(query)
    first_login(app.test_client(), query)
    clerk_id = query(lambda: user("clerk01").id)
    login(client, "admin")
    edit = f"/admin/staff/{clerk_id}/edit"
    weak = post(client, f"/admin/staff/{clerk_id}/password", {"initial_password": "abc"}, edit)
    assert weak.status_code == 422
    assert "密码至少 8 位" in error_for(weak.get_data(as_text=True), "initial_password")
    assert query(lambda: user("clerk01").must_change_password) is False
    done = post(client, f"/admin/staff/{clerk_id}/password", {"initial_password": INITIAL}, edit)
    assert done.status_code == 302 and query(lambda: user("clerk01").must_change_password)
    colleague = app.test_client()
    assert login(colleague, "clerk01", INITIAL).headers["Location"] == "/auth/second-factor"


# ---------------------------------------------------------------------------- login steps


def test_a_new_colleague_changes_the_password_then_enrols(client, query):
    make_clerk(query)
    response = login(client, "clerk01", INITIAL)
    assert response.headers["Location"] == "/auth/change-password"
    reused = post(client, "/auth/change-password", {"password": INITIAL, "confirm": INITIAL})
    assert reused.status_code == 422
    assert "新密码不能与当前密码相同" in error_for(reused.get_data(as_text=True), "password")
    weak = post(client, "/auth/change-password", {"password": "password", "confirm": "password"})
    assert weak.status_code == 422 and query(lambda: user("clerk01").must_change_password)
    response = post(client, "/auth/change-password", {"password": NEW, "confirm": NEW})
    assert response.headers["Location"] == "/auth/enrol"
    page = client.get("/auth/enrol").get_data(as_text=True)
    secret = secret_of(query, "clerk01")
    assert "data:image/svg+xml;charset=utf-8," in page
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in page
    wrong = post(client, "/auth/enrol", {"code": "12345"})
    assert wrong.status_code == 422 and "验证码不正确" in error_for(
        wrong.get_data(as_text=True), "code"
    )
    done = post(client, "/auth/enrol", {"code": pyotp.TOTP(secret).now()})
    codes = re.findall(r'<code translate="no">([A-Z0-9-]+)</code>', done.get_data(as_text=True))
    assert done.status_code == 200 and len(codes) == 10
    assert done.headers["Cache-Control"] == "no-store"
    assert client.get("/counter/").status_code == 200  # logged in


def test_an_enrolled_colleague_logs_in_with_a_code_or_a_recovery_code(client, app, query):
    make_clerk(query)
    codes = first_login(app.test_client(), query)
    response = login(client, "clerk01", NEW)
    assert response.headers["Location"] == "/auth/second-factor"
    wrong = post(client, "/auth/second-factor", {"code": "RECOVERYXX"})
    assert wrong.status_code == 422 and "验证码不正确" in error_for(
        wrong.get_data(as_text=True), "code"
    )
    response = post(client, "/auth/second-factor", {"code": codes[0]})
    assert response.status_code == 302 and client.get("/counter/").status_code == 200

    other = app.test_client()
    login(other, "clerk01", NEW)
    again = post(other, "/auth/second-factor", {"code": codes[0]})  # used up
    assert again.status_code == 422


def test_wrong_codes_are_throttled(client, app, query):
    make_clerk(query)
    first_login(app.test_client(), query)
    query(lambda: (setattr(user("clerk01"), "totp_last_step", None), db.session.commit()))
    login(client, "clerk01", NEW)
    for _ in range(5):
        assert post(client, "/auth/second-factor", {"code": "000000x"}).status_code == 422
    right = pyotp.TOTP(secret_of(query, "clerk01")).now()
    response = post(client, "/auth/second-factor", {"code": right})
    assert response.status_code == 429
    assert "验证码错误次数过多" in error_for(response.get_data(as_text=True), "code")
    assert query(lambda: count(SecondFactorFailure)) == 5  # the refusal itself wrote nothing
    assert client.get("/counter/").status_code == 302


def _staff_pages():
    """Every GET route that an anonymous visitor is sent to log in for."""
    steps = {"auth.second_factor", "auth.change_initial_password", "auth.enrol"}
    return sorted(
        ep
        for ep, (path, expected) in GET_MATRIX.items()
        if expected["anonymous"] == 302 and ep not in steps
    )


def test_the_half_logged_in_state_opens_no_page(client, query):
    """After the password but before the second step: every page that needs a login treats
    the visitor as anonymous, and only the step pages answer."""
    make_clerk(query, roles={Role.counter, Role.reviewer, Role.admin}, acting_role=Role.admin)
    assert login(client, "clerk01", INITIAL).headers["Location"] == "/auth/change-password"
    pages = _staff_pages()
    assert len(pages) > 50
    for endpoint in pages:
        path = GET_MATRIX[endpoint][0]
        if callable(path):
            path = query(path)
        response = client.get(path)
        assert response.status_code in (302, 401), (endpoint, response.status_code)
        if response.status_code == 302:
            assert "/auth/" in response.headers["Location"], endpoint
    assert client.get("/auth/change-password").status_code == 200
    assert client.get("/auth/enrol").status_code == 302  # not this step yet
    assert client.get("/auth/second-factor").status_code == 302


def test_a_login_in_progress_expires(client, query):
    make_clerk(query)
    login(client, "clerk01", INITIAL)
    assert client.get("/auth/change-password").status_code == 200
    later = datetime.now(UTC) + timedelta(minutes=11)  # STAFF_LOGIN_STEP_MINUTES is 10
    with time_machine.travel(later, tick=False):
        response = client.get("/auth/change-password")
    assert response.status_code == 302 and response.headers["Location"] == "/auth/login"
    assert query(lambda: user("clerk01").must_change_password)


@pytest.mark.parametrize("action", ["deactivate", "reset_second_factor"])
def test_an_admins_action_ends_a_login_in_progress(client, query, action):
    """Deactivation (the account) and a reset of the second factor (the session epoch)."""
    make_clerk(query)
    login(client, "clerk01", INITIAL)
    token = csrf_token(client, "/auth/change-password")

    def act():
        if action == "deactivate":
            staff.set_staff_active(user("clerk01"), False, actor=user("admin"))
        else:
            staff.reset_second_factor(user("clerk01"), actor=user("admin"))
        db.session.commit()

    query(act)
    response = client.post(
        "/auth/change-password", data={"password": NEW, "confirm": NEW, "csrf_token": token}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/auth/login"
    assert query(lambda: user("clerk01").must_change_password)


def test_a_step_page_without_a_password_first_sends_to_login(client):
    for path in ("/auth/second-factor", "/auth/change-password", "/auth/enrol"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"] == "/auth/login"


def test_the_header_switches_between_roles_held(client, query):
    make_clerk(query, roles={Role.counter, Role.reviewer}, acting_role=Role.counter)
    query(
        lambda: (
            setattr(user("clerk01"), "second_factor_exempt", True),
            setattr(user("clerk01"), "must_change_password", False),
            db.session.commit(),
        )
    )
    login(client, "clerk01", INITIAL)
    page = client.get("/counter/").get_data(as_text=True)
    assert 'name="role"' in page and "切换角色" in page
    token = csrf_token(client, "/")
    assert (
        client.post("/auth/acting-role", data={"role": "admin", "csrf_token": token}).status_code
        == 403
    )
    response = client.post("/auth/acting-role", data={"role": "reviewer", "csrf_token": token})
    assert response.status_code == 302
    assert query(lambda: user("clerk01").role) == Role.reviewer
    assert client.get("/counter/").status_code == 403
    assert client.get("/review/").status_code == 200
    assert client.post("/auth/acting-role", data={"role": "counter"}).status_code == 400  # CSRF
    assert query(lambda: user("clerk01").role) == Role.reviewer


def test_single_role_staff_see_no_switch(client):
    login(client, "counter01")
    assert 'name="role"' not in client.get("/counter/").get_data(as_text=True)


# ---------------------------------------------------------------------------- production, CLI


@pytest.fixture(scope="module")
def production_app(database_factory):
    return database_factory(
        "production",
        seed=True,
        PORTAL_ENV="production",
        PUBLIC_BASE_URL="https://zwfw.example.gov.cn",
    )


def test_production_refuses_demo_accounts(production_app):
    client = production_app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"  # production cookies are Secure
    response = login(client, "admin", DEMO_PASSWORD)
    assert response.status_code == 403
    assert "演示账号不能在正式环境登录" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302
    with production_app.app_context():
        assert db.session.scalar(select(User.last_login_at).where(User.username == "admin")) is None
    citizen = login(client, "13800000001", DEMO_PASSWORD)  # citizens have no such flag
    assert citizen.status_code == 302


def test_flask_users_create_admin(app, tx, query):
    runner = app.test_cli_runner()
    ok = runner.invoke(
        args=[
            "users",
            "create-admin",
            "--username",
            "chief",
            "--display-name",
            "首位管理员",
            "--password",
            INITIAL,
        ]
    )
    assert ok.exit_code == 0, ok.output
    assert query(lambda: (user("chief").role, user("chief").second_factor_enrolled)) == (
        Role.admin,
        False,
    )
    taken = runner.invoke(
        args=[
            "users",
            "create-admin",
            "--username",
            "chief",
            "--display-name",
            "又一位",
            "--password",
            INITIAL,
        ]
    )
    assert taken.exit_code != 0 and "该账号已被使用" in taken.output
    weak = runner.invoke(
        args=[
            "users",
            "create-admin",
            "--username",
            "chief2",
            "--display-name",
            "又一位",
            "--password",
            "short",
        ]
    )
    assert weak.exit_code != 0 and "密码至少 8 位" in weak.output
    assert query(lambda: db.session.scalar(select(User).where(User.username == "chief2"))) is None
    assert two_factor.LoginStep.enrol == query(
        lambda: two_factor.next_login_step(user("chief"), verified=False)
    )


def test_the_staff_list_does_not_query_per_person(client, query, count_queries):
    login(client, "admin")
    client.get("/admin/staff")
    with count_queries as few:
        client.get("/admin/staff")
    for n in range(20):
        make_clerk(query, f"clerk{n:02d}", roles={Role.counter, Role.reviewer})
    with count_queries as many:
        page = client.get("/admin/staff").get_data(as_text=True)
    assert page.count("/edit") >= 25
    assert len(many) == len(few) <= 5
