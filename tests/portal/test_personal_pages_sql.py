"""The logged-in pages cost the same number of SQL statements whatever the person holds:
我的办件 with 5 or 50 cases, 我的材料 with 10 or 100 documents, a case page (the citizen's and
the reviewer's) with 2 or 12 materials; 我的办件 pages by keyset; all stay ``no-store``."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import func, insert, select

from portal.extensions import db
from portal.models import (
    Application,
    ApplicationMaterial,
    Bundle,
    Channel,
    Document,
    ItemVersion,
    MaterialRequirement,
    MaterialType,
    SatisfiedBy,
    ServiceItem,
)
from portal.models.base import utcnow
from services.applications import OWN_CASES_PAGE
from services.documents import LIBRARY_PAGE
from tests.conftest import login
from tests.workflow_cases import user

CITIZEN = "13800000002"  # the demo's citizen with nothing yet


@pytest.fixture(autouse=True)
def rendered_every_time(app, monkeypatch):
    """What the views cost: kept pages (portal/personal_pages.py) are off here; what a kept
    page costs is tests/portal/test_personal_page_cache.py's."""
    monkeypatch.setitem(app.config, "PERSONAL_PAGE_CACHE", False)


def published_versions(limit: int) -> list[ItemVersion]:
    return list(
        db.session.scalars(
            select(ItemVersion)
            .join(ServiceItem, ServiceItem.published_version_id == ItemVersion.id)
            .order_by(ItemVersion.id)
            .limit(limit)
        )
    )


def add_cases(total: int, *, tag: str) -> None:
    """``total`` cases of CITIZEN, each of another item (and every fifth of a 一件事), in several
    states, changed at different instants."""
    citizen = user(CITIZEN).citizen_id
    versions = published_versions(total)
    bundle_ids = list(db.session.scalars(select(Bundle.id).order_by(Bundle.id)))
    states = ("submitted", "in_review", "completed", "correction_required", "draft")
    db.session.execute(
        insert(Application),
        [
            {
                "number": None if states[i % 5] == "draft" else f"PP{tag}{i:05d}",
                "item_version_id": versions[i % len(versions)].id,
                "department_id": versions[i % len(versions)].department_id,
                "bundle_id": bundle_ids[i % len(bundle_ids)] if bundle_ids and i % 5 == 1 else None,
                "applicant_id": citizen,
                "channel": Channel.online,
                "status": states[i % 5],
                "updated_at": utcnow() - timedelta(minutes=i),
                "form_data": {},
                "condition_answers": {},
            }
            for i in range(total)
        ],
    )
    db.session.commit()


def add_documents(total: int) -> None:
    citizen = user(CITIZEN).citizen_id
    types = list(db.session.scalars(select(MaterialType.id).order_by(MaterialType.id)))
    db.session.execute(
        insert(Document),
        [
            {
                "owner_id": citizen,
                "material_type_id": types[i % len(types)],
                "title": f"材料{i}",
                "grade": "C",
                "source": "upload",
                "original_filename": f"f{i}.pdf",
                "content_type": "application/pdf",
            }
            for i in range(total)
        ],
    )
    db.session.commit()


def statements(client, count_queries, path: str) -> int:
    client.get(path)  # warm: the first request of a session loads what every page needs once
    with count_queries as recorded:
        response = client.get(path)
    assert response.status_code == 200, path
    assert "no-store" in response.headers["Cache-Control"], path
    return len(recorded)


def test_my_cases_cost_the_same_with_5_or_50_cases(client, query, count_queries):
    query(lambda: add_cases(5, tag="A"))
    login(client, CITIZEN)
    few = statements(client, count_queries, "/cases")
    query(lambda: add_cases(45, tag="B"))
    html = client.get("/cases").get_data(as_text=True)
    assert html.count("查看详情") + html.count("继续填写") == 50
    assert statements(client, count_queries, "/cases") == few
    assert few == 2, "我的办件: the user, then one query for the page's cases and their names"


def test_my_cases_page_by_keyset_without_skipping_or_repeating(client, query):
    query(lambda: add_cases(OWN_CASES_PAGE + 12, tag="K"))
    # two cases changed at the same instant straddle nothing: the id breaks the tie
    query(
        lambda: (
            db.session.execute(
                Application.__table__.update()
                .where(Application.number.in_(["PPK00003", "PPK00004"]))
                .values(updated_at=utcnow() - timedelta(minutes=3))
            ),
            db.session.commit(),
        )
    )
    login(client, CITIZEN)
    first = unescape(client.get("/cases").get_data(as_text=True))
    following = re.search(r'rel="next" href="([^"]+)"', first).group(1)
    assert "after=" in following
    second = unescape(client.get(following).get_data(as_text=True))
    ids = lambda html: re.findall(r'href="/(?:cases|apply/drafts)/(\d+)(?:/conditions)?"', html)  # noqa: E731
    one, two = ids(first), ids(second)
    assert len(one) == OWN_CASES_PAGE and len(two) == 12
    assert not set(one) & set(two)
    assert 'rel="next"' not in second and "回到第一页" in second
    assert client.get("/cases?after=garbage").status_code == 200


