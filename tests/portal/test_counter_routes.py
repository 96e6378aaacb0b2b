"""The counter workstation through the web layer: two walk-ins served in a row leave nothing of
the first on any page shown while serving the second; crafted URLs for another citizen's case
are refused and logged; bad input is refused next to its field and changes nothing."""

from __future__ import annotations

import io
import random
import re
from datetime import date

from pypdf import PdfReader
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Application, Citizen, CounterContext, Event, Notice
from seeds.factories import make_id_number, make_png
from services import clock, workflow
from services.identity import mask_id_number, mask_name, mask_phone
from tests.conftest import csrf_token, login
from tests.helpers import page_errors
from tests.workflow_cases import RESIDENCE_PERMIT, UNEMPLOYMENT, item_named, submit_case, user

FIRST = {
    "name": "钱多多",
    "id_number": make_id_number(date(1979, 5, 6), random.Random(41), area="310105"),
    "phone": "13912345671",
    "address": "南京西路八十八号",
}
SECOND = {
    "name": "孙悟净",
    "id_number": make_id_number(date(1991, 8, 1), random.Random(42), area="320102"),
    "phone": "13912345672",
    "address": "北京东路九号",
}


class Desk:
    """The clerk's browser: every response shown is kept (body and Location header)."""

    def __init__(self, client):
        self.client = client
        self.shown: list[str] = []

    def _keep(self, response):
        self.shown.append(response.headers.get("Location", ""))
        if response.mimetype == "application/pdf":  # a printed notice: its text
            reader = PdfReader(io.BytesIO(response.get_data()))
            self.shown.append("".join(p.extract_text() for p in reader.pages).replace("\n", ""))
        else:
            self.shown.append(response.get_data(as_text=True))
        return response

    def get(self, path):
        return self._keep(self.client.get(path))

    def post(self, path, data=None, page="/counter/"):
        token = csrf_token(self.client, page)
        return self._keep(self.client.post(path, data={"csrf_token": token, **(data or {})}))

    def forget(self):
        self.shown = []


def register(desk, person):
    found = desk.post("/counter/lookup", {"lookup-query": person["id_number"]})
    assert found.status_code == 200 and "当场登记实名信息" in found.get_data(as_text=True)
    done = desk.post("/counter/register", {f"register-{k}": v for k, v in person.items()})
    assert done.status_code == 302 and done.headers["Location"].endswith("/counter/")


def fill_unemployment(desk, intake: str) -> None:
    """情形 and 信息 of 失业登记 on the one intake page, the rest as the portal prefilled it."""
    page = desk.get(intake).get_data(as_text=True)
    values = dict(re.findall(r'name="(q_\w+)" id="q_\w+" value="([^"]*)"', page))
    saved = desk.post(intake, {"c_reason": "other", **values, "q_job_wish": "会计"}, page=intake)
    assert saved.status_code == 302, saved.get_data(as_text=True)[:3000]


def instant_intake(desk) -> int:
    """失业登记 (即办件) taken, approved and handed over on the spot; returns the case id."""
    items = desk.get(f"/counter/?q={UNEMPLOYMENT}").get_data(as_text=True)
    code = re.search(r'name="item" value="([^"]+)"', items).group(1)
    started = desk.post("/counter/intake", {"item": code})
    intake = started.headers["Location"]
    fill_unemployment(desk, intake)
    page = desk.get(intake).get_data(as_text=True)
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    submitted = desk.post(f"{intake}/submit", {"token": token}, page=intake)
    assert submitted.status_code == 302, submitted.get_data(as_text=True)[:3000]
    case_url = submitted.headers["Location"]
    case_id = int(case_url.rsplit("/", 1)[1])
    html = desk.get(case_url).get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', html).group(1)
    approved = desk.post(
        f"{case_url}/actions/approve_instantly", {"version": version}, page=case_url
    )
    assert approved.status_code == 302
    html = desk.get(case_url).get_data(as_text=True)
    if "/actions/complete" in html:  # the result is handed over at the counter (出件)
        version = re.search(
            r'action="[^"]*/actions/complete"[^>]*>\s*<input[^>]*>\s*<input type="hidden" '
            r'name="version" value="(\d+)"',
            html,
        ).group(1)
        assert (
            desk.post(
                f"{case_url}/actions/complete", {"version": version}, page=case_url
            ).status_code
            == 302
        )
        html = desk.get(case_url).get_data(as_text=True)
    assert "已办结" in html
    for link in re.findall(r'href="(/counter/cases/\d+/notices/\d+)"', html):
        pdf = desk.get(link)
        assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    return case_id


