"""kill -9 without loss: while citizens upload and submit on two nodes, gunicorn workers are
killed with SIGKILL 20 times. The clients retry what failed, as a person presses again. Then:
every submission the portal confirmed exists exactly once, every row that names a file has it,
after ``flask files cleanup`` no stored file lacks its row, every notice exists once, and the
audit chain verifies.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select
from stdnum.cn import ric

from portal.extensions import db
from portal.limits import DEFAULT_RATE_LIMITS
from portal.models import Application, Document, MaterialType, Notice
from services import audit
from services.accounts import create_citizen_account
from tests import files
from tests.conftest import (
    BACKEND,
    DEMO_PASSWORD,
    csrf_token,
    dispose_app,
    login,
    make_app,
)
from tests.system.cluster import (
    BIN,
    S3_READY,
    RoundRobin,
    hidden,
    portal_nodes,
    shared_environment,
    stored_keys,
)
from tests.system.test_two_nodes import ID_RENEWAL

# a city's nodes share PostgreSQL; make test runs this in its PostgreSQL half (the SQLite half
# carries the browser suite), PORTAL_TEST_SYSTEM_ON_SQLITE=1 runs it on SQLite too
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        BACKEND != "postgresql" and os.environ.get("PORTAL_TEST_SYSTEM_ON_SQLITE") != "1",
        reason="system tests run against PostgreSQL",
    ),
]

KILLS = 20
CITIZENS = 4


def id_number(birth: str, serial: int) -> str:
    body = f"330106{birth}{serial:03d}"
    return body + ric.calc_check_digit(body + "0")  # it reads all but the last character


ID_NUMBERS = [id_number(f"19{70 + i}0{i + 1}1{i}", 101 + 2 * i) for i in range(CITIZENS)]


def add_citizens(app) -> list[str]:
    """Citizens of the load, made before the nodes start (registration is tested elsewhere)."""
    phones = []
    with app.app_context():
        from werkzeug.security import generate_password_hash

        for i, id_number in enumerate(ID_NUMBERS[:CITIZENS]):
            phone = f"1390000{1000 + i:04d}"
            create_citizen_account(
                phone=phone,
                password_hash=generate_password_hash(DEMO_PASSWORD, "pbkdf2:sha256:1"),
                name=f"测试{'甲乙丙丁'[i]}",
                id_number=id_number,
            )
            phones.append(phone)
        db.session.commit()
    return phones


class Retrying(RoundRobin):
    """A person who presses again when the connection broke (the worker was killed): before
    the answer, or in the middle of its body (``ChunkedEncodingError``)."""

    retries: int = 0

    def _send(self, method, path, **kw):
        for attempt in range(6):
            try:
                return super()._send(method, path, **kw)
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ):
                self.retries += 1
                time.sleep(0.2 * (attempt + 1))
        raise AssertionError(f"{method} {path} failed six times")


def journey(client: Retrying, confirmed: list[int], errors: list[str], stop) -> None:
    """Apply for 居民身份证换领 again and again, uploading a new photo each time."""
    while not stop.is_set():
        token = csrf_token(client, f"/apply/{ID_RENEWAL}")
        started = client.post(f"/apply/{ID_RENEWAL}/start", data={"csrf_token": token})
        if started.status_code != 302:
            errors.append(f"start {started.status_code}")
            return
        draft = int(re.search(r"/apply/drafts/(\d+)/", started.headers["Location"]).group(1))
        client.post(
            f"/apply/drafts/{draft}/conditions",
            data={"csrf_token": token, "c_hukou_local": "yes", "c_minor": "no"},
        )
        page = client.get(f"/apply/drafts/{draft}/form").get_data(as_text=True)
        values = dict(re.findall(r'name="(q_\w+)" id="q_\w+" value="([^"]*)"', page))
        client.post(
            f"/apply/drafts/{draft}/form",
            data={**values, "q_delivery": "counter", "csrf_token": token},
        )
        page = client.get(f"/apply/drafts/{draft}/materials").get_data(as_text=True)
        for requirement in sorted(set(re.findall(r"/materials/(\d+)/upload", page))):
            photo = files.jpeg(320, 400) + uuid.uuid4().bytes
            client.post(
                f"/apply/drafts/{draft}/materials/{requirement}/upload",
                data={"csrf_token": token, f"u{requirement}_file": (photo, "photo.jpg")},
            )
        client.post(f"/apply/drafts/{draft}/materials", data={"csrf_token": token})
        confirm = client.get(f"/apply/drafts/{draft}/confirm").get_data(as_text=True)
        submitted = client.post(
            f"/apply/drafts/{draft}/submit",
            data={"csrf_token": token, "token": hidden(confirm, "token"), "consent": "y"},
        )
        if submitted.status_code >= 500:
            errors.append(f"submit {submitted.status_code}")
        elif submitted.headers.get("Location") == f"/cases/{draft}":
            confirmed.append(draft)


@pytest.fixture
def cluster(database_templates, tmp_path, redis_url, request):
    store = request.getfixturevalue("s3_store") if S3_READY else None
    url, uploads, env, settings = shared_environment(
        database_templates,
        "kill",
        redis_url,
        store,
        # the load logs in and uploads far more often than a person
        RATE_LIMITS=json.dumps(dict.fromkeys(DEFAULT_RATE_LIMITS, "100000 per minute")),
    )
    app = make_app(url, uploads, **settings)
    phones = add_citizens(app)
    try:
        with portal_nodes(env, count=2, workers=2, log_dir=tmp_path) as nodes:
            yield nodes, app, env, phones
    finally:
        dispose_app(app)


def test_sigkill_workers_during_uploads_and_submissions_loses_nothing(cluster):
    nodes, app, env, phones = cluster
    clients = []
    for phone in phones:
        client = Retrying(nodes)
        assert login(client, phone, DEMO_PASSWORD).status_code == 302
        clients.append(client)
    confirmed: list[int] = []
    errors: list[str] = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=journey, args=(c, confirmed, errors, stop), daemon=True)
        for c in clients
    ]
    for thread in threads:
        thread.start()
    rng = random.Random(7)
    killed = 0
    time.sleep(1.0)
    # until a kill has cut a request (a worker between requests dies without one), at most
    # four times as many kills: pages answered faster leave workers idle more of the time
    while killed < KILLS or (killed < 4 * KILLS and not sum(c.retries for c in clients)):
        node = rng.choice(nodes)
        pids = node.worker_pids(min_age=2)  # one that has booted and is serving
        if pids:
            os.kill(rng.choice(pids), 9)
            killed += 1
        time.sleep(rng.uniform(0.4, 1.0))
    time.sleep(2.0)
    stop.set()
    for thread in threads:
        thread.join(120)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors
    assert confirmed, "no submission got through"
    assert sum(c.retries for c in clients) > 0, "no request was ever cut by a kill"

    cleanup = subprocess.run(
        [str(BIN / "flask"), "--app", "portal", "files", "cleanup", "--older-than", "0"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert cleanup.returncode == 0, cleanup.stderr

    with app.app_context():
        # every confirmed submission exists once, submitted, with its own number
        for draft in confirmed:
            case = db.session.get(Application, draft)
            assert case is not None and case.status != "draft" and case.number
        numbers = db.session.scalars(
            select(Application.number).where(Application.number.is_not(None))
        ).all()
        assert len(numbers) == len(set(numbers))
        # every row that names a file has it, and every stored file has its row
        keys = stored_keys(app)
        named = set(
            db.session.scalars(
                select(Document.storage_key).where(Document.storage_key.is_not(None))
            )
        )
        named |= set(db.session.scalars(select(Notice.storage_key)))
        for column in (MaterialType.blank_form_key, MaterialType.example_key):
            named |= set(db.session.scalars(select(column).where(column.is_not(None))))
        assert named <= keys, sorted(named - keys)[:5]
        assert keys <= named, sorted(keys - named)[:5]
        # each notice once per case and kind
        duplicated = db.session.execute(
            select(Notice.application_id, Notice.kind, func.count())
            .group_by(Notice.application_id, Notice.kind)
            .having(func.count() > 1)
        ).all()
        assert not duplicated
        report = audit.verify_chain()
        assert report.broken_at is None, report
