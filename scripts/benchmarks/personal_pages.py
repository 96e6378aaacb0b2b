#!/usr/bin/env python3
"""Time the logged-in pages in-process on a scale database: wall and CPU ms, SQL statements and
size per page, beside a bare Flask route in the same process.

    DATABASE_URL=sqlite:////tmp/scale.db .venv/bin/python scripts/benchmarks/personal_pages.py

The database is a scratch one made with ``flask db upgrade``, ``flask seed demo`` and
``flask seed scale`` (e.g. ``--applications 200000``). The script first gives the demo citizen
13800000001 the issue's load, 50 cases and 100 documents, by moving scale cases to them and
adding document rows (so never point it at a database you keep), then, as 13800000001,
reviewer01 and counter01 (serving 13800000001), requests each page ``--rounds`` times after a
warm-up and prints the medians. CPU time (this thread's) is printed beside wall time because
on a busy machine the wall time mostly measures the wait for a core. ``--plans`` prints each
page's slowest statements with their plan (EXPLAIN QUERY PLAN on SQLite, EXPLAIN ANALYZE on
PostgreSQL).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402
from sqlalchemy import event, func, select, update  # noqa: E402

from portal import create_app  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models import Application, Document, MaterialType, User  # noqa: E402

CITIZEN, REVIEWER, CLERK = "13800000001", "reviewer01", "counter01"
CASES, DOCUMENTS = 50, 100
PASSWORD = "Demo@2026"
QUEUE_VIEWS = (
    "/review/?sort=new",
    "/review/?status=in_review",
    "/review/?due=overdue",
    "/review/?due=soon&sort=new",
)


def give_citizen_the_load() -> tuple[int, str]:
    """50 cases and 100 documents for CITIZEN; their citizen id and 身份证号."""
    citizen = db.session.scalar(select(User).where(User.phone == CITIZEN)).citizen
    held = db.session.scalar(
        select(func.count()).select_from(Application).where(Application.applicant_id == citizen.id)
    )
    if held < CASES:
        ids = db.session.scalars(
            select(Application.id)
            .where(Application.number.like("SC%"), Application.applicant_id != citizen.id)
            .order_by(Application.id)
            .limit(CASES - held)
        ).all()
        db.session.execute(
            update(Application).where(Application.id.in_(ids)).values(applicant_id=citizen.id)
        )
    documents = db.session.scalar(
        select(func.count()).select_from(Document).where(Document.owner_id == citizen.id)
    )
    types = db.session.scalars(select(MaterialType.id).order_by(MaterialType.id).limit(40)).all()
    for i in range(max(0, DOCUMENTS - documents)):
        db.session.add(
            Document(
                owner_id=citizen.id,
                material_type_id=types[i % len(types)],
                title=f"材料 {i}",
                grade="C",
                source="upload",
                original_filename=f"scan-{i}.pdf",
                content_type="application/pdf",
            )
        )
    db.session.commit()
    return citizen.id, citizen.id_number


def logged_in(app: Flask, who: str):
    client = app.test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    response = client.post(
        "/auth/login", data={"login": who, "password": PASSWORD, "csrf_token": token}
    )
    if response.status_code != 302:
        raise SystemExit(f"could not log in as {who}: {response.status_code}")
    return client


def measure(client, path: str, rounds: int, statements: list) -> dict:
    client.get(path)
    wall, cpu = [], []
    for _ in range(rounds):
        statements.clear()
        started, cpu_started = time.perf_counter(), time.thread_time()
        response = client.get(path)
        cpu.append((time.thread_time() - cpu_started) * 1000)
        wall.append((time.perf_counter() - started) * 1000)
    return {
        "status": response.status_code,
        "wall": statistics.median(wall),
        "cpu": statistics.median(cpu),
        "sql": len(statements),
        "kib": len(response.data) / 1024,
        "cache": response.headers.get("Cache-Control", ""),
    }


def bare_cpu(rounds: int = 300) -> float:
    bare = Flask("bare")
    bare.add_url_rule("/", "ok", lambda: "ok")
    client = bare.test_client()
    client.get("/")
    cpu = []
    for _ in range(rounds):
        started = time.thread_time()
        client.get("/")
        cpu.append((time.thread_time() - started) * 1000)
    return statistics.median(cpu)


def print_plans(app: Flask, client, path: str) -> None:
    timed: list[tuple[float, str, object]] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["started"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        timed.append(((time.perf_counter() - conn.info["started"]) * 1000, statement, parameters))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        client.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    for ms, statement, parameters in sorted(timed, key=lambda t: -t[0])[:2]:
        print(f"    {ms:6.1f} ms  {' '.join(statement.split())[:140]}")
        if not statement.lstrip().upper().startswith("SELECT"):
            continue
        with app.app_context():
            conn = db.session.connection()
            explain = "EXPLAIN QUERY PLAN " if conn.dialect.name == "sqlite" else "EXPLAIN ANALYZE "
            for row in conn.exec_driver_sql(explain + statement, parameters):
                print("           ", row[-1] if conn.dialect.name == "sqlite" else row[0])
            db.session.rollback()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--plans", action="store_true")
    args = parser.parse_args()
    app = create_app()
    with app.app_context():
        citizen_id, id_number = give_citizen_the_load()
        reviewer = db.session.scalar(select(User).where(User.username == REVIEWER))
        own_case = db.session.scalar(
            select(Application.id)
            .where(Application.applicant_id == citizen_id, Application.status != "draft")
            .order_by(Application.id.desc())
        )
        department_case = db.session.scalar(
            select(Application.id)
            .where(
                Application.department_id == reviewer.department_id,
                Application.status == "in_review",
            )
            .order_by(Application.id.desc())
        )
        engine = db.engine
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

    citizen, reviewer_client, clerk = (logged_in(app, w) for w in (CITIZEN, REVIEWER, CLERK))
    page = clerk.get("/counter/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    clerk.post("/counter/lookup", data={"lookup-query": id_number, "csrf_token": token})
    pages = [
        ("我的办件 (50 cases)", citizen, "/cases"),
        ("case page (citizen)", citizen, f"/cases/{own_case}"),
        ("我的材料 (100 docs)", citizen, "/documents/"),
        ("review queue", reviewer_client, "/review/"),
        *((path, reviewer_client, path) for path in QUEUE_VIEWS),
        ("case page (reviewer)", reviewer_client, f"/review/cases/{department_case}"),
        ("counter workstation", clerk, "/counter/"),
    ]
    with app.app_context():
        cases = db.session.scalar(select(func.count()).select_from(Application))
        print(f"{db.engine.dialect.name}, {cases:,} cases; medians of {args.rounds} requests")
    print(f"{'page':28} {'status':>6} {'wall ms':>8} {'CPU ms':>7} {'SQL':>4} {'KiB':>6}  cache")
    for name, client, path in pages:
        r = measure(client, path, args.rounds, statements)
        print(
            f"{name:28} {r['status']:>6} {r['wall']:8.1f} {r['cpu']:7.1f} {r['sql']:>4} "
            f"{r['kib']:6.1f}  {r['cache']}"
        )
        if args.plans:
            print_plans(app, client, path)
    print(f"{'bare Flask route':28} {'':>6} {'':>8} {bare_cpu():7.2f}")


if __name__ == "__main__":
    main()
