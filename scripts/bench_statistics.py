#!/usr/bin/env python3
"""Benchmark (not a test): the statistics dashboard for one year over a million cases.

    .venv/bin/python scripts/bench_statistics.py [--cases 1000000] [--backend sqlite|postgresql|both]
        [--skip-raw] [--fresh] [--cache-revision REV] [--no-page]

For each backend, a database with the demo seed and ``--cases`` cases spread over the last 365
days, written in bulk (executemany on SQLite, COPY on PostgreSQL: what is timed is the
dashboard, not the making of the data) with their visits counted, materials, correction
rounds, 秒批 events, ratings and queue tickets. The loaded database is kept in
``.bench-cache/stats-<backend>-<cases>-<hash of the generator and the demo seed>/`` (a SQLite
file, or a stopped PostgreSQL cluster's directory) with the migrations it was built with; a
run copies it, upgrades the copy to the newest migration (timed: what a deployment would
pay) and works on the copy. The cache is rebuilt when the generator, the seed or one of the
migrations it was built with changes; ``--cache-revision`` builds it at an older revision
(so that the newest migration's own cost is measured on every run), ``--fresh`` rebuilds.

It prints the time of the year's dashboard computed from the cases (unless ``--skip-raw``:
that is the slow part), the time to build the daily summaries, the per-minute ``flask jobs
run`` after a busy minute and after a changed old case, the dashboard from the summaries
with a breakdown by part (best of 3), the public per-item figures (all items, and one item
on a cold cache as the guide page asks), and the admin dashboard page in-process (the view,
its tables, charts and template around the service). The load average is printed with each
run: the machine is shared, compare runs made in the same conditions.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench import migration_files, own_by_postgres, pg_ctl  # noqa: E402  (scripts/bench.py)
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import select, text  # noqa: E402
from test_all import PG_BIN, as_postgres, free_port  # noqa: E402

from portal import create_app  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models import (  # noqa: E402
    Application,
    ApplicationMaterial,
    Citizen,
    CorrectionRequest,
    Event,
    ItemVersion,
    MaterialRequirement,
    QueueCategory,
    Rating,
    Role,
    ServiceItem,
    Ticket,
    User,
)
from seeds.demo import load_demo  # noqa: E402
from seeds.scale import insert_rows  # noqa: E402
from services import cache, clock  # noqa: E402
from services import statistics as stats  # noqa: E402

BATCH = 20_000
MIGRATIONS = ROOT / "migrations"
CACHE = Path(os.environ.get("BENCH_CACHE", ROOT / ".bench-cache"))
# the demo seed's sources: the cached data changes with them (and with insert_rows)
SEED_SOURCES = ("seeds/demo.py", "seeds/catalogue_data.py", "seeds/factories.py")
SEED_SOURCES += ("seeds/cases.py", "seeds/counter.py")
PG_OPTIONS = "-c shared_buffers=512MB -c max_connections=50 -c listen_addresses=127.0.0.1"
PG_FAST_LOAD = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
PASSWORD = "Demo@2026"
# every app made stays referenced: the rate limiter of a collected app breaks the next one's
APPS: list = []


def timed(label: str, fn: Callable, repeat: int = 1):
    best = None
    result = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - started
        best = elapsed if best is None else min(best, elapsed)
    print(f"  {label:<58} {best:8.2f} s", flush=True)
    return result


def instant(day: date, minutes: int) -> datetime:
    """Beijing wall-clock minutes after midnight of ``day``, as UTC."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(minutes=minutes - 480)


