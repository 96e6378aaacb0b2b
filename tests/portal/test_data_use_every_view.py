"""我的数据使用记录 (issue 11 §6): every route that shows staff a citizen's document or their
unmasked personal data, hit as every staff role allowed, adds exactly one row to that citizen's
log — who, in which role and department, for which case, when and why. The owner's own views
add nothing. A new route that looks like it shows a citizen's document or personal data must
be walked here (or listed as not doing so, with the reason), or the first test fails."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Application, DataUseLog, Document, MaterialType, User
from services import clock, data_use, proxies
from services.document_vocabulary import document_label
from tests.conftest import csrf_token, login
from tests.helpers import make_case, submit_committed_case

CITIZEN = "13800000001"
AGENT = "13800000003"  # a citizen CITIZEN may authorise as 代办人

# a route whose path looks like it serves a document or reveals personal data
LOOKS_LIKE_DATA = re.compile(
    r"/documents/|/reveal$|/file$|/download|/view$|/licence$|/original$|export|/notices/<"
)
# routes the pattern catches that do not show staff a citizen's document or unmasked data
NOT_A_STAFF_VIEW = {
    "documents.index": "the owner's own library (citizens only)",
    "documents.upload": "the owner uploads into their own library (citizens only)",
    "documents.data_use_log": "the owner reads their own log (citizens only)",
    "documents.delete": "the owner deletes their own document (citizens only)",
    "apply.notice": "the applicant's own notice",
    "review.notice": "a notice the department issued itself (addressee's name only)",
    "counter.notice": "a notice the department issued, printed for the citizen being served",
    "apply.licence": "the holder downloads their own licence (own cases only)",
    "downloads.material_file": "a blank form or example from the catalogue, nobody's data",
    "counter.original_checked": "a POST that notes the original was seen; shows nothing",
    "statistics_admin.admin_export": "counts and case numbers without personal data (CSV)",
    "statistics_department.department_export": "the same, for the reviewer's own department",
}


@dataclass(frozen=True)
class Expect:
    citizen_id: int
    actor: str
    role: str
    application_id: int | None
    action: str
    reason: str


def _user(username_or_phone: str) -> User:
    return db.session.scalar(
        select(User).where((User.username == username_or_phone) | (User.phone == username_or_phone))
    )


def _first_document(phone: str) -> int:
    return db.session.scalar(
        select(Document.id)
        .join(User, User.citizen_id == Document.owner_id)
        .join(MaterialType)
        .where(User.phone == phone, MaterialType.code == "M001")
        .order_by(Document.id)
        .limit(1)
    )


def _case_using(document_id: int, **kw) -> int:
    case = make_case(db.session.get(Document, document_id), number="DATAUSE01", **kw)
    db.session.commit()
    return case.id


def _rows(citizen_id: int) -> list[tuple]:
    return [
        (
            (r.actor.username or r.actor.phone) if r.actor else None,
            r.actor_role,
            r.actor_department_id,
            r.application_id,
            r.action,
            r.reason,
            r.created_at is not None,
        )
        for r in db.session.scalars(
            select(DataUseLog).where(DataUseLog.citizen_id == citizen_id).order_by(DataUseLog.id)
        )
    ]


def _rows_of(query) -> list[tuple]:
    return query(lambda: _rows(_user(CITIZEN).citizen_id))


# --- one scenario per (route, staff role): sets the stage, calls mark() right before it hits
# the route, and says what the log must then say --


def reviewer_views_document(client, query, mark, download: bool) -> Expect:
    doc_id = query(lambda: _first_document(CITIZEN))
    case_id = query(lambda: _case_using(doc_id, dept_code="GA"))
    login(client, "reviewer01")
    path = f"/documents/{doc_id}/{'download' if download else 'view'}"
    mark()
    assert client.get(path).status_code == 200
    return Expect(
        query(lambda: _user(CITIZEN).citizen_id),
        "reviewer01",
        "reviewer",
        case_id,
        data_use.DOWNLOAD_DOCUMENT if download else data_use.VIEW_DOCUMENT,
        data_use.CASE_REVIEW,
    )


def counter_views_document(client, query, mark, download: bool) -> Expect:
    doc_id = query(lambda: _first_document(CITIZEN))
    case_id = query(
        lambda: _case_using(doc_id, dept_code="RS", status="draft", created_by=_user("counter01"))
    )
    login(client, "counter01")
    token = csrf_token(client, "/counter/")
    client.post("/counter/lookup", data={"csrf_token": token, "lookup-query": CITIZEN})
    path = f"/documents/{doc_id}/{'download' if download else 'view'}"
    mark()
    assert client.get(path).status_code == 200
    return Expect(
        query(lambda: _user(CITIZEN).citizen_id),
        "counter01",
        "counter",
        case_id,
        data_use.DOWNLOAD_DOCUMENT if download else data_use.VIEW_DOCUMENT,
        data_use.COUNTER_SERVICE,
    )


def reviewer_opens_material(client, query, mark) -> Expect:
    case_id = submit_committed_case(query, CITIZEN)
    material_id = query(
        lambda: next(m.id for m in db.session.get(Application, case_id).materials if m.document_id)
    )
    login(client, "reviewer01")
    mark()
    response = client.get(f"/review/cases/{case_id}/materials/{material_id}/file")
    assert response.status_code == 200
    return Expect(
        query(lambda: _user(CITIZEN).citizen_id),
        "reviewer01",
        "reviewer",
        case_id,
        data_use.VIEW_DOCUMENT,
        data_use.CASE_REVIEW,
    )


def reviewer_reveals(client, query, mark) -> Expect:
    case_id = submit_committed_case(query, CITIZEN)
    login(client, "reviewer01")
    token = csrf_token(client, f"/review/cases/{case_id}")
    mark()
    response = client.post(f"/review/cases/{case_id}/reveal", data={"csrf_token": token})
    assert response.status_code == 302
    return Expect(
        query(lambda: _user(CITIZEN).citizen_id),
        "reviewer01",
        "reviewer",
        case_id,
        data_use.REVEAL_PERSONAL_DATA,
        data_use.CASE_REVIEW,
    )


def counter_reveals(client, query, mark) -> Expect:
    login(client, "counter01")
    token = csrf_token(client, "/counter/")
    client.post("/counter/lookup", data={"csrf_token": token, "lookup-query": CITIZEN})
    mark()
    assert client.post("/counter/reveal", data={"csrf_token": token}).status_code == 302
    return Expect(
        query(lambda: _user(CITIZEN).citizen_id),
        "counter01",
        "counter",
        None,
        data_use.REVEAL_PERSONAL_DATA,
        data_use.COUNTER_SERVICE,
    )


def agent_views_document(client, query, mark, download: bool) -> Expect:
    """亲友代办: a citizen the owner authorised is logged too (as 代办人, no department)."""
    doc_id = query(lambda: _first_document(CITIZEN))

    def authorise():
        proxies.authorise_agent(
            _user(CITIZEN),
            agent_phone=AGENT,
            valid_until=clock.local_today() + timedelta(days=30),
        )
        db.session.commit()

    query(authorise)
    login(client, AGENT)
    path = f"/documents/{doc_id}/{'download' if download else 'view'}"
    mark()
    assert client.get(path).status_code == 200
    return Expect(
        query(lambda: _user(CITIZEN).citizen_id),
        AGENT,
        data_use.AGENT,
        None,
        data_use.DOWNLOAD_DOCUMENT if download else data_use.VIEW_DOCUMENT,
        data_use.AUTHORISED_AGENT,
    )


Scenario = Callable[..., Expect]
WALKS: dict[str, dict[str, Scenario]] = {
    "documents.view": {
        "reviewer": lambda c, q, m: reviewer_views_document(c, q, m, download=False),
        "counter": lambda c, q, m: counter_views_document(c, q, m, download=False),
        "agent": lambda c, q, m: agent_views_document(c, q, m, download=False),
    },
    "documents.download": {
        "reviewer": lambda c, q, m: reviewer_views_document(c, q, m, download=True),
        "counter": lambda c, q, m: counter_views_document(c, q, m, download=True),
        "agent": lambda c, q, m: agent_views_document(c, q, m, download=True),
    },
    "review.material_file": {"reviewer": reviewer_opens_material},
    "review.reveal": {"reviewer": reviewer_reveals},
    "counter.reveal": {"counter": counter_reveals},
}
CASES = [(endpoint, role) for endpoint, roles in WALKS.items() for role in roles]


def test_every_route_that_may_show_a_citizens_data_is_walked_or_explained(app):
    looks = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if LOOKS_LIKE_DATA.search(rule.rule) or rule.endpoint.split(".")[-1] in {"reveal"}
    }
    unknown = sorted(looks - WALKS.keys() - NOT_A_STAFF_VIEW.keys())
    assert not unknown, f"walk these routes in WALKS (and log their use) or explain them: {unknown}"
    stale = sorted(
        (WALKS.keys() | NOT_A_STAFF_VIEW.keys()) - {r.endpoint for r in app.url_map.iter_rules()}
    )
    assert not stale, f"no such routes any more: {stale}"


@pytest.mark.parametrize(("endpoint", "role"), CASES, ids=[f"{e}-{r}" for e, r in CASES])
def test_the_citizens_log_grows_by_one_row_naming_who_why_and_which_case(
    client, query, endpoint, role
):
    citizen_id = query(lambda: _user(CITIZEN).citizen_id)
    baseline: list[list[tuple]] = []
    expect = WALKS[endpoint][role](client, query, lambda: baseline.append(_rows_of(query)))
    (before,) = baseline
    after = query(lambda: _rows(citizen_id))
    assert after[: len(before)] == before
    assert len(after) == len(before) + 1, f"{endpoint} as {role}: {after[len(before) :]}"
    department_id = query(lambda: _user(expect.actor).department_id)
    assert after[-1] == (
        expect.actor,
        expect.role,
        department_id,
        expect.application_id,
        expect.action,
        expect.reason,
        True,
    )
    assert expect.citizen_id == citizen_id
    # and the citizen reads it on 我的数据使用记录, with the role and the purpose in words
    client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, CITIZEN)
    page = client.get("/documents/data-use").get_data(as_text=True)
    assert "暂无记录" not in page
    assert document_label("data_use_reason", expect.reason) in page


def test_the_owners_own_views_are_not_logged(client, query):
    doc_id = query(lambda: _first_document(CITIZEN))
    citizen_id = query(lambda: _user(CITIZEN).citizen_id)
    before = query(lambda: _rows(citizen_id))
    login(client, CITIZEN)
    assert client.get(f"/documents/{doc_id}/view").status_code == 200
    assert client.get(f"/documents/{doc_id}/download").status_code == 200
    assert query(lambda: _rows(citizen_id)) == before


def test_an_admin_may_not_open_a_citizens_document_and_nothing_is_logged(client, query):
    doc_id = query(lambda: _first_document(CITIZEN))
    query(lambda: _case_using(doc_id, dept_code="GA"))
    citizen_id = query(lambda: _user(CITIZEN).citizen_id)
    before = query(lambda: _rows(citizen_id))
    login(client, "admin")
    assert client.get(f"/documents/{doc_id}/view").status_code == 404
    assert query(lambda: _rows(citizen_id)) == before
