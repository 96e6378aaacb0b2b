"""In-process p95 of the search and guide pages on a Shanghai-size catalogue (3,600 items).

Benchmarks, not tests: deselected by default (`-m "not bench"` in pyproject); run them with
`.venv/bin/python -m pytest -m bench tests/bench` (add `--benchmark-json=out.json` to keep them).
Each one skips while the public catalogue pages are not in the app yet.
"""

from __future__ import annotations

import math
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import event, select
from werkzeug.exceptions import MethodNotAllowed, NotFound

from portal.extensions import db
from portal.models import ItemVersion, ServiceItem
from tests.bench.conftest import ITEMS

pytestmark = pytest.mark.bench

ROUNDS = 200
MAX_QUERIES = 6  # the budget for catalogue, search, guide and bundle pages


def require_route(url_map, path: str) -> None:
    try:
        url_map.bind("localhost").match(urlsplit(path).path, method="GET")
    except (NotFound, MethodNotAllowed):
        pytest.skip(f"{urlsplit(path).path} is not served yet")


def scale_item_code(app: Flask, name_part: str) -> str:
    with app.app_context():
        code = db.session.scalar(
            select(ServiceItem.code)
            .join(ItemVersion, ItemVersion.id == ServiceItem.published_version_id)
            .where(ServiceItem.code.like("SC%"), ItemVersion.name.contains(name_part))
            .order_by(ServiceItem.code)
            .limit(1)
        )
        db.session.remove()
    assert code, f"no generated item named like {name_part}"
    return code


def count_queries(app: Flask, fetch) -> int:
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def on_execute(conn, cursor, statement, *args):
        if not statement.startswith("BEGIN"):  # SQLite's explicit BEGIN is not a query
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        fetch()
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
    return len(seen)


def measure(benchmark, app: Flask, path: str) -> None:
    client = app.test_client()

    def fetch():
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return response

    fetch()  # warm the caches a real server would have warm
    queries = count_queries(app, fetch)
    benchmark.pedantic(fetch, rounds=ROUNDS, iterations=1, warmup_rounds=5)
    if benchmark.stats is not None:  # None under --benchmark-disable
        data = sorted(benchmark.stats.stats.data)
        p95 = data[max(0, math.ceil(0.95 * len(data)) - 1)] * 1000
        p50 = data[len(data) // 2] * 1000
        benchmark.extra_info.update(
            {"p50_ms": round(p50, 2), "p95_ms": round(p95, 2), "queries": queries, "items": ITEMS}
        )
        print(f"\n{path}: p50 {p50:.1f} ms, p95 {p95:.1f} ms, {queries} SQL queries")
    assert queries <= MAX_QUERIES, f"{path} issued {queries} queries at {ITEMS} items"


@pytest.mark.parametrize("query", ["居住证", "jzz", "juzhuzheng", "生孩子", "营业执照"])
def test_search_p95(benchmark, request, url_map, query):
    path = f"/search?q={query}"
    require_route(url_map, path)
    measure(benchmark, request.getfixturevalue("scale_app"), path)


@pytest.mark.parametrize("which", ["demo", "generated"])
def test_guide_page_p95(benchmark, request, url_map, which):
    require_route(url_map, "/items/330100GA0001")
    app = request.getfixturevalue("scale_app")
    code = "330100GA0001" if which == "demo" else scale_item_code(app, "居住证申领")
    measure(benchmark, app, f"/items/{code}")


def test_bundle_page_p95(benchmark, request, url_map):
    require_route(url_map, "/bundles/B001")
    measure(benchmark, request.getfixturevalue("scale_app"), "/bundles/B001")


def test_catalogue_page_p95(benchmark, request, url_map):
    require_route(url_map, "/catalogue")
    measure(benchmark, request.getfixturevalue("scale_app"), "/catalogue")
