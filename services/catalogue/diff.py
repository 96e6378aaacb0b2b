"""What changed between two versions of a guide, field by field, in the admin's words."""

from __future__ import annotations

import json
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.extensions import db
from portal.models import Department, ItemVersion, MaterialRequirement, MaterialType
from services import delivery
from services.answer_rules import describe_rules
from services.case_states import DELIVERY_KINDS
from services.catalogue.vocabulary import (
    AUDIENCE_LABELS,
    CASE_TYPE_LABELS,
    FIELD_LABELS,
    GUIDE_FIELDS,
    ITEM_TYPE_LABELS,
    MEDIUM_LABELS,
    NECESSITY_LABELS,
    ONLINE_DEPTH_LABELS,
    ORIGINAL_LABELS,
    QUESTION_TYPE_LABELS,
    RESULT_TYPE_LABELS,
    STEP_ROLE_LABELS,
    UNIT_LABELS,
)
from services.errors import ValidationError


def _empty() -> str:
    return str(_l("（空）"))


def _label(labels: dict, value: Any) -> str:
    return str(labels.get(value, value)) if value not in (None, "") else _empty()


def _describe(field: str, value: Any, departments: dict[int, str]) -> str:
    """A guide field's value in words, as an admin reads it in the diff."""
    labels = {
        "item_type": ITEM_TYPE_LABELS,
        "audience": AUDIENCE_LABELS,
        "legal_limit_unit": UNIT_LABELS,
        "promised_limit_unit": UNIT_LABELS,
        "case_type": CASE_TYPE_LABELS,
        "online_depth": ONLINE_DEPTH_LABELS,
        "result_type": RESULT_TYPE_LABELS,
    }
    if field in labels:
        return _label(labels[field], value)
    if field == "department_id":
        return departments.get(value, str(value))
    if field == "kiosk_enabled":
        return str(_l("是")) if value else str(_l("否"))
    if field == "steps":
        return (
            "\n".join(
                str(
                    _l(
                        "%(n)d. %(name)s（%(role)s，%(limit)s）",
                        n=i,
                        name=s.get("name", ""),
                        role=_label(STEP_ROLE_LABELS, s.get("role")),
                        limit=_l("%(d)s 日", d=s["limit"])
                        if s.get("limit") is not None
                        else _l("不限"),
                    )
                )
                for i, s in enumerate(value or [], start=1)
            )
            or _empty()
        )
    if field == "fees":
        return "\n".join(
            "；".join(
                p for p in (f.get("name", ""), f.get("standard", ""), f.get("basis", "")) if p
            )
            for f in value or []
        ) or str(_l("不收费"))
    if field == "faqs":
        return (
            "\n".join(
                str(_l("问：%(q)s 答：%(a)s", q=f.get("q", ""), a=f.get("a", "")))
                for f in value or []
            )
            or _empty()
        )
    if field in ("keywords", "synonyms"):
        return "、".join(value or []) or _empty()
    if field == "questions":
        return (
            "\n".join(
                "{key} {label}（{kind}{req}）{opts}{rules}".format(
                    key=q.get("key", ""),
                    label=q.get("label", ""),
                    kind=_label(QUESTION_TYPE_LABELS, q.get("type")),
                    req="，" + str(_l("必填")) if q.get("required") else "",
                    opts=" / ".join(str(o[1]) for o in q.get("options", []) or []),
                    rules=(
                        " " + str(_l("规则：%(rules)s", rules=describe_rules(q, value)))
                        if q.get("rules")
                        else ""
                    ),
                )
                for q in value or []
            )
            or _empty()
        )
    if field == "condition_questions":
        return (
            "\n".join(
                "{key} {label}：{opts}".format(
                    key=q.get("key", ""),
                    label=q.get("label", ""),
                    opts=" / ".join(str(o[1]) for o in q.get("options", [])),
                )
                for q in value or []
            )
            or _empty()
        )
    if field == "auto_rules":
        return json.dumps(value, ensure_ascii=False) if value else _empty()
    if field == "result_term":
        return delivery.term_label(value) or _empty()
    if field == "delivery_methods":
        return "、".join(str(DELIVERY_KINDS.get(m, m)) for m in value or []) or _empty()
    if value is None or value == "":
        return _empty()
    return str(value)


