#!/usr/bin/env python3
"""Page speed at city scale with wrk, beside a bare Flask route, on SQLite and PostgreSQL.

For each database (SQLite, and a throwaway PostgreSQL server on a free loopback port):

1. A scratch database under a temporary directory: `flask db upgrade`, `flask seed demo` and
   `flask seed scale` (3,600 items, 1,000,000 cases over 200,000 citizens, and citizens who can
   log in: 17000000001 with 50 cases and 100 documents, the others apply in step 5). The seed is
   timed (rows/s, per step; a million cases took 12 min on SQLite and 7 min on PostgreSQL with
   the machine's load average at 10) and kept in .bench-cache/ under a key of its parameters
   and of the seed's source, with the migrations it applied, so the next run copies it and
   runs `flask db upgrade` for newer migrations (about 30 s at a million cases). A cache whose
   seed sources changed since is still used, with a note (--exact-cache: seed again); one
   whose applied migrations changed is not; --fresh seeds again.
2. Two gunicorns with `make run`'s settings (2 sync workers, 127.0.0.1, free ports): the
   portal and scripts/bench_bare.py (one route returning "ok"). The portal's per-client rate
   limits are raised, because every request here comes from one address.
3. Logs in through the login form (citizen 17000000001, reviewer01, counter01) and hands wrk
   the session cookie.
4. For each page, wrk (2 threads, 8 connections, --latency) runs alternating rounds on the
   bare route and on the page, so both see the same machine; prints requests/s, p50, p99, the
   ratio to the bare route, and SQL statements per request (counted in this process, with a
   test client on the same database, on a second request so that caches are warm), with ✓/✗
   against issue 15's targets.
5. Submissions through the real apply flow: citizens log in, apply (conditions, form, upload,
   confirm) concurrently; then all press 提交 at once. Prints journeys/s and submissions/s,
   and reconciles: every submission that got its redirect to a case exists exactly once, and
   no other case appeared.
6. One 提交 request timed in this process (CPU ms and SQL statements): with 2 sync workers on 2
   cores, 2000 ÷ its CPU ms is the most submissions/s the workers' CPU allows.
7. The time to issue a notice PDF (in this process, rolled back afterwards).

Only 127.0.0.1 is contacted; rounds have fixed durations. Everything started is stopped and the
temporary directory removed, also on errors, Ctrl-C and SIGTERM.

    make bench                                  # both databases, full scale (≈ 12 min cached)
    make bench BENCH_ARGS="--quick"             # 20,000 cases, shorter rounds
    .venv/bin/python scripts/bench.py --db sqlite --cases 100000 --page home --page 我的办件
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import quote, urlencode, urljoin, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's portal, whatever the virtualenv has installed
sys.path.insert(0, str(ROOT / "scripts"))

import journeys  # noqa: E402  (scripts/ is on sys.path)
from test_all import PG_BIN, as_postgres, free_port  # noqa: E402

CACHE = Path(os.environ.get("BENCH_CACHE", ROOT / ".bench-cache"))
MIGRATIONS = ROOT / "migrations"
SEED_SOURCES = ("seeds/scale.py", "seeds/scale_data.py", "seeds/demo.py", "seeds/catalogue_data.py")
SEED_SOURCES += ("seeds/factories.py", "seeds/cases.py", "seeds/counter.py")
PASSWORD = "Demo@2026"
HOLDER = "17000000001"  # the scale seed's first account: 50 cases, 100 documents
READY_TIMEOUT = 120
STOP_TIMEOUT = 10
# every request comes from 127.0.0.1: the per-client limits would otherwise stop the bench
BENCH_LIMITS = {
    name: "1000000 per minute"
    for name in ("login", "register", "sms_code", "verify", "kiosk_case", "upload", "pdf")
}
PG_OPTIONS = "-c shared_buffers=512MB -c max_connections=200 -c listen_addresses=127.0.0.1"
PG_FAST_LOAD = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


@dataclass(frozen=True)
class Page:
    label: str
    kind: str  # public | personal
    who: str | None  # the account whose cookie wrk sends
    min_ratio: float
    max_p99_ms: float


PAGES = (
    Page("home", "public", None, 0.7, 20),
    Page("catalogue", "public", None, 0.5, 20),
    Page("search 居住证", "public", None, 0.5, 20),
    Page("guide", "public", None, 0.7, 20),
    Page("bundle", "public", None, 0.7, 20),
    Page("theme", "public", None, 0.7, 20),
    Page("department", "public", None, 0.7, 20),
    Page("我的办件", "personal", HOLDER, 0.25, 50),
    Page("case page", "personal", HOLDER, 0.25, 50),
    Page("我的材料", "personal", HOLDER, 0.25, 50),
    Page("reviewer queue", "personal", "reviewer01", 0.25, 50),
    Page("counter workstation", "personal", "counter01", 0.25, 50),
    # references, no target: what any logged-in page costs before it shows anything
    # (scripts/bench_portal.py adds them to the portal served here)
    Page("signed in, no page", "reference", HOLDER, 0.0, float("inf")),
    Page("signed in, empty frame", "reference", HOLDER, 0.0, float("inf")),
)
SUBMISSIONS_TARGET = 100.0  # per second, on PostgreSQL (issue 15)
NOTICE_TARGET_MS = 100.0


@dataclass
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    bad: int = 0  # non-2xx/3xx responses and socket errors


@dataclass
class Row:
    label: str
    path: str = ""
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    bare_rps: float = 0.0
    ratio: float = 0.0
    sql: int | None = None  # statements of a warm request (the second)
    sql_cold: int | None = None  # of the first request of a fresh app
    bad: int = 0
    kb: float = 0.0
    ok: bool = False
    note: str = ""


@dataclass
class Report:
    backend: str
    seed: dict = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    submissions: dict = field(default_factory=dict)
    submit_cost: dict = field(default_factory=dict)
    notice: dict = field(default_factory=dict)
    load_average: str = ""


# ---------------------------------------------------------------- wrk output


UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def to_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match[1]) * UNITS[match[2]]


def parse_wrk(output: str) -> WrkResult:
    """The figures of `wrk --latency` output."""
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m),", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    if not (done and rate and p50 and p99):
        raise ValueError(f"unexpected wrk output:\n{output}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        requests=int(done[1]),
        seconds=round(to_ms(done[2] + done[3]) / 1000, 2),
        rps=float(rate[1]),
        p50_ms=round(to_ms(p50[1]), 2),
        p99_ms=round(to_ms(p99[1]), 2),
        bad=(int(bad[1]) if bad else 0) + (sum(map(int, sockets.groups())) if sockets else 0),
    )


def run_wrk(url: str, seconds: float, cookie: str | None) -> WrkResult:
    cmd = ["wrk", "-t2", "-c8", f"-d{seconds:g}s", "--latency", "--timeout", "5s"]
    if cookie:
        # the browser that logged in: the same User-Agent as the login's (requests'), or
        # Flask-Login's session protection sees another browser on every request
        from requests.utils import default_user_agent

        cmd += ["-H", f"Cookie: {cookie}", "-H", f"User-Agent: {default_user_agent()}"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=seconds + 30)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed on {url}: {out.stderr or out.stdout}")
    return parse_wrk(out.stdout)


# ---------------------------------------------------------------- output


def display_width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)  # CJK characters take two columns


def pad(text: str, width: int, right: bool) -> str:
    gap = " " * (width - display_width(text))
    return gap + text if right else text + gap


def table(header: tuple[str, ...], lines: list[tuple[str, ...]]) -> str:
    widths = [max(display_width(row[i]) for row in (header, *lines)) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            pad(cell, w, right=i > 0) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in (header, *lines)
    )


def judge(row: Row, page: Page) -> bool:
    return (
        not row.note
        and row.bad == 0
        and row.ratio >= page.min_ratio
        and row.p99_ms <= page.max_p99_ms
    )


def format_report(report: Report, settings: str) -> str:
    out = [f"== {report.backend} =="]
    seed = report.seed
    if seed:
        how = "copied from the cache" if seed.get("cached") else "seeded now"
        figure = (
            f"{seed['rows']:,} rows in {seed['seconds']} s = {seed['rows_per_second']:,} rows/s"
            if seed.get("rows")
            else "timing in the cache's record missing"
        )
        out.append(
            f"scale seed: {seed['items']:,} items, {seed['cases']:,} cases, "
            f"{seed['citizens']:,} citizens: {figure} ({how}; database ready in "
            f"{seed['ready_seconds']} s)"
        )
        if seed.get("steps"):
            cpu = f"; {seed['cpu_seconds']} s of CPU in flask" if seed.get("cpu_seconds") else ""
            out.append(
                f"  seed steps: {seed['steps']} (load average then {seed['load_average']}{cpu})"
            )
        if seed.get("note"):
            out.append(f"  note: {seed['note']}")
    out.append(f"load average at the start: {report.load_average}; {settings}")
    targets = {p.label: p for p in PAGES}
    lines = []
    for r in report.rows:
        page = targets[r.label]
        goal = f"≥{page.min_ratio:g}× p99≤{page.max_p99_ms:g}"
        if page.kind == "reference":
            goal = "reference"
        if r.note:
            lines.append((r.label, "", "", "", "", "", "", "", goal, "✗ " + r.note))
            continue
        lines.append(
            (
                r.label,
                f"{r.rps:,.0f}",
                f"{r.p50_ms:.1f}",
                f"{r.p99_ms:.1f}",
                f"{r.bare_rps:,.0f}",
                f"{r.ratio:.2f}",
                "-" if r.sql is None else f"{r.sql_cold}/{r.sql}",
                f"{r.kb:.0f}",
                goal,
                ("" if page.kind == "reference" else "✓" if r.ok else "✗")
                + (f" {r.bad} bad responses" if r.bad else ""),
            )
        )
    if lines:
        header = ("page", "req/s", "p50 ms", "p99 ms", "bare req/s", "ratio", "SQL 1st/2nd")
        header += ("KiB",)
        out.append(table((*header, "target", ""), lines))
    sub = report.submissions
    if sub.get("error"):
        out.append(f"submissions: failed: {sub['error']}")
    elif sub:
        mark = "✓" if sub["submits_per_second"] >= SUBMISSIONS_TARGET else "✗"
        out.append(
            f"apply journeys (start, conditions, form, upload, materials, confirm; "
            f"{sub['users']} citizens at once, {sub['rounds']} rounds): {sub['prepared']} in "
            f"{sub['prepare_seconds']} s = {sub['journeys_per_second']:.1f}/s"
            + (f", {sub['prepare_errors']} failed" if sub["prepare_errors"] else "")
        )
        out.append(
            f"submissions (提交 pressed by all {sub['users']} at once in each round): "
            f"{sub['submitted']} in {sub['submit_seconds']} s = "
            f"{sub['submits_per_second']:.1f}/s {mark} (target ≥ {SUBMISSIONS_TARGET:g}/s on "
            f"PostgreSQL), p50 {sub['submit_p50_ms']} ms, p99 {sub['submit_p99_ms']} ms; "
            f"the load generator's CPU {sub.get('client_cpu_ms', 0)} ms per submission"
        )
        mark = "✓" if sub["reconciled"] else "✗"
        out.append(f"reconciled {mark}: {sub['reconcile_note']}")
    cost = report.submit_cost
    if cost.get("error"):
        out.append(f"one submission in-process: failed: {cost['error']}")
    elif cost:
        out.append(
            f"one submission in-process (提交 alone, test client, median of {cost['runs']}): "
            f"{cost['cpu_ms']} ms CPU, {cost['wall_ms']} ms, {cost['statements']} SQL statements"
            + (f" in {cost['transactions']} transactions" if cost["transactions"] else "")
            + f", {cost.get('python_calls', 0):,} Python calls"
            + f"; {cost['workers']} workers on {cost['cores']} cores can serve at most "
            f"≈ {cost['ceiling']:.0f} submissions/s"
        )
    notice = report.notice
    if notice.get("error"):
        out.append(f"notice PDF: failed: {notice['error']}")
    elif notice:
        mark = "✓" if notice["median_ms"] <= NOTICE_TARGET_MS else "✗"
        out.append(
            f"notice PDF (受理通知书, issue_notice in-process): first {notice['first_ms']} ms, "
            f"then median {notice['median_ms']} ms of {notice['runs']} {mark} "
            f"(target ≤ {NOTICE_TARGET_MS:g} ms, or rendered off the request)"
        )
    return "\n".join(out)


# ---------------------------------------------------------------- processes


@contextmanager
def process(cmd: list[str], log: Path, env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """A process in its own session, killed with its children on the way out."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield proc
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


