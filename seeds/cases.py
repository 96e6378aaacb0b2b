"""Cases submitted through the services, as a citizen would: shared by the demo seed and the
tests (one source of fake data)."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.models import Application, Document, Grade, MaterialType, ServiceItem, User
from seeds.factories import make_png
from services import applications, clock
from services.documents import add_document


def user(login: str) -> User:
    return db.session.scalar(select(User).where((User.phone == login) | (User.username == login)))


def item_named(name: str) -> ServiceItem:
    return next(
        i
        for i in db.session.scalars(select(ServiceItem))
        if i.published_version and i.published_version.name == name
    )


def upload(
    citizen, material_type: MaterialType, *, colour=(200, 220, 240), grade=Grade.C
) -> Document:
    """A scanned page the citizen uploads (grade C until staff check the original)."""
    return add_document(
        owner=citizen,
        material_type=material_type,
        data=make_png(colour=colour),
        content_type="image/png",
        filename="scan.png",
        grade=grade,
        source="upload",
        issued_on=clock.local_today(),
    )


def submit_case(
    login: str,
    item_name: str,
    conditions: dict[str, str] | None = None,
    *,
    options: dict[str, str] | None = None,
    answers: dict[str, str] | None = None,
) -> Application:
    """A case submitted online: conditions (first option unless given), prefilled answers,
    uploads for every missing material, or the given 容缺/告知承诺 options by material name."""
    actor = user(login)
    citizen = actor.citizen
    item = item_named(item_name)
    version = item.published_version
    app = applications.start_draft(actor=actor, applicant=citizen, item=item)
    chosen = {q["key"]: q["options"][0][0] for q in version.condition_questions}
    chosen.update(conditions or {})
    applications.save_conditions(app, chosen)
    values = applications.prefill(app, citizen)
    for q in version.questions:
        if values.get(q["key"]) in (None, ""):
            values[q["key"]] = {
                "select": (q.get("options") or [["x"]])[0][0],
                "multiselect": [(q.get("options") or [["x"]])[0][0]],
                "checkbox": "y",
                "number": str(q.get("min") or 1),
                "money": "1",
                "date": clock.local_today().isoformat(),
                "address": "人民路 1 号",
                "credit_code": "91330100MA27XL0E2G",
            }.get(q["type"], "测试")
    values.update(answers or {})
    applications.save_form(app, values)
    for material in app.materials:
        name = material.requirement.material_type.name
        if options and name in options:
            applications.choose_option(app, material.requirement_id, options[name], citizen)
        elif material.satisfied_by.value == "missing":
            doc = upload(citizen, material.requirement.material_type)
            applications.choose_document(app, material.requirement_id, doc.id)
    return applications.submit_application(actor, app.id, app.submit_token)
