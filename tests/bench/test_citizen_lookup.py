"""Finding a walk-in by 身份证号 or phone among 1,000,000 citizens, in process (≤ 20 ms).

The benchmark is deselected by default:
    .venv/bin/python -m pytest -m bench tests/bench/test_citizen_lookup.py -s
The query-plan test runs with the normal suite: the lookup must use the unique index.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest
from sqlalchemy import text
from stdnum.cn import ric

from portal.extensions import db
from services import counter
from tests.conftest import BACKEND, make_app, migrate_and_seed

CITIZENS = 1_000_000
BATCH = 50_000
AREA = "310101"
FIRST_DAY = date(1940, 1, 1)
DAYS = 25_000  # birth dates spread over ~68 years; 40 sequence numbers per day


def id_number(n: int) -> str:
    """A valid, unique 居民身份证号 for citizen number ``n``."""
    born = FIRST_DAY + timedelta(days=n % DAYS)
    body = f"{AREA}{born:%Y%m%d}{n // DAYS:03d}"
    return body + ric.calc_check_digit(body + "0")  # the function ignores the last character


def phone(n: int) -> str:
    return f"139{n:08d}"


@pytest.fixture(scope="module")
def million(tmp_path_factory):
    """A fresh SQLite database with the schema and a million citizens, inserted in batches."""
    root = tmp_path_factory.mktemp("lookup")
    app = make_app(f"sqlite:///{root / 'million.db'}", root / "uploads")
    migrate_and_seed(app, seed=False)
    with app.app_context():
        conn = db.engine.raw_connection()
        try:
            cursor = conn.cursor()
            sql = (
                "INSERT INTO citizens (name, id_number, phone, address, birth_date, gender, commitment_barred,"
                " created_at) VALUES (?, ?, ?, '', ?, 'M', 0, '2026-01-01 00:00:00')"
            )
            for start in range(0, CITIZENS, BATCH):
                cursor.executemany(
                    sql,
                    [
                        (
                            f"居民{n}",
                            id_number(n),
                            phone(n),
                            (FIRST_DAY + timedelta(days=n % DAYS)).isoformat(),
                        )
                        for n in range(start, start + BATCH)
                    ],
                )
            conn.commit()
        finally:
            conn.close()
    return app


def _report(benchmark, label: str) -> None:
    if benchmark.stats is None:
        return
    data = sorted(benchmark.stats.stats.data)
    p95 = data[max(0, math.ceil(0.95 * len(data)) - 1)] * 1000
    median = data[len(data) // 2] * 1000
    print(f"\n{label} among {CITIZENS:,} citizens: median {median:.3f} ms, p95 {p95:.3f} ms")
    assert p95 <= 20, f"{label}: p95 {p95:.2f} ms"


@pytest.mark.bench
@pytest.mark.parametrize("kind", ["id_number", "phone"])
def test_lookup_among_a_million_citizens(benchmark, million, kind):
    targets = [id_number(n) if kind == "id_number" else phone(n) for n in range(7, CITIZENS, 9973)]
    with million.app_context():
        assert db.session.scalar(text("SELECT count(*) FROM citizens")) == CITIZENS
        cursor = iter(range(10**9))

        def lookup():
            return counter.find_citizen(targets[next(cursor) % len(targets)])

        found = benchmark.pedantic(lookup, rounds=500, iterations=1, warmup_rounds=20)
        assert found is not None
        _report(benchmark, f"lookup by {kind}")
        db.session.remove()


def _compiled(statement) -> str:
    return str(statement.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}))


@pytest.mark.parametrize("typed", ["13800000001", "11010519491231002X"])
def test_the_lookup_uses_the_unique_index(app_ctx, typed):
    sql = _compiled(counter.lookup_statement(typed))
    if BACKEND == "sqlite":
        plan = " ".join(
            str(row[-1]) for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {sql}"))
        )
        assert "USING INDEX sqlite_autoindex_citizens" in plan, plan
        assert "SCAN" not in plan, plan
    else:
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = " ".join(row[0] for row in db.session.execute(text(f"EXPLAIN {sql}")))
        assert "Index Scan using uq_citizens_" in plan, plan
        assert "Seq Scan" not in plan, plan
