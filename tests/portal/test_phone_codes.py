"""SMS codes: registration's second step, 忘记密码, 修改密码 and 更换手机号 (issue 12).

Codes are read from the outbox, the table every SMS goes through."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    Citizen,
    Event,
    LoginFailure,
    OutboxMessage,
    PhoneChallenge,
    SmsCode,
    User,
)
from services import sms_codes
from tests.conftest import DEMO_PASSWORD, csrf_token, login
from tests.sms import last_sms_code, sms_count

NEW = {
    "name": "孙七",
    "id_number": "11010519491231002X",
    "phone": "13911112222",
    "password": "Qingshan2026!",
    "confirm": "Qingshan2026!",
    "address": "",
}


def error_for(html: str, field: str) -> str:
    match = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', html, re.S)
    return match.group(1) if match else ""


def counts() -> tuple[int, int]:
    return (
        db.session.scalar(select(func.count()).select_from(User)),
        db.session.scalar(select(func.count()).select_from(Citizen)),
    )


def start_register(client, **changes):
    data = {**NEW, **changes, "csrf_token": csrf_token(client, "/auth/register")}
    return client.post("/auth/register", data=data)


def post_code(client, path: str, code: str, **more):
    token = csrf_token(client, path)
    return client.post(path, data={"code": code, "csrf_token": token, **more})


def resend(client, flow: str):
    path = {"register": "/auth/register/code", "reset": "/auth/forgot/code"}.get(
        flow, "/auth/phone/code"
    )
    return client.post(f"/auth/code/{flow}/resend", data={"csrf_token": csrf_token(client, path)})


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def start_reset(client, phone: str, addr: str | None = None):
    token = csrf_token(client, "/auth/forgot")
    kwargs = {"environ_base": {"REMOTE_ADDR": addr}} if addr else {}
    return client.post("/auth/forgot", data={"phone": phone, "csrf_token": token}, **kwargs)


# --- registration ------------------------------------------------------------------------


def test_registration_makes_nothing_before_the_code_and_keeps_no_data_in_the_cookie(client, query):
    before = query(counts)
    response = start_register(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/register/code"
    assert query(counts) == before
    with client.session_transaction() as sess:
        kept = repr(dict(sess))
    for value in (NEW["id_number"], NEW["phone"], NEW["name"], NEW["password"]):
        assert value not in kept
    page = client.get("/auth/register/code").get_data(as_text=True)
    assert "139****2222" in page
    assert NEW["phone"] not in page
    code = query(lambda: last_sms_code(NEW["phone"]))
    assert post_code(client, "/auth/register/code", code).status_code == 302
    assert query(counts) == (before[0] + 1, before[1] + 1)
    events = query(
        lambda: list(db.session.scalars(select(Event.action).order_by(Event.id.desc()).limit(3)))
    )
    assert "account_registered" in events
    # the pending data is forgotten once the account exists
    payloads = query(lambda: [c.payload for c in db.session.scalars(select(PhoneChallenge))])
    assert all(not p for p in payloads)


def test_the_code_is_stored_hashed_and_appears_nowhere_but_the_sms(client, query):
    start_register(client)
    code = query(lambda: last_sms_code(NEW["phone"]))

    def stored():
        rows = [
            repr([getattr(r, c.key) for c in r.__table__.columns])
            for model in (SmsCode, PhoneChallenge, Event)
            for r in db.session.scalars(select(model))
        ]
        return "\n".join(rows)

    assert code not in query(stored)
    assert query(lambda: db.session.scalar(select(SmsCode.code_hash))) != code
    assert post_code(client, "/auth/register/code", code).status_code == 302
    assert code not in query(stored)
    for path in ("/profile", "/messages", "/auth/register/code"):
        assert code not in client.get(path).get_data(as_text=True)


def test_a_wrong_code_is_counted_shown_next_to_the_field_and_makes_nothing(client, query):
    before = query(counts)
    start_register(client)
    code = query(lambda: last_sms_code(NEW["phone"]))
    response = post_code(client, "/auth/register/code", wrong(code))
    assert response.status_code == 422
    assert "还可以再试 4 次" in error_for(response.get_data(as_text=True), "code")
    assert query(lambda: db.session.scalar(select(SmsCode.attempts))) == 1
    assert query(counts) == before


def test_five_wrong_tries_kill_the_code(client, query):
    before = query(counts)
    start_register(client)
    code = query(lambda: last_sms_code(NEW["phone"]))
    for _ in range(5):
        assert post_code(client, "/auth/register/code", wrong(code)).status_code == 422
    response = post_code(client, "/auth/register/code", code)
    assert response.status_code == 422
    assert "输错次数过多" in error_for(response.get_data(as_text=True), "code")
    assert query(counts) == before


def test_a_code_expires_after_ten_minutes(app, client, query):
    """Two registrations with codes sent at the same moment: one is taken at 9 min 59 s, the
    other at 10 min (a session cookie cannot travel back in time, so each has its own)."""
    sent = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    late = app.test_client()
    other = {"name": "钱九", "id_number": "330102195508152249", "phone": "13911113333"}
    with time_machine.travel(sent, tick=False):
        start_register(client)
        start_register(late, **other)
    before = query(counts)
    with time_machine.travel(sent + timedelta(minutes=9, seconds=59), tick=False):
        code = query(lambda: last_sms_code(NEW["phone"]))
        assert post_code(client, "/auth/register/code", code).status_code == 302
    with time_machine.travel(sent + timedelta(minutes=10), tick=False):
        code = query(lambda: last_sms_code(other["phone"]))
        response = post_code(late, "/auth/register/code", code)
    assert response.status_code == 422
    assert "验证码已过期" in error_for(response.get_data(as_text=True), "code")
    assert query(counts) == (before[0] + 1, before[1] + 1)


def test_resend_waits_sixty_seconds_and_replaces_the_code(client, query):
    sent = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    with time_machine.travel(sent, tick=False):
        start_register(client)
        first = query(lambda: last_sms_code(NEW["phone"]))
        page = client.get("/auth/register/code").get_data(as_text=True)
        assert 'data-resend-wait="60"' in page
    with time_machine.travel(sent + timedelta(seconds=59), tick=False):
        response = resend(client, "register")
        assert response.status_code == 429
        assert "秒后再重新获取" in error_for(response.get_data(as_text=True), "code")
        assert query(lambda: sms_count(NEW["phone"])) == 1
    with time_machine.travel(sent + timedelta(seconds=60), tick=False):
        assert resend(client, "register").status_code == 302
        assert query(lambda: sms_count(NEW["phone"])) == 2
        second = query(lambda: last_sms_code(NEW["phone"]))
        if first != second:  # the earlier code is no longer accepted
            assert post_code(client, "/auth/register/code", first).status_code == 422
        assert post_code(client, "/auth/register/code", second).status_code == 302


def test_a_resend_gives_new_tries_only_within_the_hourly_limit(client, query, app):
    """Resending cannot sidestep the tries: each code counts against the phone's hour."""
    sent = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    per_phone = app.config["SMS_CODES_PER_PHONE_HOUR"]
    with time_machine.travel(sent, tick=False):
        start_register(client)
    for n in range(1, per_phone + 1):
        with time_machine.travel(sent + timedelta(minutes=n), tick=False):
            response = resend(client, "register")
            assert response.status_code == (302 if n < per_phone else 429), n
    assert "该手机号在一小时内" in error_for(response.get_data(as_text=True), "code")
    assert query(lambda: sms_count(NEW["phone"])) == per_phone