def test_my_documents_cost_the_same_with_10_or_100_documents(client, query, count_queries):
    query(lambda: add_documents(10))
    login(client, CITIZEN)
    few = statements(client, count_queries, "/documents/")
    query(lambda: add_documents(90))
    html = client.get("/documents/").get_data(as_text=True)
    assert len(re.findall(r"/documents/\d+/view\"", html)) == LIBRARY_PAGE
    assert statements(client, count_queries, "/documents/") == few
    # the user, the types held with their counts, the page's documents, the e-licences, the
    # cases that used the page's documents (the citizen's e-licences: one more, first page)
    assert few == 5


def document_ids(html: str) -> list[str]:
    return re.findall(r'href="/documents/(\d+)/view"', html)


def test_my_documents_page_by_keyset_grouped_by_type(client, query):
    """我的材料 a page at a time: every document once over the pages, grouped by type in the
    order of the types' codes (a group's heading counts all its documents, not the page's),
    and one type at a time with ?type=, kept by the next page."""
    query(lambda: add_documents(45))
    login(client, CITIZEN)
    seen: list[str] = []
    path, pages = "/documents/", 0
    while path:
        html = unescape(client.get(path).get_data(as_text=True))
        seen += document_ids(html)
        pages += 1
        following = re.search(r'rel="next" href="([^"]+)"', html)
        path = following.group(1) if following else None
    assert pages == 3 and len(seen) == 45 and len(set(seen)) == 45
    assert "回到第一页" in html

    types = query(
        lambda: list(db.session.scalars(select(MaterialType.id).order_by(MaterialType.id)))
    )
    one = types[0]  # add_documents gives each type in turn a document: this one holds several
    held = query(
        lambda: db.session.scalar(
            select(func.count(Document.id)).where(
                Document.material_type_id == one, Document.owner_id == user(CITIZEN).citizen_id
            )
        )
    )
    html = unescape(client.get(f"/documents/?type={one}").get_data(as_text=True))
    assert len(document_ids(html)) == min(held, LIBRARY_PAGE)
    assert f'<option value="{one}" selected>' in html
    assert client.get("/documents/?type=garbage&after=garbage").status_code == 200


def case_with_materials(total: int) -> int:
    """A case of CITIZEN in reviewer01's department with ``total`` materials, each of another
    material type, each satisfied by one of the citizen's documents."""
    reviewer = user("reviewer01")
    version = db.session.scalar(
        select(ItemVersion)
        .join(ServiceItem, ServiceItem.published_version_id == ItemVersion.id)
        .where(ServiceItem.department_id == reviewer.department_id)
        .limit(1)
    )
    requirements = list(
        db.session.scalars(select(MaterialRequirement).order_by(MaterialRequirement.id))
    )
    seen, chosen = set(), []
    for requirement in requirements:  # distinct material types: a query per type would show
        if requirement.material_type_id not in seen:
            seen.add(requirement.material_type_id)
            chosen.append(requirement)
        if len(chosen) == total:
            break
    assert len(chosen) == total
    app = Application(
        number=f"PPM{total:05d}",
        item_version_id=version.id,
        department_id=version.department_id,
        applicant_id=user(CITIZEN).citizen_id,
        channel=Channel.online,
        status="in_review",
        submitted_at=utcnow(),
        form_data={},
        condition_answers={},
    )
    db.session.add(app)
    db.session.flush()
    for i, requirement in enumerate(chosen):
        if i % 2:  # every other one still missing: the page names it by the requirement's type
            db.session.add(
                ApplicationMaterial(
                    application_id=app.id,
                    requirement_id=requirement.id,
                    satisfied_by=SatisfiedBy.deferred,
                )
            )
            continue
        document = Document(
            owner_id=app.applicant_id,
            material_type_id=requirement.material_type_id,
            title="材料",
            grade="C",
            source="upload",
        )
        db.session.add(document)
        db.session.flush()
        db.session.add(
            ApplicationMaterial(
                application_id=app.id,
                requirement_id=requirement.id,
                document_id=document.id,
                satisfied_by=SatisfiedBy.library,
            )
        )
    db.session.commit()
    return app.id


def test_case_pages_cost_the_same_with_2_or_12_materials(app, client, query, count_queries):
    small, large = query(lambda: case_with_materials(2)), query(lambda: case_with_materials(12))
    login(client, CITIZEN)
    few = statements(client, count_queries, f"/cases/{small}")
    assert few == statements(client, count_queries, f"/cases/{large}")
    # the user, the case with its item, its materials with their names, then its events,
    # notices, ratings, e-licences and visits: each read once (it was 15)
    assert few == 8
    reviewer = app.test_client()
    login(reviewer, "reviewer01")
    assert statements(reviewer, count_queries, f"/review/cases/{small}") == statements(
        reviewer, count_queries, f"/review/cases/{large}"
    )