def gunicorn_cmd(app_spec: str, port: int, workers: int, config: Path, *extra: str) -> list[str]:
    """`config` is an empty file: a gunicorn.conf.py in the checkout is not read, so both apps
    run on exactly these settings."""
    config.touch()
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        str(config),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--access-logfile",
        "-",
        *extra,
        app_spec,
    ]


def portal_spec(extra_config: dict | None = None, references: bool = False) -> str:
    """The portal; with ``references``, with the reference pages of scripts/bench_portal.py
    (scripts/ must then be on gunicorn's --pythonpath)."""
    config = {"RATE_LIMITS": BENCH_LIMITS, **(extra_config or {})}
    if references:
        return f"bench_portal:make_app({config!r})"
    return f"portal:create_app({config!r})"


def wait_ready(port: int, path: str, proc: subprocess.Popen, log: Path) -> None:
    import requests

    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}):\n{tail(log)}")
        try:
            if requests.get(f"http://127.0.0.1:{port}{path}", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server not ready after {READY_TIMEOUT} s:\n{tail(log)}")


def server_errors(log: Path) -> list[str]:
    """The 5xx lines of a gunicorn access log (and its tracebacks' first lines)."""
    text = log.read_text(errors="replace")
    return [
        line
        for line in text.splitlines()
        if re.search(r'HTTP/1\.[01]" 5\d\d ', line) or line.startswith("Traceback")
    ]


def tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


# ---------------------------------------------------------------- PostgreSQL


def pg_ctl(data: Path, *args: str) -> None:
    subprocess.run(
        as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), *args]),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def own_by_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", "postgres:postgres", str(path)], check=True)