# --- limits per phone and per client ---------------------------------------------------------


@pytest.mark.parametrize(
    "spelling", ["13800000002", "138 0000 0002", "+86 138-0000-0002", "１３８０００００００２"]
)
def test_codes_per_phone_per_hour_however_the_phone_is_written(client, query, app, spelling):
    per_phone = app.config["SMS_CODES_PER_PHONE_HOUR"]
    for n in range(per_phone):
        # different addresses: only the phone's own limit applies
        assert start_reset(client, "13800000002", addr=f"10.0.0.{n + 1}").status_code == 302
    response = start_reset(client, spelling, addr="10.0.1.1")
    assert response.status_code == 429
    assert "该手机号在一小时内" in error_for(response.get_data(as_text=True), "phone")
    assert query(lambda: sms_count("13800000002")) == per_phone
    # an hour later the phone may have codes again
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=61), tick=False):
        assert start_reset(client, spelling, addr="10.0.1.1").status_code == 302


@pytest.mark.parametrize(
    "addresses",
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2::1", "2001:DB8:1:2:ffff::9"),  # one /64, written differently
        ("192.0.2.7", "::ffff:192.0.2.7"),
    ],
)
def test_codes_per_client_per_hour(client, query, app, addresses):
    per_client = app.config["SMS_CODES_PER_CLIENT_HOUR"]
    first, other = addresses
    for n in range(per_client):
        assert start_reset(client, f"1370000{n:04d}", addr=first).status_code == 302
    response = start_reset(client, "13799999999", addr=other)
    assert response.status_code == 429
    assert "您所在的网络" in error_for(response.get_data(as_text=True), "phone")
    assert start_reset(client, "13799999999", addr="198.51.100.1").status_code == 302