def _describe_requirement(req: MaterialRequirement, conditions: dict[str, dict]) -> str:
    parts = [
        str(ORIGINAL_LABELS[bool(req.original)]),
        _label(MEDIUM_LABELS, req.form),
        str(_l("%(n)d 份", n=req.copies or 0)),
        _label(NECESSITY_LABELS, req.necessity),
    ]
    if req.condition:
        question = conditions.get(req.condition.get("question"), {})
        answer = dict((o[0], o[1]) for o in question.get("options", [])).get(
            req.condition.get("equals"), req.condition.get("equals")
        )
        parts.append(
            str(
                _l(
                    "适用情形：%(q)s＝%(a)s",
                    q=question.get("label", req.condition.get("question")),
                    a=answer,
                )
            )
        )
    if req.notes:
        parts.append(str(_l("填报须知：%(text)s", text=req.notes)))
    if req.acceptance_standard:
        parts.append(str(_l("受理标准：%(text)s", text=req.acceptance_standard)))
    if req.commitment_allowed:
        parts.append(str(_l("可用告知承诺代替")))
    return "；".join(parts)


def _keyed_requirements(version: ItemVersion) -> dict[tuple[int, int], MaterialRequirement]:
    """Requirements keyed by (material type, n-th occurrence) so the same type can repeat."""
    seen: dict[int, int] = {}
    keyed = {}
    for req in sorted(version.requirements, key=lambda r: r.position):
        n = seen.get(req.material_type_id, 0)
        seen[req.material_type_id] = n + 1
        keyed[(req.material_type_id, n)] = req
    return keyed


def diff_versions(old: ItemVersion, new: ItemVersion) -> list[tuple[str, str, str]]:
    """What changed from ``old`` to ``new``, field by field: (field label, old, new)."""
    if old.item_id != new.item_id:
        raise ValidationError({"b": str(_l("只能比较同一事项的两个版本"))})
    departments = dict(
        db.session.execute(
            select(Department.id, Department.name).where(
                Department.id.in_({old.department_id, new.department_id})
            )
        ).all()
    )
    changes: list[tuple[str, str, str]] = []
    for field in GUIDE_FIELDS:
        before = _describe(field, getattr(old, field), departments)
        after = _describe(field, getattr(new, field), departments)
        if before != after:
            changes.append((str(FIELD_LABELS[field]), before, after))
        if field == "audience":
            before = "、".join(t.name for t in old.themes) or _empty()
            after = "、".join(t.name for t in new.themes) or _empty()
            if before != after:
                changes.append((str(FIELD_LABELS["themes"]), before, after))
    old_reqs, new_reqs = _keyed_requirements(old), _keyed_requirements(new)
    old_conds = {q.get("key"): q for q in old.condition_questions or []}
    new_conds = {q.get("key"): q for q in new.condition_questions or []}
    names = dict(
        db.session.execute(
            select(MaterialType.id, MaterialType.name).where(
                MaterialType.id.in_({k[0] for k in (*old_reqs, *new_reqs)})
            )
        ).all()
    )

    def label_of(key: tuple[int, int]) -> str:
        name = names.get(key[0], str(key[0]))
        return str(_l("申请材料：%(name)s", name=name)) + (f" ({key[1] + 1})" if key[1] else "")

    for key in [*old_reqs, *(k for k in new_reqs if k not in old_reqs)]:
        before = _describe_requirement(old_reqs[key], old_conds) if key in old_reqs else _empty()
        after = _describe_requirement(new_reqs[key], new_conds) if key in new_reqs else _empty()
        if before != after:
            changes.append((label_of(key), before, after))
    common_old = [k for k in old_reqs if k in new_reqs]
    common_new = [k for k in new_reqs if k in old_reqs]
    if common_old != common_new:
        changes.append(
            (
                str(_l("申请材料顺序")),
                "、".join(label_of(k) for k in common_old),
                "、".join(label_of(k) for k in common_new),
            )
        )
    return changes
