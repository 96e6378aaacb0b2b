"""一件事一次办: one flow for a life event — each question asked once, one document per
material type, one submission — fanned out to a child case per item and department."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import (
    Application,
    ApplicationMaterial,
    Bundle,
    BundleItem,
    Channel,
    Citizen,
    Document,
    MaterialRequirement,
    SatisfiedBy,
    ServiceItem,
    User,
)
from services import applications as single
from services import case_access, materials, workflow
from services.errors import Conflict, NotFound, ValidationError

DRAFT = single.DRAFT


@dataclass
class MergedQuestion:
    key: str  # the merged key; equal to the item's own key unless two items disagree on it
    question: dict[str, Any]
    items: list[str] = field(default_factory=list)
    sources: list[tuple[int, str]] = field(default_factory=list)  # (child id, the item's key)


def _signature(q: dict[str, Any], kind: str) -> tuple:
    if kind == "condition":
        return (q["key"], tuple(tuple(o) for o in q.get("options", [])))
    return (q["key"], q.get("type"), tuple(tuple(o) for o in q.get("options", []) or []))


def merge_questions(children: list[Application], kind: str) -> list[MergedQuestion]:
    """Questions of all items, each asked once; same key and shape → one question."""
    merged: dict[tuple, MergedQuestion] = {}
    used_keys: dict[str, tuple] = {}
    for child in children:
        version = child.item_version
        questions = version.condition_questions if kind == "condition" else version.questions
        for q in questions or []:
            sig = _signature(q, kind)
            entry = merged.get(sig)
            if entry is None:
                key = q["key"] if q["key"] not in used_keys else f"{version.item_id}_{q['key']}"
                used_keys[key] = sig
                entry = merged[sig] = MergedQuestion(key=key, question={**q, "key": key})
            elif q.get("required"):
                entry.question["required"] = True
            entry.items.append(version.name)
            entry.sources.append((child.id, q["key"]))
    return list(merged.values())


def load_parent(actor: User, parent_id: int, *, draft_only: bool = True) -> Application:
    parent = db.session.scalar(
        select(Application)
        .where(Application.id == parent_id, Application.bundle_id.is_not(None))
        .options(
            selectinload(Application.children).selectinload(Application.item_version),
            selectinload(Application.bundle),
        )
    )
    if parent is None or not case_access.may_act_on(actor, parent):
        raise NotFound(str(_l("办件不存在")))
    if draft_only and parent.status != DRAFT:
        raise NotFound(str(_l("草稿不存在或已提交")))
    return parent


def start_bundle_draft(*, actor: User, applicant: Citizen, bundle: Bundle) -> Application:
    """The applicant's open draft for this life event, or a new one with a child per item."""
    if not bundle.published:
        raise NotFound(str(_l("该一件事暂未开放办理")))
    existing = db.session.scalar(
        select(Application).where(
            Application.bundle_id == bundle.id,
            Application.applicant_id == applicant.id,
            Application.status == DRAFT,
        )
    )
    if existing is not None:
        return existing
    entries = db.session.scalars(
        select(BundleItem)
        .where(BundleItem.bundle_id == bundle.id)
        .order_by(BundleItem.position)
        .options(selectinload(BundleItem.item).selectinload(ServiceItem.published_version))
    ).all()
    if any(e.item.published_version is None for e in entries):
        raise NotFound(str(_l("该一件事中有事项暂停办理，请分别办理或咨询窗口")))
    parent = Application(
        bundle_id=bundle.id,
        applicant_id=applicant.id,
        created_by_id=actor.id,
        agent_id=actor.citizen_id if actor.citizen_id != applicant.id else None,
        channel=Channel.online,
        status=DRAFT,
        form_data={},
        condition_answers={},
        submit_token=secrets.token_urlsafe(24),
    )
    db.session.add(parent)
    db.session.flush()
    for entry in entries:
        version = entry.item.published_version
        db.session.add(
            Application(
                item_version_id=version.id,
                department_id=version.department_id,
                applicant_id=applicant.id,
                agent_id=parent.agent_id,
                created_by_id=actor.id,
                parent_id=parent.id,
                channel=Channel.online,
                status=DRAFT,
                form_data={},
                condition_answers={},
            )
        )
    db.session.flush()
    db.session.refresh(parent)
    return parent