def generate(cases: int, today: date, seed: int = 7) -> Iterator[dict[str, list[dict]]]:
    """Batches of rows for the bulk insert, reproducible for a seed."""
    rng = random.Random(seed)
    versions = db.session.execute(
        select(ItemVersion.id, ItemVersion.department_id, ItemVersion.visits)
        .join(ServiceItem, ServiceItem.published_version_id == ItemVersion.id)
        .order_by(ItemVersion.id)
    ).all()
    requirements: dict[int, list[int]] = {}
    for version_id, req_id in db.session.execute(
        select(MaterialRequirement.version_id, MaterialRequirement.id).where(
            MaterialRequirement.necessity != "optional"
        )
    ):
        requirements.setdefault(version_id, []).append(req_id)
    citizens = list(db.session.scalars(select(Citizen.id)))
    clerks = list(db.session.scalars(select(User.id).where(User.role == Role.counter)))
    staff = clerks[0]
    categories = db.session.execute(select(QueueCategory.id, QueueCategory.hall_id)).all()
    first_id = (db.session.scalar(select(Application.id).order_by(Application.id.desc())) or 0) + 1
    event_id = (db.session.scalar(select(Event.id).order_by(Event.id.desc())) or 0) + 1
    now = datetime.now(UTC)
    app_id = first_id
    ticket_no = 0
    for start in range(0, cases, BATCH):
        rows: dict[str, list[dict]] = {
            "applications": [],
            "materials": [],
            "corrections": [],
            "events": [],
            "ratings": [],
            "tickets": [],
        }
        for _ in range(min(BATCH, cases - start)):
            version_id, department_id, promised_visits = rng.choice(versions)
            day = today - timedelta(days=rng.randrange(365))
            submitted = instant(day, rng.randrange(8 * 60, 18 * 60))
            channel = rng.choices(("online", "counter", "kiosk"), (70, 25, 5))[0]
            roll = rng.random()
            row = {
                "id": app_id,
                "number": f"BENCH{app_id:010d}",
                "item_version_id": version_id,
                "department_id": department_id,
                "applicant_id": rng.choice(citizens),
                "created_by_id": rng.choice(clerks) if channel == "counter" else None,
                "channel": channel,
                "status": "completed",
                "form_data": {},
                "condition_answers": {},
                "submitted_at": submitted,
                "accepted_at": None,
                "decided_at": None,
                "completed_at": None,
                "due_date": None,
                "visit_count": 0,
                "correction_rounds": 0,
                "supply_deadline": None,
                "materials_required": 0,
                "materials_reused": 0,
                "updated_at": now,
                "version": 1,
            }
            instant_case = rng.random() < 0.45
            accepted = (
                submitted if instant_case else submitted + timedelta(hours=rng.randrange(1, 72))
            )
            taken = 0 if instant_case else rng.choice((1, 2, 3, 5, 7, 10, 15))
            decided = accepted + timedelta(days=taken * 1.4, minutes=rng.randrange(30))
            if roll < 0.03:
                row.update(status="withdrawn", completed_at=submitted + timedelta(days=1))
            elif roll < 0.05:
                row.update(status="not_accepted", decided_at=submitted + timedelta(hours=3))
            else:
                row.update(
                    accepted_at=accepted,
                    due_date=(accepted + timedelta(days=rng.choice((0, 5, 7, 10, 14)))).date(),
                )
                if decided > now:
                    row["status"] = "in_review"
                elif roll < 0.08:
                    row.update(status="denied", decided_at=decided)
                else:
                    visits = rng.choices((0, 1, 2, 3), (80, 15, 4, 1))[0]
                    row.update(
                        decided_at=decided,
                        completed_at=decided + timedelta(hours=rng.choice((0, 0, 2, 30))),
                        visit_count=visits,
                    )
                    if row["completed_at"] > now:
                        row["status"] = "awaiting_pickup"
                        row["completed_at"] = None
                    if rng.random() < 0.05 and instant_case:
                        rows["events"].append(
                            {
                                "id": event_id,
                                "application_id": app_id,
                                "actor_id": None,
                                "action": "approved",
                                "created_at": decided,
                                "details": {"action": "approve_instantly", "auto": True},
                                "prev_hash": "0" * 64,
                                "hash": secrets.token_hex(32),
                            }
                        )
                        event_id += 1
                    if row["status"] == "completed" and rng.random() < 0.6:
                        rows["ratings"].append(
                            {
                                "application_id": app_id,
                                "citizen_id": row["applicant_id"],
                                "visit_no": 0,
                                "score": rng.choices((1, 2, 3, 4, 5), (2, 3, 5, 20, 70))[0],
                                "indicators": {},
                                "tags": [],
                                "comment": "",
                                "created_at": row["completed_at"] + timedelta(hours=5),
                            }
                        )
                if rng.random() < 0.1:
                    row["correction_rounds"] = 1
                    rows["corrections"].append(
                        {
                            "application_id": app_id,
                            "round": 1,
                            "items": [],
                            "requested_at": submitted + timedelta(minutes=30),
                        }
                    )
            for req_id in requirements.get(version_id, [])[:3]:
                rows["materials"].append(
                    {
                        "application_id": app_id,
                        "requirement_id": req_id,
                        "satisfied_by": rng.choices(
                            ("upload", "elicence", "library", "shared", "commitment"),
                            (40, 25, 20, 10, 5),
                        )[0],
                        "verdict_reason": "",
                    }
                )
            if channel == "counter" and categories:
                category_id, hall_id = rng.choice(categories)
                ticket_no += 1
                called = submitted + timedelta(minutes=rng.randrange(0, 60))
                rows["tickets"].append(
                    {
                        "hall_id": hall_id,
                        "category_id": category_id,
                        "day": day,
                        "number": ticket_no,
                        "code": f"B{ticket_no % 1000:03d}",
                        "status": "done",
                        "issued_at": submitted - timedelta(minutes=5),
                        "called_at": called,
                        "finished_at": called + timedelta(minutes=rng.randrange(3, 30)),
                        "call_count": 1,
                        "source": "kiosk",
                        "application_id": app_id,
                        "staff_id": staff,
                    }
                )
            rows["applications"].append(row)
            app_id += 1
        yield rows


