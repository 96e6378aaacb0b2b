"""The offline intake's routes: the cacheable shell, the service worker, the catalogue, a fresh
CSRF token, and the idempotent intake API (201 first, 200 with the same case on replay, 422
with field errors on refusal, CSRF and the key required, counter staff only)."""

import io
import json
import re
import uuid

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Application, Citizen
from seeds.factories import make_png
from tests.services.test_offline_intake import payload, requirement, resident_id
from tests.workflow_cases import RESIDENCE_PERMIT, item_named


def fresh_token(client):
    response = client.get("/counter/offline/token")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    return response.get_json()["csrf_token"]


def intake(query, **kwargs):
    def make():
        item = item_named(RESIDENCE_PERMIT)
        ids = {code: requirement(item, code).id for code in ("M001", "M056")}
        return payload(item, **kwargs), ids

    return query(make)


def post(client, data, ids, key, token, files=True):
    form = {"payload": json.dumps(data, ensure_ascii=False)}
    if files:
        form[f"file_{ids['M001']}"] = (io.BytesIO(make_png()), "id.png")
        form[f"file_{ids['M056']}"] = (io.BytesIO(make_png(colour=(250, 250, 250))), "photo.png")
    return client.post(
        "/counter/api/intakes",
        data=form,
        content_type="multipart/form-data",
        headers={"X-CSRFToken": token, "Idempotency-Key": key},
    )


def test_the_shell_holds_no_personal_data_and_its_strings_are_translated(login_as, query):
    client = login_as("counter01")

    def serve():
        from services import counter
        from tests.workflow_cases import user

        citizen = user("13800000001").citizen
        counter.begin_context(user("counter01"), citizen)
        db.session.commit()
        return citizen.name, citizen.id_number

    served = query(serve)  # whoever the clerk is serving, the cached page shows none of it
    response = client.get("/counter/offline")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-cache"
    assert "<h1>离线受理</h1>" in page and 'role="status"' in page
    strings = json.loads(
        re.search(
            r'<script type="application/json" id="offline-strings">(.*?)</script>', page, re.S
        ).group(1)
    )
    assert strings["offline"].startswith("离线模式") and "{n}" in strings["offline"]
    for field in ("a_name", "a_id_number", "a_phone", "a_address", "g_name", "g_id_number"):
        assert re.search(rf'id="{field}" name="{field}" autocomplete="off"', page), field
    for detail in (*served, "13800000001"):
        assert detail not in page
    client.post("/auth/logout", data={"csrf_token": fresh_token(client)})
    english = login_as("counter01")
    english.post(
        "/preferences/language",
        data={"locale": "en", "next": "/", "csrf_token": fresh_token(english)},
    )
    page = english.get("/counter/offline").get_data(as_text=True)
    strings = json.loads(re.search(r'id="offline-strings">(.*?)</script>', page, re.S).group(1))
    assert strings["offline"].startswith("Offline mode")


def test_the_service_worker_is_served_for_the_counter_scope(login_as):
    client = login_as("counter01")
    response = client.get("/counter/sw.js")
    assert response.status_code == 200 and response.mimetype == "application/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/counter/"
    assert response.headers["Cache-Control"] == "no-cache"
    source = response.get_data(as_text=True)
    config = json.loads(re.match(r"self\.OFFLINE_CONFIG = (\{.*?\});\n", source).group(1))
    assert (
        config["shell"] == "/counter/offline"
        and config["catalogue"] == "/counter/offline/catalogue.json"
    )
    # the assets as the pages link them (with their content hash, portal/assets.py): the worker
    # matches a request's path against these
    intake = [
        a for a in config["assets"] if re.fullmatch(r"/static/v-\w+/js/offline-intake\.js", a)
    ]
    assert intake and intake[0] in client.get("/counter/offline").get_data(as_text=True)
    assert len(config["version"]) == 16
    assert 'addEventListener("fetch"' in source


def test_the_catalogue_is_json_for_counter_staff_only(login_as, client):
    assert client.get("/counter/offline/catalogue.json").status_code == 302
    login_as("counter01")
    items = client.get("/counter/offline/catalogue.json").get_json()["items"]
    permit = next(i for i in items if i["name"] == RESIDENCE_PERMIT)
    assert permit["code"] and permit["version"] and permit["materials"]


def test_an_intake_is_created_once_and_replayed(login_as, query):
    client = login_as("counter01")
    data, ids = intake(query)
    key = str(uuid.uuid4())
    first = post(client, data, ids, key, fresh_token(client))
    assert first.status_code == 201, first.get_data(as_text=True)
    number = first.get_json()["number"]
    again = post(client, data, ids, key, fresh_token(client))
    assert again.status_code == 200 and again.get_json()["number"] == number
    assert (
        query(
            lambda: db.session.scalar(
                select(func.count()).select_from(Application).where(Application.number == number)
            )
        )
        == 1
    )
    case = query(lambda: db.session.scalar(select(Application).where(Application.number == number)))
    assert case.status == "submitted"


def test_a_refusal_is_422_with_field_errors_and_writes_nothing(login_as, query):
    client = login_as("counter01")
    known = query(lambda: db.session.scalar(select(Citizen).where(Citizen.phone == "13800000002")))
    data, ids = intake(query, name="李不对", id_number=known.id_number)
    before = query(lambda: db.session.scalar(select(func.count()).select_from(Application)))
    response = post(client, data, ids, str(uuid.uuid4()), fresh_token(client))
    assert response.status_code == 422
    assert response.get_json() == {
        "status": "refused",
        "errors": {"a_name": "姓名与该身份证号的登记信息不一致"},
    }
    assert query(lambda: db.session.scalar(select(func.count()).select_from(Application))) == before


def test_csrf_and_the_key_are_required(login_as, query):
    client = login_as("counter01")
    data, ids = intake(query, id_number=resident_id("11010519491231002"))
    assert post(client, data, ids, str(uuid.uuid4()), "not-a-token").status_code == 400
    response = post(client, data, ids, "not-a-uuid", fresh_token(client))
    assert response.status_code == 400 and "key" in response.get_json()["errors"]
    bad = client.post(
        "/counter/api/intakes",
        data={"payload": "{"},
        content_type="multipart/form-data",
        headers={"X-CSRFToken": fresh_token(client), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert bad.status_code == 400


def test_another_clerks_key_is_not_found_and_other_roles_are_refused(login_as, query, client):
    data, ids = intake(query)
    key = str(uuid.uuid4())
    login_as("counter01")
    assert post(client, data, ids, key, fresh_token(client)).status_code == 201

    def second_clerk():
        from portal.models import Role
        from services import accounts
        from tests.workflow_cases import user

        accounts.create_staff(
            username="counter07",
            second_factor_exempt=True,  # logs in with the password only, as the demo accounts do
            password="Demo@2026x",
            role=Role.counter,
            display_name="综合窗口七",
            department=user("counter01").department,
        )
        db.session.commit()

    query(second_clerk)
    client.post("/auth/logout", data={"csrf_token": fresh_token(client)})
    from tests.conftest import login

    assert login(client, "counter07", "Demo@2026x").status_code == 302
    response = post(client, data, ids, key, fresh_token(client))
    assert response.status_code == 404 and "number" not in response.get_json()
    client.post("/auth/logout", data={"csrf_token": fresh_token(client)})
    login_as("13800000001")
    token = re.search(
        r'name="csrf-token" content="([^"]+)"', client.get("/").get_data(as_text=True)
    ).group(1)
    assert post(client, data, ids, str(uuid.uuid4()), token).status_code == 403
