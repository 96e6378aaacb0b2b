"""Two portal nodes (gunicorn, two workers each) on one database, one Redis and one S3 store:
a citizen applies with an upload, a reviewer decides, the e-licence is issued and reused in a
second application, every request going to the other node than the one before. Afterwards
every row that names a stored file has its file in the store, every notice exists once, and the
audit chain verifies.
"""

from __future__ import annotations

import os
import re
import time
import uuid

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Application, Document, ELicence, Event, Notice
from services import audit
from tests import files
from tests.conftest import BACKEND, DEMO_PASSWORD, csrf_token, dispose_app, login
from tests.system.cluster import (
    S3_READY,
    RoundRobin,
    celery_worker,
    checker,
    hidden,
    licence_number_from,
    portal_nodes,
    shared_environment,
    stored_keys,
)

# a city's nodes share PostgreSQL; make test runs this in its PostgreSQL half (the SQLite half
# carries the browser suite), PORTAL_TEST_SYSTEM_ON_SQLITE=1 runs it on SQLite too
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        BACKEND != "postgresql" and os.environ.get("PORTAL_TEST_SYSTEM_ON_SQLITE") != "1",
        reason="system tests run against PostgreSQL",
    ),
]

ID_RENEWAL = "330100GA0004"  # 居民身份证换领: issues the 身份证 e-licence


@pytest.fixture
def cluster(database_templates, tmp_path, redis_url, request):
    store = request.getfixturevalue("s3_store") if S3_READY else None
    url, uploads, env, settings = shared_environment(
        database_templates, "twonodes", redis_url, store
    )
    if settings:
        # no shared disk: each node has its own directory, so only the store can carry a file
        for i in range(2):
            own = tmp_path / f"node{i}-uploads"
            own.mkdir()
            env[f"NODE{i}_UPLOAD_DIR"] = str(own)
    # slow work (notice and licence PDFs, SMS) goes through Redis to a Celery worker
    env["CELERY_BROKER_URL"] = redis_url.rsplit("/", 1)[0] + "/1"
    with (
        celery_worker(env, tmp_path),
        portal_nodes(env, count=2, workers=2, log_dir=tmp_path) as nodes,
    ):
        yield nodes, url, uploads, settings
    for node in nodes:
        assert "Traceback" not in node.log_text(), node.log_text()[-4000:]