def initdb(data: Path) -> None:
    subprocess.run(
        as_postgres(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )


@contextmanager
def postgres(data: Path, options: str = PG_OPTIONS) -> Iterator[int]:
    """A PostgreSQL server on the cluster in `data`, on a free loopback port, stopped on exit;
    yields the port. Its database "portal" is the portal's."""
    port = free_port()
    sockets = data.parent
    pg_ctl(
        data,
        "-l",
        str(data.parent / "server.log"),
        "-o",
        f"-p {port} -k {sockets} {options}",
        "-w",
        "-t",
        "120",
        "start",
    )
    try:
        yield port
    finally:
        pg_ctl(data, "-m", "fast", "-w", "-t", "120", "stop")


def pg_url(port: int) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/portal"


# ---------------------------------------------------------------- the database


def portal_env(tmp: Path, database_url: str, uploads: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": secrets.token_hex(32),
        "UPLOAD_DIR": str(uploads),
        "PORTAL_ENV": "development",
        "PUBLIC_BASE_URL": "http://127.0.0.1",
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


def source_digests() -> dict[str, str]:
    """The seed's source files (name → short sha256): a cache is made by these."""
    return {
        name: hashlib.sha256((ROOT / name).read_bytes()).hexdigest()[:12]
        if (ROOT / name).exists()
        else "-"
        for name in SEED_SOURCES
    }


def cache_prefix(backend: str, args: argparse.Namespace) -> str:
    params = (backend, args.items, args.cases, args.citizens, args.accounts)
    if backend == "postgresql":
        params += (str(PG_BIN),)
    return f"{backend}-{args.cases}-{hashlib.sha256(repr(params).encode()).hexdigest()[:8]}"


def cache_key(backend: str, args: argparse.Namespace) -> str:
    sources = hashlib.sha256(repr(sorted(source_digests().items())).encode()).hexdigest()[:12]
    return f"{cache_prefix(backend, args)}-{sources}"


def migration_files(revision: str) -> dict[str, str]:
    """The migrations up to ``revision`` (file name → sha256 of its text)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    return {
        Path(s.path).name: hashlib.sha256(Path(s.path).read_bytes()).hexdigest()
        for s in script.walk_revisions("base", revision)
    }


def changed_migrations(record: dict) -> list[str]:
    """The migrations applied to a cached database whose files changed since (or were
    removed): such a database has a schema no `flask db upgrade` will correct. A record that
    does not list them counts as changed."""
    applied = record.get("migrations")
    if not applied:
        return ["(not recorded)"]
    versions = MIGRATIONS / "versions"
    return [
        name
        for name, digest in applied.items()
        if not (versions / name).exists()
        or hashlib.sha256((versions / name).read_bytes()).hexdigest() != digest
    ]


def drop_older_caches(kept: Path, backend: str, args: argparse.Namespace) -> None:
    """A new cache replaces those of the same sizes and database (a million cases' copies
    take gigabytes each); other sizes stay."""
    for older in CACHE.glob(f"{cache_prefix(backend, args)}-*"):
        if older != kept:
            log(f"removing the older cache {older.name}")
            shutil.rmtree(older, ignore_errors=True)


def find_cache(backend: str, args: argparse.Namespace) -> tuple[Path | None, str]:
    """The cached database to copy, and a note when it is not the exact one: without --fresh
    a cache of the same sizes made by older seed sources is taken (another session's edit of
    seeds/demo.py would otherwise cost a full seed of a million cases), naming the files that
    changed since; --exact-cache refuses it. A cache is never taken when a migration it has
    applied changed since (newer migrations run on the copy)."""
    if args.fresh:
        return None, ""
    exact = CACHE / cache_key(backend, args)
    candidates = sorted(
        (p for p in CACHE.glob(f"{cache_prefix(backend, args)}-*") if (p / "done.json").exists()),
        key=lambda p: (p != exact, -(p / "done.json").stat().st_mtime),
    )
    for candidate in candidates:
        if candidate != exact and args.exact_cache:
            break
        record = json.loads((candidate / "done.json").read_text())
        if changed := changed_migrations(record):
            log(f"not using {candidate.name}: migrations changed since: {', '.join(changed)}")
            continue
        if candidate == exact:
            return exact, ""
        made_by = record.get("sources", {})
        changed = [name for name, digest in source_digests().items() if made_by.get(name) != digest]
        return candidate, (
            f"the cache {candidate.name} was seeded before changes to "
            f"{', '.join(changed) or 'the seed sources'} (--fresh seeds again)"
        )
    return None, ""


def seed(env: dict[str, str], args: argparse.Namespace) -> dict:
    flask(env, "db", "upgrade", args.cache_revision)
    current = re.search(r"^(\w+)(?: \(head\))?\s*$", flask(env, "db", "current"), re.M)
    if not current:
        raise RuntimeError("flask db current named no revision")
    revision = current[1]
    flask(env, "seed", "demo")
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    output = flask(
        env,
        "seed",
        "scale",
        "--items",
        str(args.items),
        "--applications",
        str(args.cases),
        "--citizens",
        str(args.citizens),
        "--accounts",
        str(args.accounts),
    )
    match = re.search(r"(\d+) rows in ([\d.]+) s: ([\d,]+) rows/s", output)
    if not match:
        raise RuntimeError(f"unexpected output from flask seed scale:\n{output}")
    steps = re.search(r"^steps: (.*)$", output, re.M)
    cpu = re.search(r"\(([\d.]+) s of CPU in this process", output)
    return {
        "rows": int(match[1]),
        "seconds": float(match[2]),
        "rows_per_second": int(match[3].replace(",", "")),
        "steps": steps[1] if steps else "",
        "cpu_seconds": float(cpu[1]) if cpu else None,
        "load_average": load,
        "sources": source_digests(),
        "revision": revision,
        "migrations": migration_files(revision),
    }


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextmanager
def sqlite_database(tmp: Path, args: argparse.Namespace) -> Iterator[tuple[str, Path, dict]]:
    """(database URL, upload directory, seed record) of a seeded SQLite copy in tmp."""
    started = time.perf_counter()
    cached, note = find_cache("sqlite", args)
    db_file, uploads = tmp / "bench.db", tmp / "uploads"
    url = f"sqlite:///{db_file}"
    if cached is None:
        cached = CACHE / cache_key("sqlite", args)
        log(f"seeding SQLite: {args.items} items, {args.cases:,} cases …")
        record = seed(portal_env(tmp, url, uploads), args)
        if not args.no_cache:
            shutil.rmtree(cached, ignore_errors=True)
            cached.mkdir(parents=True)
            shutil.copy2(db_file, cached / "bench.db")
            shutil.copytree(uploads, cached / "uploads")
            (cached / "done.json").write_text(json.dumps(record))
            drop_older_caches(cached, "sqlite", args)
        record["cached"] = False
    else:
        log(f"copying the seeded SQLite database from {cached}" + (f": {note}" if note else ""))
        shutil.copy2(cached / "bench.db", db_file)
        shutil.copytree(cached / "uploads", uploads)
        record = {**json.loads((cached / "done.json").read_text()), "cached": True, "note": note}
        flask(portal_env(tmp, url, uploads), "db", "upgrade")
    record["ready_seconds"] = round(time.perf_counter() - started, 1)
    yield url, uploads, record


@contextmanager
def postgres_database(tmp: Path, args: argparse.Namespace) -> Iterator[tuple[str, Path, dict]]:
    """The same on a throwaway PostgreSQL server: the seeded cluster's directory is cached."""
    started = time.perf_counter()
    cached, note = find_cache("postgresql", args)
    tmp.chmod(0o711)  # the postgres user reaches its cluster below
    pg = tmp / "pg"
    pg.mkdir()
    data, uploads = pg / "data", tmp / "uploads"
    own_by_postgres(pg)
    pg.chmod(0o700)
    if cached is None:
        cached = CACHE / cache_key("postgresql", args)
        log(f"seeding PostgreSQL: {args.items} items, {args.cases:,} cases …")
        initdb(data)
        with postgres(data, f"{PG_OPTIONS} {PG_FAST_LOAD}") as port:
            server = ["-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
            subprocess.run([str(PG_BIN / "createdb"), *server, "portal"], check=True)
            record = seed(portal_env(tmp, pg_url(port), uploads), args)
            # planner statistics and the visibility map, as a database that has lived has them
            # (else autovacuum analyses the new tables during the first measurements)
            vacuum = time.perf_counter()
            subprocess.run(
                [str(PG_BIN / "vacuumdb"), *server, "--analyze", "--quiet", "portal"], check=True
            )
            record["vacuum_seconds"] = round(time.perf_counter() - vacuum, 1)
        if not args.no_cache:
            shutil.rmtree(cached, ignore_errors=True)
            cached.mkdir(parents=True)
            subprocess.run(["cp", "-a", str(data), str(cached / "data")], check=True)
            shutil.copytree(uploads, cached / "uploads")
            (cached / "done.json").write_text(json.dumps(record))
            drop_older_caches(cached, "postgresql", args)
        record["cached"] = False
    else:
        log(f"copying the seeded PostgreSQL cluster from {cached}" + (f": {note}" if note else ""))
        subprocess.run(["cp", "-a", str(cached / "data"), str(data)], check=True)
        shutil.copytree(cached / "uploads", uploads)
        record = {**json.loads((cached / "done.json").read_text()), "cached": True, "note": note}
    own_by_postgres(pg)
    with postgres(data) as port:
        url = pg_url(port)
        flask(portal_env(tmp, url, uploads), "db", "upgrade")
        record["ready_seconds"] = round(time.perf_counter() - started, 1)
        yield url, uploads, record


# ---------------------------------------------------------------- in-process look-ups


class InProcess:
    """The portal app in this process, on the bench database: finds the pages' URLs, counts
    the SQL statements of a request, times a notice, reconciles submissions."""

    def __init__(self, env: dict[str, str], extra: dict | None = None) -> None:
        from bench_portal import make_app

        self.app = make_app(
            {
                "DATABASE_URL": env["DATABASE_URL"],
                "SECRET_KEY": env["SECRET_KEY"],
                "UPLOAD_DIR": env["UPLOAD_DIR"],
                "PUBLIC_BASE_URL": env["PUBLIC_BASE_URL"],
                "RATE_LIMITS": BENCH_LIMITS,
                **(extra or {}),
            }
        )
        self.clients: dict[str | None, object] = {}

    def client(self, who: str | None):
        if who not in self.clients:
            client = self.app.test_client()
            if who:
                page = client.get("/auth/login").get_data(as_text=True)
                response = client.post(
                    "/auth/login",
                    data={"login": who, "password": PASSWORD, "csrf_token": journeys.csrf_of(page)},
                )
                if response.status_code != 302:
                    raise RuntimeError(f"in-process login of {who}: HTTP {response.status_code}")
                client.get(response.headers["Location"])  # shows the login's flashed message
            self.clients[who] = client
        return self.clients[who]

    def statements(self, who: str | None, path: str) -> tuple[int, int, int]:
        """(status, SQL statements of the first GET, of a second GET) of path: the first
        pays for whatever caches are empty in a fresh app, the second is what wrk sees. The
        fast path reads a kept personal page's generations through the driver, where
        SQLAlchemy's events do not see it: those reads are counted apart and added."""
        from sqlalchemy import event

        from portal.extensions import db
        from portal.personal_pages import pages_of

        pages = pages_of(self.app)
        read_token = pages.token_for

        def token_for(user_id: int):
            counted.append("(the fast path's read of the page generations)")
            return read_token(user_id)

        client = self.client(who)
        counted: list[str] = []

        def count(conn, cursor, statement, *args) -> None:
            if not re.match(r"\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", statement, re.I):
                counted.append(statement)

        with self.app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", count)
        pages.token_for = token_for
        try:
            client.get(path)
            first = len(counted)
            status = client.get(path).status_code
        finally:
            event.remove(engine, "before_cursor_execute", count)
            del pages.token_for
        return status, first, len(counted) - first

    def holder_case(self) -> int:
        from sqlalchemy import select

        from portal.extensions import db
        from portal.models import Application, User

        with self.app.app_context():
            citizen = db.session.scalar(select(User.citizen_id).where(User.phone == HOLDER))
            return db.session.scalar(
                select(Application.id)
                .where(Application.applicant_id == citizen, Application.status != "draft")
                .order_by(Application.id.desc())
                .limit(1)
            )

    def submitted_by(self, phones: list[str]) -> dict[int, tuple[str, str | None]]:
        """Every non-draft case of these accounts: id → (status, number)."""
        from sqlalchemy import select

        from portal.extensions import db
        from portal.models import Application, User

        with self.app.app_context():
            citizens = select(User.citizen_id).where(User.phone.in_(phones))
            rows = db.session.execute(
                select(Application.id, Application.status, Application.number).where(
                    Application.applicant_id.in_(citizens), Application.status != "draft"
                )
            )
            return {r.id: (str(r.status), r.number) for r in rows}

    def number_counts(self, numbers: list[str]) -> dict[str, int]:
        from sqlalchemy import func, select

        from portal.extensions import db
        from portal.models import Application

        with self.app.app_context():
            rows = db.session.execute(
                select(Application.number, func.count())
                .where(Application.number.in_(numbers))
                .group_by(Application.number)
            )
            return {number: n for number, n in rows}

    def time_submit(self, phones: list[str]) -> dict:
        """One submission each for these accounts through the real forms, on a test client in
        this process: the CPU time and the SQL statements of the 提交 request alone (the
        figure that bounds submissions/s: 2 sync workers on 2 cores manage about
        2000 ÷ CPU ms per second, less what the database and the load generator take)."""
        from sqlalchemy import event

        from portal.extensions import db
        from seeds.factories import make_png

        upload = make_png()
        with self.app.app_context():
            engine = db.engine
        counted: list[str] = []

        def count(conn, cursor, statement, *args) -> None:
            counted.append(statement)

        cpu, wall, statements = [], [], []
        for phone in phones:
            client = TestClientSession(self.app.test_client())
            journeys.login(client, "", phone, PASSWORD)
            draft = journeys.prepare_application(client, "", upload)
            counted.clear()
            event.listen(engine, "before_cursor_execute", count)
            try:
                started, cpu_started = time.perf_counter(), time.process_time()
                journeys.submit(client, "", draft)
                cpu.append((time.process_time() - cpu_started) * 1000)
                wall.append((time.perf_counter() - started) * 1000)
            finally:
                event.remove(engine, "before_cursor_execute", count)
            statements.append(
                sum(1 for s in counted if not re.match(r"\s*(BEGIN|COMMIT|ROLLBACK)\b", s, re.I))
            )
        return {
            "runs": len(cpu),
            "python_calls": self.count_calls(phones[0], upload),
            "cpu_ms": round(statistics.median(cpu), 1),
            "wall_ms": round(statistics.median(wall), 1),
            "statements": max(statements),
            # SQLite's BEGIN IMMEDIATE are statements (PostgreSQL's BEGIN is implicit)
            "transactions": sum(1 for s in counted if re.match(r"\s*BEGIN\b", s, re.I)),
        }

    def count_calls(self, phone: str, upload: bytes) -> int:
        """The Python and built-in function calls of one more 提交 (the process's profile
        hook): a count, so it stays put where this VM's CPU time moves by half between runs."""
        client = TestClientSession(self.app.test_client())
        journeys.login(client, "", phone, PASSWORD)
        draft = journeys.prepare_application(client, "", upload)
        calls = 0

        def hook(frame, event: str, arg) -> None:
            nonlocal calls
            if event in ("call", "c_call"):
                calls += 1

        sys.setprofile(hook)
        try:
            journeys.submit(client, "", draft)
        finally:
            sys.setprofile(None)
        return calls

    def time_notice(self, runs: int) -> dict:
        """Issue a 受理通知书 for a case of reviewer01's department `runs` times, rolled back."""
        from sqlalchemy import select

        from portal.extensions import db
        from portal.models import Application, User
        from services.clock import local_today
        from services.notices import issue_notice

        times = []
        with self.app.app_context():
            reviewer = db.session.scalar(select(User).where(User.username == "reviewer01"))
            case = db.session.scalar(
                select(Application)
                .where(
                    Application.department_id == reviewer.department_id,
                    Application.status != "draft",
                )
                .order_by(Application.id.desc())
                .limit(1)
            )
            due = local_today() + timedelta(days=20)
            with self.app.test_request_context():
                for _ in range(runs):
                    started = time.perf_counter()
                    issue_notice(case, "acceptance", actor=reviewer, due_date=due)
                    times.append((time.perf_counter() - started) * 1000)
                    db.session.rollback()
        return {
            "first_ms": round(times[0], 1),
            "median_ms": round(statistics.median(times[1:] or times), 1),
            "runs": len(times[1:] or times),
        }


class TestClientSession:
    """A Flask test client answering as journeys.py expects of a requests.Session."""

    class Response:
        def __init__(self, response) -> None:
            self.status_code = response.status_code
            self.headers = response.headers
            self.content = response.data
            self.text = response.get_data(as_text=True)

    def __init__(self, client) -> None:
        self.client = client

    def get(self, url: str, name: str | None = None, **kwargs):
        return self.Response(self.client.get(url))

    def post(self, url: str, data=None, files=None, allow_redirects=False, name=None):
        import io

        form = dict(data or {})
        for key, (filename, blob, content_type) in (files or {}).items():
            form[key] = (io.BytesIO(blob), filename, content_type)
        return self.Response(self.client.post(url, data=form))


# ---------------------------------------------------------------- measuring


class Session:
    """requests.Session taking locust's name= argument (journeys.py passes it)."""

    def __new__(cls):
        import requests

        class Named(requests.Session):
            def request(self, method, url, *args, name=None, **kwargs):
                kwargs.setdefault("timeout", 60)
                return super().request(method, url, *args, **kwargs)

        return Named()


def resolve_pages(base: str, cookies: dict[str, str], inproc: InProcess) -> dict[str, str]:
    """Page label → path. The theme, department and bundle come from the home page's links."""
    import requests

    from seeds.catalogue_data import BUNDLES, ITEMS

    home = requests.get(f"{base}/", timeout=60).text

    def first_link(pattern: str) -> str | None:
        match = re.search(rf'href="(/[^"]*{pattern}[^"]*)"', home)
        return match[1].replace("&amp;", "&") if match else None

    guide = next(i["code"] for i in ITEMS if i["name"] == "居住证申领")
    paths = {
        "home": "/",
        "catalogue": "/catalogue",
        "search 居住证": "/search?q=" + quote("居住证"),
        "guide": f"/items/{guide}",
        "bundle": first_link("/bundles/") or f"/bundles/{BUNDLES[0]['code']}",
        "theme": first_link("[?&/]themes?[=/]"),
        "department": first_link("[?&/]departments?[=/]"),
        "我的办件": "/cases",
        "case page": f"/cases/{inproc.holder_case()}",
        "我的材料": "/documents/",
        "reviewer queue": "/review/",
        "counter workstation": "/counter/",
        "signed in, no page": "/bench/signed-in",
        "signed in, empty frame": "/bench/frame",
    }
    return {label: path for label, path in paths.items() if path}


def measure_pages(
    base: str, bare: str, paths: dict[str, str], cookies: dict[str, str], inproc, args
) -> list[Row]:
    import requests

    rows = []
    for page in PAGES:
        if args.page and page.label not in args.page:
            continue
        path = paths.get(page.label)
        row = Row(page.label, path or "")
        rows.append(row)
        if not path:
            row.note = "no link to it on the home page"
            continue
        cookie = cookies.get(page.who) if page.who else None
        check = requests.get(
            base + path,
            headers={"Cookie": cookie} if cookie else {},
            allow_redirects=False,
            timeout=60,
        )
        if check.status_code != 200:
            row.note = f"HTTP {check.status_code} {check.headers.get('Location', '')}".rstrip()
            continue
        row.kb = len(check.content) / 1024
        log(f"{page.label}: {path}")
        bare_runs, page_runs = [], []
        run_wrk(bare, 1, None)  # warm both: worker start-up, caches
        run_wrk(base + path, 1, cookie)
        for _ in range(args.rounds):
            bare_runs.append(run_wrk(bare, args.duration, None))
            page_runs.append(run_wrk(base + path, args.duration, cookie))
        again = requests.get(
            base + path,
            headers={"Cookie": cookie} if cookie else {},
            allow_redirects=False,
            timeout=60,
        )
        if again.status_code != 200:  # e.g. the session ended and wrk measured a redirect
            row.note = f"HTTP {again.status_code} after the rounds"
            continue
        row.rps = round(statistics.fmean(r.rps for r in page_runs), 1)
        row.p50_ms = round(statistics.fmean(r.p50_ms for r in page_runs), 2)
        row.p99_ms = max(r.p99_ms for r in page_runs)
        row.bare_rps = round(statistics.fmean(r.rps for r in bare_runs), 1)
        row.ratio = round(row.rps / row.bare_rps, 3) if row.bare_rps else 0.0
        row.bad = sum(r.bad for r in page_runs)
        try:
            status, row.sql_cold, row.sql = inproc.statements(page.who, path)
            if status != 200:
                row.sql = row.sql_cold = None
        except Exception as exc:  # the count is extra information; the wrk figures stand
            log(f"SQL count of {path} failed: {exc}")
        row.ok = judge(row, page)
    return rows


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))]


