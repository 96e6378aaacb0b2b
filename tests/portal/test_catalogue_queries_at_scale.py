"""The same query counts with 3,600 items as with the demo's few dozen (no query per item)."""

import pytest

from portal.extensions import db
from seeds.scale import load_scale
from services.guide_cache import clear_guide_cache
from tests.conftest import QueryCounter
from tests.portal.test_catalogue_queries import MAX_QUERIES, PAGES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shanghai(database_factory):
    app = database_factory("shanghai", seed=True)
    with app.app_context():
        load_scale(3600, 0)
        db.session.commit()
        db.session.remove()
    return app


def counts(app, paths):
    client = app.test_client()
    result = {}
    for path in paths:
        # the day's figures of a guide (portal/statistics/public.py) are warm in a running
        # portal, as in test_catalogue_queries.counted; the guide itself is counted as rendered
        assert client.get(path).status_code == 200, path
        with app.app_context():
            clear_guide_cache()
        with QueryCounter(app) as statements:
            assert client.get(path).status_code == 200, path
        result[path] = len(statements)
    return result


def test_query_counts_do_not_grow_from_demo_size_to_3600_items(database_factory, shanghai):
    demo = database_factory("demo-size", seed=True)
    small, large = counts(demo, PAGES), counts(shanghai, PAGES)
    assert all(n <= MAX_QUERIES for n in large.values()), {
        p: n for p, n in large.items() if n > MAX_QUERIES
    }
    assert large == small, {p: (small[p], large[p]) for p in PAGES if small[p] != large[p]}
