#!/usr/bin/env python3
"""Benchmark (not a test): the statistics dashboard for one year over a million cases.

    .venv/bin/python scripts/bench_statistics.py [--cases 1000000] [--backend sqlite|postgresql|both]

For each backend: a fresh database (a SQLite file, or a throwaway PostgreSQL server made as
scripts/test_all.py makes one), migrated and given the demo seed, then ``--cases`` cases
spread over the last 365 days, written in bulk (executemany on SQLite, COPY on PostgreSQL:
what is timed is the dashboard, not the making of the data) with their visits counted,
materials, correction rounds, 秒批 events, ratings and queue tickets. It prints the time of
the year's dashboard (every KPI, the rankings and the public per-item figures) computed from
the cases, the time to build the daily summaries, and the dashboard's time from them.
"""

from __future__ import annotations

import argparse
import random
import secrets
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

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

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
from services import clock  # noqa: E402
from services import statistics as stats  # noqa: E402

BATCH = 20_000
MIGRATIONS = ROOT / "migrations"


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
                                "action": "approve_instantly",
                                "created_at": decided,
                                "details": {"auto": True},
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
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    db.session.remove()
    for engine in db.engines.values():
        engine.dispose()  # the dashboard is timed on connections as the portal opens them


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


def year_dashboard(today: date, use_summaries: bool):
    f = stats.StatsFilter(today - timedelta(days=364), today)
    board = stats.dashboard(db.session, f, today=today, use_summaries=use_summaries)
    stats.promise_breakers(db.session, f, today=today, use_summaries=use_summaries)
    db.session.rollback()
    return board


def bench(url: str, cases: int, label: str) -> None:
    upload_dir = Path(tempfile.mkdtemp(prefix="bench-stats-uploads-"))
    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": secrets.token_hex(32),
            "UPLOAD_DIR": str(upload_dir),
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1",
        }
    )
    print(f"{label}: {cases:,} cases over the last 365 days", flush=True)
    with app.app_context():
        timed(
            "migrate and seed the demo",
            lambda: (upgrade(directory=str(MIGRATIONS)), load_demo(), db.session.commit()),
        )
        today = clock.local_today()
        load_cases(cases, today)
        board = timed(
            "dashboard for one year from the cases (no summaries)",
            lambda: year_dashboard(today, use_summaries=False),
        )
        timed(
            "build the daily summaries (flask jobs run, first time)",
            lambda: (stats.summarise(db.session, today), db.session.commit()),
        )
        timed(
            "jobs run after a busy minute (300 cases of the last 30 days changed)",
            lambda: (
                touch_recent_cases(today),
                stats.summarise(db.session, today),
                db.session.commit(),
            ),
        )
        summarised = timed(
            "dashboard for one year from the summaries (best of 3)",
            lambda: year_dashboard(today, use_summaries=True),
            repeat=3,
        )
        timed(
            "public per-item figures from the summaries",
            lambda: (stats.compute_item_figures(db.session, today), db.session.rollback()),
        )
        same = summarised == board
        v = board.visits[-1]
        t = board.timeliness
        print(
            f"  summaries == cases: {same}; received {board.volume.received:,}, "
            f"跑零次 {v.share_zero:.1%}, ≤1 visit {v.share_at_most_one:.1%}, "
            f"on time {t.on_time_rate:.1%}, median {t.median_days} working days, "
            f"好评率 {board.ratings.good_rate:.1%}",
            flush=True,
        )
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


@contextmanager
def sqlite_url() -> Iterator[str]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-stats-"))
    yield f"sqlite:///{tmp / 'bench.db'}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    if args.backend in ("sqlite", "both"):
        with sqlite_url() as url:
            bench(url, args.cases, "SQLite")
    if args.backend in ("postgresql", "both"):
        from test_all import throwaway_postgres

        with throwaway_postgres() as admin_url:
            bench(admin_url, args.cases, "PostgreSQL")
    return 0


if __name__ == "__main__":
    sys.exit(main())