def test_two_walk_ins_in_a_row_share_nothing(client, query):
    login(client, "counter01")
    desk = Desk(client)
    register(desk, FIRST)
    first_case = instant_intake(desk)
    assert desk.post("/counter/reveal").status_code == 302
    assert FIRST["name"] in desk.get("/counter/").get_data(as_text=True)  # revealed while serving
    assert desk.post("/counter/next").status_code == 302

    desk.forget()  # from here on, nothing of the first citizen may be shown
    desk.get("/counter/")
    register(desk, SECOND)
    desk.get("/counter/")
    second_case = instant_intake(desk)
    desk.get(f"/counter/?q={RESIDENCE_PERMIT}")
    shown = "\n".join(desk.shown)
    secrets = [
        FIRST["name"],
        FIRST["id_number"],
        FIRST["phone"],
        FIRST["address"],
        mask_name(FIRST["name"]),
        mask_id_number(FIRST["id_number"]),
        mask_phone(FIRST["phone"]),
        FIRST["address"][:6],
    ]
    leaks = [s for s in secrets if s in shown]
    assert not leaks, leaks
    assert mask_name(SECOND["name"]) in shown  # the pages did show the second citizen
    for location in desk.shown[::2]:
        assert not re.search(r"\d{11}|\d{17}[\dX]", location), location

    # the first citizen's case through a crafted URL: 403 and logged
    refused = desk.get(f"/counter/cases/{first_case}")
    assert refused.status_code == 403
    assert FIRST["name"] not in refused.get_data(as_text=True)
    event = query(
        lambda: db.session.scalar(
            select(Event).where(
                Event.action == "counter_access_refused", Event.application_id == first_case
            )
        )
    )
    assert event is not None
    assert desk.get(f"/counter/cases/{first_case}/notices/1").status_code == 403
    assert desk.get(f"/counter/cases/{second_case}").status_code == 200


def test_a_crafted_url_for_a_case_of_someone_not_served_is_refused(client, query):
    case_id = query(
        lambda: (
            (
                submit_case("13800000001", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"}),
                db.session.commit(),
            )[0].id
        )
    )
    login(client, "counter01")
    desk = Desk(client)
    assert desk.get(f"/counter/cases/{case_id}").status_code == 403  # nobody served
    assert desk.post("/counter/lookup", {"lookup-query": "13800000002"}).status_code == 302
    assert desk.get(f"/counter/cases/{case_id}").status_code == 403
    response = desk.post(f"/counter/cases/{case_id}/actions/accept", {"version": "1"})
    assert response.status_code == 403
    count = query(
        lambda: db.session.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.action == "counter_access_refused", Event.application_id == case_id)
        )
    )
    assert count == 3
    assert query(lambda: db.session.get(Application, case_id).status) == "submitted"


def test_bad_input_is_refused_next_to_the_field(client, query):
    login(client, "counter01")
    desk = Desk(client)
    before = query(lambda: db.session.scalar(select(func.count()).select_from(Citizen)))
    bad = desk.post("/counter/lookup", {"lookup-query": "110101199002301234"})
    assert bad.status_code == 422
    assert re.search(r'id="lookup-query-error"[^>]*>.*身份证号', bad.get_data(as_text=True))
    taken = desk.post(
        "/counter/register",
        {f"register-{k}": v for k, v in {**FIRST, "phone": "13800000001"}.items()},
    )
    assert taken.status_code == 422
    assert re.search(
        r'id="register-phone-error"[^>]*>.*已登记在他人名下', taken.get_data(as_text=True)
    )
    assert query(lambda: db.session.scalar(select(func.count()).select_from(Citizen))) == before
    assert (
        query(
            lambda: db.session.scalar(
                select(func.count())
                .select_from(CounterContext)
                .where(CounterContext.ended_at.is_(None))
            )
        )
        == 0
    )
    html = desk.get("/counter/").get_data(as_text=True)
    assert 'name="lookup-query"' in html and 'autocomplete="off"' in html


