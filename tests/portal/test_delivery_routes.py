"""Delivery through the web layer (issue 11 §3): the step clock on both case pages, 邮寄 with
a validated tracking number the citizen sees, 确认收到, 注销 and how expired and revoked
licences show in the library and at verification."""

from datetime import timedelta

from sqlalchemy import select

from portal.extensions import db
from portal.models import Application, ELicence
from services import clock, workdays, workflow
from tests.conftest import csrf_token, login
from tests.helpers import submit_committed_case
from tests.portal.test_review_routes import act
from tests.workflow_cases import RESIDENCE_PERMIT, item_named, user


def declared_case(query, **guide) -> int:
    def run():
        version = item_named(RESIDENCE_PERMIT).published_version
        for field, value in guide.items():
            setattr(version, field, value)
        db.session.commit()

    query(run)
    return submit_committed_case(query)


def advance(query, case_id, *actions, **params):
    def run():
        for action in actions:
            case = workflow.load_case(case_id)
            workflow.perform(user("reviewer01"), case_id, action, case.version, **params)
        db.session.commit()

    query(run)


def as_(app, who):
    """A fresh client logged in as ``who`` (one client per person, as in a real browser)."""
    client = app.test_client()
    assert login(client, who).status_code == 302
    return client


def state(query, case_id):
    return query(
        lambda: (lambda a: (a.status, a.version, a.post_tracking))(
            db.session.get(Application, case_id)
        )
    )


def test_both_case_pages_show_the_current_step_its_due_date_and_overdue(app, query, tx):
    case_id = declared_case(query)
    advance(query, case_id, "accept")

    def started_long_ago():
        case = db.session.get(Application, case_id)
        case.step_started_on = clock.local_today() - timedelta(days=30)
        db.session.commit()
        return workdays.add_working_days(case.step_started_on, 3)  # 审核: 3 working days

    due = query(started_long_ago)
    client = as_(app, "reviewer01")
    html = client.get(f"/review/cases/{case_id}").get_data(as_text=True)
    assert "第 2 环节，共 4 个" in html and "审核" in html
    assert due.isoformat() in html and "本环节已超期" in html
    client = as_(app, "13800000002")
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "本环节办理期限" in html and due.isoformat() in html and "本环节已超期" in html
    assert "窗口领取" in html  # the delivery method the case will use


def test_post_needs_a_valid_tracking_number_and_the_citizen_sees_it(app, query, tx):
    case_id = declared_case(query, delivery_methods=["post"])
    advance(query, case_id, "accept", "start_review", "approve", "certify")
    status, version, _ = state(query, case_id)
    assert status == "awaiting_post"
    client = as_(app, "reviewer01")
    bad = act(client, case_id, "mail", version, carrier="ems", tracking="12<3")
    assert bad.status_code == 422
    assert "运单号为 8 至 30 位字母或数字" in bad.get_data(as_text=True)
    missing = act(client, case_id, "mail", version, carrier="", tracking="")
    assert missing.status_code == 422 and "请选择承运的快递公司" in missing.get_data(as_text=True)
    assert state(query, case_id) == ("awaiting_post", version, "")  # nothing changed
    good = act(client, case_id, "mail", version, carrier="ems", tracking="EA123456789CN")
    assert good.status_code == 302
    status, version, tracking = state(query, case_id)
    assert (status, tracking) == ("mailed", "EA123456789CN")
    client = as_(app, "13800000002")
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "EA123456789CN" in html and "中国邮政EMS" in html and "已寄出" in html
    messages = client.get("/messages").get_data(as_text=True)
    assert "EA123456789CN" in messages
    token = csrf_token(client, f"/cases/{case_id}")
    assert client.get(f"/cases/{case_id}/received").status_code == 405  # no change on GET
    response = client.post(
        f"/cases/{case_id}/received", data={"csrf_token": token, "version": version}
    )
    assert response.status_code == 302
    assert state(query, case_id)[0] == "completed"


def licensed_case(query) -> tuple[int, int, str]:
    case_id = declared_case(query, delivery_methods=["online"], result_term={"years": 1})
    advance(query, case_id, "accept", "start_review", "approve", "certify")
    return query(
        lambda: (lambda lic: (case_id, lic.id, lic.verify_code))(
            db.session.scalar(select(ELicence).where(ELicence.application_id == case_id))
        )
    )


def test_revoke_is_a_post_by_the_issuing_department_shown_with_its_date(app, query, tx):
    case_id, licence_id, code = licensed_case(query)
    path = f"/review/cases/{case_id}/licences/{licence_id}/revoke"
    client = as_(app, "13800000002")
    token = csrf_token(client, "/documents/")
    assert (
        client.post(path, data={"csrf_token": token, f"revoke{licence_id}-reason": "x"}).status_code
        == 403
    )
    client = as_(app, "reviewer02")
    token = csrf_token(client, "/review/")
    assert (
        client.post(path, data={"csrf_token": token, f"revoke{licence_id}-reason": "x"}).status_code
        == 404
    )
    client = as_(app, "reviewer01")
    token = csrf_token(client, f"/review/cases/{case_id}")
    empty = client.post(path, data={"csrf_token": token, f"revoke{licence_id}-reason": ""})
    assert empty.status_code == 422 and "请写明注销的理由" in empty.get_data(as_text=True)
    assert client.post(path, data={f"revoke{licence_id}-reason": "x"}).status_code == 400  # CSRF
    done = client.post(
        path, data={"csrf_token": token, f"revoke{licence_id}-reason": "持证人申请注销"}
    )
    assert done.status_code == 302
    today = clock.local_today().isoformat()
    public = client.get(f"/verify/c/{code}").get_data(as_text=True)
    assert "已注销" in public and "注销日期" in public and today in public
    assert "持证人申请注销" not in public
    client = as_(app, "13800000002")
    library = client.get("/documents/").get_data(as_text=True)
    assert f"已注销（{today}）" in library


def test_an_expired_licence_shows_as_expired_in_the_library_and_at_verification(app, query, tx):
    case_id, licence_id, code = licensed_case(query)

    def expire():
        licence = db.session.get(ELicence, licence_id)
        licence.valid_until = licence.document.valid_until = clock.local_today() - timedelta(days=1)
        db.session.commit()

    query(expire)
    client = app.test_client()
    public = client.get(f"/verify/c/{code}").get_data(as_text=True)
    assert "已过期" in public
    client = as_(app, "13800000002")
    library = client.get("/documents/").get_data(as_text=True)
    assert "已过期" in library