def submit_lean(session, connection: http.client.HTTPConnection, draft: journeys.Draft) -> int:
    """journeys.submit (提交 with consent) on a bare keep-alive connection: the load generator
    shares the machine's cores with the workers, and requests spends about three times the CPU
    of http.client on a request. The session's cookie goes along, and the one the portal sends
    back (the flashed message) is kept in the session for its next journey."""
    connection.request(
        "POST",
        f"/apply/drafts/{draft.id}/submit",
        body=urlencode({"csrf_token": draft.csrf, "token": draft.token, "consent": "y"}),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": journeys.cookie_header(session),
        },
    )
    response = connection.getresponse()
    response.read()
    if response.status != 302:
        raise journeys.JourneyError(f"submit: HTTP {response.status}")
    for header in response.headers.get_all("Set-Cookie") or []:
        for morsel in SimpleCookie(header).values():
            kept = next((c for c in session.cookies if c.name == morsel.key), None)
            domain, path = (kept.domain, kept.path) if kept else ("", morsel["path"] or "/")
            if kept:
                session.cookies.clear(domain, path, morsel.key)
            if morsel.value and morsel["max-age"] != "0":
                session.cookies.set(morsel.key, morsel.value, domain=domain, path=path)
    location = response.headers.get("Location", "")
    match = journeys.CASE.search(location)
    if not match:
        raise journeys.JourneyError(f"submit: sent to {location} (not a case page)")
    return int(match[1])