def test_found_citizen_is_masked_until_revealed_and_the_agent_needs_an_authorisation(client, query):
    login(client, "counter01")
    desk = Desk(client)
    found = desk.post("/counter/lookup", {"lookup-query": "13800000003"})
    assert found.headers["Location"].endswith("/counter/")
    html = desk.get("/counter/").get_data(as_text=True)
    assert "王*兰" in html and "王秀兰" not in html
    agent = {
        "name": "周到",
        "id_number": make_id_number(date(1988, 1, 2), random.Random(43), area="310104"),
        "phone": "13912345673",
    }
    assert (
        desk.post("/counter/agent", {f"agent-{k}": v for k, v in agent.items()}).status_code == 302
    )
    code = query(lambda: item_named(UNEMPLOYMENT).code)
    intake = desk.post("/counter/intake", {"item": code}).headers["Location"]
    page = desk.get(intake).get_data(as_text=True)
    assert "授权委托书" in page and "capture" in page and 'accept="image/*,application/pdf"' in page
    assert 'autocomplete="name"' not in page and 'autocomplete="tel"' not in page
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    fill_unemployment(desk, intake)
    refused = desk.post(f"{intake}/submit", {"token": token}, page=intake)
    assert (
        refused.status_code == 422
        and "代理人办理须提交申请人签署的授权委托书" in refused.get_data(as_text=True)
    )
    draft_id = int(intake.rsplit("/", 1)[1])
    assert query(lambda: db.session.get(Application, draft_id).status) == "draft"
    # the signed 授权委托书, scanned at the counter: its issue date is needed (valid for 3 months)
    token_ = csrf_token(client, intake)
    undated = client.post(
        f"{intake}/authorisation",
        data={"csrf_token": token_, "file": (io.BytesIO(make_png()), "auth.png")},
    )
    assert undated.status_code == 422 and 'id="authorisation_issued_on-error"' in undated.get_data(
        as_text=True
    )
    scanned = client.post(
        f"{intake}/authorisation",
        data={
            "csrf_token": token_,
            "file": (io.BytesIO(make_png()), "auth.png"),
            "issued_on": clock.local_today().isoformat(),
        },
    )
    assert scanned.status_code == 302
    submitted = desk.post(f"{intake}/submit", {"token": token}, page=intake)
    assert submitted.status_code == 302
    case = query(
        lambda: (
            lambda a: (a.status, a.agent_id is not None, a.agent_authorisation_id, a.applicant.name)
        )(db.session.get(Application, draft_id))
    )
    assert case[0] != "draft" and case[1] and case[2] is not None and case[3] == "王秀兰"
    assert (
        query(
            lambda: db.session.scalar(
                select(func.count()).select_from(Notice).where(Notice.application_id == draft_id)
            )
        )
        == 0
    )


def test_corrections_brought_to_the_counter_change_only_the_listed_items(client, query):
    """A case submitted online, 一次性告知 by the department; the citizen brings a new photo to a
    counter: the clerk sees the same locked correction page, scans it and resubmits."""

    def make():
        case = submit_case("13800000001", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
        photo = next(m for m in case.materials if m.document_id)
        workflow.perform(
            user("reviewer01"),
            case.id,
            "request_correction",
            case.version,
            fields={},
            materials={photo.requirement_id: "背景不是白色"},
        )
        db.session.commit()
        return case.id, photo.requirement_id, photo.document_id

    case_id, req_id, old_doc = query(make)
    login(client, "counter01")
    desk = Desk(client)
    assert desk.get(f"/counter/cases/{case_id}/resubmit").status_code == 403  # nobody served
    assert desk.post("/counter/lookup", {"lookup-query": "13800000001"}).status_code == 302
    case_page = desk.get(f"/counter/cases/{case_id}").get_data(as_text=True)
    assert f"/counter/cases/{case_id}/resubmit" in case_page
    page = desk.get(f"/counter/cases/{case_id}/resubmit")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "背景不是白色" in html
    form_page = f"/counter/cases/{case_id}/resubmit"
    bad = desk.client.post(
        f"{form_page}/materials/{req_id}/upload",
        data={
            "csrf_token": csrf_token(client, form_page),
            "file": (io.BytesIO(b"not an image"), "photo.png"),
        },
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422
    uploaded = desk.client.post(
        f"{form_page}/materials/{req_id}/upload",
        data={
            "csrf_token": csrf_token(client, form_page),
            "file": (io.BytesIO(make_png(colour=(255, 255, 255))), "photo.png"),
        },
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 302, page_errors(uploaded.get_data(as_text=True))
    html = desk.get(form_page).get_data(as_text=True)
    chosen = re.search(rf'name="m_{req_id}"[^>]*value="(doc:\d+)"[^>]*checked', html).group(1)
    assert chosen != f"doc:{old_doc}"
    version = re.search(r'name="version" value="(\d+)"', html).group(1)
    done = desk.post(form_page, {"version": version, f"m_{req_id}": chosen}, page=form_page)
    assert done.status_code == 302 and done.headers["Location"].endswith(
        f"/counter/cases/{case_id}"
    )
    case = query(lambda: db.session.get(Application, case_id))
    assert case.status == "submitted" and case.visit_count == 1