def load_citizens(count: int) -> None:
    """Applicants for the cases: one per fifty cases, as in a city of returning users."""
    first = (db.session.scalar(select(Citizen.id).order_by(Citizen.id.desc())) or 0) + 1
    rows = [
        {
            "id": first + k,
            "name": f"测试{k}",
            "id_number": f"9{first + k:017d}",
            "phone": None,
            "address": "",
            "birth_date": date(1970, 1, 1) + timedelta(days=k % 15000),
            "gender": "",
            "commitment_barred": False,
        }
        for k in range(count)
    ]
    for start in range(0, len(rows), BATCH):
        insert_rows(Citizen.__table__, rows[start : start + BATCH])
    db.session.commit()


def load_cases(cases: int, today: date) -> None:
    sqlite = db.session.get_bind().dialect.name == "sqlite"
    if sqlite:  # a large page cache while loading only: the engine is disposed afterwards
        db.session.execute(text("PRAGMA cache_size = -1000000"))
    load_citizens(max(cases // 50, 100))
    started = time.perf_counter()
    made = 0
    for rows in generate(cases, today):
        insert_rows(Application.__table__, rows["applications"])
        insert_rows(ApplicationMaterial.__table__, rows["materials"])
        insert_rows(CorrectionRequest.__table__, rows["corrections"])
        insert_rows(Event.__table__, rows["events"])
        insert_rows(Rating.__table__, rows["ratings"])
        insert_rows(Ticket.__table__, rows["tickets"])
        db.session.commit()
        made += len(rows["applications"])
        rate = made / (time.perf_counter() - started)
        print(f"\r  loading cases {made:>9,} / {cases:,}  ({rate:,.0f}/s)", end="", flush=True)
    print()
    db.session.commit()
    analyse()
    db.session.remove()
    for engine in db.engines.values():
        engine.dispose()  # the dashboard is timed on connections as the portal opens them


def analyse() -> None:
    """Planner statistics; on PostgreSQL also the visibility map (VACUUM), which autovacuum
    keeps in a running portal and index-only scans need."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        db.session.execute(text("ANALYZE"))
        db.session.commit()


def touch_recent_cases(today: date) -> None:
    """As if a quiet quarter of an hour passed since the last run and then 300 cases of the
    last month changed (a decision, a visit, a delivery)."""
    later = datetime.now(UTC) + stats.CHANGE_MARGIN + timedelta(seconds=1)
    db.session.execute(text("UPDATE stat_state SET checked_at = :t"), {"t": later})
    since = instant(today - timedelta(days=30), 0)
    ids = list(
        db.session.scalars(
            select(Application.id).where(Application.submitted_at >= since).limit(300)
        )
    )
    db.session.execute(
        Application.__table__.update()
        .where(Application.id.in_(ids))
        .values(updated_at=later + timedelta(seconds=1))
    )


def touch_old_case(today: date) -> None:
    """As if one case submitted 200 days ago changed (a late post-check, a correction of its
    record): only the days it counts on need summarising again."""
    later = datetime.now(UTC) + 2 * stats.CHANGE_MARGIN + timedelta(seconds=5)
    db.session.execute(text("UPDATE stat_state SET checked_at = :t"), {"t": later})
    since = instant(today - timedelta(days=200), 0)
    case_id = db.session.scalar(
        select(Application.id)
        .where(Application.submitted_at >= since, Application.status == "completed")
        .order_by(Application.submitted_at)
        .limit(1)
    )
    db.session.execute(
        Application.__table__.update()
        .where(Application.id == case_id)
        .values(updated_at=later + timedelta(seconds=1))
    )


def year_filter(today: date) -> stats.StatsFilter:
    return stats.StatsFilter(today - timedelta(days=364), today)


def year_dashboard(today: date, use_summaries: bool, timings: dict[str, float] | None = None):
    f = year_filter(today)
    board, _rankings = stats.dashboard_and_rankings(
        db.session, f, today=today, use_summaries=use_summaries, timings=timings
    )
    db.session.rollback()
    return board


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def breakdown(today: date, repeat: int = 3):
    """The dashboard from the summaries, best of ``repeat``, with the best time of each part."""
    best: dict[str, float] = {}
    best_total = None
    board = None
    for _ in range(repeat):
        timings: dict[str, float] = {}
        started = time.perf_counter()
        cpu = time.process_time()
        board = year_dashboard(today, use_summaries=True, timings=timings)
        total = time.perf_counter() - started
        cpu = time.process_time() - cpu
        if best_total is None or total < best_total[0]:
            best_total = (total, cpu)
        for name, seconds in timings.items():
            best[name] = min(best.get(name, seconds), seconds)
    print(
        f"  {'dashboard for one year from the summaries (best of 3)':<58} "
        f"{best_total[0]:8.3f} s  (this process's CPU {best_total[1]:.3f} s)",
        flush=True,
    )
    for name, seconds in best.items():
        print(f"      {name:<54} {seconds:8.3f} s", flush=True)
    return board


def page_time(app, today: date) -> None:
    """The admin dashboard page for the year in-process (a test client logged in as admin):
    the view, its tables, charts and template around the service."""
    client = app.test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    response = client.post(
        "/auth/login",
        data={"login": "admin", "password": PASSWORD, "csrf_token": token[1] if token else ""},
    )
    if response.status_code not in (302, 303):
        print(f"  (admin login failed: HTTP {response.status_code}; page not timed)")
        return
    f = year_filter(today)
    url = f"/admin/statistics/?start={f.start.isoformat()}&end={f.end.isoformat()}"
    times = []
    for _ in range(3):
        started = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - started)
        if response.status_code != 200:
            print(f"  (dashboard page answered HTTP {response.status_code})")
            return
    size = len(response.get_data()) / 1024
    print(
        f"  {'admin dashboard PAGE for the year, in-process (best of 3)':<58} "
        f"{min(times):8.3f} s  (first {times[0]:.3f} s, {size:,.0f} KiB)",
        flush=True,
    )


def guide_figures_time(today: date) -> None:
    """One item's public figures on a cold cache, as the first guide page of the day asks."""
    item_id = db.session.scalar(
        select(ServiceItem.id).where(ServiceItem.published_version_id.is_not(None)).limit(1)
    )
    cache.current().local.clear()
    timed(
        "one item's public figures on a cold cache (a guide page)",
        lambda: (stats.item_figures(db.session, [item_id], today), db.session.rollback()),
    )


def run(url: str, cases: int, label: str, args: argparse.Namespace, record: dict) -> None:
    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": secrets.token_hex(32),
            "UPLOAD_DIR": tempfile.mkdtemp(prefix="bench-stats-uploads-"),
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1",
        }
    )
    APPS.append(app)
    print(
        f"{label}: {cases:,} cases, loaded {record.get('built_on')} "
        f"({record.get('how')}); load average {load_average()}",
        flush=True,
    )
    with app.app_context():
        timed(
            "upgrade the cached database to the newest migration",
            lambda: (upgrade(directory=str(MIGRATIONS)), db.session.commit(), analyse()),
        )
        today = clock.local_today()
        board = None
        if not args.skip_raw:
            board = timed(
                "dashboard for one year from the cases (no summaries)",
                lambda: year_dashboard(today, use_summaries=False),
            )
        timed(
            "build the daily summaries (flask jobs run, first time)",
            lambda: (stats.summarise(db.session, today), db.session.commit(), analyse()),
        )
        timed(
            "jobs run after a busy minute (300 cases of the last 30 days changed)",
            lambda: (
                touch_recent_cases(today),
                stats.summarise(db.session, today),
                db.session.commit(),
            ),
        )
        days = timed(
            "jobs run after one case of 200 days ago changed",
            lambda: (
                touch_old_case(today),
                stats.summarise(db.session, today),
                db.session.commit(),
            )[1],
        )
        print(f"      (days summarised again: {days})")
        print(f"  load average {load_average()}")
        summarised = breakdown(today)
        timed(
            "public per-item figures of every item from the summaries",
            lambda: (stats.compute_item_figures(db.session, today), db.session.rollback()),
        )
        guide_figures_time(today)
        if not args.no_page:
            page_time(app, today)
        v = summarised.visits[-1]
        t = summarised.timeliness
        same = "not compared (--skip-raw)" if board is None else str(summarised == board)
        print(
            f"  summaries == cases: {same}; received {summarised.volume.received:,}, "
            f"open now {summarised.volume.open_now:,}, overdue now "
            f"{summarised.volume.overdue_now:,}, 跑零次 {v.share_zero:.1%}, "
            f"≤1 visit {v.share_at_most_one:.1%}, on time {t.on_time_rate:.1%}, "
            f"median {t.median_days} working days, 好评率 {summarised.ratings.good_rate:.1%}",
            flush=True,
        )
        print(f"  load average {load_average()}", flush=True)
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


