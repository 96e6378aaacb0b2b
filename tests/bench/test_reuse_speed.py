"""Resolving reuse for an item with 15 materials for a citizen with 200 documents, in process.

A benchmark, deselected by default: `.venv/bin/python -m pytest -m bench tests/bench -s`.
"""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from portal.extensions import db
from portal.models import Document, Grade, MaterialRequirement
from services import accounts, catalogue, clock, reuse

pytestmark = pytest.mark.bench


@pytest.fixture(scope="module")
def library(database_factory):
    app = database_factory("reuse-bench", seed=False)
    with app.app_context():
        user = accounts.register_citizen(
            phone="13900001111",
            password="Qingshan2026!",
            name="赵六",
            id_number="11010519491231002X",
        )
        types = [
            catalogue.create_material_type(code=f"RB{i:03d}", name=f"材料{i}") for i in range(40)
        ]
        today = clock.local_today()
        rows = []
        for n in range(200):  # 200 documents over 40 types, all grades, some expiring
            mt = types[n % 40]
            rows.append(
                Document(
                    owner_id=user.citizen_id,
                    material_type_id=mt.id,
                    title=mt.name,
                    grade=(Grade.A, Grade.B, Grade.C)[n % 3],
                    source="upload",
                    storage_key=None,
                    valid_until=today + timedelta(days=(n % 50) * 10),
                )
            )
        db.session.add_all(rows)
        requirements = [
            MaterialRequirement(
                material_type_id=types[i].id, material_type=types[i], necessity="required"
            )
            for i in range(15)
        ]
        db.session.commit()
        citizen_id = user.citizen_id
    return app, citizen_id, requirements


def test_reuse_resolution_p95(benchmark, library):
    app, citizen_id, requirements = library
    with app.app_context():
        due = clock.local_today() + timedelta(days=30)
        result = benchmark.pedantic(
            reuse.propose_materials,
            args=(citizen_id, requirements, due),
            rounds=300,
            iterations=1,
            warmup_rounds=10,
        )
        assert len(result) == 15 and all(p.document is not None for p in result)
        if benchmark.stats is not None:
            data = sorted(benchmark.stats.stats.data)
            p95 = data[max(0, math.ceil(0.95 * len(data)) - 1)] * 1000
            print(
                f"\nreuse for 15 materials × 200 documents: p95 {p95:.2f} ms, median {data[len(data) // 2] * 1000:.2f} ms"
            )
        db.session.remove()
