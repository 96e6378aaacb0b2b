"""Submitted cases made through the services, for the workflow's service, route, access and
browser tests (call inside an app context; the caller commits when it needs to)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from portal.extensions import db
from portal.models import Application, Document, Grade, MaterialType, ServiceItem, User
from seeds.factories import make_png
from services import applications as svc
from services.documents import add_document

RESIDENCE_PERMIT = "居住证申领"  # 公安局, 7 自然日, photo and 身份证 required
UNEMPLOYMENT = "失业登记"  # 人社局, 即办件, a deferrable material when dismissed
RESIDENCE_REGISTRATION = "居住登记"  # 公安局, 即办件, 告知承诺 for a rented home; 秒批 rules
ELDER_CARD = "老年人优待证申领"  # 民政局, 秒批: min_age 60 and an 身份证 e-licence


def user(login: str) -> User:
    return db.session.scalar(select(User).where((User.phone == login) | (User.username == login)))


def item_named(name: str) -> ServiceItem:
    return next(i for i in db.session.scalars(select(ServiceItem))
                if i.published_version and i.published_version.name == name)


def upload(citizen, material_type: MaterialType, *, colour=(200, 220, 240), grade=Grade.C) -> Document:
    return add_document(owner=citizen, material_type=material_type, data=make_png(colour=colour),
                        content_type="image/png", filename="scan.png", grade=grade,
                        source="upload", issued_on=date.today())


def submit_case(login: str, item_name: str, conditions: dict[str, str] | None = None, *,
                options: dict[str, str] | None = None, answers: dict[str, str] | None = None) -> Application:
    """A case submitted online: conditions (first option unless given), prefilled answers,
    uploads for every missing material, or the given 容缺/告知承诺 options by material name."""
    actor = user(login)
    citizen = actor.citizen
    item = item_named(item_name)
    version = item.published_version
    app = svc.start_draft(actor=actor, applicant=citizen, item=item)
    chosen = {q["key"]: q["options"][0][0] for q in version.condition_questions}
    chosen.update(conditions or {})
    svc.save_conditions(app, chosen)
    values = svc.prefill(app, citizen)
    for q in version.questions:
        if values.get(q["key"]) in (None, ""):
            values[q["key"]] = {"select": (q.get("options") or [["x"]])[0][0],
                                "multiselect": [(q.get("options") or [["x"]])[0][0]],
                                "checkbox": "y", "number": str(q.get("min") or 1), "money": "1",
                                "date": date.today().isoformat(), "address": "人民路 1 号"}.get(q["type"], "测试")
    values.update(answers or {})
    svc.save_form(app, values)
    for material in app.materials:
        name = material.requirement.material_type.name
        if options and name in options:
            svc.choose_option(app, material.requirement_id, options[name], citizen)
        elif material.satisfied_by.value == "missing":
            doc = upload(citizen, material.requirement.material_type)
            svc.choose_document(app, material.requirement_id, doc.id)
    return svc.submit_application(actor, app.id, app.submit_token)
