"""An IDOR matrix (issue 13): every route that takes the id of one citizen's case or document,
against every kind of actor, each with the status the access rules (services/case_access.py)
promise. The pairs are generated from two tables (ROUTES × ACTORS, EXPECTED by route kind), not
written per route; the count of pairs checked is printed.

Citizen A is 13800000001 (the owner); B is 13800000002. Two agents hold a 亲友代办 authorisation
from A, one valid, one expired and one revoked; reviewer01/reviewer02 are of the case's
department or another; counter01 serves A, a second clerk serves nobody."""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    Application,
    Appointment,
    Authorisation,
    Document,
    Role,
    User,
)
from portal.models.base import utcnow
from seeds.factories import make_id_number
from services import accounts, clock, counter
from tests.conftest import DEMO_PASSWORD, login

AGENTS = {  # phone → (name, how the authorisation from A stands)
    "13900000201": ("周代办", "valid"),
    "13900000202": ("吴过期", "expired"),
    "13900000203": ("郑撤销", "revoked"),
}
ACTORS = {
    "anonymous": None,
    "owner": "13800000001",
    "other_citizen": "13800000002",
    "agent_valid": "13900000201",
    "agent_expired": "13900000202",
    "agent_revoked": "13900000203",
    "reviewer_of_dept": None,  # filled from the case's department
    "reviewer_elsewhere": None,
    "clerk_serving_owner": "counter01",
    "clerk_serving_nobody": "counter09",
    "admin": "admin",
}
ROUTES = {  # endpoint → (path template, kind)
    "apply.case": ("/cases/{case}", "citizen_case"),
    "appointments.detail": ("/appointments/{appointment}", "citizen_case"),
    "counter.case": ("/counter/cases/{case}", "counter_case"),
    "review.case": ("/review/cases/{case}", "review_case"),
    "review.material_file": ("/review/cases/{case}/materials/{material}/file", "review_case"),
    "documents.view": ("/documents/{document}/view", "document"),
    "documents.download": ("/documents/{document}/download", "document"),
}
_ = 403  # the actor's role may not use the route at all
EXPECTED = {
    "citizen_case": {
        "anonymous": 302, "owner": 200, "other_citizen": 404, "agent_valid": 404,
        "agent_expired": 404, "agent_revoked": 404, "reviewer_of_dept": _,
        "reviewer_elsewhere": _, "clerk_serving_owner": _, "clerk_serving_nobody": _, "admin": _,
    },
    "counter_case": {
        "anonymous": 302, "owner": _, "other_citizen": _, "agent_valid": _, "agent_expired": _,
        "agent_revoked": _, "reviewer_of_dept": _, "reviewer_elsewhere": _,
        # a clerk not serving the applicant: 403 and a counter_access_refused audit event
        # (services/counter.check_serving), the one refusal that is not a 404
        "clerk_serving_owner": 200, "clerk_serving_nobody": 403, "admin": _,
    },
    "review_case": {
        "anonymous": 302, "owner": _, "other_citizen": _, "agent_valid": _, "agent_expired": _,
        "agent_revoked": _, "reviewer_of_dept": 200, "reviewer_elsewhere": 404,
        "clerk_serving_owner": _, "clerk_serving_nobody": _, "admin": _,
    },
    "document": {
        "anonymous": 302, "owner": 200, "other_citizen": 404, "agent_valid": 200,
        "agent_expired": 404, "agent_revoked": 404, "reviewer_of_dept": 200,
        "reviewer_elsewhere": 404, "clerk_serving_owner": 200, "clerk_serving_nobody": 404,
        "admin": 404,
    },
}  # fmt: skip


def _setup() -> dict:
    """A's submitted case, made to use a document of A's, its department's reviewers, the agents
    and their authorisations, the second clerk, and counter01 serving A; committed into the
    test's transaction."""
    owner = db.session.scalar(select(User).where(User.phone == "13800000001"))
    reviewers = {
        u.username: u
        for u in db.session.scalars(select(User).where(User.username.like("reviewer0%")))
    }
    case = db.session.scalar(
        select(Application)
        .where(
            Application.applicant_id == owner.citizen_id,
            Application.status != "draft",
            Application.department_id.in_([r.department_id for r in reviewers.values()]),
        )
        .order_by(Application.id)
        .limit(1)
    )
    document = db.session.scalar(
        select(Document).where(Document.owner_id == owner.citizen_id).order_by(Document.id)
    )
    material = case.materials[0]
    material.document_id = document.id  # the case uses the document: its reviewer may open it
    today = clock.local_today()
    rng = random.Random(2026)
    for phone, (name, state) in AGENTS.items():
        agent = accounts.register_citizen(
            phone=phone,
            password=DEMO_PASSWORD,
            name=name,
            id_number=make_id_number(date(1980, 1, 1), rng),
        )
        until = today - timedelta(days=1) if state == "expired" else today + timedelta(days=30)
        db.session.add(
            Authorisation(
                principal_id=owner.citizen_id,
                agent_id=agent.citizen_id,
                valid_from=today - timedelta(days=60),
                valid_until=until,
                revoked_at=utcnow() if state == "revoked" else None,
            )
        )
    clerk = db.session.scalar(select(User).where(User.username == "counter01"))
    accounts.create_staff(
        username="counter09",
        password=DEMO_PASSWORD,
        role=Role.counter,
        display_name="窗口九",
        department=clerk.department,
        second_factor_exempt=True,
    )
    counter.begin_context(clerk, owner.citizen)
    db.session.commit()
    of_dept = next(u for u in reviewers.values() if u.department_id == case.department_id)
    elsewhere = next(u for u in reviewers.values() if u.department_id != case.department_id)
    appointment = db.session.scalar(
        select(Appointment.id).where(Appointment.citizen_id == owner.citizen_id).limit(1)
    )
    db.session.commit()
    return {
        "appointment": appointment,
        "material": material.id,
        "case": case.id,
        "document": document.id,
        "reviewer_of_dept": of_dept.username,
        "reviewer_elsewhere": elsewhere.username,
    }


def test_idor_matrix(app, query):
    ids = query(_setup)
    actors = {**ACTORS, **{k: ids[k] for k in ("reviewer_of_dept", "reviewer_elsewhere")}}
    clients = {}
    for actor, account in actors.items():
        clients[actor] = app.test_client()
        if account:
            assert login(clients[actor], account).status_code == 302, actor
    wrong, checked = [], 0
    for endpoint, (template, kind) in ROUTES.items():
        path = template.format(**ids)
        for actor, expected in EXPECTED[kind].items():
            status = clients[actor].get(path).status_code
            checked += 1
            if status != expected:
                wrong.append(f"{endpoint} {path} as {actor}: {status}, expected {expected}")
    print(f"IDOR pairs checked: {checked}")
    assert checked == len(ROUTES) * len(ACTORS)
    assert not wrong, "\n".join(wrong)
