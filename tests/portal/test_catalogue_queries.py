"""The public catalogue pages issue a fixed, small number of SQL queries (≤ 6), whatever the
size of the catalogue: no query per item, per material or per bundle."""

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Bundle, BundleItem
from services import catalogue
from services.guide_cache import clear_guide_cache
from tests.catalogue_factory import publish_item
from tests.conftest import login

MAX_QUERIES = 6
PAGES = [
    "/",
    "/catalogue",
    "/catalogue?page=2",
    "/catalogue?theme=1&department=GA&audience=person&visits=1&full_online=y&instant=y",
    "/search?q=jzz",
    "/search?q=zheng",
    "/search?q=生孩子",
    "/search?q=根本不存在的事项",
    "/items/330100GA0001",
    "/bundles/B001",
]


def counted(client, count_queries, path: str) -> list[str]:
    # what is kept for the day (a guide's 12-month figures: portal/statistics/public.py) is
    # warm in a running portal; the guide itself is counted as rendered
    client.get(path)
    with client.application.app_context():
        clear_guide_cache()  # count the guide as rendered, not as served from the cache
    with count_queries as statements:
        response = client.get(path)
    assert response.status_code == 200, path
    return statements


def test_the_counter_sees_every_query_and_no_transaction_control(app, client, count_queries):
    with count_queries as statements:
        client.get("/catalogue")
    assert len(statements) >= 3 and any("FROM service_items" in s for s in statements)
    assert not any(
        s.split()[0].upper() in ("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK") for s in statements
    )
    with app.app_context():
        clear_guide_cache()  # a new generation: the page is rendered again, not served cached
    with count_queries(app) as again:
        client.get("/catalogue")
    assert len(again) == len(statements)
    with count_queries as idle:
        pass
    assert idle == []


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_pages_stay_within_the_budget(client, count_queries, path):
    statements = counted(client, count_queries, path)
    assert len(statements) <= MAX_QUERIES, "\n".join(statements)


@pytest.mark.parametrize("path", PAGES)
def test_a_logged_in_citizen_with_documents_stays_within_the_budget(client, count_queries, path):
    login(client, "13800000001")
    statements = counted(client, count_queries, path)
    assert len(statements) <= MAX_QUERIES, "\n".join(statements)


def test_a_cached_guide_needs_fewer_queries(client, count_queries):
    cold = counted(client, count_queries, "/items/330100GA0001")
    with count_queries as warm:
        assert client.get("/items/330100GA0001").status_code == 200
    assert len(warm) < len(cold)
    assert not any("material_requirements" in s for s in warm)


def test_the_count_does_not_grow_with_the_catalogue(client, count_queries, query):
    before = {path: len(counted(client, count_queries, path)) for path in PAGES}

    def grow():
        items = [
            publish_item(
                f"加量事项{i}",
                keywords=("jzz", "zheng"),
                visits=i % 2,
                materials=("居民身份证", "户口簿", "结婚证", "近期免冠照片"),
                themes=("户籍办理", "住房"),
                popularity=2000 + i,
            )
            for i in range(30)
        ]
        catalogue.create_bundle(
            code="B999", name="加量一件事", description="生孩子", theme=None, items=items
        )
        birth = db.session.scalar(select(Bundle).where(Bundle.code == "B001"))
        birth.entries.extend(
            BundleItem(item=item, position=100 + i) for i, item in enumerate(items)
        )
        db.session.commit()

    query(grow)
    after = {path: len(counted(client, count_queries, path)) for path in PAGES}
    assert after == before
