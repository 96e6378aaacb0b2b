#!/usr/bin/env python3
"""In-process timings of the public pages (and a bare route), at demo size and at scale.

Builds a scratch SQLite database under a temporary directory (migrate, demo seed, and with
``--items N`` the scale seed's catalogue of N items), then for each page asks the Flask test
client ``--rounds`` times as an anonymous visitor without cookies (as wrk does) and prints
p50 / p95 in milliseconds and the SQL statements of one warm request. ``--profile PATH``
prints cProfile's top functions for that page instead.

    .venv/bin/python scripts/bench_public_pages.py                 # demo size
    .venv/bin/python scripts/bench_public_pages.py --items 3600    # the issue's scale
    .venv/bin/python scripts/bench_public_pages.py --items 3600 --profile /

Not a test: numbers depend on the machine and its load. Nothing but the temporary
directory is written.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import event, select  # noqa: E402

from portal import create_app  # noqa: E402
from portal.extensions import db  # noqa: E402

PAGES = (
    "/",
    "/catalogue",
    "/catalogue?theme={theme}",
    "/catalogue?department={department}",
    "/search?q=" + quote("居住证"),
    "/search?q=jzz",
    "/items/330100GA0001",
    "/bundles/B001",
    "/static/css/portal.css",
)


def build(tmp: Path, items: int):
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
            "SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789",
            "UPLOAD_DIR": str(tmp / "uploads"),
            "RATE_LIMITS": {},
            "RATELIMIT_ENABLED": False,
        }
    )

    @app.get("/__bare")
    def bare():
        return "ok"

    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        from seeds.demo import load_demo

        load_demo()
        db.session.commit()
        if items:
            from seeds.scale import load_scale

            load_scale(items, 0)
            db.session.commit()
        db.session.remove()
    return app


def fill(app, path: str) -> str:
    from portal.models import Department, Theme

    with app.app_context():
        theme = db.session.scalar(select(Theme.id).order_by(Theme.id).limit(1))
        department = db.session.scalar(select(Department.code).order_by(Department.id).limit(1))
        db.session.remove()
    return path.format(theme=theme, department=department)


def queries(app, client, path: str) -> int:
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def on_execute(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        client.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
    return len(seen)


def measure(app, path: str, rounds: int) -> tuple[float, float, int, int]:
    client = app.test_client(use_cookies=False)
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    for _ in range(5):
        client.get(path)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        client.get(path)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    return statistics.median(times), p95, queries(app, client, path), len(response.data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=0, help="scale seed items (0: demo only)")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--profile", metavar="PATH", help="cProfile one page instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-public-") as tmp:
        started = time.perf_counter()
        app = build(Path(tmp), args.items)
        print(f"# database ready in {time.perf_counter() - started:.1f} s ({args.items} items)")
        if args.profile:
            path = fill(app, args.profile)
            client = app.test_client(use_cookies=False)
            client.get(path)
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.rounds):
                client.get(path)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
            return
        print(f"{'page':45} {'p50 ms':>8} {'p95 ms':>8} {'SQL':>4} {'bytes':>7}")
        for raw in ("/__bare", *PAGES):
            path = fill(app, raw)
            p50, p95, n, size = measure(app, path, args.rounds)
            print(f"{path:45} {p50:8.2f} {p95:8.2f} {n:4d} {size:7d}")


if __name__ == "__main__":
    main()