def test_client_key_folds_the_spellings_of_one_address():
    assert sms_codes.client_key("2001:DB8::1") == sms_codes.client_key("2001:db8:0::ffff")
    assert sms_codes.client_key("::ffff:10.0.0.1") == "10.0.0.1"
    assert sms_codes.client_key("2001:db8::1") != sms_codes.client_key("2001:db8:0:1::1")


# --- 忘记密码 ---------------------------------------------------------------------------------


def _reset_page(client, phone: str) -> tuple[int, str, str]:
    response = start_reset(client, phone)
    page = client.get("/auth/forgot/code").get_data(as_text=True)
    masked = phone[:3] + "****" + phone[-4:]
    page = re.sub(r'(name="csrf_token"|name="csrf-token")[^>]*>', "", page).replace(masked, "PHONE")
    return response.status_code, response.headers.get("Location", ""), page


def test_forgot_password_answers_the_same_for_an_unknown_phone_and_sends_nothing(
    app, client, query
):
    known = _reset_page(client, "13800000002")
    other = app.test_client()
    unknown = _reset_page(other, "13912345678")
    assert known == unknown
    assert query(lambda: sms_count("13800000002")) == 1
    assert query(lambda: sms_count("13912345678")) == 0
    # a guess at the code of an unknown phone is refused like a wrong code
    response = post_code(
        other, "/auth/forgot/code", "123456", password="Lakeside#Path42", confirm="Lakeside#Path42"
    )
    assert response.status_code == 422
    assert "验证码不正确" in error_for(response.get_data(as_text=True), "code")


