"""A draft's answers and materials (情形, 表单, 材料): saving them, choosing how each material
is given, the pre-check, and how many materials were reused.

- ``parse_choice`` is the one reader of a material choice as the pages post it
  (``doc:<id>``, ``deferred``, ``commitment``, ``none``); ``apply_choice`` applies it.
- ``reuse_count`` is the one count of reused materials (电子证照, 材料库 or 共享) among the
  required ones: the confirm page shows it and submission stores it on the case.
- Which library document fits a material (and until when) is decided in services/reuse.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import (
    Application,
    ApplicationMaterial,
    Channel,
    Citizen,
    Document,
    Grade,
    ItemVersion,
    MaterialRequirement,
    SatisfiedBy,
)
from portal.models.base import utcnow
from services import answer_rules, clock, data_use, reuse, workdays
from services.answer_rules import clean_answer as clean_answer
from services.errors import NotFound, ValidationError

PROFILE_FIELDS = ("name", "id_number", "phone", "address", "birth_date")
MAX_TEXT = answer_rules.MAX_TEXT
# how a material counts as reused: given from the library or an e-licence, or shared data
REUSED_BY = (SatisfiedBy.elicence, SatisfiedBy.library, SatisfiedBy.shared)
OPTIONS = ("deferred", "commitment", "none")


# ---- step 1: 情形 -------------------------------------------------------------------------


def save_conditions(app: Application, answers: dict[str, str]) -> None:
    version = app.item_version
    errors: dict[str, str] = {}
    clean: dict[str, str] = {}
    for q in version.condition_questions or []:
        value = (answers.get(q["key"]) or "").strip()
        allowed = {str(opt[0]) for opt in q.get("options", [])}
        if not value:
            errors[f"c_{q['key']}"] = str(_l("请选择"))
        elif value not in allowed:
            errors[f"c_{q['key']}"] = str(_l("选项不正确"))
        else:
            clean[q["key"]] = value
    if errors:
        raise ValidationError(errors)
    app.condition_answers = clean
    sync_materials(app)
    db.session.flush()


# ---- step 2: 填写信息 ----------------------------------------------------------------------


def prefill(app: Application, citizen: Citizen) -> dict[str, Any]:
    """Values for the form: saved answers, else the latest earlier answer, else the profile."""
    earlier: dict[str, Any] = {}
    rows = db.session.scalars(
        select(Application.form_data)
        .where(Application.applicant_id == citizen.id, Application.id != app.id)
        .order_by(Application.updated_at.desc())
        .limit(20)
    )
    for data in rows:
        for key, value in (data or {}).items():
            earlier.setdefault(key, value)
    profile = {
        "name": citizen.name,
        "id_number": citizen.id_number,
        "phone": citizen.phone or "",
        "address": citizen.address,
        "birth_date": citizen.birth_date.isoformat(),
    }
    values: dict[str, Any] = {}
    for q in app.item_version.questions or []:
        key = q["key"]
        if key in (app.form_data or {}):
            values[key] = app.form_data[key]
        elif key in earlier:
            values[key] = earlier[key]
        elif q.get("prefill") in PROFILE_FIELDS:
            values[key] = profile[q["prefill"]]
    return values


def case_materials(application_id: int) -> list[ApplicationMaterial]:
    """A case's materials in the guide's order, with their type and document (staff pages)."""
    return list(
        db.session.scalars(
            select(ApplicationMaterial)
            .where(ApplicationMaterial.application_id == application_id)
            .options(
                selectinload(ApplicationMaterial.requirement).selectinload(
                    MaterialRequirement.material_type
                ),
                selectinload(ApplicationMaterial.document),
            )
            .join(MaterialRequirement)
            .order_by(MaterialRequirement.position)
        )
    )


def answer_text(question: dict[str, Any], value: Any) -> str:
    """An answer as people read it: an option's label, never its code (job → 就业)."""
    labels = {str(o[0]): str(o[1]) for o in question.get("options") or []}
    if isinstance(value, list):
        return "、".join(labels.get(str(v), str(v)) for v in value)
    if question.get("type") == "select":
        return labels.get(str(value), str(value or ""))
    if question.get("type") == "checkbox" or isinstance(value, bool):
        return str(_l("是")) if value else str(_l("否"))
    return "" if value is None else str(value)


