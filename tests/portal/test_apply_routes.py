"""Applying through the web layer: ownership, bad input, exactly-once, query counts."""

import re
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from portal.extensions import db
from portal.models import Application, User
from services import clock
from tests.conftest import csrf_token, login

ID_RENEWAL = "330100GA0004"


def draft_of(phone):
    owner = db.session.scalar(select(User).where(User.phone == phone))
    return db.session.scalar(
        select(Application).where(
            Application.applicant_id == owner.citizen_id, Application.status == "draft"
        )
    )


def start(client, code=ID_RENEWAL) -> int:
    token = csrf_token(client, f"/apply/{code}")
    response = client.post(f"/apply/{code}/start", data={"csrf_token": token})
    assert response.status_code == 302
    return int(re.search(r"/apply/drafts/(\d+)/", response.headers["Location"]).group(1))


def walk_to_confirm(client, draft_id):
    token = csrf_token(client, f"/apply/drafts/{draft_id}/conditions")
    client.post(
        f"/apply/drafts/{draft_id}/conditions",
        data={"csrf_token": token, "c_hukou_local": "yes", "c_minor": "no"},
    )
    page = client.get(f"/apply/drafts/{draft_id}/form").get_data(as_text=True)
    values = dict(re.findall(r'name="(q_\w+)" id="q_\w+" value="([^"]*)"', page))
    client.post(
        f"/apply/drafts/{draft_id}/form", data={**values, "q_delivery": "post", "csrf_token": token}
    )
    client.post(f"/apply/drafts/{draft_id}/materials", data={"csrf_token": token})
    return token


@contextmanager
def counting(app):
    statements = []

    def count(conn, cursor, statement, *args):
        if not statement.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
            statements.append(statement)  # the test's own savepoints are not the page's queries

    engine = db._app_engines[app][None]
    target = engine.engine if hasattr(engine, "engine") else engine
    event.listen(target, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(target, "before_cursor_execute", count)


def test_full_flow_and_replay_returns_the_same_case(client, query):
    login(client, "13800000001")
    draft_id = start(client)
    token = walk_to_confirm(client, draft_id)
    submit_token = query(lambda: db.session.get(Application, draft_id).submit_token)
    data = {"csrf_token": token, "token": submit_token, "consent": "y"}
    first = client.post(f"/apply/drafts/{draft_id}/submit", data=data)
    again = client.post(f"/apply/drafts/{draft_id}/submit", data=data)
    assert first.status_code == again.status_code == 302
    assert first.headers["Location"] == again.headers["Location"] == f"/cases/{draft_id}"
    number = query(lambda: db.session.get(Application, draft_id).number)
    assert (
        query(
            lambda: db.session.scalar(
                select(func.count()).select_from(Application).where(Application.number == number)
            )
        )
        == 1
    )


def test_submit_without_consent_is_refused_next_to_the_checkbox(client, query):
    login(client, "13800000001")
    draft_id = start(client)
    token = walk_to_confirm(client, draft_id)
    submit_token = query(lambda: db.session.get(Application, draft_id).submit_token)
    response = client.post(
        f"/apply/drafts/{draft_id}/submit", data={"csrf_token": token, "token": submit_token}
    )
    assert response.status_code == 422
    assert 'id="consent-error"' in response.get_data(as_text=True)
    assert query(lambda: db.session.get(Application, draft_id).status) == "draft"


def test_another_citizens_draft_is_404_everywhere_and_unchanged(client, query):
    theirs = query(lambda: draft_of("13800000001").id)
    before = query(lambda: dict(db.session.get(Application, theirs).condition_answers))
    login(client, "13800000002")
    token = csrf_token(client, "/cases")
    for step in ("conditions", "form", "materials", "confirm"):
        assert client.get(f"/apply/drafts/{theirs}/{step}").status_code == 404
    assert (
        client.post(f"/apply/drafts/{theirs}/conditions", data={"csrf_token": token}).status_code
        == 404
    )
    assert (
        client.post(f"/apply/drafts/{theirs}/delete", data={"csrf_token": token}).status_code == 404
    )
    assert (
        client.post(
            f"/apply/drafts/{theirs}/submit",
            data={"csrf_token": token, "consent": "y", "token": "x"},
        ).status_code
        == 404
    )
    assert client.get(f"/cases/{theirs}").status_code == 404
    assert query(lambda: dict(db.session.get(Application, theirs).condition_answers)) == before


def test_choosing_someone_elses_document_is_404_and_changes_nothing(client, query):
    from portal.models import Document

    holder = query(
        lambda: db.session.scalar(select(User).where(User.phone == "13800000001")).citizen_id
    )
    their_doc = query(
        lambda: db.session.scalar(select(Document.id).where(Document.owner_id == holder))
    )
    login(client, "13800000002")
    draft_id = start(client)
    token = csrf_token(client, f"/apply/drafts/{draft_id}/conditions")
    client.post(
        f"/apply/drafts/{draft_id}/conditions",
        data={"csrf_token": token, "c_hukou_local": "yes", "c_minor": "no"},
    )
    req_id = query(lambda: db.session.get(Application, draft_id).materials[0].requirement_id)
    response = client.post(
        f"/apply/drafts/{draft_id}/materials",
        data={"csrf_token": token, f"m_{req_id}": f"doc:{their_doc}"},
    )
    assert response.status_code == 404
    assert all(
        m is None
        for m in query(
            lambda: [m.document_id for m in db.session.get(Application, draft_id).materials]
        )
    )


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("q_phone", "12", "11 位手机号码"),
        ("q_id_number", "110105194912310021", "身份证号不正确"),
        ("q_delivery", "helicopter", "选项不正确"),
        ("q_name", "", "此项必填"),
    ],
)
def test_form_values_of_the_wrong_kind_are_refused_next_to_the_field(
    client, query, field, value, message
):
    login(client, "13800000001")
    draft_id = start(client)
    token = csrf_token(client, f"/apply/drafts/{draft_id}/form")
    good = {
        "q_name": "张伟明",
        "q_id_number": "11010519491231002X",
        "q_phone": "13800000001",
        "q_delivery": "post",
        "q_address": "",
        "csrf_token": token,
    }
    response = client.post(f"/apply/drafts/{draft_id}/form", data={**good, field: value})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in re.search(rf'id="{field}-error">(.*?)</p>', html, re.S).group(1)
    assert query(lambda: db.session.get(Application, draft_id).form_data) == {}


