#!/usr/bin/env python3
"""Measure the scale seed's rows/s and the portal's pages under gunicorn, beside a bare Flask route.

1. Makes a temporary database (SQLite; --postgres for a throwaway PostgreSQL server) with
   `flask db upgrade`, `flask seed demo` and `flask seed scale`, and reports the seed's rows/s.
2. Starts two gunicorns with `make run`'s settings (2 sync workers, 127.0.0.1, a free port):
   the portal on that database, and scripts/bench_bare.py (one route that returns "ok").
3. For each URL, sends --requests requests from --concurrency threads to the bare route and
   then to the URL, side by side so that both see the same machine load, and prints
   requests/s, p50 and p95 latency, and the URL's requests/s as a fraction of the bare route's.

Only 127.0.0.1 is ever contacted; --time-cap bounds the measuring. Everything the script
starts is stopped and its temporary directory removed, also on errors, Ctrl-C and SIGTERM.

    .venv/bin/python scripts/bench.py                 # or: make bench BENCH_ARGS="--json"
    .venv/bin/python scripts/bench.py --seed-only --postgres
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import math
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's portal, whatever the virtualenv has installed

from test_all import free_port, throwaway_postgres  # noqa: E402  (scripts/ is on sys.path)

DEFAULT_URLS = (
    "/",
    "/healthz",
    "/catalogue",
    "/search?q=居住证",
    "/search?q=jzz",
    "/items/{item}",
    "/bundles/{bundle}",
)
READY_TIMEOUT = 60
STOP_TIMEOUT = 10
REQUEST_TIMEOUT = 30


@dataclass
class Measurement:
    url: str
    requests: int = 0
    seconds: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    rps: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0


@dataclass
class Server:
    proc: subprocess.Popen
    port: int
    log: Path


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[max(0, math.ceil(fraction * len(sorted_values)) - 1)]  # nearest rank


# ---------------------------------------------------------------- database


def portal_env(tmp: Path, database_url: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": secrets.token_hex(32),
        "UPLOAD_DIR": str(tmp / "uploads"),
        "PORTAL_ENV": "development",
        "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))),
    }
    env.pop("FLASK_APP", None)
    return env


def flask(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "portal", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def prepare_database(env: dict[str, str], items: int, applications: int) -> dict:
    flask(env, "db", "upgrade")
    flask(env, "seed", "demo")
    started = time.perf_counter()
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    output = flask(env, "seed", "scale", "--items", str(items), "--applications", str(applications))
    wall = time.perf_counter() - started
    match = re.search(r"(\d+) rows in ([\d.]+) s: ([\d,]+) rows/s(?: \(([\d.]+) s of CPU)?", output)
    if not match:
        raise RuntimeError(f"unexpected output from flask seed scale:\n{output}")
    return {
        "items": items,
        "applications": applications,
        "rows": int(match[1]),
        "seconds": float(match[2]),
        "rows_per_second": int(match[3].replace(",", "")),
        "cpu_seconds": float(match[4]) if match[4] else None,
        "command_seconds": round(wall, 2),
        "load_average": load,
    }


def resolve_urls(requested: list[str] | None, env: dict[str, str]) -> tuple[list[str], list[str]]:
    """The URLs to measure; by default those of DEFAULT_URLS the app actually serves."""
    from portal import create_app
    from seeds.catalogue_data import BUNDLES, ITEMS

    item = next(i["code"] for i in ITEMS if i["name"] == "居住证申领")
    urls = requested or [u.format(item=item, bundle=BUNDLES[0]["code"]) for u in DEFAULT_URLS]
    if requested:
        return urls, []
    app = create_app(
        {
            "DATABASE_URL": env["DATABASE_URL"],
            "SECRET_KEY": env["SECRET_KEY"],
            "UPLOAD_DIR": env["UPLOAD_DIR"],
        }
    )
    adapter = app.url_map.bind("127.0.0.1")
    served, missing = [], []
    for url in urls:
        try:
            adapter.match(urlsplit(url).path, method="GET")
            served.append(url)
        except Exception:  # NotFound or MethodNotAllowed: not a page of this version of the app
            missing.append(url)
    return served, missing


# ---------------------------------------------------------------- servers


@contextmanager
def gunicorn(
    app_spec: str, env: dict[str, str], log: Path, workers: int, extra: tuple[str, ...] = ()
) -> Iterator[Server]:
    """A gunicorn in its own session, killed with all its workers on the way out."""
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--access-logfile",
                "-",
                *extra,
                app_spec,
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield Server(proc, port, log)
        finally:
            stop(proc)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        proc.wait()


def wait_ready(server: Server, path: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({server.proc.returncode}):\n{tail(server.log)}")
        try:
            if get(server.port, path) == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn not ready after {READY_TIMEOUT} s:\n{tail(server.log)}")


def tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


# ---------------------------------------------------------------- load


def get(port: int, target: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request("GET", quote(target, safe="/?=&%:+"))
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def hammer(
    port: int, url: str, count: int, concurrency: int, deadline: float, stopping: threading.Event
) -> Measurement:
    """Send `count` GETs from `concurrency` threads, stopping early at the deadline."""
    tickets = itertools.count()
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    lock = threading.Lock()

    def worker() -> None:
        while not stopping.is_set() and time.monotonic() < deadline and next(tickets) < count:
            started = time.perf_counter()
            try:
                status = str(get(port, url))
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                statuses[status] += 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    latencies.sort()
    return Measurement(
        url=url,
        requests=len(latencies),
        seconds=round(seconds, 3),
        statuses=dict(statuses),
        rps=round(len(latencies) / seconds, 1) if seconds else 0.0,
        p50_ms=round(percentile(latencies, 0.50) * 1000, 2),
        p95_ms=round(percentile(latencies, 0.95) * 1000, 2),
    )


def warm(port: int, url: str, times: int) -> None:
    for _ in range(times):
        get(port, url)


def measure(
    portal: Server, bare: Server, urls: list[str], args, stopping: threading.Event
) -> list[dict]:
    deadline = time.monotonic() + args.time_cap
    rows = []
    for url in urls:
        if time.monotonic() >= deadline:
            rows.append({"url": url, "skipped": "time cap reached"})
            continue
        warm(bare.port, "/", args.workers * 2)
        warm(portal.port, url, args.workers * 2)
        base = hammer(bare.port, "/", args.requests, args.concurrency, deadline, stopping)
        page = hammer(portal.port, url, args.requests, args.concurrency, deadline, stopping)
        rows.append(
            {
                **asdict(page),
                "bare": asdict(base),
                "ratio": round(page.rps / base.rps, 3) if base.rps else None,
            }
        )
    return rows


# ---------------------------------------------------------------- output


def print_table(seed: dict, rows: list[dict], missing: list[str], args) -> None:
    cpu = f", {seed['cpu_seconds']} s of CPU in the seeding process" if seed["cpu_seconds"] else ""
    print(
        f"scale seed on {seed['backend']}: {seed['rows']:,} rows in {seed['seconds']} s = "
        f"{seed['rows_per_second']:,} rows/s ({seed['items']} items, {seed['applications']} "
        f"applications{cpu}; load average {seed['load_average']})"
    )
    if not rows:
        return
    print(
        f"gunicorn: {args.workers} sync workers on 127.0.0.1; {args.requests} requests per URL from "
        f"{args.concurrency} threads; the bare Flask route measured just before each URL"
    )
    header = ("URL", "statuses", "req/s", "p50 ms", "p95 ms", "bare req/s", "bare p95", "÷ bare")
    lines = []
    for r in rows:
        if "skipped" in r:
            lines.append((r["url"], r["skipped"], "", "", "", "", "", ""))
            continue
        statuses = " ".join(f"{k}×{v}" for k, v in sorted(r["statuses"].items()))
        lines.append(
            (
                r["url"],
                statuses,
                f"{r['rps']:.1f}",
                f"{r['p50_ms']:.1f}",
                f"{r['p95_ms']:.1f}",
                f"{r['bare']['rps']:.1f}",
                f"{r['bare']['p95_ms']:.1f}",
                f"{r['ratio']:.2f}" if r["ratio"] is not None else "-",
            )
        )
    widths = [
        max(display_width(str(row[i])) for row in (header, *lines)) for i in range(len(header))
    ]
    for row in (header, *lines):
        print(
            "  ".join(
                pad(str(cell), w, right=i > 1)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    for url in missing:
        print(f"not served by this version of the app, skipped: {url}")


def display_width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)  # CJK characters take two columns


def pad(text: str, width: int, right: bool) -> str:
    gap = " " * (width - display_width(text))
    return gap + text if right else text + gap


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--items", type=int, default=3600, help="scale items (default 3600)")
    p.add_argument(
        "--applications", type=int, default=20000, help="synthetic applications (default 20000)"
    )
    p.add_argument("--requests", type=int, default=300, help="requests per URL (default 300)")
    p.add_argument("--concurrency", type=int, default=4, help="client threads (default 4)")
    p.add_argument(
        "--workers", type=int, default=2, help="gunicorn workers (default 2, as make run)"
    )
    p.add_argument(
        "--time-cap", type=float, default=300, help="seconds of measuring at most (default 300)"
    )
    p.add_argument(
        "--url",
        action="append",
        help="a path to measure (repeat); default: the portal's main pages",
    )
    p.add_argument(
        "--postgres", action="store_true", help="use a throwaway PostgreSQL instead of SQLite"
    )
    p.add_argument("--seed-only", action="store_true", help="measure the scale seed only")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = p.parse_args(argv)
    if min(args.requests, args.concurrency, args.workers) < 1 or args.time_cap <= 0:
        p.error("--requests, --concurrency, --workers and --time-cap must be positive")
    if args.url and any(not u.startswith("/") for u in args.url):
        p.error("--url takes paths on the local server, starting with /")
    return args


def _terminate(signum, frame):
    raise KeyboardInterrupt  # unwind the same way as Ctrl-C: stop servers, remove files


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    stopping = threading.Event()
    rows: list[dict] = []
    missing: list[str] = []
    try:
        with ExitStack() as stack:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="portal-bench-")))
            if args.postgres:
                admin_url = stack.enter_context(throwaway_postgres())
                import sqlalchemy as sa

                engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
                with engine.connect() as conn:
                    conn.exec_driver_sql('CREATE DATABASE "portal_bench"')
                engine.dispose()
                database_url = re.sub(r"/[^/]*$", "/portal_bench", admin_url)
            else:
                database_url = f"sqlite:///{tmp / 'bench.db'}"
            env = portal_env(tmp, database_url)
            print(
                f"seeding demo + {args.items} items + {args.applications} applications …",
                file=sys.stderr,
                flush=True,
            )
            seed = prepare_database(env, args.items, args.applications)
            seed["backend"] = "PostgreSQL" if args.postgres else "SQLite"
            if not args.seed_only:
                urls, missing = resolve_urls(args.url, env)
                portal = stack.enter_context(
                    gunicorn("portal:create_app()", env, tmp / "portal.log", args.workers)
                )
                bare = stack.enter_context(
                    gunicorn(
                        "bench_bare:app",
                        env,
                        tmp / "bare.log",
                        args.workers,
                        ("--pythonpath", str(ROOT / "scripts")),
                    )
                )
                wait_ready(portal, "/healthz")
                wait_ready(bare, "/")
                print(f"measuring {len(urls)} URLs …", file=sys.stderr, flush=True)
                try:
                    rows = measure(portal, bare, urls, args, stopping)
                finally:
                    stopping.set()
    except KeyboardInterrupt:
        print("interrupted; everything started was stopped", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(
            json.dumps(
                {
                    "seed": seed,
                    "workers": args.workers,
                    "concurrency": args.concurrency,
                    "requests_per_url": args.requests,
                    "results": rows,
                    "not_served": missing,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        print_table(seed, rows, missing, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
