"""The citizen's side of the workflow: what a correction or a 容缺 supply page offers, the
notices and the e-licence of their own case."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import (
    Application,
    ApplicationMaterial,
    CorrectionRequest,
    Document,
    ELicence,
    Event,
    MaterialRequirement,
    Notice,
    Rating,
    Role,
    SatisfiedBy,
    User,
    Visit,
)
from services import (
    applications,
    bundle_applications,
    clock,
    counter,
    notices,
    ratings,
    reuse,
    timeline,
    workflow,
)
from services.errors import Conflict, NotFound


@dataclass
class MaterialChoice:
    material: ApplicationMaterial
    reason: str
    usable: list[Document] = field(default_factory=list)
    excluded: list[tuple[Document, str]] = field(default_factory=list)
    chosen: int | None = None  # the document uploaded for it since the request, offered first


@dataclass
class FieldChoice:
    question: dict[str, Any]
    reason: str
    value: Any


def own_case(actor: User, application_id: int) -> Application:
    """The applicant's (or agent's) case; at a counter, a case of the citizen being served, who
    brought the corrections in person (anything else: 403 and logged)."""
    if actor.role == Role.counter:
        app = counter.check_serving(actor, application_id)
    else:
        app = applications.get_own_application(actor, application_id)
    if app.status == "draft":
        raise NotFound(str(_l("办件不存在")))
    return app


def _library_choices(
    app: Application,
    materials: list[tuple[ApplicationMaterial, str]],
    since: datetime | None = None,
) -> list[MaterialChoice]:
    """The library documents each material may switch to; one uploaded after ``since`` (the
    correction request) is preselected."""
    needed_until = app.due_date or applications.promised_date(app.item_version)
    library = reuse.load_library(
        app.applicant_id, [m.requirement.material_type_id for m, _ in materials]
    )
    rows = []
    for material, reason in materials:
        row = MaterialChoice(material, reason)
        for doc in library.get(material.requirement.material_type_id, []):
            if doc.id == material.document_id:
                continue
            why = reuse.usable_until(doc, needed_until)
            (row.excluded.append((doc, why)) if why else row.usable.append(doc))
        fresh = [d for d in row.usable if since is not None and d.created_at >= since]
        row.chosen = max(fresh, key=lambda d: d.id).id if fresh else None
        rows.append(row)
    return rows


def correction_page(
    actor: User, application_id: int
) -> tuple[Application, list[FieldChoice], list[MaterialChoice]]:
    """The items the correction notice listed, and only those: everything else stays locked."""
    app = own_case(actor, application_id)
    request = workflow.open_correction(app) if app.status == "correction_required" else None
    if request is None:
        raise Conflict(str(_l("该办件目前不需要补正")))
    questions = {q["key"]: q for q in app.item_version.questions or []}
    by_requirement = {m.requirement_id: m for m in app.materials}
    fields = [
        FieldChoice(questions[i["key"]], i["reason"], (app.form_data or {}).get(i["key"]))
        for i in request.items
        if i["kind"] == "field" and i["key"] in questions
    ]
    materials = [
        (by_requirement[int(i["key"])], i["reason"])
        for i in request.items
        if i["kind"] == "material" and int(i["key"]) in by_requirement
    ]
    return app, fields, _library_choices(app, materials, since=request.requested_at)


def upload_for_correction(
    actor: User, application_id: int, requirement_id: int, **upload: Any
) -> Document:
    """A new file for one material the correction notice listed (and only those): it goes to
    the applicant's library and is preselected on the correction page."""
    app, _fields, materials = correction_page(actor, application_id)
    row = next((m for m in materials if m.material.requirement_id == requirement_id), None)
    if row is None:
        raise NotFound(str(_l("该材料不在补正清单中")))
    return applications.upload_to_library(
        actor,
        app.applicant,
        row.material.requirement.material_type_id,
        f"u{requirement_id}",
        **upload,
    )


def supply_page(actor: User, application_id: int) -> tuple[Application, list[MaterialChoice]]:
    app = own_case(actor, application_id)
    if app.status != "accepted_pending_materials":
        raise Conflict(str(_l("该办件目前不需要补交材料")))
    deferred = [(m, "") for m in app.materials if m.satisfied_by == SatisfiedBy.deferred]
    return app, _library_choices(app, deferred)


def case_notice(actor: User, application_id: int, notice_id: int):
    own_case(actor, application_id)
    return notices.get_case_notice(application_id, notice_id)


def case_licence(actor: User, application_id: int) -> tuple[ELicence, Document]:
    """The e-licence this case issued, for its holder to download."""
    app = own_case(actor, application_id)
    licence = db.session.scalar(
        select(ELicence)
        .where(ELicence.application_id == app.id)
        .order_by(ELicence.id.desc())
        .limit(1)
    )
    if licence is None or licence.document_id is None or licence.holder_id != app.applicant_id:
        raise NotFound(str(_l("该办件没有电子证照")))
    return licence, db.session.get(Document, licence.document_id)


@dataclass(frozen=True)
class CasePage:
    """What the citizen's case page shows, loaded in a fixed number of queries."""

    materials: list[ApplicationMaterial]
    events: list[Event]
    notices: list[Notice]
    summaries: dict[int, list[str]]
    correction: CorrectionRequest | None
    licences: list[ELicence]
    rating: Rating | None
    can_rate: bool
    visits: list[tuple[Visit, Rating | None]]
    # a 一件事: its sub-cases and their materials merged by type (its own ``materials`` is empty)
    children: list[Application] = field(default_factory=list)
    merged_materials: list[bundle_applications.MergedMaterial] = field(default_factory=list)


def case_page(actor: User, app: Application) -> CasePage:
    """The citizen's case page for a case ``actor`` may act on (the caller loaded it through
    ``applications.get_own_application``, which checked that); a 一件事's sub-cases are the
    same applicant's and need no check of their own."""
    children: list[Application] = []
    materials: list[ApplicationMaterial] = []
    if app.bundle_id is not None:
        children = bundle_applications.sub_cases(app.id)
    else:
        materials = list(
            db.session.scalars(
                select(ApplicationMaterial)
                .where(ApplicationMaterial.application_id == app.id)
                .options(
                    # the page names each material by its type: no query per material
                    selectinload(ApplicationMaterial.requirement).selectinload(
                        MaterialRequirement.material_type
                    ),
                    selectinload(ApplicationMaterial.document).selectinload(Document.material_type),
                )
            )
        )
    events = db.session.scalars(
        select(Event)
        .where(
            Event.application_id == app.id,
            Event.action.not_in(timeline.HIDDEN_FROM_CITIZEN),
        )
        .order_by(Event.id)
    ).all()
    visits = ratings.visits_to_rate(app.id)
    return CasePage(
        materials=materials,
        events=list(events),
        notices=notices.notices_of(app.id),
        summaries=notices.summaries(app.id),
        correction=workflow.open_correction(app) if app.status == "correction_required" else None,
        licences=licences_of(app.id),
        rating=ratings.rating_of(app.id),
        can_rate=ratings.can_rate(actor, app),
        visits=visits,
        children=children,
        merged_materials=bundle_applications.merged_materials(children),
    )


def licences_of(application_id: int) -> list[ELicence]:
    return list(
        db.session.scalars(select(ELicence).where(ELicence.application_id == application_id))
    )


def days_left(day: date | None) -> int | None:
    return (day - clock.local_today()).days if day else None