def answer_context(app: Application) -> answer_rules.AnswerContext:
    """What the form's rules compare with: today, the applicant's birth date, the 情形."""
    return answer_rules.AnswerContext(
        today=clock.local_today(),
        birth_date=app.applicant.birth_date if app.applicant is not None else None,
        conditions=dict(app.condition_answers or {}),
        condition_questions=list(app.item_version.condition_questions or []),
    )


def check_form(
    app: Application, raw: dict[str, Any], *, partial: bool = False
) -> answer_rules.Checked:
    """The draft's answers checked by the item's rules (services/answer_rules.py)."""
    return answer_rules.check_answers(
        app.item_version.questions or [], raw, context=answer_context(app), partial=partial
    )


def save_form(app: Application, raw: dict[str, Any], *, partial: bool = False) -> None:
    """Check every answer; with ``partial`` (autosave) keep what is valid and skip required checks."""
    clean: dict[str, Any] = dict(app.form_data or {})
    if partial:  # the answers not sent stay as saved; rules compare with them
        checked = check_form(app, {**clean, **raw}, partial=True)
        clean.update({k: v for k, v in checked.clean.items() if k in raw})
    else:
        checked = check_form(app, raw)
        if checked.errors:
            raise ValidationError({f"q_{k}": v for k, v in checked.errors.items()})
        clean.update(checked.clean)
    app.form_data = clean
    db.session.flush()


# ---- step 3: 提交材料 ----------------------------------------------------------------------


def promised_date(version: ItemVersion, start: date | None = None) -> date:
    return workdays.due_date(
        start or clock.local_today(), version.promised_limit or 0, version.promised_limit_unit
    )


def sync_materials(app: Application) -> None:
    """One ApplicationMaterial per applicable requirement; proposals fill the empty ones."""
    requirements = reuse.requirements_with_types(app.item_version_id)
    applicable = reuse.applicable_requirements(requirements, app.condition_answers or {})
    wanted = {r.id for r in applicable}
    existing = {m.requirement_id: m for m in app.materials}
    for req_id, material in list(existing.items()):
        if req_id not in wanted:
            app.materials.remove(material)
            del existing[req_id]
    proposals = reuse.propose_materials(
        app.applicant_id, applicable, promised_date(app.item_version)
    )
    for proposal in proposals:
        material = existing.get(proposal.requirement.id)
        if material is None:
            material = ApplicationMaterial(requirement_id=proposal.requirement.id)
            app.materials.append(material)
        if (
            material.satisfied_by in (SatisfiedBy.missing, None)
            or material.satisfied_by == SatisfiedBy.shared
        ):
            apply_proposal(material, proposal)
    db.session.flush()


def apply_proposal(material: ApplicationMaterial, proposal: reuse.Proposal) -> None:
    if proposal.kind == "shared":
        material.satisfied_by, material.document_id = SatisfiedBy.shared, None
    elif proposal.document is not None:
        material.document_id = proposal.document.id
        material.satisfied_by = (
            SatisfiedBy.elicence if proposal.document.grade == Grade.A else SatisfiedBy.library
        )
    else:
        material.satisfied_by, material.document_id = SatisfiedBy.missing, None


def material_for(app: Application, requirement_id: int) -> ApplicationMaterial:
    for material in app.materials:
        if material.requirement_id == requirement_id:
            return material
    raise NotFound(str(_l("该材料不在本次申请中")))