def test_citizen_reviewer_licence_and_reuse_alternating_between_two_nodes(cluster):
    nodes, url, uploads, settings = cluster
    citizen = RoundRobin(nodes)
    assert login(citizen, "13800000002", DEMO_PASSWORD).status_code == 302

    # 居民身份证换领 with a new photo, uploaded on one node and submitted on the other
    token = csrf_token(citizen, f"/apply/{ID_RENEWAL}")
    started = citizen.post(f"/apply/{ID_RENEWAL}/start", data={"csrf_token": token})
    assert started.status_code == 302, started.get_data(as_text=True)[:500]
    draft = int(re.search(r"/apply/drafts/(\d+)/", started.headers["Location"]).group(1))
    token = csrf_token(citizen, f"/apply/drafts/{draft}/conditions")
    citizen.post(
        f"/apply/drafts/{draft}/conditions",
        data={"csrf_token": token, "c_hukou_local": "yes", "c_minor": "no"},
    )
    page = citizen.get(f"/apply/drafts/{draft}/form").get_data(as_text=True)
    values = dict(re.findall(r'name="(q_\w+)" id="q_\w+" value="([^"]*)"', page))
    formed = citizen.post(
        f"/apply/drafts/{draft}/form",
        data={
            **values,
            "q_delivery": "post",
            "q_address": "杭州市西湖区北山街道 1 号",
            "csrf_token": token,
        },
    )
    assert formed.status_code == 302, re.sub(r"<[^>]+>|\s+", " ", formed.get_data(as_text=True))[
        :3000
    ]
    page = citizen.get(f"/apply/drafts/{draft}/materials").get_data(as_text=True)
    requirements = sorted(set(re.findall(rf"/apply/drafts/{draft}/materials/(\d+)/upload", page)))
    assert requirements, page[:2000]
    photo_bytes = files.jpeg(600, 800) + uuid.uuid4().bytes  # unique content: a new stored file
    for requirement in requirements:
        uploaded = citizen.post(
            f"/apply/drafts/{draft}/materials/{requirement}/upload",
            data={"csrf_token": token, f"u{requirement}_file": (photo_bytes, "photo.jpg")},
        )
        assert uploaded.status_code == 302, uploaded.get_data(as_text=True)[:3000]
    assert (
        citizen.post(f"/apply/drafts/{draft}/materials", data={"csrf_token": token}).status_code
        == 302
    )
    confirm = citizen.get(f"/apply/drafts/{draft}/confirm").get_data(as_text=True)
    submitted = citizen.post(
        f"/apply/drafts/{draft}/submit",
        data={"csrf_token": token, "token": hidden(confirm, "token"), "consent": "y"},
    )
    problems = re.sub(r"<[^>]+>|\s+", " ", confirm.split('id="precheck-title"')[-1][:3000])
    assert submitted.headers["Location"] == f"/cases/{draft}", problems

    # the reviewer works the case, each action on the other node than the page it came from
    reviewer = RoundRobin(nodes)
    assert login(reviewer, "reviewer01", DEMO_PASSWORD).status_code == 302
    case_page = reviewer.get(f"/review/cases/{draft}").get_data(as_text=True)
    for material in re.findall(rf"/review/cases/{draft}/materials/(\d+)/file", case_page)[:2]:
        opened = reviewer.get(f"/review/cases/{draft}/materials/{material}/file")
        assert opened.status_code == 200 and opened.data.startswith(b"\xff\xd8")
    for _step in range(12):
        html = reviewer.get(f"/review/cases/{draft}").get_data(as_text=True)
        actions = re.findall(rf'action="/review/cases/{draft}/actions/(\w+)"', html)
        nxt = next(
            (
                a
                for a in ("accept", "start_review", "advance_step", "approve", "certify", "mail")
                if a in actions
            ),
            None,
        )
        if nxt is None:
            break
        payload = {"csrf_token": hidden(html, "csrf_token"), "version": hidden(html, "version")}
        if nxt == "approve":
            payload["approve-opinion"] = ""
        if nxt == "mail":
            payload.update({"mail-carrier": "ems", "mail-tracking": "EA123456789CN"})
        done = reviewer.post(f"/review/cases/{draft}/actions/{nxt}", data=payload)
        assert done.status_code == 302, (nxt, done.get_data(as_text=True)[:2000])

    case_html = citizen.get(f"/cases/{draft}").get_data(as_text=True)
    assert "EA123456789CN" in case_html
    received = citizen.post(
        f"/cases/{draft}/received",
        data={
            "csrf_token": hidden(case_html, "csrf_token"),
            "version": hidden(case_html, "version"),
        },
    )
    assert received.status_code == 302
    app = checker(url, uploads, settings)
    try:
        with app.app_context():
            case = db.session.get(Application, draft)
            assert case.status == "completed", case.status
            notices = db.session.scalars(select(Notice).where(Notice.application_id == draft)).all()
            assert notices
    finally:
        dispose_app(app)

    # the worker renders the notices; until then the case page says so (not a timing assertion:
    # a generous bound for a busy machine)
    deadline = time.monotonic() + 180
    while "通知书生成中" in (case_html := citizen.get(f"/cases/{draft}").get_data(as_text=True)):
        assert time.monotonic() < deadline, "the worker never rendered the notices"
        time.sleep(0.5)
    # each notice, from both nodes, is the same stored PDF
    links = sorted(set(re.findall(rf'href="(/cases/{draft}/notices/\d+[^"]*)"', case_html)))
    assert links, case_html[:3000]
    for link in links:
        first, second = (
            citizen.get(link.replace("&amp;", "&")),
            citizen.get(link.replace("&amp;", "&")),
        )
        assert first.node != second.node
        assert first.status_code == second.status_code == 200
        if first.data.startswith(b"%PDF"):
            assert first.data == second.data

    # the new 身份证 e-licence and the photo are reused: 居住证申领 needs no new upload
    library = citizen.get("/documents/").get_data(as_text=True)
    assert "居民身份证" in library
    token = csrf_token(citizen, "/apply/330100GA0001")
    second = citizen.post("/apply/330100GA0001/start", data={"csrf_token": token})
    assert second.status_code == 302
    draft2 = int(re.search(r"/apply/drafts/(\d+)/", second.headers["Location"]).group(1))
    token = csrf_token(citizen, f"/apply/drafts/{draft2}/conditions")
    citizen.post(
        f"/apply/drafts/{draft2}/conditions",
        data={"csrf_token": token, "c_basis": "work", "c_agent": "no"},
    )
    materials = citizen.get(f"/apply/drafts/{draft2}/materials").get_data(as_text=True)
    row = re.sub(r"<[^>]+>|\s+", " ", materials)
    assert licence_number_from(url, uploads, settings, draft) in row or "电子证照" in row, row[
        :4000
    ]
    assert {node for node, *_ in citizen.log} == {"node0", "node1"}

    app = checker(url, uploads, settings)
    try:
        with app.app_context():
            keys = stored_keys(app)
            named = set(
                db.session.scalars(
                    select(Document.storage_key).where(Document.storage_key.is_not(None))
                )
            )
            named |= set(db.session.scalars(select(Notice.storage_key)))
            assert named <= keys, sorted(named - keys)[:5]
            licence = db.session.scalar(select(ELicence).where(ELicence.application_id == draft))
            assert licence is not None and licence.document.storage_key in keys
            assert audit.verify_chain().broken_at is None
            assert db.session.scalar(select(func.count()).select_from(Event)) > 0
    finally:
        dispose_app(app)