def test_reset_ends_every_other_session_and_the_new_password_works(app, client, query):
    phone = "13800000002"
    elsewhere = app.test_client()
    assert login(elsewhere, phone).status_code == 302
    assert elsewhere.get("/profile").status_code == 200
    start_reset(client, phone)
    code = query(lambda: last_sms_code(phone))
    response = post_code(
        client, "/auth/forgot/code", code, password="Lakeside#Path42", confirm="Lakeside#Path42"
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login"
    assert elsewhere.get("/profile").status_code == 302  # the other session has ended
    assert login(app.test_client(), phone, DEMO_PASSWORD).status_code == 422
    assert login(app.test_client(), phone, "Lakeside#Path42").status_code == 302
    assert "password_reset" in query(
        lambda: list(db.session.scalars(select(Event.action).order_by(Event.id.desc()).limit(2)))
    )


@pytest.mark.parametrize(
    "password,message", [(DEMO_PASSWORD, "不能与当前密码相同"), ("short1", "至少 8 位")]
)
def test_reset_refuses_a_weak_or_reused_password_without_using_a_try(
    app, client, query, password, message
):
    phone = "13800000002"
    start_reset(client, phone)
    code = query(lambda: last_sms_code(phone))
    response = post_code(client, "/auth/forgot/code", code, password=password, confirm=password)
    assert response.status_code == 422
    assert message in error_for(response.get_data(as_text=True), "password")
    assert query(lambda: db.session.scalar(select(SmsCode.attempts))) == 0
    assert login(app.test_client(), phone, DEMO_PASSWORD).status_code == 302


def test_a_code_page_without_its_flow_says_so(client):
    for path in ("/auth/register/code", "/auth/forgot/code"):
        page = client.get(path).get_data(as_text=True)
        assert "验证码页面已失效" in page
        assert 'name="code"' not in page


# --- 修改密码 ---------------------------------------------------------------------------------


def test_change_password_keeps_this_session_and_ends_the_others(app, client, query):
    phone = "13800000003"
    elsewhere = app.test_client()
    assert login(elsewhere, phone).status_code == 302
    assert login(client, phone).status_code == 302
    token = csrf_token(client, "/auth/password")
    response = client.post(
        "/auth/password",
        data={
            "current_password": DEMO_PASSWORD,
            "new_password": "Changed#Road77",
            "confirm": "Changed#Road77",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    assert client.get("/profile").status_code == 200
    assert elsewhere.get("/profile").status_code == 302
    assert login(app.test_client(), phone, "Changed#Road77").status_code == 302
    assert "password_changed" in query(
        lambda: list(db.session.scalars(select(Event.action).order_by(Event.id.desc()).limit(2)))
    )


@pytest.mark.parametrize(
    "current,new,field,message",
    [
        ("Wrong12345", "Changed#Road77", "current_password", "当前密码不正确"),
        (DEMO_PASSWORD, DEMO_PASSWORD, "new_password", "不能与当前密码相同"),
        (DEMO_PASSWORD, "abcdefgh", "new_password", "字母和数字"),
    ],
)
def test_change_password_bad_input_changes_nothing(
    app, client, query, current, new, field, message
):
    assert login(client, "13800000003").status_code == 302
    failures = query(lambda: db.session.scalar(select(func.count()).select_from(LoginFailure)))
    token = csrf_token(client, "/auth/password")
    response = client.post(
        "/auth/password",
        data={
            "current_password": current,
            "new_password": new,
            "confirm": new,
            "csrf_token": token,
        },
    )
    assert response.status_code == 422
    assert message in error_for(response.get_data(as_text=True), field)
    assert login(app.test_client(), "13800000003", DEMO_PASSWORD).status_code == 302
    # a wrong current password counts as a failed login of the account (guessing is throttled)
    after = query(lambda: db.session.scalar(select(func.count()).select_from(LoginFailure)))
    assert after == failures + (1 if field == "current_password" else 0)


# --- 更换手机号 -------------------------------------------------------------------------------


def start_phone_change(client, phone: str, password: str = DEMO_PASSWORD):
    token = csrf_token(client, "/auth/phone")
    return client.post(
        "/auth/phone", data={"phone": phone, "current_password": password, "csrf_token": token}
    )


def test_change_phone_sends_the_code_to_the_new_phone_and_tells_the_old_one(app, client, query):
    old, new = "13800000002", "13912340000"
    assert login(client, old).status_code == 302
    response = start_phone_change(client, new)
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/phone/code"
    code = query(lambda: last_sms_code(new))
    assert post_code(client, "/auth/phone/code", wrong(code)).status_code == 422
    assert post_code(client, "/auth/phone/code", code).status_code == 302
    user = query(lambda: db.session.scalar(select(User).where(User.phone == new)))
    assert user is not None
    assert query(lambda: db.session.get(Citizen, user.citizen_id).phone) == new
    notice = query(
        lambda: db.session.scalar(
            select(OutboxMessage.body)
            .where(OutboxMessage.recipient == old)
            .order_by(OutboxMessage.id.desc())
        )
    )
    assert "139****0000" in notice
    assert login(app.test_client(), new).status_code == 302
    assert "phone_changed" in query(
        lambda: list(db.session.scalars(select(Event.action).order_by(Event.id.desc()).limit(2)))
    )


@pytest.mark.parametrize(
    "phone,password,field,message",
    [
        ("13800000001", DEMO_PASSWORD, "phone", "已被其他账号使用"),
        ("13800000002", DEMO_PASSWORD, "phone", "与当前手机号相同"),
        ("1391234", DEMO_PASSWORD, "phone", "11 位手机号"),
        ("13912340000", "Wrong12345", "current_password", "当前密码不正确"),
    ],
)
def test_change_phone_bad_input_sends_nothing(client, query, phone, password, field, message):
    assert login(client, "13800000002").status_code == 302
    outbox = query(lambda: db.session.scalar(select(func.count()).select_from(OutboxMessage)))
    response = start_phone_change(client, phone, password)
    assert response.status_code == 422
    assert message in error_for(response.get_data(as_text=True), field)
    assert query(lambda: db.session.scalar(select(func.count()).select_from(OutboxMessage))) == (
        outbox
    )


def test_new_pages_refuse_a_post_without_csrf(client, query):
    before = query(lambda: db.session.scalar(select(func.count()).select_from(SmsCode)))
    assert client.post("/auth/forgot", data={"phone": "13800000002"}).status_code == 400
    assert client.post("/auth/register", data=NEW).status_code == 400
    assert query(lambda: db.session.scalar(select(func.count()).select_from(SmsCode))) == before


def test_no_page_reads_the_outbox():
    """The outbox holds each SMS code in clear (the SMS has to carry it): no view or template
    reads it. A page that lists sent messages must show a code SMS only as sent, never its body;
    whoever adds one changes this test knowingly."""
    root = Path(__file__).resolve().parents[2]
    views = [
        p
        for p in (root / "portal").rglob("*.py")
        if "models" not in p.parts
        and p.name != "transaction.py"
        and "OutboxMessage" in p.read_text()
    ]
    templates = [p for p in (root / "templates").rglob("*.html") if "outbox" in p.read_text()]
    assert not views + templates


def test_the_register_form_rations_its_phone_taken_answers_per_client(client, query, app):
    """实名注册 must say a phone is taken, so it cannot be used to list registered phones:
    past the hourly budget of such answers the address is refused before any check."""
    budget = app.config["SMS_CODES_PER_CLIENT_HOUR"]
    here = {"environ_base": {"REMOTE_ADDR": "203.0.113.9"}}

    def post(**changes):
        data = {**NEW, **changes, "csrf_token": csrf_token(client, "/auth/register")}
        return client.post("/auth/register", data=data, **here)

    # other refusals are not counted
    assert post(password="weakpass", confirm="weakpass").status_code == 422
    for n in range(budget):
        response = post(phone=f"1380000000{n % 3 + 1}")
        assert response.status_code == 422
        assert "该手机号已注册" in error_for(response.get_data(as_text=True), "phone")
    response = post()  # a free phone, but this address has asked too often
    assert response.status_code == 429
    assert "注册失败的次数过多" in error_for(response.get_data(as_text=True), "phone")
    assert query(lambda: sms_count(NEW["phone"])) == 0
    token = csrf_token(client, "/auth/register")
    other = client.post(
        "/auth/register",
        data={**NEW, "csrf_token": token},
        environ_base={"REMOTE_ADDR": "198.51.100.1"},
    )
    assert other.status_code == 302


def test_an_account_registered_in_elder_mode_keeps_it(client, query):
    client.set_cookie("elder_mode", "1")
    start_register(client)
    code = query(lambda: last_sms_code(NEW["phone"]))
    assert post_code(client, "/auth/register/code", code).status_code == 302
    user = query(lambda: db.session.scalar(select(User).where(User.phone == NEW["phone"])))
    assert user.elder_mode is True
    assert 'class="elder"' in client.get("/profile").get_data(as_text=True)