def measure_submissions(base: str, inproc: InProcess, args) -> dict:
    """Citizens 17000000002 … log in, then in rounds: each prepares one application through
    the apply flow (a citizen holds one draft per item), all at once; then all press 提交 at
    the same moment. Journeys/s counts the preparing, submissions/s the submitting; then
    every acknowledged submission is looked up in the database."""
    from seeds.factories import make_png
    from seeds.scale import account_phone

    users = min(args.submitters, args.accounts - 1, args.submissions)
    phones = [account_phone(i) for i in range(1, users + 1)]
    address = urlsplit(base)
    rounds = -(-args.submissions // users)
    before = inproc.submitted_by(phones)
    upload = make_png()
    lock = threading.Lock()
    errors: list[str] = []
    outcomes: list[tuple[int | None, str, float]] = []  # case id, error, ms
    sessions: dict[str, object] = {}

    def log_in(phone: str) -> None:
        session = Session()
        try:
            journeys.login(session, base, phone, PASSWORD)
            sessions[phone] = session
        except Exception as exc:
            with lock:
                errors.append(f"login {phone}: {exc}")

    def together(target, phones: list[str]) -> float:
        threads = [threading.Thread(target=target, args=(p,)) for p in phones]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.perf_counter() - started

    together(log_in, phones)
    ready = list(sessions)
    drafts: dict[str, journeys.Draft] = {}
    gate = threading.Barrier(len(ready))

    def prepare(phone: str) -> None:
        try:
            drafts[phone] = journeys.prepare_application(sessions[phone], base, upload)
        except Exception as exc:
            with lock:
                errors.append(f"{phone}: {exc}")

    def press(phone: str) -> None:
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
        try:
            connection.connect()  # before the gate: only the request is timed
        except OSError as exc:
            connection = None
            with lock:
                errors.append(f"connect {phone}: {exc}")
        gate.wait()
        if phone not in drafts or connection is None:
            return
        started = time.perf_counter()
        try:
            case, error = submit_lean(sessions[phone], connection, drafts.pop(phone)), ""
        except Exception as exc:
            case, error = None, str(exc)
        finally:
            connection.close()
        with lock:
            outcomes.append((case, error, (time.perf_counter() - started) * 1000))

    prepare_seconds = submit_seconds = client_cpu = 0.0
    prepared = 0
    log(f"apply: {len(ready)} citizens at once, {rounds} rounds")
    for _ in range(rounds if ready else 0):
        prepare_seconds += together(prepare, ready)
        prepared += len(drafts)
        cpu_started = time.process_time()
        submit_seconds += together(press, ready)
        client_cpu += time.process_time() - cpu_started  # this process: the load generator

    acknowledged = [case for case, _, _ in outcomes if case is not None]
    ok = set(acknowledged)
    after = {k: v for k, v in inproc.submitted_by(phones).items() if k not in before}
    numbers = [number for _, number in after.values() if number]
    counts = inproc.number_counts(numbers) if numbers else {}
    problems = []
    if len(ok) != len(acknowledged):
        problems.append("two submissions were sent to the same case")
    if missing := ok - after.keys():
        problems.append(f"{len(missing)} acknowledged submissions are not in the database")
    if extra := after.keys() - ok:
        problems.append(f"{len(extra)} cases exist whose submission was not acknowledged")
    if dup := [n for n, c in counts.items() if c != 1]:
        problems.append(f"{len(dup)} case numbers exist more than once")
    if unnumbered := [k for k, (_, n) in after.items() if not n]:
        problems.append(f"{len(unnumbered)} submitted cases have no number")
    failed = [e for case, e, _ in outcomes if case is None]
    times = [ms for _, _, ms in outcomes]
    note = "; ".join(problems) or (
        f"all {len(ok)} acknowledged submissions exist once each with a number, no other case "
        "appeared"
    )
    if failed:
        note += f"; {len(failed)} submissions failed, e.g. {failed[0]}"
    if errors:
        note += f"; {len(errors)} journeys failed, e.g. {errors[0]}"
    return {
        "users": len(ready),
        "rounds": rounds,
        "prepared": prepared,
        "prepare_errors": len(errors),
        "prepare_seconds": round(prepare_seconds, 1),
        "journeys_per_second": prepared / prepare_seconds if prepare_seconds else 0.0,
        "submitted": len(ok),
        "submit_failures": len(failed),
        "submit_seconds": round(submit_seconds, 2),
        "submits_per_second": len(ok) / submit_seconds if submit_seconds else 0.0,
        "submit_p50_ms": round(percentile(times, 0.5), 1) if times else 0,
        "submit_p99_ms": round(percentile(times, 0.99), 1) if times else 0,
        # the machine's CPU that the threads pressing 提交 took away from the workers
        "client_cpu_ms": round(client_cpu * 1000 / len(outcomes), 1) if outcomes else 0,
        "reconciled": not problems and not failed and not errors,
        "reconcile_note": note,
    }


def run_backend(backend: str, args, stack: ExitStack) -> Report:
    report = Report("SQLite" if backend == "sqlite" else "PostgreSQL")
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"bench-{backend}-")))
    maker = sqlite_database if backend == "sqlite" else postgres_database
    url, uploads, report.seed = stack.enter_context(maker(tmp, args))
    report.seed.update(items=args.items, cases=args.cases, citizens=args.citizens)
    if args.seed_only:
        return report
    env = portal_env(tmp, url, uploads)
    portal_port, bare_port = free_port(), free_port()
    portal_log, bare_log = tmp / "portal.log", tmp / "bare.log"
    config = tmp / "gunicorn.conf.py"
    portal = stack.enter_context(
        process(
            gunicorn_cmd(
                portal_spec(
                    {"PERSONAL_PAGE_CACHE": False} if args.render_every_time else None,
                    references=True,
                ),
                portal_port,
                args.workers,
                config,
                "--pythonpath",
                "scripts",
            ),
            portal_log,
            env,
        )
    )
    bare = stack.enter_context(
        process(
            gunicorn_cmd(
                "bench_bare:app", bare_port, args.workers, config, "--pythonpath", "scripts"
            ),
            bare_log,
            env,
        )
    )
    wait_ready(portal_port, "/healthz", portal, portal_log)
    wait_ready(bare_port, "/", bare, bare_log)
    base, bare_url = f"http://127.0.0.1:{portal_port}", f"http://127.0.0.1:{bare_port}/"
    report.load_average = " ".join(f"{x:.1f}" for x in os.getloadavg())
    inproc = InProcess(env, {"PERSONAL_PAGE_CACHE": False} if args.render_every_time else None)
    cookies = {}
    for who in {p.who for p in PAGES if p.who}:
        session = Session()
        # as a browser does: follow the login's redirect, which shows (and so takes out of the
        # session) its flashed message; a cookie still holding it would show it on every page
        landing = session.get(urljoin(base, journeys.login(session, base, who, PASSWORD)))
        landing.raise_for_status()
        cookies[who] = journeys.cookie_header(session)
    paths = resolve_pages(base, cookies, inproc)
    report.rows = measure_pages(base, bare_url, paths, cookies, inproc, args)
    if args.submissions:
        try:
            report.submissions = measure_submissions(base, inproc, args)
        except Exception as exc:
            report.submissions = {"error": str(exc)}
    if args.submit_runs:
        try:
            from seeds.scale import account_phone

            runs = min(args.submit_runs, args.accounts - 1)
            cost = inproc.time_submit([account_phone(i) for i in range(1, runs + 1)])
            # the workers' CPU alone, without the database's or the load generator's share
            parallel = min(args.workers, os.cpu_count() or 1)
            cost.update(
                workers=args.workers,
                cores=os.cpu_count(),
                ceiling=parallel * 1000 / cost["cpu_ms"] if cost["cpu_ms"] else 0.0,
            )
            report.submit_cost = cost
        except Exception as exc:
            report.submit_cost = {"error": f"{type(exc).__name__}: {exc}"}
    try:
        report.notice = inproc.time_notice(args.notice_runs) if args.notice_runs > 0 else {}
    except Exception as exc:
        report.notice = {"error": f"{type(exc).__name__}: {exc}"}
    errors = server_errors(portal_log)
    if errors:
        log(f"{len(errors)} server errors in the portal's log, e.g. {errors[0]}")
    return report


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--quick", action="store_true", help="20,000 cases, 2 s rounds, one round")
    p.add_argument("--items", type=int, default=3600, help="published items (default 3600)")
    p.add_argument("--cases", type=int, help="synthetic cases (default 1,000,000)")
    p.add_argument("--citizens", type=int, help="synthetic citizens (default cases / 5)")
    p.add_argument("--accounts", type=int, default=65, help="citizens who log in (default 65)")
    p.add_argument("--duration", type=float, help="seconds per wrk round (default 3)")
    p.add_argument("--rounds", type=int, help="bare/page round pairs per page (default 2)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    p.add_argument("--page", action="append", help="measure only this page (repeatable)")
    p.add_argument("--submitters", type=int, default=64, help="citizens applying at once")
    p.add_argument("--submissions", type=int, help="applications to submit (default 256; 0: skip)")
    p.add_argument("--notice-runs", type=int, default=4, help="notices to time (default 4)")
    p.add_argument(
        "--submit-runs", type=int, default=5, help="submissions timed in-process (default 5)"
    )
    p.add_argument("--fresh", action="store_true", help="seed again instead of using the cache")
    p.add_argument(
        "--cache-revision",
        default="head",
        help="the migration a newly seeded database stops at (newer ones run on each copy)",
    )
    p.add_argument(
        "--exact-cache",
        action="store_true",
        help="seed again when the seed's sources changed since the cache was made",
    )
    p.add_argument("--no-cache", action="store_true", help="do not keep the seeded database")
    p.add_argument(
        "--render-every-time",
        action="store_true",
        help="personal pages rendered on every request (PERSONAL_PAGE_CACHE off)",
    )
    p.add_argument("--seed-only", action="store_true", help="only seed (and cache)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = p.parse_args(argv)
    quick = args.quick
    if args.cases is None:
        args.cases = 20_000 if quick else 1_000_000
    if args.citizens is None:
        args.citizens = max(1, args.cases // 5)
    if args.duration is None:
        args.duration = 2.0 if quick else 3.0
    if args.rounds is None:
        args.rounds = 1 if quick else 2
    if args.submissions is None:
        args.submissions = 64 if quick else 256
    if args.page:
        known = {page.label for page in PAGES}
        if unknown := set(args.page) - known:
            p.error(f"unknown page {', '.join(sorted(unknown))}; pages: {', '.join(known)}")
    if min(args.items, args.workers, args.rounds, args.submitters) < 1 or args.duration <= 0:
        p.error("--items, --workers, --rounds, --submitters and --duration must be positive")
    if args.accounts < 2:
        p.error("--accounts must be at least 2 (the page holder and one applicant)")
    if args.cases < 0 or args.submissions < 0:
        p.error("--cases and --submissions must not be negative")
    return args


def _terminate(signum, frame):
    raise KeyboardInterrupt  # unwind the same way as Ctrl-C: stop servers, remove files


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    if shutil.which("wrk") is None and not args.seed_only:
        print("wrk is not installed (Debian: apt-get install wrk; make bench does it)")
        return 1
    backends = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    settings = (
        f"gunicorn {args.workers} sync workers; wrk 2 threads, 8 connections, {args.rounds} "
        f"× {args.duration:g} s per page alternating with the bare route; ratio = page req/s ÷ "
        "bare req/s; p99 the worst round; SQL = statements of a page's first request in a fresh "
        "app and of the next one (in-process, on the same database); personal pages "
        + (
            "rendered on every request (--render-every-time)"
            if args.render_every_time
            else "kept until their data changes (portal/personal_pages.py)"
        )
    )
    reports = []
    failed = False
    started = time.perf_counter()
    for backend in backends:
        try:
            with ExitStack() as stack:
                reports.append(run_backend(backend, args, stack))
        except KeyboardInterrupt:
            print("interrupted; everything started was stopped", file=sys.stderr)
            return 130
        except Exception as exc:  # one database's failure leaves the other's figures
            detail = "".join(traceback.format_exception(exc)[-3:])
            print(f"bench on {backend} failed: {exc}\n{detail}", file=sys.stderr)
            failed = True
            continue
        if not args.json:
            print(format_report(reports[-1], settings), flush=True)
            print(flush=True)
    if args.json:
        print(json.dumps([asdict(r) for r in reports], ensure_ascii=False, indent=2))
    else:
        print(f"total {time.perf_counter() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