# ---- the cached loaded databases -------------------------------------------------------------


def data_key(backend: str, cases: int) -> str:
    """The cache's name: the backend, the number of cases and a hash of what makes the data
    (this script's generator and loaders, the demo seed's sources)."""
    digest = hashlib.sha256(repr((backend, cases, BATCH)).encode())
    for fn in (instant, generate, load_citizens, load_cases, insert_rows):
        digest.update(inspect.getsource(fn).encode())
    for name in SEED_SOURCES:
        path = ROOT / name
        digest.update(path.read_bytes() if path.exists() else b"-")
    if backend == "postgresql":
        digest.update(str(PG_BIN).encode())
    return f"stats-{backend}-{cases}-{digest.hexdigest()[:12]}"


def usable(cached: Path) -> str | None:
    """Why the cache cannot be used (None: it can)."""
    done = cached / "done.json"
    if not done.exists():
        return "no cache yet"
    record = json.loads(done.read_text())
    versions = MIGRATIONS / "versions"
    for name, digest in record["migrations"].items():
        path = versions / name
        if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            return f"migration {name} changed since the cache was built"
    return None


def build(url: str, cases: int, revision: str) -> dict:
    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": secrets.token_hex(32),
            "UPLOAD_DIR": tempfile.mkdtemp(prefix="bench-stats-uploads-"),
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1",
        }
    )
    APPS.append(app)
    started = time.perf_counter()
    with app.app_context():
        upgrade(directory=str(MIGRATIONS), revision=revision)
        load_demo()
        db.session.commit()
        today = clock.local_today()
        load_cases(cases, today)
        applied = db.session.scalar(text("SELECT version_num FROM alembic_version"))
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
    return {
        "built_on": today.isoformat(),
        "revision": applied,
        "migrations": migration_files(applied),
        "load_seconds": round(time.perf_counter() - started, 1),
        "load_average": load_average(),
    }


