"""The kiosk through the web: kiosk mode only on a browser staff set up (a signed device
cookie from a POST; a GET never sets it), 长辈模式 by default, the idle dialog on every page
while in kiosk mode, the case check, help requests, applying after logging in on the kiosk,
and the reset."""

from __future__ import annotations

from itsdangerous import URLSafeSerializer
from sqlalchemy import select

from portal.extensions import db
from portal.kiosk.device import DEVICE_COOKIE
from portal.models import Application, Channel, Event, ServiceItem, StaffReminder
from tests.conftest import DEMO_PASSWORD, csrf_token, login
from tests.kiosk_device import set_up_kiosk
from tests.workflow_cases import RESIDENCE_PERMIT, item_named, submit_case


def kiosk_item_code() -> str:
    return db.session.scalar(
        select(ServiceItem.code)
        .where(ServiceItem.kiosk_enabled.is_(True))
        .order_by(ServiceItem.code)
        .limit(1)
    )


def _cookies(response) -> str:
    return " ".join(response.headers.getlist("Set-Cookie"))


def test_a_get_never_makes_a_kiosk(client, login_as):
    """A link to the kiosk pages (with ?terminal= too) sets nothing: no kiosk mode, no device
    cookie, no 长辈模式, no terminal name, for a visitor or a logged-in citizen."""
    for who in (None, "13800000001"):
        if who:
            login_as(who)
        for path in ("/kiosk/SMZX/", "/kiosk/SMZX/?terminal=X机", "/kiosk/SMZX/case"):
            response = client.get(path)
            page = response.get_data(as_text=True)
            assert response.status_code == 200, path
            assert 'id="kiosk-idle"' not in page and "本机：X机" not in page, path
            cookies = _cookies(response)
            assert DEVICE_COOKIE not in cookies and "kiosk" not in cookies, (path, cookies)
            assert "elder_mode" not in cookies, (path, cookies)
        catalogue = client.get("/catalogue").get_data(as_text=True)
        assert 'id="kiosk-idle"' not in catalogue and "js/kiosk.js" not in catalogue


def test_a_forged_or_foreign_device_cookie_is_ignored(app, client):
    client.set_cookie(DEVICE_COOKIE, "eyJoYWxsIjoiU01aWCIsInRlcm1pbmFsIjoiWCJ9.forged")
    assert 'id="kiosk-idle"' not in client.get("/kiosk/SMZX/").get_data(as_text=True)
    other_key = URLSafeSerializer("another-secret-" * 4, salt="kiosk-device")
    client.set_cookie(DEVICE_COOKIE, other_key.dumps({"hall": "SMZX", "terminal": "X"}))
    assert 'id="kiosk-idle"' not in client.get("/kiosk/SMZX/").get_data(as_text=True)


def test_only_counter_staff_or_admins_set_a_kiosk_up_and_it_is_audited(app, client, query):
    assert client.get("/kiosk/setup").status_code == 302  # to the login
    citizen = app.test_client()
    login(citizen, "13800000001")
    assert citizen.get("/kiosk/setup").status_code == 403
    other = app.test_client()
    login(other, "reviewer01")
    assert other.get("/kiosk/setup").status_code == 403

    clerk = app.test_client()
    login(clerk, "counter01")
    token = csrf_token(clerk, "/kiosk/setup")
    refused = clerk.post("/kiosk/setup", data={"csrf_token": token, "hall": "SMZX"})
    assert refused.status_code == 422 and "请填写本机的名称和位置" in refused.get_data(as_text=True)
    foreign = clerk.post(
        "/kiosk/setup", data={"csrf_token": token, "hall": "BSZX", "terminal": "A机"}
    )
    assert foreign.status_code == 422 and DEVICE_COOKIE not in _cookies(foreign)
    no_token = clerk.post("/kiosk/setup", data={"hall": "SMZX", "terminal": "A机"})
    assert no_token.status_code == 400 and DEVICE_COOKIE not in _cookies(no_token)

    done = set_up_kiosk(client, terminal="B区2号机")
    assert DEVICE_COOKIE in _cookies(done) and "elder_mode=1" in _cookies(done)
    assert done.headers["Location"].endswith("/kiosk/SMZX/")
    assert client.get("/cases").status_code == 302  # the clerk was logged out
    events = query(
        lambda: [
            (e.action, e.actor.username, e.details)
            for e in db.session.scalars(
                select(Event).where(Event.action.like("kiosk_device%")).order_by(Event.id)
            )
        ]
    )
    assert events == [("kiosk_device_set", "counter01", {"hall": "SMZX", "terminal": "B区2号机"})]
    page = client.get("/kiosk/SMZX/").get_data(as_text=True)
    assert 'id="kiosk-idle"' in page and "B区2号机" in page


def test_staff_unset_a_kiosk(client, query):
    set_up_kiosk(client, terminal="B区2号机")
    login(client, "admin")
    setup = client.get("/kiosk/setup").get_data(as_text=True)
    assert "本机现在的设置" in setup and "B区2号机" in setup
    cleared = client.post(
        "/kiosk/setup/clear", data={"csrf_token": csrf_token(client, "/kiosk/setup")}
    )
    assert cleared.status_code == 302 and f"{DEVICE_COOKIE}=;" in _cookies(cleared)
    client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/kiosk/setup")})
    assert 'id="kiosk-idle"' not in client.get("/kiosk/SMZX/").get_data(as_text=True)
    actions = query(
        lambda: [
            (e.action, e.actor.username)
            for e in db.session.scalars(
                select(Event).where(Event.action.like("kiosk_device%")).order_by(Event.id)
            )
        ]
    )
    assert actions == [("kiosk_device_set", "counter01"), ("kiosk_device_cleared", "admin")]


