#!/usr/bin/env python3
"""A soak: mixed journeys by 50 simulated people for 10 minutes against two portal nodes on one
PostgreSQL, then 0 server errors and every acknowledged submission in the database.

1. A throwaway PostgreSQL on a free loopback port, with the demo data and a scale seed (3,600
   items, 20,000 cases, 64 citizens who log in); Redis and an S3 store (SeaweedFS) from
   tests/servers.py when the portal has the settings for them (REDIS_URL, STORAGE_URL), and a
   Celery worker when it has CELERY_BROKER_URL (--no-redis, --no-s3 leave them out).
2. Two gunicorn nodes (2 sync workers each, different loopback ports) on all of it.
3. locust, headless, in its own process (it patches the standard library with gevent):
   scripts/locustfile.py's citizens (browse, search, apply with an upload or reusing the
   library, submit, take a ticket), the holder of 50 cases (我的办件, 我的材料, rating) and
   reviewers (queue, case, the next step), spread over both nodes.
4. Afterwards: locust's figures (requests, failures, requests/s, p50/p95); server errors (5xx)
   in locust's failures and in both nodes' logs; every case a submission was acknowledged for
   exists once, submitted, with a number; cases submitted without an acknowledgement are
   counted too. Exit status 0 only if there were no server errors and nothing was lost.

    make soak                                   # SOAK_MINUTES=10 by default
    SOAK_MINUTES=2 make soak
    .venv/bin/python scripts/soak.py --minutes 1 --users 20 --no-s3

Only 127.0.0.1 is contacted; everything started is stopped, also on errors and Ctrl-C.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import bench  # noqa: E402  (scripts/ is on sys.path)
from test_all import PG_BIN, free_port  # noqa: E402

NODES = 2
HALL = "SMZX"
# POSTs answered without failure, by what they did (locust's request names)
JOURNEY_STEPS = {
    "logins": r"^/auth/login$",
    "drafts started": r"/start$",
    "uploads": r"/upload$",
    "submissions": r"/submit$",
    "review steps": r"/actions/",
    "ratings": r"/rate$",
    "tickets": r"/tickets$",
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--minutes",
        type=float,
        default=float(os.environ.get("SOAK_MINUTES") or 10),
        help="how long locust runs (default: SOAK_MINUTES, else 10)",
    )
    p.add_argument("--users", type=int, default=50, help="simulated people (default 50)")
    p.add_argument("--spawn-rate", type=float, default=5, help="users started per second")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers per node")
    p.add_argument("--cases", type=int, default=20_000, help="cases seeded beforehand")
    p.add_argument("--no-redis", action="store_true", help="no Redis (nor Celery)")
    p.add_argument("--no-s3", action="store_true", help="files on the local disk")
    args = p.parse_args(argv)
    if args.minutes <= 0 or args.users < 1 or args.workers < 1:
        p.error("--minutes, --users and --workers must be positive")
    return args


def locust_figures(prefix: Path) -> dict:
    """The Aggregated row of locust's stats and the server errors among its failures."""
    figures: dict = {}
    steps: dict[str, int] = {}
    with open(f"{prefix}_stats.csv", newline="") as f:
        for row in csv.DictReader(f):
            for label, pattern in JOURNEY_STEPS.items():
                if re.search(pattern, row["Name"]) and row["Type"] == "POST":
                    ok = int(row["Request Count"]) - int(row["Failure Count"])
                    steps[label] = steps.get(label, 0) + ok
            if row["Name"] == "Aggregated":
                figures = {
                    "requests": int(row["Request Count"]),
                    "failures": int(row["Failure Count"]),
                    "rps": float(row["Requests/s"]),
                    "p50_ms": float(row["50%"]),
                    "p95_ms": float(row["95%"]),
                    "p99_ms": float(row["99%"]),
                }
    server_errors, other = 0, []
    failures = Path(f"{prefix}_failures.csv")
    if failures.exists():
        with open(failures, newline="") as f:
            for row in csv.DictReader(f):
                n = int(row["Occurrences"])
                if re.search(r"\b5\d\d\b", row["Error"]):
                    server_errors += n
                else:
                    other.append(f"{n}× {row['Method']} {row['Name']}: {row['Error'][:120]}")
    exceptions = []
    errors_file = Path(f"{prefix}_exceptions.csv")
    if errors_file.exists():
        with open(errors_file, newline="") as f:
            exceptions = [f"{row['Count']}× {row['Message'][:160]}" for row in csv.DictReader(f)]
    figures.update(
        server_errors=server_errors, other_failures=other, exceptions=exceptions, steps=steps
    )
    return figures