@contextmanager
def sqlite_database(cases: int, args: argparse.Namespace) -> Iterator[tuple[str, dict]]:
    cached = CACHE / data_key("sqlite", cases)
    why = "--fresh" if args.fresh else usable(cached)
    tmp = Path(tempfile.mkdtemp(prefix="bench-stats-"))
    try:
        if why:
            print(f"SQLite: loading {cases:,} cases into {cached.name} ({why}) …", flush=True)
            shutil.rmtree(cached, ignore_errors=True)
            cached.mkdir(parents=True)
            record = build(f"sqlite:///{cached / 'bench.db'}", cases, args.cache_revision)
            (cached / "done.json").write_text(json.dumps(record, indent=1))
        record = json.loads((cached / "done.json").read_text())
        record["how"] = f"loaded now in {record['load_seconds']} s" if why else "from the cache"
        shutil.copy2(cached / "bench.db", tmp / "bench.db")
        yield f"sqlite:///{tmp / 'bench.db'}", record
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def postgres_server(data: Path, options: str) -> Iterator[str]:
    """A server on the cluster in ``data`` on a free loopback port, stopped on exit; yields
    the URL of its database "portal"."""
    port = free_port()
    log = data.parent / "server.log"
    pg_ctl(data, "-l", str(log), "-o", f"-p {port} -k {data.parent} {options}", "-w", "start")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/portal"
    finally:
        pg_ctl(data, "-m", "fast", "-w", "-t", "120", "stop")


