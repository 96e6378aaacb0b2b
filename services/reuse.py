"""材料复用: for each material an application needs, propose what the portal already holds.

Order (DOMAIN.md): a valid e-licence (grade A) → a library document checked against the
original (B) → an unchecked upload (C, flagged for the reviewer) → ask for an upload.
信息免交 materials are obtained by data sharing and never asked for. A document that expires
before the promised completion date is not proposed, and the reason is shown.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from portal.extensions import db
from portal.models import Document, DocumentStatus, Grade, MaterialRequirement

GRADE_ORDER = {Grade.A: 0, Grade.B: 1, Grade.C: 2}


@dataclass
class Proposal:
    requirement: MaterialRequirement
    kind: str  # shared / elicence / library / unchecked / upload
    document: Document | None = None
    alternatives: list[Document] = field(default_factory=list)
    excluded: list[tuple[Document, str]] = field(default_factory=list)

    @property
    def reused(self) -> bool:
        return self.kind in ("shared", "elicence", "library", "unchecked")


def requirement_applies(requirement: MaterialRequirement, answers: dict[str, Any]) -> bool:
    """A requirement with a 情形 condition applies only when the answer matches."""
    condition = requirement.condition
    if not condition:
        return True
    return str(answers.get(condition.get("question"), "")) == str(condition.get("equals"))


def applicable_requirements(
    requirements: Iterable[MaterialRequirement], answers: dict[str, Any]
) -> list[MaterialRequirement]:
    return [r for r in requirements if requirement_applies(r, answers)]


def usable_until(document: Document, needed_until: date) -> str | None:
    """None when the document may be used; otherwise the reason it may not."""
    if document.status != DocumentStatus.valid:
        return str(_l("已撤销"))
    if document.valid_until is not None and document.valid_until < needed_until:
        return str(
            _l(
                "有效期至 %(until)s，早于本事项承诺办结日 %(due)s",
                until=document.valid_until.isoformat(),
                due=needed_until.isoformat(),
            )
        )
    return None


# the two statements every draft page and every 提交 runs, built once
_LIBRARY = select(Document).where(
    Document.owner_id == bindparam("owner"),
    Document.material_type_id.in_(bindparam("types", expanding=True)),
    Document.status == DocumentStatus.valid,
    Document.grade.in_(list(GRADE_ORDER)),
)
_REQUIREMENTS = (
    select(MaterialRequirement)
    .where(MaterialRequirement.version_id == bindparam("version"))
    .options(joinedload(MaterialRequirement.material_type, innerjoin=True))
    .order_by(MaterialRequirement.position)
)


def load_library(owner_id: int, material_type_ids: Iterable[int]) -> dict[int, list[Document]]:
    """The owner's documents of the given types, best first, in one query."""
    ids = set(material_type_ids)
    by_type: dict[int, list[Document]] = defaultdict(list)
    if not ids:
        return by_type
    rows = db.session.scalars(_LIBRARY, {"owner": owner_id, "types": sorted(ids)})
    for doc in rows:
        by_type[doc.material_type_id].append(doc)
    for docs in by_type.values():
        docs.sort(
            key=lambda d: (GRADE_ORDER[d.grade], -(d.valid_until or date.max).toordinal(), -d.id)
        )
    return by_type


def propose_materials(
    owner_id: int, requirements: list[MaterialRequirement], needed_until: date
) -> list[Proposal]:
    """One proposal per applicable requirement (the caller filters by 情形 first)."""
    library = load_library(
        owner_id, (r.material_type_id for r in requirements if r.necessity != "shared")
    )
    proposals = []
    for req in requirements:
        if req.necessity == "shared":
            proposals.append(Proposal(req, "shared"))
            continue
        usable, excluded = [], []
        for doc in library.get(req.material_type_id, []):
            reason = usable_until(doc, needed_until)
            (excluded.append((doc, reason)) if reason else usable.append(doc))
        if usable:
            best = usable[0]
            kind = {Grade.A: "elicence", Grade.B: "library", Grade.C: "unchecked"}[best.grade]
            proposals.append(Proposal(req, kind, best, usable[1:], excluded))
        else:
            proposals.append(Proposal(req, "upload", None, [], excluded))
    return proposals


def requirements_with_types(version_id: int) -> list[MaterialRequirement]:
    return list(db.session.scalars(_REQUIREMENTS, {"version": version_id}))