def save_bundle_conditions(parent: Application, answers: dict[str, str]) -> None:
    merged = merge_questions(parent.children, "condition")
    errors, clean = {}, {}
    for m in merged:
        value = (answers.get(m.key) or "").strip()
        allowed = {str(o[0]) for o in m.question.get("options", [])}
        if not value:
            errors[f"c_{m.key}"] = str(_l("请选择"))
        elif value not in allowed:
            errors[f"c_{m.key}"] = str(_l("选项不正确"))
        else:
            clean[m.key] = value
    if errors:
        raise ValidationError(errors)
    parent.condition_answers = clean
    by_child: dict[int, dict[str, str]] = {c.id: {} for c in parent.children}
    for m in merged:
        for child_id, own_key in m.sources:
            by_child[child_id][own_key] = clean[m.key]
    for child in parent.children:
        child.condition_answers = by_child[child.id]
        single.sync_materials(child)
    db.session.flush()


def bundle_prefill(parent: Application, citizen: Citizen) -> dict[str, Any]:
    values: dict[str, Any] = {}
    merged = merge_questions(parent.children, "form")
    per_child = {c.id: single.prefill(c, citizen) for c in parent.children}
    for m in merged:
        for child_id, own_key in m.sources:
            if own_key in per_child[child_id]:
                values.setdefault(m.key, per_child[child_id][own_key])
    return values


def save_bundle_form(parent: Application, raw: dict[str, Any]) -> None:
    """Each merged answer goes to every item that asked it; each item's own rules check its
    answers (services/answer_rules.py), and a refusal is shown on the merged question."""
    merged = merge_questions(parent.children, "form")
    merged_key = {source: m.key for m in merged for source in m.sources}
    errors: dict[str, str] = {}
    by_child: dict[int, dict[str, Any]] = {}
    for child in parent.children:
        own = {
            own_key: raw.get(m.key) for m in merged for cid, own_key in m.sources if cid == child.id
        }
        checked = materials.check_form(child, own)
        for own_key, message in checked.errors.items():
            errors.setdefault(f"q_{merged_key[(child.id, own_key)]}", message)
        by_child[child.id] = checked.clean
    if errors:
        raise ValidationError(errors)
    parent.form_data = {m.key: by_child[m.sources[0][0]][m.sources[0][1]] for m in merged}
    for child in parent.children:
        child.form_data = by_child[child.id]
    db.session.flush()


@dataclass
class TypeRow:
    """One material type across the bundle: asked once, used by every item that needs it."""

    material_type: Any
    necessity: str
    items: list[str]
    members: list[tuple[Application, Any]]  # (child, requirement)
    proposal: Any
    material: ApplicationMaterial | None
    notes: str = ""
    commitment_allowed: bool = False


NECESSITY_RANK = {"required": 0, "deferrable": 1, "optional": 2, "shared": 3}


def material_rows(parent: Application) -> list[TypeRow]:
    rows: dict[int, TypeRow] = {}
    for child in parent.children:
        snap = single.snapshot_materials(child)
        for req in snap.applicable:
            row = rows.get(req.material_type_id)
            if row is None:
                row = rows[req.material_type_id] = TypeRow(
                    req.material_type,
                    req.necessity,
                    [],
                    [],
                    snap.proposals[req.id],
                    snap.chosen.get(req.id),
                    req.notes,
                    req.commitment_allowed,
                )
            elif NECESSITY_RANK[req.necessity] < NECESSITY_RANK[row.necessity]:
                row.necessity = req.necessity
            row.commitment_allowed = row.commitment_allowed and req.commitment_allowed
            row.items.append(child.item_version.name)
            row.members.append((child, req))
    return list(rows.values())


def choose_bundle_materials(parent: Application, choices: dict[int, str], citizen: Citizen) -> None:
    """Apply one choice per material type to every item of the bundle that needs that type."""
    for row in material_rows(parent):
        raw = choices.get(row.material_type.id, "")
        for child, req in row.members:
            if req.necessity == "shared":
                continue
            try:
                choice = materials.parse_choice(raw)
                if choice is not None:
                    materials.apply_choice(child, req.id, choice, citizen)
            except ValidationError as exc:
                raise ValidationError(
                    {f"t_{row.material_type.id}": next(iter(exc.errors.values()))}
                ) from None
    db.session.flush()


def precheck_bundle(parent: Application) -> list[single.Problem]:
    seen: set[str] = set()
    problems = []
    for child in parent.children:
        for p in single.precheck(child):
            if p.message not in seen:
                seen.add(p.message)
                problems.append(p)
    return problems