@contextmanager
def postgres_database(cases: int, args: argparse.Namespace) -> Iterator[tuple[str, dict]]:
    """The loaded cluster's directory is kept stopped in the cache; a run copies it."""
    cached = CACHE / data_key("postgresql", cases)
    why = "--fresh" if args.fresh else usable(cached)
    tmp = Path(tempfile.mkdtemp(prefix="bench-stats-pg-"))
    tmp.chmod(0o711)
    work = tmp / "pg"
    try:
        if why:
            print(f"PostgreSQL: loading {cases:,} cases into {cached.name} ({why}) …", flush=True)
            shutil.rmtree(cached, ignore_errors=True)
            cached.mkdir(parents=True)
            cached.chmod(0o711)
            building = cached / "pg"
            building.mkdir()
            own_by_postgres(building)
            building.chmod(0o700)
            subprocess.run(
                as_postgres(
                    [str(PG_BIN / "initdb"), "-D", str(building / "data"), "-U", "postgres"]
                    + ["-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"]
                ),
                check=True,
                stdout=subprocess.DEVNULL,
            )
            with postgres_server(building / "data", f"{PG_OPTIONS} {PG_FAST_LOAD}") as url:
                subprocess.run(
                    as_postgres([str(PG_BIN / "psql"), url.replace("+psycopg", "")]) + ["-qc", ""],
                    check=False,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                admin = url.rsplit("/", 1)[0] + "/postgres"
                subprocess.run(
                    as_postgres(
                        [str(PG_BIN / "psql"), admin.replace("+psycopg", ""), "-qc"]
                        + ["CREATE DATABASE portal"]
                    ),
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
                record = build(url, cases, args.cache_revision)
            (cached / "done.json").write_text(json.dumps(record, indent=1))
        record = json.loads((cached / "done.json").read_text())
        record["how"] = f"loaded now in {record['load_seconds']} s" if why else "from the cache"
        work.mkdir()
        own_by_postgres(work)
        work.chmod(0o700)
        subprocess.run(["cp", "-a", str(cached / "pg" / "data"), str(work / "data")], check=True)
        own_by_postgres(work)
        with postgres_server(work / "data", PG_OPTIONS) as url:
            yield url, record
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--skip-raw", action="store_true", help="skip the dashboard from the cases (slow)"
    )
    parser.add_argument("--fresh", action="store_true", help="load the data again")
    parser.add_argument(
        "--cache-revision",
        default="head",
        help="the migration a newly loaded database stops at (newer ones run on each copy)",
    )
    parser.add_argument("--no-page", action="store_true", help="do not time the admin page")
    args = parser.parse_args()
    if args.backend in ("sqlite", "both"):
        with sqlite_database(args.cases, args) as (url, record):
            run(url, args.cases, "SQLite", args, record)
    if args.backend in ("postgresql", "both"):
        with postgres_database(args.cases, args) as (url, record):
            run(url, args.cases, "PostgreSQL", args, record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