def reconcile(inproc: bench.InProcess, ledger: Path, phones: list[str], before: set[int]) -> dict:
    acknowledged = [int(line.split()[0]) for line in ledger.read_text().splitlines() if line]
    reused = sum(int(line.split()[2]) > 0 for line in ledger.read_text().splitlines() if line)
    now = {k: v for k, v in inproc.submitted_by(phones).items() if k not in before}
    numbers = [number for _, number in now.values() if number]
    counts = inproc.number_counts(numbers) if numbers else {}
    missing = set(acknowledged) - now.keys()
    return {
        "acknowledged": len(acknowledged),
        "distinct": len(set(acknowledged)),
        "with_reuse": reused,
        "missing": len(missing),
        "unacknowledged": len(now.keys() - set(acknowledged)),
        "duplicate_numbers": sum(1 for c in counts.values() if c != 1),
        "unnumbered": sum(1 for _, n in now.values() if not n),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, bench._terminate)
    from portal.config import DEFAULTS
    from seeds.scale import account_phone
    from tests.servers import redis_server, seaweedfs_s3, storage_environment

    redis = not args.no_redis and "REDIS_URL" in DEFAULTS
    celery = redis and "CELERY_BROKER_URL" in DEFAULTS and (ROOT / "portal/worker.py").exists()
    s3 = not args.no_s3 and "STORAGE_URL" in DEFAULTS
    accounts = args.users + 2
    try:
        with ExitStack() as stack:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="portal-soak-")))
            tmp.chmod(0o711)
            pg = tmp / "pg"
            pg.mkdir()
            bench.own_by_postgres(pg)
            pg.chmod(0o700)
            bench.initdb(pg / "data")
            port = stack.enter_context(bench.postgres(pg / "data"))
            subprocess.run(
                [str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
                + ["portal"],
                check=True,
            )
            env = bench.portal_env(tmp, bench.pg_url(port), tmp / "uploads")
            parts = ["PostgreSQL"]
            if redis:
                url = stack.enter_context(redis_server())
                env["REDIS_URL"] = url
                parts.append("Redis")
                if celery:
                    env["CELERY_BROKER_URL"] = url[: url.rindex("/")] + "/1"
                    parts.append("Celery worker")
            if s3:
                env.update(storage_environment(stack.enter_context(seaweedfs_s3())))
                parts.append("S3 (SeaweedFS)")
            bench.log(f"seeding: demo, 3,600 items, {args.cases:,} cases, {accounts} accounts")
            bench.flask(env, "db", "upgrade")
            bench.flask(env, "seed", "demo")
            bench.flask(
                env,
                *("seed", "scale", "--items", "3600", "--applications", str(args.cases)),
                *("--citizens", str(max(1, args.cases // 5)), "--accounts", str(accounts)),
            )
            if celery:
                stack.enter_context(
                    bench.process(
                        [
                            str(Path(sys.executable).parent / "celery"),
                            *("-A", "portal.worker", "worker", "--concurrency=2"),
                            "--loglevel=WARNING",
                        ],
                        tmp / "celery.log",
                        env,
                    )
                )
            config = tmp / "gunicorn.conf.py"
            nodes = []
            for n in range(NODES):
                node_port, log = free_port(), tmp / f"node{n + 1}.log"
                proc = stack.enter_context(
                    bench.process(
                        bench.gunicorn_cmd(bench.portal_spec(), node_port, args.workers, config),
                        log,
                        env,
                    )
                )
                nodes.append((node_port, proc, log))
            for node_port, proc, log in nodes:
                bench.wait_ready(node_port, "/healthz", proc, log)
            inproc = bench.InProcess(env)
            phones = [account_phone(i) for i in range(accounts)]
            before = set(inproc.submitted_by(phones))
            ledger, upload = tmp / "ledger.txt", tmp / "upload.png"
            ledger.touch()
            from seeds.factories import make_png

            upload.write_bytes(make_png())
            hosts = ",".join(f"http://127.0.0.1:{p}" for p, _, _ in nodes)
            locust_env = {
                **env,
                "SOAK_HOSTS": hosts,
                "SOAK_LEDGER": str(ledger),
                "SOAK_UPLOAD": str(upload),
                "SOAK_HALL": HALL,
            }
            prefix = tmp / "locust"
            seconds = round(args.minutes * 60)
            bench.log(
                f"locust: {args.users} users on {NODES} nodes ({' + '.join(parts)}) for {seconds} s"
            )
            started = time.perf_counter()
            with open(tmp / "locust.out", "wb") as out:
                subprocess.run(
                    [
                        str(Path(sys.executable).parent / "locust"),
                        *("-f", str(ROOT / "scripts" / "locustfile.py"), "--headless"),
                        *("-u", str(args.users), "-r", str(args.spawn_rate), "-t", f"{seconds}s"),
                        *("--host", hosts.split(",")[0], "--csv", str(prefix), "--only-summary"),
                        "--stop-timeout",
                        "30",
                        "--loglevel",
                        "WARNING",
                    ],
                    cwd=ROOT,
                    env=locust_env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=seconds + 300,
                )
            ran = time.perf_counter() - started
            figures = locust_figures(prefix)
            node_errors = {
                f"node{n + 1}": bench.server_errors(log) for n, (_, _, log) in enumerate(nodes)
            }
            books = reconcile(inproc, ledger, phones, before)
            print_summary(args, parts, ran, figures, node_errors, books)
            ok = (
                figures.get("requests", 0) > 0
                and figures["server_errors"] == 0
                and not any(node_errors.values())
                and books["missing"] == 0
                and books["duplicate_numbers"] == 0
                and books["unnumbered"] == 0
                and books["acknowledged"] == books["distinct"]
            )
            if not ok:
                print(f"locust output: {bench.tail(tmp / 'locust.out', 40)}")
            return 0 if ok else 1
    except KeyboardInterrupt:
        print("interrupted; everything started was stopped", file=sys.stderr)
        return 130
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"soak failed: {exc}", file=sys.stderr)
        return 1


def print_summary(args, parts, ran, figures, node_errors, books) -> None:
    print(
        f"soak: {args.users} users, {NODES} gunicorn nodes × {args.workers} sync workers on "
        f"{' + '.join(parts)}, {ran / 60:.1f} min (load average now "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())})"
    )
    if "requests" in figures:
        print(
            f"requests {figures['requests']:,}, failures {figures['failures']:,}, "
            f"{figures['rps']:.1f} req/s, p50 {figures['p50_ms']:.0f} ms, "
            f"p95 {figures['p95_ms']:.0f} ms, p99 {figures['p99_ms']:.0f} ms"
        )
    if figures.get("steps"):
        print("done: " + ", ".join(f"{label} {n:,}" for label, n in figures["steps"].items()))
    mark = "✓" if figures["server_errors"] == 0 else "✗"
    print(f"server errors (5xx) in locust's failures: {figures['server_errors']} {mark}")
    for node, lines in node_errors.items():
        mark = "✓" if not lines else "✗"
        print(f"5xx / tracebacks in {node}'s log: {len(lines)} {mark}")
        for line in lines[:3]:
            print(f"    {line}")
    for line in figures["other_failures"][:8]:
        print(f"other failure (not a server error): {line}")
    for line in figures["exceptions"][:8]:
        print(f"journey stopped: {line}")
    lost = books["missing"] + books["duplicate_numbers"] + books["unnumbered"]
    mark = "✓" if lost == 0 and books["acknowledged"] == books["distinct"] else "✗"
    print(
        f"submissions acknowledged {books['acknowledged']} ({books['with_reuse']} reusing a "
        f"library document), found in the database {books['acknowledged'] - books['missing']}, "
        f"missing {books['missing']}, duplicate numbers {books['duplicate_numbers']}, without "
        f"a number {books['unnumbered']} {mark}; submitted without an acknowledgement reaching "
        f"the client: {books['unacknowledged']}"
    )


if __name__ == "__main__":
    sys.exit(main())