def submit_bundle(actor: User, parent_id: int, token: str) -> Application:
    """Submit the whole life event once; each child case goes to its own department."""
    parent = db.session.scalar(
        select(Application).where(Application.id == parent_id).with_for_update()
    )
    if parent is None or parent.bundle_id is None or not case_access.may_act_on(actor, parent):
        raise NotFound(str(_l("办件不存在")))
    if not token or not secrets.compare_digest(token, parent.submit_token or ""):
        raise Conflict(str(_l("提交凭证无效，请回到确认页重新提交")))
    if parent.status != DRAFT:
        return parent
    parent = load_parent(actor, parent_id)
    problems = precheck_bundle(parent)
    if problems:
        raise ValidationError({p.field: p.message for p in problems})
    return workflow.submit(actor, parent)


def reuse_count(parent: Application) -> materials.ReuseCount:
    """材料复用 of the whole life event: the children's counts added up, as submission stores
    them on the parent (services/materials.reuse_count)."""
    counts = [materials.reuse_count(child.materials) for child in parent.children]
    return materials.ReuseCount(sum(c.required for c in counts), sum(c.reused for c in counts))


def combined_status(parent: Application) -> tuple[int, int]:
    """(children closed, children in all): the parent is done when every child is decided."""
    closed = sum(
        1 for c in parent.children if c.status in single.CLOSED_STATES + ("approved", "denied")
    )
    return closed, len(parent.children)


def upload_for_bundle(
    actor: User,
    parent: Application,
    material_type_id: int,
    *,
    data: bytes,
    filename: str | None,
    issued_on,
    own_expiry,
) -> None:
    """Upload one file for a material type: into the applicant's library, used by every item."""
    row = next((r for r in material_rows(parent) if r.material_type.id == material_type_id), None)
    if row is None:
        raise NotFound(str(_l("该材料不在本次申请中")))
    doc = single.upload_to_library(
        actor,
        parent.applicant,
        material_type_id,
        f"u{material_type_id}",
        data=data,
        filename=filename,
        issued_on=issued_on,
        own_expiry=own_expiry,
    )
    choose_bundle_materials(parent, {material_type_id: f"doc:{doc.id}"}, parent.applicant)


@dataclass(frozen=True)
class MaterialUse:
    """One way a material type was satisfied, and the sub-cases (item names) it served so."""

    satisfied_by: SatisfiedBy
    document: Document | None
    items: list[str]


@dataclass(frozen=True)
class MergedMaterial:
    """申请材料 of a submitted 一件事: one material type across its sub-cases. Usually one use
    (the one document chosen for the type); more when a sub-case's material was changed later,
    e.g. by a correction in that department."""

    name: str
    uses: list[MaterialUse]

    @property
    def items(self) -> list[str]:
        """Every sub-case (item name) this material serves, in the sub-cases' order."""
        return list(dict.fromkeys(name for use in self.uses for name in use.items))


def sub_cases(parent_id: int) -> list[Application]:
    """A 一件事's sub-cases with their items, materials, material types and documents, in a
    fixed number of queries however many sub-cases there are."""
    return list(
        db.session.scalars(
            select(Application)
            .where(Application.parent_id == parent_id)
            .order_by(Application.id)
            .options(
                selectinload(Application.item_version),
                selectinload(Application.materials).options(
                    selectinload(ApplicationMaterial.requirement).selectinload(
                        MaterialRequirement.material_type
                    ),
                    selectinload(ApplicationMaterial.document),
                ),
            )
        )
    )


def merged_materials(children: list[Application]) -> list[MergedMaterial]:
    """One row per material type across the sub-cases (loaded by ``sub_cases``): how it was
    satisfied and for which sub-cases, in the order the sub-cases' guides list them."""
    uses: dict[int, dict[tuple[SatisfiedBy, int | None], MaterialUse]] = {}
    names: dict[int, str] = {}
    for child in children:
        for m in sorted(child.materials, key=lambda m: m.requirement.position):
            type_id = m.requirement.material_type_id
            names.setdefault(type_id, m.requirement.material_type.name)
            use = uses.setdefault(type_id, {}).setdefault(
                (m.satisfied_by, m.document_id), MaterialUse(m.satisfied_by, m.document, [])
            )
            if child.title not in use.items:
                use.items.append(child.title)
    return [MergedMaterial(names[t], list(by_way.values())) for t, by_way in uses.items()]
