"""Publish made-up catalogue items through the real services, for the catalogue's tests."""

from __future__ import annotations

from itertools import count

from sqlalchemy import select

from portal.extensions import db
from portal.models import Department, MaterialType, ServiceItem
from services import catalogue

_serial = count(1)


def next_code(prefix: str = "TST") -> str:
    """A unique 12-character item code."""
    return f"{prefix}{next(_serial):09d}"[:12]


def publish_item(
    name: str,
    *,
    code: str | None = None,
    keywords: tuple[str, ...] = (),
    synonyms: tuple[str, ...] = (),
    popularity: int = 0,
    visits: int = 0,
    promised: tuple[int, str] = (5, "working"),
    case_type: str = "promised",
    materials: tuple[str | dict, ...] = ("居民身份证",),
    themes: tuple[str, ...] = ("户籍办理",),
    department_code: str = "GA",
    conditions: str = "年满18周岁。",
    audience: str = "person",
    online_depth: int = 4,
    condition_questions: list[dict] | None = None,
    publish: bool = True,
) -> ServiceItem:
    """An item with the demo catalogue's departments, themes and material types; published
    unless ``publish`` is False. A material is a type name, or a dict with "type" and any
    requirement field to override (necessity, condition, original, copies, notes …)."""
    department = db.session.scalar(select(Department).where(Department.code == department_code))
    specs = [m if isinstance(m, dict) else {"type": m} for m in materials]
    types = {
        mt.name: mt
        for mt in db.session.scalars(
            select(MaterialType).where(MaterialType.name.in_([m["type"] for m in specs]))
        )
    }
    guide = {
        "name": name,
        "item_type": "public_service",
        "audience": audience,
        "legal_basis": "《测试条例》第一条。",
        "conditions": conditions,
        "legal_limit": max(promised[0], 20),
        "legal_limit_unit": "natural",
        "promised_limit": promised[0],
        "promised_limit_unit": promised[1],
        "case_type": case_type,
        "steps": [{"name": "受理", "role": "counter", "limit": 0}],
        "visits": visits,
        "visits_reason": "需要本人到场核验。" if visits else "",
        "online_depth": online_depth,
        "location": "市民中心B座1楼",
        "hours": "工作日 9:00-17:00",
        "phone": "0571-00000000",
        "complaint_phone": "12345",
        "fees": [],
        "result_name": "结果",
        "result_type": "other",
        "faqs": [],
        "keywords": list(keywords),
        "synonyms": list(synonyms),
        "condition_questions": condition_questions or [],
    }
    version = catalogue.create_item(
        code=code or next_code(),
        department=department,
        actor=None,
        guide=guide,
        requirements=[
            {
                "position": i,
                "original": True,
                "form": "paper",
                "copies": 1,
                "necessity": "required",
                "condition": None,
                "notes": "",
                "acceptance_standard": "",
                "commitment_allowed": False,
                **{k: v for k, v in m.items() if k != "type"},
                "material_type_id": types[m["type"]].id,
            }
            for i, m in enumerate(specs)
        ],
        themes=[catalogue.get_or_create_theme(t) for t in themes],
    )
    version.item.popularity = popularity
    if publish:
        catalogue.publish_version(version, None)
    return version.item