def test_autosave_keeps_valid_answers_of_a_partial_form(client, query):
    login(client, "13800000001")
    draft_id = start(client)
    token = csrf_token(client, f"/apply/drafts/{draft_id}/form")
    response = client.post(
        f"/apply/drafts/{draft_id}/autosave",
        data={"csrf_token": token, "q_phone": "13912345678", "q_id_number": "bad"},
    )
    assert response.status_code == 200 and response.get_json()["saved"] is True
    saved = query(lambda: db.session.get(Application, draft_id).form_data)
    assert saved == {"q_phone": "13912345678"} or saved == {"phone": "13912345678"}


def test_each_apply_step_stays_within_ten_queries(app, client, query):
    login(client, "13800000001")
    draft_id = start(client)
    walk_to_confirm(client, draft_id)
    for step in ("conditions", "form", "materials", "confirm"):
        with counting(app) as statements:
            assert client.get(f"/apply/drafts/{draft_id}/{step}").status_code == 200
        assert len(statements) <= 10, (step, len(statements), statements)


def test_submitting_reads_the_draft_and_its_requirements_once(app, client, query):
    """提交 in a small fixed number of statements: the draft is read once (with its guide,
    applicant and materials), the material requirements once (not again to count the reused
    materials), the case is not read back after its UPDATE, and one UPDATE moves it to its
    first step."""
    login(client, "13800000001")
    draft_id = start(client)
    token = walk_to_confirm(client, draft_id)
    submit_token = query(lambda: db.session.get(Application, draft_id).submit_token)
    data = {"csrf_token": token, "token": submit_token, "consent": "y"}
    with counting(app) as statements:
        response = client.post(f"/apply/drafts/{draft_id}/submit", data=data)
    assert response.headers["Location"] == f"/cases/{draft_id}"

    def reads(table: str) -> list[str]:
        return [s for s in statements if re.match(rf"\s*SELECT\b.*\bFROM {table}\b", s, re.S)]

    assert len(reads("applications")) == 1, reads("applications")
    assert reads("application_materials") == []  # joined to the draft
    assert len(reads("material_requirements")) == 1, reads("material_requirements")
    updates = [s for s in statements if re.match(r"\s*UPDATE applications\b", s)]
    assert len(updates) == 1, updates  # the guarded UPDATE writes the number too
    assert "number=" in updates[0]
    # the SMS is written claimed by the request, which records it sent: no claim of its own
    outbox = [s for s in statements if re.match(r"\s*(INSERT INTO|UPDATE) outbox\b", s)]
    assert len(outbox) == 2, outbox
    # 12 on SQLite; PostgreSQL also takes the audit chain's advisory lock
    assert len(statements) <= 13, (len(statements), statements)
    case = query(lambda: db.session.get(Application, draft_id))
    assert case.status != "draft" and case.number and case.current_step == 0
    assert case.step_started_on is not None


