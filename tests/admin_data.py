"""Shared test data for the admin (catalogue publishing) tests: a complete guide and helpers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from portal.extensions import db
from portal.models import Department, MaterialType, Theme, User
from services import catalogue
from tests import files

# real files: blank forms and examples pass the same content checks as citizens' uploads
PNG = files.png()
PDF = files.pdf()
JPEG = files.jpeg()


def full_guide(**overrides: Any) -> dict[str, Any]:
    """A guide that passes every publishing rule."""
    guide = {
        "name": "测试事项（自动化测试）",
        "item_type": "public_service",
        "audience": "person",
        "legal_basis": "《测试条例》第一条",
        "conditions": "本市户籍居民",
        "legal_limit": 20,
        "legal_limit_unit": "working",
        "promised_limit": 5,
        "promised_limit_unit": "working",
        "case_type": "promised",
        "steps": [
            {"name": "受理", "role": "counter", "limit": 1},
            {"name": "审核", "role": "reviewer", "limit": 3},
        ],
        "visits": 0,
        "visits_reason": "",
        "online_depth": 4,
        "location": "市民中心 1 楼",
        "hours": "工作日 9:00-17:00",
        "phone": "0571-12345678",
        "complaint_phone": "12345",
        "fees": [],
        "result_name": "测试证明",
        "result_type": "other",
        "result_licence_type_code": None,
        "faqs": [{"q": "要多久？", "a": "5 个工作日。"}],
        "keywords": ["测试"],
        "synonyms": ["试一试"],
        "questions": [
            {
                "key": "name",
                "label": "姓名",
                "type": "text",
                "required": True,
                "prefill": "name",
                "help": "",
            }
        ],
        "condition_questions": [
            {"key": "married", "label": "是否已婚？", "options": [["yes", "是"], ["no", "否"]]}
        ],
        "commitment_text": "",
        "kiosk_enabled": False,
    }
    guide.update(overrides)
    return guide


def admin_user() -> User:
    return db.session.scalar(select(User).where(User.username == "admin"))


def second_admin() -> User:
    """The demo's other admin: publishes what ``admin_user()`` submitted (four eyes)."""
    return db.session.scalar(select(User).where(User.username == "admin2"))


def department(code: str = "GA") -> Department:
    return db.session.scalar(select(Department).where(Department.code == code))


def material_type(code: str) -> MaterialType:
    return db.session.scalar(select(MaterialType).where(MaterialType.code == code))


def theme(name: str) -> Theme:
    return db.session.scalar(select(Theme).where(Theme.name == name))


def requirement(type_code: str = "M001", **overrides: Any) -> dict[str, Any]:
    values = {
        "material_type_id": material_type(type_code).id,
        "original": True,
        "form": "paper",
        "copies": 1,
        "necessity": "required",
        "condition": None,
        "notes": "",
        "acceptance_standard": "",
        "commitment_allowed": False,
    }
    values.update(overrides)
    return values


def make_draft(code: str = "TEST00000001", **guide: Any):
    """A complete draft item (version 1) with two materials, made by the demo admin."""
    return catalogue.create_item(
        code=code,
        department=department(),
        actor=admin_user(),
        guide=full_guide(**guide),
        requirements=[dict(requirement("M001"), position=0), dict(requirement("M002"), position=1)],
        themes=[theme("户籍办理")],
    )