def choose_document(app: Application, requirement_id: int, document_id: int) -> None:
    """Use a library document for a material; someone else's or an unfit one is refused."""
    material = material_for(app, requirement_id)
    doc = db.session.get(Document, document_id)
    field = f"m_{requirement_id}"
    if doc is None or doc.owner_id != app.applicant_id:
        raise NotFound(str(_l("材料不存在")))
    requirement = db.session.get(MaterialRequirement, requirement_id)
    if doc.material_type_id != requirement.material_type_id:
        raise ValidationError({field: str(_l("所选材料的类型与要求不符"))})
    if doc.grade == Grade.D:
        raise ValidationError({field: str(_l("本人承诺不能代替证明材料"))})
    reason = reuse.usable_until(doc, promised_date(app.item_version))
    if reason:
        raise ValidationError({field: str(_l("该材料不能使用：%(reason)s", reason=reason))})
    material.document_id = doc.id
    material.satisfied_by = (
        SatisfiedBy.elicence
        if doc.grade == Grade.A
        else (
            SatisfiedBy.upload
            if doc.grade == Grade.C and doc.source == "upload" and _fresh(doc)
            else SatisfiedBy.library
        )
    )
    db.session.flush()


def _fresh(doc: Document) -> bool:
    """An upload made during this application counts as uploaded, not reused."""
    return (utcnow() - doc.created_at).total_seconds() < 24 * 3600


def choose_option(app: Application, requirement_id: int, option: str, citizen: Citizen) -> None:
    """容缺后补 (deferred) or 告知承诺 (commitment), where the item allows it."""
    material = material_for(app, requirement_id)
    requirement = db.session.get(MaterialRequirement, requirement_id)
    field = f"m_{requirement_id}"
    if option == "deferred":
        if requirement.necessity != "deferrable":
            raise ValidationError({field: str(_l("该材料不支持容缺后补"))})
        material.satisfied_by, material.document_id = SatisfiedBy.deferred, None
    elif option == "commitment":
        if not requirement.commitment_allowed:
            raise ValidationError({field: str(_l("该材料不适用告知承诺"))})
        if citizen.commitment_barred:
            raise ValidationError(
                {field: str(_l("因曾有不实承诺，您暂不能使用告知承诺，请提交材料"))}
            )
        material.satisfied_by, material.document_id = SatisfiedBy.commitment, None
    elif option == "none":
        material.satisfied_by, material.document_id = SatisfiedBy.missing, None
    else:
        raise ValidationError({field: str(_l("选项不正确"))})
    db.session.flush()


# ---- one snapshot of a draft's materials, shared by the pages and the pre-check ------------


@dataclass
class MaterialSnapshot:
    due: date
    requirements: dict[int, MaterialRequirement]
    applicable: list[MaterialRequirement]
    proposals: dict[int, reuse.Proposal]
    chosen: dict[int, ApplicationMaterial]
    documents: dict[int, Document]

    def rows(self) -> list[dict[str, Any]]:
        return [
            {"requirement": r, "proposal": self.proposals[r.id], "material": self.chosen.get(r.id)}
            for r in self.applicable
        ]


def snapshot_materials(app: Application) -> MaterialSnapshot:
    """Requirements, proposals and chosen documents of a draft in a fixed number of queries."""
    due = promised_date(app.item_version)
    requirements = reuse.requirements_with_types(app.item_version_id)
    applicable = reuse.applicable_requirements(requirements, app.condition_answers or {})
    proposals = {
        p.requirement.id: p for p in reuse.propose_materials(app.applicant_id, applicable, due)
    }
    chosen = {m.requirement_id: m for m in app.materials}
    documents = {
        d.id: d
        for p in proposals.values()
        for d in ([p.document] if p.document else [])
        + p.alternatives
        + [doc for doc, _ in p.excluded]
    }
    missing = [
        m.document_id for m in chosen.values() if m.document_id and m.document_id not in documents
    ]
    if missing:
        documents.update(
            {d.id: d for d in db.session.scalars(select(Document).where(Document.id.in_(missing)))}
        )
    return MaterialSnapshot(
        due, {r.id: r for r in requirements}, applicable, proposals, chosen, documents
    )


