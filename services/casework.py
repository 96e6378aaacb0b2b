"""The citizen's side of the workflow: what a correction or a 容缺 supply page offers, the
notices and the e-licence of their own case."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Row, bindparam, func, select
from sqlalchemy.orm import aliased

from portal.extensions import db
from portal.models import (
    Application,
    ApplicationMaterial,
    CorrectionRequest,
    Document,
    ELicence,
    Event,
    MaterialRequirement,
    MaterialType,
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
    visits,
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

    materials: list[Row]  # name (of the document's type, else the requirement's), satisfied_by,
    # verdict, verdict_reason
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


_DOCUMENT_TYPE = aliased(MaterialType)
_REQUIRED_TYPE = aliased(MaterialType)
# the materials of a case as the page lists them: one query (three with the objects' loaders)
_CASE_MATERIALS = (
    select(
        ApplicationMaterial.id,
        func.coalesce(_DOCUMENT_TYPE.name, _REQUIRED_TYPE.name).label("name"),
        ApplicationMaterial.satisfied_by,
        ApplicationMaterial.verdict,
        ApplicationMaterial.verdict_reason,
    )
    .join(MaterialRequirement, MaterialRequirement.id == ApplicationMaterial.requirement_id)
    .join(_REQUIRED_TYPE, _REQUIRED_TYPE.id == MaterialRequirement.material_type_id)
    .outerjoin(Document, Document.id == ApplicationMaterial.document_id)
    .outerjoin(_DOCUMENT_TYPE, _DOCUMENT_TYPE.id == Document.material_type_id)
    .where(ApplicationMaterial.application_id == bindparam("case"))
    .order_by(ApplicationMaterial.id)
)


def case_page(actor: User, app: Application) -> CasePage:
    """The citizen's case page for a case ``actor`` may act on (the caller loaded it through
    ``applications.get_own_application``, which checked that); a 一件事's sub-cases are the
    same applicant's and need no check of their own. Each kind of record is read once: the
    events serve the timeline and the notices' summaries; the ratings the online rating and
    the visits'; the correction requests (read only when a notice or the state needs them)
    the summaries and the open correction."""
    children: list[Application] = []
    materials: list[Row] = []
    if app.bundle_id is not None:
        children = bundle_applications.sub_cases(app.id)
    else:
        materials = db.session.execute(_CASE_MATERIALS, {"case": app.id}).all()
    case = {"case": app.id}
    events = db.session.scalars(_CASE_EVENTS, case).all()
    case_notices = notices.notices_of(app.id)
    corrections: list[CorrectionRequest] = []
    if app.status == "correction_required" or any(n.kind == "correction" for n in case_notices):
        corrections = list(
            db.session.scalars(
                select(CorrectionRequest).where(CorrectionRequest.application_id == app.id)
            )
        )
    open_corrections = [c for c in corrections if c.resubmitted_at is None]
    given = {r.visit_no: r for r in db.session.scalars(_CASE_RATINGS, case)}
    rating = given.get(0)
    return CasePage(
        materials=materials,
        events=[e for e in events if e.action not in timeline.HIDDEN_FROM_CITIZEN],
        notices=case_notices,
        summaries=notices.summarise(case_notices, events, corrections),
        # workflow.open_correction's: the latest round not yet resubmitted
        correction=(
            max(open_corrections, key=lambda c: c.round)
            if app.status == "correction_required" and open_corrections
            else None
        ),
        licences=licences_of(app.id),
        rating=rating,
        # ratings.can_rate, less its access check: the caller made it
        can_rate=app.status in ratings.RATEABLE_STATES and rating is None,
        visits=[(v, given.get(v.number)) for v in visits.visits_of(app.id)],
        children=children,
        merged_materials=bundle_applications.merged_materials(children),
    )


# the case page's statements, built once (building a select costs about as much as running
# it); each takes the case's id as "case"
_CASE_EVENTS = select(Event).where(Event.application_id == bindparam("case")).order_by(Event.id)
_CASE_RATINGS = select(Rating).where(Rating.application_id == bindparam("case"))
_CASE_LICENCES = select(ELicence).where(ELicence.application_id == bindparam("case"))


def licences_of(application_id: int) -> list[ELicence]:
    return list(db.session.scalars(_CASE_LICENCES, {"case": application_id}))


def days_left(day: date | None) -> int | None:
    return (day - clock.local_today()).days if day else None