def test_a_kiosk_starts_in_elder_mode_and_kiosk_mode(client):
    assert 'id="kiosk-idle"' not in client.get("/catalogue").get_data(as_text=True)
    set_up_kiosk(client)
    client.delete_cookie("elder_mode")
    first = client.get("/kiosk/SMZX/")
    page = first.get_data(as_text=True)
    assert first.status_code == 200 and 'class="elder"' in page
    assert "elder_mode=1" in first.headers.get("Set-Cookie", "")
    assert "呼叫工作人员" in page and "操作帮助" in page and 'id="kiosk-idle"' in page
    # every page now has the idle timer, also the portal's own pages reached from the kiosk
    catalogue = client.get("/catalogue").get_data(as_text=True)
    assert 'id="kiosk-idle"' in catalogue and "js/kiosk.js" in catalogue
    assert client.get("/kiosk/NOPE/").status_code == 404


def test_case_check(client, query):
    def make():
        case = submit_case("13800000002", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
        db.session.commit()
        return case.number, case.applicant.id_number, case.applicant.name

    number, id_number, name = query(make)
    token = csrf_token(client, "/kiosk/SMZX/case")
    found = client.post(
        "/kiosk/SMZX/case", data={"csrf_token": token, "number": number, "id_number": id_number}
    )
    page = found.get_data(as_text=True)
    assert found.status_code == 200 and "已提交" in page and "下一步" in page
    assert name not in page and id_number not in page and number not in page
    wrong = client.post(
        "/kiosk/SMZX/case",
        data={"csrf_token": token, "number": number, "id_number": "110101199001011234"},
    )
    unknown = client.post(
        "/kiosk/SMZX/case",
        data={"csrf_token": token, "number": "WB20990101000001", "id_number": id_number},
    )
    for response in (wrong, unknown):
        assert "没有查到办件编号和身份证号都相符的办件" in response.get_data(as_text=True)
    empty = client.post("/kiosk/SMZX/case", data={"csrf_token": token})
    assert empty.status_code == 422 and "请填写办件编号" in empty.get_data(as_text=True)


def test_help_request_goes_back_to_the_page(client, query):
    token = csrf_token(client, "/kiosk/SMZX/guides")
    response = client.post(
        "/kiosk/SMZX/help",
        data={"csrf_token": token, "where": "kiosk.guides", "next": "/kiosk/SMZX/guides"},
    )
    assert response.status_code == 302 and response.headers["Location"].endswith(
        "/kiosk/SMZX/guides"
    )
    assert "已通知工作人员" in client.get("/kiosk/SMZX/guides").get_data(as_text=True)
    assert query(
        lambda: db.session.scalar(
            select(StaffReminder.body).where(StaffReminder.kind == "kiosk_help:SMZX")
        )
    )


def test_apply_after_login_on_the_kiosk_then_reset(client, query):
    code = query(kiosk_item_code)
    set_up_kiosk(client)
    item_path = f"/kiosk/SMZX/apply/{code}"
    to_login = client.get(item_path)
    assert to_login.status_code == 302 and f"next={item_path}" in to_login.headers["Location"]
    token = csrf_token(client)
    logged_in = client.post(
        f"/auth/login?next={item_path}",
        data={"login": "13800000002", "password": DEMO_PASSWORD, "csrf_token": token},
    )
    assert logged_in.headers["Location"].endswith(item_path)
    page = client.get(item_path).get_data(as_text=True)
    assert "开始办理" in page and 'id="kiosk-idle"' in page  # kiosk mode again after the login
    started = client.post(f"{item_path}/start", data={"csrf_token": csrf_token(client, item_path)})
    assert started.status_code == 302 and "/apply/drafts/" in started.headers["Location"]
    assert 'id="kiosk-idle"' in client.get(started.headers["Location"]).get_data(as_text=True)
    channel = query(
        lambda: db.session.scalar(
            select(Application.channel).order_by(Application.id.desc()).limit(1)
        )
    )
    assert channel == Channel.kiosk
    other = query(lambda: item_named(RESIDENCE_PERMIT).code)
    assert client.get(f"/kiosk/SMZX/apply/{other}").status_code == 404
    assert (
        client.post(
            f"/kiosk/SMZX/apply/{other}/start", data={"csrf_token": csrf_token(client, item_path)}
        ).status_code
        == 404
    )
    reset = client.post("/kiosk/SMZX/reset", data={"csrf_token": csrf_token(client, item_path)})
    assert reset.status_code == 302 and reset.headers["Location"].endswith("/kiosk/SMZX/")
    assert client.get("/cases").status_code == 302  # logged out


def test_staff_browsing_the_kiosk_pages_stay_out_of_kiosk_mode(client, login_as):
    set_up_kiosk(client)
    login_as("counter01")
    page = client.get("/kiosk/SMZX/").get_data(as_text=True)
    assert "呼叫工作人员" in page and 'id="kiosk-idle"' not in page
    assert 'id="kiosk-idle"' not in client.get("/queue/desk").get_data(as_text=True)


def test_a_login_from_the_header_keeps_the_kiosk_idle_timer(client, login_as):
    set_up_kiosk(client)
    login_as("13800000003")  # renews the session: the device setting is not in it
    page = client.get("/cases").get_data(as_text=True)
    assert 'id="kiosk-idle"' in page and "/kiosk/SMZX/reset" in page