# ---- pre-check and submission -------------------------------------------------------------


@dataclass
class Problem:
    field: str
    message: str


def precheck(app: Application, snapshot: MaterialSnapshot | None = None) -> list[Problem]:
    """智能预审: every missing, expired or invalid item at once."""
    problems: list[Problem] = []
    version = app.item_version
    for q in version.condition_questions or []:
        if q["key"] not in (app.condition_answers or {}):
            problems.append(
                Problem(f"c_{q['key']}", str(_l("情形“%(label)s”未选择", label=q["label"])))
            )
    labels = {q["key"]: q["label"] for q in version.questions or []}
    for key, message in check_form(app, dict(app.form_data or {})).errors.items():
        problems.append(Problem(f"q_{key}", f"{labels[key]}：{message}"))
    if app.channel == Channel.counter and app.agent_id and not app.agent_authorisation_id:
        problems.append(Problem("authorisation", str(_l("代理人办理须提交申请人签署的授权委托书"))))
    snap = snapshot or snapshot_materials(app)
    for req in snap.applicable:
        name = req.material_type.name
        field = f"m_{req.id}"
        material = snap.chosen.get(req.id)
        if req.necessity == "shared":
            continue
        if material is None or material.satisfied_by == SatisfiedBy.missing:
            if req.necessity in ("required", "deferrable"):
                problems.append(Problem(field, str(_l("缺少材料：%(name)s", name=name))))
        elif material.document_id:
            doc = snap.documents.get(material.document_id)
            if doc is None or doc.owner_id != app.applicant_id:
                problems.append(Problem(field, str(_l("材料无效：%(name)s", name=name))))
            elif reason := reuse.usable_until(doc, snap.due):
                problems.append(Problem(field, f"{name}：{reason}"))
    return problems


def record_reuse(app: Application) -> None:
    """我的数据使用记录: the system reused these library documents for this case."""
    for material in app.materials:
        if material.document_id and material.satisfied_by in (
            SatisfiedBy.elicence,
            SatisfiedBy.library,
        ):
            data_use.record_use(
                None,
                app.applicant_id,
                data_use.REUSE_DOCUMENT,
                application_id=app.id,
                document=material.document,
                reason=data_use.CASE_REUSE,
            )


# ---- the material choices the pages post ----------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """One posted material choice: a library document, or an option (容缺, 承诺, none)."""

    document_id: int | None = None
    option: str | None = None


def parse_choice(raw: str | None) -> Choice | None:
    """Read ``doc:<id>``, ``deferred``, ``commitment`` or ``none``; None for no choice (or
    anything else: the material is left as it is). Raises ValidationError for ``doc:`` with
    a malformed id."""
    value = (raw or "").strip()
    if value.startswith("doc:"):
        if not value[4:].isdigit():
            raise ValidationError(str(_l("选项不正确")))
        return Choice(document_id=int(value[4:]))
    if value in OPTIONS:
        return Choice(option=value)
    return None


def apply_choice(app: Application, requirement_id: int, choice: Choice, citizen: Citizen) -> None:
    """Give one material of the draft as ``choice`` says."""
    if choice.document_id is not None:
        choose_document(app, requirement_id, choice.document_id)
    elif choice.option is not None:
        choose_option(app, requirement_id, choice.option, citizen)


# ---- reuse ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReuseCount:
    required: int  # materials that are not optional
    reused: int  # of those, given without an upload (e-licence, library, shared data)


def reuse_count(materials: list[ApplicationMaterial]) -> ReuseCount:
    """材料复用: how many required materials the citizen did not have to upload."""
    required = [m for m in materials if m.requirement.necessity != "optional"]
    return ReuseCount(len(required), sum(1 for m in required if m.satisfied_by in REUSED_BY))