def test_staff_cannot_use_the_citizen_pages(client):
    login(client, "counter01")
    assert client.get(f"/apply/{ID_RENEWAL}").status_code == 403
    assert client.get("/cases").status_code == 403


def test_proxy_form_errors_and_authorisation(client, query):
    from portal.models import Authorisation

    login(client, "13800000003")
    token = csrf_token(client, "/proxies")
    response = client.post(
        "/proxies",
        data={"csrf_token": token, "agent_phone": "13912345678", "valid_until": "2030-01-01"},
    )
    assert response.status_code == 422
    assert "该手机号没有注册" in response.get_data(as_text=True)
    response = client.post(
        "/proxies",
        data={"csrf_token": token, "agent_phone": "13800000001", "valid_until": "not-a-date"},
    )
    assert response.status_code == 422
    assert query(lambda: db.session.scalar(select(func.count()).select_from(Authorisation))) == 0
    until = (clock.local_today() + timedelta(days=30)).isoformat()
    response = client.post(
        "/proxies", data={"csrf_token": token, "agent_phone": "13800000001", "valid_until": until}
    )
    assert response.status_code == 302
    assert query(lambda: db.session.scalar(select(func.count()).select_from(Authorisation))) == 1


def test_revoking_someone_elses_authorisation_is_404(client, query):
    from datetime import timedelta

    from services import proxies

    def make():
        principal = db.session.scalar(select(User).where(User.phone == "13800000003"))
        auth = proxies.authorise_agent(
            principal,
            agent_phone="13800000001",
            valid_until=clock.local_today() + timedelta(days=5),
        )
        db.session.commit()
        return auth.id

    auth_id = query(make)
    login(client, "13800000002")
    token = csrf_token(client, "/proxies")
    assert client.post(f"/proxies/{auth_id}/revoke", data={"csrf_token": token}).status_code == 404


def test_message_centre_lists_the_submission_notice(client, query):
    login(client, "13800000001")
    draft_id = start(client)
    token = walk_to_confirm(client, draft_id)
    submit_token = query(lambda: db.session.get(Application, draft_id).submit_token)
    client.post(
        f"/apply/drafts/{draft_id}/submit",
        data={"csrf_token": token, "token": submit_token, "consent": "y"},
    )
    page = client.get("/messages").get_data(as_text=True)
    assert "申请已提交" in page and "未读" in page
    client.post("/messages/read", data={"csrf_token": token})
    assert "未读" not in client.get("/messages").get_data(as_text=True).split("<main", 1)[1]


def test_autosave_does_not_extend_the_session_but_pages_and_extend_do(client):
    login(client, "13800000001")
    draft_id = start(client)
    token = csrf_token(client, f"/apply/drafts/{draft_id}/form")
    background = client.post(
        f"/apply/drafts/{draft_id}/autosave",
        data={"csrf_token": token},
        headers={"X-Requested-With": "autosave"},
    )
    assert background.status_code == 200 and "Set-Cookie" not in background.headers
    assert "Set-Cookie" in client.get("/cases").headers
    extend = client.post("/session/extend", headers={"X-CSRFToken": token})
    assert extend.status_code == 200 and "Set-Cookie" in extend.headers


def test_withdrawing_a_bundle_names_the_decided_children_that_go_on(client, query):
    from services import workflow
    from tests.services.test_bundle_applications import submitted_bundle

    def make():
        owner = db.session.scalar(select(User).where(User.phone == "13800000002"))
        parent = submitted_bundle(owner)
        decided = parent.children[0]
        workflow.perform(None, decided.id, "approve_instantly", decided.version)
        db.session.commit()
        return parent.id, parent.version, decided.number, [c.id for c in parent.children[1:]]

    parent_id, version, decided_number, open_ids = query(make)
    login(client, "13800000002")
    token = csrf_token(client, f"/cases/{parent_id}")
    response = client.post(
        f"/cases/{parent_id}/withdraw",
        data={"csrf_token": token, "version": version},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "不能撤回" in html and decided_number in html
    states = query(lambda: [db.session.get(Application, i).status for i in [parent_id, *open_ids]])
    assert states == ["withdrawn"] * (1 + len(open_ids))
