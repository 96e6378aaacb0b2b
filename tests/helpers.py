"""Small helpers that many test modules share. Call them inside an app context, except the
ones that take the ``query`` fixture (route tests), which open their own."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from html import unescape
from typing import Any

from pypdf import PdfReader
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    Application,
    ApplicationMaterial,
    Department,
    Document,
    ItemVersion,
    ServiceHall,
    ServiceItem,
    User,
)
from tests.workflow_cases import RESIDENCE_PERMIT, submit_case


def page_errors(html: str) -> str:
    """The error messages a page shows (field errors, the error summary, flashes): what a
    failing assertion on a status code should print instead of the page's head."""
    pattern = r'<(p|div)[^>]*class="[^"]*(?:error|flash)[^"]*"[^>]*>(.*?)</\1>'
    found = [
        " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split())
        for _, body in re.findall(pattern, html, re.S)
    ]
    return " | ".join(found) or html[:500]


def count(model, *where) -> int:
    """How many rows of ``model`` (matching ``where``, if given)."""
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def hall(code: str = "SMZX") -> ServiceHall:
    """A service hall of the demo seed (市民服务中心 by default)."""
    return db.session.scalar(select(ServiceHall).where(ServiceHall.code == code))


def pdf_pages(data: bytes) -> list[str]:
    """The text of each page of a PDF."""
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def pdf_text(data: bytes) -> str:
    """A PDF's text, pages joined and line breaks removed (a wrapped sentence reads whole)."""
    return "".join(pdf_pages(data)).replace("\n", "")


def make_case(
    document: Document,
    *,
    dept_code: str = "GA",
    status: str = "submitted",
    created_by: User | None = None,
    number: str | None = "TEST0001",
) -> Application:
    """A case (flushed, not committed) of ``dept_code``'s first published item with materials,
    whose first material was satisfied from the library by ``document``."""
    department_id = db.session.scalar(select(Department.id).where(Department.code == dept_code))
    version = db.session.scalar(
        select(ItemVersion)
        .join(ServiceItem, ServiceItem.published_version_id == ItemVersion.id)
        .where(ItemVersion.department_id == department_id, ItemVersion.requirements.any())
        .order_by(ItemVersion.id)
        .limit(1)
    )
    case = Application(
        number=number,
        item_version=version,
        department_id=version.department_id,
        applicant_id=document.owner_id,
        created_by_id=created_by.id if created_by else None,
        status=status,
    )
    case.materials = [
        ApplicationMaterial(
            requirement=version.requirements[0], document_id=document.id, satisfied_by="library"
        )
    ]
    db.session.add(case)
    db.session.flush()
    return case


def submit_committed_case(
    query: Callable[[Callable[[], Any]], Any],
    login_name: str = "13800000002",
    item: str = RESIDENCE_PERMIT,
    conditions: dict[str, str] | None = None,
    **kw,
) -> int:
    """Submit (and commit) a case through the services for a route test; its id."""

    def run() -> int:
        case = submit_case(login_name, item, conditions or {"basis": "work", "agent": "no"}, **kw)
        db.session.commit()
        return case.id

    return query(run)
